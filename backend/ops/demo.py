"""Demo data: three clinics in three time zones and ~300 referrals over six months.

Everything goes through the same services as real traffic, in the order it would
have happened, so the ledger, the derived rows and the questions are what production
would hold. Deterministic (a fixed seed) and idempotent: every statement has an
idempotency key, so running it again adds nothing.
"""

import io
import random
import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

import msgspec

from backend.domain.conversion import NO_TREATMENT
from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    ContactRating,
    ItemDone,
    NoShow,
    PatientReport,
    Payment,
    Received,
    Source,
    Visited,
)
from backend.domain.funnel import milestones_claimed
from backend.domain.norms import Specialization
from backend.domain.roles import Role
from backend.domain.teeth import ToothCondition
from backend.runtime.clock import utcnow
from backend.runtime.media_files import MediaFiles
from backend.services.answers import answer_question
from backend.services.errors import Conflict
from backend.services.media import attach_media
from backend.services.plan_import import PriceEntryIn, set_prices
from backend.services.profile import register_device
from backend.services.recording import Statement, record, reevaluate_due
from backend.services.referrals import (
    ExplanationIn,
    PatientIn,
    PlanIn,
    PlanItemIn,
    ToothIn,
    VariantIn,
    revise_plan,
    send_referral,
)
from backend.services.staff import add_staff
from backend.services.visit_codes import issue_code, redeem_code
from backend.store import outbox, parties, plans, questions
from backend.store import sms as sms_rows
from backend.store.engine import write_transaction

if TYPE_CHECKING:
    from backend.outbox.worker import SmsDelivery

NAMESPACE = UUID("6f1c2a52-8d0e-4c1e-9b7a-1f6a0c2d9e11")
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published, for the demo only


def demo_id(*parts: object) -> UUID:
    return uuid5(NAMESPACE, ":".join(map(str, parts)))


# name, city, district, tz, address, phone, profile: (contact speed hours, honesty)
CLINICS = [
    (
        "Улыбка на Тверской",
        "Москва",
        "Тверской",
        "Europe/Moscow",
        "ул. Тверская, 12",
        "+74951234567",
        (3, 0.97),
    ),
    (
        "Дента-Урал",
        "Екатеринбург",
        "Ленинский",
        "Asia/Yekaterinburg",
        "ул. Малышева, 51",
        "+73432345678",
        (20, 0.90),
    ),
    (
        "Сибирская стоматология",
        "Новосибирск",
        "Центральный",
        "Asia/Novosibirsk",
        "Красный проспект, 25",
        "+73833456789",
        (40, 0.80),
    ),
]

# title_ru, title_en, specialization, code, price in rubles
PROCEDURES = {
    "consult": (
        "Консультация и осмотр",
        "Consultation and examination",
        "diagnostics",
        "B01.065.001",
        1_500,
    ),
    "ct": ("КТ челюсти", "Jaw CT scan", "diagnostics", "A06.07.013", 3_500),
    "caries": (
        "Лечение кариеса, пломба",
        "Caries treatment, filling",
        "therapy",
        "A16.07.002",
        6_500,
    ),
    "canal": ("Лечение каналов зуба", "Root canal treatment", "endodontics", "A16.07.008", 18_000),
    "hygiene": (
        "Профессиональная гигиена",
        "Professional cleaning",
        "hygiene",
        "A16.07.051",
        7_500,
    ),
    "curettage": (
        "Кюретаж пародонтальных карманов",
        "Periodontal curettage",
        "periodontics",
        "A16.07.039",
        12_000,
    ),
    "extraction": ("Удаление зуба", "Tooth extraction", "surgery", "A16.07.001", 5_000),
    "implant": (
        "Установка импланта",
        "Dental implant placement",
        "implantology",
        "A16.07.054",
        55_000,
    ),
    "implant_crown": (
        "Коронка на имплант",
        "Crown on implant",
        "orthopedics",
        "A16.07.006",
        35_000,
    ),
    "crown": (
        "Коронка из диоксида циркония",
        "Zirconia crown",
        "orthopedics",
        "A16.07.004",
        38_000,
    ),
    "braces": (
        "Брекет-система на одну челюсть",
        "Braces, one arch",
        "orthodontics",
        "A16.07.047",
        120_000,
    ),
}

