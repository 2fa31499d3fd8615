"""Examples for the patient API's documentation. A test decodes each one into its
response type, so an example that drifts from the schema fails the build."""

RID = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
ITEM = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a01"
Q = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a99"
APPT = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a55"
PATIENT = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a11"
CLINIC = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a22"


def _m(amount: int, formatted: str) -> dict:
    return {"amount": amount, "currency": "RUB", "formatted": formatted}


TOKENS = {
    "access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6IjdmM2E5YzFiMmQ0ZSJ9.eyJzdWIiOiIuLi4ifQ.sig",
    "token_type": "Bearer",
    "expires_in": 900,
    "refresh_token": "kq8mZx1vR0c2n3Yb7tP4sW9eU6aH5jL0dF2gQ8xC1vB",
    "refresh_expires_in": 2592000,
    "patient_id": PATIENT,
}

ME = {
    "id": PATIENT,
    "name": "Анна Иванова",
    "phone": "+79161234567",
    "locale": "ru",
    "timezone": "Europe/Moscow",
    "notifications": {"questions": True, "reminders": True, "news": False},
    "quiet_hours": {"start": "21:00:00", "end": "09:00:00"},
}

DEVICE = {
    "token": "fcm-registration-token-example-0123456789",
    "platform": "android",
    "app_version": "1.4.2",
    "locale": "ru",
    "active": True,
    "last_seen_at": "2026-11-23T14:05:00+03:00",
}

QUESTION = {
    "id": Q,
    "referral_id": RID,
    "kind": "confirm_booking",
    "text": "Вы записаны в «Улыбка на Тверской» на 5 декабря, 10:00?",
    "answers": [
        {"value": "yes", "label": "Да"},
        {"value": "no", "label": "Нет"},
        {"value": "unsure", "label": "Не помню"},
    ],
    "asked_at": "2026-11-23T14:05:00+03:00",
    "expires_at": "2026-11-26T14:05:00+03:00",
    "when": None,
}

REFERRAL = {
    "id": RID,
    "step": "in_treatment",
    "step_label": "Идёт лечение",
    "closed_reason": None,
    "sent_at": "2026-11-02T10:00:00+03:00",
    "clinic": {
        "id": CLINIC,
        "name": "Улыбка на Тверской",
        "city": "Москва",
        "address": "ул. Тверская, 12",
        "phone": "+74951234567",
    },
    "progress": {
        "percent_money": 9,
        "percent_items": 50,
        "money_done": _m(650000, "6 500 ₽"),
        "money_total": _m(7150000, "71 500 ₽"),
        "items_done": 1,
        "items_total": 2,
        "current_stage": 2,
        "next_step": "Следующая процедура: Установка импланта",
        "schedule": "on_track",
        "schedule_label": "Идёт по плану",
        "behind_days": 0,
        "expected_finish": "2027-05-16T10:00:00+03:00",
        "planned_finish": "2027-05-16T10:00:00+03:00",
    },
    "stages": [
        {
            "stage": 1,
            "title": "Этап 1: терапия",
            "status": "completed",
            "status_label": "Выполнено",
            "expected_start": "2026-11-09T10:00:00+03:00",
            "expected_end": "2026-11-16T10:00:00+03:00",
            "money": _m(650000, "6 500 ₽"),
            "items": [
                {
                    "item_id": ITEM,
                    "title": "Лечение кариеса, пломба",
                    "tooth": 16,
                    "specialization": "therapy",
                    "specialization_label": "терапия",
                    "price": _m(650000, "6 500 ₽"),
                    "status": "completed",
                    "status_label": "Выполнено",
                    "done_at": "2026-11-12T11:30:00+03:00",
                    "verification": "confirmed",
                }
            ],
        }
    ],
    "plan_comparison": {
        "estimated_total": _m(7150000, "71 500 ₽"),
        "actual_total": _m(7900000, "79 000 ₽"),
        "difference": _m(750000, "7 500 ₽"),
        "summary": "План клиники дороже предварительного на 7 500 ₽",
        "reason": "Добавлена гигиена перед протезированием",
        "changes": [
            {
                "change": "added",
                "title": "Профессиональная гигиена",
                "tooth": None,
                "before": None,
                "after": _m(750000, "7 500 ₽"),
            }
        ],
    },
    "appointments": [
        {
            "id": APPT,
            "starts_at": "2026-12-05T10:00:00+03:00",
            "status": "booked",
            "patient_status": "needs-action",
            "can_respond": True,
        }
    ],
    "questions": [QUESTION],
    "milestones": [
        {
            "milestone": "contacted",
            "label": "Звонок из клиники",
            "state": "confirmed",
            "state_label": "Подтверждено",
        },
        {
            "milestone": "booked",
            "label": "Запись на приём",
            "state": "needs_your_answer",
            "state_label": "Ждём вашего ответа",
        },
    ],
}

