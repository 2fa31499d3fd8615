"""An AI analysis becomes an estimated plan: priced from the list, timed by the norms,
charted before and after; nothing guessed."""

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.norms import effective_norms
from backend.domain.plan_import import (
    FINDING_CONDITIONS,
    Analysis,
    CannotImport,
    PriceLine,
    import_plan,
)
from backend.domain.teeth import PERMANENT_TEETH

NORMS = effective_norms()


def line(code, specialization, price, result=None, course_days=None):
    return PriceLine(
        code=code,
        specialization=specialization,
        title_ru=f"Услуга {code}",
        title_en=f"Service {code}",
        price=price,
        result_condition=result,
        course_days=course_days,
    )


PRICES = {
    p.code: p
    for p in (
        line("consult", "diagnostics", 1_500_00),
        line("fill", "therapy", 6_500_00, "filled"),
        line("canal", "endodontics", 18_000_00, "root_canal"),
        line("extract", "surgery", 5_000_00, "missing"),
        line("implant", "implantology", 55_000_00, "implant", course_days=120),
        line("crown", "orthopedics", 38_000_00, "crown"),
        line("bridge", "orthopedics", 90_000_00, "bridge"),
    )
}


def analysis(findings=(), procedures=(), **extra):
    return msgspec.convert(
        {"findings": list(findings), "procedures": list(procedures), **extra}, Analysis
    )


def test_prices_titles_and_durations_come_from_the_list_and_the_norms():
    plan = import_plan(
        analysis(
            [{"tooth": 36, "code": "missing", "probability": 0.98}],
            [{"code": "implant", "tooth": 36}, {"code": "consult"}],
        ),
        PRICES,
        NORMS,
    )
    consult, implant = plan.items  # diagnostics comes first
    assert (consult.code, consult.stage, consult.tooth) == ("consult", 1, None)
    assert (implant.price, implant.title_ru, implant.stage) == (55_000_00, "Услуга implant", 2)
    assert implant.course_days == 120  # the price line's own course
    assert implant.chair_minutes == NORMS["implantology"].chair_minutes
    assert consult.course_days == NORMS["diagnostics"].course_days
    assert plan.total == 56_500_00


def test_teeth_before_and_after_follow_findings_and_procedures():
    plan = import_plan(
        analysis(
            [
                {"tooth": 46, "code": "caries", "probability": 0.9},
                {"tooth": 46, "code": "periapical_lesion", "probability": 0.7},
                {"tooth": 11, "code": "filling", "probability": 0.95},
            ],
            [{"code": "canal", "tooth": 46}, {"code": "crown", "tooth": 46}],
        ),
        PRICES,
        NORMS,
    )
    states = {(t.tooth, t.phase): t.condition for t in plan.teeth}
    # the finding needing the most work is drawn; the last procedure decides the result
    assert states == {
        (46, "before"): "root_canal",
        (46, "after"): "crown",
        (11, "before"): "filled",
        (11, "after"): "filled",
    }


def test_uncertain_and_unknown_findings_are_reported_not_drawn():
    plan = import_plan(
        analysis(
            [
                {"tooth": 27, "code": "caries", "probability": 0.31},
                {"tooth": 17, "code": "hypercementosis", "probability": 0.99},
            ],
            [{"code": "consult"}],
        ),
        PRICES,
        NORMS,
    )
    assert plan.teeth == ()
    assert len(plan.notes) == 2
    assert "0.31" in plan.notes[0] and "27" in plan.notes[0]
    assert "hypercementosis" in plan.notes[1]
    lowered = import_plan(
        analysis([{"tooth": 27, "code": "caries", "probability": 0.31}], [{"code": "consult"}]),
        PRICES,
        NORMS,
        min_probability=0.3,
    )
    assert [(t.tooth, t.condition) for t in lowered.teeth] == [(27, "caries"), (27, "caries")]


def test_a_procedure_missing_from_the_price_list_stops_the_import_naming_all_of_them():
    with pytest.raises(CannotImport, match="not in the price list: laser, veneer"):
        import_plan(
            analysis(procedures=[{"code": "veneer"}, {"code": "fill"}, {"code": "laser"}]),
            PRICES,
            NORMS,
        )


def test_bad_teeth_and_an_unknown_format_are_refused():
    with pytest.raises(CannotImport, match=r"findings\[0\].tooth: 19.*procedures\[0\].tooth: 99"):
        import_plan(
            analysis(
                [{"tooth": 19, "code": "caries", "probability": 1}],
                [{"code": "fill", "tooth": 99}],
            ),
            PRICES,
            NORMS,
        )
    with pytest.raises(CannotImport, match="format"):
        import_plan(analysis(procedures=[{"code": "fill"}], format="other/2"), PRICES, NORMS)


