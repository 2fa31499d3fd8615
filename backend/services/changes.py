"""The app's sync feed: what changed for the patient since a cursor — referrals (their
screen), questions, appointments, pictures — each once, at its last change, so the app
refreshes only those and works offline between syncs. Push messages carry the cursor
as of when they were sent, so a push can start a sync.

The changes are noted by the writers, in their transactions: the recording (a
referral's derived rows, the questions it asks or withdraws, the appointments its
events move), an answer, a picture added or archived."""

from uuid import UUID

import msgspec

from backend.store import changes as store
from backend.store.changes import Change, ChangeRow

REFERRAL, QUESTION, APPOINTMENT, PICTURE = "referral", "question", "appointment", "picture"
note = store.note
latest = store.latest


class ChangesPage(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[ChangeRow]
    cursor: int  # pass it back as `since`
    more: bool  # another page is waiting


async def since(patient_id: UUID, cursor: int, limit: int) -> ChangesPage:
    """A page of changes after `cursor`. A page never splits one change number (the
    objects changed together), so the next page, from the returned cursor, misses
    nothing."""
    rows = await store.since(patient_id, cursor, limit + 1)
    if len(rows) <= limit:
        last = rows[-1].version if rows else cursor
        return ChangesPage(changes=rows, cursor=last, more=False)
    cut = rows[limit].version  # the first change number left for the next page
    page = [r for r in rows[:limit] if r.version < cut]
    if not page:  # one change touched more objects than a page holds: all of them
        page = await store.since(patient_id, cursor, limit, through=cut)
        more = bool(await store.since(patient_id, cut, 1))
        return ChangesPage(changes=page, cursor=cut, more=more)
    return ChangesPage(changes=page, cursor=page[-1].version, more=True)


__all__ = ["APPOINTMENT", "PICTURE", "QUESTION", "REFERRAL", "Change", "ChangesPage", "since"]
