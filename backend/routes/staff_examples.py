"""Examples for the clinic and exchange APIs' documentation (checked against the schemas)."""

RID = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
CLINIC = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a22"
STAFF = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a33"
ITEM = "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a01"
T = "2026-11-23T10:15:00+03:00"


def _a(amount: int) -> dict:
    return {"amount": amount, "currency": "RUB"}


SIGN_IN = {
    "email": "coordinator1@plantrack.demo",
    "password": "demo-password-2026",
    "totp": "492817",
}
SESSION = {
    "token": "Qk1v0Jx2c9…",
    "expires_at": "2026-11-23T22:15:00+03:00",
    "idle_minutes": 15,
    "staff_id": STAFF,
    "role": "clinic_coordinator",
    "clinic_id": CLINIC,
}

REFERRAL_ROW = {
    "id": RID,
    "clinic_id": CLINIC,
    "clinic_name": "Улыбка на Тверской",
    "patient_name": "Анна Иванова",
    "patient_phone": "+79161234567",
    "step": "booked",
    "sent_at": T,
    "planned": _a(7150000),
    "executed": _a(0),
    "paid": _a(0),
    "remaining": _a(7150000),
    "disputed": 0,
    "overdue": 0,
}
REFERRAL_LIST = {"items": [REFERRAL_ROW], "next_cursor": None}

