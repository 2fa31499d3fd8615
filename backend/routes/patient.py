"""The patient app's API: /api/v1/me. Every object is the caller's own; any other id
is answered as missing (404)."""

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from backend.domain.odontogram import chart, render_svg
from backend.domain.plans import of_variant, offered_variants
from backend.domain.variants import chart_states
from backend.routes import patient_examples as ex
from backend.routes import patient_export as privacy_body
from backend.routes import patient_present as present
from backend.routes import patient_schemas as s
from backend.routes import plan_document
from backend.routes.docs import example_body, responds
from backend.routes.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_ROW_ID,
    Cursor,
    Limit,
    decode_cursor,
    encode_cursor,
)
from backend.routes.security import (
    PatientPrincipal,
    patient_principal,
    patient_signed,
    session_ended,
)
from backend.runtime.clock import utcnow
from backend.services import (
    answers,
    changes,
    patient_reads,
    patient_statements,
    privacy,
    profile,
    screens,
    sms,
    texts,
    visit_codes,
)
from backend.services.errors import Invalid, NotAuthenticated, NotFound
from backend.services.media import SizeLinks, picture_links
from backend.services.patient_reads import MediaRow, ReferralBundle
from backend.services.recording import Recorded as RecordedResult
from backend.web.app_version import AppVersionGate
from backend.web.conditional import NO_ETAG, ConditionalGet
from backend.web.idempotency import IdempotentPosts

ID_ERRORS = (401, 404)


def _me(row: profile.PatientRow) -> s.Me:
    return s.Me(
        id=row.id,
        name=row.name,
        phone=row.phone,
        locale=row.locale,
        timezone=row.timezone,
        notifications=profile.prefs_of(row),
        quiet_hours=profile.quiet_of(row),
    )


def _recorded(result: RecordedResult, lang: texts.Lang) -> s.Recorded:
    step = result.fold.step.value
    return s.Recorded(
        event_id=result.event.id,
        duplicate=result.duplicate,
        step=step,
        step_label=texts.STEPS[step][lang],
    )


async def _lang(patient: PatientPrincipal) -> texts.Lang:
    return _lang_of((await profile.profile(patient.patient_id)).locale)


def _lang_of(locale: str) -> texts.Lang:
    return locale if locale in texts.LANGS else "ru"


@get(
    "/",
    summary="My profile",
    description="The signed-in patient's profile and settings.",
    responses=responds(s.Me, ex.ME, "The profile", errors=(401,)),
)
async def get_me(patient: NamedDependency[PatientPrincipal]) -> s.Me:
    return _me(await profile.profile(patient.patient_id))


@patch(
    "/",
    summary="Change my profile",
    description="Name, language (ru/en), notification preferences, quiet hours. Send only "
    "what changes; unknown fields are refused.",
    responses=responds(s.Me, ex.ME, "The updated profile", errors=(400, 401)),
)
async def patch_me(
    patient: NamedDependency[PatientPrincipal],
    data: Annotated[profile.ProfileChange, example_body(ex.PROFILE_CHANGE)],
) -> s.Me:
    return _me(await profile.update_profile(patient.patient_id, data))


@put(
    "/devices",
    summary="Register this device for push",
    description="Register or refresh an FCM registration token. Idempotent; a token "
    "registered by another account moves to this one.",
    status_code=200,
    responses=responds(s.DeviceOut, ex.DEVICE, "The device", errors=(400, 401)),
)
async def put_device(
    patient: NamedDependency[PatientPrincipal],
    data: Annotated[s.DeviceIn, example_body(ex.DEVICE_IN)],
) -> s.DeviceOut:
    row = await profile.register_device(
        patient.patient_id,
        token=data.token,
        platform=data.platform,
        app_version=data.app_version,
        locale=data.locale,
        kind=data.kind,
    )
    return msgspec.convert(row, s.DeviceOut, from_attributes=True)


