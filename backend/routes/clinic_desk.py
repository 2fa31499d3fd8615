"""The clinic's desk beyond its referral list: /api/v1/clinic/worklist (the coordinator's
day), outcomes and call history, the disputes about the clinic with its answers, its
own scorecard, and the alerts raised about it."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from backend.routes import clinic_loop_examples as ex
from backend.routes import staff_bodies as b
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import ID_ERRORS, example_body, responds
from backend.routes.paging import (
    DEFAULT_LIMIT,
    Cursor,
    IdCursor,
    Limit,
    decode_cursor,
)
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    CLINIC_STAFF,
    roles,
    staff_api,
)
from backend.runtime.clock import utcnow
from backend.services import clinic_view, staff_alerts, worklist
from backend.services.audit import Viewer
from backend.services.staff_auth import StaffPrincipal

Offset = Annotated[
    int | None,
    QueryParameter(ge=0, le=100_000, description="next_cursor of the last page", examples=[]),
]


class WorklistOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[worklist.WorkItem]
    total: int
    later: list[worklist.CallBack]
    next_cursor: int | None


@get(
    "/worklist",
    summary="The coordinator's worklist: who to call now",
    description="One list of what needs a call now, most urgent first: call-backs due, "
    "first-contact SLA passed or at 75 %, patients who say nobody called, new referrals, "
    "patients who declined or asked to move their appointment, no-shows and cancellations "
    "not rebooked, declines (with a reason, last 90 days) to win back, plans behind "
    "schedule. Each referral once, under its most urgent reason; `later` lists call-backs "
    "set for later (off the list until then). Written to the audit log.",
    opt=roles(CLINIC_STAFF),
    responses=responds(WorklistOut, ex.WORKLIST, "The list", errors=(400, 401, 403)),
)
async def get_worklist(
    viewer: NamedDependency[Viewer], limit: Limit = DEFAULT_LIMIT, cursor: Offset = None
) -> WorklistOut:
    offset = cursor or 0
    found = await worklist.worklist(viewer, limit=limit, offset=offset)
    more = offset + len(found.items) < found.total
    return WorklistOut(
        items=found.items,
        total=found.total,
        later=found.later,
        next_cursor=offset + len(found.items) if more else None,
    )


@post(
    "/referrals/{referral_id:uuid}/outcomes",
    summary="Record a call's outcome from the worklist",
    description="booked (appointment_at), declined (reason), unreachable (back on the list "
    "after 2 hours, or at callback_at), callback (at callback_at), note, or let_go (stop "
    "chasing the entry named by `key`). booked, declined and unreachable are the clinic's "
    "claim that it called, as POST …/claims; every outcome is a line of the call history.",
    status_code=200,
    opt=roles(CLINIC_STAFF),
    responses=responds(
        worklist.OutcomeRecorded,
        ex.OUTCOME_OUT,
        "Recorded",
        errors=(400, 401, 403, 404, 409, 422),
    ),
)
async def post_outcome(
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[worklist.OutcomeIn, example_body(ex.OUTCOME_IN)],
) -> worklist.OutcomeRecorded:
    return await worklist.record_outcome(staff, referral_id, data)


class CallList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[worklist.CallNoteOut]
    next_cursor: str | None


@get(
    "/referrals/{referral_id:uuid}/calls",
    summary="The referral's call history",
    description="Every outcome, note and call-back recorded from the worklist, newest first.",
    opt=roles(CLINIC_STAFF),
    responses=responds(CallList, ex.CALLS, "The history", errors=(400, *ID_ERRORS)),
)
async def get_calls(
    viewer: NamedDependency[Viewer],
    referral_id: FromPath[UUID],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[datetime | None, QueryParameter(examples=[])] = None,
) -> CallList:
    rows = await worklist.call_history(viewer, referral_id, limit=limit + 1, before=cursor)
    page = rows[:limit]
    more = len(rows) > limit
    return CallList(items=page, next_cursor=page[-1].at.isoformat() if more and page else None)


@get(
    "/disputes",
    summary="Disputes about this clinic",
    description="Milestones where a patient denies the clinic's claim, or says something "
    "happened that the clinic has not recorded: the same queue the exchange rules on, with "
    "the clinic's own answers. Oldest first.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.DisputeList, ex.CLINIC_DISPUTES, "A page", errors=(400, 401, 403)),
)
async def get_disputes(
    viewer: NamedDependency[Viewer], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> s.DisputeList:
    now = utcnow()
    rows = await clinic_view.disputes(viewer, limit=limit + 1, after=decode_cursor(cursor))
    return present.dispute_page(rows, limit, now)


@post(
    "/disputes/{dispute_id:uuid}/answer",
    summary="Answer a dispute about this clinic",
    description="The clinic's words join the dispute's evidence for the exchange's ruling "
    "(an event in the referral's ledger; it moves no step).",
    status_code=200,
    opt=roles(CLINIC_STAFF),
    responses=responds(
        s.ClaimRecorded, ex.ANSWER_OUT, "Recorded", errors=(400, 401, 403, 404, 409, 422)
    ),
)
async def post_answer(
    staff: NamedDependency[StaffPrincipal],
    dispute_id: FromPath[UUID],
    data: Annotated[b.AnswerIn, example_body(ex.ANSWER_IN)],
) -> s.ClaimRecorded:
    result = await clinic_view.answer_dispute(staff, dispute_id, data.note)
    return present.recorded(result)


@get(
    "/scorecard",
    summary="This clinic's scorecard, as the exchange sees it",
    description="Trust (share of the clinic's claims patients confirmed, with its 95% lower "
    "bound), first-contact time as the clinic and as patients report it, the share who say "
    "nobody called, average rating, how far referrals got: the exchange's own figures.",
    opt=roles(CLINIC_MANAGER),
    responses=responds(s.ScorecardOut, ex.SCORECARD, "The scorecard", errors=(401, 403)),
)
async def get_scorecard(staff: NamedDependency[StaffPrincipal]) -> s.ScorecardOut:
    return present.scorecard(await clinic_view.own_scorecard(staff))


class AlertOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    referral_id: UUID | None
    happened_at: datetime
    details: dict


class AlertList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AlertOut]
    next_cursor: str | None


@get(
    "/alerts",
    summary="Alerts raised about this clinic",
    description="Every event that needed a person (new referral, SLA, nobody called, "
    "declines, no-shows, disputes, plans behind, CRM failures), newest first, whoever "
    "was told of it.",
    opt=roles(CLINIC_STAFF),
    responses=responds(AlertList, ex.ALERTS, "A page", errors=(400, 401, 403)),
)
async def get_alerts(
    staff: NamedDependency[StaffPrincipal], limit: Limit = DEFAULT_LIMIT, cursor: IdCursor = None
) -> AlertList:
    rows = await staff_alerts.recent(staff.clinic_id, limit=limit + 1, before_id=cursor)
    page, more = rows[:limit], len(rows) > limit
    return AlertList(
        items=[
            msgspec.convert({**msgspec.structs.asdict(r), "referral_id": r.referral}, AlertOut)
            for r in page
        ],
        next_cursor=str(page[-1].id) if more and page else None,
    )


router = staff_api(
    "/api/v1/clinic",
    "clinic",
    [
        get_worklist,
        post_outcome,
        get_calls,
        get_disputes,
        post_answer,
        get_scorecard,
        get_alerts,
    ],
)
