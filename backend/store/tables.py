"""The schema, as Piccolo tables. Migrations in ./migrations are generated from it.

Conventions: money is integer minor units beside a currency code; every timestamp is
timezone-aware and stored in UTC; nothing is deleted (archived_at instead); the
ledger (`Event`) and the audit log are append-only, enforced by database triggers.
Derived columns (a referral's step, money, verification counts) are rewritten from
the ledger by the services in the same transaction that appends to it.

Multi-column unique keys are unique indexes made by a hand-written migration
(SQLite cannot add a constraint to an existing table, which is how Piccolo's
generated migrations add them); each table says which it has.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    SmallInt,
    Text,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


def _fk(table, null: bool = False, index: bool = True, **kw):
    # Nothing is ever deleted, so a reference may never dangle.
    return ForeignKey(references=table, on_delete=OnDelete.restrict, index=index, null=null, **kw)


class Clinic(Table, tablename="clinic"):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    city = Varchar(length=100)
    district = Varchar(length=100, null=True, default=None)
    address = Text(default="")
    phone = Varchar(length=32, default="")
    timezone = Varchar(length=64, default="Europe/Moscow")  # IANA name
    delivery_channel = Varchar(length=20, default="panel")  # panel|bitrix24|amocrm|webhook|ident
    first_contact_sla_minutes = Integer(null=True, default=None)
    created_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)
    # Seed 004: whether the plan shows patients its prices is the clinic's choice.
    show_prices_to_patients = Boolean(default=True)


class StaffUser(Table, tablename="staff_user"):
    id = UUID(primary_key=True)
    email = Varchar(length=254, unique=True)
    name = Varchar(length=200, default="")
    role = Varchar(length=32)
    clinic = _fk(Clinic, null=True, default=None)
    password_hash = Text()
    totp_secret = Varchar(length=64, null=True, default=None)
    totp_confirmed_at = Timestamptz(null=True, default=None)
    totp_last_step = BigInt(null=True, default=None)  # a code works once (no replay)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    archived_at = Timestamptz(null=True, default=None)
    # Which alerts this person gets and how (backend.domain.staff_alerts.AlertPrefs).
    alert_prefs = JSONB(default="{}")


class Patient(Table, tablename="patient"):
    id = UUID(primary_key=True)
    phone = Varchar(length=20, unique=True)  # E.164
    name = Varchar(length=200, default="")
    # Lower-cased name and phone digits, for staff search: SQLite's LIKE and lower()
    # fold only ASCII, so Cyrillic names are folded here, in Python.
    search_key = Varchar(length=260, default="", index=True)
    locale = Varchar(length=5, default="ru")
    timezone = Varchar(length=64, default="Europe/Moscow")
    firebase_uid = Varchar(length=128, unique=True, null=True, default=None)
    notification_prefs = JSONB(default="{}")
    quiet_hours_start = Time(null=True, default=None)
    quiet_hours_end = Time(null=True, default=None)
    created_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)
    erased_at = Timestamptz(null=True, default=None)
    # SMS.ru said this number cannot take SMS (no such number, no route, stop list):
    # no more SMS go to it (backend.services.sms).
    sms_blocked_at = Timestamptz(null=True, default=None)
    sms_blocked_reason = Varchar(length=120, null=True, default=None)
    change_seq = BigInt(default=0)  # the last of the patient's changes (PatientChange.seq)


class PatientChange(Table, tablename="patient_change"):
    """Something the app shows changed for a patient (backend.services.changes): the
    sync feed. `seq` counts per patient, in commit order; index (patient, seq)."""

    id = BigSerial(primary_key=True)
    patient = UUID()
    seq = BigInt(default=0)
    kind = Varchar(length=12)  # referral | question | appointment | picture
    object_id = UUID()
    referral = UUID()
    at = Timestamptz()


class ReferralScreen(Table, tablename="referral_screen"):
    """The patient's plan screen of a referral as last built, encoded, with its list row
    (backend.services.screens), and what it was built from: the patient's change number,
    the screens' epoch, the format, and until when it reads the same by the clock."""

    referral = UUID(primary_key=True)
    patient = UUID(index=True)
    built_seq = BigInt(default=0)
    epoch = BigInt(default=0)
    format = Integer(default=0)
    valid_until = Timestamptz(null=True, default=None)
    screen = Bytea(null=True, default=None)
    summary = Bytea(null=True, default=None)


