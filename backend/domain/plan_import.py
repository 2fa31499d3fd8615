"""An estimated plan from an AI analysis of the patient's images.

The analysis names findings per tooth (FDI number, finding code, probability) and the
procedures it recommends. Prices, titles and the tooth's state after a procedure come
from the price list (the clinic's lines over the exchange's), chair time and course
length from the duration norms. Nothing is guessed: a procedure code missing from the
price list stops the import, an unknown finding or an uncertain one is left off the
chart and reported. The format is documented in docs/plan-import.md.
"""

from typing import Annotated

import msgspec

from backend.domain.norms import Norms, Specialization
from backend.domain.plans import ToothState
from backend.domain.teeth import ToothCondition, is_valid_tooth

FORMAT = "plantrack.ai-analysis/1"
DEFAULT_MIN_PROBABILITY = 0.5

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


# Extra fields (boxes, masks, model internals) are ignored: analysers add them freely.
class Finding(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    code: Code
    probability: Probability
    note: Annotated[str, msgspec.Meta(max_length=300)] = ""


class Procedure(msgspec.Struct, frozen=True, kw_only=True):
    code: Code
    tooth: int | None = None
    stage: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    variant: Annotated[str, msgspec.Meta(pattern="^[A-Z]$")] | None = None


class Analysis(msgspec.Struct, frozen=True, kw_only=True):
    format: str = FORMAT
    analysis_id: Annotated[str, msgspec.Meta(max_length=120)] = ""
    findings: Annotated[list[Finding], msgspec.Meta(max_length=500)] = []
    procedures: Annotated[list[Procedure], msgspec.Meta(min_length=1, max_length=200)]


class PriceLine(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    specialization: str
    title_ru: str
    title_en: str
    price: int
    result_condition: str | None = None  # the tooth after this procedure
    course_days: int | None = None


class DraftItem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    specialization: str
    title_ru: str
    title_en: str
    price: int
    stage: int
    tooth: int | None
    variant: str | None
    chair_minutes: int
    course_days: int


class ImportedPlan(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[DraftItem, ...]
    teeth: tuple[ToothState, ...]
    notes: tuple[str, ...]  # what was left out, and why

    @property
    def total(self) -> int:
        return sum(i.price for i in self.items)


class CannotImport(ValueError):
    """The analysis cannot become a plan; the message lists every reason."""


# Finding codes analysers emit, and the chart condition each one draws. Codes outside
# this table are reported, not mapped to a lookalike.
FINDING_CONDITIONS: dict[str, ToothCondition] = {
    "healthy": ToothCondition.healthy,
    "caries": ToothCondition.caries,
    "secondary_caries": ToothCondition.caries,
    "filling": ToothCondition.filled,
    "periapical_lesion": ToothCondition.root_canal,
    "pulpitis": ToothCondition.root_canal,
    "root_canal_filling": ToothCondition.root_canal,
    "crown": ToothCondition.crown,
    "missing": ToothCondition.missing,
    "implant": ToothCondition.implant,
    "residual_root": ToothCondition.extraction,
    "impacted": ToothCondition.extraction,
    "fracture": ToothCondition.extraction,
    "bridge": ToothCondition.bridge,
    "pontic": ToothCondition.bridge,
    "bone_loss": ToothCondition.periodontitis,
    "periodontitis": ToothCondition.periodontitis,
}

# When one tooth has several findings the chart shows the one needing the most work.
_URGENCY = [
    ToothCondition.extraction,
    ToothCondition.root_canal,
    ToothCondition.caries,
    ToothCondition.periodontitis,
    ToothCondition.missing,
    ToothCondition.bridge,
    ToothCondition.crown,
    ToothCondition.implant,
    ToothCondition.filled,
    ToothCondition.healthy,
]

# Without a stage from the analysis: sanitation and surgery first, then treatment, then
# implants, then prosthetics and orthodontics, the order clinics plan in.
_DEFAULT_STAGE: dict[str, int] = {
    Specialization.diagnostics: 1,
    Specialization.hygiene: 1,
    Specialization.surgery: 1,
    Specialization.periodontics: 1,
    Specialization.therapy: 2,
    Specialization.endodontics: 2,
    Specialization.implantology: 3,
    Specialization.orthopedics: 4,
    Specialization.orthodontics: 4,
}


def import_plan(
    analysis: Analysis,
    prices: dict[str, PriceLine],
    norms: Norms,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
) -> ImportedPlan:
    if analysis.format != FORMAT:
        raise CannotImport(f"format: expected {FORMAT!r}, got {analysis.format!r}")
    _check_teeth(analysis)
    items, notes = _items(analysis.procedures, prices, norms)
    before, finding_notes = _before(analysis.findings, min_probability)
    after = _after(before, items, prices)
    teeth = [
        ToothState(tooth=t, phase="before", condition=str(c)) for t, c in sorted(before.items())
    ] + [ToothState(tooth=t, phase="after", condition=str(c)) for t, c in sorted(after.items())]
    return ImportedPlan(items=tuple(items), teeth=tuple(teeth), notes=(*finding_notes, *notes))


def _check_teeth(analysis: Analysis) -> None:
    bad = [
        f"findings[{i}].tooth: {f.tooth}"
        for i, f in enumerate(analysis.findings)
        if not is_valid_tooth(f.tooth)
    ] + [
        f"procedures[{i}].tooth: {p.tooth}"
        for i, p in enumerate(analysis.procedures)
        if p.tooth is not None and not is_valid_tooth(p.tooth)
    ]
    if bad:
        raise CannotImport("not FDI tooth numbers: " + "; ".join(bad))


def _items(
    procedures: list[Procedure], prices: dict[str, PriceLine], norms: Norms
) -> tuple[list[DraftItem], list[str]]:
    unknown = sorted({p.code for p in procedures if p.code not in prices})
    if unknown:
        raise CannotImport("procedures not in the price list: " + ", ".join(unknown))
    notes: list[str] = []
    seen: set[tuple[str, int | None, str | None]] = set()
    drafts: list[DraftItem] = []
    for p in procedures:
        key = (p.code, p.tooth, p.variant)
        if key in seen:
            notes.append(f"procedure {p.code} on tooth {p.tooth} appears twice; taken once")
            continue
        seen.add(key)
        line = prices[p.code]
        norm = norms.get(line.specialization)
        drafts.append(
            DraftItem(
                code=line.code,
                specialization=line.specialization,
                title_ru=line.title_ru,
                title_en=line.title_en,
                price=line.price,
                stage=p.stage or _DEFAULT_STAGE.get(line.specialization, 2),
                tooth=p.tooth,
                variant=p.variant,
                chair_minutes=norm.chair_minutes if norm else 60,
                course_days=line.course_days
                if line.course_days is not None
                else (norm.course_days if norm else 7),
            )
        )
    # Stages numbered 1, 2, 3… without gaps; the order within a stage is the analysis's.
    renumber = {old: new for new, old in enumerate(sorted({d.stage for d in drafts}), start=1)}
    drafts = [msgspec.structs.replace(d, stage=renumber[d.stage]) for d in drafts]
    drafts.sort(key=lambda d: d.stage)  # stable: keeps the analysis's order within a stage
    return drafts, notes


def _before(
    findings: list[Finding], min_probability: float
) -> tuple[dict[int, ToothCondition], list[str]]:
    notes: list[str] = []
    best: dict[int, tuple[int, float]] = {}  # tooth -> (urgency rank, probability)
    for f in findings:
        condition = FINDING_CONDITIONS.get(f.code)
        if condition is None:
            notes.append(f"finding {f.code!r} on tooth {f.tooth} is not a known code; not drawn")
            continue
        if f.probability < min_probability:
            notes.append(
                f"finding {f.code} on tooth {f.tooth} at probability {f.probability:.2f} "
                f"is below {min_probability:.2f}; not drawn"
            )
            continue
        candidate = (_URGENCY.index(condition), -f.probability)
        if f.tooth not in best or candidate < best[f.tooth]:
            best[f.tooth] = candidate
    return {tooth: _URGENCY[rank] for tooth, (rank, _) in best.items()}, notes


def _after(
    before: dict[int, ToothCondition], items: list[DraftItem], prices: dict[str, PriceLine]
) -> dict[int, ToothCondition]:
    """Each tooth as it will be: the result of its last procedure, else as it was. Of
    alternative variants the chart shows the one a plan counts by default (the first)."""
    offered = sorted({i.variant for i in items if i.variant})
    counted = (None, offered[0] if offered else None)
    after = dict(before)
    for item in items:  # in stage order
        result = prices[item.code].result_condition
        if item.tooth is not None and result is not None and item.variant in counted:
            after[item.tooth] = ToothCondition(result)
    return after
