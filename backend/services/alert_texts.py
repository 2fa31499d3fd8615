"""What an alert says, in Russian and English, by e-mail and as a CRM task.

Mail leaves our hands, so an alert names no patient and nothing of their health: the
kind of event, the clinic, the referral's code, when, and a link into the panel, where
the reader signs in (with their second factor) to see whom it is about — and the look is
written to the audit log. A CRM task is tied to the CRM's own deal or lead, which its
users already see; the text stays the same.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.staff_alerts import AlertKind
from backend.services import texts
from backend.services.texts import Lang
from backend.store.rows import AlertRow

SUBJECTS: dict[AlertKind, dict[Lang, str]] = {
    AlertKind.new_referral: {"ru": "Новое направление", "en": "New referral"},
    AlertKind.sla_due: {
        "ru": "Скоро истечёт срок первого звонка",
        "en": "First-call deadline is near",
    },
    AlertKind.sla_passed: {
        "ru": "Срок первого звонка истёк",
        "en": "First-call deadline has passed",
    },
    AlertKind.nobody_called: {
        "ru": "Пациент говорит, что ему не звонили",
        "en": "A patient says nobody called",
    },
    AlertKind.patient_declined: {
        "ru": "Пациент отказался или просит перенести приём",
        "en": "A patient declined or asks to reschedule",
    },
    AlertKind.no_show_not_rebooked: {
        "ru": "Неявка: пациент не записан снова за 3 дня",
        "en": "No-show not rebooked within 3 days",
    },
    AlertKind.new_dispute: {"ru": "Новый спор", "en": "New dispute"},
    AlertKind.behind_schedule: {"ru": "Лечение отстаёт от плана", "en": "Plan behind schedule"},
    AlertKind.crm_failed: {
        "ru": "Сбой обмена с CRM клиники",
        "en": "A delivery to or from the clinic's CRM failed",
    },
}

WHAT_TO_DO: dict[AlertKind, dict[Lang, str]] = {
    AlertKind.new_referral: {
        "ru": "Позвоните пациенту и запишите итог звонка.",
        "en": "Call the patient and record the outcome.",
    },
    AlertKind.sla_due: {
        "ru": "Позвоните пациенту до срока: {due}.",
        "en": "Call the patient before {due}.",
    },
    AlertKind.sla_passed: {
        "ru": "Срок был {due}. Позвоните пациенту как можно скорее.",
        "en": "It was due {due}. Call the patient as soon as you can.",
    },
    AlertKind.nobody_called: {
        "ru": "Перезвоните пациенту и запишите итог звонка.",
        "en": "Call the patient back and record the outcome.",
    },
    AlertKind.patient_declined: {
        "ru": "Свяжитесь с пациентом: предложите другое время.",
        "en": "Get in touch with the patient: offer another time.",
    },
    AlertKind.no_show_not_rebooked: {
        "ru": "Пациент не пришёл {due} и не записан снова. Позвоните ему.",
        "en": "The patient missed the appointment on {due} and is not rebooked. Call them.",
    },
    AlertKind.new_dispute: {
        "ru": "Пациент и клиника говорят разное о шаге «{milestone}». Посмотрите спор.",
        "en": "The patient and the clinic disagree about “{milestone}”. Look at the dispute.",
    },
    AlertKind.behind_schedule: {
        "ru": "Этап плана просрочен. Свяжитесь с пациентом.",
        "en": "A stage of the plan is overdue. Get in touch with the patient.",
    },
    AlertKind.crm_failed: {
        "ru": "Обмен с {system} не удался: {error}. Проверьте настройки интеграции.",
        "en": "Exchange with {system} failed: {error}. Check the integration's settings.",
    },
}

LABELS: dict[str, dict[Lang, str]] = {
    "clinic": {"ru": "Клиника", "en": "Clinic"},
    "referral": {"ru": "Направление", "en": "Referral"},
    "when": {"ru": "Когда", "en": "When"},
    "open": {"ru": "Открыть", "en": "Open"},
    "digest": {"ru": "Сводка за сутки", "en": "Daily digest"},
    "privacy": {
        "ru": "В письме нет данных пациента: они в панели, после входа.",
        "en": "This e-mail carries no patient data: sign in to the panel to see it.",
    },
    "alerts": {"ru": "событий", "en": "alerts"},
}


class AlertText(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    lines: list[str]
    link: str

    def body(self, lang: Lang) -> str:
        return "\n".join([*self.lines, "", self.link, "", "--", LABELS["privacy"][lang]])


def render(
    alert: AlertRow,
    *,
    clinic_name: str,
    invite_code: str | None,
    tz: ZoneInfo,
    lang: Lang,
    link: str,
) -> AlertText:
    kind = AlertKind(alert.kind)
    details = alert.details
    due = details.get("due_at")
    milestone = details.get("milestone", "")
    fill = {
        "due": texts.day_time(datetime.fromisoformat(due), tz, lang) if due else "—",
        "milestone": texts.MILESTONES.get(milestone, {}).get(lang, milestone),
        "system": details.get("system", "CRM"),
        "error": (details.get("error") or "—")[:200],
    }
    lines = [
        WHAT_TO_DO[kind][lang].format(**fill),
        "",
        f"{LABELS['clinic'][lang]}: {clinic_name}",
    ]
    if invite_code:
        lines.append(f"{LABELS['referral'][lang]}: {invite_code}")
    lines.append(f"{LABELS['when'][lang]}: {texts.day_time(alert.happened_at, tz, lang)}")
    subject = f"{SUBJECTS[kind][lang]} · {clinic_name}"
    if invite_code:
        subject += f" · {invite_code}"
    return AlertText(subject=subject, lines=lines, link=link)


def digest_subject(count: int, lang: Lang) -> str:
    return f"plantrack: {LABELS['digest'][lang]} · {count} {LABELS['alerts'][lang]}"
