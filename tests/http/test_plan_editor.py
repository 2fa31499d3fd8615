"""The admin plan editor keeps every field of a plan: opened and saved unchanged, as a
browser posts the form, the new version equals the one it was opened from."""

import msgspec

from admin.views import COOKIE
from backend.domain.events import PlanSet
from backend.domain.funnel import fold_referral
from backend.domain.plans import Explanation, PlanItem, ToothState, VariantInfo
from backend.domain.roles import Role
from backend.services.referrals import PatientIn, PlanIn, send_referral
from backend.store import ledger, plans
from tests.factories import NOW, make_clinic
from tests.http.html_form import form_fields
from tests.http.staff_client import make_staff, sign_in

# Every field of a plan with a value that is not its default, so a field the editor
# dropped or mangled could not go unnoticed.
FULL_PLAN = {
    "currency": "RUB",
    "chosen_variant": "B",
    "items": [
        {
            "specialization": "diagnostics",
            "price": 1_500_00,
            "code": "B01.065.001",
            "title_ru": "Консультация",
            "title_en": "Consultation",
            "stage": 1,
            "chair_minutes": 30,
            "course_days": 1,
        },
        {
            "specialization": "implantology",
            "price": 65_000_50,
            "code": "A16.07.054",
            "title_ru": "Имплант",
            "title_en": "Implant",
            "tooth": 36,
            "stage": 2,
            "variant": "A",
            "chair_minutes": 90,
            "course_days": 120,
        },
        {
            "specialization": "orthopedics",
            "price": 48_000_00,
            "code": "A16.07.005",
            "title_ru": "Мостовидный протез",
            "title_en": "Bridge",
            "tooth": 36,
            "stage": 3,
            "variant": "B",
            "chair_minutes": 0,
            "course_days": 30,
        },
    ],
    "teeth": [
        {"tooth": 36, "phase": "before", "condition": "missing", "note": "удалён в 2019"},
        {"tooth": 36, "phase": "after", "condition": "implant", "variant": "A"},
        {"tooth": 36, "phase": "after", "condition": "bridge", "variant": "B"},
        {"tooth": 16, "phase": "before", "condition": "caries"},
    ],
    "variants": [
        {
            "variant": "A",
            "title_ru": "Имплантация",
            "title_en": "Implant",
            "pros_ru": "Не трогаем соседние зубы\nСлужит десятилетиями",
            "pros_en": "Neighbours untouched\nLasts for decades",
            "cons_ru": "Дольше: около полугода",
            "cons_en": "Takes about six months",
        },
        {"variant": "B", "title_ru": "Мостовидный протез", "title_en": "Bridge"},
    ],
    "explanations": [
        {
            "item": 1,
            "visit": 2,
            "problem_ru": "Нет зуба 36",
            "problem_en": "Tooth 36 is missing",
            "solution_ru": "Ставим имплант",
            "solution_en": "An implant replaces it",
            "specialists": ["surgery", "implantology"],
        },
        {"variant": "B", "stage": 3, "solution_ru": "Мост на 35 и 37"},
        {"stage": 1, "visit": 1, "problem_ru": "Нужен осмотр", "solution_en": "Check-up"},
    ],
}


def _defaults(struct_type) -> dict:
    return {
        f: d
        for f, d in zip(
            struct_type.__struct_fields__,
            (None,) * (len(struct_type.__struct_fields__) - len(struct_type.__struct_defaults__))
            + struct_type.__struct_defaults__,
            strict=True,
        )
    }


async def sent_full_plan(clinic_id, phone: str, name: str = "", **plan_changes):
    """A referral to the clinic with FULL_PLAN (changed by `plan_changes`), sent at NOW."""
    return await send_referral(
        patient=PatientIn(phone=phone, name=name),
        clinic_id=clinic_id,
        plan=msgspec.convert({**FULL_PLAN, **plan_changes}, PlanIn),
        actor="test",
        now=NOW,
    )


async def _editor_client(client, clinic_id):
    staff = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    client.cookies.set(COOKIE, staff.token)
    return client