@delete(
    "/devices/{token:str}",
    summary="Stop push to this device",
    description="Deactivate a device token (on sign-out). The record is kept, inactive.",
    status_code=204,
    responses=responds(None, None, "Deactivated", status=204, errors=ID_ERRORS),
)
async def delete_device(patient: NamedDependency[PatientPrincipal], token: FromPath[str]) -> None:
    await profile.forget_device(patient.patient_id, token)


@get(
    "/referrals",
    summary="My referrals",
    description="The patient's referrals, newest first, each with its progress summary.",
    responses=responds(s.ReferralPage, ex.REFERRAL_PAGE, "A page of referrals", errors=(400, 401)),
)
async def list_referrals(
    patient: NamedDependency[PatientPrincipal], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> s.ReferralPage:
    rows = await screens.list_rows(
        patient.patient_id, utcnow(), _render, limit=limit + 1, before=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    items = [msgspec.json.decode(row, type=s.ReferralSummary) for _, row in page]
    last = page[-1][0] if page else None
    return s.ReferralPage(
        items=items,
        next_cursor=encode_cursor(last.sent_at, last.referral) if more and last else None,
    )


def _render(bundle: ReferralBundle) -> tuple[bytes, bytes]:
    """A referral's plan screen and its row in the list, as the patient reads them."""
    return (
        msgspec.json.encode(present.referral(bundle)),
        msgspec.json.encode(present.summary(bundle.referral, bundle.clinic.name, bundle)),
    )


Since = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=MAX_ROW_ID,
        description="the cursor of the last sync (0 or absent: everything)",
        examples=[],
    ),
]


@get(
    "/changes",
    summary="What changed since my last sync",
    description=(
        "Referrals (their plan screen), questions, appointments and pictures changed since "
        "`since`, each once, at its last change, oldest first; fetch those again and keep "
        "`cursor` for the next sync. Push messages carry `cursor` too: a push with a cursor "
        "newer than yours means there is something to fetch."
    ),
    responses=responds(s.ChangesOut, ex.CHANGES, "Changes since the cursor", errors=(400, 401)),
)
async def list_changes(
    patient: NamedDependency[PatientPrincipal], since: Since = 0, limit: Limit = MAX_LIMIT
) -> s.ChangesOut:
    page = await changes.since(patient.patient_id, since, limit)
    return s.ChangesOut(
        changes=[
            s.ChangeOut(kind=c.kind, id=c.object_id, referral_id=c.referral, version=c.version)  # type: ignore[arg-type]
            for c in page.changes
        ],
        cursor=page.cursor,
        more=page.more,
    )


@get(
    "/referrals/{referral_id:uuid}",
    summary="My plan screen",
    description=(
        "Everything the plan screen shows, computed by the server: clinic, stages with items "
        "and prices, progress by money and by items, next step, expected finish and whether "
        "it is on schedule, the estimate beside the clinic's plan with the difference "
        "explained, appointments, open questions, and each milestone's confirmation state."
    ),
    responses=responds(s.ReferralOut, ex.REFERRAL, "The plan screen", errors=ID_ERRORS),
    # The session is checked with the screen's read, in one statement (the hottest read).
    dependencies={"patient": Provide(patient_signed)},
)
async def get_referral(
    patient: NamedDependency[PatientPrincipal], referral_id: FromPath[UUID]
) -> Response[s.ReferralOut]:
    # Served as stored while nothing it shows has changed (backend.services.screens).
    try:
        body = await screens.plan_screen(
            patient.patient_id, referral_id, utcnow(), _render, session=patient.session
        )
    except NotAuthenticated as exc:
        raise session_ended() from exc
    return Response(body, media_type="application/json")


Phase = Literal["before", "after", "now"]
PhaseParam = Annotated[
    Phase,
    QueryParameter(
        description="before treatment, the planned result, or today (items done so far)"
    ),
]


VariantParam = Annotated[
    str | None,
    QueryParameter(
        pattern="^[A-Z]$",
        description="an option of the plan (A, B…): its items and its chart after; "
        "absent: the option that counts (chosen, else the first)",
    ),
]


