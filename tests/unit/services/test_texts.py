"""What patients read (backend.services.texts), in Russian and English."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from backend.services import texts

MSK = ZoneInfo("Europe/Moscow")


def test_every_patient_text_exists_in_russian_and_english():
    tables = [
        texts.STEPS,
        texts.MILESTONES,
        texts.SCHEDULE,
        texts.ITEM_STATUS,
        texts.ANSWERS,
        texts.QUESTIONS,
        texts.NEXT_STEP,
        texts.PLAN_DIFF,
        texts.SPECIALIZATIONS,
        texts.CONDITIONS,
        texts.CHART,
        texts.VARIANT,
        texts.PICTURES,
        texts.TOOTH_KINDS,
    ]
    for table in tables:
        for key, by_lang in table.items():
            assert set(by_lang) == {"ru", "en"}, key
            assert all(by_lang.values()), key
    for _, by_lang in texts.PATIENT_STATES.values():
        assert set(by_lang) == {"ru", "en"}


def test_money_and_dates_read_naturally():
    assert texts.money(6_500_00, "RUB", "ru") == "6\u00a0500\u00a0₽"
    assert texts.money(6_500_50, "RUB", "en") == "₽6,500.50"
    at = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert texts.day_time(at, MSK, "ru") == "5 декабря, 10:00"
    assert texts.day(at, MSK, "en") == "5 Dec"