class ScreenEpoch(Table, tablename="screen_epoch"):
    """One row: raised by every edit of a clinic, its settings or its norms (or the
    exchange's), which outdates every stored screen at once."""

    id = Integer(primary_key=True, default=1)
    epoch = BigInt(default=0)


class Device(Table, tablename="device"):
    id = UUID(primary_key=True)
    patient = _fk(Patient)
    token = Varchar(length=4096, unique=True)  # FCM registration token or installation id
    kind = Varchar(length=12, default="fcm_token")  # fcm_token | fid
    platform = Varchar(length=16)  # ios|android|web
    app_version = Varchar(length=32, default="")
    locale = Varchar(length=5, default="ru")
    active = Boolean(default=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    deactivated_at = Timestamptz(null=True, default=None)
    deactivated_reason = Varchar(length=64, null=True, default=None)


class Referral(Table, tablename="referral"):
    id = UUID(primary_key=True)
    patient = _fk(Patient)
    clinic = _fk(Clinic)
    invite_code = Varchar(length=32, unique=True)
    transferred_from = UUID(null=True, default=None, index=True)
    sent_at = Timestamptz()
    # Derived from the ledger by the fold; rewritten on every event.
    step = Varchar(length=20, default="sent", index=True)
    reached = Varchar(length=20, default="sent")
    step_at = JSONB(default="{}")
    closed_reason = Text(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    currency = Varchar(length=3, default="RUB")
    estimated_amount = BigInt(default=0)
    planned_amount = BigInt(default=0)
    accepted_amount = BigInt(default=0)
    executed_amount = BigInt(default=0)
    paid_amount = BigInt(default=0)
    remaining_amount = BigInt(default=0)
    lost_amount = BigInt(default=0)
    schedule = Varchar(length=12, default="not_started", index=True)  # on_track|behind|…
    expected_finish = Timestamptz(null=True, default=None)
    disputed_count = SmallInt(default=0)  # disputed + clinic_silent milestones
    overdue_count = SmallInt(default=0)
    verification_due_at = Timestamptz(null=True, default=None, index=True)
    chosen_variant = Varchar(length=8, null=True, default=None)  # the variant that counts
    variant_chosen_by = Varchar(length=10, null=True, default=None)  # patient|clinic|exchange
    folded_event_id = BigInt(default=0)
    # The fold in progress (domain.funnel.FoldState, JSON): see services.recording.
    fold_state = Bytea(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)


class Plan(Table, tablename="plan"):
    """One version of a referral's plan: the exchange's estimate or the clinic's plan."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    version = Integer()
    origin = Varchar(length=10)  # estimated|actual
    currency = Varchar(length=3, default="RUB")
    chosen_variant = Varchar(length=8, null=True, default=None)
    reason = Text(null=True, default=None)
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz()
    # unique (referral, version)


class PlanItem(Table, tablename="plan_item"):
    id = UUID(primary_key=True)
    plan = _fk(Plan)
    item_id = UUID()  # stable across versions: a carried-over item keeps it
    position = SmallInt(default=0)
    stage = SmallInt(default=1)
    variant = Varchar(length=8, null=True, default=None)
    specialization = Varchar(length=20)
    code = Varchar(length=32, default="")
    title_ru = Text(default="")
    title_en = Text(default="")
    tooth = SmallInt(null=True, default=None)  # FDI number
    price = BigInt()
    chair_minutes = Integer(null=True, default=None)
    course_days = Integer(null=True, default=None)
    # unique (plan, item_id)


class ToothState(Table, tablename="tooth_state"):
    id = UUID(primary_key=True)
    plan = _fk(Plan)
    tooth = SmallInt()  # FDI number
    phase = Varchar(length=8)  # before|after
    condition = Varchar(length=24)
    note = Text(default="")
    variant = Varchar(length=8, null=True, default=None)  # an after-state of one variant
    # unique (plan, tooth, phase, coalesce(variant, ''))


class PlanVariant(Table, tablename="plan_variant"):
    """What one variant of a plan version is, in the patient's words (seed 004)."""

    id = UUID(primary_key=True)
    plan = _fk(Plan)
    variant = Varchar(length=8)
    position = SmallInt(default=0)
    title_ru = Text(default="")
    title_en = Text(default="")
    pros_ru = Text(default="")  # one point a line
    pros_en = Text(default="")
    cons_ru = Text(default="")
    cons_en = Text(default="")
    # unique (plan, variant)


class PlanExplanation(Table, tablename="plan_explanation"):
    """Visit, problem, solution: why a stage or an item is in the plan (seed 004)."""

    id = UUID(primary_key=True)
    plan = _fk(Plan)
    position = SmallInt(default=0)
    variant = Varchar(length=8, null=True, default=None)  # None: every variant
    stage = SmallInt(null=True, default=None)
    item_id = UUID(null=True, default=None)
    visit = SmallInt(null=True, default=None)  # at which visit
    problem_ru = Text(default="")
    problem_en = Text(default="")
    solution_ru = Text(default="")
    solution_en = Text(default="")
    specialists = Varchar(length=200, default="")  # specializations, comma-separated


class Media(Table, tablename="media"):
    id = UUID(primary_key=True)
    referral = _fk(Referral)
    kind = Varchar(length=16)  # xray|photo|scan
    phase = Varchar(length=8)  # before|after|progress
    tooth = SmallInt(null=True, default=None)
    caption = Text(default="")
    storage_key = Varchar(length=300)
    content_type = Varchar(length=64)
    size_bytes = BigInt()
    sha256 = Varchar(length=64)
    created_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)
    uploaded_by = Varchar(length=120, default="")  # staff:<id>; "" for older pictures
    # The uploaded picture's pixels, and its smaller copies for phones
    # (services.picture_formats.SIZES): [{"name", "format", "key", "width", "height",
    # "size_bytes"}]; null and [] for pictures stored before sizes (filled by
    # `plantrack media-sizes`).
    width = Integer(null=True, default=None)
    height = Integer(null=True, default=None)
    sizes = JSONB(default="[]")


class Appointment(Table, tablename="appointment"):
    """Derived from booking claims; status words from FHIR Appointment."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    starts_at = Timestamptz()
    status = Varchar(length=16, default="booked")
    patient_status = Varchar(length=16, default="needs-action")
    booked_event_id = BigInt()
    updated_at = Timestamptz()


class ContactRating(Table, tablename="contact_rating"):
    """The patient's latest rating of how the clinic got in touch (history in the ledger)."""

    id = UUID(primary_key=True)
    referral = _fk(Referral, unique=True)
    called = Boolean()
    stars = SmallInt(null=True, default=None)
    comment = Text(default="")
    event_id = BigInt()
    updated_at = Timestamptz()


class Question(Table, tablename="question"):
    """A verification question to the patient (a FHIR Task)."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    patient = _fk(Patient)
    kind = Varchar(length=24)
    milestone = Varchar(length=48)
    subject = Varchar(length=80)
    about_at = Timestamptz(null=True, default=None)
    item_id = UUID(null=True, default=None)
    status = Varchar(length=12, default="requested", index=True)  # requested|completed|cancelled
    asked_at = Timestamptz()
    expires_at = Timestamptz()
    answered_at = Timestamptz(null=True, default=None)
    answer = Varchar(length=8, null=True, default=None)
    answer_event_id = BigInt(null=True, default=None)
    # unique (referral, milestone, subject): a question is asked once


class Verification(Table, tablename="verification"):
    id = UUID(primary_key=True)
    referral = _fk(Referral)
    milestone = Varchar(length=48)
    state = Varchar(length=20, index=True)
    claim_event_id = BigInt(null=True, default=None)
    clinic_said_at = Timestamptz(null=True, default=None)
    appointment_at = Timestamptz(null=True, default=None)
    patient_event_id = BigInt(null=True, default=None)
    patient_answer = Varchar(length=8, null=True, default=None)
    patient_said_at = Timestamptz(null=True, default=None)
    resolution_event_id = BigInt(null=True, default=None)
    due_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
    # unique (referral, milestone)


class Event(Table, tablename="event"):
    """The ledger. Append-only; (source, idempotency_key) records a delivery once."""

    id = BigSerial(primary_key=True)
    referral = _fk(Referral, index=False)  # (referral, id) index in migration 0002
    kind = Varchar(length=32)
    source = Varchar(length=20)
    side = Varchar(length=10)
    actor = Varchar(length=120)
    occurred_at = Timestamptz()
    recorded_at = Timestamptz()
    idempotency_key = Varchar(length=200)
    payload = JSONB()
    # unique (source, idempotency_key)


class Outbox(Table, tablename="outbox"):
    """Side effects written in the same transaction as the change that causes them."""

    id = BigSerial(primary_key=True)
    topic = Varchar(length=32)
    dedupe_key = Varchar(length=200, unique=True, null=True, default=None)
    referral = UUID(null=True, default=None)
    payload = JSONB()
    status = Varchar(length=12, default="pending")  # pending|in_flight|done|logged|failed
    available_at = Timestamptz()
    attempts = SmallInt(default=0)
    locked_by = Varchar(length=64, null=True, default=None)
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()
    done_at = Timestamptz(null=True, default=None)


class AuditLog(Table, tablename="audit_log"):
    """Who looked at or changed what, when and from where. Append-only."""

    id = BigSerial(primary_key=True)
    at = Timestamptz()
    actor = Varchar(length=120)
    actor_role = Varchar(length=32)
    action = Varchar(length=48)
    object_kind = Varchar(length=32)
    object_id = Varchar(length=64)
    ip = Varchar(length=45, default="")
    request_id = Varchar(length=64, default="")
    details = JSONB(default="{}")


class DurationNorm(Table, tablename="duration_norm"):
    id = UUID(primary_key=True)
    scope = Varchar(length=40)  # "exchange" or a clinic id
    specialization = Varchar(length=20)
    chair_minutes = Integer()
    course_days = Integer()
    source = Text(default="")
    updated_at = Timestamptz()
    # unique (scope, specialization)


class PatientSession(Table, tablename="patient_session"):
    """A refresh token (stored as its SHA-256). Rotation keeps the family; presenting a
    used token again revokes the whole family (someone copied it)."""

    id = UUID(primary_key=True)
    family = UUID(index=True)
    patient = _fk(Patient)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class StaffSession(Table, tablename="staff_session"):
    """A staff sign-in, for the API (bearer) and the admin pages (cookie) alike. Opaque
    token stored as its SHA-256; ends after 15 idle minutes, 12 hours at most, or logout."""

    id = UUID(primary_key=True)
    staff = _fk(StaffUser)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=200, default="")


class Integration(Table, tablename="integration"):
    """A clinic's link to its CRM or MIS. Secrets (tokens, signing keys, the REST URL
    with its secret path, our inbound token) are encrypted at rest; the inbound token
    is found by its SHA-256."""

    id = UUID(primary_key=True)
    clinic = _fk(Clinic, unique=True)
    system = Varchar(length=12)  # bitrix24 | amocrm | webhook | ident
    inbound_token_hash = Varchar(length=64, unique=True)
    config = JSONB(default="{}")  # stage map and other non-secret settings
    secrets = Text(default="")  # Fernet token of a JSON object
    last_sync_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)
    # Raised with every change of the token, secrets or settings: a process that keeps
    # the integration in memory writes a delivery only while this is what it read.
    version = Integer(default=0)


class Inbox(Table, tablename="inbox"):
    """Every delivery from a clinic's system, stored raw before anything is parsed."""

    id = BigSerial(primary_key=True)
    clinic = _fk(Clinic)
    system = Varchar(length=12)
    received_at = Timestamptz()
    headers = JSONB(default="{}")
    body = Text(default="")
    # received | processed | ignored | unmapped | failed | rejected
    status = Varchar(length=10, default="received", index=True)
    delivery_key = Varchar(length=200, null=True, default=None)  # the vendor's id, if any
    error = Text(null=True, default=None)
    result = JSONB(default="{}")
    attempts = SmallInt(default=0)
    processed_at = Timestamptz(null=True, default=None)
    # unique (clinic, delivery_key): a redelivery is stored once


