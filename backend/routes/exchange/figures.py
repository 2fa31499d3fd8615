"""The exchange's figures: clinic scorecards side by side, and the funnel family over
the clinics it picks (written once in routes/funnel.py)."""

from litestar import get

from backend.routes import funnel
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import responds
from backend.routes.exchange import exchange_router
from backend.routes.funnel import ClinicFilter
from backend.routes.staff_security import EXCHANGE_READERS, roles
from backend.runtime.clock import utcnow
from backend.services import (
    reports,
)


@get(
    "/scorecards",
    summary="Clinic scorecards side by side",
    description="Trust (share of claims patients confirmed, with its 95% lower bound), "
    "first-contact time as the clinic and as patients report it, the share who say nobody "
    "called, average rating, how far referrals got.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.ScorecardList, ex.SCORECARDS, "Scorecards", errors=(400, 401, 403)),
)
async def get_scorecards(clinic_id: ClinicFilter = None) -> s.ScorecardList:
    scores = await reports.scorecards(clinic_id, now=utcnow())
    return s.ScorecardList(items=[present.scorecard(x) for x in scores])


router = exchange_router(get_scorecards, *funnel.EXCHANGE_HANDLERS)
