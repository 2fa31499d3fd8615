"""A clinic's scorecard: how far its word can be trusted, how fast it calls, what
patients say (docs/domain.md, "Verification"; docs/metrics.md, "Scorecards")."""

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import median
from uuid import UUID

import msgspec

from backend.domain.events import ContactRating, Event, Side, Source
from backend.domain.funnel import CONTACTED, MAIN_LINE, RANK, fold_referral
from backend.domain.verification import VerificationPolicy, VerificationState, verify

Z95 = 1.959964


def wilson_lower_bound(successes: int, trials: int, z: float = Z95) -> float:
    """The lower end of the Wilson score interval: a share that small samples cannot
    inflate (3 of 3 confirmed is not better than 95 of 100)."""
    if trials == 0:
        return 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - margin) / denominator


class Scorecard(msgspec.Struct, kw_only=True):
    referrals: int
    claims_judged: int  # clinic claims the patient confirmed, denied, or let lapse
    claims_confirmed: int
    trust: float | None  # confirmed / judged
    trust_lower_bound: float  # 95% Wilson lower bound
    disputed: int
    first_contact_hours_clinic: float | None  # median, sent → the clinic's contact claim
    # median, sent → the first call as patients say it came ("when did they call?", or a
    # report's time); patients who did not say when are not in it
    first_contact_hours_patient: float | None
    asked_about_contact: int
    nobody_called: int  # patients whose last word on the call was "no"
    nobody_called_share: float | None
    ratings: int
    rating_average: float | None
    reached: dict[str, int]  # referrals that got at least this far on the main line
    # Referrals by how the patient said anything at all (an answer, a report, a rating,
    # a reply, a visit code, a receipt): in the app only, on the SMS link's page only,
    # both, or never. How much of a clinic's figures can be patient-verified at all.
    answered_by: dict[str, int] = msgspec.field(default_factory=dict)


ANSWER_CHANNELS = ("app", "sms", "both", "none")


def answer_channel(events: Iterable[Event]) -> str:
    """app | sms | both | none: where the patient spoke about this referral."""
    sources = {e.source for e in events if e.side is Side.patient}
    sms = Source.patient_sms in sources
    app = bool(sources - {Source.patient_sms})  # the app (or the demo standing in for it)
    return "both" if app and sms else "app" if app else "sms" if sms else "none"


_JUDGED = {VerificationState.verified, VerificationState.disputed, VerificationState.unverified}


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def scorecard(
    histories: Iterable[tuple[UUID, list[Event]]],
    *,
    now: datetime,
    policy: VerificationPolicy | None = None,
) -> Scorecard:
    policy = policy or VerificationPolicy()
    referrals = judged = confirmed = disputed = 0
    clinic_hours: list[float] = []
    patient_hours: list[float] = []
    asked = nobody = 0
    stars: list[int] = []
    reached = dict.fromkeys((s.value for s in MAIN_LINE), 0)
    answered_by = dict.fromkeys(ANSWER_CHANNELS, 0)

    for _, events in histories:
        fold = fold_referral(events)
        if fold.sent_at is None:
            continue
        referrals += 1
        answered_by[answer_channel(events)] += 1
        for verdict in verify(fold, now, policy).values():
            if verdict.state in _JUDGED:
                judged += 1
                confirmed += verdict.state is VerificationState.verified
            disputed += verdict.state is VerificationState.disputed
        for step in MAIN_LINE:
            if RANK[step] <= RANK[fold.reached]:
                reached[step.value] += 1

        claims = fold.clinic_claims.get(CONTACTED, ())
        if claims:
            first = min(c.occurred_at for c in claims)
            clinic_hours.append(_hours(max(first - fold.sent_at, timedelta(0))))
        said = fold.patient_says.get(CONTACTED, ())
        # When the patient says the call came (never the moment they tapped "yes").
        called = [s.happened_at for s in said if s.answer == "yes" and s.happened_at]
        if called:
            patient_hours.append(_hours(max(min(called) - fold.sent_at, timedelta(0))))
        answers = sorted(
            (s for s in said if s.answer != "unsure"), key=lambda s: (s.occurred_at, s.event_id)
        )
        if answers:
            asked += 1
            nobody += answers[-1].answer == "no"

        latest_rating = None
        for event in sorted(events, key=lambda e: e.id):
            if isinstance(event.body, ContactRating) and event.body.stars is not None:
                latest_rating = event.body.stars
        if latest_rating is not None:
            stars.append(latest_rating)

    return Scorecard(
        referrals=referrals,
        claims_judged=judged,
        claims_confirmed=confirmed,
        trust=confirmed / judged if judged else None,
        trust_lower_bound=wilson_lower_bound(confirmed, judged),
        disputed=disputed,
        first_contact_hours_clinic=median(clinic_hours) if clinic_hours else None,
        first_contact_hours_patient=median(patient_hours) if patient_hours else None,
        asked_about_contact=asked,
        nobody_called=nobody,
        nobody_called_share=nobody / asked if asked else None,
        ratings=len(stars),
        rating_average=sum(stars) / len(stars) if stars else None,
        reached=reached,
        answered_by=answered_by,
    )
