"""The conversion page (issue 20): step-to-step conversion with forecast, per clinic,
coordinator or specialization, for a clinic's manager and the exchange's readers; the
same figures as /funnel/conversion and its CSV/XLSX."""

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from admin.conversion_chart import conversion_columns
from admin.views import (
    admin_router,
    lang_of,
    page,
    report_filters,
    report_scope,
    staff_get,
)
from backend.routes.clinic_reports import ConversionTable, conversion_table
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    EXCHANGE_READERS,
)
from backend.runtime.clock import utcnow
from backend.services import funnel_reports
from backend.services.errors import Invalid
from backend.services.staff_auth import StaffPrincipal
from backend.services.texts import SPECIALIZATIONS


@staff_get("/conversion", CLINIC_MANAGER | EXCHANGE_READERS)
async def conversion_page(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    first: FromQuery[str] = "",
    last: FromQuery[str] = "",
    by: FromQuery[str] = "",
    clinic: FromQuery[list[str] | None] = None,
    specialization: FromQuery[str] = "",
    format: FromQuery[str] = "",
) -> Template | Response:
    """The page; with format=csv or xlsx, the same table as a download."""
    lang = lang_of(request)
    now = utcnow()
    spec = specialization if specialization in SPECIALIZATIONS else None
    scope = await report_scope(staff, clinic)
    if staff.clinic_id is not None:
        choices: tuple[str, ...] = ("coordinator", "specialization")
    else:
        choices = ("clinic", "coordinator", "specialization")
    ids = scope.clinic_ids
    by = by if by in choices else choices[0]
    try:
        period = funnel_reports.period(
            scope,
            date.fromisoformat(first) if first else None,
            date.fromisoformat(last) if last else None,
            now,
        )
    except (ValueError, Invalid):
        period = funnel_reports.period(scope, None, None, now)
    if format in ("csv", "xlsx"):
        download = await conversion_table(ids, period[0], period[1], by, spec, format, lang)
        assert isinstance(download, Response)
        return download
    table = await conversion_table(ids, period[0], period[1], by, spec, "json", lang)
    assert isinstance(table, ConversionTable)
    context: dict[str, Any] = dict(
        table=table,
        chart=conversion_columns(table.total, lang) if table.total else "",
        first=period[0],
        last=period[1],
        by=by,
        choices=choices,
        **await report_filters(staff, ids, spec, lang),
        query=urlencode(
            [("first", str(period[0])), ("last", str(period[1])), ("by", by)]
            + [("clinic", str(i)) for i in ids or [] if staff.clinic_id is None]
            + ([("specialization", spec)] if spec else [])
        ),
    )
    return await page(request, "conversion.html", **context)


router = admin_router(
    conversion_page,
)
