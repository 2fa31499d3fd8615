"""What patients read, in Russian and English: money, dates, steps, questions, the chart.

Numbers and dates are formatted by Babel (CLDR rules: "5 декабря", "6 500 ₽"); the
words are here, side by side per language, so a missing translation is easy to see.
"""

from datetime import datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from backend.domain.odontogram import ChartTexts

Lang = Literal["ru", "en"]
LANGS: tuple[Lang, ...] = ("ru", "en")

_SYMBOLS = {"RUB": "₽"}


@lru_cache(maxsize=8192)  # Babel's formatting is slow, and prices repeat
def money(amount: int, currency: str, lang: Lang) -> str:
    """'6 500 ₽' / '₽6,500'; kopecks only when there are some."""
    value = amount / 100
    whole = amount % 100 == 0
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return format_currency(value, currency, locale=lang)
    number = format_decimal(value, format="#,##0" if whole else "#,##0.00", locale=lang)
    return f"{number}\u00a0{symbol}" if lang == "ru" else f"{symbol}{number}"


def day(at: datetime, tz: ZoneInfo, lang: Lang) -> str:
    return format_date(at.astimezone(tz), "d MMMM" if lang == "ru" else "d MMM", locale=lang)


def day_time(at: datetime, tz: ZoneInfo, lang: Lang) -> str:
    pattern = "d MMMM, HH:mm" if lang == "ru" else "d MMM, HH:mm"
    return format_datetime(at.astimezone(tz), pattern, locale=lang)


STEPS: dict[str, dict[Lang, str]] = {
    "sent": {"ru": "Направление отправлено в клинику", "en": "Referral sent to the clinic"},
    "delivered": {"ru": "Клиника получила направление", "en": "The clinic has your referral"},
    "unreachable": {
        "ru": "Клиника не смогла до вас дозвониться",
        "en": "The clinic could not reach you",
    },
    "contacted": {"ru": "Клиника связалась с вами", "en": "The clinic has called you"},
    "booked": {"ru": "Вы записаны на приём", "en": "You are booked"},
    "declined": {"ru": "Вы отказались от записи", "en": "You declined the appointment"},
    "visited": {"ru": "Консультация прошла", "en": "Consultation done"},
    "in_treatment": {"ru": "Идёт лечение", "en": "Treatment in progress"},
    "completed": {"ru": "Лечение завершено", "en": "Treatment completed"},
    "closed": {"ru": "Направление закрыто", "en": "Referral closed"},
    "transferred": {
        "ru": "Лечение продолжается в другой клинике",
        "en": "Treatment continues at another clinic",
    },
}

MILESTONES: dict[str, dict[Lang, str]] = {
    "contacted": {"ru": "Звонок из клиники", "en": "Call from the clinic"},
    "booked": {"ru": "Запись на приём", "en": "Appointment booked"},
    "visited": {"ru": "Визит в клинику", "en": "Visit to the clinic"},
    "completed": {"ru": "Лечение завершено", "en": "Treatment completed"},
    "item": {"ru": "Процедура", "en": "Procedure"},
    "receipt": {"ru": "Чек об оплате", "en": "Payment receipt"},
    "plan": {"ru": "Согласие с новым планом", "en": "Agreement to the new plan"},
}

# What a patient is shown of a verification state: their part, not the audit's.
PATIENT_STATES: dict[str, tuple[str, dict[Lang, str]]] = {
    "verified": ("confirmed", {"ru": "Подтверждено", "en": "Confirmed"}),
    "awaiting_patient": (
        "needs_your_answer",
        {"ru": "Ждём вашего ответа", "en": "Waiting for your answer"},
    ),
    "disputed": ("under_review", {"ru": "Проверяем", "en": "Being checked"}),
    "clinic_silent": ("under_review", {"ru": "Проверяем", "en": "Being checked"}),
    "rejected": ("not_confirmed", {"ru": "Не подтверждено", "en": "Not confirmed"}),
    "unverified": ("not_confirmed", {"ru": "Не подтверждено", "en": "Not confirmed"}),
    "overdue": (
        "waiting_for_clinic",
        {"ru": "Ждём действий клиники", "en": "Waiting for the clinic"},
    ),
    "pending": ("upcoming", {"ru": "Впереди", "en": "Upcoming"}),
}

