"""The patient's web page behind an SMS link, /p/{token}: the questions in plain words
with big answer buttons, the appointment reply, the contact rating; the whole plan after
the phone is proved by a code sent by SMS.

Server-rendered, one request per page: the stylesheet is inlined (allowed by its hash
in the page's content policy), no scripts, no fonts, nothing from elsewhere. A GET never
records anything (link scanners and messengers' previews fetch GETs); every answer is a
POST with Litestar's CSRF token, answered with a redirect back to the page. A wrong,
revoked or expired link is a plain 404 page, the same for all.
"""

import base64
import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.domain.odontogram import chart, render_svg
from backend.domain.plans import of_variant
from backend.domain.variants import chart_states
from backend.routes import patient_present as present
from backend.runtime.clock import utcnow
from backend.services import link_answers, patient_links, patient_reads, sms, texts
from backend.services.errors import (
    Conflict,
    Invalid,
    NotFound,
    ServiceError,
    TooManyAttempts,
)
from backend.services.media import picture_links
from backend.services.patient_links import LinkAccess
from backend.services.patient_reads import ReferralBundle
from backend.web.rate_limits import charge, client_address, link_budget
from patient_web import forms
from patient_web.i18n import WORDS, Lang, word

COOKIE = "plantrack_patient"
LANG_COOKIE = "plantrack_patient_lang"
HERE = Path(__file__).parent
CSS = (HERE / "static" / "patient.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# The admin pages' policy, but the inline stylesheet allowed by its hash (one request).
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def csp(image_origin: str | None) -> str:
    """The policy, with pictures also from the object store when they live there."""
    if not image_origin:
        return CSP
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {image_origin}")


HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
Form = Body(media_type=RequestEncodingType.URL_ENCODED)
DONE = {"answered", "replied", "rated", "already", "signed_out", "chosen"}


def lang_of(request: Request, fallback: str = "ru") -> Lang:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or fallback
    return "en" if asked == "en" else "ru"


def page(
    request: Request,
    name: str,
    *,
    lang: Lang,
    status: int = 200,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    settings = request.app.state.settings
    cookies = list(cookies or [])
    if request.query_params.get("lang") in ("ru", "en"):
        cookies.append(
            Cookie(key=LANG_COOKIE, value=lang, path="/p", samesite="lax", max_age=365 * 86400)
        )
    done = request.query_params.get("done", "")
    return Template(
        template_name=f"patient/{name}",
        status_code=status,
        headers={
            **HEADERS,
            "Content-Security-Policy": csp(request.app.state.media_files.origin),
            **(headers or {}),
        },
        cookies=cookies,
        context={
            "lang": lang,
            "other_lang": "en" if lang == "ru" else "ru",
            "w": lambda key, **values: word(key, lang, **values),
            "words": WORDS,
            "css": CSS,
            "path": request.url.path,
            "done": done if done in DONE else "",
            "app_store": settings.app_store_url,
            "google_play": settings.google_play_url,
            **context,
        },
    )


async def _open(request: Request, token: str, now: datetime) -> LinkAccess:
    try:
        return await patient_links.open_link(token, now)
    except NotFound:
        # A link that does not exist is a guess (or a stale one): it costs the address's
        # sign-in budget, so guessing 128-bit tokens costs the guesser.
        await charge(request.app.state.settings, "auth", client_address(request))
        raise


async def _proved(request: Request, access: LinkAccess, now: datetime) -> bool:
    return await patient_links.session(access, request.cookies.get(COOKIE), now) is not None


def _in_lang(bundle: ReferralBundle, lang: Lang) -> ReferralBundle:
    """The bundle as the presenters see it, in the language the page is read in."""
    patient = msgspec.structs.replace(bundle.patient, locale=lang)
    return msgspec.structs.replace(bundle, patient=patient)


# Question kinds about the plan itself (a procedure's name is health data; agreeing to
# a changed plan needs the plan in view): asked of a proved phone only. Any other kind,
# a new one too, is shown on the link's page with its answers.
GATED_KINDS = frozenset({"confirm_item", "confirm_plan"})


def _questions(bundle: ReferralBundle, lang: Lang, proved: bool, first: UUID | None) -> list:
    items = {i.item_id: i for i in (bundle.current.counted_items if bundle.current else [])}
    rows = sorted(bundle.open_questions, key=lambda q: q.id != first)
    return [
        {
            "q": present.question(row, bundle.clinic.name, items, bundle.tz, lang),
            # What a procedure was is health data: shown to a proved phone only.
            "gated": row.kind in GATED_KINDS and not proved,
            "focus": row.id == first,
            # A yes to "did they call?" may say when (the page's date field).
            "when": row.kind in present.CONTACT_QUESTIONS,
        }
        for row in rows
    ]


def _appointment(bundle: ReferralBundle, lang: Lang, now: datetime) -> dict | None:
    appointment = bundle.fold.current_appointment
    if appointment is None or appointment.status != "booked" or appointment.starts_at <= now:
        return None
    return {
        "id": appointment.id,
        "when": texts.day_time(appointment.starts_at, bundle.tz, lang),
        "reply": appointment.patient_status,
    }


# Until the phone is proved the page says what comes next only up to the visit: after it,
# the next step names a procedure, which is health data.
_BEFORE_TREATMENT = frozenset({"sent", "delivered", "unreachable", "contacted", "booked"})


def _next_step(bundle: ReferralBundle, lang: Lang, proved: bool) -> str:
    if proved or bundle.fold.step.value in _BEFORE_TREATMENT:
        return present.next_step(bundle, lang)
    return texts.STEPS[bundle.fold.step.value][lang]


async def _index(request: Request, token: str, first: UUID | None = None) -> Template:
    now = utcnow()
    access = await _open(request, token, now)
    lang = lang_of(request, access.locale)
    bundle = _in_lang(
        await patient_reads.referral_bundle(access.patient_id, access.referral_id, now), lang
    )
    proved = await _proved(request, access, now)
    return page(
        request,
        "index.html",
        lang=lang,
        token=token,
        clinic=bundle.clinic.name,
        step=texts.STEPS[bundle.fold.step.value][lang],
        next_step=_next_step(bundle, lang, proved),
        questions=_questions(bundle, lang, proved, first or access.question_id),
        answers=[(v, texts.ANSWERS[v][lang]) for v in ("yes", "no", "unsure")],
        appointment=_appointment(bundle, lang, now),
        open=bundle.fold.is_open,
        proved=proved,
        call_days=_call_days(bundle, now),
        options=_options(bundle, lang, proved),
    )


def _options(bundle: ReferralBundle, lang: Lang, proved: bool) -> dict | None:
    """The plan's variants side by side, and whether the patient may choose now. What the
    variants are (procedures, teeth, what was found) is health data: an unproved phone is
    told only how many there are."""
    current = bundle.current
    letters = sorted({i.variant for i in current.items if i.variant}) if current else []
    if len(letters) < 2:
        return None
    if not proved:
        return {"count": len(letters), "gated": True}
    shown = present.variants(bundle, lang)
    chosen = next((v for v in shown if v.chosen_by == "patient"), None)
    return {
        "count": len(letters),
        "gated": False,
        "variants": shown,
        "chosen": chosen,
        "can_choose": present.can_choose(bundle),
        "prices": present.prices_shown(bundle),
        "w": {k: v[lang] for k, v in texts.VARIANT.items()},
    }


def _call_days(bundle: ReferralBundle, now: datetime) -> dict[str, str]:
    """The date field's default and bounds, in the patient's zone: today by default, never
    after today, never before the referral was sent (nobody called about it before)."""
    today = now.astimezone(bundle.tz).date()
    sent = bundle.referral.sent_at.astimezone(bundle.tz).date()
    return {"today": today.isoformat(), "min": min(sent, today).isoformat()}


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationException("called_day: not a day") from exc


@get("/{token:str}", guards=[link_budget], include_in_schema=False)
async def index(request: Request, token: FromPath[str]) -> Template:
    return await _index(request, token)


@get("/{token:str}/q/{question_id:uuid}", guards=[link_budget], include_in_schema=False)
async def question_page(
    request: Request, token: FromPath[str], question_id: FromPath[UUID]
) -> Template:
    access = await _open(request, token, utcnow())
    await link_answers.question_of(access, question_id)
    return await _index(request, token, first=question_id)


def _back(token: str, done: str, anchor: str = "") -> Redirect:
    return Redirect(path=f"/p/{token}?done={done}{anchor}", status_code=303)


@post("/{token:str}/q/{question_id:uuid}", guards=[link_budget], include_in_schema=False)
async def answer(
    request: Request,
    token: FromPath[str],
    question_id: FromPath[UUID],
    data: Annotated[forms.AnswerForm, Form],
) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    question = await link_answers.question_of(access, question_id)
    if question.kind in GATED_KINDS and not await _proved(request, access, now):
        return Redirect(path=f"/p/{token}/plan", status_code=303)
    try:
        await link_answers.answer(
            access, question_id, data.answer, now=now, called_day=_day(data.called_day)
        )
    except Conflict:
        return _back(token, "already")
    except Invalid:
        return _bad_day(request, access)
    return _back(token, "answered")


def _bad_day(request: Request, access: LinkAccess) -> Template:
    """The only thing the services refuse in these forms: a day of the call after today
    (a browser without the date field's `max`, or a changed form)."""
    return page(
        request,
        "message.html",
        lang=lang_of(request, access.locale),
        status=422,
        title="error_title",
        text="bad_call_day",
    )


@post("/{token:str}/variant", guards=[link_budget], include_in_schema=False)
async def choose_variant(
    request: Request, token: FromPath[str], data: Annotated[forms.VariantForm, Form]
) -> Response:
    """The choice of a variant, as the app's: the variants are health data, so a phone
    that is not proved is sent to prove itself first."""
    now = utcnow()
    access = await _open(request, token, now)
    if not await _proved(request, access, now):
        return Redirect(path=f"/p/{token}/plan", status_code=303)
    try:
        await link_answers.choose_variant(access, data.variant, now=now)
    except Conflict:
        return _back(token, "already")
    return _back(token, "chosen", "#options-title")


@post(
    "/{token:str}/appointments/{appointment_id:uuid}", guards=[link_budget], include_in_schema=False
)
async def reply(
    request: Request,
    token: FromPath[str],
    appointment_id: FromPath[UUID],
    data: Annotated[forms.ReplyForm, Form],
) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    try:
        await link_answers.respond(access, appointment_id, data.response, now=now)
    except Conflict:
        return _back(token, "already")
    return _back(token, "replied")


@post("/{token:str}/rating", guards=[link_budget], include_in_schema=False)
async def rate(
    request: Request, token: FromPath[str], data: Annotated[forms.RatingForm, Form]
) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    try:
        await link_answers.rate(
            access,
            called=data.called == "yes",
            stars=int(data.stars) if data.stars and data.called == "yes" else None,
            now=now,
            called_day=_day(data.called_day),
        )
    except Invalid:
        return _bad_day(request, access)
    return _back(token, "rated")


# --- the whole plan, for a proved phone ---------------------------------------------------


async def _sign_in_page(
    request: Request,
    token: str,
    access: LinkAccess,
    lang: Lang,
    *,
    sent: bool = False,
    error: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    return page(
        request,
        "sign_in.html",
        lang=lang,
        token=token,
        phone=await patient_links.phone_hint(access),
        sent=sent,
        error=error,
        status=status,
        headers=headers,
    )


def _charts(bundle: ReferralBundle, lang: Lang) -> list[tuple[str, str]]:
    """Before and after, for the variant in the plan: as the app's chart draws them."""
    current = bundle.current
    variant = current.variant if current else None
    teeth = chart_states(present.plan_teeth(bundle), variant)
    items = of_variant(current.items, variant) if current else []
    done = set(bundle.fold.done_items)
    drawn = []
    for phase in ("before", "after"):
        svg = render_svg(chart(teeth, items, done, phase), texts.chart_texts(phase, lang))
        # Two charts on one page: their ids must differ.
        svg = svg.replace('"chart-title', f'"chart-title-{phase}')
        svg = svg.replace("chart-title chart-desc", f"chart-title-{phase} chart-desc-{phase}")
        svg = svg.replace('"chart-desc', f'"chart-desc-{phase}')
        drawn.append((word(phase, lang), svg))
    return drawn


@get("/{token:str}/plan", guards=[link_budget], include_in_schema=False)
async def plan(request: Request, token: FromPath[str], sent: FromQuery[bool] = False) -> Template:
    now = utcnow()
    access = await _open(request, token, now)
    lang = lang_of(request, access.locale)
    if not await _proved(request, access, now):
        return await _sign_in_page(request, token, access, lang, sent=sent)
    bundle = _in_lang(
        await patient_reads.referral_bundle(access.patient_id, access.referral_id, now), lang
    )
    files = request.app.state.media_files
    pictures = [
        {"links": await picture_links(files, row, now), "caption": row.caption, "row": row}
        for row in await patient_reads.media_of(access.patient_id, access.referral_id)
    ]
    return page(
        request,
        "plan.html",
        lang=lang,
        token=token,
        r=present.referral(bundle),
        charts=_charts(bundle, lang),
        pictures=pictures,
        day=lambda at: texts.day(at, bundle.tz, lang),
        day_time=lambda at: texts.day_time(at, bundle.tz, lang),
    )


@post("/{token:str}/code", guards=[link_budget], include_in_schema=False, status_code=200)
async def send_code(request: Request, token: FromPath[str]) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    lang = lang_of(request, access.locale)
    try:
        await sms.request_code(access, secret=request.app.state.settings.secret_key, now=now)
    except TooManyAttempts as exc:
        return await _too_many(request, token, access, lang, exc, sent=True)
    except Conflict:
        return await _sign_in_page(
            request, token, access, lang, error=word("no_sms", lang), status=409
        )
    return Redirect(path=f"/p/{token}/plan?sent=true", status_code=303)


async def _too_many(
    request: Request, token: str, access: LinkAccess, lang: Lang, exc: TooManyAttempts, **kw
) -> Template:
    minutes = max(1, exc.retry_after // 60)
    return await _sign_in_page(
        request,
        token,
        access,
        lang,
        error=word("too_many", lang, minutes=minutes),
        status=429,
        headers={"Retry-After": str(exc.retry_after)},
        **kw,
    )


@post("/{token:str}/session", guards=[link_budget], include_in_schema=False, status_code=200)
async def sign_in(
    request: Request, token: FromPath[str], data: Annotated[forms.CodeForm, Form]
) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    lang = lang_of(request, access.locale)
    try:
        proved = await patient_links.prove(
            access, data.code, secret=request.app.state.settings.secret_key, now=now
        )
    except TooManyAttempts as exc:
        return await _too_many(request, token, access, lang, exc, sent=True)
    except Invalid:
        return await _sign_in_page(
            request, token, access, lang, sent=True, error=word("wrong_code", lang), status=422
        )
    response = Redirect(path=f"/p/{token}/plan", status_code=303)
    response.set_cookie(
        key=COOKIE,
        value=proved.cookie,
        path="/p",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int((proved.expires_at - now).total_seconds()),
    )
    return response


@post("/{token:str}/sign-out", guards=[link_budget], include_in_schema=False)
async def sign_out(
    request: Request, token: FromPath[str], data: Annotated[forms.SignOutForm, Form]
) -> Response:
    now = utcnow()
    access = await _open(request, token, now)
    await patient_links.sign_out(
        access, request.cookies.get(COOKIE), everywhere=data.everywhere == "yes", now=now
    )
    response = _back(token, "signed_out")
    response.delete_cookie(COOKIE, path="/p")
    return response


# --- refusals as pages -------------------------------------------------------------------


def as_page(request: Request, exc: Exception) -> Response:
    """Errors as small pages in the reader's language. (Litestar calls exception handlers
    synchronously: no database here.)"""
    lang = lang_of(request)
    if isinstance(exc, NotFoundException | NotFound):
        return page(
            request,
            "message.html",
            lang=lang,
            status=404,
            title="not_found_title",
            text="not_found",
        )
    if isinstance(exc, TooManyAttempts):
        return page(
            request,
            "message.html",
            lang=lang,
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
            title="error_title",
            text_raw=word("too_many", lang, minutes=max(1, exc.retry_after // 60)),
        )
    if isinstance(exc, ValidationException):
        return page(
            request, "message.html", lang=lang, status=400, title="error_title", text="bad_form"
        )
    status = getattr(exc, "status", None) or getattr(exc, "status_code", 400)
    return page(
        request, "message.html", lang=lang, status=status, title="error_title", text="bad_form"
    )


router = Router(
    path="/p",
    route_handlers=[
        index,
        question_page,
        answer,
        choose_variant,
        reply,
        rate,
        plan,
        send_code,
        sign_in,
        sign_out,
    ],
    exception_handlers={
        NotFoundException: as_page,
        ValidationException: as_page,
        ServiceError: as_page,
    },
    include_in_schema=False,
)