# The tooth after each procedure, for charts of imported plans.
RESULTS = {
    "caries": ToothCondition.filled,
    "canal": ToothCondition.root_canal,
    "extraction": ToothCondition.missing,
    "implant": ToothCondition.implant,
    "implant_crown": ToothCondition.crown,
    "crown": ToothCondition.crown,
}


def price_list() -> list[PriceEntryIn]:
    """The exchange's price list of the demo: the procedures above."""
    return [
        PriceEntryIn(
            code=code,
            specialization=Specialization(spec),
            title_ru=ru,
            title_en=en,
            price=rubles * 100,
            result_condition=RESULTS.get(key),
        )
        for key, (ru, en, spec, code, rubles) in PROCEDURES.items()
    ]


LOWER_MOLARS = [36, 37, 46, 47]
UPPER_TEETH = [14, 15, 16, 17, 24, 25, 26, 27]


def _plan(rng: random.Random) -> PlanIn:
    """One of the plan shapes clinics see most, on random teeth."""
    shape = rng.choices(["therapy", "endo", "implant", "perio", "ortho"], [35, 20, 25, 12, 8])[0]
    items: list[tuple[str, int | None, int]] = [("consult", None, 1)]
    teeth: list[ToothIn] = []

    def tooth(before: str, after: str, pool: list[int]) -> int:
        free = [t for t in pool if t not in {x.tooth for x in teeth}]
        number = rng.choice(free or pool)
        if number not in {x.tooth for x in teeth}:
            teeth.append(ToothIn(tooth=number, phase="before", condition=before))
            teeth.append(ToothIn(tooth=number, phase="after", condition=after))
        return number

    if shape == "therapy":
        for _ in range(rng.randint(2, 5)):
            items.append(("caries", tooth("caries", "filled", UPPER_TEETH + LOWER_MOLARS), 1))
        items.append(("hygiene", None, 2))
    elif shape == "endo":
        for _ in range(rng.randint(1, 2)):
            t = tooth("root_canal", "crown", UPPER_TEETH + LOWER_MOLARS)
            items += [("canal", t, 1), ("crown", t, 2)]
        items.append(("caries", tooth("caries", "filled", UPPER_TEETH), 1))
    elif shape == "implant":
        items.append(("ct", None, 1))
        for _ in range(rng.randint(1, 3)):
            t = tooth("extraction", "implant", LOWER_MOLARS + UPPER_TEETH)
            items += [("extraction", t, 1), ("implant", t, 2), ("implant_crown", t, 3)]
    elif shape == "perio":
        items += [("hygiene", None, 1), ("curettage", None, 1), ("curettage", None, 2)]
    else:
        items += [("ct", None, 1), ("hygiene", None, 1), ("braces", None, 2)]

    return PlanIn(
        items=[
            PlanItemIn(
                title_ru=PROCEDURES[key][0],
                title_en=PROCEDURES[key][1],
                specialization=PROCEDURES[key][2],
                code=PROCEDURES[key][3],
                price=PROCEDURES[key][4] * 100,
                tooth=t,
                stage=stage,
            )
            for key, t, stage in items[:15]
        ],
        teeth=teeth,
    )


FIRST_NAMES = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Ирина",
    "Дмитрий",
    "Алексей",
    "Сергей",
    "Андрей",
    "Михаил",
    "Иван",
    "Татьяна",
    "Светлана",
    "Павел",
    "Юлия",
]
LAST_NAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
]
FEMININE = {"Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Светлана", "Юлия"}


def _name(rng: random.Random) -> str:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES) + ("а" if first in FEMININE else "")
    return f"{first} {last}"


