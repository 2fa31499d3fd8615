"""A plan's variants side by side, as seed 004 shows them: for each variant what the
patient gets (the common items and its own), its total, how long the course takes by the
duration norms, the chart after it, and the explanations that belong to it.

A plan without variants is one variant (letter None) of its own, so readers need no
second code path.
"""

from uuid import UUID

import msgspec

from backend.domain.norms import Norms
from backend.domain.plans import (
    Explanation,
    PlanItem,
    ToothState,
    VariantInfo,
    counted_variant,
    of_variant,
    offered_variants,
)
from backend.domain.progress import stage_durations


class VariantOverview(msgspec.Struct, frozen=True, kw_only=True):
    variant: str | None
    info: VariantInfo
    counted: bool  # the variant the plan counts: chosen, else the first
    items: tuple[PlanItem, ...]  # common items first, then the variant's own, in stage order
    own_items: frozenset[UUID]  # which of them belong to this variant only
    total: int
    common_total: int
    course_days: int  # stages back to back, each as long as its longest item
    chair_minutes: int  # items without their own minutes count by the norm
    stage_days: dict[int, int]
    teeth_after: tuple[ToothState, ...]  # common after-states with this variant's laid over
    explanations: tuple[Explanation, ...]


def after_states(teeth: list[ToothState], variant: str | None) -> list[ToothState]:
    """The chart after a variant: its own after-states over the common ones."""
    common = {t.tooth: t for t in teeth if t.phase == "after" and t.variant is None}
    own = {t.tooth: t for t in teeth if t.phase == "after" and t.variant == variant}
    return sorted({**common, **own}.values(), key=lambda t: t.tooth)


def chart_states(teeth: list[ToothState], variant: str | None) -> list[ToothState]:
    """Before-states and the after-states of one variant, for the chart functions."""
    before = [t for t in teeth if t.phase == "before"]
    return before + [msgspec.structs.replace(t, variant=None) for t in after_states(teeth, variant)]


def overview(
    items: list[PlanItem],
    *,
    infos: list[VariantInfo],
    explanations: list[Explanation],
    teeth: list[ToothState],
    chosen_variant: str | None,
    norms: Norms,
) -> list[VariantOverview]:
    """Every variant of a plan version, in letter order."""
    by_letter = {i.variant: i for i in infos}
    counted = counted_variant(items, chosen_variant)
    common = [i for i in items if i.variant is None]
    item_variant = {i.item_id: i.variant for i in items}
    stage_of = {i.item_id: i.stage for i in items}
    out = []
    for letter in offered_variants(items) or [None]:
        mine = of_variant(items, letter)
        durations = stage_durations(tuple(mine), norms)  # type: ignore[arg-type]
        minutes = 0
        for i in mine:
            norm = norms.get(i.specialization)
            minutes += (
                i.chair_minutes
                if i.chair_minutes is not None
                else norm.chair_minutes
                if norm
                else 0
            )
        stages = {i.stage for i in mine}
        out.append(
            VariantOverview(
                variant=letter,
                info=by_letter.get(letter) or VariantInfo(variant=letter or ""),
                counted=letter == counted,
                items=tuple(sorted(mine, key=lambda i: (i.stage, i.variant is not None))),
                own_items=frozenset(i.item_id for i in mine if i.variant is not None),
                total=sum(i.price for i in mine),
                common_total=sum(i.price for i in common),
                course_days=sum(d.days for d in durations.values()),
                chair_minutes=minutes,
                stage_days={stage: d.days for stage, d in durations.items()},
                teeth_after=tuple(after_states(teeth, letter)),
                explanations=tuple(
                    e
                    for e in sorted(explanations, key=lambda e: e.position)
                    if _belongs(e, letter, item_variant, stage_of, stages)
                ),
            )
        )
    return out


def _belongs(
    e: Explanation,
    letter: str | None,
    item_variant: dict[UUID, str | None],
    stage_of: dict[UUID, int],
    stages: set[int],
) -> bool:
    if e.variant is not None and e.variant != letter:
        return False
    if e.item_id is not None:
        return e.item_id in item_variant and item_variant[e.item_id] in (None, letter)
    return e.stage is None or e.stage in stages
