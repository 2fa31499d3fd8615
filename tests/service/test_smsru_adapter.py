"""The SMS.ru adapter against the local fake over HTTP: the documented answer shapes,
request-level refusals, and answers that are not SMS.ru's."""

import pytest

from backend.messages.sms import Sms, SmsRu
from tests.fakes.smsru import FakeSmsRu, running_smsru


@pytest.fixture
def fake():
    with running_smsru(FakeSmsRu()) as running:
        yield running


async def send(fake: FakeSmsRu, api_id: str | None = None, to: str = "+79161230101"):
    sender = SmsRu(api_id=api_id or fake.api_id, endpoint=fake.base_url, sender_name="plantrack")
    try:
        return await sender.send(Sms(to=to, text="Вопрос по направлению: https://pt.example/p/x"))
    finally:
        await sender.aclose()


async def test_a_sent_text_has_its_sms_id_and_the_request_is_as_documented(fake):
    result = await send(fake)
    assert result.outcome == "sent" and result.vendor_id == fake.sent[0].sms_id
    [request] = fake.requests
    assert request == {
        "api_id": fake.api_id,
        "to": "79161230101",
        "msg": "Вопрос по направлению: https://pt.example/p/x",
        "json": "1",
        "from": "plantrack",
    }


async def test_a_refused_api_id_waits_for_the_configuration(fake):
    result = await send(fake, api_id="wrong")
    assert result.outcome == "retry" and result.detail.startswith("200")
    assert result.retry_after is not None and fake.sent == []


async def test_a_page_that_is_not_sms_rus_answer_is_an_outage(fake):
    fake.garbage = True
    result = await send(fake)
    assert result.outcome == "retry" and result.vendor_down
    assert "not an SMS.ru answer" in result.detail


async def test_sms_rus_own_unavailability_and_an_http_outage_are_retried(fake):
    fake.unavailable = True
    assert (await send(fake)).outcome == "retry"
    fake.unavailable, fake.down = False, True
    down = await send(fake)
    assert down.outcome == "retry" and down.vendor_down and "503" in down.detail
    assert fake.sent == []


async def test_a_number_sms_ru_cannot_reach(fake):
    fake.codes["79161230102"] = 202
    result = await send(fake, to="+79161230102")
    assert result.outcome == "bad_number" and result.detail.startswith("202")
