"""How a clinic's system is connected: the commands of
`PUT /api/v1/exchange/clinics/{id}/integration` (and the desk's forms), checked, split
into settings and secrets. What a person got wrong is a `BadSettings`.

A stage map says which claim each pipeline stage of the clinic's CRM stands for; its
values are claim bodies exactly as `POST …/claims` takes them. Only the kinds a whole
deal can be in are allowed, and `{"kind": "item_done", "items": "all" | "listed"}`:
the procedures the deal's "done rows" field lists, or every remaining line of the plan,
are done (which procedure and how much was paid come from the deal's product rows and
money fields, not from the stage); a stage not in the map is recorded and shown, never
guessed.
"""

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import msgspec

from backend.domain.claims import Claim
from backend.domain.norms import Specialization


class BadSettings(ValueError):
    """The settings cannot work as given; the text says what to change."""


STAGE_KINDS = {"received", "contacted", "visited", "no_show", "completed", "closed"}
ITEMS_DONE = "item_done"  # a stage that marks procedures done (see the module's doc)

Secret = Annotated[str, msgspec.Meta(min_length=8, max_length=512)]
FieldName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RowsMean = Literal["plan", "done", "off"]


class Fields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the CRM keeps what a stage cannot say: the visit's date and time, the amount
    paid so far, the product rows that are done. Bitrix24: the field's code (UF_CRM_…);
    amoCRM: the custom field's id or code."""

    appointment_at: (
        Annotated[str, msgspec.Meta(max_length=64, examples=["UF_CRM_VISIT_AT"])] | None
    ) = None
    paid_amount: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=64,
                examples=["UF_CRM_PAID"],
                description="money paid so far: Bitrix24 money field (45000|RUB), amoCRM "
                "number or monetary field",
            ),
        ]
        | None
    ) = None
    done_rows: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=64,
                examples=["UF_CRM_DONE_ROWS"],
                description="the product rows that are done: each value a row's name, "
                "its product code or the row id",
            ),
        ]
        | None
    ) = None


class SystemIn(
    msgspec.Struct, tag_field="system", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """A clinic system's connection, told apart by `system`; unknown fields are refused."""


class Bitrix24In(SystemIn, tag="bitrix24", kw_only=True):
    rest_url: Annotated[
        str,
        msgspec.Meta(
            description="the portal's incoming webhook: https://PORTAL/rest/USER/SECRET/",
            pattern=r"^https?://[^/?#\s]+/rest/\d+/[^/?#\s]+/?$",
        ),
    ]
    application_token: Secret
    stage_map: dict[str, dict[str, Any]]
    member_id: str | None = None
    category_id: int | None = None  # the pipeline new deals go to
    fields: Fields = Fields()
    product_rows: Annotated[
        RowsMean,
        msgspec.Meta(
            description="what the deal's product rows are: the clinic's plan (default), "
            "the services rendered, or nothing plantrack reads"
        ),
    ] = "plan"
    read_payments: Annotated[
        bool,
        msgspec.Meta(
            description="read the deal's payments (crm.item.payment.list) as payments; "
            "instead of fields.paid_amount, not with it"
        ),
    ] = False
    default_specialization: Specialization = Specialization.therapy  # of a new CRM line


class AmoCrmIn(SystemIn, tag="amocrm", kw_only=True):
    base_url: Annotated[
        str,
        msgspec.Meta(description="https://SUBDOMAIN.amocrm.ru", pattern=r"^https?://[^/?#\s]+/?$"),
    ]
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    access_token: Annotated[str, msgspec.Meta(min_length=8, max_length=4096)]
    pipeline_id: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    stage_map: dict[str, dict[str, Any]]
    status_id: str | None = None  # the stage new leads start in; the pipeline's first if absent
    refresh_token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    fields: Fields = Fields()
    product_rows: RowsMean = "plan"  # what the lead's products are (as for Bitrix24)
    default_specialization: Specialization = Specialization.therapy


class WebhookIn(SystemIn, tag="webhook", kw_only=True):
    """A medical information system posting signed webhooks (Standard Webhooks)."""


class IdentIn(SystemIn, tag="ident", kw_only=True):
    """IDENT pulls referrals as tickets with its integration key."""


IntegrationIn = Bitrix24In | AmoCrmIn | WebhookIn | IdentIn

SECRET_FIELDS = {"rest_url", "application_token", "access_token", "refresh_token", "client_secret"}


def validate_stage_map(stage_map: dict[str, dict[str, Any]], key_pattern: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for stage, rule in stage_map.items():
        if not re.fullmatch(key_pattern, stage):
            raise BadSettings(f"stage_map: {stage!r} is not a stage key of this CRM")
        if rule.get("kind") == ITEMS_DONE:
            items = rule.get("items", "listed")
            if set(rule) - {"kind", "items"} or items not in ("all", "listed"):
                raise BadSettings(
                    f'stage_map[{stage!r}]: item_done takes only "items": "all" or "listed"'
                )
            checked[stage] = {"kind": ITEMS_DONE, "items": items}
            continue
        try:
            claim = msgspec.convert(rule, Claim)
        except msgspec.ValidationError as exc:
            raise BadSettings(f"stage_map[{stage!r}]: {exc}") from exc
        kind = type(claim).__struct_config__.tag
        if kind not in STAGE_KINDS:
            raise BadSettings(f"stage_map[{stage!r}]: a stage cannot stand for '{kind}'")
        if claim.occurred_at is not None:
            raise BadSettings(f"stage_map[{stage!r}]: the time comes from the CRM, not the map")
        checked[stage] = msgspec.to_builtins(claim)
    return checked


def split(data: IntegrationIn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(system, settings, secrets), after checking what only a person could get wrong."""
    raw = msgspec.to_builtins(data)
    system = raw.pop("system")
    if isinstance(data, Bitrix24In):
        url = urlparse(data.rest_url)
        if url.scheme not in ("https", "http") or not re.fullmatch(r"/rest/\d+/[^/]+/?", url.path):
            raise BadSettings("rest_url: expected https://PORTAL/rest/USER_ID/SECRET/")
        # Deal stages: NEW, WON, … in the default pipeline, C<n>:<stage> in the others;
        # lead statuses as LEAD:<status> (they share names with deal stages).
        raw["stage_map"] = validate_stage_map(data.stage_map, r"(LEAD:|C\d+:)?[A-Z0-9_]+")
    elif isinstance(data, AmoCrmIn):
        url = urlparse(data.base_url)
        if url.scheme not in ("https", "http") or not url.netloc:
            raise BadSettings("base_url: expected https://SUBDOMAIN.amocrm.ru")
        # amoCRM: "<pipeline id>:<status id>"; 142 won and 143 lost exist in every pipeline.
        raw["stage_map"] = validate_stage_map(data.stage_map, r"\d+:\d+")
    books = any(
        rule.get("kind") == "contacted" and rule.get("outcome") == "booked"
        for rule in raw.get("stage_map", {}).values()
    )
    fields = raw.get("fields") or {}
    if books and not fields.get("appointment_at"):
        raise BadSettings(
            "stage_map has a booking stage: fields.appointment_at must name the CRM field "
            "that holds the visit's date and time"
        )
    if raw.get("read_payments") and fields.get("paid_amount"):
        raise BadSettings(
            "read_payments and fields.paid_amount both say what was paid: choose one, or "
            "every payment would count twice"
        )
    secrets = {k: raw.pop(k) for k in list(raw) if k in SECRET_FIELDS and raw[k] is not None}
    return system, raw, secrets