SCHEDULE: dict[str, dict[Lang, str]] = {
    "not_started": {"ru": "Лечение ещё не началось", "en": "Treatment has not started yet"},
    "on_track": {"ru": "Идёт по плану", "en": "On schedule"},
    "behind": {"ru": "Отстаёт от плана", "en": "Behind schedule"},
    "done": {"ru": "Выполнено", "en": "Done"},
    "stopped": {"ru": "Лечение остановлено", "en": "Treatment stopped"},
}

# FHIR CarePlan activity status words.
ITEM_STATUS: dict[str, dict[Lang, str]] = {
    "completed": {"ru": "Выполнено", "en": "Done"},
    "in-progress": {"ru": "Текущий этап", "en": "Current stage"},
    "not-started": {"ru": "Запланировано", "en": "Planned"},
    "stopped": {"ru": "Не будет выполнено", "en": "Will not be done"},
}

ANSWERS: dict[str, dict[Lang, str]] = {
    "yes": {"ru": "Да", "en": "Yes"},
    "no": {"ru": "Нет", "en": "No"},
    "unsure": {"ru": "Не помню", "en": "Not sure"},
}

# The follow-up to "yes, they called" (backend.domain.contact_time).
WHEN_CALLED: dict[Lang, str] = {"ru": "Когда вам позвонили?", "en": "When did they call?"}
CALLED_ON: dict[str, dict[Lang, str]] = {
    "today": {"ru": "Сегодня", "en": "Today"},
    "yesterday": {"ru": "Вчера", "en": "Yesterday"},
    "earlier": {"ru": "Раньше", "en": "Earlier"},
}

# {clinic}, {when}, {what}, {tooth} are filled in.
QUESTIONS: dict[str, dict[Lang, str]] = {
    "confirm_contact": {
        "ru": "Звонили ли вам из клиники «{clinic}» {when}?",
        "en": "Did «{clinic}» call you on {when}?",
    },
    "confirm_booking": {
        "ru": "Вы записаны в «{clinic}» на {when}?",
        "en": "Are you booked at «{clinic}» for {when}?",
    },
    "confirm_visit": {
        "ru": "Вы были на приёме в «{clinic}» {when}?",
        "en": "Did you come to «{clinic}» on {when}?",
    },
    "confirm_item": {"ru": "Вам сделали: {what}{tooth}?", "en": "Was this done: {what}{tooth}?"},
    "confirm_completed": {
        "ru": "Лечение в «{clinic}» завершено?",
        "en": "Is your treatment at «{clinic}» finished?",
    },
    "contact_check": {
        "ru": "Вам уже позвонили из клиники «{clinic}»?",
        "en": "Has «{clinic}» called you yet?",
    },
    "visit_check": {
        "ru": "Вы пришли на приём в «{clinic}» {when}?",
        "en": "Did you go to your appointment at «{clinic}» on {when}?",
    },
    "confirm_plan": {
        "ru": "«{clinic}» изменила ваш план лечения {when}. Вы согласны с новым планом?",
        "en": "«{clinic}» changed your treatment plan on {when}. Do you agree with the new plan?",
    },
}

TOOTH = {"ru": " (зуб {n})", "en": " (tooth {n})"}

NEXT_STEP: dict[str, dict[Lang, str]] = {
    "wait_call": {
        "ru": "Клиника позвонит вам, чтобы записать на приём",
        "en": "The clinic will call you to book an appointment",
    },
    "call_again": {
        "ru": "Клиника не дозвонилась. Позвоните ей: {phone}",
        "en": "The clinic could not reach you. Call them: {phone}",
    },
    "appointment": {"ru": "Приём {when}", "en": "Appointment on {when}"},
    "book": {
        "ru": "Запишитесь на следующий приём: {phone}",
        "en": "Book your next appointment: {phone}",
    },
    "item": {"ru": "Следующая процедура: {what}", "en": "Next procedure: {what}"},
    "done": {
        "ru": "Лечение завершено. Не забудьте про осмотр через полгода",
        "en": "Treatment completed. Remember your check-up in six months",
    },
    "closed": {"ru": "Направление закрыто", "en": "This referral is closed"},
    "answer": {
        "ru": "Ответьте на вопрос о лечении",
        "en": "Answer a question about your treatment",
    },
}

