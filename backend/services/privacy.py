"""A patient's rights over their data (152-FZ art. 14 and 21): see all of it, have it erased.

Erasure anonymises (name, phone, free text, device tokens, sessions) and keeps the
anonymous ledger and the referrals, so the clinics' and the exchange's figures do not
change; a medical organisation may not destroy treatment records (323-FZ), and the
exchange's figures are built from them.
"""

import logging
from uuid import UUID

from backend.runtime.clock import utcnow
from backend.services import patient_links
from backend.services.errors import NotFound, ServiceError
from backend.store import parties, privacy
from backend.store.engine import write_transaction
from backend.store.privacy import Holdings

log = logging.getLogger("plantrack.privacy")

CONFIRM_WORD = "erase"


class NotConfirmed(ServiceError):
    """Erasure cannot be undone: it needs the word, not just a request."""


async def export(patient_id: UUID) -> Holdings:
    found = await privacy.holdings(patient_id)
    if found is None or found.patient["erased_at"] is not None:
        raise NotFound("no such patient")
    return found


async def erase(patient_id: UUID, *, confirm: str) -> privacy.Erased:
    if confirm != CONFIRM_WORD:
        raise NotConfirmed(f'to erase your data, send {{"confirm": "{CONFIRM_WORD}"}}')
    now = utcnow()
    async with write_transaction():
        # Held to the end: a push being queued or a device registering waits, then sees
        # the patient erased (they take the row shared).
        row = await parties.patient_held(patient_id, exclusive=True)
        if row is None or row.erased_at is not None:
            raise NotFound("no such patient")
        erased = await privacy.erase(patient_id, now)
        # The web page behind SMS links: links revoked, codes ended, browsers signed out.
        await patient_links.forget_patient(patient_id, now)
    # Counts and the id only: the log must not hold what was just erased.
    log.info("patient data erased", extra={"fields": {"patient_id": str(patient_id)}})
    return erased
