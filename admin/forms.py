"""The staff pages' form bodies, every one in one place: what each page's form posts
(strings as the browser sends them; the page turns them into service input)."""

from typing import Literal

import msgspec

# --- sign-in, referrals, disputes, clinics, staff ----------------------------------------


class LoginForm(msgspec.Struct, kw_only=True):
    email: str = ""
    password: str = ""
    totp: str = ""
    next: str = "/admin"


class ClaimForm(msgspec.Struct, kw_only=True):
    kind: str
    outcome: str = ""
    appointment_date: str = ""
    appointment_time: str = ""
    reason: str = ""
    item_id: str = ""
    amount_rub: str = ""


class RulingForm(msgspec.Struct, kw_only=True):
    outcome: str
    note: str = ""


class ClinicForm(msgspec.Struct, kw_only=True):
    name: str
    city: str
    timezone: str = "Europe/Moscow"
    address: str = ""
    phone: str = ""


class StaffForm(msgspec.Struct, kw_only=True):
    email: str
    role: str
    password: str
    clinic: str = ""
    name: str = ""


class ReferralForm(msgspec.Struct, kw_only=True):
    phone: str
    name: str = ""
    clinic: str
    items: str
    order: str = ""


# --- the clinic's desk and staff accounts ------------------------------------------------


class OutcomeForm(msgspec.Struct, kw_only=True):
    outcome: str
    key: str = ""
    note: str = ""
    reason: str = ""
    appointment_date: str = ""
    appointment_time: str = ""
    callback_date: str = ""
    callback_time: str = ""


class AnswerForm(msgspec.Struct, kw_only=True):
    note: str = ""


class PasswordForm(msgspec.Struct, kw_only=True):
    password: str = ""


class RoleForm(msgspec.Struct, kw_only=True):
    role: str
    clinic: str = ""


# --- the exchange's desk: integrations, prices, imports ----------------------------------


class MapsForm(msgspec.Struct, kw_only=True):
    stage_map: str = "{}"
    fields: str = "{}"


class ConnectForm(msgspec.Struct, kw_only=True):
    body: str = "{}"


class PricesForm(msgspec.Struct, kw_only=True):
    body: str = ""
    clinic: str = ""


class ImportForm(msgspec.Struct, kw_only=True):
    body: str = ""
    action: Literal["preview", "send"] = "preview"
