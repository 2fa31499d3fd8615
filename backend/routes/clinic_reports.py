"""The reason and conversion tables (issue 20) as JSON or CSV/XLSX rows: lost money and
plan revisions by reason per clinic, and conversion with forecast. Their routes are the
funnel family's (routes/funnel.py); the staff pages render the same tables."""

from datetime import date
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Response

from backend.domain.conversion import ConversionRow
from backend.domain.reasons import ReasonRow
from backend.routes import staff_present as present
from backend.routes.exports import Cell, table_response
from backend.services import conversion, exchange_admin, reasons
from backend.services.texts import SPECIALIZATIONS


class ReasonOut(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: UUID
    clinic_name: str
    kind: Annotated[
        str,
        msgspec.Meta(description="lost: money lost by this reason; revision: plan revisions"),
    ]
    reason: Annotated[
        str, msgspec.Meta(description="as the clinic gave it; empty when it gave none")
    ]
    count: Annotated[int, msgspec.Meta(description="referrals lost / revisions made")]
    money: Annotated[
        int,
        msgspec.Meta(
            description="lost: the plans' money not done; revision: the net change of the "
            "plans' money (negative when revisions cut it)"
        ),
    ]


class ReasonTable(msgspec.Struct, frozen=True, kw_only=True):
    first: date
    last: date
    clinics: list[UUID] | None
    items: list[ReasonOut]


REASONS_TEXT = (
    "Per clinic, for the local days from..to (this month by default): money lost by the "
    "reason the referral was declined or closed, and the clinic's plan revisions by the "
    "reason it gave the patient, with the money they added or took away. ?format=csv or "
    "xlsx downloads it. docs/metrics.md."
)
REASONS_EXAMPLE = {
    "first": "2026-11-01",
    "last": "2026-11-30",
    "clinics": None,
    "items": [
        {
            "clinic_id": "0b9f2c1e-6a4d-4c8e-9f1a-2d3e4f5a6b7c",
            "clinic_name": "Улыбка на Тверской",
            "kind": "lost",
            "reason": "дорого",
            "count": 2,
            "money": 14300000,
        },
        {
            "clinic_id": "0b9f2c1e-6a4d-4c8e-9f1a-2d3e4f5a6b7c",
            "clinic_name": "Улыбка на Тверской",
            "kind": "revision",
            "reason": "цены клиники",
            "count": 5,
            "money": 2500000,
        },
    ],
}
REASON_HEADERS = ["clinic_id", "clinic_name", "kind", "reason", "count", "money"]


async def reason_table(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    specialization: str | None,
    format: str,
) -> ReasonTable | Response:
    rows = await reasons.reasons_by_clinic(
        clinic_ids, first=first, last=last, specialization=specialization
    )
    names = {c.id: c.name for c in await exchange_admin.clinics(include_archived=True)}
    # Clinics by name (a stable sort keeps each clinic's rows in the definition's order).
    items = sorted((reason_out(r, names) for r in rows), key=lambda i: i.clinic_name)
    if format == "json":
        return ReasonTable(first=first, last=last, clinics=clinic_ids, items=items)
    table: list[list[Cell]] = [
        [str(i.clinic_id), i.clinic_name, i.kind, i.reason, i.count, i.money] for i in items
    ]
    return table_response(f"reasons-{first}-{last}", format, REASON_HEADERS, table)


def reason_out(r: ReasonRow, names: dict[UUID, str]) -> ReasonOut:
    return present.as_answer(r, ReasonOut, clinic_name=names.get(r.clinic_id, ""))


# --- conversion with forecast -------------------------------------------------------------


class StepOut(msgspec.Struct, frozen=True, kw_only=True):
    step: Annotated[
        str, msgspec.Meta(description="sent, contacted, booked, visited, in_treatment, completed")
    ]
    reached: Annotated[int, msgspec.Meta(description="referrals that got this far")]
    base: Annotated[
        int,
        msgspec.Meta(
            description="those that could: reached the step before, less 'no treatment needed'"
        ),
    ]
    conversion: Annotated[
        float | None, msgspec.Meta(description="reached / base, per cent; null for sent")
    ]
    of_sent: Annotated[float | None, msgspec.Meta(description="reached / sent, per cent")]
    forecast: Annotated[
        float,
        msgspec.Meta(
            description="reached, plus the moving referrals expected to get here at their "
            "clinic's recent conversion"
        ),
    ]


class ConversionRowOut(msgspec.Struct, frozen=True, kw_only=True):
    group: Annotated[
        str,
        msgspec.Meta(
            description="the clinic's id, the coordinator (staff:<id>, a CRM; empty: nobody "
            "has called yet) or the specialization; empty for the total"
        ),
    ]
    label: str
    referrals: int
    moving: Annotated[int, msgspec.Meta(description="not declined, closed, moved or completed")]
    no_treatment: Annotated[
        int, msgspec.Meta(description="closed by the clinic as needing no treatment")
    ]
    steps: list[StepOut]


class ConversionTable(msgspec.Struct, frozen=True, kw_only=True):
    first: date
    last: date
    clinics: list[UUID] | None
    specialization: str | None
    by: str
    recent_first: Annotated[
        date, msgspec.Meta(description="the clinics' recent conversion: referrals sent from")
    ]
    recent_last: date
    total: ConversionRowOut | None
    rows: list[ConversionRowOut]


CONVERSION_TEXT = (
    "Of the referrals sent in from..to (local days; this month by default; transfers are "
    "not new referrals): how many got to each step (sent, contacted, booked, visited, in "
    "treatment, completed) with the step-to-step conversion in per cent — 'no treatment "
    "needed' (a closing with reason no_treatment_needed) is left out of the following "
    "steps' base — and the forecast: those still moving, expected to get there at their "
    "clinic's own conversion over the last 365 days. A total and rows per clinic, "
    "coordinator or specialization. ?format=csv or xlsx downloads it. docs/metrics.md."
)
_STEP_EXAMPLE = [
    ("sent", 120, 120, None, 100.0, 120.0),
    ("contacted", 110, 120, 91.7, 91.7, 113.5),
    ("booked", 80, 110, 72.7, 66.7, 86.2),
    ("visited", 64, 80, 80.0, 53.3, 70.1),
    ("in_treatment", 40, 58, 69.0, 33.3, 47.9),
    ("completed", 12, 40, 30.0, 10.0, 31.4),
]
_ROW_EXAMPLE = {
    "group": "",
    "label": "",
    "referrals": 120,
    "moving": 51,
    "no_treatment": 6,
    "steps": [
        dict(zip(("step", "reached", "base", "conversion", "of_sent", "forecast"), x, strict=True))
        for x in _STEP_EXAMPLE
    ],
}
CONVERSION_EXAMPLE = {
    "first": "2026-11-01",
    "last": "2026-11-30",
    "clinics": None,
    "specialization": None,
    "by": "clinic",
    "recent_first": "2025-12-01",
    "recent_last": "2026-11-30",
    "total": _ROW_EXAMPLE,
    "rows": [{**_ROW_EXAMPLE, "group": "0b9f2c1e-6a4d-4c8e-9f1a-2d3e4f5a6b7c", "label": "Улыбка"}],
}
CONVERSION_HEADERS = [
    "group",
    "label",
    "step",
    "reached",
    "base",
    "conversion, %",
    "of sent, %",
    "forecast",
]


async def conversion_table(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    by: str,
    specialization: str | None,
    format: str,
    lang: str = "ru",
) -> ConversionTable | Response:
    report = await conversion.conversion(
        clinic_ids, first=first, last=last, by=by, specialization=specialization
    )
    labels = await group_labels(report.rows, by, lang)
    rows = [row_out(r, labels.get(r.group, r.group)) for r in report.rows]
    rows.sort(key=lambda r: (r.label == "", r.label))
    total = row_out(report.total, "") if report.total else None
    if format == "json":
        return ConversionTable(
            first=first,
            last=last,
            clinics=clinic_ids,
            specialization=specialization,
            by=by,
            recent_first=report.recent_first,
            recent_last=report.recent_last,
            total=total,
            rows=rows,
        )
    table: list[list[Cell]] = []
    for r in ([total] if total else []) + rows:
        for c in r.steps:
            group = "total" if r is total else r.group
            table.append(
                [group, r.label, c.step, c.reached, c.base, c.conversion, c.of_sent, c.forecast]
            )
    return table_response(f"conversion-{first}-{last}", format, CONVERSION_HEADERS, table)


async def group_labels(rows: list[ConversionRow], by: str, lang: str) -> dict[str, str]:
    groups = [r.group for r in rows]
    if by == "clinic":
        names = {str(c.id): c.name for c in await exchange_admin.clinics(include_archived=True)}
        return {g: names.get(g, g) for g in groups}
    if by == "coordinator":
        names = await conversion.coordinator_names(groups)
        nobody = "ещё не звонили" if lang == "ru" else "not called yet"
        return {g: names.get(g, g) if g else nobody for g in groups}
    lang_key = "en" if lang == "en" else "ru"
    return {g: SPECIALIZATIONS.get(g, {}).get(lang_key, g) for g in groups}


def row_out(r: ConversionRow, label: str) -> ConversionRowOut:
    return ConversionRowOut(
        group=r.group,
        label=label,
        referrals=r.referrals,
        moving=r.moving,
        no_treatment=r.no_treatment,
        steps=[StepOut(**msgspec.structs.asdict(c)) for c in r.steps],
    )
