"""Where clinics' systems deliver: /integrations/{system}/{token}.

The token in the path is the clinic's unguessable inbound token. A `before_request`
hook authenticates the delivery the vendor's way and stores it raw (service
`inbox.accept`) before any route parses it; a refused delivery is answered
there, with the same 403 for an unknown token as for a wrong secret. The handlers
then only acknowledge. IDENT pulls instead of pushing: its routes answer at once.
"""

from typing import Annotated

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, HeaderParameter

from backend.domain.mis_events import MisEvent
from backend.routes.docs import responds
from backend.services import ident, inbox
from backend.services.errors import Forbidden, ServiceError
from backend.web.input_checks import refuse_nul_in_query
from backend.web.rate_limits import delivery_budget

MAX_DELIVERY = 256 * 1024  # CRM events are a few hundred bytes; MIS events a few kB


class DeliveryAck(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: int | None
    duplicate: bool


def _take(system: str):
    async def take_delivery(request: Request) -> None:
        # A route's own hook replaces the app's: the app-wide check is asked here too.
        await refuse_nul_in_query(request)
        accepted = await inbox.accept(
            system,
            request.path_params["token"],
            dict(request.headers),
            await request.body(),
            secret_key=request.app.state.settings.secret_key,
        )
        if accepted.status == 403:
            raise Forbidden(accepted.detail)
        if accepted.status >= 400:
            raise ServiceError(accepted.detail, delivery_id=accepted.delivery_id)
        request.state.accepted = accepted

    return take_delivery


def _ack(request: Request) -> DeliveryAck:
    accepted: inbox.Accepted = request.state.accepted
    return DeliveryAck(delivery_id=accepted.delivery_id, duplicate=accepted.duplicate)


ACK_EXAMPLE = {"delivery_id": 1842, "duplicate": False}
CRM_FORM = (
    "Form-encoded (application/x-www-form-urlencoded) with PHP-style bracket keys, exactly "
    "as the CRM sends it. Stored raw, answered at once, processed by the worker."
)


@post(
    "/bitrix24/{token:str}",
    summary="Bitrix24 event handler",
    description="Paste this URL into the portal's outgoing webhook for ONCRMDEALADD, "
    "ONCRMDEALUPDATE, ONCRMLEADADD, ONCRMLEADUPDATE. Authenticated by "
    "auth[application_token] (and auth[member_id] when configured). " + CRM_FORM,
    status_code=200,
    before_request=_take("bitrix24"),
    request_max_body_size=MAX_DELIVERY,
    responses=responds(DeliveryAck, ACK_EXAMPLE, "Stored", errors=(403, 413)),
)
async def bitrix24_event(request: Request, token: FromPath[str]) -> DeliveryAck:
    return _ack(request)


@post(
    "/amocrm/{token:str}",
    summary="amoCRM webhook",
    description="Paste this URL into the account's web hooks (lead added, changed, status "
    "changed). amoCRM does not sign: the token in the URL and account[id] authenticate; "
    "every lead is re-read over API v4. " + CRM_FORM,
    status_code=200,
    before_request=_take("amocrm"),
    request_max_body_size=MAX_DELIVERY,
    responses=responds(DeliveryAck, ACK_EXAMPLE, "Stored", errors=(403, 413)),
)
async def amocrm_webhook(request: Request, token: FromPath[str]) -> DeliveryAck:
    return _ack(request)


MIS_EXAMPLES = [
    Example(
        summary="visit happened",
        value={
            "type": "visit.happened",
            "timestamp": "2026-11-20T09:12:00+03:00",
            "data": {
                "referral_id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90",
                "occurred_at": "2026-11-20T09:05:00+03:00",
            },
        },
    ),
    Example(
        summary="appointment booked",
        value={
            "type": "appointment.booked",
            "timestamp": "2026-11-18T15:40:00+03:00",
            "data": {
                "referral_id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90",
                "appointment_at": "2026-11-20T09:00:00+03:00",
            },
        },
    ),
    Example(
        summary="payment received",
        value={
            "type": "payment.received",
            "timestamp": "2026-11-20T10:30:00+03:00",
            "data": {"referral_id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90", "amount": 1500000},
        },
    ),
]


@post(
    "/webhooks/{token:str}",
    summary="Signed events from a clinic's MIS",
    description="Standard Webhooks: webhook-id (the idempotency key), webhook-timestamp "
    "(Unix seconds, within 5 minutes) and webhook-signature (v1,base64 HMAC-SHA256 of "
    "`id.timestamp.body` under the clinic's whsec_ secret). A repeated webhook-id is "
    "answered 200 with duplicate=true and recorded once. A body that is not one of these "
    "events is kept (the exchange sees it) and answered 400. See docs/mis-webhooks.md.",
    status_code=202,
    before_request=_take("webhook"),
    request_max_body_size=MAX_DELIVERY,
    responses=responds(DeliveryAck, ACK_EXAMPLE, "Accepted", status=202, errors=(400, 403, 413)),
)
async def mis_webhook(
    request: Request,
    token: FromPath[str],
    data: Annotated[MisEvent, Body(examples=MIS_EXAMPLES)],
) -> Response[DeliveryAck]:
    ack = _ack(request)
    return Response(ack, status_code=200 if ack.duplicate else 202)


IDENT_KEY = Annotated[
    str | None,
    HeaderParameter(
        name="IDENT-Integration-Key",
        description="the key shown once when the integration was set up",
        required=False,
    ),
]
TICKETS_EXAMPLE = [
    {
        "Id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90",
        "DateAndTime": "2026-11-18T12:00:00+03:00",
        "ClientPhone": "+79161234567",
        "ClientFullName": "Иванова Анна Сергеевна",
        "FormName": "Направление plantrack",
        "Comment": "Код направления K7QX2M. План: Имплантация (36). Оценка 45 000,00 ₽.",
    }
]


# IDENT's errors: a plain-text reason for its exchange log, not a problem document.
IDENT_ERRORS = {
    status: ResponseSpec(
        data_container=str,
        description=text,
        media_type="text/plain",
        generate_examples=False,
        examples=[Example(summary=text, value=value)],
    )
    for status, text, value in (
        (400, "A malformed query", "dateTimeFrom: not an ISO 8601 time"),
        (401, "A wrong IDENT-Integration-Key", "Неверный ключ интеграции"),
    )
}


def _plain(answer: ident.IdentAnswer) -> Response:
    if answer.status != 200:  # IDENT writes plain text errors to its exchange log
        return Response(answer.text, status_code=answer.status, media_type="text/plain")
    return Response(answer.tickets if answer.tickets is not None else "", status_code=200)


@get(
    "/ident/{token:str}/GetTickets",
    summary="IDENT pulls referrals as tickets",
    description="The clinic's referrals sent between dateTimeFrom and dateTimeTo (ISO 8601 "
    "with offset), oldest first, `limit` (500) from `offset`. The ticket Id is the referral "
    "id. A wrong IDENT-Integration-Key gets 401 with a plain-text reason. A referral IDENT "
    "has fetched counts as received by the clinic.",
    responses={
        **responds(list[dict], TICKETS_EXAMPLE, "Tickets"),
        **IDENT_ERRORS,
    },
)
async def ident_tickets(
    request: Request,
    token: FromPath[str],
    key: IDENT_KEY = None,
) -> Response:
    answer = await ident.ident_tickets(
        token,
        key,
        dict(request.query_params),
        secret_key=request.app.state.settings.secret_key,
    )
    return _plain(answer)


@post(
    "/ident/{token:str}/PostTimeTable",
    summary="IDENT posts its timetable",
    description="Taken and not kept: the clinic books referred patients itself.",
    status_code=200,
    request_max_body_size=4 * 1024 * 1024,
    responses={
        **responds(str, "", "Taken", media_type="text/plain"),
        **IDENT_ERRORS,
    },
)
async def ident_timetable(
    request: Request,
    token: FromPath[str],
    key: IDENT_KEY = None,
) -> Response:
    answer = await ident.ident_timetable(
        token, key, secret_key=request.app.state.settings.secret_key
    )
    return _plain(answer)


router = Router(
    path="/integrations",
    route_handlers=[bitrix24_event, amocrm_webhook, mis_webhook, ident_tickets, ident_timetable],
    guards=[delivery_budget],
    tags=["integrations"],
)
