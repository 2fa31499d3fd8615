"""From what the services computed to what the patient app shows, in the patient's
language and time zone. No business rule is decided here: states, progress and
differences come from the domain; this only names and formats them."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend import texts
from backend.domain.funnel import ITEM_PREFIX, RECEIPT_PREFIX, Step
from backend.domain.odontogram import ChartTooth
from backend.domain.plans import PlanItem, compare_plans
from backend.routes import patient_schemas as s
from backend.services.patient_reads import ReferralBundle
from backend.texts import Lang


def local(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Timestamps go out in the patient's own offset: 2026-12-05T10:00:00+03:00."""
    return at.astimezone(tz) if at is not None else None


def money(amount: int, currency: str, lang: Lang) -> s.Money:
    return s.Money(amount=amount, currency=currency, formatted=texts.money(amount, currency, lang))


def question(
    row: dict[str, Any], clinic_name: str, items: dict, tz: ZoneInfo, lang: Lang
) -> s.QuestionOut:
    about: datetime | None = row["about_at"]
    kind = row["kind"]
    when = ""
    if about is not None:
        when = (texts.day_time if kind in ("confirm_booking", "visit_check") else texts.day)(
            about, tz, lang
        )
    item: PlanItem | None = items.get(row["item_id"]) if row["item_id"] else None
    text = texts.QUESTIONS[kind][lang].format(
        clinic=clinic_name,
        when=when,
        what=texts.item_title(item.title_ru, item.title_en, lang) if item else "",
        tooth=texts.TOOTH[lang].format(n=item.tooth) if item and item.tooth else "",
    )
    return s.QuestionOut(
        id=row["id"],
        referral_id=row["referral"],
        kind=kind,
        text=text,
        answers=[
            s.AnswerOption(value=v, label=texts.ANSWERS[v][lang]) for v in ("yes", "no", "unsure")
        ],
        asked_at=local(row["asked_at"], tz),
        expires_at=local(row["expires_at"], tz),
        when=when_ask(lang) if kind in CONTACT_QUESTIONS else None,
    )


CONTACT_QUESTIONS = ("confirm_contact", "contact_check")


def when_ask(lang: Lang) -> s.WhenAsk:
    return s.WhenAsk(
        text=texts.WHEN_CALLED[lang],
        options=[
            s.WhenOption(value=v, label=texts.CALLED_ON[v][lang])
            for v in ("today", "yesterday", "earlier")
        ],
    )


def next_step(b: ReferralBundle, lang: Lang) -> str:
    step, fold = b.fold.step, b.fold
    phone = b.clinic["phone"]
    appointment = fold.current_appointment
    if b.open_questions:
        return texts.NEXT_STEP["answer"][lang]
    if step is Step.completed:
        return texts.NEXT_STEP["done"][lang]
    if not fold.is_open:
        return texts.NEXT_STEP["closed"][lang]
    if appointment is not None and appointment.status == "booked":
        return texts.NEXT_STEP["appointment"][lang].format(
            when=texts.day_time(appointment.starts_at, b.tz, lang)
        )
    if step is Step.unreachable:
        return texts.NEXT_STEP["call_again"][lang].format(phone=phone)
    if step in (Step.sent, Step.delivered, Step.contacted):
        return texts.NEXT_STEP["wait_call"][lang]
    current = b.current
    if current and b.progress.next_item_id:
        item = next((i for i in current.items if i.item_id == b.progress.next_item_id), None)
        if item is not None:
            return texts.NEXT_STEP["item"][lang].format(
                what=texts.item_title(item.title_ru, item.title_en, lang)
            )
    return texts.NEXT_STEP["book"][lang].format(phone=phone)


def _patient_state(state: str, lang: Lang) -> tuple[str, str]:
    code, labels = texts.PATIENT_STATES[state]
    return code, labels[lang]