class ExternalLink(Table, tablename="external_link"):
    """Which deal or lead in a clinic's CRM is which referral."""

    id = UUID(primary_key=True)
    clinic = _fk(Clinic)
    system = Varchar(length=12)
    external_id = Varchar(length=64)
    referral = _fk(Referral)
    created_at = Timestamptz()
    # When the object last changed, by the vendor's clock, as of the state whose money
    # was applied: an older state read later (a lagging read) is not applied over it.
    state_at = Timestamptz(null=True, default=None)
    # unique (clinic, system, external_id)


class PriceEntry(Table, tablename="price_entry"):
    """A price list line: the exchange's (scope "exchange") or a clinic's own."""

    id = UUID(primary_key=True)
    scope = Varchar(length=40)
    code = Varchar(length=32)
    specialization = Varchar(length=20)
    title_ru = Text(default="")
    title_en = Text(default="")
    price = BigInt()
    result_condition = Varchar(length=24, null=True, default=None)  # the tooth afterwards
    course_days = Integer(null=True, default=None)
    updated_at = Timestamptz()
    # unique (scope, code)


class FunnelFact(Table, tablename="funnel_fact"):
    """A dated movement of a referral's funnel (backend.domain.funnel_facts), rewritten
    with its other derived rows; reports sum these instead of folding ledgers."""

    id = BigSerial(primary_key=True)
    referral = _fk(Referral)
    clinic = UUID()
    sent_day = Date()
    cohort = Varchar(length=7)  # YYYY-MM of sent_day
    specialization = Varchar(length=20, default="")  # the case's main one
    day = Date()
    month = Varchar(length=7)  # YYYY-MM of day
    kind = Varchar(length=24)
    amount = BigInt()
    count = Integer(default=0)
    split = Varchar(length=12, default="")
    reason = Varchar(length=200, default="")
    currency = Varchar(length=3)