async def _chart(
    patient: PatientPrincipal, referral_id: UUID, phase: Phase, variant: str | None = None
):
    bundle = await patient_reads.referral_bundle(patient.patient_id, referral_id, utcnow())
    current = bundle.current
    offered = offered_variants(current.items) if current else []
    if variant is not None and variant not in offered:
        raise Invalid(f"variant {variant} is not offered ({', '.join(offered) or 'none'})")
    variant = variant or (current.variant if current else None)
    teeth = chart_states(present.plan_teeth(bundle), variant)
    items = of_variant(current.items, variant) if current else []
    return chart(teeth, items, set(bundle.fold.done_items), phase), bundle.lang


@get(
    "/referrals/{referral_id:uuid}/teeth.svg",
    summary="Dental chart as SVG",
    description="32 permanent teeth in FDI numbering, two arches, colour-blind-safe colours "
    "with a letter code on every tooth and a legend, in the patient's language.",
    media_type="image/svg+xml",
    responses=responds(
        str,
        ex.TEETH_SVG,
        "An SVG picture",
        media_type="image/svg+xml",
        errors=(*ID_ERRORS, 422),  # 422: ?variant names an option the plan does not offer
    ),
)
async def teeth_svg(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    phase: PhaseParam = "now",
    variant: VariantParam = None,
) -> Response[str]:
    teeth, lang = await _chart(patient, referral_id, phase, variant)
    svg = render_svg(teeth, texts.chart_texts(phase, lang))
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"}
    )


@get(
    "/referrals/{referral_id:uuid}/teeth",
    summary="Dental chart as data",
    description="The same chart as JSON, for apps that draw it natively.",
    responses=responds(s.TeethOut, ex.TEETH, "The chart", errors=(*ID_ERRORS, 422)),
)
async def teeth_json(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    phase: PhaseParam = "now",
    variant: VariantParam = None,
) -> s.TeethOut:
    teeth, lang = await _chart(patient, referral_id, phase, variant)
    return present.teeth(teeth, phase, lang)


def _size_out(size: SizeLinks) -> s.PictureSizeOut:
    return s.PictureSizeOut(
        width=size.width,
        height=size.height,
        url=size.url,
        content_type=size.content_type,
        fallback_url=size.fallback_url,
        fallback_content_type=size.fallback_content_type,
    )


# Local links are signed as of the start of a five-minute slot: the same link all
# through it (so an unchanged list keeps its ETag), valid five to ten minutes after it
# is given. (An object store's presigned links carry its own clock: new each time.)
LINK_SLOT_S = 300


async def _media_out(request: Request, row: MediaRow) -> s.MediaOut:
    now = utcnow()
    signed_at = now - timedelta(seconds=now.timestamp() % LINK_SLOT_S)
    links = await picture_links(request.app.state.media_files, row, signed_at)
    return s.MediaOut(
        id=row.id,
        kind=row.kind,
        phase=row.phase,
        tooth=row.tooth,
        caption=row.caption,
        content_type=row.content_type,
        url=links.original.url,
        url_expires_at=links.expires_at,
        width=row.width,
        height=row.height,
        sizes=s.PictureSizesOut(
            thumb=_size_out(links.thumb),
            screen=_size_out(links.screen),
            original=_size_out(links.original),
        ),
    )


@get(
    "/referrals/{referral_id:uuid}/media",
    summary="Before/after pictures",
    description="X-rays and photos of this referral, each with signed URLs valid for five "
    "to ten minutes (fetch them without the Authorization header; the same URLs for five "
    "minutes, so an unchanged list keeps its ETag) in three sizes with their "
    "pixels: thumb (320 px), screen (1600 px), original; WebP with a JPEG fallback. With "
    "the object store the URLs point at the store itself. All of them, grouped by phase "
    "(before, progress, after), and before beside after for each tooth (or the whole "
    "mouth) and kind.",
    responses=responds(s.MediaList, ex.MEDIA_LIST, "The pictures", errors=ID_ERRORS),
)
async def list_media(
    request: Request, patient: NamedDependency[PatientPrincipal], referral_id: FromPath[UUID]
) -> s.MediaList:
    rows = await patient_reads.media_of(patient.patient_id, referral_id)
    me = await profile.profile(patient.patient_id)
    lang: texts.Lang = me.locale if me.locale in texts.LANGS else "ru"
    return present.pictures([await _media_out(request, r) for r in rows], lang)


