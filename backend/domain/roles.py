"""Staff roles (docs/domain.md, "Roles") and which of them belong to a clinic."""

from enum import StrEnum


class Role(StrEnum):
    clinic_coordinator = "clinic_coordinator"
    clinic_manager = "clinic_manager"
    exchange_operator = "exchange_operator"
    exchange_analyst = "exchange_analyst"
    health_analyst = "health_analyst"


CLINIC_ROLES = frozenset({Role.clinic_coordinator, Role.clinic_manager})


def needs_clinic(role: Role) -> bool:
    return role in CLINIC_ROLES