class FunnelMonth(Table, tablename="funnel_month"):
    """Funnel facts summed per clinic, cohort (month sent), main specialization, month,
    kind, split and reason; kept by adding each change's difference, so a month's report reads a few
    hundred rows however many referrals there are."""

    id = BigSerial(primary_key=True)
    clinic = UUID()
    cohort = Varchar(length=7)
    specialization = Varchar(length=20, default="")
    month = Varchar(length=7)
    kind = Varchar(length=24)
    split = Varchar(length=12, default="")
    reason = Varchar(length=200, default="")
    amount = BigInt(default=0)
    count = BigInt(default=0)
    # unique (clinic, month, cohort, specialization, kind, split, reason)


class FunnelBalance(Table, tablename="funnel_balance"):
    """The reserve as a running balance per clinic, cohort and main specialization: a row
    at `month` holds the closing reserve of that key for every month from `month` up to
    (not including) `next_month` ('9999-99' for the key's last row). A month's reserve is
    one row per key, however long the history; kept with the monthly sums
    (store.funnel_facts), filled from them by m0050."""

    id = BigSerial(primary_key=True)
    clinic = UUID()
    cohort = Varchar(length=7)
    specialization = Varchar(length=20, default="")
    month = Varchar(length=7)
    next_month = Varchar(length=7, default="9999-99")
    amount = BigInt(default=0)
    count = BigInt(default=0)
    # unique (clinic, cohort, specialization, month)