async def _save_unchanged(client, referral_id, reason="проверка: без изменений"):
    page = await client.get(f"/admin/referrals/{referral_id}/plan")
    assert page.status_code == 200, page.text
    fields = [(k, v) for k, v in form_fields(page.text, "plan-form") if k != "reason"]
    fields.append(("reason", reason))
    posted: dict[str, list[str]] = {}
    for name, value in fields:
        posted.setdefault(name, []).append(value)
    saved = await client.post(
        f"/admin/referrals/{referral_id}/plan", data=posted, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert "error" not in saved.headers["location"], saved.headers["location"]
    return fields


async def test_saving_the_editor_unchanged_keeps_every_field_of_the_plan(client, db):
    clinic_id = await make_clinic()
    sent = await sent_full_plan(clinic_id, "+79161234567", name="Анна")
    referral_id = sent.referral_id
    await _editor_client(client, clinic_id)
    await _save_unchanged(client, referral_id)

    versions = await plans.versions_of(referral_id)
    assert [v.version for v in versions] == [1, 2]
    first, second = versions
    items_1, items_2 = await plans.items_of(first.id), await plans.items_of(second.id)
    teeth_1, teeth_2 = await plans.teeth_of(first.id), await plans.teeth_of(second.id)

    infos = await plans.variants_by_plan(referral_id)
    explained = await plans.explanations_by_plan(referral_id)
    variants_1, variants_2 = infos[first.id], infos[second.id]
    explained_1, explained_2 = explained[first.id], explained[second.id]

    # The source plan really exercises every field (else this test would prove little).
    for struct_type, rows in (
        (PlanItem, items_1),
        (ToothState, teeth_1),
        (VariantInfo, variants_1),
        (Explanation, explained_1),
    ):
        defaults = _defaults(struct_type)
        for field in struct_type.__struct_fields__:
            if field in ("item_id", "position") and struct_type is not Explanation:
                continue
            assert any(getattr(r, field) != defaults[field] for r in rows), field

    assert items_2 == items_1
    key = lambda t: (t.tooth, t.phase, t.variant or "")  # noqa: E731
    assert sorted(teeth_2, key=key) == sorted(teeth_1, key=key)
    assert variants_2 == variants_1
    assert explained_2 == explained_1
    assert explained_2[0].item_id == items_2[1].item_id
    assert (second.chosen_variant, second.currency) == ("B", "RUB")
    assert second.origin == "actual"

    # The ledger's record of the version keeps variants and course lengths too, so the
    # alternatives stay alternatives: the plan's money is common + B, not A + B.
    events = await ledger.events_of(referral_id)
    [_, revised] = [e.body for e in events if isinstance(e.body, PlanSet)]
    assert [(line.variant, line.course_days) for line in revised.lines] == [
        (None, 1),
        ("A", 120),
        ("B", 30),
    ]
    assert fold_referral(events).money.planned == 1_500_00 + 48_000_00


async def test_the_card_totals_each_variant_not_all_of_them(client, db):
    clinic_id = await make_clinic()
    sent = await sent_full_plan(clinic_id, "+79161234568", chosen_variant=None)
    await _editor_client(client, clinic_id)
    card = await client.get(f"/admin/referrals/{sent.referral_id}")
    assert card.status_code == 200
    text = card.text.replace("\u00a0", " ")
    assert "66 500,50 ₽" in text  # common + A
    assert "49 500 ₽" in text  # common + B
    assert "114 500,50 ₽" not in text  # never A and B added up


async def test_editor_adds_drops_and_changes_rows_as_posted(client, db):
    clinic_id = await make_clinic()
    sent = await sent_full_plan(clinic_id, "+79161234569")
    await _editor_client(client, clinic_id)
    page = await client.get(f"/admin/referrals/{sent.referral_id}/plan")
    fields = dict(form_fields(page.text, "plan-form"))
    fields.pop("keep_0")  # drop the consultation
    fields |= {"price_1": "64 000,00", "title_ru_3": "Гигиена", "price_3": "7500"}
    fields |= {"specialization_3": "hygiene", "stage_3": "1", "reason": "уточнили"}
    saved = await client.post(
        f"/admin/referrals/{sent.referral_id}/plan", data=fields, follow_redirects=False
    )
    assert "error" not in saved.headers["location"], saved.headers["location"]
    versions = await plans.versions_of(sent.referral_id)
    items = await plans.items_of(versions[-1].id)
    assert [(i.title_ru, i.price, i.variant) for i in items] == [
        ("Гигиена", 7_500_00, None),
        ("Имплант", 64_000_00, "A"),
        ("Мостовидный протез", 48_000_00, "B"),
    ]
    assert items[1].code == "A16.07.054" and items[1].course_days == 120


async def test_editor_refuses_a_bad_row_with_a_message_and_keeps_the_plan(client, db):
    clinic_id = await make_clinic()
    sent = await sent_full_plan(clinic_id, "+79161234560")
    await _editor_client(client, clinic_id)
    page = await client.get(f"/admin/referrals/{sent.referral_id}/plan")
    fields = dict(form_fields(page.text, "plan-form")) | {"price_1": "дорого", "reason": "x"}
    saved = await client.post(
        f"/admin/referrals/{sent.referral_id}/plan", data=fields, follow_redirects=False
    )
    assert saved.status_code == 303
    assert "/plan?error=" in saved.headers["location"]
    assert len(await plans.versions_of(sent.referral_id)) == 1
