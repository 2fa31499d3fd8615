"""The clinic's own view of what the exchange sees about it: the disputes about it, with
its answers (which join the dispute's evidence), and its scorecard."""

from datetime import datetime
from uuid import UUID

from backend.domain.events import DisputeAnswer, Source
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services import desk, reports
from backend.services.audit import Viewer
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.recording import Recorded, Statement, record
from backend.services.staff_auth import StaffPrincipal
from backend.store import desk as desk_store

IN_DISPUTE = ("disputed", "clinic_silent")


async def disputes(
    viewer: Viewer, *, limit: int, after: tuple[datetime, UUID] | None = None
) -> list[desk.Dispute]:
    """The disputes about the viewer's clinic, oldest first (the same queue the exchange
    works, narrowed to this clinic)."""
    return await desk.dispute_queue(
        viewer, clinic_id=viewer.principal.clinic_id, limit=limit, after=after
    )


async def answer_dispute(
    staff: StaffPrincipal, dispute_id: UUID, note: str, *, now: datetime | None = None
) -> Recorded:
    """The clinic's answer to a dispute about it: an event in the referral's ledger."""
    row = await desk_store.verification(dispute_id)
    if row is None or row.clinic_id != staff.clinic_id:
        raise NotFound("no such dispute")
    if not note.strip():
        raise Invalid("an answer needs words")
    if row.state not in IN_DISPUTE:
        raise Conflict(f"this milestone is {row.state}, not in dispute")
    return await record(
        row.referral,
        Statement(
            body=DisputeAnswer(milestone=row.milestone, note=note.strip()),
            source=Source.clinic_panel,
            actor=staff.actor,
            idempotency_key=f"dispute_answer:{dispute_id}:{new_id()}",
        ),
        now=now or utcnow(),
    )


async def own_scorecard(staff: StaffPrincipal, *, now: datetime | None = None):
    """The clinic's scorecard, computed exactly as the exchange's for every clinic."""
    found = await reports.scorecards([staff.clinic_id], now=now or utcnow())
    if not found:
        raise NotFound("no such clinic")
    return found[0]