def test_alternatives_stay_variants_each_with_its_own_chart_after():
    plan = import_plan(
        analysis(
            [{"tooth": 36, "code": "missing", "probability": 0.99}],
            [
                {"code": "implant", "tooth": 36, "variant": "A"},
                {"code": "bridge", "tooth": 36, "variant": "B"},
            ],
        ),
        PRICES,
        NORMS,
    )
    assert [(i.code, i.variant) for i in plan.items] == [("implant", "A"), ("bridge", "B")]
    after = {(t.tooth, t.variant): t.condition for t in plan.teeth if t.phase == "after"}
    assert after == {(36, "A"): "implant", (36, "B"): "bridge"}
    assert plan.total == PRICES["implant"].price  # the first option's, not both added up


def test_options_words_and_explanations_follow_the_plan_numbering():
    plan = import_plan(
        msgspec.convert(
            {
                "findings": [{"tooth": 36, "code": "missing", "probability": 0.99}],
                "procedures": [
                    {"code": "fill", "tooth": 16, "stage": 5},
                    {"code": "implant", "tooth": 36, "variant": "A", "stage": 9},
                    {"code": "bridge", "tooth": 36, "variant": "B", "stage": 9},
                ],
                "variants": [
                    {"variant": "A", "title_ru": "Имплантация", "pros_ru": "Надёжно"},
                    {"variant": "B", "title_ru": "Мост"},
                ],
                "explanations": [
                    {"procedure": 2, "visit": 2, "problem_ru": "Нет зуба", "solution_ru": "Мост"},
                    {"stage": 5, "solution_ru": "Сначала лечим кариес", "specialists": ["therapy"]},
                ],
            },
            Analysis,
        ),
        PRICES,
        NORMS,
    )
    assert [v.title_ru for v in plan.variants] == ["Имплантация", "Мост"]
    first, second = plan.explanations
    assert plan.items[first.item].code == "bridge" and first.visit == 2
    assert (second.stage, second.item, second.specialists) == (1, None, ("therapy",))
    # A tooth every option leaves alike is one common after-state.
    common = [t for t in plan.teeth if t.phase == "after" and t.variant is None]
    assert [(t.tooth, t.condition) for t in common] == [(16, "filled")]


def test_an_explanation_of_nothing_refuses_the_import():
    with pytest.raises(CannotImport, match="stage 7"):
        import_plan(
            msgspec.convert(
                {
                    "procedures": [{"code": "fill"}],
                    "explanations": [{"stage": 7, "solution_ru": "x"}],
                },
                Analysis,
            ),
            PRICES,
            NORMS,
        )


def test_a_repeated_procedure_is_taken_once_and_said_so():
    plan = import_plan(
        analysis(procedures=[{"code": "fill", "tooth": 16}, {"code": "fill", "tooth": 16}]),
        PRICES,
        NORMS,
    )
    assert len(plan.items) == 1 and "twice" in plan.notes[0]


def test_extra_fields_from_the_analyser_are_ignored():
    parsed = msgspec.json.decode(
        b'{"model": "x", "procedures": [{"code": "fill", "tooth": 16, "bbox": [1,2,3,4]}],'
        b' "findings": [{"tooth": 16, "code": "caries", "probability": 0.8, "mask": "..."}]}',
        type=Analysis,
    )
    assert import_plan(parsed, PRICES, NORMS).total == 6_500_00


procedures = st.lists(
    st.fixed_dictionaries(
        {
            "code": st.sampled_from(sorted(PRICES)),
            "tooth": st.none() | st.sampled_from(PERMANENT_TEETH),
        },
        optional={"stage": st.integers(1, 20)},
    ),
    min_size=1,
    max_size=30,
)
findings = st.lists(
    st.fixed_dictionaries(
        {
            "tooth": st.sampled_from(PERMANENT_TEETH),
            "code": st.sampled_from(sorted(FINDING_CONDITIONS)),
            "probability": st.floats(0, 1),
        }
    ),
    max_size=30,
)


@given(procedures, findings)
def test_any_analysis_gives_a_consistent_plan(procs, finds):
    plan = import_plan(analysis(finds, procs), PRICES, NORMS)
    distinct = {(p["code"], p["tooth"]) for p in procs}
    assert len(plan.items) == len(distinct)
    assert plan.total == sum(PRICES[code].price for code, _ in distinct)
    stages = [i.stage for i in plan.items]
    assert stages == sorted(stages) and set(stages) == set(range(1, max(stages) + 1))
    keys = [(t.tooth, t.phase) for t in plan.teeth]
    assert len(keys) == len(set(keys))
    befores = {t.tooth for t in plan.teeth if t.phase == "before"}
    assert befores == {f["tooth"] for f in finds if f["probability"] >= 0.5}