CARD = {
    "id": RID,
    "clinic_id": CLINIC,
    "clinic_name": "Улыбка на Тверской",
    "invite_code": "7KQ2M9XR4T",
    "transferred_from": None,
    "patient": {"id": STAFF, "name": "Анна Иванова", "phone": "+79161234567", "locale": "ru"},
    "step": "booked",
    "step_at": {"sent": T, "delivered": T, "contacted": T, "booked": T},
    "closed_reason": None,
    "money": {
        "estimated": 7150000,
        "planned": 7150000,
        "accepted": 7150000,
        "executed": 0,
        "paid": 0,
        "remaining": 7150000,
        "lost": 0,
    },
    "currency": "RUB",
    "plans": [
        {
            "plan_id": RID,
            "version": 1,
            "origin": "estimated",
            "reason": None,
            "created_at": T,
            "total": 650000,
            "items": [
                {
                    "item_id": ITEM,
                    "title_ru": "Лечение кариеса, пломба",
                    "title_en": "Caries treatment, filling",
                    "code": "A16.07.002",
                    "specialization": "therapy",
                    "tooth": 16,
                    "stage": 1,
                    "variant": None,
                    "price": 650000,
                    "done_at": None,
                }
            ],
        }
    ],
    "verifications": [
        {
            "milestone": "contacted",
            "state": "awaiting_patient",
            "clinic_said_at": T,
            "patient_answer": None,
            "patient_said_at": None,
            "due_at": "2026-11-26T10:15:00+03:00",
        }
    ],
    "appointments": [
        {
            "id": RID,
            "starts_at": "2026-12-05T10:00:00+03:00",
            "status": "booked",
            "patient_status": "needs-action",
        }
    ],
    "contact_rating": None,
}
TIMELINE = {
    "items": [
        {
            "event_id": 12,
            "kind": "contacted",
            "side": "clinic",
            "source": "clinic_panel",
            "actor": f"staff:{STAFF}",
            "occurred_at": T,
            "recorded_at": T,
            "retracted": False,
            "body": {
                "kind": "contacted",
                "outcome": "booked",
                "appointment_at": "2026-12-05T10:00:00+03:00",
            },
        }
    ]
}
CLAIM_IN = {"kind": "contacted", "outcome": "booked", "appointment_at": "2026-12-05T10:00:00+03:00"}
CLAIM_OUT = {"event_id": 12, "duplicate": False, "step": "booked"}
PLAN_IN = {
    "reason": "После снимка: нужен ещё один канал",
    "items": [
        {
            "item_id": ITEM,
            "specialization": "therapy",
            "price": 700000,
            "title_ru": "Лечение кариеса, пломба",
            "tooth": 16,
        }
    ],
}
PLAN_OUT = {"version": 2}
VISIT_CODE = {
    "code": "482913",
    "expires_at": "2026-11-23T10:45:00+03:00",
    "qr_svg": '<svg xmlns="http://www.w3.org/2000/svg">…</svg>',
}
RATINGS = {
    "items": [
        {
            "referral_id": RID,
            "patient_name": "Анна Иванова",
            "called": True,
            "stars": 5,
            "comment": "Позвонили быстро",
            "updated_at": T,
        }
    ]
}
NOBODY = {
    "items": [
        {
            "referral_id": RID,
            "patient_name": "Анна Иванова",
            "patient_phone": "+79161234567",
            "step": "delivered",
            "sent_at": T,
            "said_at": T,
        }
    ]
}
SPLIT = {"verified": 4500000, "unverified": 1000000, "disputed": 0}
FUNNEL = {
    "first": "2026-11-01",
    "last": "2026-11-30",
    "currency": "RUB",
    "clinics": [CLINIC],
    "in_count": 23,
    "in_money": 285000000,
    "transferred_in_count": 1,
    "transferred_in_money": 6500000,
    "transferred_out_count": 0,
    "transferred_out_money": 0,
    "accepted_count": 20,
    "accepted_money": 240000000,
    "accepted_split": SPLIT,
    "executed_money": 5500000,
    "executed_this_period": 2000000,
    "executed_earlier": 3500000,
    "executed_split": SPLIT,
    "paid_money": 5000000,
    "paid_split": {"verified": 3000000, "unverified": 2000000, "disputed": 0},
    "reserve_count": 31,
    "reserve_money": 610000000,
    "reserve_by_cohort": {"2026-10": 320000000, "2026-11": 290000000},
    "lost_count": 3,
    "lost_money": 12000000,
    "lost_by_reason": [{"reason": "дорого", "count": 2, "money": 9000000}],
    "months": [{"month": "2026-11", "inflow": 285000000, "executed": 5500000, "lost": 12000000}],
    "reserve_months": 7.4,
}
LINKS_REVOKED = {"revoked_links": 2}
SCORECARDS = {
    "items": [
        {
            "clinic_id": CLINIC,
            "clinic_name": "Улыбка на Тверской",
            "referrals": 135,
            "claims_judged": 410,
            "claims_confirmed": 377,
            "trust": 0.92,
            "trust_lower_bound": 0.889,
            "disputed": 9,
            "first_contact_hours_clinic": 2.5,
            "first_contact_hours_patient": 3.1,
            "nobody_called": 2,
            "nobody_called_share": 0.02,
            "ratings": 80,
            "rating_average": 4.6,
            "reached": {
                "sent": 135,
                "delivered": 130,
                "contacted": 118,
                "booked": 101,
                "visited": 90,
                "in_treatment": 72,
                "completed": 31,
            },
            "answered_by": {"app": 71, "sms": 38, "both": 6, "none": 20},
        }
    ]
}
CLINIC_OUT = {
    "id": CLINIC,
    "name": "Улыбка на Тверской",
    "city": "Москва",
    "district": "Тверской",
    "address": "ул. Тверская, 12",
    "phone": "+74951234567",
    "timezone": "Europe/Moscow",
    "delivery_channel": "panel",
    "first_contact_sla_minutes": 120,
    "created_at": T,
    "archived_at": None,
}
CLINIC_LIST = {"items": [CLINIC_OUT]}
CLINIC_IN = {
    "name": "Улыбка на Тверской",
    "city": "Москва",
    "timezone": "Europe/Moscow",
    "address": "ул. Тверская, 12",
    "phone": "+7 495 123-45-67",
}
CLINIC_CHANGE = {"first_contact_sla_minutes": 120}
STAFF_IN = {
    "email": "coordinator@clinic.ru",
    "role": "clinic_coordinator",
    "password": "a long passphrase",
    "clinic_id": CLINIC,
    "name": "Мария",
}
STAFF_OUT = {
    "staff_id": STAFF,
    "email": "coordinator@clinic.ru",
    "role": "clinic_coordinator",
    "clinic_id": CLINIC,
    "totp_uri": "otpauth://totp/plantrack:coordinator%40clinic.ru?secret=…",
    "totp_qr_svg": '<svg xmlns="http://www.w3.org/2000/svg">…</svg>',
}
REFERRAL_IN = {
    "patient": {"phone": "+7 916 123-45-67", "name": "Анна Иванова"},
    "clinic_id": CLINIC,
    "plan": {
        "items": [
            {
                "specialization": "therapy",
                "price": 650000,
                "title_ru": "Лечение кариеса, пломба",
                "tooth": 16,
            }
        ],
        "teeth": [
            {"tooth": 16, "phase": "before", "condition": "caries"},
            {"tooth": 16, "phase": "after", "condition": "filled"},
        ],
    },
}
REFERRAL_CREATED = {"id": RID, "patient_id": STAFF, "invite_code": "7KQ2M9XR4T", "duplicate": False}
TRANSFER_IN = {"clinic_id": CLINIC, "reason": "Пациент переехал в Екатеринбург"}
TRANSFER_OUT = {
    "old_referral_id": RID,
    "new_referral_id": CLINIC,
    "invite_code": "9XRT2M7KQ4",
    "moved_items": 3,
    "moved_money": 12500000,
}
MEDIA_OUT = {"id": RID}
DISPUTES = {
    "items": [
        {
            "id": RID,
            "referral_id": RID,
            "clinic_id": CLINIC,
            "clinic_name": "Улыбка на Тверской",
            "patient_name": "Анна Иванова",
            "milestone": "visited",
            "item_title": None,
            "state": "disputed",
            "clinic_claim": {
                "event_id": 14,
                "kind": "visited",
                "source": "bitrix24",
                "actor": "bitrix24:portal",
                "occurred_at": T,
                "recorded_at": T,
                "note": None,
                "answer": None,
                "amount": None,
            },
            "patient_word": {
                "event_id": 15,
                "kind": "patient_answer",
                "source": "patient_app",
                "actor": "patient:…",
                "occurred_at": T,
                "recorded_at": T,
                "note": "Я не был в клинике",
                "answer": "no",
                "amount": None,
            },
            "receipts": [],
            "visit_code_used": False,
            "since": T,
            "age_days": 2,
        }
    ],
    "next_cursor": None,
}
RESOLUTION_IN = {"outcome": "did_not_happen", "note": "Пациент не приходил; клиника согласилась"}
AUDIT = {
    "items": [
        {
            "id": 981,
            "at": T,
            "actor": f"staff:{STAFF}",
            "actor_role": "clinic_coordinator",
            "action": "view_referral",
            "object_kind": "patient",
            "object_id": RID,
            "ip": "10.0.0.7",
            "request_id": "3f2b6c0e9a7d4e1b8c5a2f0d6e9b1c4a",
            "details": {"referral_id": RID},
        }
    ],
    "next_cursor": None,
}