CHANGES = {
    "changes": [
        {"kind": "referral", "id": RID, "referral_id": RID, "version": 41},
        {"kind": "question", "id": Q, "referral_id": RID, "version": 41},
        {"kind": "appointment", "id": APPT, "referral_id": RID, "version": 42},
    ],
    "cursor": 42,
    "more": False,
}

REFERRAL_PAGE = {
    "items": [
        {
            "id": RID,
            "clinic_name": "Улыбка на Тверской",
            "step": "in_treatment",
            "step_label": "Идёт лечение",
            "sent_at": "2026-11-02T10:00:00+03:00",
            "percent_money": 9,
            "percent_items": 50,
            "money_total": _m(7150000, "71 500 ₽"),
            "next_step": "Ответьте на вопрос о лечении",
            "open_questions": 1,
        }
    ],
    "next_cursor": None,
}

QUESTION_PAGE = {"items": [QUESTION], "next_cursor": None}

TEETH = {
    "phase": "before",
    "title": "Зубы до лечения",
    "teeth": [
        {
            "tooth": 16,
            "condition": "caries",
            "label": "Кариес",
            "code": "К",
            "in_plan": True,
            "done": False,
            "partly_done": False,
        },
        {
            "tooth": 17,
            "condition": "healthy",
            "label": "Здоров",
            "code": "",
            "in_plan": False,
            "done": False,
            "partly_done": False,
        },
    ],
    "legend": {"caries": "Кариес", "healthy": "Здоров"},
}

TEETH_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 700" role="img">'
    '<title id="chart-title">Зубы до лечения</title>'
    '<g class="tooth" data-tooth="16" data-condition="caries">…</g>…</svg>'
)

PICTURE = "/media/01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a77"
MEDIA = {
    "id": "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a77",
    "kind": "xray",
    "phase": "before",
    "tooth": None,
    "caption": "Ортопантомограмма",
    "content_type": "image/jpeg",
    "url": "/media/01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a77?exp=1795440000&sig=9c1f…",
    "url_expires_at": "2026-11-23T14:15:00+03:00",
    "width": 2976,
    "height": 1536,
    "sizes": {
        "thumb": {
            "width": 320,
            "height": 165,
            "url": PICTURE + "?v=thumb.webp&exp=1795440000&sig=41d0…",
            "content_type": "image/webp",
            "fallback_url": PICTURE + "?v=thumb.jpeg&exp=1795440000&sig=7e2a…",
            "fallback_content_type": "image/jpeg",
        },
        "screen": {
            "width": 1600,
            "height": 826,
            "url": PICTURE + "?v=screen.webp&exp=1795440000&sig=c93b…",
            "content_type": "image/webp",
            "fallback_url": PICTURE + "?v=screen.jpeg&exp=1795440000&sig=0b6f…",
            "fallback_content_type": "image/jpeg",
        },
        "original": {
            "width": 2976,
            "height": 1536,
            "url": "/media/01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a77?exp=1795440000&sig=9c1f…",
            "content_type": "image/jpeg",
        },
    },
}

MEDIA_LIST = {"items": [MEDIA]}

RECORDED = {
    "event_id": 4812,
    "duplicate": False,
    "step": "visited",
    "step_label": "Консультация прошла",
}

RECEIPT = {
    "event_id": 4813,
    "amount": _m(650000, "6 500 ₽"),
    "issued_at": "2026-11-12T11:42:00+03:00",
    "match": "matches",
    "reported_amount": _m(650000, "6 500 ₽"),
}

