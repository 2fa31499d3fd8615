"""The printable plan (seed 004: "a clear colour document on good paper"): every option
side by side with its chart, explanations, stages with their expected dates and, if the
clinic shows prices, the totals; in the patient's language, with a QR back to the plan
in the app. The patient prints their own; the clinic prints it from the card.

This words what the services computed (the patient's plan screen's bundle) for paper;
`backend.services.plan_print` lays it out. No rule is decided here.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from backend.domain.funnel import treatment_start
from backend.domain.odontogram import chart, render_svg
from backend.domain.progress import planned_schedule
from backend.domain.variants import chart_states
from backend.routes import patient_present as present
from backend.runtime.clock import utcnow
from backend.services import desk, patient_links, patient_reads, texts
from backend.services.audit import Viewer
from backend.services.texts import Lang

WORDS: dict[str, dict[Lang, str]] = {
    "title": {"ru": "План лечения", "en": "Treatment plan"},
    "patient": {"ru": "Пациент", "en": "Patient"},
    "clinic": {"ru": "Клиника", "en": "Clinic"},
    "date": {"ru": "Дата", "en": "Date"},
    "referral": {"ru": "Направление", "en": "Referral"},
    "now": {"ru": "Сейчас", "en": "Today"},
    "options": {"ru": "Варианты лечения", "en": "Treatment options"},
    "after": {"ru": "После лечения", "en": "After treatment"},
    "stages": {"ru": "Этапы и сроки", "en": "Stages and dates"},
    "length": {"ru": "Срок", "en": "Length"},
    "explanations": {"ru": "Приём — проблема — решение", "en": "Visit — problem — solution"},
    "expected": {"ru": "ожидается", "en": "expected"},
    "qr": {
        "ru": "Ваша страница с планом: наведите камеру на код",
        "en": "Your plan's page: point your camera at the code",
    },
    "no_qr": {
        "ru": "Ссылку на вашу страницу с планом клиника не печатает: она приходит вам в SMS.",
        "en": "The clinic does not print the link to your plan's page: it comes to you by SMS.",
    },
    "estimate_note": {
        "ru": "Сроки рассчитаны по нормативам и уточняются на приёме.",
        "en": "Dates follow the usual duration of each treatment and are confirmed at visits.",
    },
    "page": {"ru": "стр.", "en": "p."},
}


def _svg_uri(svg: str) -> str:
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _date(at: datetime | None, tz, lang: Lang) -> str:
    return texts.day(at, tz, lang) + at.astimezone(tz).strftime(" %Y") if at else "—"


def document(
    b: patient_reads.ReferralBundle,
    *,
    app_link: str | None,
    now: datetime,
    for_patient: bool = False,
) -> dict[str, Any]:
    """What the printed plan says, worded in the patient's language. `app_link`: where
    its QR leads (None: no QR; a staff print says where the link comes from instead)."""
    lang: Lang = b.lang  # type: ignore[assignment]
    shown = present.prices_shown(b)
    currency = b.fold.money.currency
    states = present.plan_teeth(b)
    done = set(b.fold.done_items)
    appt = b.fold.current_appointment
    start = treatment_start(b.fold) or (appt.starts_at if appt else None) or now
    norms = b.norms or {}
    options = present.variants(b, lang)
    views = present.overviews(b)
    before = chart(chart_states(states, None), [], done, "before")
    columns = []
    for option, view in zip(options, views, strict=True):
        after = chart(chart_states(states, view.variant), list(view.items), done, "after")
        chart_words = texts.chart_texts("after", lang)
        schedule = planned_schedule(tuple(view.items), start, norms)  # type: ignore[arg-type]
        stages = []
        for stage, (begins, ends) in schedule.items():
            last_day = ends - timedelta(seconds=1)  # a stage ending at midnight ends the day before
            items = [i for i in option.items if i.stage == stage]
            stages.append(
                {
                    "title": texts.STAGE[lang].format(n=stage),
                    "dates": f"{_date(begins, b.tz, lang)} — {_date(last_day, b.tz, lang)}",
                    "items": items,
                    "money": texts.money(
                        sum(i.price.amount for i in items if i.price), currency, lang
                    )
                    if shown
                    else None,
                }
            )
        columns.append(
            {
                "option": option,
                "chart": _svg_uri(
                    render_svg(after, msgspec.structs.replace(chart_words, title=option.title))
                ),
                "stages": stages,
                "finish": _date(max((e for _, e in schedule.values()), default=None), b.tz, lang),
            }
        )
    clinic = b.clinic
    return {
        "lang": lang,
        "w": {k: v[lang] for k, v in WORDS.items()}
        | {k: v[lang] for k, v in texts.VARIANT.items()},
        "clinic": clinic,
        "patient_name": b.patient.name,
        "date": _date(now, b.tz, lang),
        "invite_code": b.referral.invite_code,
        "before_chart": _svg_uri(render_svg(before, texts.chart_texts("before", lang))),
        "columns": columns,
        "shown": shown,
        "app_link": app_link,
        "for_patient": for_patient,
    }


def app_link(public_url: str, referral_id) -> None:
    """The staff's print (the clinic's card, the admin page): no QR. The QR leads to the
    patient's personal page (/p/{token}), where the patient's verification questions are
    answered; in a clinic's hands it would let the clinic confirm its own claims, which
    the patient's answers exist to check. The patient gets the link by SMS and prints
    their own plan with it (`patient_link`)."""
    return None


async def patient_link(settings: Any, b: patient_reads.ReferralBundle, now: datetime) -> str | None:
    """Where the patient's own print's QR leads: their personal page for this referral
    (the live link reused, or one minted), or nothing for a referral that is over or whose
    links were revoked (backend.services.patient_links.printable_link)."""
    token = await patient_links.printable_link(
        secret=settings.secret_key,
        referral_id=b.referral.id,
        patient_id=b.patient.id,
        now=now,
    )
    return patient_links.link_url(settings.public_url, token) if token else None


async def pdf_response(context: dict[str, Any], referral_id) -> Any:
    """The document as an A4 PDF, rendered off the event loop."""
    import anyio
    from litestar import Response

    from backend.services.plan_print import plan_pdf

    body = await anyio.to_thread.run_sync(plan_pdf, context)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="plan-{context["invite_code"]}.pdf"',
            "Cache-Control": "no-store",
        },
    )


async def staff_print(settings: Any, viewer: Viewer, referral_id: UUID) -> Any:
    """The plan as the clinic's card and the staff page print it (`app_link`: no QR); the
    bundle is read as the viewer, so the reading is audited and scoped like the card."""
    now = utcnow()
    bundle = await desk.plan_bundle(viewer, referral_id, now)
    link = app_link(settings.public_url, referral_id)
    return await pdf_response(document(bundle, app_link=link, now=now), referral_id)
