"""What the Bitrix24 adapter reads from a portal's payloads (backend.integrations.bitrix24):
times in the clinic's zone, the done-rows field, our deals, product codes."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from backend.integrations import bitrix24

MSK = timezone(timedelta(hours=3))


def test_a_bitrix24_time_without_an_offset_is_the_clinics():
    assert bitrix24.parse_time("2026-03-05T14:00:00+03:00", "UTC") == datetime(
        2026, 3, 5, 14, tzinfo=MSK
    )
    bare = bitrix24.parse_time("2026-03-05T14:00:00", "Asia/Novosibirsk")
    assert bare is not None and bare.utcoffset() == timedelta(hours=7)
    assert bitrix24.parse_time("", "UTC") is None
    assert bitrix24.parse_time("вчера", "UTC") is None
    assert bitrix24.parse_time(17, "UTC") is None


def test_the_done_rows_field_is_a_list_or_one_text_split_by_lines_or_semicolons():
    assert bitrix24._listed(["Пломба", " 38 ", ""]) == ("Пломба", "38")
    assert bitrix24._listed("Пломба; Гигиена\nУдаление 38") == (
        "Пломба",
        "Гигиена",
        "Удаление 38",
    )
    assert bitrix24._listed(None) == () and bitrix24._listed(False) == ()


def test_a_deal_is_ours_when_we_made_it_and_names_a_referral():
    rid = uuid4()
    assert bitrix24._our_referral({"ORIGINATOR_ID": "plantrack", "ORIGIN_ID": str(rid)}) == rid
    assert bitrix24._our_referral({"ORIGINATOR_ID": "other", "ORIGIN_ID": str(rid)}) is None
    assert bitrix24._our_referral({"ORIGINATOR_ID": "plantrack", "ORIGIN_ID": "7"}) is None


def test_a_products_code_is_its_code_else_its_external_id():
    assert bitrix24._code({"CODE": " A16.07.002 ", "XML_ID": "x"}) == "A16.07.002"
    assert bitrix24._code({"CODE": "", "XML_ID": "A16.07.001"}) == "A16.07.001"
    assert bitrix24._code({}) == ""
