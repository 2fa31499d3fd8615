"""Plan options in the domain: which one counts, what the patient's choice changes, when a
clinic's new plan is put to the patient, and what each option amounts to."""

from uuid import UUID

from backend.domain.authority import RefusalKind, check_statement
from backend.domain.events import PlanLine, PlanSet, Sent, Side, Source, VariantChosen
from backend.domain.funnel import PLAN, fold_referral
from backend.domain.norms import effective_norms
from backend.domain.plans import Explanation, PlanItem, ToothState, VariantInfo
from backend.domain.questions import QuestionKind, plan_questions
from backend.domain.variants import after_states, overview
from backend.domain.verification import VerificationState, verify
from tests.unit.ledger_builder import CLINIC, Ledger, at

COMMON, IMPLANT, BRIDGE = UUID(int=1), UUID(int=2), UUID(int=3)
LINES = [
    PlanLine(item_id=COMMON, price=2_000_00, specialization="diagnostics"),
    PlanLine(item_id=IMPLANT, price=65_000_00, specialization="implantology", stage=2, variant="A"),
    PlanLine(item_id=BRIDGE, price=48_000_00, specialization="orthopedics", stage=2, variant="B"),
]


def plan(version: int, origin: str = "estimated", lines=None, chosen=None) -> PlanSet:
    return PlanSet(
        plan_id=UUID(int=100 + version),
        version=version,
        origin=origin,
        currency="RUB",
        lines=lines or LINES,
        chosen_variant=chosen,
    )


def sent_ledger() -> Ledger:
    ledger = Ledger()
    ledger.add(plan(1), hours=0, source=Source.exchange)
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def test_the_first_option_counts_until_the_patient_chooses():
    ledger = sent_ledger()
    fold = fold_referral(ledger.events)
    assert fold.plan.variant == "A" and fold.money.planned == 67_000_00
    assert fold.variant_choice is None
    ledger.add(VariantChosen(variant="B", version=1), hours=2, source=Source.patient_app)
    fold = fold_referral(ledger.events)
    assert fold.plan.variant == "B" and fold.money.planned == 50_000_00
    assert (fold.variant_choice.variant, fold.variant_choice.by) == ("B", "patient")
    assert {line.item_id for line in fold.plan.chosen_lines()} == {COMMON, BRIDGE}


def test_the_choice_stands_for_a_new_version_that_still_offers_it_and_lapses_otherwise():
    ledger = sent_ledger()
    ledger.add(VariantChosen(variant="B", version=1), hours=1, source=Source.patient_app)
    ledger.add(plan(2, "actual"), hours=3)
    assert fold_referral(ledger.events).plan.variant == "B"
    ledger.add(plan(3, "actual", lines=LINES[:2]), hours=4)  # B is gone
    assert fold_referral(ledger.events).plan.variant == "A"


def test_a_clinics_new_plan_after_the_choice_is_put_to_the_patient():
    ledger = sent_ledger()
    ledger.add(plan(2, "actual"), hours=1)  # before any choice: nothing to agree with
    assert PLAN not in fold_referral(ledger.events).clinic_claims
    ledger.add(VariantChosen(variant="B", version=2), hours=2, source=Source.patient_app)
    ledger.add(plan(3, "actual"), hours=3)
    fold = fold_referral(ledger.events)
    verdicts = verify(fold, at(4))
    assert verdicts[PLAN].state is VerificationState.awaiting_patient
    asked = plan_questions(fold, verdicts, [], now=at(4))
    assert [q.kind for q in asked.ask] == [QuestionKind.confirm_plan]
    # Agreeing with version 2 (by choosing on it) is not agreeing with version 3 …
    assert verdicts[PLAN].patient_answer is None
    # … choosing again after it is.
    ledger.add(VariantChosen(variant="B", version=3), hours=5, source=Source.patient_app)
    assert verify(fold_referral(ledger.events), at(6))[PLAN].state is VerificationState.verified


def test_a_patient_cannot_choose_what_the_plan_does_not_offer():
    fold = fold_referral(sent_ledger().events)
    refusal = check_statement(
        Side.patient, VariantChosen(variant="D", version=1), fold, occurred_at=at(1), now=at(1)
    )
    assert refusal is not None and refusal.kind is RefusalKind.invalid
    assert "A, B" in refusal.message
    clinic_says = check_statement(
        Side.clinic, VariantChosen(variant="A", version=1), fold, occurred_at=at(1), now=at(1)
    )
    assert clinic_says is not None and clinic_says.kind is RefusalKind.forbidden


def test_each_option_adds_up_its_money_length_chart_and_explanations():
    items = [
        PlanItem(item_id=COMMON, specialization="diagnostics", price=2_000_00),
        PlanItem(
            item_id=IMPLANT,
            specialization="implantology",
            price=65_000_00,
            stage=2,
            variant="A",
            tooth=36,
        ),
        PlanItem(
            item_id=BRIDGE,
            specialization="orthopedics",
            price=48_000_00,
            stage=2,
            variant="B",
            tooth=36,
            course_days=30,
            chair_minutes=90,
        ),
    ]
    teeth = [
        ToothState(tooth=36, phase="before", condition="missing"),
        ToothState(tooth=16, phase="after", condition="filled"),
        ToothState(tooth=36, phase="after", condition="implant", variant="A"),
        ToothState(tooth=36, phase="after", condition="bridge", variant="B"),
    ]
    explained = [
        Explanation(position=0, stage=1, solution_ru="Снимок"),
        Explanation(position=1, item_id=IMPLANT, solution_ru="Имплант"),
        Explanation(position=2, variant="B", solution_ru="Мост"),
    ]
    a, b = overview(
        items,
        infos=[VariantInfo(variant="B", title_ru="Мост")],
        explanations=explained,
        teeth=teeth,
        chosen_variant="B",
        norms=effective_norms(),
    )
    assert (a.total, b.total) == (67_000_00, 50_000_00)
    assert (a.course_days, b.course_days) == (1 + 180, 1 + 30)
    assert (a.chair_minutes, b.chair_minutes) == (30 + 480, 30 + 90)
    assert (a.counted, b.counted) == (False, True)
    assert (a.info.title_ru, b.info.title_ru) == ("", "Мост")
    assert [e.solution_ru for e in a.explanations] == ["Снимок", "Имплант"]
    assert [e.solution_ru for e in b.explanations] == ["Снимок", "Мост"]
    assert {t.tooth: t.condition for t in a.teeth_after} == {16: "filled", 36: "implant"}
    assert {t.tooth: t.condition for t in after_states(teeth, "B")} == {16: "filled", 36: "bridge"}
