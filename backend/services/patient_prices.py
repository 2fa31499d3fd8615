"""Whether a clinic's patients see prices in their plan (seed 004: "the price is shown or
not, depending on the settings"). The clinic decides; the plan screen, each option's
total and the printed plan follow."""

from uuid import UUID

from backend.services.errors import NotFound
from backend.store import parties
from backend.store.engine import write_transaction


async def prices_shown(clinic_id: UUID) -> bool:
    clinic = await parties.clinic(clinic_id)
    if clinic is None:
        raise NotFound("no such clinic")
    return bool(clinic["show_prices_to_patients"])


async def show_prices(clinic_id: UUID, shown: bool) -> bool:
    async with write_transaction():
        if await parties.clinic(clinic_id) is None:
            raise NotFound("no such clinic")
        await parties.set_show_prices(clinic_id, shown)
    return shown