INTEGRATION_OUT = {
    "system": "bitrix24",
    "inbound_url": "https://plantrack.example.org/integrations/bitrix24/q1Zr8w0cVbA3nXk5LmTgY7eH2sPdJ4uF9oRiK6tCxEw",
    "settings": {
        "stage_map": {
            "C1:NEW": {"kind": "received"},
            "C1:PREPARATION": {"kind": "contacted", "outcome": "booked"},
            "C1:EXECUTING": {"kind": "visited"},
            "C1:WON": {"kind": "completed"},
            "C1:LOSE": {"kind": "closed", "reason": "отказ в CRM"},
        },
        "category_id": 1,
        "member_id": None,
        "fields": {"appointment_at": "UF_CRM_VISIT_AT"},
    },
    "unknown_stages": ["C1:UC_THINKING"],
    "failed_deliveries": 0,
    "last_sync_at": T,
    "updated_at": T,
}
INTEGRATION_IN = {
    "system": "bitrix24",
    "rest_url": "https://clinic.bitrix24.ru/rest/1/3x4mpl3s3cr3t/",
    "application_token": "o8kfcne3du24sfvoeahh43uf9oygu2x3",
    "category_id": 1,
    "fields": {"appointment_at": "UF_CRM_VISIT_AT"},
    "stage_map": INTEGRATION_OUT["settings"]["stage_map"],
}
INTEGRATION_CONFIGURED = {"integration": INTEGRATION_OUT}
DELIVERY = {
    "id": 1842,
    "clinic_id": CLINIC,
    "system": "bitrix24",
    "received_at": T,
    "status": "processed",
    "error": None,
    "delivery_key": None,
    "attempts": 1,
    "processed_at": T,
    "result": {
        "changes": [
            {
                "external_id": "deal:759",
                "referral_id": RID,
                "stage": "C1:EXECUTING",
                "claim": "visited",
                "outcome": "recorded",
                "event_id": 90211,
            }
        ],
        "unknown_stages": [],
    },
}
DELIVERY_LIST = {"items": [DELIVERY], "next_cursor": None}
DELIVERY_DETAIL = {
    **DELIVERY,
    "headers": {"content-type": "application/x-www-form-urlencoded"},
    "body": "event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=759&ts=1736405807&auth%5Bdomain%5D="
    "clinic.bitrix24.ru&auth%5Bmember_id%5D=a223c6b3710f85df22e9377d6c4f7553&auth%5B"
    "application_token%5D=%E2%80%A6",
}