PLAN_DIFF: dict[str, dict[Lang, str]] = {
    "same": {
        "ru": "План клиники совпадает с предварительным",
        "en": "The clinic's plan matches the estimate",
    },
    "none": {
        "ru": "Клиника ещё не составила свой план",
        "en": "The clinic has not made its plan yet",
    },
    "more": {
        "ru": "План клиники дороже предварительного на {delta}",
        "en": "The clinic's plan costs {delta} more than the estimate",
    },
    "less": {
        "ru": "План клиники дешевле предварительного на {delta}",
        "en": "The clinic's plan costs {delta} less than the estimate",
    },
    "equal": {
        "ru": "Состав плана изменился, сумма та же",
        "en": "The plan changed but costs the same",
    },
    "changed": {
        "ru": "Клиника изменила предварительный план",
        "en": "The clinic changed the estimated plan",
    },
}

STAGE = {"ru": "Этап {n}", "en": "Stage {n}"}

# Erasure cannot be undone, so the app shows `confirm` first and sends the word.
ERASURE: dict[str, dict[Lang, str]] = {
    "confirm": {
        "ru": "Мы удалим ваше имя, номер телефона, ваши комментарии и отзывы, адреса "
        "уведомлений на ваших устройствах и завершим все входы в приложение. Обезличенная "
        "история направлений останется для статистики, но связать её с вами будет нельзя. "
        'Отменить удаление нельзя. Чтобы подтвердить, отправьте {"confirm": "erase"}.',
        "en": "We will erase your name, phone number, your comments and reviews, and the push "
        "addresses of your devices, and sign you out everywhere. The anonymous history of your "
        "referrals stays for statistics, but it can no longer be linked to you. This cannot be "
        'undone. To confirm, send {"confirm": "erase"}.',
    },
    "done": {
        "ru": "Ваши данные удалены. Вы вышли из приложения на всех устройствах.",
        "en": "Your data has been erased. You are signed out on every device.",
    },
}

UPGRADE: dict[Lang, str] = {
    "ru": "Эта версия приложения больше не поддерживается. Обновите приложение, чтобы продолжить.",
    "en": "This version of the app is no longer supported. Please update the app to continue.",
}

SPECIALIZATIONS: dict[str, dict[Lang, str]] = {
    "therapy": {"ru": "терапия", "en": "therapy"},
    "endodontics": {"ru": "эндодонтия", "en": "endodontics"},
    "periodontics": {"ru": "пародонтология", "en": "periodontics"},
    "hygiene": {"ru": "гигиена", "en": "hygiene"},
    "surgery": {"ru": "хирургия", "en": "surgery"},
    "implantology": {"ru": "имплантология", "en": "implantology"},
    "orthopedics": {"ru": "ортопедия", "en": "prosthetics"},
    "orthodontics": {"ru": "ортодонтия", "en": "orthodontics"},
    "diagnostics": {"ru": "диагностика", "en": "diagnostics"},
}

CONDITIONS: dict[str, dict[Lang, tuple[str, str]]] = {
    # condition: {lang: (label, code)}
    "healthy": {"ru": ("Здоров", ""), "en": ("Healthy", "")},
    "caries": {"ru": ("Кариес", "К"), "en": ("Caries", "C")},
    "filled": {"ru": ("Пломба", "П"), "en": ("Filling", "F")},
    "root_canal": {"ru": ("Лечение каналов", "Э"), "en": ("Root canal", "RC")},
    "crown": {"ru": ("Коронка", "Кр"), "en": ("Crown", "Cr")},
    "missing": {"ru": ("Нет зуба", "–"), "en": ("Missing", "–")},
    "implant": {"ru": ("Имплант", "И"), "en": ("Implant", "I")},
    "extraction": {"ru": ("Удаление", "У"), "en": ("To remove", "X")},
    "bridge": {"ru": ("Мост", "М"), "en": ("Bridge", "B")},
    "periodontitis": {"ru": ("Пародонтит", "Пд"), "en": ("Periodontitis", "P")},
}

