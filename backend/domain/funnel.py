"""The funnel fold: a referral's ledger → its current step, step times and money.

The fold is the single definition of where a referral stands. It orders events by
when they happened (not when we heard of them), so late and out-of-order deliveries
land where they belong; ties break on content, never on arrival, so the answer does
not depend on the order events arrived in. A step never moves back except through
an explicit correction, a reopening, or the exchange ruling that a claim did not
happen.
"""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec

from backend.domain.contact_time import reported_call_time
from backend.domain.events import (
    AppointmentCancelled,
    AppointmentResponse,
    Closed,
    Completed,
    Contacted,
    ContactRating,
    Correction,
    Event,
    ItemDone,
    NoShow,
    PatientAnswer,
    PatientReport,
    Payment,
    PlanLine,
    PlanSet,
    ReceiptAttached,
    Received,
    Reopened,
    Resolution,
    Sent,
    Side,
    Transferred,
    VariantChosen,
    VisitCosigned,
    Visited,
)
from backend.domain.receipts import PaymentRef, ReceiptMatch, ReceiptRef, match_receipts


class Step(StrEnum):
    sent = "sent"
    delivered = "delivered"
    unreachable = "unreachable"
    contacted = "contacted"
    booked = "booked"
    declined = "declined"
    visited = "visited"
    in_treatment = "in_treatment"
    completed = "completed"
    closed = "closed"
    transferred = "transferred"


# The main line of the funnel, in order. Side exits (declined, closed, transferred)
# are closures laid over the furthest step reached; `unreachable` is a failed attempt.
MAIN_LINE: tuple[Step, ...] = (
    Step.sent,
    Step.delivered,
    Step.contacted,
    Step.booked,
    Step.visited,
    Step.in_treatment,
    Step.completed,
)
RANK: dict[Step, int] = {step: i for i, step in enumerate(MAIN_LINE)}
CLOSURES = frozenset({Step.declined, Step.closed, Step.transferred})

# Milestones that money depends on, and so get verified (docs/domain.md). Plan items are
# milestones too, keyed "item:<item_id>".
CONTACTED, BOOKED, VISITED, COMPLETED = "contacted", "booked", "visited", "completed"
ITEM_PREFIX = "item:"
# A fiscal receipt the patient attached: evidence about the clinic's reported payments
# (backend.domain.receipts.match_receipts), keyed by the receipt's ledger event.
RECEIPT_PREFIX = "receipt:"
# The clinic changed the plan after the patient chose a variant: the patient is asked to
# agree with the new plan. Not money by itself, but the exchange sees a patient who says no.
PLAN = "plan"


def item_milestone(item_id: UUID) -> str:
    return f"{ITEM_PREFIX}{item_id}"


def receipt_milestone(event_id: int) -> str:
    return f"{RECEIPT_PREFIX}{event_id}"


# Same-instant events fold in this order: a visit and a closing stamped with the same
# second mean "came, then stopped", not the reverse.
_KIND_ORDER = {
    kind: i
    for i, kind in enumerate(
        (
            "plan_set",
            "variant_chosen",
            "sent",
            "received",
            "contacted",
            "appointment_cancelled",
            "visited",
            "visit_cosigned",
            "item_done",
            "payment",
            "no_show",
            "completed",
            "closed",
            "reopened",
            "transferred",
            "resolution",
            "correction",
        )
    )
}


def fold_order(event: Event) -> tuple:
    """Total order on events that ignores arrival: time, then kind, then identity."""
    return (
        event.occurred_at,
        _KIND_ORDER.get(event.kind, len(_KIND_ORDER)),
        event.source,
        event.idempotency_key,
    )


class ClinicClaimRef(msgspec.Struct, frozen=True, kw_only=True):
    """A statement by the clinic side that a milestone happened."""

    event_id: int
    occurred_at: datetime
    recorded_at: datetime
    appointment_at: datetime | None = None
    cosigned: bool = False  # visit code: the patient signed it too


class PatientSays(msgspec.Struct, frozen=True, kw_only=True):
    """The patient's word on a milestone: from an answer, a report, a rating."""

    event_id: int
    answer: str  # yes | no | unsure
    occurred_at: datetime
    appointment_at: datetime | None = None
    appointment_id: UUID | None = None
    # When it happened, as the patient says (a report's time, or the middle of "when
    # did they call?"); None when the patient did not say — the tap is not the call.
    happened_at: datetime | None = None


