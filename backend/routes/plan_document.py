"""The printable plan (seed 004: "a clear colour document on good paper"): every option
side by side with its chart, explanations, stages with their expected dates and, if the
clinic shows prices, the totals; in the patient's language, with a QR back to the plan
in the app. The patient prints their own; the clinic prints it from the card.

This words what the services computed (the patient's plan screen's bundle) for paper;
`backend.plan_print` lays it out. No rule is decided here.
"""

from datetime import datetime, timedelta
from typing import Any

import msgspec

from backend import texts
from backend.domain.money_funnel import treatment_start
from backend.domain.odontogram import chart, render_svg
from backend.domain.progress import planned_schedule
from backend.domain.variants import chart_states
from backend.routes import patient_present as present
from backend.services import patient_reads
from backend.texts import Lang

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
        "ru": "Этот план в приложении: наведите камеру на код",
        "en": "This plan in the app: point your camera at the code",
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


def document(b: patient_reads.ReferralBundle, *, app_link: str, now: datetime) -> dict[str, Any]:
    """What the printed plan says, worded in the patient's language."""
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
        "patient_name": b.patient.get("name") or "",
        "date": _date(now, b.tz, lang),
        "invite_code": b.referral["invite_code"],
        "before_chart": _svg_uri(render_svg(before, texts.chart_texts("before", lang))),
        "columns": columns,
        "shown": shown,
        "app_link": app_link,
    }


def app_link(public_url: str, referral_id) -> str:
    """Where the QR leads: the plan in the patient app (a universal link on our host)."""
    return f"{public_url.rstrip('/')}/app/referrals/{referral_id}"


async def pdf_response(context: dict[str, Any], referral_id) -> Any:
    """The document as an A4 PDF, rendered off the event loop."""
    import anyio
    from litestar import Response

    from backend.plan_print import plan_pdf

    body = await anyio.to_thread.run_sync(plan_pdf, context)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="plan-{context["invite_code"]}.pdf"',
            "Cache-Control": "no-store",
        },
    )