CHART: dict[str, dict[Lang, str]] = {
    "before": {"ru": "Зубы до лечения", "en": "Your teeth before treatment"},
    "after": {"ru": "Зубы после лечения (план)", "en": "Your teeth after treatment (planned)"},
    "now": {"ru": "Зубы сейчас", "en": "Your teeth now"},
    "description": {
        "ru": "Схема 32 постоянных зубов по системе FDI: верхняя челюсть сверху, нижняя снизу, "
        "ваша правая сторона слева.",
        "en": "Chart of the 32 permanent teeth in FDI numbering: upper jaw on top, lower jaw "
        "below, your right side on the left.",
    },
    "in_plan": {"ru": "в плане лечения", "en": "in the treatment plan"},
    "done": {"ru": "сделано", "en": "done"},
    "upper": {"ru": "Верхняя челюсть", "en": "Upper jaw"},
    "lower": {"ru": "Нижняя челюсть", "en": "Lower jaw"},
}


TOOTH_KINDS: dict[str, dict[Lang, str]] = {
    "incisor": {"ru": "резец", "en": "incisor"},
    "canine": {"ru": "клык", "en": "canine"},
    "premolar": {"ru": "премоляр", "en": "premolar"},
    "molar": {"ru": "моляр", "en": "molar"},
}


def chart_texts(phase: str, lang: Lang) -> ChartTexts:
    return ChartTexts(
        title=CHART[phase][lang],
        description=CHART["description"][lang],
        conditions={c: v[lang][0] for c, v in CONDITIONS.items()},
        codes={c: v[lang][1] for c, v in CONDITIONS.items()},
        in_plan=CHART["in_plan"][lang],
        done=CHART["done"][lang],
        upper=CHART["upper"][lang],
        lower=CHART["lower"][lang],
        kinds={k: v[lang] for k, v in TOOTH_KINDS.items()},
    )


def item_title(title_ru: str, title_en: str, lang: Lang) -> str:
    """The patient's language when the plan has it, else whichever it has."""
    return (title_ru if lang == "ru" else title_en) or title_ru or title_en


# Pushes say only that there is something to look at: no clinic, no procedure, no
# diagnosis (medical secrecy: a push crosses Google's servers and shows on a locked
# screen). The app fetches the details with its token.
PUSH: dict[str, dict[Lang, tuple[str, str]]] = {
    "question": {
        "ru": ("Вопрос о лечении", "У вас новый вопрос о лечении. Ответ — в одно касание."),
        "en": (
            "A question about your treatment",
            "You have a new question about your treatment. One tap to answer.",
        ),
    },
    "remind_24h": {
        "ru": ("Напоминание о записи", "Завтра у вас запись. Подтвердите в приложении."),
        "en": ("Appointment reminder", "You have an appointment tomorrow. Confirm it in the app."),
    },
    "remind_2h": {
        "ru": ("Скоро приём", "Через два часа у вас запись."),
        "en": ("Appointment soon", "Your appointment is in two hours."),
    },
    "behind": {
        "ru": ("Ваш план лечения", "Есть новости по вашему плану лечения."),
        "en": ("Your treatment plan", "There is news about your treatment plan."),
    },
    "inactive": {
        "ru": ("Ждём ваш ответ", "Ответьте на вопросы о лечении: это займёт минуту."),
        "en": (
            "We are waiting for your answer",
            "Please answer the questions about your treatment: it takes a minute.",
        ),
    },
    "recall": {
        "ru": ("Пора на осмотр", "Прошло полгода: время для профилактического осмотра."),
        "en": ("Time for a check-up", "Six months have passed: time for a check-up."),
    },
}