@get(
    "/media/{media_id:uuid}",
    summary="One picture",
    description="One picture with a signed URL valid for five to ten minutes.",
    responses=responds(s.MediaOut, ex.MEDIA, "The picture", errors=ID_ERRORS),
)
async def get_media(
    request: Request, patient: NamedDependency[PatientPrincipal], media_id: FromPath[UUID]
) -> s.MediaOut:
    return await _media_out(request, await patient_reads.one_media(patient.patient_id, media_id))


@get(
    "/questions",
    summary="My open questions",
    description="Verification questions waiting for a one-tap answer, oldest first.",
    responses=responds(s.QuestionPage, ex.QUESTION_PAGE, "A page of questions", errors=(400, 401)),
)
async def list_questions(
    patient: NamedDependency[PatientPrincipal], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> s.QuestionPage:
    now = utcnow()
    lang = await _lang(patient)
    rows = await patient_reads.open_questions(
        patient.patient_id, now, limit=limit + 1, after=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    out = []
    for row, bundle in page:
        items = {i.item_id: i for i in (bundle.current.counted_items if bundle.current else [])}
        out.append(present.question(row, bundle.clinic.name, items, bundle.tz, lang))
    last = page[-1][0] if page else None
    return s.QuestionPage(
        items=out,
        next_cursor=encode_cursor(last.asked_at, last.id) if more and last else None,
    )


@post(
    "/questions/{question_id:uuid}/answer",
    summary="Answer a question",
    description="Yes, no or not sure, with an optional note. The answer is recorded as an "
    "event beside the clinic's claim; a question is answered once. A 'yes' to a contact "
    "question (one with `when`) should say when the call came: called_on (today, yesterday, "
    "earlier) or called_at; that, not the moment of the answer, is the patient-reported "
    "first-contact time.",
    status_code=200,
    responses=responds(s.Recorded, ex.RECORDED, "Recorded", errors=(400, 401, 404, 409, 422)),
)
async def answer_question(
    patient: NamedDependency[PatientPrincipal],
    question_id: FromPath[UUID],
    data: Annotated[s.AnswerIn, example_body(ex.ANSWER_IN)],
) -> s.Recorded:
    answered = await answers.answer_question(
        patient_id=patient.patient_id,
        question_id=question_id,
        answer=data.answer,
        note=data.note,
        called_on=data.called_on,
        called_at=data.called_at,
    )
    # The language came with the question (no second read); an erased patient is
    # answered as `_lang` answers it.
    if answered.locale is None:
        raise NotFound("no such patient")
    return _recorded(answered.recorded, _lang_of(answered.locale))


@get(
    "/referrals/{referral_id:uuid}/plan.pdf",
    summary="My plan to print",
    description="The plan as an A4 colour PDF in the patient's language: the clinic, every "
    "option side by side with its chart after, pros and cons, stages with expected dates, "
    "visit-problem-solution explanations, totals (unless the clinic hides prices) and a QR "
    "code to the patient's own page of this referral (/p/{token}; none once the referral is "
    "over or its links were revoked).",
    media_type="application/pdf",
    responses=responds(
        bytes, "(PDF document)", "The plan", media_type="application/pdf", errors=ID_ERRORS
    ),
    opt={NO_ETAG: True},  # made afresh on every request (its QR link, its date)
)
async def plan_pdf(
    request: Request, patient: NamedDependency[PatientPrincipal], referral_id: FromPath[UUID]
) -> Response:
    now = utcnow()
    bundle = await patient_reads.referral_bundle(patient.patient_id, referral_id, now)
    link = await plan_document.patient_link(request.app.state.settings, bundle, now)
    return await plan_document.pdf_response(
        plan_document.document(bundle, app_link=link, now=now, for_patient=True), referral_id
    )


@post(
    "/referrals/{referral_id:uuid}/variant",
    summary="Choose an option of the plan",
    description='The patient\'s choice among the plan\'s options ({"variant": "B"}), '
    "recorded as an event: from then on the progress bar, the money and the clinic's card "
    "follow it. Choosing again after the clinic changed the plan also agrees with the new "
    "plan. 422 for an option the plan does not offer, 409 for a closed referral.",
    status_code=200,
    responses=responds(s.Recorded, ex.RECORDED, "Recorded", errors=(400, 401, 404, 409, 422)),
)
async def choose_variant(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.ChooseVariantIn, example_body({"variant": "B"})],
) -> s.Recorded:
    result = await patient_statements.choose_variant(
        patient.patient_id, referral_id, variant=data.variant
    )
    return _recorded(result, await _lang(patient))


@post(
    "/referrals/{referral_id:uuid}/contact-rating",
    summary="Rate how the clinic got in touch",
    description="Did the clinic call, when (called_on: today, yesterday, earlier; or "
    "called_at), and how was it (1-5 stars, a comment). One rating per referral: a new one "
    "replaces it (the ledger keeps every version).",
    status_code=200,
    responses=responds(s.Recorded, ex.RECORDED, "Recorded", errors=(400, 401, 404, 422)),
)
async def rate_contact(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.ContactRatingIn, example_body(ex.RATING_IN)],
) -> s.Recorded:
    result = await patient_statements.rate_contact(
        patient.patient_id,
        referral_id,
        called=data.called,
        stars=data.stars,
        comment=data.comment,
        called_on=data.called_on,
        called_at=data.called_at,
    )
    return _recorded(result, await _lang(patient))