def referral(b: ReferralBundle) -> s.ReferralOut:
    lang: Lang = b.lang  # type: ignore[assignment]
    tz, fold, currency = b.tz, b.fold, b.fold.money.currency
    items = {i.item_id: i for i in (b.current.items if b.current else [])}
    verdicts = b.verifications
    closed = not fold.is_open and fold.step is not Step.completed

    def item_out(item: PlanItem, stage_current: bool) -> s.PlanItemOut:
        done_at = fold.done_items.get(item.item_id)
        status = (
            "completed"
            if done_at
            else "stopped"
            if closed
            else "in-progress"
            if stage_current
            else "not-started"
        )
        verdict = verdicts.get(f"{ITEM_PREFIX}{item.item_id}")
        return s.PlanItemOut(
            item_id=item.item_id,
            title=texts.item_title(item.title_ru, item.title_en, lang),
            tooth=item.tooth,
            specialization=item.specialization,
            specialization_label=texts.SPECIALIZATIONS[item.specialization][lang],
            price=money(item.price, currency, lang),
            status=status,
            status_label=texts.ITEM_STATUS[status][lang],
            done_at=local(done_at, tz),
            verification=_patient_state(verdict.state, lang)[0] if verdict and done_at else None,
        )

    stages = []
    for stage in b.progress.stages:
        current = stage.stage == b.progress.current_stage
        stage_items = [item_out(i, current) for i in items.values() if i.stage == stage.stage]
        status = (
            "completed"
            if stage.items_done == stage.items_total
            else "stopped"
            if closed
            else "in-progress"
            if current
            else "not-started"
        )
        specs = sorted(
            {
                texts.SPECIALIZATIONS[i.specialization][lang]
                for i in items.values()
                if i.stage == stage.stage
            }
        )
        stages.append(
            s.StageOut(
                stage=stage.stage,
                title=f"{texts.STAGE[lang].format(n=stage.stage)}: {', '.join(specs)}",
                status=status,
                status_label=texts.ITEM_STATUS[status][lang],
                expected_start=local(stage.expected_start, tz),
                expected_end=local(stage.expected_end, tz),
                money=money(stage.money_total, currency, lang),
                items=stage_items,
            )
        )

    p = b.progress
    progress = s.ProgressOut(
        percent_money=p.percent_money,
        percent_items=p.percent_items,
        money_done=money(p.money_done, currency, lang),
        money_total=money(p.money_total, currency, lang),
        items_done=p.items_done,
        items_total=p.items_total,
        current_stage=p.current_stage,
        next_step=next_step(b, lang),
        schedule=p.schedule.value,
        schedule_label=texts.SCHEDULE[p.schedule.value][lang],
        behind_days=p.behind_days,
        expected_finish=local(p.expected_finish, tz),
        planned_finish=local(p.planned_finish, tz),
    )

    milestones = []
    receipts = {f"{RECEIPT_PREFIX}{r.event_id}": r for r in fold.receipts}
    for key, v in verdicts.items():
        label_key = (
            "item"
            if key.startswith(ITEM_PREFIX)
            else "receipt"
            if key.startswith(RECEIPT_PREFIX)
            else key
        )
        label = texts.MILESTONES[label_key][lang]
        if label_key == "receipt" and key in receipts:
            label = f"{label}: {texts.money(receipts[key].amount, currency, lang)}"
        if label_key == "item":
            item = items.get(_item_uuid(key))
            if item is None:
                continue
            label = f"{label}: {texts.item_title(item.title_ru, item.title_en, lang)}"
        code, state_label = _patient_state(v.state, lang)
        milestones.append(
            s.MilestoneOut(milestone=key, label=label, state=code, state_label=state_label)
        )

    clinic = b.clinic
    return s.ReferralOut(
        id=b.referral["id"],
        step=fold.step.value,
        step_label=texts.STEPS[fold.step.value][lang],
        closed_reason=fold.closed_reason,
        sent_at=local(b.referral["sent_at"], tz),
        clinic=s.ClinicOut(
            id=clinic["id"],
            name=clinic["name"],
            city=clinic["city"],
            address=clinic["address"],
            phone=clinic["phone"],
        ),
        progress=progress,
        stages=stages,
        plan_comparison=comparison(b, lang),
        appointments=[
            s.AppointmentOut(
                id=a.id,
                starts_at=local(a.starts_at, tz),
                status=a.status,
                patient_status=a.patient_status,
                can_respond=a.status == "booked" and fold.is_open,
            )
            for a in fold.appointments
        ],
        questions=[question(q, clinic["name"], items, tz, lang) for q in b.open_questions],
        milestones=milestones,
    )


