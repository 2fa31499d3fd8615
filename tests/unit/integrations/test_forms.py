"""Form bodies with PHP-style bracket keys, as Bitrix24 and amoCRM send them
(backend.integrations.forms)."""

import pytest

from backend.integrations.base import MalformedDelivery
from backend.integrations.forms import MalformedForm, delivery_form, form_part, parse_bracket_form


def test_bracket_keys_become_nested_dicts():
    form = parse_bracket_form(
        b"event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=5&auth%5Bmember_id%5D=m1"
        b"&leads[status][0][id]=7&leads[status][0][status_id]=142"
    )
    assert form == {
        "event": "ONCRMDEALUPDATE",
        "data": {"FIELDS": {"ID": "5"}},
        "auth": {"member_id": "m1"},
        "leads": {"status": {"0": {"id": "7", "status_id": "142"}}},
    }
    assert parse_bracket_form("") == {}


@pytest.mark.parametrize("body", [b"a=1&a[b]=2", b"a]=1", b"novalue"])
def test_an_unreadable_form_is_refused(body):
    with pytest.raises(MalformedForm):
        parse_bracket_form(body)


def test_a_delivery_that_is_no_form_cannot_be_read():
    assert delivery_form(b"a[b]=1") == {"a": {"b": "1"}}
    for body in (b"a=1&a[b]=2", b"\xff\xfe=1"):
        with pytest.raises(MalformedDelivery):
            delivery_form(body)


def test_a_part_of_the_form_is_a_group_of_keys_or_nothing():
    assert form_part(b"auth[member_id]=m1&event=X", "auth") == {"member_id": "m1"}
    assert form_part(b"auth=plain", "auth") is None
    assert form_part(b"event=X", "auth") is None
    assert form_part(b"\xff=1", "auth") is None
    assert form_part(b"novalue", "auth") is None
