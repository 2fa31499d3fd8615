"""The rules every adapter shares (backend.integrations.base, and the registry in
backend.integrations.adapters): what a CRM stage stands for, the key that makes
re-reading a deal record nothing new, the defaults of the one interface."""

import inspect
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from backend.domain.claims import ClosedIn, ContactedIn, ReceivedIn
from backend.integrations.adapters import ADAPTERS, CRMS
from backend.integrations.base import (
    Adapter,
    Connection,
    CrmRejected,
    MalformedDelivery,
    NotOffered,
    claim_for_stage,
    stage_change,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
VISIT = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
STAGE_MAP = {
    "C1:NEW": {"kind": "received"},
    "C1:BOOKED": {"kind": "contacted", "outcome": "booked"},
    "C1:LOSE": {"kind": "closed", "reason": "отказ"},
    "C1:DONE": {"kind": "item_done", "items": "all"},
}


def conn(system: str = "bitrix24", **config) -> Connection:
    return Connection(
        integration_id=uuid4(),
        clinic_id=uuid4(),
        system=system,
        config={"stage_map": STAGE_MAP, **config},
        secrets={},
    )


def test_a_mapped_stage_is_its_claim_with_the_crms_times():
    booked = claim_for_stage(STAGE_MAP, "C1:BOOKED", occurred_at=AT, appointment_at=VISIT)
    assert booked == ContactedIn(outcome="booked", appointment_at=VISIT, occurred_at=AT)
    closed = claim_for_stage(STAGE_MAP, "C1:LOSE", occurred_at=AT, appointment_at=VISIT)
    assert closed == ClosedIn(reason="отказ", occurred_at=AT)  # no visit time on a closing
    assert claim_for_stage(STAGE_MAP, "C1:ELSEWHERE", occurred_at=AT, appointment_at=None) is None


def test_a_deal_in_the_same_stage_is_the_same_claim_and_a_new_booking_time_a_new_one():
    c = conn()
    first = stage_change(
        c, external_id="deal:5", stage="C1:BOOKED", occurred_at=AT, appointment_at=VISIT,
        referral_id=None,
    )  # fmt: skip
    again = stage_change(
        c, external_id="deal:5", stage="C1:BOOKED", occurred_at=VISIT, appointment_at=VISIT,
        referral_id=None,
    )  # fmt: skip
    moved = stage_change(
        c, external_id="deal:5", stage="C1:BOOKED", occurred_at=AT, appointment_at=AT,
        referral_id=None,
    )  # fmt: skip
    assert first.key == again.key == f"{c.clinic_id}:deal:5:C1:BOOKED:{VISIT.isoformat()}"
    assert moved.key != first.key
    received = stage_change(
        c, external_id="deal:5", stage="C1:NEW", occurred_at=AT, appointment_at=None,
        referral_id=None,
    )  # fmt: skip
    assert received.claim == ReceivedIn(occurred_at=AT)
    assert received.key == f"{c.clinic_id}:deal:5:C1:NEW"


def test_an_unknown_stage_is_kept_and_a_done_stage_leaves_the_claims_to_the_money():
    c = conn()
    unknown = stage_change(
        c, external_id="deal:5", stage="C1:NEW_ONE", occurred_at=AT, appointment_at=None,
        referral_id=None,
    )  # fmt: skip
    assert (unknown.claim, unknown.unknown_stage, unknown.key) == (None, "C1:NEW_ONE", None)
    done = stage_change(
        c, external_id="deal:5", stage="C1:DONE", occurred_at=AT, appointment_at=None,
        referral_id=None,
    )  # fmt: skip
    assert done.claim is None and done.unknown_stage is None
    assert done.note == "procedures done by stage (all)"


def test_every_system_is_an_adapter_and_only_the_crms_are_crms():
    assert all(isinstance(a, Adapter) for a in ADAPTERS.values())
    assert {s: a.system for s, a in ADAPTERS.items()} == {s: s for s in ADAPTERS}
    assert set(ADAPTERS) == {"bitrix24", "amocrm", "webhook", "ident"}
    assert set(CRMS) == {"bitrix24", "amocrm"}
    assert {a.path for a in ADAPTERS.values()} == {"bitrix24", "amocrm", "webhooks", "ident"}


def test_every_crm_implements_what_the_base_leaves_optional():
    optional = ("recently_changed", "push_referral", "stages", "fields", "catalog", "add_task")
    for system in CRMS:
        adapter = type(ADAPTERS[system])
        for name in optional:
            assert getattr(adapter, name) is not getattr(Adapter, name), (system, name)


async def test_what_a_system_does_not_offer_has_a_default():
    ident = ADAPTERS["ident"]
    c = conn("ident")
    assert await ident.recently_changed(c, AT, None) == []  # type: ignore[arg-type]
    assert await ident.fields(c, None) == []  # type: ignore[arg-type]
    catalog = await ident.catalog(c, None)  # type: ignore[arg-type]
    assert (catalog.products, catalog.total, catalog.truncated) == ([], 0, False)
    assert ident.check(b"anything") is None and ident.delivery_key({}, b"") is None
    with pytest.raises(NotOffered, match="ident has no pipeline stages"):
        await ident.stages(c, None)  # type: ignore[arg-type]
    with pytest.raises(CrmRejected):
        await ident.push_referral(c, None, None)  # type: ignore[arg-type]
    with pytest.raises(NotOffered, match="ident takes no tasks"):
        await ident.add_task(c, None, None)  # type: ignore[arg-type]
    with pytest.raises(MalformedDelivery):
        await ident.changes(c, {}, b"", None)  # type: ignore[arg-type]


def test_an_adapter_must_say_how_it_authenticates():
    assert inspect.isabstract(Adapter)

    class Silent(Adapter):
        system = "silent"

    with pytest.raises(TypeError):
        Silent()  # type: ignore[abstract]


def test_ident_knows_its_key_and_nothing_else():
    ident = ADAPTERS["ident"]
    c = Connection(
        integration_id=uuid4(),
        clinic_id=uuid4(),
        system="ident",
        config={},
        secrets={"integration_key": "the-key-123"},
    )
    assert ident.authenticate(c, {"ident-integration-key": "the-key-123"}, b"")
    assert not ident.authenticate(c, {"ident-integration-key": "the-key-12"}, b"")
    assert not ident.authenticate(c, {}, b"")
    assert set(ident.generated) == {"integration_key"}
    assert set(ADAPTERS["webhook"].generated) == {"signing_secret"}