def _item_uuid(milestone: str):
    from uuid import UUID

    return UUID(milestone.removeprefix(ITEM_PREFIX))


def comparison(b: ReferralBundle, lang: Lang) -> s.PlanComparisonOut:
    currency = b.fold.money.currency
    if b.estimated is None and b.actual is None:
        return s.PlanComparisonOut(
            estimated_total=None,
            actual_total=None,
            difference=None,
            summary=texts.PLAN_DIFF["none"][lang],
            reason=None,
            changes=[],
        )
    if b.actual is None or b.estimated is None:
        only = b.estimated or b.actual
        assert only is not None
        total = money(sum(i.price for i in only.items), currency, lang)
        return s.PlanComparisonOut(
            estimated_total=total if b.estimated else None,
            actual_total=total if b.actual else None,
            difference=None,
            summary=texts.PLAN_DIFF["none"][lang],
            reason=None,
            changes=[],
        )
    diff = compare_plans(b.estimated.items, b.actual.items)
    if diff.same:
        summary = texts.PLAN_DIFF["same"][lang]
    elif diff.difference > 0:
        summary = texts.PLAN_DIFF["more"][lang].format(
            delta=texts.money(diff.difference, currency, lang)
        )
    elif diff.difference < 0:
        summary = texts.PLAN_DIFF["less"][lang].format(
            delta=texts.money(-diff.difference, currency, lang)
        )
    else:
        summary = texts.PLAN_DIFF["equal"][lang]

    def title(i: PlanItem) -> str:
        return texts.item_title(i.title_ru, i.title_en, lang)

    changes = (
        [
            s.PlanChange(
                change="added",
                title=title(i),
                tooth=i.tooth,
                before=None,
                after=money(i.price, currency, lang),
            )
            for i in diff.added
        ]
        + [
            s.PlanChange(
                change="dropped",
                title=title(i),
                tooth=i.tooth,
                before=money(i.price, currency, lang),
                after=None,
            )
            for i in diff.dropped
        ]
        + [
            s.PlanChange(
                change="repriced",
                title=title(c.after),
                tooth=c.after.tooth,
                before=money(c.before.price, currency, lang),
                after=money(c.after.price, currency, lang),
            )
            for c in diff.repriced
        ]
    )
    return s.PlanComparisonOut(
        estimated_total=money(diff.estimated_total, currency, lang),
        actual_total=money(diff.actual_total, currency, lang),
        difference=money(diff.difference, currency, lang),
        summary=summary,
        reason=b.actual.reason,
        changes=changes,
    )


def summary(row: dict[str, Any], clinic_name: str, b: ReferralBundle) -> s.ReferralSummary:
    lang: Lang = b.lang  # type: ignore[assignment]
    return s.ReferralSummary(
        id=row["id"],
        clinic_name=clinic_name,
        step=b.fold.step.value,
        step_label=texts.STEPS[b.fold.step.value][lang],
        sent_at=local(row["sent_at"], b.tz),
        percent_money=b.progress.percent_money,
        percent_items=b.progress.percent_items,
        money_total=money(b.progress.money_total, b.fold.money.currency, lang),
        next_step=next_step(b, lang),
        open_questions=len(b.open_questions),
    )


def teeth(chart: list[ChartTooth], phase: str, lang: Lang) -> s.TeethOut:
    chart_texts = texts.chart_texts(phase, lang)
    return s.TeethOut(
        phase=phase,  # type: ignore[arg-type]
        title=chart_texts.title,
        teeth=[
            s.ToothOut(
                tooth=t.tooth,
                condition=t.condition,
                label=chart_texts.conditions.get(t.condition, t.condition),
                code=chart_texts.codes.get(t.condition, ""),
                in_plan=t.in_plan,
                done=t.done,
                partly_done=t.partly_done,
            )
            for t in chart
        ],
        legend={
            c: chart_texts.conditions[c]
            for c in sorted({t.condition for t in chart})
            if c in chart_texts.conditions
        },
    )
