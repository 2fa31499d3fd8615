"""Plan versions compared (backend.domain.plans)."""

from uuid import UUID, uuid4

from backend.domain.plans import PlanItem, compare_plans


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
