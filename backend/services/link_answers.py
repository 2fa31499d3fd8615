"""What a patient says on the web page an SMS link opens: the same statements as in the
app (an answer, an appointment reply, the contact rating, the choice of a plan's
variant), through the same services,
with their own source (`patient_sms`). A link grants its own referral only: a question
or appointment of any other referral is answered like a missing one."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from backend.domain.events import Source
from backend.domain.funnel import CONTACTED
from backend.services import answers, patient_statements
from backend.services.errors import NotFound
from backend.services.patient_links import LinkAccess
from backend.services.recording import Recorded
from backend.store import questions, referrals
from backend.store.rows import QuestionRow


async def question_of(access: LinkAccess, question_id: UUID) -> QuestionRow:
    row = await questions.get(question_id)
    if row is None or row.referral != access.referral_id:
        raise NotFound("no such question")
    return row


async def answer(
    access: LinkAccess,
    question_id: UUID,
    answer: Literal["yes", "no", "unsure"],
    *,
    now: datetime,
    called_day: date | None = None,
) -> Recorded:
    """`called_day` (the page's "when did they call?") goes with a yes to a contact
    question only; with any other answer or question it is not asked, so not kept."""
    question = await question_of(access, question_id)
    if answer != "yes" or question.milestone != CONTACTED:
        called_day = None
    answered = await answers.answer_question(
        patient_id=access.patient_id,
        question_id=question_id,
        answer=answer,
        called_day=called_day,
        source=Source.patient_sms,
        now=now,
    )
    return answered.recorded


async def respond(
    access: LinkAccess,
    appointment_id: UUID,
    response: Literal["confirm", "decline", "reschedule"],
    *,
    now: datetime,
) -> Recorded:
    if await referrals.referral_of_appointment(appointment_id) != access.referral_id:
        raise NotFound("no such appointment")
    return await patient_statements.respond_to_appointment(
        access.patient_id,
        appointment_id,
        response=response,
        note=None,
        now=now,
        source=Source.patient_sms,
    )


async def rate(
    access: LinkAccess,
    *,
    called: bool,
    stars: int | None,
    now: datetime,
    called_day: date | None = None,
) -> Recorded:
    return await patient_statements.rate_contact(
        access.patient_id,
        access.referral_id,
        called=called,
        stars=stars,
        comment="",
        called_day=called_day if called else None,
        now=now,
        source=Source.patient_sms,
    )


async def choose_variant(access: LinkAccess, variant: str, *, now: datetime) -> Recorded:
    """The patient's choice of one of the plan's variants (A, B, C…), as the app's
    `POST /me/referrals/{id}/variant`: the same event, the same checks."""
    return await patient_statements.choose_variant(
        access.patient_id, access.referral_id, variant=variant, source=Source.patient_sms, now=now
    )
