"""Taking a name and a phone out of stored text in every spelling, keeping its shape."""

import json
from urllib.parse import parse_qs, urlencode

from backend.domain.erasure import MARK, redaction, search_spellings

NAME, PHONE = "Алевтина Курочкина", "+79162223344"
SAID = redaction(NAME, PHONE)


def test_every_spelling_of_the_name_and_phone_goes():
    texts = [
        f"Направление AB12CD: {NAME}",
        f"{NAME.upper()} и {NAME.lower()}",
        "Курочкина Алевтина",  # the other way round
        json.dumps({"name": NAME}),  # \\u-escaped
        urlencode({"leads[status][0][name]": f"{NAME}, 8 (916) 222-33-44"}),
        "тел. +7 916 222 33 44, 89162223344, 9162223344, +7(916)222-33-44",
    ]
    for text in texts:
        cleaned = SAID.apply(text)
        for trace in ("Алевтин", "Курочкин", "алевтин", "0410", "%D0%90", "2223344", "222-33"):
            assert trace.lower() not in cleaned.lower(), (text, cleaned)


def test_the_shape_stays_and_other_words_stay():
    form = urlencode([("leads[status][0][name]", f"Лид {NAME}"), ("leads[status][0][id]", "17")])
    parsed = parse_qs(SAID.apply(form))
    assert parsed["leads[status][0][id]"] == ["17"]
    assert parsed["leads[status][0][name]"] == [f"Лид {MARK}"]
    document = {"changes": [{"external_id": "lead:19162223344", "note": f"{NAME} пришла"}]}
    cleaned = SAID.apply_to_strings(document)
    assert cleaned == {"changes": [{"external_id": "lead:19162223344", "note": f"{MARK} пришла"}]}
    # Other people's numbers and longer digit runs are left alone.
    assert SAID.apply("+79162223345 и 191622233445") == "+79162223345 и 191622233445"


def test_without_a_name_only_the_phone_goes():
    said = redaction("", "+79162223344")
    assert said.apply("звонить 8-916-222-33-44, Анна") == f"звонить {MARK}, Анна"
    assert search_spellings("", "+79162223344") == ["9162223344"]
