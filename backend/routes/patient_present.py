"""From what the services computed to what the patient app shows, in the patient's
language and time zone. No business rule is decided here: states, progress and
differences come from the domain; this only names and formats them."""

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.funnel import ITEM_PREFIX, RECEIPT_PREFIX, Step
from backend.domain.norms import effective_norms
from backend.domain.odontogram import ChartTooth, chart
from backend.domain.plans import PlanItem, ToothState, compare_plans
from backend.domain.variants import VariantOverview, chart_states, overview
from backend.routes import patient_schemas as s
from backend.services import texts
from backend.services.patient_reads import QuestionRow, ReferralBundle, ReferralRow
from backend.services.texts import Lang


def local(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Timestamps go out in the patient's own offset: 2026-12-05T10:00:00+03:00."""
    return at.astimezone(tz) if at is not None else None


def money(amount: int, currency: str, lang: Lang) -> s.Money:
    return s.Money(amount=amount, currency=currency, formatted=texts.money(amount, currency, lang))


def prices_shown(b: ReferralBundle) -> bool:
    """The clinic's choice whether its patients see money (seed 004)."""
    return b.clinic.show_prices


def priced(b: ReferralBundle, amount: int, lang: Lang) -> s.Money | None:
    return money(amount, b.fold.money.currency, lang) if prices_shown(b) else None


def question(
    row: QuestionRow, clinic_name: str, items: dict, tz: ZoneInfo, lang: Lang
) -> s.QuestionOut:
    about: datetime | None = row.about_at
    kind = row.kind
    when = ""
    if about is not None:
        when = (texts.day_time if kind in ("confirm_booking", "visit_check") else texts.day)(
            about, tz, lang
        )
    item: PlanItem | None = items.get(row.item_id) if row.item_id else None
    text = texts.QUESTIONS[kind][lang].format(
        clinic=clinic_name,
        when=when,
        what=texts.item_title(item.title_ru, item.title_en, lang) if item else "",
        tooth=texts.TOOTH[lang].format(n=item.tooth) if item and item.tooth else "",
    )
    return s.QuestionOut(
        id=row.id,
        referral_id=row.referral,
        kind=kind,
        text=text,
        answers=[
            s.AnswerOption(value=v, label=texts.ANSWERS[v][lang]) for v in ("yes", "no", "unsure")
        ],
        asked_at=local(row.asked_at, tz),
        expires_at=local(row.expires_at, tz),
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
    phone = b.clinic.phone
    appointment = fold.current_appointment
    # A referral that ended sends the patient nowhere, not even to a question still open
    # on it (backend.domain.questions.ASKED_AFTER_CLOSING): that one waits in the list.
    if fold.is_closed:
        return texts.NEXT_STEP["closed"][lang]
    if b.open_questions:
        return texts.NEXT_STEP["answer"][lang]
    if step is Step.completed:
        return texts.NEXT_STEP["done"][lang]
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
        item = next(
            (i for i in current.counted_items if i.item_id == b.progress.next_item_id), None
        )
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
    tz, fold = b.tz, b.fold
    items = {i.item_id: i for i in (b.current.counted_items if b.current else [])}
    verdicts = b.verifications
    closed = not fold.is_open and fold.step is not Step.completed

    def item_out(item: PlanItem, stage_current: bool) -> s.PlanItemOut:
        done_at = fold.done_items.get(item.item_id)
        status = _status(done_at is not None, closed, stage_current)
        verdict = verdicts.get(f"{ITEM_PREFIX}{item.item_id}")
        return s.PlanItemOut(
            item_id=item.item_id,
            title=texts.item_title(item.title_ru, item.title_en, lang),
            tooth=item.tooth,
            specialization=item.specialization,
            specialization_label=texts.SPECIALIZATIONS[item.specialization][lang],
            price=priced(b, item.price, lang),
            status=status,
            status_label=texts.ITEM_STATUS[status][lang],
            done_at=local(done_at, tz),
            verification=_patient_state(verdict.state, lang)[0] if verdict and done_at else None,
        )

    stages = []
    for stage in b.progress.stages:
        current = stage.stage == b.progress.current_stage
        stage_items = [item_out(i, current) for i in items.values() if i.stage == stage.stage]
        status = _status(stage.items_done == stage.items_total, closed, current)
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
                money=priced(b, stage.money_total, lang),
                items=stage_items,
            )
        )

    p = b.progress
    progress = s.ProgressOut(
        percent_money=p.percent_money,
        percent_items=p.percent_items,
        money_done=priced(b, p.money_done, lang),
        money_total=priced(b, p.money_total, lang),
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
        shown = priced(b, receipts[key].amount, lang) if key in receipts else None
        if label_key == "receipt" and shown is not None:  # the patient's own receipt's sum
            label = f"{label}: {shown.formatted}"
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
        id=b.referral.id,
        step=fold.step.value,
        step_label=texts.STEPS[fold.step.value][lang],
        closed_reason=fold.closed_reason,
        sent_at=local(b.referral.sent_at, tz),
        clinic=msgspec.convert(clinic, s.ClinicOut, from_attributes=True),
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
        questions=[question(q, clinic.name, items, tz, lang) for q in b.open_questions],
        milestones=milestones,
        variants=variants(b, lang),
        chosen_variant=b.current.variant if b.current else None,
        can_choose_variant=can_choose(b),
        prices_shown=prices_shown(b),
        plan_pdf_url=f"/api/v1/me/referrals/{b.referral.id}/plan.pdf",
    )


