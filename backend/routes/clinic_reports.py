"""Report routes added by issue 20, for the clinic (/api/v1/clinic/…) and the exchange
(/api/v1/exchange/…): lost money and plan revisions by reason per clinic. Kept apart
from clinic.py and exchange.py so that each router only lists them."""

from datetime import date
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from backend.clock import utcnow
from backend.domain.reasons import ReasonRow
from backend.routes.docs import responds
from backend.routes.exports import Cell, Format, table_response
from backend.routes.funnel_tables import SpecializationFilter
from backend.routes.staff_security import CLINIC_MANAGER, EXCHANGE_READERS, roles
from backend.services import reasons, reports
from backend.services.staff_auth import StaffPrincipal
from backend.store import desk, parties

First = Annotated[date | None, QueryParameter(name="from", description="first local day")]
Last = Annotated[date | None, QueryParameter(name="to", description="last local day (inclusive)")]
CityFilter = Annotated[
    str | None, QueryParameter(max_length=100, description="only clinics in this city")
]
ClinicFilter = Annotated[
    list[UUID] | None,
    QueryParameter(name="clinic_id", description="one or more clinics; all when absent"),
]
ERRORS = (400, 401, 403, 422)


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
    names = {c["id"]: c["name"] for c in await desk.clinics(include_archived=True)}
    # Clinics by name (a stable sort keeps each clinic's rows in the definition's order).
    items = sorted((reason_out(r, names) for r in rows), key=lambda i: i.clinic_name)
    if format == "json":
        return ReasonTable(first=first, last=last, clinics=clinic_ids, items=items)
    table: list[list[Cell]] = [
        [str(i.clinic_id), i.clinic_name, i.kind, i.reason, i.count, i.money] for i in items
    ]
    return table_response(f"reasons-{first}-{last}", format, REASON_HEADERS, table)


def reason_out(r: ReasonRow, names: dict[UUID, str]) -> ReasonOut:
    return ReasonOut(
        clinic_id=r.clinic_id,
        clinic_name=names.get(r.clinic_id, ""),
        kind=r.kind,
        reason=r.reason,
        count=r.count,
        money=r.money,
    )


@get(
    "/funnel/reasons",
    summary="Lost money and plan revisions by reason",
    description=REASONS_TEXT,
    opt=roles(CLINIC_MANAGER),
    responses=responds(ReasonTable, REASONS_EXAMPLE, "By reason", errors=ERRORS),
)
async def clinic_reasons(
    staff: NamedDependency[StaffPrincipal],
    first: First = None,
    last: Last = None,
    specialization: SpecializationFilter = None,
    format: Format = "json",
) -> Response:
    clinic = await parties.clinic(staff.clinic_id)
    assert clinic is not None
    first, last = reports.period_days(first, last, ZoneInfo(clinic["timezone"]), utcnow())
    table = await reason_table([clinic["id"]], first, last, specialization, format)
    return table if isinstance(table, Response) else Response(table)


@get(
    "/funnel/reasons",
    summary="Lost money and plan revisions by reason, per clinic",
    description=REASONS_TEXT,
    opt=roles(EXCHANGE_READERS),
    responses=responds(ReasonTable, REASONS_EXAMPLE, "By clinic and reason", errors=ERRORS),
)
async def exchange_reasons(
    clinic_id: ClinicFilter = None,
    city: CityFilter = None,
    first: First = None,
    last: Last = None,
    specialization: SpecializationFilter = None,
    format: Format = "json",
) -> Response:
    first, last = reports.period_days(first, last, reports.EXCHANGE_TZ, utcnow())
    scope = await reports.scope(clinic_id, city)
    table = await reason_table(scope, first, last, specialization, format)
    return table if isinstance(table, Response) else Response(table)


CLINIC_HANDLERS = [clinic_reasons]
EXCHANGE_HANDLERS = [exchange_reasons]
