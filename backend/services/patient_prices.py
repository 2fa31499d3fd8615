"""Whether a clinic's patients see prices in their plan (seed 004: "the price is shown or
not, depending on the settings"). The clinic decides; the plan screen, each option's
total and the printed plan follow."""

from uuid import UUID

from backend.services.audit import Viewer, saw
from backend.services.errors import NotFound
from backend.store import parties
from backend.store.engine import write_transaction


async def prices_shown(clinic_id: UUID) -> bool:
    clinic = await parties.clinic(clinic_id)
    if clinic is None:
        raise NotFound("no such clinic")
    return bool(clinic.show_prices_to_patients)


async def show_prices(viewer: Viewer, clinic_id: UUID, shown: bool) -> bool:
    """Set it; a change is written to the audit log like every clinic setting."""
    async with write_transaction():
        clinic = await parties.clinic(clinic_id)
        if clinic is None:
            raise NotFound("no such clinic")
        before = bool(clinic.show_prices_to_patients)
        if before != shown:
            await parties.set_show_prices(clinic_id, shown)
            await saw(
                viewer,
                action="change_settings",
                object_kind="clinic",
                object_id=str(clinic_id),
                details={"show_prices_to_patients": {"from": before, "to": shown}},
            )
    return shown
