"""The exchange manages staff accounts: /api/v1/exchange/staff. Add, list, deactivate and
reactivate, a new password, a new authenticator, another role; every change ends the person's
sessions at once and is written to the audit log. Nothing is deleted."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.domain.roles import Role
from backend.routes import clinic_loop_examples as ex
from backend.routes import staff_bodies as b
from backend.routes import staff_examples as sx
from backend.routes import staff_schemas as s
from backend.routes.docs import example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.paging import DEFAULT_LIMIT, Limit
from backend.routes.staff_security import OPERATOR, roles
from backend.services import staff_accounts
from backend.services.audit import Viewer
from backend.services.staff_accounts import StaffAccount
from backend.services.staff_auth import qr_svg

ERRORS = (400, 401, 403, 404, 409, 422)


class AccountList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[StaffAccount]
    next_cursor: str | None


@post(
    "/staff",
    summary="Add a staff account",
    description="A clinic coordinator or manager (with clinic_id), or an exchange role. The "
    "answer carries the authenticator key once, as a URI and a QR.",
    opt=roles(OPERATOR),
    responses=responds(
        s.StaffCreated,
        sx.STAFF_OUT,
        "The account",
        status=201,
        errors=(400, 401, 403, 404, 409, 422),
    ),
)
async def create_staff(
    viewer: NamedDependency[Viewer], data: Annotated[b.StaffIn, example_body(sx.STAFF_IN)]
) -> s.StaffCreated:
    staff = await staff_accounts.create(
        viewer,
        email=data.email,
        role=data.role,
        password=data.password,
        clinic_id=data.clinic_id,
        name=data.name,
    )
    return s.StaffCreated(
        staff_id=staff.staff_id,
        email=staff.email,
        role=staff.role,
        clinic_id=staff.clinic_id,
        totp_uri=staff.totp_uri,
        totp_qr_svg=qr_svg(staff.totp_uri),
    )


@get(
    "/staff",
    summary="Staff accounts",
    description="By e-mail, a page at a time; ?clinic_id, ?role, ?active=true|false.",
    opt=roles(OPERATOR),
    responses=responds(AccountList, ex.ACCOUNTS, "A page", errors=(400, 401, 403)),
)
async def list_staff(
    clinic_id: FromQuery[UUID | None] = None,
    role: FromQuery[Role | None] = None,
    active: FromQuery[bool | None] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, QueryParameter(max_length=254, examples=[])] = None,
) -> AccountList:
    rows = await staff_accounts.list_accounts(
        clinic_id=clinic_id,
        role=role,
        archived=None if active is None else not active,
        after_email=cursor,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    return AccountList(items=page, next_cursor=page[-1].email if more and page else None)


@post(
    "/staff/{staff_id:uuid}/deactivate",
    summary="Deactivate a staff account",
    description="The person can no longer sign in; every session of theirs ends at once. "
    "Nothing is deleted: reactivate brings the account back.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(StaffAccount, ex.ACCOUNT, "The account", errors=ERRORS),
)
async def deactivate(viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]) -> StaffAccount:
    return await staff_accounts.deactivate(viewer, staff_id)


@post(
    "/staff/{staff_id:uuid}/reactivate",
    summary="Reactivate a staff account",
    description="The person may sign in again with their password and authenticator.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(StaffAccount, ex.ACCOUNT, "The account", errors=ERRORS),
)
async def reactivate(viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]) -> StaffAccount:
    return await staff_accounts.reactivate(viewer, staff_id)


@post(
    "/staff/{staff_id:uuid}/password",
    summary="Set a new password",
    description="For a person who forgot theirs: the operator hands the new one over. "
    "Every session ends at once.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(StaffAccount, ex.ACCOUNT, "The account", errors=ERRORS),
)
async def reset_password(
    viewer: NamedDependency[Viewer],
    staff_id: FromPath[UUID],
    data: Annotated[b.PasswordIn, example_body(ex.PASSWORD_IN)],
) -> StaffAccount:
    return await staff_accounts.reset_password(viewer, staff_id, data.password)


class EnrolmentOut(msgspec.Struct, frozen=True, kw_only=True):
    account: StaffAccount
    totp_uri: str
    totp_qr_svg: str


@post(
    "/staff/{staff_id:uuid}/authenticator",
    summary="A new authenticator",
    description="For a lost phone: the old authenticator's codes stop working, every "
    "session ends, and the answer carries the new key once, as a URI and a QR to enrol "
    "(the person also sees the QR at their next sign-in until they confirm a code).",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(EnrolmentOut, ex.ENROLMENT, "The new key", errors=ERRORS),
)
async def reset_authenticator(
    viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]
) -> EnrolmentOut:
    done = await staff_accounts.reset_authenticator(viewer, staff_id)
    return EnrolmentOut(
        account=done.account, totp_uri=done.totp_uri, totp_qr_svg=qr_svg(done.totp_uri)
    )


@patch(
    "/staff/{staff_id:uuid}",
    summary="Change a staff account's role",
    description="A role and, for clinic roles, the clinic. Sessions end at once so the "
    "new role applies from the next sign-in.",
    opt=roles(OPERATOR),
    responses=responds(StaffAccount, ex.ACCOUNT, "The account", errors=ERRORS),
)
async def change_role(
    viewer: NamedDependency[Viewer],
    staff_id: FromPath[UUID],
    data: Annotated[b.RoleIn, example_body(ex.ROLE_IN)],
) -> StaffAccount:
    return await staff_accounts.change_role(viewer, staff_id, data.role, data.clinic_id)


router = exchange_router(
    create_staff,
    list_staff,
    deactivate,
    reactivate,
    reset_password,
    reset_authenticator,
    change_role,
)
