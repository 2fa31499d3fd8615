"""The one narrow interface every clinic system implements: `Adapter`.

An adapter authenticates a delivery the vendor's own way, reads what changed (asking
the vendor's API where a webhook carries only an id), and says which claim that is —
the same claims the panel records, recorded by the same service. For CRMs it also
pushes a new referral into the clinic's system, lists what changed lately (a lost
webhook is not lost), and reads the pipeline's stages, the deal's fields and the
catalogue for the settings. Every operation the services use is declared here, with a
default where a system has nothing to offer; storing, idempotency, retries and the
ledger are the services' business (backend.services.inbox and its neighbours).
"""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import httpx
import msgspec

from backend.domain.claims import Claim, ContactedIn
from backend.domain.crm_money import CrmMoney, PlanDraft
from backend.domain.events import Source


class CrmUnavailable(Exception):
    """The vendor did not answer usefully (network, 5xx, rate limit): try again later."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class CrmRejected(Exception):
    """The vendor refused for good (bad credentials, no such method): a person must look."""


class MalformedDelivery(Exception):
    """The delivery cannot be read."""


class NotOffered(Exception):
    """The system has no such thing (an MIS has no pipeline stages)."""


@dataclass
class Connection:
    """One clinic's integration as an adapter needs it, secrets decrypted. An adapter
    that gets new credentials (an OAuth refresh) hands them to `save_secrets`."""

    integration_id: UUID
    clinic_id: UUID
    system: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    save_secrets: Callable[[dict[str, Any]], Awaitable[None]] | None = field(
        default=None, repr=False
    )


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """What one external object says now, as a claim, or why it is no claim."""

    external_id: str | None  # "deal:17", "lead:5"; None when the event names our referral
    referral_id: UUID | None = None  # when the object names our referral itself
    claim: Claim | None = None
    key: str | None = None  # the claim's idempotency key: same state, same claim
    stage: str | None = None  # the CRM stage it came from, for the record
    unknown_stage: str | None = None  # a stage the clinic's map does not know
    note: str | None = None  # why nothing follows
    # What the object says about money (a CRM deal or lead): plan, done rows, payments.
    money: CrmMoney | None = None
    # A plan version the system states outright (an MIS), under `key`.
    plan: PlanDraft | None = None
    # A procedure the system had reported done is cancelled: its done claims are taken
    # back (an MIS's storno), under `key`.
    cancel_item: UUID | None = None
    at: datetime | None = None  # when a plan or a cancellation happened in the clinic


def unreadable(label_ru: str, label_en: str, why: str) -> CrmMoney:
    """Money the CRM refused to show (a method or scope it denies): nothing is booked
    from it, and the refusal is shown as the delivery's failure."""
    return CrmMoney(label_ru=label_ru, label_en=label_en, state_at=None, problems=(why,))


class CrmField(msgspec.Struct, frozen=True, kw_only=True):
    """A field of a deal or lead as the CRM describes it."""

    key: str  # as the settings name it: UF_CRM_… or the amoCRM field id
    name: str
    type: str  # the CRM's own type: money, double, string, numeric, monetary, …
    code: str | None = None  # amoCRM's field code, when it has one
    multiple: bool = False


class CatalogProduct(msgspec.Struct, frozen=True, kw_only=True):
    """A product of the CRM's catalogue, what a product row refers to."""

    ref: str
    name: str
    code: str  # Bitrix24 CODE (else XML_ID), amoCRM SKU; "" when it has none
    price: int | None  # minor units
    currency: str | None


class CrmStage(msgspec.Struct, frozen=True, kw_only=True):
    """A stage of the clinic's pipeline as its CRM defines it."""

    key: str  # as the stage map names it
    name: str
    semantics: str  # process | success | failure (the CRM's own classification)


class OutboundReferral(msgspec.Struct, frozen=True, kw_only=True):
    """A new referral as a clinic's CRM gets it."""

    referral_id: UUID
    invite_code: str
    patient_name: str
    patient_phone: str
    estimated_amount: int  # minor units
    currency: str
    summary: str  # the plan in one line, for the deal's comment


class CrmTask(msgspec.Struct, frozen=True, kw_only=True):
    """A task for a coordinator in the clinic's CRM, tied to the referral's deal or lead.
    Neither CRM takes an idempotency key, so a task carries `marker` in its text and a
    retry after a crash looks for it before adding another."""

    marker: str  # unique per alert and person; found again on a retry
    title: str
    description: str
    deadline: datetime
    external_id: str  # "deal:17", "lead:5": what the task is tied to
    responsible: str | None  # the CRM's user id; None: the webhook's (API's) own user


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    """The first products of the CRM's catalogue, and whether that is all of it."""

    products: list[CatalogProduct]
    total: int | None  # how many the catalogue holds; None when the CRM does not say
    truncated: bool  # more products exist than `products` lists