class ResolutionRef(msgspec.Struct, frozen=True, kw_only=True):
    event_id: int
    outcome: str
    occurred_at: datetime
    note: str


class Appointment(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    starts_at: datetime
    booked_at: datetime  # when the booking was made (the claim's occurred_at)
    booked_event_id: int
    # FHIR Appointment.status words: booked, fulfilled, noshow, cancelled (superseded)
    status: str = "booked"
    # FHIR participant status for the patient: needs-action, accepted, declined, tentative
    patient_status: str = "needs-action"


class FoldedPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A version of the plan as the ledger folds it: its priced lines and the variant that
    counts (services.referral_view.PlanVersion is the stored version, items and teeth)."""

    plan_id: UUID
    version: int
    origin: str
    currency: str
    lines: tuple[PlanLine, ...]
    chosen_variant: str | None

    @property
    def variant(self) -> str | None:
        """The variant that counts: the chosen one, else the first offered."""
        if self.chosen_variant:
            return self.chosen_variant
        offered = sorted({line.variant for line in self.lines if line.variant})
        return offered[0] if offered else None

    def chosen_lines(self) -> tuple[PlanLine, ...]:
        variant = self.variant
        return tuple(line for line in self.lines if line.variant in (None, variant))

    @property
    def total(self) -> int:
        return sum(line.price for line in self.chosen_lines())


class StatedPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A plan version as the ledger states it, and when (a revision counts on its day)."""

    body: PlanSet
    event_id: int
    occurred_at: datetime


class VariantChoice(msgspec.Struct, frozen=True, kw_only=True):
    """Who chose which variant, when: the patient in the app, or a clinic's or the
    exchange's plan version naming one. The latest statement stands."""

    variant: str
    by: str  # patient | clinic | exchange
    event_id: int
    occurred_at: datetime


class MoneyFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Money of one referral, in minor units of `currency` (docs/domain.md, docs/metrics.md)."""

    currency: str
    estimated: int  # the exchange's estimate
    planned: int  # the current plan (the clinic's, once it has one)
    accepted: int  # planned, once the patient booked or came
    executed: int  # items done
    paid: int  # payments received
    remaining: int  # open plan's items not yet done
    lost: int  # declined or closed plan's items not done


class ReferralFold(msgspec.Struct, frozen=True, kw_only=True):
    step: Step
    reached: Step  # furthest point on the main line
    step_at: dict[str, datetime]  # first time each step was reached (closures: last)
    closed_reason: str | None
    accepted_at: datetime | None
    sent_at: datetime | None
    clinic_id: UUID | None
    transferred_to: UUID | None
    contact_attempts: int
    no_show: bool
    patient_stopped: bool
    appointments: tuple[Appointment, ...]
    plan: FoldedPlan | None
    estimated_plan: FoldedPlan | None
    done_items: dict[UUID, datetime]
    payments: tuple[PaymentRef, ...]
    receipts: tuple[ReceiptRef, ...]
    receipt_matches: dict[int, ReceiptMatch]  # by receipt event: the payment it backs
    item_prices: dict[UUID, int]  # items of every plan version; the latest version's price
    money: MoneyFigures
    clinic_claims: dict[str, tuple[ClinicClaimRef, ...]]
    patient_says: dict[str, tuple[PatientSays, ...]]
    resolutions: dict[str, ResolutionRef]
    retracted: frozenset[int]
    last_event_id: int
    variant_choice: VariantChoice | None = None  # as stated; `plan.variant` is what counts
    # What the money funnel takes from the ledger besides the step and the plan
    # (backend.domain.money_funnel), so that a referral's facts need no events:
    sent_estimate: PlanSet | None = None  # the exchange's first estimate (money_funnel)
    transferred_from: UUID | None = None  # the referral it continues, when moved here
    coordinator: str = ""  # who made the first contact claim that stands
    plan_sets: tuple[StatedPlan, ...] = ()  # the live plan versions, in fold order

    @property
    def current_appointment(self) -> Appointment | None:
        live = [a for a in self.appointments if a.status != "cancelled"]
        return live[-1] if live else None

    @property
    def is_open(self) -> bool:
        return self.step not in CLOSURES and self.step is not Step.completed

    @property
    def is_closed(self) -> bool:
        """Ended without completion: declined, closed or transferred (until reopened)."""
        return self.step in CLOSURES


def treatment_start(fold: ReferralFold) -> datetime | None:
    """When treatment began: the first visit, else the first item done."""
    return fold.step_at.get("visited") or min(fold.done_items.values(), default=None)


def retracted_ids(events: Iterable[Event]) -> frozenset[int]:
    """Events taken back: by an active correction, or by a did-not-happen ruling.

    A correction can itself be corrected; it can only point at an older event, so
    the recursion below always ends.
    """
    by_id = {e.id: e for e in events}
    corrections_of: dict[int, list[int]] = {}
    rulings: list[Event] = []
    for e in by_id.values():
        if isinstance(e.body, Correction) and e.body.retracts < e.id:
            corrections_of.setdefault(e.body.retracts, []).append(e.id)
        elif isinstance(e.body, Resolution) and e.body.outcome == "did_not_happen":
            rulings.append(e)

    memo: dict[int, bool] = {}

    def is_retracted(event_id: int) -> bool:
        if event_id not in memo:
            memo[event_id] = False  # guards against malformed input only
            by_correction = any(not is_retracted(c) for c in corrections_of.get(event_id, ()))
            by_ruling = False
            event = by_id.get(event_id)
            if event is not None and event.side is Side.clinic:
                claimed = milestones_claimed(event)
                by_ruling = any(
                    r.id > event_id
                    and r.body.milestone in claimed  # type: ignore[union-attr]
                    and not is_retracted(r.id)
                    for r in rulings
                )
            memo[event_id] = by_correction or by_ruling
        return memo[event_id]

    return frozenset(i for i in by_id if is_retracted(i))


def milestones_claimed(event: Event) -> tuple[str, ...]:
    """Which verifiable milestones a clinic-side event asserts."""
    body = event.body
    if isinstance(body, Contacted):
        if body.outcome == "booked":
            return (CONTACTED, BOOKED)
        if body.outcome == "declined":
            return (CONTACTED,)
        return ()
    if isinstance(body, Visited | VisitCosigned):
        return (VISITED,)
    if isinstance(body, ItemDone):
        return (item_milestone(body.item_id),)
    if isinstance(body, Completed):
        return (COMPLETED,)
    return ()


def _patient_statements(event: Event, sent_at: datetime | None) -> list[tuple[str, PatientSays]]:
    """What a patient-side event says about which milestones."""
    body = event.body

    def says(answer: str, **kw) -> PatientSays:
        return PatientSays(event_id=event.id, answer=answer, occurred_at=event.occurred_at, **kw)

    def called_at(body: PatientAnswer | ContactRating) -> datetime | None:
        if body.called_on is None:
            return None
        return reported_call_time(
            body.called_after,
            body.called_before,
            sent_at=sent_at or event.occurred_at,
            said_at=event.occurred_at,
        )

    if isinstance(body, PatientAnswer):
        happened = called_at(body) if body.milestone == CONTACTED else None
        return [
            (
                body.milestone,
                says(body.answer, appointment_at=body.appointment_at, happened_at=happened),
            )
        ]
    if isinstance(body, PatientReport):
        # A report is dated when the patient says it happened.
        reported = event.occurred_at
        if body.about == "contacted":
            return [(CONTACTED, says("yes", happened_at=reported))]
        if body.about == "booked":
            return [
                (CONTACTED, says("yes", happened_at=reported)),
                (BOOKED, says("yes", appointment_at=body.appointment_at)),
            ]
        if body.about == "visited":
            return [(CONTACTED, says("yes", happened_at=reported)), (VISITED, says("yes"))]
        return []
    if isinstance(body, ContactRating):
        if not body.called:
            return [(CONTACTED, says("no"))]
        return [(CONTACTED, says("yes", happened_at=called_at(body)))]
    if isinstance(body, AppointmentResponse) and body.response == "confirm":
        return [(BOOKED, says("yes", appointment_id=body.appointment_id))]
    if isinstance(body, VisitCosigned):
        return [(VISITED, says("yes"))]
    return []


class _Walk(msgspec.Struct, kw_only=True):
    """The step machine's mutable state, part of a FoldState."""

    reached: Step = Step.sent
    closure: Step | None = None
    closed_reason: str | None = None
    step_at: dict[str, datetime] = msgspec.field(default_factory=dict)
    sent_at: datetime | None = None
    clinic_id: UUID | None = None
    transferred_to: UUID | None = None
    attempts: int = 0
    unreachable_at: datetime | None = None
    no_show: bool = False
    stopped: bool = False
    appointments: dict[UUID, Appointment] = msgspec.field(default_factory=dict)
    done: dict[UUID, datetime] = msgspec.field(default_factory=dict)
    paid: int = 0
    payments: list[PaymentRef] = msgspec.field(default_factory=list)

    def reach(self, step: Step, at: datetime) -> None:
        self.step_at.setdefault(step, at)
        if RANK[step] > RANK[self.reached]:
            self.reached = step

    def close(self, step: Step, at: datetime, reason: str | None) -> None:
        if self.reached is Step.completed or self.closure is Step.transferred:
            return  # completion and transfer are final; a later close adds nothing
        self.closure, self.closed_reason = step, reason
        self.step_at[step] = at

    def reopen_on_progress(self) -> None:
        """Progress after a decline or a closing means the patient came back."""
        if self.closure in (Step.declined, Step.closed):
            self.closure, self.closed_reason = None, None

    def book(self, event: Event, body: Contacted) -> None:
        for appt_id, appt in self.appointments.items():
            if appt.status == "booked":
                self.appointments[appt_id] = msgspec.structs.replace(appt, status="cancelled")
        appt_id = body.appointment_id or UUID(int=event.id)
        assert body.appointment_at is not None
        self.appointments[appt_id] = Appointment(
            id=appt_id,
            starts_at=body.appointment_at,
            booked_at=event.occurred_at,
            booked_event_id=event.id,
        )
        self.no_show = False

    def mark_current_appointment(self, status: str) -> None:
        for appt_id, appt in reversed(self.appointments.items()):
            if appt.status == "booked":
                self.appointments[appt_id] = msgspec.structs.replace(appt, status=status)
                return

    def milestone_happened(self, milestone: str, at: datetime) -> None:
        """The exchange ruled that a milestone happened although the clinic was silent."""
        if milestone == CONTACTED:
            self.reach(Step.contacted, at)
        elif milestone == BOOKED:
            self.reach(Step.booked, at)
        elif milestone == VISITED:
            self.reach(Step.visited, at)
        elif milestone == COMPLETED:
            self.reach(Step.completed, at)
            self.closure = None
            return
        elif milestone.startswith(ITEM_PREFIX):
            self.done.setdefault(UUID(milestone.removeprefix(ITEM_PREFIX)), at)
            self.reach(Step.in_treatment, at)
        else:
            return
        self.reopen_on_progress()

    def apply(self, event: Event) -> None:
        body, at = event.body, event.occurred_at
        if isinstance(body, Sent):
            self.sent_at = at if self.sent_at is None else min(self.sent_at, at)
            self.clinic_id = body.clinic_id
            self.reach(Step.sent, at)
        elif isinstance(body, Received):
            self.reach(Step.delivered, at)
        elif isinstance(body, Contacted):
            if body.outcome == "unreachable":
                self.attempts += 1
                self.unreachable_at = at
                return
            self.attempts += 1
            if body.outcome == "booked" and body.appointment_at is not None:
                self.reach(Step.contacted, at)
                self.reach(Step.booked, at)
                self.book(event, body)
                if self.reached is not Step.completed:
                    self.reopen_on_progress()
            elif body.outcome == "booked":
                self.reach(Step.contacted, at)
                self.reach(Step.booked, at)
                self.reopen_on_progress()
            else:
                self.reach(Step.contacted, at)
                self.close(Step.declined, at, body.reason)
        elif isinstance(body, Visited | VisitCosigned):
            self.reach(Step.visited, at)
            self.mark_current_appointment("fulfilled")
            self.no_show = False
            self.reopen_on_progress()
        elif isinstance(body, AppointmentCancelled):
            self.mark_current_appointment("cancelled")
        elif isinstance(body, NoShow):
            self.mark_current_appointment("noshow")
            self.no_show = True
        elif isinstance(body, ItemDone):
            self.done.setdefault(body.item_id, at)
            self.reach(Step.in_treatment, at)
            self.reopen_on_progress()
        elif isinstance(body, Payment):
            self.paid += body.amount
            self.payments.append(PaymentRef(event_id=event.id, amount=body.amount, occurred_at=at))
            self.reach(Step.in_treatment, at)
            self.reopen_on_progress()
        elif isinstance(body, Completed):
            self.reach(Step.completed, at)
            if self.closure is not Step.transferred:
                self.closure, self.closed_reason = None, None
        elif isinstance(body, Closed):
            self.close(Step.closed, at, body.reason)
        elif isinstance(body, Reopened):
            # An explicit correction: the one way out of completed as well as closed.
            if self.closure in (Step.declined, Step.closed):
                self.closure, self.closed_reason = None, None
            if self.reached is Step.completed:
                self.reached = Step.in_treatment if self.done else Step.visited
        elif isinstance(body, Transferred):
            if self.reached is Step.completed:
                return  # nothing is left to move
            self.closure, self.closed_reason = Step.transferred, None
            self.transferred_to = body.to_referral_id
            self.step_at[Step.transferred] = at
        elif isinstance(body, Resolution) and body.outcome == "happened":
            self.milestone_happened(body.milestone, at)
        elif isinstance(body, AppointmentResponse):
            appt = self.appointments.get(body.appointment_id)
            if appt is not None:
                status = {"confirm": "accepted", "decline": "declined"}.get(
                    body.response, "tentative"
                )
                self.appointments[appt.id] = msgspec.structs.replace(appt, patient_status=status)
        elif isinstance(body, PatientReport) and body.about == "stopped":
            self.stopped = True

    def current_step(self) -> Step:
        if self.closure is not None:
            return self.closure
        if (
            self.unreachable_at is not None
            and RANK[self.reached] < RANK[Step.contacted]
            and self.unreachable_at >= self.step_at.get(self.reached, self.unreachable_at)
        ):
            return Step.unreachable
        return self.reached


def _plan_versions(
    plan_sets: list[StatedPlan], choice: VariantChoice | None = None
) -> tuple[FoldedPlan | None, FoldedPlan | None, dict]:
    versions = sorted((p.body for p in plan_sets), key=lambda b: b.version)
    current = estimated = None
    price_of: dict[UUID, int] = {}
    for body in versions:
        offered = {line.variant for line in body.lines if line.variant}
        # The choice stands for any version that still offers the variant chosen.
        chosen = choice.variant if choice is not None and choice.variant in offered else None
        if chosen is None and body.chosen_variant in offered:
            chosen = body.chosen_variant
        version = FoldedPlan(
            plan_id=body.plan_id,
            version=body.version,
            origin=body.origin,
            currency=body.currency,
            lines=tuple(body.lines),
            chosen_variant=chosen,
        )
        current = version
        if body.origin == "estimated":
            estimated = version
        for line in body.lines:
            price_of[line.item_id] = line.price  # a later version's price wins
    return current, estimated, price_of


# Bump when the fold's rules or FoldState's shape change: a stored state of another
# version is not used (the referral is refolded from its ledger the next time).
FOLD_VERSION = 2

OrderKey = tuple[datetime, int, str, str]


class FoldState(msgspec.Struct, kw_only=True):
    """A fold in progress: everything the walk over the live events has gathered, from
    which `finish` makes the ReferralFold. Stored with the referral, so that a new event
    that sorts after every event folded so far is applied to it (`advance`) instead of
    refolding the whole ledger; `fold_state(events)` is the fold from scratch."""

    version: int = FOLD_VERSION
    walk: _Walk = msgspec.field(default_factory=_Walk)
    receipts: list[ReceiptRef] = msgspec.field(default_factory=list)
    clinic_claims: dict[str, list[ClinicClaimRef]] = msgspec.field(default_factory=dict)
    patient_says: dict[str, list[PatientSays]] = msgspec.field(default_factory=dict)
    resolutions: dict[str, ResolutionRef] = msgspec.field(default_factory=dict)
    choice: VariantChoice | None = None
    plan_sets: list[StatedPlan] = msgspec.field(default_factory=list)
    sent_estimate: PlanSet | None = None  # of every event seen, retracted too (_note)
    transferred_from: UUID | None = None  # of every event seen, retracted too (_note)
    coordinator: str | None = None  # the actor of the first live contact that stands
    retracted: frozenset[int] = frozenset()
    last_order: OrderKey | None = None  # fold_order of the last live event applied
    last_event_id: int = 0  # the highest ledger id seen, retracted or not


def fold_state(events: Iterable[Event], *, as_of: datetime | None = None) -> FoldState:
    """The fold of a whole ledger, from scratch (see fold_referral for `as_of`)."""
    events = list(events)
    retracted = retracted_ids(events)
    state = FoldState(retracted=retracted, last_event_id=max((e.id for e in events), default=0))
    for event in events:
        _note(state, event)
    live = (e for e in events if e.id not in retracted and (as_of is None or e.occurred_at < as_of))
    for event in sorted(live, key=fold_order):
        _apply(state, event)
    return state


def advance(state: FoldState, event: Event) -> bool:
    """Apply a new event to a fold in progress, in place, if it can be: it is newer than
    every event seen and sorts after every event applied, and takes nothing back. False
    (and the state untouched) when the ledger must be refolded: a late or back-dated
    statement, a correction, a ruling that a claim did not happen."""
    takes_back = isinstance(event.body, Correction) or (
        isinstance(event.body, Resolution) and event.body.outcome == "did_not_happen"
    )
    if (
        takes_back
        or state.version != FOLD_VERSION
        or event.id <= state.last_event_id
        or (state.last_order is not None and fold_order(event) <= state.last_order)
    ):
        return False
    state.last_event_id = event.id
    _note(state, event)
    _apply(state, event)
    return True


def _note(state: FoldState, event: Event) -> None:
    """What the money funnel reads of the whole ledger, in ledger order, taken-back
    statements included: the estimate as the exchange sent it (the first by version)
    and whether the referral came by transfer."""
    body = event.body
    if isinstance(body, PlanSet) and body.origin == "estimated":
        first = state.sent_estimate
        if first is None or body.version < first.version:
            state.sent_estimate = body
    elif isinstance(body, Sent) and body.transferred_from and state.transferred_from is None:
        state.transferred_from = body.transferred_from


def _apply(state: FoldState, event: Event) -> None:
    """One live event, in fold order."""
    walk = state.walk
    walk.apply(event)
    body = event.body
    state.last_order = fold_order(event)
    if isinstance(body, PlanSet):
        state.plan_sets.append(
            StatedPlan(body=body, event_id=event.id, occurred_at=event.occurred_at)
        )
        if event.side is Side.clinic and _patient_chose(state.choice):
            _claim_plan_change(state.clinic_claims, event)
    stated = _stated_choice(event)
    if stated is not None:
        if isinstance(body, VariantChosen) and PLAN in state.clinic_claims:
            # Choosing again after the clinic's change is agreeing with the new plan.
            state.patient_says.setdefault(PLAN, []).append(
                PatientSays(event_id=event.id, answer="yes", occurred_at=event.occurred_at)
            )
        state.choice = stated
    if event.side is Side.clinic or isinstance(body, VisitCosigned):
        appointment_at = body.appointment_at if isinstance(body, Contacted) else None
        for milestone in milestones_claimed(event):
            state.clinic_claims.setdefault(milestone, []).append(
                ClinicClaimRef(
                    event_id=event.id,
                    occurred_at=event.occurred_at,
                    recorded_at=event.recorded_at,
                    appointment_at=appointment_at if milestone == BOOKED else None,
                    cosigned=isinstance(body, VisitCosigned),
                )
            )
    if state.coordinator is None and isinstance(body, Contacted) and body.outcome != "unreachable":
        state.coordinator = event.actor
    if event.side is Side.patient and isinstance(body, ReceiptAttached):
        state.receipts.append(
            ReceiptRef(event_id=event.id, amount=body.amount, issued_at=body.issued_at)
        )
    if event.side is Side.patient:
        for milestone, said in _patient_statements(event, walk.sent_at):
            state.patient_says.setdefault(milestone, []).append(said)
    if isinstance(body, Resolution):
        state.resolutions[body.milestone] = ResolutionRef(
            event_id=event.id,
            outcome=body.outcome,
            occurred_at=event.occurred_at,
            note=body.note,
        )


def finish(state: FoldState, *, default_currency: str = "RUB") -> ReferralFold:
    """Where the referral stands, from a fold in progress (which it leaves as it is)."""
    walk = state.walk
    plan, estimated_plan, price_of = _plan_versions(state.plan_sets, state.choice)
    step = walk.current_step()
    money = _money(walk, step, plan, estimated_plan, price_of, default_currency)
    accepted_steps = [walk.step_at[s] for s in MAIN_LINE[RANK[Step.booked] :] if s in walk.step_at]
    receipts = tuple(state.receipts)
    payments = tuple(walk.payments)
    return ReferralFold(
        step=step,
        reached=walk.reached,
        step_at=dict(walk.step_at),
        closed_reason=walk.closed_reason,
        accepted_at=min(accepted_steps) if accepted_steps else None,
        sent_at=walk.sent_at,
        clinic_id=walk.clinic_id,
        transferred_to=walk.transferred_to,
        contact_attempts=walk.attempts,
        no_show=walk.no_show,
        patient_stopped=walk.stopped,
        appointments=tuple(walk.appointments.values()),
        plan=plan,
        estimated_plan=estimated_plan,
        done_items=dict(walk.done),
        payments=payments,
        receipts=receipts,
        receipt_matches=match_receipts(receipts, payments),
        item_prices=price_of,
        money=money,
        clinic_claims={k: tuple(v) for k, v in state.clinic_claims.items()},
        patient_says={k: tuple(v) for k, v in state.patient_says.items()},
        resolutions=dict(state.resolutions),
        retracted=state.retracted,
        last_event_id=state.last_event_id,
        variant_choice=state.choice,
        sent_estimate=state.sent_estimate,
        transferred_from=state.transferred_from,
        coordinator=state.coordinator or "",
        plan_sets=tuple(state.plan_sets),
    )


def fold_referral(
    events: Iterable[Event], *, as_of: datetime | None = None, default_currency: str = "RUB"
) -> ReferralFold:
    """Where a referral stands, from its ledger alone.

    as_of: where it stood at that moment — events that happened before it, with every
    correction known today applied (a correction restates the past; it is not news).
    """
    return finish(fold_state(events, as_of=as_of), default_currency=default_currency)


def _stated_choice(event: Event) -> VariantChoice | None:
    body = event.body
    if isinstance(body, VariantChosen):
        variant = body.variant
    elif isinstance(body, PlanSet) and body.chosen_variant is not None:
        variant = body.chosen_variant
    else:
        return None
    by = Side.exchange if event.side is Side.system else event.side
    return VariantChoice(
        variant=variant, by=by.value, event_id=event.id, occurred_at=event.occurred_at
    )


def _patient_chose(choice: VariantChoice | None) -> bool:
    return choice is not None and choice.by == Side.patient.value


def _claim_plan_change(clinic_claims: dict[str, list[ClinicClaimRef]], event: Event) -> None:
    """A clinic's new plan version after the patient chose: the patient is asked to agree."""
    clinic_claims.setdefault(PLAN, []).append(
        ClinicClaimRef(
            event_id=event.id, occurred_at=event.occurred_at, recorded_at=event.recorded_at
        )
    )


def _money(
    walk: _Walk,
    step: Step,
    plan: FoldedPlan | None,
    estimated_plan: FoldedPlan | None,
    price_of: dict[UUID, int],
    default_currency: str,
) -> MoneyFigures:
    currency = plan.currency if plan else default_currency
    planned = plan.total if plan else 0
    executed = sum(price_of.get(item_id, 0) for item_id in walk.done)
    undone = (
        sum(line.price for line in plan.chosen_lines() if line.item_id not in walk.done)
        if plan
        else 0
    )
    is_open = step not in CLOSURES and walk.reached is not Step.completed
    is_lost = step in (Step.declined, Step.closed)
    return MoneyFigures(
        currency=currency,
        estimated=estimated_plan.total if estimated_plan else 0,
        planned=planned,
        accepted=planned if RANK[walk.reached] >= RANK[Step.booked] else 0,
        executed=executed,
        paid=walk.paid,
        remaining=undone if is_open else 0,
        lost=undone if is_lost else 0,
    )