def _status(done: bool, closed: bool, current: bool) -> str:
    """Where a procedure or a stage is, as the patient's plan shows it."""
    if done:
        return "completed"
    if closed:
        return "stopped"
    return "in-progress" if current else "not-started"


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
        total = priced(b, sum(i.price for i in only.counted_items), lang)
        return s.PlanComparisonOut(
            estimated_total=total if b.estimated else None,
            actual_total=total if b.actual else None,
            difference=None,
            summary=texts.PLAN_DIFF["none"][lang],
            reason=None,
            changes=[],
        )
    diff = compare_plans(b.estimated.counted_items, b.actual.counted_items)
    if diff.same:
        summary = texts.PLAN_DIFF["same"][lang]
    elif not prices_shown(b):
        summary = texts.PLAN_DIFF["changed"][lang]
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
                after=priced(b, i.price, lang),
            )
            for i in diff.added
        ]
        + [
            s.PlanChange(
                change="dropped",
                title=title(i),
                tooth=i.tooth,
                before=priced(b, i.price, lang),
                after=None,
            )
            for i in diff.dropped
        ]
        + [
            s.PlanChange(
                change="repriced",
                title=title(c.after),
                tooth=c.after.tooth,
                before=priced(b, c.before.price, lang),
                after=priced(b, c.after.price, lang),
            )
            for c in diff.repriced
        ]
    )
    return s.PlanComparisonOut(
        estimated_total=priced(b, diff.estimated_total, lang),
        actual_total=priced(b, diff.actual_total, lang),
        difference=priced(b, diff.difference, lang),
        summary=summary,
        reason=b.actual.reason,
        changes=changes,
    )


def plan_teeth(b: ReferralBundle) -> list[ToothState]:
    """The chart's states: the current version's, or the estimate's if the clinic kept it."""
    current = b.current
    teeth = current.teeth if current else []
    if b.actual and not b.actual.teeth and b.estimated:
        teeth = b.estimated.teeth
    return teeth


def overviews(b: ReferralBundle) -> list[VariantOverview]:
    current = b.current
    if current is None:
        return []
    return overview(
        current.items,
        infos=current.variants,
        explanations=current.explanations,
        teeth=plan_teeth(b),
        chosen_variant=current.variant,
        norms=b.norms or effective_norms(),
    )


def can_choose(b: ReferralBundle) -> bool:
    """An open referral whose current plan offers more than one option."""
    offered = {i.variant for i in b.current.items if i.variant} if b.current else set()
    return b.fold.is_open and len(offered) > 1


