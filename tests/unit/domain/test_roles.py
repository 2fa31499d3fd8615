"""Staff roles (roles): the five of docs/domain.md, and which of them belong to a clinic."""

import pytest

from backend.domain.roles import CLINIC_ROLES, Role, needs_clinic


def test_the_roles_are_the_five_docs_domain_md_names():
    assert {r.value for r in Role} == {
        "clinic_coordinator",
        "clinic_manager",
        "exchange_operator",
        "exchange_analyst",
        "health_analyst",
    }


@pytest.mark.parametrize("role", [Role.clinic_coordinator, Role.clinic_manager])
def test_a_clinic_role_belongs_to_one_clinic(role):
    assert needs_clinic(role)


@pytest.mark.parametrize(
    "role", [Role.exchange_operator, Role.exchange_analyst, Role.health_analyst]
)
def test_the_exchange_and_health_roles_belong_to_no_clinic(role):
    assert not needs_clinic(role)


def test_the_clinic_roles_are_exactly_those_named_clinic():
    assert {r for r in Role if r.value.startswith("clinic_")} == CLINIC_ROLES
    assert needs_clinic(Role("clinic_manager"))
    with pytest.raises(ValueError):
        Role("patient")  # the patient is not a staff role