class Story:
    """Plays one referral's story forward, statement by statement."""

    def __init__(
        self,
        n: int,
        referral_id: UUID,
        patient_id: UUID,
        rng: random.Random,
        now: datetime,
        profile: tuple[int, float],
        deliver: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> None:
        self.n, self.id, self.patient_id, self.rng, self.now = n, referral_id, patient_id, rng, now
        self.speed, self.honesty = profile
        self.step = 0
        self.code_secret = secrets.token_hex(16)  # visit codes live minutes; so does this
        self.deliver = deliver
        # Where this patient speaks: the app, or the page an SMS link opens.
        self.source = Source.patient_app

    async def delivered_until(self, at: datetime) -> None:
        """Let the outbox catch up to `at` before the patient acts: timers fire, questions
        become pushes or SMS, at the moments they would have (what docs/sms.md counts)."""
        if self.deliver is not None:
            await self.deliver(min(at, self.now))

    async def clinic(self, body, at: datetime, source: Source = Source.clinic_panel) -> bool:
        """Record a clinic claim at `at`; False once `at` is in the future."""
        if at >= self.now:
            return False
        await self.delivered_until(at)
        self.step += 1
        result = await record(
            self.id,
            Statement(
                body=body,
                source=source,
                actor="demo:clinic",
                idempotency_key=f"demo:{self.n}:{self.step}",
                occurred_at=at,
            ),
            now=at + timedelta(minutes=5),
        )
        if milestones_claimed(result.event):  # only these bring questions
            await self.patient_answers(at + timedelta(hours=self.rng.uniform(0.2, 30)))
        return True

    async def patient_answers(self, at: datetime) -> None:
        """Most patients answer; a few say no (a dispute); some never answer."""
        if at >= self.now:
            return
        await self.delivered_until(at)
        for q in await questions.asked_for(self.id):
            if not q.open or self.rng.random() < 0.25:
                continue
            honest = self.rng.random() < self.honesty
            reply = "yes" if honest else self.rng.choice(["no", "unsure"])
            with suppress(Conflict):  # expired before the patient looked
                await answer_question(
                    patient_id=self.patient_id,
                    question_id=q.id,
                    answer=reply,
                    now=at,
                    source=self.source,
                )

    async def patient(self, body, at: datetime) -> None:
        if at >= self.now:
            return
        await self.delivered_until(at)
        self.step += 1
        await record(
            self.id,
            Statement(
                body=body,
                source=self.source,
                actor=f"patient:{self.patient_id}",
                idempotency_key=f"demo:{self.n}:{self.step}",
                occurred_at=at,
            ),
            now=at,
        )


# Seed 004 (StomPRO): a lost tooth offered three ways, each explained visit by visit.
VARIANT_SHARE = 0.6  # of the plans with an implant, offered as three variants
BRIDGE = ("Мостовидный протез (3 единицы)", "Bridge (3 units)", "A16.07.005", 48_000)
DENTURE = ("Съёмный протез", "Removable denture", "A16.07.035", 25_000)
VARIANTS = [
    VariantIn(
        variant="A",
        title_ru="Имплантация",
        title_en="Implant",
        pros_ru="Соседние зубы не трогаем\nСлужит как свой зуб",
        pros_en="The neighbouring teeth are left alone\nWorks like your own tooth",
        cons_ru="Дольше всех: около восьми месяцев\nНужна операция",
        cons_en="Takes longest: about eight months\nNeeds surgery",
    ),
    VariantIn(
        variant="B",
        title_ru="Мостовидный протез",
        title_en="Bridge",
        pros_ru="Быстро: около месяца\nБез операции",
        pros_en="Quick: about a month\nNo surgery",
        cons_ru="Соседние зубы обтачиваются под коронки",
        cons_en="The neighbouring teeth are ground down for crowns",
    ),
    VariantIn(
        variant="C",
        title_ru="Съёмный протез",
        title_en="Removable denture",
        pros_ru="Дешевле всех\nБез операции",
        pros_en="Costs least\nNo surgery",
        cons_ru="Снимается на ночь\nПривыкать несколько недель",
        cons_en="Taken out at night\nTakes a few weeks to get used to",
    ),
]


def _first_implant(plan: PlanIn) -> int | None:
    return next(
        (i.tooth for i in plan.items if i.code == PROCEDURES["implant"][3] and i.tooth), None
    )


def offers_variants(plan: PlanIn, seed: int, n: int) -> bool:
    """Some of the plans that replace a lost tooth offer three ways to replace the first
    one (when its neighbours, the bridge's supports, are not in the plan themselves).
    Decided by a stream of its own, so the referral's story (its fate, its events, its
    money) stays as it was."""
    t = _first_implant(plan)
    if t is None or {t - 1, t + 1} & {x.tooth for x in plan.teeth}:
        return False
    return random.Random(f"{seed}:{n}:variants").random() < VARIANT_SHARE


def with_variants(plan: PlanIn) -> PlanIn:
    """The plan as seed 004 shows it, for the first implanted tooth: A, its implant and
    crown as planned (first, so the plan counts exactly what it counted before until the
    patient chooses); B, a bridge on its neighbours; C, a removable denture; the rest
    (diagnostics, the extraction, other teeth) common to all; explanations visit →
    problem → solution."""
    t = _first_implant(plan)
    assert t is not None
    items = [
        msgspec.structs.replace(i, variant="A") if i.tooth == t and i.stage >= 2 else i
        for i in plan.items
    ]
    bridge = PlanItemIn(
        title_ru=BRIDGE[0],
        title_en=BRIDGE[1],
        specialization=Specialization.orthopedics,
        code=BRIDGE[2],
        price=BRIDGE[3] * 100,
        tooth=t,
        stage=2,
        variant="B",
        course_days=30,
    )
    denture = PlanItemIn(
        title_ru=DENTURE[0],
        title_en=DENTURE[1],
        specialization=Specialization.orthopedics,
        code=DENTURE[2],
        price=DENTURE[3] * 100,
        stage=2,
        variant="C",
        course_days=21,
    )
    items += [bridge, denture]
    index = {id(i): n for n, i in enumerate(items)}
    crown_a = next(i for i in items if i.variant == "A" and i.stage == 3)
    implant_a = next(i for i in items if i.variant == "A" and i.stage == 2)
    teeth = [
        msgspec.structs.replace(x, variant="A") if x.tooth == t and x.phase == "after" else x
        for x in plan.teeth
    ]
    teeth += [
        ToothIn(tooth=t, phase="after", condition=ToothCondition.bridge, variant="B"),
        ToothIn(tooth=t - 1, phase="after", condition=ToothCondition.crown, variant="B"),
        ToothIn(tooth=t + 1, phase="after", condition=ToothCondition.crown, variant="B"),
        ToothIn(tooth=t, phase="after", condition=ToothCondition.missing, variant="C"),
    ]
    explain = [
        ExplanationIn(
            stage=1,
            visit=1,
            problem_ru=f"Зуб {t} разрушен, сохранить его нельзя",
            problem_en=f"Tooth {t} is broken down and cannot be saved",
            solution_ru="Удаляем зуб; по снимку выбираем, чем его заменить",
            solution_en="We remove it and choose from the scan how to replace it",
            specialists=[Specialization.diagnostics, Specialization.surgery],
        ),
        ExplanationIn(
            variant="A",
            item=index[id(implant_a)],
            visit=2,
            problem_ru="На месте зуба нужна опора, кость её удержит",
            problem_en="The gap needs a root, and the bone can hold one",
            solution_ru=f"Ставим имплант в позицию {t}",
            solution_en=f"We place an implant at {t}",
            specialists=[Specialization.surgery, Specialization.implantology],
        ),
        ExplanationIn(
            variant="A",
            item=index[id(crown_a)],
            visit=3,
            problem_ru="Имплант прижился (около полугода)",
            problem_en="The implant has taken (about six months)",
            solution_ru="Коронка на имплант",
            solution_en="A crown on the implant",
            specialists=[Specialization.orthopedics],
        ),
        ExplanationIn(
            variant="B",
            item=index[id(bridge)],
            visit=2,
            problem_ru=f"Зубы {t - 1} и {t + 1} станут опорами",
            problem_en=f"Teeth {t - 1} and {t + 1} will carry it",
            solution_ru="Мост из трёх единиц по слепку",
            solution_en="A three-unit bridge made from an impression",
            specialists=[Specialization.orthopedics],
        ),
        ExplanationIn(
            variant="C",
            item=index[id(denture)],
            visit=2,
            problem_ru=f"Зуба {t} нет, опоры для моста не нужны",
            problem_en=f"Tooth {t} is gone; no teeth are ground down",
            solution_ru="Съёмный протез по слепку, примерка и подгонка",
            solution_en="A removable denture from an impression, fitted and adjusted",
            specialists=[Specialization.orthopedics],
        ),
    ]
    return msgspec.structs.replace(
        plan, items=items, teeth=teeth, variants=VARIANTS, explanations=explain
    )


async def _play(r: Story, sent_at: datetime, fate: str, items: list, revise: Callable) -> None:
    rng, h = r.rng, lambda x: timedelta(hours=x)
    at = sent_at + h(rng.uniform(0.1, 4))
    if fate == "silent":  # the clinic never reacts; the patient may tell us
        if rng.random() < 0.5:
            await r.patient(PatientReport(about="contacted"), sent_at + h(rng.uniform(30, 60)))
        return
    if not await r.clinic(Received(), at) or fate == "received":
        return
    for _ in range(rng.choice([0, 0, 0, 1, 2]) if fate != "unreachable" else 2):
        at += h(rng.uniform(1, r.speed))
        if not await r.clinic(Contacted(outcome="unreachable"), at):
            return
    if fate == "unreachable":
        return
    at += h(rng.uniform(0.5, r.speed * 2))
    if fate == "declined":
        await r.clinic(
            Contacted(
                outcome="declined",
                reason=rng.choice(["дорого", "выбрал другую клинику", "передумал лечиться"]),
            ),
            at,
        )
        if rng.random() < 0.5:
            await r.patient(ContactRating(called=True, stars=rng.randint(2, 5)), at + h(3))
        return
    appointment = (at + h(rng.uniform(30, 200))).replace(minute=0, second=0, microsecond=0)
    if not await r.clinic(Contacted(outcome="booked", appointment_at=appointment), at):
        return
    if rng.random() < 0.6:
        await r.patient(
            ContactRating(
                called=True,
                stars=rng.choices([5, 4, 3, 2], [6, 3, 1, 1])[0],
                comment=rng.choice(["", "", "Вежливо и быстро", "Долго не перезванивали"]),
            ),
            at + h(rng.uniform(1, 20)),
        )
    if fate == "booked":
        return
    if fate == "no_show":
        await r.clinic(NoShow(), appointment + h(1))
        return
    if appointment >= r.now:
        return
    # At reception, a patient with the app enters the clinic's visit code.
    if rng.random() < 0.3 and r.source is Source.patient_app:
        code = await issue_code(
            r.id, secret=r.code_secret, issued_by="demo:clinic", now=appointment
        )
        await redeem_code(
            r.patient_id, r.id, code.code, secret=r.code_secret, now=appointment + h(0.05)
        )
        await r.patient_answers(appointment + h(rng.uniform(1, 30)))
    elif not await r.clinic(Visited(), appointment):
        return
    if fate == "visited":
        # After the consultation some need nothing more: the clinic says so (conversion
        # leaves them out of the steps after the visit).
        if rng.random() < 0.3:
            await r.clinic(Closed(reason=NO_TREATMENT), appointment + h(2))
        return
    at = appointment + h(1)
    if rng.random() < 0.4:
        items = await revise(at)
    by_stage: dict[int, list] = {}
    for item in items:
        by_stage.setdefault(item.stage, []).append(item)
    stop_after = (
        rng.randint(1, max(1, len(items) - 1)) if fate in ("in_treatment", "closed") else None
    )
    done = 0
    for stage in sorted(by_stage):
        for item in by_stage[stage]:
            at += h(rng.uniform(20, 24 * min(30, 1 + (item.course_days or 7))))
            if not await r.clinic(ItemDone(item_id=item.item_id), at):
                return
            await r.clinic(Payment(amount=item.price), at + h(0.2))
            done += 1
            if stop_after is not None and done >= stop_after:
                if fate == "closed":
                    await r.clinic(
                        Closed(
                            reason=rng.choice(
                                ["пациент прекратил лечение", "переезд", "финансовые причины"]
                            )
                        ),
                        at + h(rng.uniform(200, 600)),
                    )
                return
        at += h(24 * rng.uniform(3, 20))
    await r.clinic(Completed(), at + h(2))


FATES = [
    "silent",
    "received",
    "unreachable",
    "declined",
    "booked",
    "no_show",
    "visited",
    "in_treatment",
    "closed",
    "completed",
]


async def load_demo(
    *,
    referrals_count: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    media_files: MediaFiles | None = None,
    sms_delivery: "SmsDelivery | None" = None,
) -> dict[str, int]:
    """Create the demo; returns counts of what was added (zero on a second run).

    With `sms_delivery` (never a real sender: the demo's numbers are made up) the outbox
    is delivered as each story plays, so the demo holds the SMS a referral's life brings
    (docs/sms.md measures them); without, the worker finds everything due at once."""
    now = now or utcnow()
    deliver = _deliverer(sms_delivery) if sms_delivery is not None else None
    added = {"clinics": 0, "referrals": 0, "staff": 0}

    clinic_ids = []
    for i, (name, city, district, tz, address, phone, _) in enumerate(CLINICS):
        clinic_id = demo_id("clinic", i)
        clinic_ids.append(clinic_id)
        if await parties.clinic(clinic_id) is None:
            await parties.insert_clinic(
                clinic_id=clinic_id,
                name=name,
                city=city,
                district=district,
                timezone=tz,
                address=address,
                phone=phone,
                now=now - timedelta(days=200),
            )
            added["clinics"] += 1

    await set_prices(None, price_list(), now - timedelta(days=200))

    for email, role, clinic in [
        ("operator@plantrack.demo", Role.exchange_operator, None),
        ("analyst@plantrack.demo", Role.exchange_analyst, None),
        ("health@plantrack.demo", Role.health_analyst, None),
        *(
            (f"manager{i + 1}@plantrack.demo", Role.clinic_manager, c)
            for i, c in enumerate(clinic_ids)
        ),
        *(
            (f"coordinator{i + 1}@plantrack.demo", Role.clinic_coordinator, c)
            for i, c in enumerate(clinic_ids)
        ),
    ]:
        if await parties.staff_by_email(email) is None:
            await add_staff(email=email, role=role, password=DEMO_PASSWORD, clinic_id=clinic)
            added["staff"] += 1

    for n in range(referrals_count):
        story = random.Random(f"{seed}:{n}")  # each referral its own stream: stable on reruns
        clinic_index = story.choices([0, 1, 2], [45, 30, 25])[0]
        age_days = 180 * (1 - story.random() ** 1.6)  # more recent referrals than old ones
        sent_at = now - timedelta(days=age_days)
        fate = _fate(story, age_days)
        name = _name(story)
        plan = _plan(story)
        if offers_variants(plan, seed, n):
            plan = with_variants(plan)
        sent = await send_referral(
            patient=PatientIn(phone=f"+7916{5_000_000 + n:07d}", name=name),
            clinic_id=clinic_ids[clinic_index],
            plan=plan,
            actor="demo:exchange",
            idempotency_key=f"demo-order-{n}",
            sent_at=sent_at,
            now=sent_at,
        )
        if sent.duplicate:
            continue
        added["referrals"] += 1
        r = Story(
            n, sent.referral_id, sent.patient_id, story, now, CLINICS[clinic_index][6], deliver
        )
        version = (await plans.versions_of(sent.referral_id))[-1]
        # The lines the plan counts (variant A until a patient chooses): the clinic does
        # these, so a plan with variants plays exactly as it did without them.
        items = [i for i in await plans.items_of(version.id) if i.variant in (None, "A")]

        async def revise(at: datetime, referral=sent.referral_id, items=items, story=story, n=n):
            kept = [
                PlanItemIn(
                    item_id=i.item_id,
                    specialization=i.specialization,
                    price=round(i.price * story.uniform(0.9, 1.15) / 100) * 100,
                    title_ru=i.title_ru,
                    title_en=i.title_en,
                    code=i.code,
                    tooth=i.tooth,
                    stage=i.stage,
                )
                for i in items
                if story.random() > 0.1 or i.stage == 1
            ]
            extra = PROCEDURES["hygiene"]
            kept.append(
                PlanItemIn(
                    specialization=extra[2],
                    price=extra[4] * 100,
                    title_ru=extra[0],
                    title_en=extra[1],
                    code=extra[3],
                    stage=max(i.stage for i in kept),
                )
            )
            await revise_plan(
                referral,
                PlanIn(items=kept),
                reason=story.choice(
                    [
                        "После осмотра и снимка план уточнён",
                        "Добавлена гигиена перед протезированием",
                        "Цены по прейскуранту клиники",
                    ]
                ),
                source=Source.clinic_panel,
                actor="demo:clinic",
                idempotency_key=f"demo:{n}:revision",
                occurred_at=at,
                now=at + timedelta(minutes=5),
            )
            latest = (await plans.versions_of(referral))[-1]
            return await plans.items_of(latest.id)

        # One transaction per story (the services' own nest inside it): one commit instead
        # of dozens, which is what makes 300 stories load in seconds on SQLite.
        async with write_transaction():
            await r.delivered_until(sent_at + timedelta(minutes=1))  # the invite
            if deliver is not None:
                await _install_the_app_or_not(r, n, seed, sent_at)
            await _play(r, sent_at, fate, items, revise)
            await r.delivered_until(now)
            if media_files is not None and story.random() < 0.4:
                await attach_media(
                    media_files,
                    referral_id=sent.referral_id,
                    data=_xray(story),
                    kind="xray",
                    phase="before",
                    caption="Ортопантомограмма",
                    now=sent_at,
                )
        if progress:
            progress(n + 1, referrals_count)

    await reevaluate_due(now=now, limit=referrals_count * 4)
    return added


APP_SHARE = 0.3  # of patients who install the app after the invite (the rest answer by SMS)


async def _install_the_app_or_not(r: "Story", n: int, seed: int, sent_at: datetime) -> None:
    """Some patients follow the invite to the app: pushes from then on, answers in the
    app; the others get SMS and answer on the link's page. (Its own random stream, so
    the stories play as they did before the choice existed.)"""
    wants_app = random.Random(f"{seed}:{n}:app").random() < APP_SHARE
    # Sent at night, the invite waits for the morning: until it goes, nobody installs.
    if not wants_app or sent_at >= r.now or not await sms_rows.invite_went(r.id):
        r.source = Source.patient_sms
        return
    await register_device(
        r.patient_id,
        token=f"demo-device-{n:04d}",
        platform="android",
        app_version="1.0",
        locale="ru",
    )


def _deliverer(sms_delivery: "SmsDelivery") -> Callable[[datetime], Awaitable[None]]:
    from backend.outbox.worker import handlers, run_once

    if sms_delivery.sender is not None:
        raise ValueError("the demo's phone numbers are made up: log SMS, never send them")
    topics = handlers(None, sms_delivery.secret, sms_delivery=sms_delivery)

    async def deliver(until: datetime) -> None:
        """Each message at the moment it is due (a reminder 2 h before its appointment,
        not when the story next looks), up to `until`."""
        for _ in range(200):
            due = await outbox.next_due(list(topics))
            if due is None or due > until:
                return
            await run_once(topics, worker="demo", now=due)

    return deliver


def _xray(rng: random.Random) -> bytes:
    """A panoramic-X-ray-like picture: light teeth on a dark, slightly noisy field."""
    from PIL import Image, ImageDraw, ImageFilter

    image = Image.new("L", (640, 300), 18)
    draw = ImageDraw.Draw(image)
    for jaw, top in ((0, 70), (1, 160)):
        for i in range(16):
            x = 40 + i * 36
            if rng.random() < 0.08:
                continue  # a missing tooth
            bright = rng.randint(150, 230)
            h = 70 - abs(i - 7.5) * 2
            y = top if jaw == 0 else top + 5
            draw.rounded_rectangle((x, y, x + 28, y + h), radius=10, fill=bright)
            if rng.random() < 0.15:  # a filling shows bright white
                draw.ellipse((x + 8, y + 10, x + 20, y + 22), fill=255)
    image = image.filter(ImageFilter.GaussianBlur(2.2))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


def _fate(rng: random.Random, age_days: float) -> str:
    """Old referrals have mostly run their course; new ones are mostly still early."""
    if age_days < 3:
        weights = [25, 15, 10, 10, 25, 0, 10, 5, 0, 0]
    elif age_days < 30:
        weights = [5, 2, 6, 12, 12, 6, 14, 33, 4, 6]
    else:
        weights = [3, 0, 4, 14, 2, 6, 6, 25, 14, 26]
    return rng.choices(FATES, weights)[0]