def variants(b: ReferralBundle, lang: Lang) -> list[s.VariantOut]:
    """Every option of the current plan side by side, in the patient's language."""
    choice = b.fold.variant_choice
    items_by_id = {i.item_id: i for i in (b.current.items if b.current else [])}
    states = plan_teeth(b)
    out = []
    for v in overviews(b):
        chosen_by = choice.by if v.counted and choice is not None else None
        status = (
            texts.VARIANT["chosen_by_patient"][lang]
            if chosen_by == "patient"
            else texts.VARIANT["chosen_by_clinic"][lang]
            if chosen_by == "clinic"
            else texts.VARIANT["counted"][lang]
            if v.counted and v.variant is not None
            else None
        )
        after = chart(
            chart_states(states, v.variant), list(v.items), set(b.fold.done_items), "after"
        )
        out.append(
            s.VariantOut(
                variant=v.variant,
                title=texts.variant_title(v.variant, v.info.title_ru, v.info.title_en, lang),
                counted=v.counted,
                chosen_by=chosen_by,
                status_label=status,
                pros=texts.points(v.info.pros_ru, v.info.pros_en, lang),
                cons=texts.points(v.info.cons_ru, v.info.cons_en, lang),
                total=priced(b, v.total, lang),
                course_days=v.course_days,
                course_label=texts.VARIANT["course"][lang].format(days=v.course_days),
                items=[
                    s.VariantItemOut(
                        item_id=i.item_id,
                        title=texts.item_title(i.title_ru, i.title_en, lang),
                        tooth=i.tooth,
                        stage=i.stage,
                        specialization_label=texts.SPECIALIZATIONS[i.specialization][lang],
                        price=priced(b, i.price, lang),
                        common=i.variant is None,
                    )
                    for i in v.items
                ],
                explanations=[explanation(e, items_by_id, lang) for e in v.explanations],
                after_chart=teeth(after, "after", lang),
                chart_svg_url=f"/api/v1/me/referrals/{b.referral.id}/teeth.svg?phase=after"
                + (f"&variant={v.variant}" if v.variant else ""),
            )
        )
    return out


def explanation(e, items_by_id: dict, lang: Lang) -> s.ExplanationOut:
    item = items_by_id.get(e.item_id) if e.item_id else None
    about = None
    if item is not None:
        about = texts.item_title(item.title_ru, item.title_en, lang) + (
            texts.TOOTH[lang].format(n=item.tooth) if item.tooth else ""
        )
    elif e.stage is not None:
        about = texts.STAGE[lang].format(n=e.stage)
    return s.ExplanationOut(
        visit=e.visit,
        visit_label=texts.VARIANT["visit"][lang].format(n=e.visit) if e.visit else None,
        stage=e.stage,
        item_id=e.item_id,
        about=about,
        problem=texts.item_title(e.problem_ru, e.problem_en, lang),
        solution=texts.item_title(e.solution_ru, e.solution_en, lang),
        specialists=[
            texts.SPECIALIZATIONS[x][lang] for x in e.specialists if x in texts.SPECIALIZATIONS
        ],
    )


def summary(row: ReferralRow, clinic_name: str, b: ReferralBundle) -> s.ReferralSummary:
    lang: Lang = b.lang  # type: ignore[assignment]
    return s.ReferralSummary(
        id=row.id,
        clinic_name=clinic_name,
        step=b.fold.step.value,
        step_label=texts.STEPS[b.fold.step.value][lang],
        sent_at=local(row.sent_at, b.tz),
        percent_money=b.progress.percent_money,
        percent_items=b.progress.percent_items,
        money_total=priced(b, b.progress.money_total, lang),
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


def pictures(items: list[s.MediaOut], lang: Lang) -> s.MediaList:
    """Pictures by phase, and before beside after (the latest of each) per tooth and kind."""
    by_phase: dict[str, list[s.MediaOut]] = {"before": [], "progress": [], "after": []}
    pairs: dict[tuple[int | None, str], dict[str, s.MediaOut]] = {}
    for m in items:  # oldest first: a later picture of the same phase replaces the pair's
        by_phase.setdefault(m.phase, []).append(m)
        if m.phase in ("before", "after"):
            pairs.setdefault((m.tooth, m.kind), {})[m.phase] = m
    side_by_side = [
        s.MediaPairOut(
            tooth=tooth,
            kind=kind,
            label=texts.PICTURES[kind][lang]
            + (texts.TOOTH[lang].format(n=tooth) if tooth else texts.PICTURES["mouth"][lang]),
            before=pair.get("before"),
            after=pair.get("after"),
        )
        for (tooth, kind), pair in sorted(pairs.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1]))
    ]
    return s.MediaList(items=items, by_phase=by_phase, side_by_side=side_by_side)