class FunnelClinicBalance(Table, tablename="funnel_clinic_balance"):
    """FunnelBalance per clinic and cohort over every specialization: the report of all
    specializations reads one row per clinic and cohort, not per specialization too.
    Kept with the balances per specialization (store.funnel_facts), filled from the
    monthly sums by m0052."""

    id = BigSerial(primary_key=True)
    clinic = UUID()
    cohort = Varchar(length=7)
    month = Varchar(length=7)
    next_month = Varchar(length=7, default="9999-99")
    amount = BigInt(default=0)
    count = BigInt(default=0)
    # unique (clinic, cohort, month)


class FunnelMonthFlow(Table, tablename="funnel_month_flow"):
    """The monthly sums of the flows (kinds in store.funnel_facts.FUNNEL_KINDS) per
    clinic, without the cohort and the specialization: the month's report of every
    specialization reads one row per clinic, kind, split and reason, however many
    cohorts move in it. `cohort` is kept only for referrals not sent before the month
    (the report's plans sent in the period; '' for the rest). Kept with the monthly sums
    (store.funnel_facts), filled from them by m0052."""

    id = BigSerial(primary_key=True)
    clinic = UUID()
    month = Varchar(length=7)
    kind = Varchar(length=24)
    split = Varchar(length=12, default="")
    reason = Varchar(length=200, default="")
    cohort = Varchar(length=7, default="")
    amount = BigInt(default=0)
    count = BigInt(default=0)
    # unique (month, clinic, kind, split, reason, cohort)


