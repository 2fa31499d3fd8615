"""Domain pieces of the patient app: the chart, receipts, plan differences, tokens, texts."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import jwt
import pytest

from backend.auth.tokens import (
    PATIENT_AUDIENCE,
    InvalidToken,
    KeyRing,
    issue_access,
    read_access,
)
from backend.domain.odontogram import PALETTE, chart, render_svg
from backend.domain.plans import PlanItem, ToothState, compare_plans
from backend.domain.receipts import BadReceipt, PaymentRef, match_receipt, parse_receipt_qr
from backend.domain.teeth import PERMANENT_TEETH, ToothCondition
from backend.services import texts

SVG = "{http://www.w3.org/2000/svg}"
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

FILLING, IMPLANT = uuid4(), uuid4()
STATES = [
    ToothState(tooth=16, phase="before", condition="caries"),
    ToothState(tooth=16, phase="after", condition="filled"),
    ToothState(tooth=36, phase="before", condition="missing"),
    ToothState(tooth=36, phase="after", condition="implant"),
]
ITEMS = [
    PlanItem(item_id=FILLING, specialization="therapy", price=6_500_00, tooth=16),
    PlanItem(item_id=IMPLANT, specialization="implantology", price=55_000_00, tooth=36),
]


@pytest.mark.parametrize("phase", ["before", "after", "now"])
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_chart_svg_is_valid_with_one_shape_per_tooth(phase, lang):
    teeth = chart(STATES, ITEMS, {FILLING}, phase)
    svg = render_svg(teeth, texts.chart_texts(phase, lang))
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    groups = root.findall(f".//{SVG}g[@class='tooth']")
    assert sorted(int(g.get("data-tooth")) for g in groups) == sorted(PERMANENT_TEETH)
    for g in groups:
        assert len(g.findall(f".//{SVG}path[@class='tooth-shape']")) == 1
        assert g.find(f"{SVG}title") is not None  # each tooth says what it is
    assert root.find(f"{SVG}title").text == texts.CHART[phase][lang]
    assert root.findall(f".//{SVG}g[@class='legend-item']")


def test_chart_phases_show_before_planned_and_todays_state():
    def state(phase, tooth, done=frozenset()):
        return next(t for t in chart(STATES, ITEMS, set(done), phase) if t.tooth == tooth)

    assert state("before", 16).condition == "caries"
    assert state("after", 16).condition == "filled"
    assert state("now", 16).condition == "caries"
    assert state("now", 16, {FILLING}).condition == "filled" and state("now", 16, {FILLING}).done
    assert not state("before", 16, {FILLING}).done  # progress marks only on today's chart
    assert state("now", 36, {FILLING}).condition == "missing"
    assert not state("now", 17).in_plan and state("now", 36).in_plan


def test_every_condition_has_a_colour_and_words_in_both_languages():
    assert set(PALETTE) == set(ToothCondition) == set(texts.CONDITIONS)
    colours = [fill for fill, _ in PALETTE.values()]
    assert len(set(colours)) == len(colours)


def test_every_patient_text_exists_in_russian_and_english():
    tables = [
        texts.STEPS,
        texts.MILESTONES,
        texts.SCHEDULE,
        texts.ITEM_STATUS,
        texts.ANSWERS,
        texts.QUESTIONS,
        texts.NEXT_STEP,
        texts.PLAN_DIFF,
        texts.SPECIALIZATIONS,
        texts.CONDITIONS,
        texts.CHART,
        texts.VARIANT,
        texts.PICTURES,
        texts.TOOTH_KINDS,
    ]
    for table in tables:
        for key, by_lang in table.items():
            assert set(by_lang) == {"ru", "en"}, key
            assert all(by_lang.values()), key
    for _, by_lang in texts.PATIENT_STATES.values():
        assert set(by_lang) == {"ru", "en"}


def test_money_and_dates_read_naturally():
    assert texts.money(6_500_00, "RUB", "ru") == "6\u00a0500\u00a0₽"
    assert texts.money(6_500_50, "RUB", "en") == "₽6,500.50"
    at = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert texts.day_time(at, MSK, "ru") == "5 декабря, 10:00"
    assert texts.day(at, MSK, "en") == "5 Dec"


def test_receipt_qr_is_parsed_in_the_sellers_time_zone():
    r = parse_receipt_qr(
        "t=20261112T1142&s=6500.50&fn=9960440300000001&i=1234&fp=2840123456&n=1", MSK
    )
    assert (r.amount, r.fn, r.fd, r.fp) == (6_500_50, "9960440300000001", "1234", "2840123456")
    assert r.issued_at == datetime(2026, 11, 12, 8, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    "qr",
    [
        "hello",
        "t=20261112T1142&s=6500.00&fn=99604403&i=1&fp=2&n=1",  # short fiscal drive number
        "t=20261112T1142&s=6500.00&fn=9960440300000001&i=1&fp=2&n=2",  # a refund
        "t=yesterday&s=6500.00&fn=9960440300000001&i=1&fp=2&n=1",
        "t=20261112T1142&s=-5&fn=9960440300000001&i=1&fp=2&n=1",
        "t=20261112T1142&s=1.234&fn=9960440300000001&i=1&fp=2&n=1",
    ],
)
def test_bad_receipts_are_refused_with_a_reason(qr):
    with pytest.raises(BadReceipt):
        parse_receipt_qr(qr, MSK)


def test_receipt_matches_a_reported_payment_nearby():
    r = parse_receipt_qr("t=20261112T1142&s=6500.00&fn=9960440300000001&i=1&fp=2&n=1", MSK)
    near = r.issued_at + timedelta(hours=5)
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=6_500_00, occurred_at=near),)).outcome
        == "matches"
    )
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=5_000_00, occurred_at=near),)).outcome
        == "amount_differs"
    )
    far = r.issued_at + timedelta(days=10)
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=6_500_00, occurred_at=far),)).outcome
        == "no_payment_reported"
    )


def test_plan_comparison_matches_by_id_then_by_code_and_tooth():
    a, b, c = UUID(int=1), UUID(int=2), UUID(int=3)
    estimate = [
        PlanItem(item_id=a, specialization="therapy", price=6_500_00, code="A16.07.002", tooth=16),
        PlanItem(
            item_id=b, specialization="implantology", price=55_000_00, code="A16.07.054", tooth=36
        ),
        PlanItem(item_id=c, specialization="hygiene", price=7_500_00, code="A16.07.051"),
    ]
    clinic = [
        PlanItem(item_id=a, specialization="therapy", price=7_000_00, code="A16.07.002", tooth=16),
        PlanItem(
            item_id=uuid4(),
            specialization="implantology",
            price=55_000_00,
            code="A16.07.054",
            tooth=36,
        ),
        PlanItem(
            item_id=uuid4(),
            specialization="orthopedics",
            price=35_000_00,
            code="A16.07.006",
            tooth=36,
        ),
    ]
    diff = compare_plans(estimate, clinic)
    assert [i.code for i in diff.added] == ["A16.07.006"]
    assert [i.code for i in diff.dropped] == ["A16.07.051"]
    assert [(c.before.price, c.after.price) for c in diff.repriced] == [(6_500_00, 7_000_00)]
    assert diff.unchanged == 1
    assert diff.difference == 97_000_00 - 69_000_00


RING = KeyRing(signing_kid="k1", keys={"k1": b"k" * 32, "k2": b"j" * 32})


def _issue(ring=RING, ttl=timedelta(minutes=15), now=NOW, audience=PATIENT_AUDIENCE):
    return issue_access(
        ring,
        subject=UUID(int=5),
        session=UUID(int=6),
        role="patient",
        audience=audience,
        ttl=ttl,
        now=now,
    )


def test_access_token_round_trip_and_key_rotation():
    claims = read_access(RING, _issue(), audience=PATIENT_AUDIENCE, now=NOW)
    assert (claims.subject, claims.session, claims.role) == (UUID(int=5), UUID(int=6), "patient")
    # Signed with the old key k2, still verified while k2 is in the ring.
    old = KeyRing(signing_kid="k2", keys=RING.keys)
    assert read_access(RING, _issue(old), audience=PATIENT_AUDIENCE, now=NOW).role == "patient"
    retired = KeyRing(signing_kid="k1", keys={"k1": RING.keys["k1"]})
    with pytest.raises(InvalidToken, match="unknown signing key"):
        read_access(retired, _issue(old), audience=PATIENT_AUDIENCE, now=NOW)


def test_expired_wrong_audience_none_and_forged_tokens_are_refused():
    with pytest.raises(InvalidToken, match="expired"):
        read_access(RING, _issue(), audience=PATIENT_AUDIENCE, now=NOW + timedelta(hours=1))
    with pytest.raises(InvalidToken):
        read_access(RING, _issue(audience="plantrack:staff"), audience=PATIENT_AUDIENCE, now=NOW)
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="algorithm"):
        read_access(RING, unsigned, audience=PATIENT_AUDIENCE, now=NOW)
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        read_access(RING, forged, audience=PATIENT_AUDIENCE, now=NOW)