class Adapter(ABC):
    """A clinic system: the operations the services call, defaults where optional."""

    system: ClassVar[str]  # as the integration's row names it
    source: ClassVar[Source]  # whose word its claims are in the ledger
    path: ClassVar[str]  # where it delivers: /integrations/{path}/{token}
    crm: ClassVar[bool] = False  # a CRM: referrals pushed in, reconciled, stages read
    # Secrets plantrack makes for the system (shown once), by the name they are shown as.
    generated: ClassVar[Mapping[str, Callable[[], str]]] = {}

    @abstractmethod
    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        """Whether the delivery (or IDENT's request) comes from this clinic's system
        (constant-time)."""

    def delivery_key(self, headers: dict[str, str], body: bytes) -> str | None:
        """The vendor's id of this delivery, when it has one: a redelivery is stored once."""
        return None

    def check(self, body: bytes) -> str | None:
        """Why the body cannot be a delivery, said while the sender waits (it can fix it
        now); None when it may be one — the worker reads it later."""
        return None

    async def changes(
        self, conn: Connection, headers: dict[str, str], body: bytes, http: httpx.AsyncClient
    ) -> list[Change]:
        """What a stored delivery says, as changes."""
        raise MalformedDelivery(f"{self.system} delivers nothing to read")

    async def recently_changed(
        self, conn: Connection, since: datetime, http: httpx.AsyncClient
    ) -> list[Change]:
        """Our objects changed in the system since `since` (a reconcile pass); a system
        that is not asked has none."""
        return []

    async def push_referral(
        self, conn: Connection, referral: OutboundReferral, http: httpx.AsyncClient
    ) -> str:
        """Create the deal or lead (once: look for ours first); its external id."""
        raise CrmRejected(f"{self.system} takes no referrals pushed into it")

    async def stages(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmStage]:
        """The pipelines' stages as the CRM defines them."""
        raise NotOffered(f"{self.system} has no pipeline stages")

    async def fields(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmField]:
        """The deal's (lead's) fields, for the settings that name them."""
        return []

    async def catalog(self, conn: Connection, http: httpx.AsyncClient) -> Catalog:
        """The first products of the CRM's catalogue, what product rows refer to."""
        return Catalog(products=[], total=0, truncated=False)

    async def add_task(self, conn: Connection, http: httpx.AsyncClient, task: CrmTask) -> str:
        """Add a task for a person in the CRM (once: look for its marker first); its id."""
        raise NotOffered(f"{self.system} takes no tasks")


def claim_for_stage(
    stage_map: dict[str, Any],
    stage: str,
    *,
    occurred_at: datetime | None,
    appointment_at: datetime | None,
) -> Claim | None:
    """The claim a mapped stage stands for, with the CRM's times filled in; None for a
    stage the map does not know."""
    rule = stage_map.get(stage)
    if rule is None:
        return None
    claim = msgspec.convert(rule, Claim)
    if isinstance(claim, ContactedIn) and claim.outcome == "booked":
        claim = msgspec.structs.replace(claim, appointment_at=appointment_at)
    return msgspec.structs.replace(claim, occurred_at=occurred_at)


def stage_change(
    conn: Connection,
    *,
    external_id: str,
    stage: str,
    occurred_at: datetime | None,
    appointment_at: datetime | None,
    referral_id: UUID | None,
) -> Change:
    """A CRM object standing in a stage, as a change. The key names the object and the
    stage (and, for a booking, the time booked), so re-reading an object that has not
    moved is the same claim, and moving it back and forth does not count twice."""
    rule = conn.config.get("stage_map", {}).get(stage)
    if rule is not None and rule.get("kind") == "item_done":
        # Not a claim of its own: the money the object carries says which lines are done.
        return Change(
            external_id=external_id,
            referral_id=referral_id,
            stage=stage,
            note=f"procedures done by stage ({rule.get('items', 'listed')})",
        )
    claim = claim_for_stage(
        conn.config.get("stage_map", {}),
        stage,
        occurred_at=occurred_at,
        appointment_at=appointment_at,
    )
    if claim is None:
        return Change(
            external_id=external_id, referral_id=referral_id, stage=stage, unknown_stage=stage
        )
    key = f"{conn.clinic_id}:{external_id}:{stage}"
    if isinstance(claim, ContactedIn) and claim.appointment_at is not None:
        key += f":{claim.appointment_at.isoformat()}"
    return Change(
        external_id=external_id, referral_id=referral_id, claim=claim, key=key, stage=stage
    )