# SMS to patients without the app (backend.services.sms). Like pushes, no health data:
# the invite names the clinic (the patient needs to know who will call) and nothing
# about teeth or treatment; {link} is the patient's own page. Short, because every
# 67 characters of Cyrillic are another billed part (backend.domain.sms.sms_parts).
SMS: dict[str, dict[Lang, str]] = {
    # Cyrillic makes a text UCS-2: 70 characters in one part. With a public address of up
    # to 24 characters ("https://pt.example.ru" + "/p/" + 22), all but the invite fit one.
    "invite": {
        "ru": "«{clinic}» позвонит вам, чтобы записать на приём. Ваша страница: {link}",
        "en": "{clinic} will call you to book an appointment. Your page: {link}",
    },
    "question": {
        "ru": "Вопрос по направлению: {link}",
        "en": "A question about your referral, one tap to answer: {link}",
    },
    "remind_24h": {
        "ru": "Завтра приём: {link}",
        "en": "You have an appointment tomorrow. Please confirm: {link}",
    },
    "remind_2h": {
        "ru": "Приём через 2 часа: {link}",
        "en": "Your appointment is in two hours: {link}",
    },
    "inactive": {
        "ru": "Ждём ваш ответ: {link}",
        "en": "We are waiting for your answer, it takes a minute: {link}",
    },
    "code": {
        "ru": "Код для входа: {code}. Никому его не сообщайте.",
        "en": "Your sign-in code: {code}. Do not share it.",
    },
}

# --- plan variants, the printable plan (issue 19) ------------------------------------

VARIANT: dict[str, dict[Lang, str]] = {
    "untitled": {"ru": "Вариант {v}", "en": "Option {v}"},
    "only": {"ru": "План лечения", "en": "Treatment plan"},
    "letter": {"ru": "Вариант {v}", "en": "Option {v}"},
    "chosen_by_patient": {"ru": "Вы выбрали этот вариант", "en": "You chose this option"},
    "chosen_by_clinic": {"ru": "Выбран в клинике", "en": "Chosen at the clinic"},
    "counted": {"ru": "Этот вариант в вашем плане", "en": "This option is in your plan"},
    "course": {"ru": "≈ {days} дн. лечения", "en": "≈ {days} days of treatment"},
    "common": {"ru": "Общее для всех вариантов", "en": "In every option"},
    "pros": {"ru": "Плюсы", "en": "Pros"},
    "cons": {"ru": "Минусы", "en": "Cons"},
    "visit": {"ru": "Приём {n}", "en": "Visit {n}"},
    "problem": {"ru": "Что нашли", "en": "What we found"},
    "solution": {"ru": "Что сделаем", "en": "What we will do"},
    "specialists": {"ru": "Специалисты", "en": "Specialists"},
    "total": {"ru": "Итого", "en": "Total"},
    "prices_hidden": {
        "ru": "Стоимость клиника сообщит на консультации",
        "en": "The clinic will tell you the price at the consultation",
    },
}


def variant_title(letter: str | None, title_ru: str, title_en: str, lang: Lang) -> str:
    """ "Вариант B: Мостовидный протез"; a plan without variants is just "the plan"."""
    if letter is None:
        return VARIANT["only"][lang]
    named = item_title(title_ru, title_en, lang)
    head = VARIANT["letter"][lang].format(v=letter)
    return f"{head}: {named}" if named else head


def points(text_ru: str, text_en: str, lang: Lang) -> list[str]:
    """Pros or cons as a list: a point a line, in the patient's language when written."""
    text = item_title(text_ru, text_en, lang)
    return [line.strip(" •-\t") for line in text.splitlines() if line.strip(" •-\t")]


PICTURES: dict[str, dict[Lang, str]] = {
    "photo": {"ru": "Фото", "en": "Photo"},
    "xray": {"ru": "Рентген", "en": "X-ray"},
    "scan": {"ru": "Скан", "en": "Scan"},
    "mouth": {"ru": " (вся челюсть)", "en": " (whole mouth)"},
    "before": {"ru": "До лечения", "en": "Before"},
    "progress": {"ru": "В ходе лечения", "en": "During treatment"},
    "after": {"ru": "После лечения", "en": "After"},
}