@post(
    "/appointments/{appointment_id:uuid}/response",
    summary="Confirm, decline or ask to move an appointment",
    description="The patient's answer to a booked appointment (FHIR participant status).",
    status_code=200,
    responses=responds(s.Recorded, ex.RECORDED, "Recorded", errors=(400, 401, 404, 409)),
)
async def respond_to_appointment(
    patient: NamedDependency[PatientPrincipal],
    appointment_id: FromPath[UUID],
    data: Annotated[s.AppointmentResponseIn, example_body(ex.APPOINTMENT_IN)],
) -> s.Recorded:
    result = await patient_statements.respond_to_appointment(
        patient.patient_id, appointment_id, response=data.response, note=data.note
    )
    return _recorded(result, await _lang(patient))


@post(
    "/referrals/{referral_id:uuid}/visit-code",
    summary="Enter the code shown at reception",
    description="A right code co-signs the visit (the strongest evidence there is). Wrong "
    "codes are limited: after 5 in 15 minutes, 429 with Retry-After.",
    status_code=200,
    responses=responds(
        s.Recorded, ex.RECORDED, "The visit is co-signed", errors=(400, 401, 404, 422, 429)
    ),
)
async def enter_visit_code(
    request: Request,
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.VisitCodeIn, example_body(ex.VISIT_CODE_IN)],
) -> s.Recorded:
    result = await visit_codes.redeem_code(
        patient.patient_id,
        referral_id,
        data.code,
        secret=request.app.state.settings.secret_key,
    )
    return _recorded(result, await _lang(patient))


@post(
    "/referrals/{referral_id:uuid}/reports",
    summary="Tell what happened",
    description="The patient says on their own that the clinic called, booked them, that "
    "they came, or that they stopped treatment. The clinic's records are checked against it.",
    status_code=200,
    responses=responds(s.Recorded, ex.RECORDED, "Recorded", errors=(400, 401, 404, 422)),
)
async def report(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.ReportIn, example_body(ex.REPORT_IN)],
) -> s.Recorded:
    result = await patient_statements.report(
        patient.patient_id,
        referral_id,
        about=data.kind,
        occurred_at=data.occurred_at,
        appointment_at=data.appointment_at,
        note=data.note,
    )
    return _recorded(result, await _lang(patient))