class VisitCode(Table, tablename="visit_code"):
    """A one-time code the clinic shows at reception; the patient enters it to co-sign
    the visit. Only its HMAC is stored."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    code_hash = Varchar(length=64)
    created_by = Varchar(length=120)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class Throttle(Table, tablename="throttle"):
    """Failed-attempt counters in fixed windows, shared by every process."""

    key = Varchar(length=200, primary_key=True)
    window_start = Timestamptz()
    count = Integer(default=0)


class RateLimit(Table, tablename="rate_limit"):
    """Requests per client and route group in fixed windows, shared by every process."""

    key = Varchar(length=200, primary_key=True)
    window_start = Timestamptz(index=True)
    hits = Integer(default=0)


class PatientLink(Table, tablename="patient_link"):
    """A patient's personal link to the web page of one referral (patient_web/), sent
    by SMS: an invite's, or one per question SMS (that question opens first). Only the
    SHA-256 of the token is kept; the token is derived from the id with the server's
    secret (backend.services.patient_links), so a text can be written without storing it."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    patient = _fk(Patient)
    question = UUID(null=True, default=None)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class SmsMessage(Table, tablename="sms_message"):
    """One SMS to a patient, decided (or refused, with the reason) when its notification
    fanned out; the outbox topic `sms` sends it. The text, phone and link are made only
    when it goes out, so nothing here identifies the patient but the id."""

    id = UUID(primary_key=True)
    source_key = Varchar(length=120, unique=True)  # one SMS per notification or code
    patient = _fk(Patient)
    referral = _fk(Referral, null=True, default=None)
    kind = Varchar(length=12)  # backend.domain.sms.SmsKind
    question = UUID(null=True, default=None)
    appointment = UUID(null=True, default=None)
    code = UUID(null=True, default=None)
    link = UUID(null=True, default=None)
    urgent = Boolean(default=False)
    # queued | sending | sent | logged (no provider) | skipped (with the reason) | failed
    status = Varchar(length=10, default="queued", index=True)
    reason = Text(null=True, default=None)
    planned_at = Timestamptz()  # when it was meant to go: the weekly allowance counts these
    parts = SmallInt(default=0)  # billed SMS parts of the text sent
    vendor_id = Varchar(length=64, null=True, default=None)
    attempts = SmallInt(default=0)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    # index (patient, planned_at)


class SmsCode(Table, tablename="sms_code"):
    """A six-digit code sent to the referred phone to prove it on the web page; only its
    HMAC is kept. Lives ten minutes, works once."""

    id = UUID(primary_key=True)
    referral = _fk(Referral)
    patient = _fk(Patient)
    code_hash = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class PatientWebSession(Table, tablename="patient_web_session"):
    """A browser where the patient proved the phone: an opaque cookie (stored as its
    SHA-256) for 30 days; the patient can end it, erasure ends it."""

    id = UUID(primary_key=True)
    patient = _fk(Patient)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class ClinicSetting(Table, tablename="clinic_setting"):
    """Settings of one scope: "exchange" (the defaults) or a clinic id. Empty = inherit
    (backend.domain.clinic_settings). A clinic's first-contact SLA is the clinic's own
    column; the exchange's default SLA is here."""

    id = UUID(primary_key=True)
    scope = Varchar(length=40, unique=True)
    opens = Varchar(length=5, null=True, default=None)  # HH:MM, local
    closes = Varchar(length=5, null=True, default=None)
    weekdays = Varchar(length=20, null=True, default=None)  # "0,1,2,3,4,5" (Monday = 0)
    holidays = Text(null=True, default=None)  # "2027-01-01,2027-01-02"
    first_contact_sla_minutes = Integer(null=True, default=None)
    answer_window_hours = Integer(null=True, default=None)
    visit_grace_hours = Integer(null=True, default=None)
    sender_name = Varchar(length=11, null=True, default=None)
    updated_at = Timestamptz()
    updated_by = Varchar(length=120, default="")


