"""The patient's latest rating of how the clinic contacted them, one row per referral
(the ledger keeps every rating; this row is the one the desks show)."""

from datetime import datetime
from uuid import UUID

from backend.runtime.ids import new_id
from backend.store.rows import RatingRow, typed
from backend.store.tables import ContactRating


async def save(
    referral_id: UUID,
    *,
    called: bool,
    stars: int | None,
    comment: str | None,
    event_id: int,
    now: datetime,
) -> None:
    await ContactRating.insert(
        ContactRating(
            id=new_id(),
            referral=referral_id,
            called=called,
            stars=stars,
            comment=comment,
            event_id=event_id,
            updated_at=now,
        )
    ).on_conflict(
        target=(ContactRating.referral,),
        action="DO UPDATE",
        values=(
            ContactRating.called,
            ContactRating.stars,
            ContactRating.comment,
            ContactRating.event_id,
            ContactRating.updated_at,
        ),
    )


async def of_referral(referral_id: UUID) -> RatingRow | None:
    row = await ContactRating.select().where(ContactRating.referral == referral_id).first()
    return None if row is None else typed(row, RatingRow)
