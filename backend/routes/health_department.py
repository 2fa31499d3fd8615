"""The health department: anonymised aggregates only, with small cells suppressed
(rules: backend.domain.health_stats; definitions: docs/metrics.md). Its own role and its
own routes; the exchange's readers may read them too. Nothing here names a patient, a
referral or a clinic."""

from datetime import datetime

import msgspec
from litestar import Response, Router, get

from backend.domain.health_stats import MIN_PATIENTS, Cell, PriceSpread
from backend.routes.docs import TABLE_ERRORS, responds
from backend.routes.exports import Format, table_response
from backend.routes.funnel import FromMonth, ToMonth
from backend.routes.staff_security import EXCHANGE_READERS, HEALTH, roles, staff_guard
from backend.runtime.clock import utcnow
from backend.services import health_stats, reports

READERS = HEALTH | EXCHANGE_READERS


class CellTable(msgspec.Struct, frozen=True, kw_only=True):
    first: str
    last: str
    min_patients: int  # cells with fewer distinct patients show no figures
    items: list[Cell]


class PriceTable(msgspec.Struct, frozen=True, kw_only=True):
    first: str
    last: str
    min_patients: int
    items: list[PriceSpread]


CELL_EXAMPLE = {
    "first": "2026-10",
    "last": "2026-11",
    "min_patients": MIN_PATIENTS,
    "items": [
        {
            "month": "2026-10",
            "district": "Хамовники",
            "specialization": "implantology",
            "suppressed": False,
            "patients": 37,
            "plans_in": 21,
            "plans_in_money": 1470000000,
            "completed": 6,
            "executed_money": 905000000,
            "median_wait_days": 4.5,
            "median_duration_days": 196.0,
        },
        {
            "month": "2026-10",
            "district": None,
            "specialization": "orthodontics",
            "suppressed": True,
            "patients": None,
            "plans_in": None,
            "plans_in_money": None,
            "completed": None,
            "executed_money": None,
            "median_wait_days": None,
            "median_duration_days": None,
        },
    ],
}
PRICE_EXAMPLE = {
    "first": "2026-10",
    "last": "2026-10",
    "min_patients": MIN_PATIENTS,
    "items": [
        {
            "month": "2026-10",
            "specialization": "therapy",
            "code": "A16.07.002",
            "suppressed": False,
            "plans": 48,
            "min": 450000,
            "p25": 590000,
            "median": 650000,
            "p75": 720000,
            "max": 1100000,
        }
    ],
}


def _months(first: str | None, last: str | None, now: datetime) -> tuple[str, str]:
    last = last or now.astimezone(reports.EXCHANGE_TZ).strftime("%Y-%m")
    return first or reports.add_months(last, -11), last


def _answer(
    table: type[CellTable | PriceTable],
    row: type[Cell | PriceSpread],
    name: str,
    first: str,
    last: str,
    items: list,
    format: str,
) -> Response:
    """The months' table as JSON, or as a CSV or XLSX download (`name`-first-last)."""
    if format == "json":
        return Response(table(first=first, last=last, min_patients=MIN_PATIENTS, items=items))
    fields = row.__struct_fields__
    rows = [[getattr(i, f) for f in fields] for i in items]
    return table_response(f"{name}-{first}-{last}", format, fields, rows)


@get(
    "/aggregates",
    summary="Plans, money, waits and durations per month, district and specialization",
    description="For the months from..to (YYYY-MM; the last 12 by default), per month, the "
    "clinic's city district (null: not known) and the case's main specialization: plans "
    "in and their estimated money, plans completed, money executed, median days from "
    "referral to first visit and median length of completed plans. A cell with fewer than "
    f"{MIN_PATIENTS} distinct patients is suppressed; a median over fewer than "
    f"{MIN_PATIENTS} values is withheld. No totals. ?format=csv or xlsx downloads it.",
    opt=roles(READERS),
    responses=responds(CellTable, CELL_EXAMPLE, "Anonymised cells", errors=TABLE_ERRORS),
)
async def get_aggregates(
    first: FromMonth = None, last: ToMonth = None, format: Format = "json"
) -> Response:
    first, last = _months(first, last, utcnow())
    items = await health_stats.aggregates(first, last)
    return _answer(CellTable, Cell, "health", first, last, items, format)


@get(
    "/prices",
    summary="Spread of prices for the same plan item",
    description="Per month the referrals were sent (from..to, YYYY-MM), specialization and "
    "item code: the lowest, quartiles and highest price in the clinics' current plans. "
    f"Fewer than {MIN_PATIENTS} patients: suppressed. ?format=csv or xlsx downloads it.",
    opt=roles(READERS),
    responses=responds(PriceTable, PRICE_EXAMPLE, "Price spreads", errors=TABLE_ERRORS),
)
async def get_prices(
    first: FromMonth = None, last: ToMonth = None, format: Format = "json"
) -> Response:
    first, last = _months(first, last, utcnow())
    items = await health_stats.price_spreads(first, last)
    return _answer(PriceTable, PriceSpread, "prices", first, last, items, format)


router = Router(
    path="/api/v1/health",
    route_handlers=[get_aggregates, get_prices],
    guards=[staff_guard],
    security=[{"bearer": []}],
    tags=["health department"],
)