class Restatement(Table, tablename="restatement"):
    """Re-folding a clinic's referrals (or all) after a settings change, in chunks by
    the worker; `done` of `total`, and the last referral done, so that it resumes."""

    id = UUID(primary_key=True)
    scope = Varchar(length=40, index=True)  # a clinic id, or "all"
    reason = Varchar(length=200, default="")
    requested_by = Varchar(length=120, default="")
    requested_at = Timestamptz()
    total = Integer(default=0)
    done = Integer(default=0)
    last_referral = UUID(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class ConversionPosition(Table, tablename="conversion_position"):
    """Where a referral stands in the conversion (backend.domain.conversion): derived,
    rewritten with its other derived rows; id is the referral's."""

    id = UUID(primary_key=True)
    clinic = UUID()
    sent_day = Date()  # local, in the clinic's zone
    specialization = Varchar(length=20, default="")
    coordinator = Varchar(length=120, default="")  # who made the first contact claim
    reached = SmallInt(default=0)  # index into conversion.STEPS
    status = Varchar(length=12, default="open")  # open|completed|stopped|no_treatment
    transfer = Boolean(default=False)
    # index (clinic, sent_day)


class StaffAlert(Table, tablename="staff_alert"):
    """An event that needs a person (backend.domain.staff_alerts), recorded once by its
    dedupe key; who hears of it, and how, is decided when it is fanned out."""

    id = BigSerial(primary_key=True)
    dedupe_key = Varchar(length=200, unique=True)
    kind = Varchar(length=32)
    clinic = UUID(null=True, default=None, index=True)
    referral = UUID(null=True, default=None, index=True)
    details = JSONB(default="{}")  # no personal data: times, milestone, delivery id
    happened_at = Timestamptz()
    created_at = Timestamptz()


class StaffAlertDigest(Table, tablename="staff_alert_digest"):
    """An alert waiting for a person's daily digest."""

    id = BigSerial(primary_key=True)
    staff = UUID()
    alert = BigInt()
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    # unique (staff, alert)


class CallNote(Table, tablename="call_note"):
    """One line of a referral's call history: an outcome, a note, maybe a call-back."""

    id = UUID(primary_key=True)
    referral = UUID(index=True)
    clinic = UUID()
    staff = UUID()
    outcome = Varchar(length=20, default="note")
    reason = Varchar(length=80, default="")  # the worklist entry it answered (its key)
    note = Text(default="")
    callback_at = Timestamptz(null=True, default=None)
    callback_done_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class IdempotencyKey(Table, tablename="idempotency_key"):
    """A patient's POST sent with an Idempotency-Key header: a hash of the request (its
    method, path and body; never the body itself) and, once answered, the answer a retry
    with the same key gets again. `state`: running, done, or released (the first try
    ended without a final answer, so a retry runs it again). Unique (patient, key)
    (m0044). Kept 24 hours; the worker deletes older rows (backend.services.idempotency):
    a record of requests, not of the patient's treatment."""

    id = UUID(primary_key=True)
    patient = UUID()
    key = Varchar(length=255)
    fingerprint = Varchar(length=64)
    state = Varchar(length=8)
    created_at = Timestamptz()
    lease_until = Timestamptz()
    status = Integer(null=True, default=None)
    content_type = Varchar(length=100, default="")
    body = Text(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [
    Clinic,
    StaffUser,
    Patient,
    PatientChange,
    ReferralScreen,
    ScreenEpoch,
    Device,
    Referral,
    Plan,
    PlanItem,
    ToothState,
    PlanVariant,
    PlanExplanation,
    Media,
    Appointment,
    ContactRating,
    Question,
    Verification,
    Event,
    Outbox,
    AuditLog,
    DurationNorm,
    PatientSession,
    StaffSession,
    Integration,
    Inbox,
    ExternalLink,
    PriceEntry,
    VisitCode,
    Throttle,
    RateLimit,
    FunnelFact,
    FunnelMonth,
    FunnelBalance,
    FunnelClinicBalance,
    FunnelMonthFlow,
    PatientLink,
    SmsMessage,
    SmsCode,
    PatientWebSession,
    ClinicSetting,
    Restatement,
    ConversionPosition,
    StaffAlert,
    StaffAlertDigest,
    CallNote,
    IdempotencyKey,
]