@post(
    "/referrals/{referral_id:uuid}/receipts",
    summary="Attach a fiscal receipt",
    description="The text of a Russian fiscal receipt's QR code (t=…&s=…&fn=…&i=…&fp=…&n=1), "
    "kept as evidence of payment and compared with the payments the clinic reported.",
    status_code=200,
    responses=responds(
        s.ReceiptOut, ex.RECEIPT, "Recorded and compared", errors=(400, 401, 404, 409, 422)
    ),
)
async def attach_receipt(
    patient: NamedDependency[PatientPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.ReceiptIn, example_body(ex.RECEIPT_IN)],
) -> s.ReceiptOut:
    result = await patient_statements.attach_receipt(patient.patient_id, referral_id, qr=data.qr)
    me = await profile.profile(patient.patient_id)
    lang: texts.Lang = me.locale if me.locale in texts.LANGS else "ru"
    currency = result.recorded.fold.money.currency
    reported = result.match.reported_amount
    return s.ReceiptOut(
        event_id=result.recorded.event.id,
        amount=present.money(result.amount, currency, lang),
        issued_at=present.local(result.issued_at, ZoneInfo(me.timezone)),
        match=result.match.outcome,
        reported_amount=present.money(reported, currency, lang) if reported is not None else None,
    )


@get(
    "/export",
    summary="Everything we hold about me",
    description="The patient's own data as stored: profile, notification choices (consents), "
    "referrals, plans with their items and teeth, appointments, answers and the patient's "
    "own statements with their notes, contact ratings, devices, sessions, pictures, and "
    "which staff roles opened the patient's referral card (lists staff saw the patient "
    "in are audited per list, not per patient). Nothing of anyone else. Amounts are in "
    "minor units, times in UTC.",
    responses=responds(privacy_body.PatientExport, ex.EXPORT, "The export", errors=(401, 404)),
    opt={NO_ETAG: True},  # a download that must not be kept (no-store)
)
async def export_my_data(patient: NamedDependency[PatientPrincipal]) -> Response:
    found = await privacy.export(patient.patient_id)
    texts_sent, web = await sms.held_for(patient.patient_id)
    body = privacy_body.export(found, utcnow(), text_messages=texts_sent, web_sessions=web)
    return Response(
        body,
        headers={
            "Content-Disposition": 'attachment; filename="plantrack-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@post(
    "/erasure",
    summary="Erase my personal data",
    description='Send {"confirm": "erase"}; anything else is refused (400) with the '
    "explanation to show, in the patient's language. Erases name, phone, free-text "
    "answers and comments, device tokens; ends every session. The anonymous history of the "
    "referrals stays for statistics. Cannot be undone. What happens to each field: "
    "docs/privacy.md.",
    status_code=200,
    responses=responds(privacy_body.ErasureOut, ex.ERASED, "Erased", errors=(400, 401, 404)),
)
async def erase_my_data(
    patient: NamedDependency[PatientPrincipal],
    data: Annotated[s.ErasureIn, example_body(ex.ERASURE_IN)],
) -> privacy_body.ErasureOut:
    lang = await _lang(patient)
    try:
        erased = await privacy.erase(patient.patient_id, confirm=data.confirm)
    except privacy.NotConfirmed as exc:
        raise privacy.NotConfirmed(texts.ERASURE["confirm"][lang]) from exc
    return privacy_body.ErasureOut(
        erased_at=erased.at, status="erased", message=texts.ERASURE["done"][lang]
    )


router = Router(
    path="/api/v1/me",
    route_handlers=[
        get_me,
        patch_me,
        put_device,
        delete_device,
        list_referrals,
        list_changes,
        get_referral,
        teeth_svg,
        teeth_json,
        list_media,
        get_media,
        list_questions,
        answer_question,
        plan_pdf,
        choose_variant,
        rate_contact,
        respond_to_appointment,
        enter_visit_code,
        report,
        attach_receipt,
        export_my_data,
        erase_my_data,
    ],
    dependencies={"patient": Provide(patient_principal)},
    # Outermost first: an app too old is told so before anything else; a POST's key is
    # checked after its caller; GET answers get their ETag last.
    middleware=[AppVersionGate(), IdempotentPosts(identify=patient_principal), ConditionalGet()],
    security=[{"bearer": []}],
    tags=["patient"],
)
