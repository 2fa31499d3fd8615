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


Letter = Annotated[str, msgspec.Meta(pattern="^[A-Z]$")]
Words = Annotated[str, msgspec.Meta(max_length=2000)]


class VariantText(msgspec.Struct, frozen=True, kw_only=True):
    """An option's name, pros and cons (a point a line), as the analyser words them."""

    variant: Letter
    title_ru: Annotated[str, msgspec.Meta(max_length=200)] = ""
    title_en: Annotated[str, msgspec.Meta(max_length=200)] = ""
    pros_ru: Words = ""
    pros_en: Words = ""
    cons_ru: Words = ""
    cons_en: Words = ""


class ExplanationText(msgspec.Struct, frozen=True, kw_only=True):
    """Visit – problem – solution for a procedure (its index in `procedures`), a stage
    (as the analysis numbers them) or an option."""

    procedure: Annotated[int, msgspec.Meta(ge=0, le=199)] | None = None
    stage: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    variant: Letter | None = None
    visit: Annotated[int, msgspec.Meta(ge=1, le=99)] | None = None
    problem_ru: Words = ""
    problem_en: Words = ""
    solution_ru: Words = ""
    solution_en: Words = ""
    specialists: Annotated[list[Specialization], msgspec.Meta(max_length=9)] = []


class Analysis(msgspec.Struct, frozen=True, kw_only=True):
    format: str = FORMAT
    analysis_id: Annotated[str, msgspec.Meta(max_length=120)] = ""
    findings: Annotated[list[Finding], msgspec.Meta(max_length=500)] = []
    procedures: Annotated[list[Procedure], msgspec.Meta(min_length=1, max_length=200)]
    variants: Annotated[list[VariantText], msgspec.Meta(max_length=26)] = []
    explanations: Annotated[list[ExplanationText], msgspec.Meta(max_length=200)] = []


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


class DraftExplanation(msgspec.Struct, frozen=True, kw_only=True):
    """An explanation tied to a draft item by its index in `items`, or to a final stage."""

    item: int | None
    stage: int | None
    variant: str | None
    visit: int | None
    problem_ru: str
    problem_en: str
    solution_ru: str
    solution_en: str
    specialists: tuple[str, ...]


class ImportedPlan(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[DraftItem, ...]
    teeth: tuple[ToothState, ...]
    notes: tuple[str, ...]  # what was left out, and why
    variants: tuple[VariantText, ...] = ()
    explanations: tuple[DraftExplanation, ...] = ()

    @property
    def total(self) -> int:
        """The plan's money as it counts before a choice: common items and the first
        option's (alternatives are never added up)."""
        offered = sorted({i.variant for i in self.items if i.variant})
        first = offered[0] if offered else None
        return sum(i.price for i in self.items if i.variant in (None, first))


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
    items, notes, renumber = _items(analysis.procedures, prices, norms)
    before, finding_notes = _before(analysis.findings, min_probability)
    teeth = [
        ToothState(tooth=t, phase="before", condition=str(c)) for t, c in sorted(before.items())
    ]
    offered = sorted({i.variant for i in items if i.variant})
    afters = {v: _after(before, items, prices, v) for v in offered or [None]}
    for tooth in sorted(set().union(*afters.values())):
        conditions = {v: after.get(tooth) for v, after in afters.items()}
        if len(set(conditions.values())) == 1:  # every option leaves it alike
            teeth.append(
                ToothState(
                    tooth=tooth,
                    phase="after",
                    condition=str(conditions[offered[0] if offered else None]),
                )
            )
            continue
        teeth += [
            ToothState(tooth=tooth, phase="after", condition=str(c), variant=v)
            for v, c in conditions.items()
            if c is not None
        ]
    described = {v.variant for v in analysis.variants}
    if stray := sorted(described - set(offered)):
        raise CannotImport(f"variants {', '.join(stray)} have no procedures")
    return ImportedPlan(
        items=tuple(items),
        teeth=tuple(teeth),
        notes=(*finding_notes, *notes),
        variants=tuple(analysis.variants),
        explanations=_explanations(analysis, items, renumber),
    )


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
) -> tuple[list[DraftItem], list[str], dict[int, int]]:
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
    return drafts, notes, renumber


def _explanations(
    analysis: Analysis, items: list[DraftItem], renumber: dict[int, int]
) -> tuple[DraftExplanation, ...]:
    """Explanations re-pointed at the items and stages as the plan numbers them."""
    index_of = {(d.code, d.tooth, d.variant): n for n, d in enumerate(items)}
    offered = {d.variant for d in items if d.variant}
    out = []
    problems = []
    for n, e in enumerate(analysis.explanations):
        item = None
        if e.procedure is not None:
            if e.procedure >= len(analysis.procedures):
                problems.append(f"explanations[{n}].procedure: no procedure {e.procedure}")
                continue
            p = analysis.procedures[e.procedure]
            item = index_of[(p.code, p.tooth, p.variant)]
        if e.stage is not None and e.stage not in renumber:
            problems.append(f"explanations[{n}].stage: no procedure is in stage {e.stage}")
            continue
        if e.variant is not None and e.variant not in offered:
            problems.append(f"explanations[{n}].variant: {e.variant} has no procedures")
            continue
        out.append(
            DraftExplanation(
                item=item,
                stage=renumber.get(e.stage) if e.stage is not None else None,
                variant=e.variant,
                visit=e.visit,
                problem_ru=e.problem_ru,
                problem_en=e.problem_en,
                solution_ru=e.solution_ru,
                solution_en=e.solution_en,
                specialists=tuple(str(x) for x in e.specialists),
            )
        )
    if problems:
        raise CannotImport("; ".join(problems))
    return tuple(out)


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
    before: dict[int, ToothCondition],
    items: list[DraftItem],
    prices: dict[str, PriceLine],
    variant: str | None,
) -> dict[int, ToothCondition]:
    """Each tooth as it will be after one option: the result of its last procedure (the
    common ones and the option's), else as it was."""
    counted = (None, variant)
    after = dict(before)
    for item in items:  # in stage order
        result = prices[item.code].result_condition
        if item.tooth is not None and result is not None and item.variant in counted:
            after[item.tooth] = ToothCondition(result)
    return after
