"""Plan contents, and the difference between the exchange's estimate and the clinic's plan.

The patient sees both versions side by side with the difference explained: which
procedures the clinic added or dropped, which changed price, and by how much the
total moved. Items match by their stable id (a carried-over item keeps it), else by
procedure code and tooth.
"""

from uuid import UUID

import msgspec


class PlanItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    specialization: str
    price: int
    stage: int = 1
    position: int = 0
    variant: str | None = None
    code: str = ""
    title_ru: str = ""
    title_en: str = ""
    tooth: int | None = None
    chair_minutes: int | None = None
    course_days: int | None = None


class ToothState(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    phase: str  # before | after
    condition: str
    note: str = ""
    variant: str | None = None  # an after-state of one variant; None: of every variant


class VariantInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a variant is, in words: "Имплантация", with its pros and cons (a point a line)."""

    variant: str
    position: int = 0
    title_ru: str = ""
    title_en: str = ""
    pros_ru: str = ""
    pros_en: str = ""
    cons_ru: str = ""
    cons_en: str = ""


class Explanation(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 004's "visit – problem – solution": why a stage or an item is in the plan, at
    which visit, and which specialists take part. Tied to an item, else to a stage, else
    to the whole variant (or plan)."""

    position: int = 0
    variant: str | None = None  # None: every variant
    stage: int | None = None
    item_id: UUID | None = None
    visit: int | None = None
    problem_ru: str = ""
    problem_en: str = ""
    solution_ru: str = ""
    solution_en: str = ""
    specialists: tuple[str, ...] = ()


class PriceChange(msgspec.Struct, frozen=True, kw_only=True):
    before: PlanItem
    after: PlanItem

    @property
    def delta(self) -> int:
        return self.after.price - self.before.price


class PlanComparison(msgspec.Struct, frozen=True, kw_only=True):
    estimated_total: int
    actual_total: int
    added: tuple[PlanItem, ...]
    dropped: tuple[PlanItem, ...]
    repriced: tuple[PriceChange, ...]
    unchanged: int

    @property
    def difference(self) -> int:
        return self.actual_total - self.estimated_total

    @property
    def same(self) -> bool:
        return not (self.added or self.dropped or self.repriced)


def offered_variants(items) -> list[str]:
    """The variants a plan offers (A, B, C…), in letter order; [] for a plan without."""
    return sorted({i.variant for i in items if i.variant})


def counted_variant(items, chosen_variant: str | None) -> str | None:
    """The variant that counts: the chosen one if the plan offers it, else the first."""
    offered = offered_variants(items)
    if chosen_variant in offered:
        return chosen_variant
    return offered[0] if offered else None


def of_variant(items: list[PlanItem], variant: str | None) -> list[PlanItem]:
    """Common items and those of one variant: what the patient gets with it."""
    return [i for i in items if i.variant in (None, variant)]


def chosen(items: list[PlanItem], chosen_variant: str | None) -> list[PlanItem]:
    """Items that count: common ones and those of the chosen (else first) variant."""
    return of_variant(items, counted_variant(items, chosen_variant))


def variant_totals(items: list[PlanItem]) -> dict[str | None, int]:
    """Each variant's total (common items included); a plan without variants: {None: total}."""
    offered = offered_variants(items) or [None]
    return {v: sum(i.price for i in of_variant(items, v)) for v in offered}


def compare_plans(estimated: list[PlanItem], actual: list[PlanItem]) -> PlanComparison:
    remaining = list(estimated)
    pairs: list[tuple[PlanItem, PlanItem]] = []
    added: list[PlanItem] = []

    def take(match) -> PlanItem | None:
        for i, item in enumerate(remaining):
            if match(item):
                return remaining.pop(i)
        return None

    for item in actual:
        before = take(lambda e, item=item: e.item_id == item.item_id)
        if before is None and item.code:
            before = take(lambda e, item=item: (e.code, e.tooth) == (item.code, item.tooth))
        if before is None:
            added.append(item)
        else:
            pairs.append((before, item))

    repriced = tuple(PriceChange(before=b, after=a) for b, a in pairs if b.price != a.price)
    return PlanComparison(
        estimated_total=sum(i.price for i in estimated),
        actual_total=sum(i.price for i in actual),
        added=tuple(added),
        dropped=tuple(remaining),
        repriced=repriced,
        unchanged=len(pairs) - len(repriced),
    )
