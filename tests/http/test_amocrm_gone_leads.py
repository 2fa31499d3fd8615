"""A lead deleted in amoCRM: its documentation answers 204 for a lead that is not there,
and accounts have been seen answering 404. Either way a delivery naming it records
nothing and is not a failure someone must look at."""

import pytest

from tests.fakes import amocrm
from tests.http import test_amocrm
from tests.http.integration_client import FORM, event_count, inbox, send, work


@pytest.mark.parametrize("gone_status", [204, 404])
async def test_a_delivery_about_a_deleted_lead_is_ignored(client, db, gone_status):
    with amocrm.running() as account:
        account.gone_status = gone_status
        ex, clinic_id, path = await test_amocrm.setup(client, account)
        sent = await send(client, ex, clinic_id, "+79161234599", "Дина Орлова")
        await work(db)
        lead = test_amocrm.lead_of(account, sent["invite_code"])
        old = account.move(lead, test_amocrm.BOOKED)
        body = account.webhook((lead, old))
        del account.leads[lead]  # deleted in the account before we read it
        events = await event_count(sent["id"])

        answer = await client.post(path, content=body, headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(db)

    delivery = (await inbox(client, ex, clinic_id=str(clinic_id)))[0]
    assert delivery["status"] == "ignored", delivery
    assert delivery["result"]["changes"][0]["note"] == "lead not found"
    assert await event_count(sent["id"]) == events
