"""Whether this process can serve requests: its database answers."""

from backend.store.engine import ping


async def database_answers() -> None:
    """Raises when the database does not answer."""
    await ping()
