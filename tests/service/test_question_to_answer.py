"""An answer's first statement (store.questions.to_answer): the patient's own question,
its referral held as store.referrals.lock holds it, and the patient's language and zone."""

from uuid import uuid4

import asyncpg
import pytest

from backend.domain.events import Source, Visited
from backend.services.recording import Statement, record
from backend.store import questions, referrals
from backend.store.engine import is_postgres, write_transaction
from backend.store.tables import Patient
from tests.factories import NOW, hours, make_clinic, make_referral


async def asked(phone: str = "+79161234567"):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=phone)
    await record(
        sent.referral_id,
        Statement(body=Visited(), source=Source.clinic_panel, actor="staff:1"),
        now=hours(2),
    )
    [question] = await questions.asked_for(sent.referral_id)
    return sent, question.id


async def test_the_question_comes_with_its_referral_as_the_lock_reads_it(db):
    sent, question_id = await asked()
    await Patient.update({Patient.locale: "en", Patient.timezone: "Asia/Novosibirsk"}).where(
        Patient.id == sent.patient_id
    )
    async with write_transaction():
        found = await questions.to_answer(question_id, sent.patient_id)
        locked = await referrals.lock(sent.referral_id)
    assert found is not None
    assert found.question == await questions.get(question_id)
    assert found.referral == locked
    assert (found.patient_locale, found.patient_timezone) == ("en", "Asia/Novosibirsk")
    assert found.patient_erased is False


async def test_another_patients_question_and_a_missing_one_read_alike(db):
    sent, question_id = await asked()
    other, _ = await asked(phone="+79161112233")
    async with write_transaction():
        assert await questions.to_answer(question_id, other.patient_id) is None
        assert await questions.to_answer(uuid4(), sent.patient_id) is None


async def test_an_erased_patient_is_said_so(db):
    sent, question_id = await asked()
    await Patient.update({Patient.erased_at: NOW}).where(Patient.id == sent.patient_id)
    async with write_transaction():
        found = await questions.to_answer(question_id, sent.patient_id)
    assert found is not None and found.patient_erased is True


async def test_the_referral_is_held_until_the_transaction_ends(db):
    if not is_postgres():
        pytest.skip("SQLite's write transaction holds the whole database")
    sent, question_id = await asked()
    other = await asyncpg.connect(db.database_url)
    try:
        held = "SELECT 1 FROM referral WHERE id = $1 FOR UPDATE NOWAIT"
        async with write_transaction():
            assert await questions.to_answer(question_id, sent.patient_id) is not None
            with pytest.raises(asyncpg.LockNotAvailableError):
                await other.fetch(held, sent.referral_id)
        assert await other.fetch(held, sent.referral_id)  # released with the transaction
    finally:
        await other.close()