PRICES_IN = {
    "entries": [
        {
            "code": "A16.07.002",
            "specialization": "therapy",
            "title_ru": "Лечение кариеса, пломба",
            "title_en": "Caries treatment, filling",
            "price": 650000,
            "result_condition": "filled",
        },
        {
            "code": "A16.07.054",
            "specialization": "implantology",
            "title_ru": "Установка импланта",
            "title_en": "Dental implant placement",
            "price": 5500000,
            "result_condition": "implant",
            "course_days": 120,
        },
    ]
}
PRICES_SAVED = {"saved": 2}
PRICE_LIST = {
    "items": [
        {**entry, "course_days": entry.get("course_days"), "updated_at": T}
        for entry in PRICES_IN["entries"]
    ],
    "next_cursor": None,
}
ANALYSIS = {
    "format": "plantrack.ai-analysis/1",
    "analysis_id": "scan-2026-11-23-000184",
    "findings": [
        {"tooth": 16, "code": "caries", "probability": 0.94},
        {"tooth": 36, "code": "missing", "probability": 0.99},
        {"tooth": 27, "code": "caries", "probability": 0.31},
    ],
    "procedures": [
        {"code": "A16.07.002", "tooth": 16},
        {"code": "A16.07.054", "tooth": 36},
    ],
}
IMPORT_IN = {
    "patient": {"phone": "+7 916 123-45-67", "name": "Анна Иванова"},
    "clinic_id": CLINIC,
    "analysis": ANALYSIS,
}
IMPORT_OUT = {
    "referral": REFERRAL_CREATED,
    "plan": {
        "items": [
            {
                "code": "A16.07.002",
                "specialization": "therapy",
                "title_ru": "Лечение кариеса, пломба",
                "title_en": "Caries treatment, filling",
                "price": 650000,
                "stage": 1,
                "tooth": 16,
                "variant": None,
                "chair_minutes": 60,
                "course_days": 7,
            },
            {
                "code": "A16.07.054",
                "specialization": "implantology",
                "title_ru": "Установка импланта",
                "title_en": "Dental implant placement",
                "price": 5500000,
                "stage": 2,
                "tooth": 36,
                "variant": None,
                "chair_minutes": 480,
                "course_days": 120,
            },
        ],
        "teeth": [
            {"tooth": 16, "phase": "before", "condition": "caries"},
            {"tooth": 36, "phase": "before", "condition": "missing"},
            {"tooth": 16, "phase": "after", "condition": "filled"},
            {"tooth": 36, "phase": "after", "condition": "implant"},
        ],
        "total": 6150000,
        "currency": "RUB",
        "notes": ["finding caries on tooth 27 at probability 0.31 is below 0.50; not drawn"],
    },
}
CRM_STAGES = {
    "system": "bitrix24",
    "stages": [
        {
            "key": "C1:NEW",
            "name": "Новое направление",
            "semantics": "process",
            "maps_to": "received",
        },
        {
            "key": "C1:PREPARATION",
            "name": "Записан",
            "semantics": "process",
            "maps_to": "contacted/booked",
        },
        {
            "key": "C1:WON",
            "name": "Лечение завершено",
            "semantics": "success",
            "maps_to": "completed",
        },
        {
            "key": "C1:EXECUTING",
            "name": "Лечение",
            "semantics": "process",
            "maps_to": "item_done/listed",
        },
        {"key": "C1:LOSE", "name": "Отказ", "semantics": "failure", "maps_to": None},
    ],
    "map_keys_not_in_crm": [],
    "fields": [
        {
            "key": "UF_CRM_PAID",
            "name": "Оплачено",
            "type": "money",
            "code": None,
            "used_as": "fields.paid_amount",
        },
        {
            "key": "UF_CRM_DONE_ROWS",
            "name": "Выполнено",
            "type": "string",
            "code": None,
            "used_as": "fields.done_rows",
        },
        {"key": "OPPORTUNITY", "name": "Сумма", "type": "double", "code": None, "used_as": None},
    ],
    "settings_fields_not_in_crm": [],
    "catalog": [
        {
            "ref": "451",
            "name": "Пломба светоотверждаемая",
            "code": "A16.07.002",
            "price": 650000,
            "currency": "RUB",
            "in_price_list": True,
        }
    ],
    "catalog_total": 1,
    "catalog_truncated": False,
}
COHORTS = {
    "clinics": [CLINIC],
    "items": [
        {
            "cohort": "2026-09",
            "referrals": 41,
            "in_money": 512000000,
            "executed": [61000000, 143000000, 98000000],
            "share": [11.9, 39.8, 59.0],
        },
        {
            "cohort": "2026-10",
            "referrals": 38,
            "in_money": 470000000,
            "executed": [52000000, 120500000],
            "share": [11.1, 36.7],
        },
    ],
}

PLAN_FACT = {
    "clinics": [CLINIC],
    "specialization": None,
    "items": [
        {
            "month": "2026-10",
            "expected": 96000000,
            "executed": 81500000,
            "executed_split": {"verified": 60000000, "unverified": 19000000, "disputed": 2500000},
            "paid": 77000000,
            "executed_share": 84.9,
        },
        {
            "month": "2026-12",
            "expected": 120000000,
            "executed": 0,
            "executed_split": {"verified": 0, "unverified": 0, "disputed": 0},
            "paid": 0,
            "executed_share": 0.0,
        },
    ],
}

SPECIALIZATIONS = {
    "clinics": [CLINIC],
    "first": "2026-06",
    "last": "2026-11",
    "items": [
        {
            "specialization": "implantology",
            "referrals": 42,
            "estimate_money": 2940000000,
            "estimate_average": 70000000,
            "accepted": 30,
            "plan_money": 2310000000,
            "plan_average": 77000000,
            "accepted_estimate_average": 70000000,
            "plan_vs_estimate": 10.0,
            "treated": 24,
            "executed_money": 1180000000,
            "executed_average": 49166667,
            "completed": 7,
            "duration_days_average": 201.3,
            "duration_planned_days_average": 180.0,
        }
    ],
}
