"""Words of the patient's web page, Russian and English side by side. Texts the app
shows too (questions, steps, states, money) come from backend.services.texts."""

from typing import Literal

Lang = Literal["ru", "en"]

WORDS: dict[str, dict[Lang, str]] = {
    "title": {"ru": "Ваше направление", "en": "Your referral"},
    "plan_title": {"ru": "Ваш план лечения", "en": "Your treatment plan"},
    "clinic": {"ru": "Клиника «{clinic}»", "en": "{clinic}"},
    "other_language": {"ru": "English", "en": "Русский"},
    "questions": {"ru": "Вопросы к вам", "en": "Questions for you"},
    "no_questions": {
        "ru": "Вопросов пока нет. Когда понадобится ваш ответ, мы пришлём SMS.",
        "en": "No questions for now. When we need your answer, we will send an SMS.",
    },
    "gated_question": {
        "ru": "Вопрос о вашем плане лечения. Чтобы увидеть его и ответить, войдите по коду из SMS.",
        "en": "A question about your treatment plan. To see and answer it, sign in with a "
        "code by SMS.",
    },
    "sign_in_to_answer": {"ru": "Войти по коду и ответить", "en": "Sign in with a code to answer"},
    "appointment": {"ru": "Ваша запись", "en": "Your appointment"},
    "appointment_at": {"ru": "Приём {when}", "en": "Appointment on {when}"},
    "confirm": {"ru": "Приду", "en": "I will come"},
    "decline": {"ru": "Не приду", "en": "I will not come"},
    "reschedule": {"ru": "Нужно другое время", "en": "I need another time"},
    "your_reply": {"ru": "Ваш ответ: {reply}", "en": "Your reply: {reply}"},
    "rating": {"ru": "Как клиника связалась с вами", "en": "How the clinic got in touch"},
    "called": {"ru": "Вам звонили из клиники?", "en": "Did the clinic call you?"},
    "yes_called": {"ru": "Да, звонили", "en": "Yes, they called"},
    "not_called": {"ru": "Нет, не звонили", "en": "No, nobody called"},
    "when_called": {"ru": "Когда звонили?", "en": "When did they call?"},
    "when_called_hint": {
        "ru": "Если звонили — укажите день (по умолчанию сегодня).",
        "en": "If they called, give the day (today unless you change it).",
    },
    "bad_call_day": {
        "ru": "День звонка не может быть позже сегодняшнего. Вернитесь и выберите другой день.",
        "en": "The day of the call cannot be after today. Go back and choose another day.",
    },
    "options_title": {"ru": "Варианты лечения", "en": "Treatment options"},
    "options_gated": {
        "ru": "Клиника предлагает вариантов лечения: {n}. Чтобы сравнить их и выбрать, "
        "войдите по коду из SMS.",
        "en": "The clinic offers {n} treatment options. To compare them and choose, sign in "
        "with a code by SMS.",
    },
    "options_compare": {"ru": "Сравнение вариантов", "en": "The options compared"},
    "options_hint": {
        "ru": "Листайте карточки вбок, чтобы сравнить. Выбор можно изменить.",
        "en": "Swipe the cards sideways to compare. You can change your choice.",
    },
    "choose_this": {"ru": "Выбрать этот вариант", "en": "Choose this option"},
    "choose_instead": {"ru": "Выбрать вместо этого", "en": "Choose this instead"},
    "you_chose": {"ru": "Вы выбрали: {title}", "en": "You chose: {title}"},
    "other_options": {"ru": "Другие варианты", "en": "The other options"},
    "option_column": {"ru": "Вариант", "en": "Option"},
    "length_column": {"ru": "Срок", "en": "Length"},
    "stars": {"ru": "Оценка звонка", "en": "Rate the call"},
    "stars_n": {"ru": "{n} из 5", "en": "{n} of 5"},
    "no_stars": {"ru": "Без оценки", "en": "No rating"},
    "send": {"ru": "Отправить", "en": "Send"},
    "whole_plan": {"ru": "Весь план лечения", "en": "Your whole treatment plan"},
    "whole_plan_hint": {
        "ru": "Прогресс, этапы, снимки и схема зубов — после входа по коду из SMS.",
        "en": "Progress, stages, pictures and the chart of your teeth, after you sign in "
        "with a code by SMS.",
    },
    "back": {"ru": "К вопросам", "en": "Back to the questions"},
    "sign_in_title": {"ru": "Вход по коду из SMS", "en": "Sign in with a code by SMS"},
    "sign_in_text": {
        "ru": "Мы отправим шестизначный код на номер, на который пришло направление: {phone}.",
        "en": "We will send a six-digit code to the number the referral was sent to: {phone}.",
    },
    "send_code": {"ru": "Прислать код", "en": "Send me a code"},
    "code_sent": {
        "ru": "Код отправлен. Он действует 10 минут.",
        "en": "The code is on its way. It works for 10 minutes.",
    },
    "code": {"ru": "Код из SMS", "en": "Code from the SMS"},
    "enter": {"ru": "Войти", "en": "Sign in"},
    "send_again": {"ru": "Прислать код ещё раз", "en": "Send the code again"},
    "wrong_code": {
        "ru": "Код неверный или устарел. Проверьте SMS или запросите новый.",
        "en": "The code is wrong or has expired. Check the SMS or ask for a new one.",
    },
    "too_many": {
        "ru": "Слишком много попыток. Попробуйте снова через {minutes} мин.",
        "en": "Too many attempts. Try again in {minutes} min.",
    },
    "no_sms": {
        "ru": "На этот номер нельзя отправить SMS.",
        "en": "SMS cannot be sent to this number.",
    },
    "progress": {"ru": "Выполнено", "en": "Done"},
    "progress_of": {"ru": "{done} из {total}", "en": "{done} of {total}"},
    "items_done": {"ru": "процедур: {done} из {total}", "en": "procedures: {done} of {total}"},
    "expected_finish": {"ru": "Ожидаемое окончание: {when}", "en": "Expected to finish: {when}"},
    "stages": {"ru": "Этапы", "en": "Stages"},
    "tooth": {"ru": "зуб {n}", "en": "tooth {n}"},
    "chart": {"ru": "Схема зубов", "en": "Your teeth"},
    "before": {"ru": "До лечения", "en": "Before"},
    "after": {"ru": "После лечения (план)", "en": "After (planned)"},
    "comparison": {"ru": "План клиники и предварительный план", "en": "Clinic's plan and estimate"},
    "estimate": {"ru": "Предварительный план", "en": "Estimate"},
    "clinic_plan": {"ru": "План клиники", "en": "Clinic's plan"},
    "reason": {"ru": "Почему изменился план: {reason}", "en": "Why it changed: {reason}"},
    "added": {"ru": "добавлено", "en": "added"},
    "dropped": {"ru": "убрано", "en": "dropped"},
    "repriced": {"ru": "новая цена", "en": "new price"},
    "appointments": {"ru": "Записи", "en": "Appointments"},
    # FHIR Appointment status words, as the patient reads them.
    "appointment_booked": {"ru": "запись", "en": "booked"},
    "appointment_fulfilled": {"ru": "приём состоялся", "en": "you came"},
    "appointment_cancelled": {"ru": "отменена", "en": "cancelled"},
    "appointment_noshow": {"ru": "не состоялся", "en": "missed"},
    "reply_accepted": {"ru": "вы подтвердили", "en": "you confirmed"},
    "reply_declined": {"ru": "вы отказались", "en": "you declined"},
    "reply_tentative": {"ru": "вы просили другое время", "en": "you asked for another time"},
    "pictures": {"ru": "Снимки", "en": "Pictures"},
    "no_pictures": {"ru": "Снимков пока нет.", "en": "No pictures yet."},
    "milestones": {"ru": "Что вы подтвердили", "en": "What you confirmed"},
    "sign_out": {"ru": "Выйти на этом устройстве", "en": "Sign out on this device"},
    "sign_out_everywhere": {"ru": "Выйти на всех устройствах", "en": "Sign out everywhere"},
    "signed_in_for": {
        "ru": "Вход на этом устройстве действует 30 дней.",
        "en": "This device stays signed in for 30 days.",
    },
    "app_title": {"ru": "Удобнее в приложении", "en": "Easier in the app"},
    "app_text": {
        "ru": "Уведомления вместо SMS, план и снимки всегда под рукой.",
        "en": "Notifications instead of SMS; your plan and pictures always at hand.",
    },
    "app_store": {"ru": "Скачать в App Store", "en": "Download on the App Store"},
    "google_play": {"ru": "Скачать в Google Play", "en": "Get it on Google Play"},
    "app_soon": {
        "ru": "Приложение plantrack скоро появится в App Store и Google Play.",
        "en": "The plantrack app is coming to the App Store and Google Play.",
    },
    "not_found_title": {"ru": "Страница не найдена", "en": "Page not found"},
    "not_found": {
        "ru": "Ссылка неверна или больше не действует. Если вы ждёте звонка из клиники, "
        "клиника позвонит.",
        "en": "This link is wrong or no longer works. If you are waiting for the clinic's "
        "call, the clinic will call.",
    },
    "error_title": {"ru": "Не получилось", "en": "Something went wrong"},
    "bad_form": {
        "ru": "Форма заполнена не так. Вернитесь и попробуйте ещё раз.",
        "en": "The form was not filled in as expected. Go back and try again.",
    },
    "forbidden": {
        "ru": "Страница устарела. Откройте её заново по ссылке.",
        "en": "This page is out of date. Open it again from the link.",
    },
    # Flash messages after a form (?done=…).
    "done_answered": {"ru": "Спасибо, ответ записан.", "en": "Thank you, your answer is saved."},
    "done_replied": {
        "ru": "Спасибо, клиника увидит ваш ответ.",
        "en": "Thank you, the clinic will see your reply.",
    },
    "done_rated": {"ru": "Спасибо за оценку.", "en": "Thank you for your rating."},
    "done_already": {
        "ru": "На этот вопрос уже есть ответ, или он больше не нужен.",
        "en": "This question was already answered or is no longer needed.",
    },
    "done_chosen": {
        "ru": "Спасибо, ваш выбор записан. Клиника увидит его.",
        "en": "Thank you, your choice is saved. The clinic will see it.",
    },
    "done_signed_out": {"ru": "Вы вышли.", "en": "You are signed out."},
    "privacy": {
        "ru": "Эту страницу видит только тот, у кого есть ссылка из SMS. Не пересылайте её.",
        "en": "Only someone with the link from the SMS can see this page. Do not forward it.",
    },
}


def word(key: str, lang: Lang, **values: object) -> str:
    text = WORDS[key][lang]
    return text.format(**values) if values else text
