"""Examples for the worklist, call history, the clinic's disputes and scorecard, staff
accounts and alert preferences (the OpenAPI document shows them; a test checks them)."""

from backend.routes.staff_examples import CLINIC, DISPUTES, RID, SCORECARDS, T

STAFF_ID = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a33"

WORKLIST = {
    "items": [
        {
            "referral_id": RID,
            "patient_name": "Анна Иванова",
            "patient_phone": "+79161234567",
            "step": "sent",
            "reason": "sla_passed",
            "reasons": ["sla_passed", "nobody_called"],
            "since": T,
            "due_at": T,
            "key": "sla_passed",
            "callback_note": None,
        }
    ],
    "total": 1,
    "later": [
        {"referral_id": RID, "patient_name": "Олег Петров", "at": T, "note": "просил после 18"}
    ],
    "next_cursor": None,
}
OUTCOME_IN = {
    "outcome": "booked",
    "appointment_at": "2026-11-25T10:00:00+03:00",
    "note": "Записали на консультацию к хирургу",
    "key": "sla_passed",
}
OUTCOME_OUT = {"note_id": RID, "event_id": 42, "step": "booked", "callback_at": None}
CALLS = {
    "items": [
        {
            "id": RID,
            "outcome": "unreachable",
            "note": "Не берёт трубку",
            "by": "Мария, координатор",
            "at": T,
            "callback_at": T,
            "callback_done_at": None,
        }
    ],
    "next_cursor": None,
}
CLINIC_DISPUTES = {
    "items": [
        {
            **DISPUTES["items"][0],
            "clinic_answers": [
                {"note": "Пациент был, есть запись в журнале", "actor": "staff:…", "recorded_at": T}
            ],
        }
    ],
    "next_cursor": None,
}
ANSWER_IN = {"note": "Пациент был на приёме 23 ноября, есть запись в журнале и подпись"}
ANSWER_OUT = {"event_id": 43, "duplicate": False, "step": "visited"}
SCORECARD = SCORECARDS["items"][0]

ACCOUNT = {
    "id": STAFF_ID,
    "email": "coordinator@smile.example",
    "name": "Мария",
    "role": "clinic_coordinator",
    "clinic_id": CLINIC,
    "clinic_name": "Улыбка на Тверской",
    "authenticator_set": True,
    "created_at": T,
    "last_login_at": T,
    "active": True,
    "deactivated_at": None,
}
ACCOUNTS = {"items": [ACCOUNT], "next_cursor": None}
ROLE_IN = {"role": "clinic_manager", "clinic_id": CLINIC}
PASSWORD_IN = {"password": "a new long passphrase"}
ENROLMENT = {
    "account": {**ACCOUNT, "authenticator_set": False},
    "totp_uri": "otpauth://totp/plantrack:coordinator%40smile.example?secret=…&issuer=plantrack",
    "totp_qr_svg": "<svg …>",
}
PREFS = {
    "kinds": ["new_referral", "sla_due", "sla_passed", "nobody_called"],
    "email": True,
    "crm_task": True,
    "digest": False,
    "crm_user_id": "17",
    "lang": "ru",
}
PREFS_OUT = {**PREFS, "available": PREFS["kinds"] + ["patient_declined"], "defaults": True}
ALERTS = {
    "items": [
        {
            "id": 7,
            "kind": "sla_passed",
            "referral_id": RID,
            "happened_at": T,
            "details": {"due_at": T},
        }
    ],
    "next_cursor": None,
}
