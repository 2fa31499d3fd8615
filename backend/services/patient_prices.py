"""Whether a clinic's patients see prices in their plan (seed 004: "the price is shown or
not, depending on the settings"). The clinic decides; the plan screen, each option's
total and the printed plan follow."""

from uuid import UUID

from backend.runtime.clock import utcnow
from backend.services.audit import Viewer
from backend.services.errors import NotFound
from backend.store import audit, parties
from backend.store.engine import write_transaction


async def prices_shown(clinic_id: UUID) -> bool:
    clinic = await parties.clinic(clinic_id)
    if clinic is None:
        raise NotFound("no such clinic")
    return bool(clinic["show_prices_to_patients"])


async def show_prices(viewer: Viewer, clinic_id: UUID, shown: bool) -> bool:
    """Set it; a change is written to the audit log like every clinic setting."""
    async with write_transaction():
        clinic = await parties.clinic(clinic_id)
        if clinic is None:
            raise NotFound("no such clinic")
        before = bool(clinic["show_prices_to_patients"])
        if before != shown:
            await parties.set_show_prices(clinic_id, shown)
            await audit.write(
                at=utcnow(),
                actor=viewer.principal.actor,
                actor_role=viewer.principal.role.value,
                action="change_settings",
                object_kind="clinic",
                object_id=str(clinic_id),
                ip=viewer.ip,
                request_id=viewer.request_id,
                details={"show_prices_to_patients": {"from": before, "to": shown}},
            )
    return shown