EXPORT = {
    "exported_at": "2026-11-24T09:00:00Z",
    "profile": {
        "id": PATIENT,
        "name": "Анна Иванова",
        "phone": "+79161234567",
        "locale": "ru",
        "timezone": "Europe/Moscow",
        "signed_in_with_firebase": True,
        "created_at": "2026-11-02T07:00:00Z",
    },
    "consents": {
        "notifications": {"questions": True, "reminders": True, "news": False},
        "quiet_hours_start": None,
        "quiet_hours_end": None,
    },
    "referrals": [
        {
            "id": RID,
            "clinic_id": CLINIC,
            "clinic_name": "Улыбка на Тверской",
            "invite_code": "7KQ2M9XR4T",
            "sent_at": "2026-11-02T07:00:00Z",
            "step": "in_treatment",
            "closed_reason": None,
            "transferred_from": None,
            "currency": "RUB",
            "estimated_amount": 7150000,
            "planned_amount": 7150000,
            "executed_amount": 650000,
            "paid_amount": 650000,
        }
    ],
    "plans": [
        {
            "id": "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a33",
            "referral_id": RID,
            "version": 1,
            "origin": "estimated",
            "currency": "RUB",
            "chosen_variant": None,
            "reason": None,
            "created_at": "2026-11-02T07:00:00Z",
            "items": [
                {
                    "item_id": ITEM,
                    "stage": 1,
                    "variant": None,
                    "specialization": "therapy",
                    "code": "A16.07.002",
                    "title_ru": "Лечение кариеса",
                    "title_en": "Caries treatment",
                    "tooth": 16,
                    "price": 650000,
                }
            ],
            "teeth": [{"tooth": 16, "phase": "before", "condition": "caries", "note": ""}],
        }
    ],
    "appointments": [
        {
            "id": APPT,
            "referral_id": RID,
            "starts_at": "2026-12-05T07:00:00Z",
            "status": "booked",
            "patient_status": "accepted",
        }
    ],
    "answers": [
        {
            "question_id": Q,
            "referral_id": RID,
            "kind": "confirm_contact",
            "milestone": "contacted",
            "status": "completed",
            "asked_at": "2026-11-03T09:00:00Z",
            "answered_at": "2026-11-03T10:12:00Z",
            "answer": "yes",
        }
    ],
    "statements": [
        {
            "event_id": 4812,
            "referral_id": RID,
            "kind": "patient_answer",
            "occurred_at": "2026-11-03T10:12:00Z",
            "recorded_at": "2026-11-03T10:12:00Z",
            "body": {
                "kind": "patient_answer",
                "question_id": Q,
                "milestone": "contacted",
                "answer": "yes",
                "appointment_at": None,
                "note": "Позвонили в тот же день",
            },
        }
    ],
    "contact_ratings": [
        {
            "referral_id": RID,
            "called": True,
            "stars": 5,
            "comment": "Позвонили в тот же день",
            "updated_at": "2026-11-03T10:13:00Z",
        }
    ],
    "devices": [
        {
            "token": "fcm-registration-token-example-0123456789",
            "kind": "fcm_token",
            "platform": "android",
            "app_version": "1.4.2",
            "locale": "ru",
            "active": True,
            "created_at": "2026-11-03T10:00:00Z",
            "last_seen_at": "2026-11-23T11:05:00Z",
            "deactivated_at": None,
        }
    ],
    "sessions": [
        {
            "created_at": "2026-11-23T11:05:00Z",
            "expires_at": "2026-12-23T11:05:00Z",
            "revoked_at": None,
        }
    ],
    "media": [
        {
            "id": "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a77",
            "referral_id": RID,
            "kind": "xray",
            "phase": "before",
            "tooth": None,
            "caption": "ОПТГ",
            "content_type": "image/png",
            "created_at": "2026-11-02T07:05:00Z",
        }
    ],
    "staff_access": [
        {"at": "2026-11-03T08:30:00Z", "role": "clinic_coordinator", "action": "view_referral"}
    ],
    "text_messages": [
        {
            "kind": "invite",
            "referral_id": RID,
            "status": "sent",
            "reason": None,
            "planned_at": "2026-11-02T07:00:00Z",
            "sent_at": "2026-11-02T07:00:02Z",
            "parts": 2,
        }
    ],
    "web_sessions": [
        {
            "created_at": "2026-11-03T09:10:00Z",
            "expires_at": "2026-12-03T09:10:00Z",
            "revoked_at": None,
        }
    ],
}

ERASED = {
    "erased_at": "2026-11-24T09:00:00Z",
    "status": "erased",
    "message": "Ваши данные удалены. Вы вышли из приложения на всех устройствах.",
}

# Request bodies.
SIGN_IN = {"firebase_id_token": "eyJhbGciOiJSUzI1NiIs…", "invite_code": "7KQ2M9XR4T"}
REFRESH = {"refresh_token": "kq8mZx1vR0c2n3Yb7tP4sW9eU6aH5jL0dF2gQ8xC1vB"}
PROFILE_CHANGE = {"locale": "en", "quiet_hours": {"start": "22:00:00", "end": "08:00:00"}}
DEVICE_IN = {
    "token": "fcm-registration-token-example-0123456789",
    "platform": "android",
    "app_version": "1.4.2",
    "locale": "ru",
}
ANSWER_IN = {"answer": "yes"}
RATING_IN = {
    "called": True,
    "called_on": "today",
    "stars": 5,
    "comment": "Позвонили в тот же день",
}
APPOINTMENT_IN = {"response": "confirm"}
VISIT_CODE_IN = {"code": "482913"}
REPORT_IN = {
    "kind": "contacted",
    "occurred_at": "2026-11-23T12:30:00+03:00",
    "note": "Звонили, записали на пятницу",
}
RECEIPT_IN = {"qr": "t=20261112T1142&s=6500.00&fn=9960440300000001&i=1234&fp=2840123456&n=1"}
ERASURE_IN = {"confirm": "erase"}
