"""The outbox worker's handlers for staff alerts (backend.services.staff_alerts)."""

from datetime import datetime

import httpx

from backend.outbox.worker import MAX_ATTEMPTS, Handler, one_by_one
from backend.services import staff_alerts
from backend.services.staff_alerts import Channels
from backend.store.outbox import Claimed, Outcome


def alert_handlers(channels: Channels) -> dict[str, Handler]:
    async def timer(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.fire_timer(m.payload, now)

    async def fan_out(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.fan_out(int(m.payload["alert_id"]), now)

    async def email(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.send_email(m.payload, channels)

    async def digest(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.send_digest(m.payload, channels, now)

    async def crm_tasks(messages: list[Claimed], now: datetime) -> list[Outcome]:
        async with httpx.AsyncClient() as http:
            return [
                await staff_alerts.create_crm_task(
                    m.payload, channels, http, last_try=m.attempts >= MAX_ATTEMPTS
                )
                for m in messages
            ]

    return {
        staff_alerts.TIMER: one_by_one(timer),
        staff_alerts.ALERT: one_by_one(fan_out),
        staff_alerts.EMAIL: one_by_one(email),
        staff_alerts.DIGEST: one_by_one(digest),
        staff_alerts.CRM_TASK: crm_tasks,
    }
