"""OpenAPI helpers: an example for every request and response, problem documents for errors."""

from dataclasses import dataclass
from datetime import time
from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Encoding,
    Example,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.params import Body
from litestar.plugins import OpenAPISchemaPlugin

from backend.domain.roles import CLINIC_ROLES
from backend.routes.exports import XLSX
from backend.settings import APP_VERSION_PATTERN
from backend.web.app_version import HEADER as VERSION_HEADER
from backend.web.app_version import AppVersionGate
from backend.web.conditional import NO_ETAG, ConditionalGet
from backend.web.idempotency import HEADER as KEY_HEADER
from backend.web.idempotency import KEY_PATTERN, IdempotentPosts


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An error, as application/problem+json (RFC 9457)."""

    status: int
    title: str
    detail: str
    request_id: str
    errors: list[dict[str, Any]] | None = None


_PROBLEM_TEXT = {
    400: "Bad Request: the body or a parameter is malformed",
    401: "Unauthorized: no valid access token",
    403: "Forbidden: not allowed for this account",
    404: "Not Found: no such object, or not yours",
    409: "Conflict: does not fit the current state",
    413: "Content Too Large: the body is over this route's limit",
    422: "Unprocessable content: well-formed but not acceptable",
    429: "Too Many Requests: wait for Retry-After seconds",
    502: "Bad Gateway: the other system refused",
    503: "Service Unavailable: try again later",
}


# A staff route about one object: no token, not this role, no such object (or not yours).
ID_ERRORS = (401, 403, 404)
# A report table: a malformed or unacceptable period, specialization or format, besides access.
TABLE_ERRORS = (400, 401, 403, 422)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_PROBLEM_TEXT[status],
            media_type="application/problem+json",
            generate_examples=False,
            examples=[
                Example(
                    summary=_PROBLEM_TEXT[status].split(":")[0],
                    value={
                        "status": status,
                        "title": _PROBLEM_TEXT[status].split(":")[0],
                        "detail": _PROBLEM_TEXT[status].split(": ")[-1],
                        "request_id": "3f2b6c0e9a7d4e1b8c5a2f0d6e9b1c4a",
                    },
                )
            ],
        )
        for status in statuses
    }


def responds(
    data_container: Any,
    example: Any,
    description: str,
    *,
    status: int = 200,
    media_type: str = "application/json",
    errors: tuple[int, ...] = (),
) -> dict[int, ResponseSpec]:
    """The success response with its example, and the problems this route can answer."""
    return {
        status: ResponseSpec(
            data_container=data_container,
            description=description,
            media_type=media_type,
            generate_examples=False,
            examples=[Example(summary="example", value=example)],
        ),
        **problems(*errors),
    }


def example_body(value: dict[str, Any], summary: str = "example") -> Any:
    return Body(examples=[Example(summary=summary, value=value)])


class ExactStructSchema(StructSchemaPlugin):
    """Litestar's struct schemas, made to say what msgspec enforces:

    - a body that refuses unknown fields (`forbid_unknown_fields`, every request body of
      ours) says `additionalProperties: false`; without it the document allows any extra
      field the API answers 400 for;
    - a numeric bound of 0 (`ge=0`, `gt=0`) is written: Litestar drops a bound that is 0
      (it tests it for truth), so `chair_minutes` said "at most 10,000" and not "at least 0".

    (Litestar's own plugin, extended from its private module: a Litestar upgrade that
    moves it fails at start-up, and tests/service/test_fuzz_openapi.py checks the result.)"""

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                for attribute, bound in _numeric_bounds(field.type).items():
                    if bound is not None and getattr(prop, attribute) is None:
                        setattr(prop, attribute, bound)
        return schema


def _numeric_bounds(kind: Any) -> dict[str, float | None]:
    if isinstance(kind, msgspec.inspect.UnionType):
        numbers = [
            t
            for t in kind.types
            if isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType)
        ]
        return _numeric_bounds(numbers[0]) if len(numbers) == 1 else {}
    if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        return {
            "minimum": kind.ge,
            "exclusive_minimum": kind.gt,
            "maximum": kind.le,
            "exclusive_maximum": kind.lt,
        }
    return {}


class TimeOfDaySchema(OpenAPISchemaPlugin):
    """A local time of day ("21:00:00"). Litestar calls it a `duration` ("PT21H"), and
    JSON Schema's `time` format wants an offset: a pattern says what we send."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING,
            pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
            description="local time of day, HH:MM[:SS]",
            examples=["21:00:00"],
        )


CSV_EXAMPLE = "month,referrals,in_money\r\n2026-10,42,1250000.00\r\n"


@dataclass  # so that the generated __init__ calls __post_init__
class TableDownload(Operation):
    """A report route's 200 answer: JSON, or the download `?format=csv|xlsx` asks for."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content:
            ok.content["text/csv"] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING),
                examples={"csv": Example(summary="?format=csv", value=CSV_EXAMPLE)},
            )
            ok.content[XLSX] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                examples={"xlsx": Example(summary="?format=xlsx", value="(an XLSX workbook)")},
            )


PICTURE_TYPES = "image/jpeg, image/png, image/webp"


@dataclass
class PictureForm(Operation):
    """A multipart upload whose `file` part is a picture: sent as a file, of these types
    (without `encoding`, clients may send it as a text field, which is refused). The form's
    schema is its component itself, not Litestar's `allOf` wrapper (there only to carry the
    example, which moves to the media type): tools read a form's parts and their
    encodings from the properties of the schema they find there."""

    def __post_init__(self) -> None:
        body = self.request_body
        form = body.content.get("multipart/form-data") if body is not None else None
        if not isinstance(form, OpenAPIMediaType):
            return
        form.encoding = {"file": Encoding(content_type=PICTURE_TYPES)}
        wrapper = form.schema
        if isinstance(wrapper, Schema) and wrapper.all_of and len(wrapper.all_of) == 1:
            form.schema = wrapper.all_of[0]
            form.examples = {
                f"example {n}": Example(summary="example", value=value)
                for n, value in enumerate(wrapper.examples or [], start=1)
            }


RATE_LIMITED = ("/api/", "/integrations/")  # backend.web.rate_limits counts these


def complete_documentation(app: Any) -> None:
    """What every route's documentation needs and no decorator should have to repeat:
    malformed requests answered with a problem document (without this, Litestar documents
    its own 400 shape, which the problem-details plugin never sends), the 429 of a spent
    rate-limit budget, and the download
    formats of the routes that take `?format=`."""
    for route in app.routes:
        limited = route.path.startswith(RATE_LIMITED)
        for handler in getattr(route, "route_handlers", ()):
            given = handler.responses or {}
            general = problems(*(s for s in (400, 429) if s not in given and (s != 429 or limited)))
            handler.responses = {**general, **given}
            if "format" in handler.parsed_fn_signature.parameters:
                handler.operation_class = TableDownload


# Text that must say something: a character that is not white space, in Python's sense
# (str.strip, which the services use) and in the document's (ECMA-262 regular
# expressions, whose \s lacks the information separators \x1c-\x1f and NEL).
SAYS_SOMETHING = r"[^\s\x1c-\x1f\x85\ufeff]"


def _when(field: str, values: list[str], then: Schema) -> Schema:
    return Schema(
        schema_if=Schema(properties={field: Schema(enum=values)}, required=[field]), then=then
    )


def state_cross_field_rules(openapi: OpenAPI) -> None:
    """Rules between fields that the API checks and JSON Schema can say (`if`/`then`),
    written into the generated components:

    - a clinic's staff member names their clinic, the exchange's staff do not
      (backend.domain.roles.needs_clinic), when an account is made or its role changed;
    - a worklist outcome (backend.services.worklist.record_outcome): a booking names its
      time, a call-back its time, letting an entry go names the entry, a note has words.
      (That a call-back is in the future the document can only say in words.)
    - "when did they call?" (backend.domain.contact_time): called_on or called_at, not
      both; in a contact rating only with called: true; in an answer only with a "yes"
      (that the question is a contact question the document can only say in words).
    """
    schemas = (openapi.components.schemas if openapi.components else None) or {}

    def component(name: str) -> Schema:
        found = schemas.get(name)
        if not isinstance(found, Schema):
            raise LookupError(f"OpenAPI: no {name} schema to state its rules on")
        return found

    clinic_roles = sorted(role.value for role in CLINIC_ROLES)
    for name in ("StaffIn", "RoleIn"):
        staff = component(name)
        staff.schema_if = Schema(properties={"role": Schema(enum=clinic_roles)}, required=["role"])
        staff.then = Schema(
            properties={"clinic_id": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID)},
            required=["clinic_id"],
        )
        staff.schema_else = Schema(properties={"clinic_id": Schema(type=OpenAPIType.NULL)})
    outcome = component("OutcomeIn")
    outcome.all_of = [
        _when(
            "outcome",
            ["callback"],
            Schema(
                properties={"callback_at": Schema(type=OpenAPIType.STRING)},
                required=["callback_at"],
            ),
        ),
        _when(
            "outcome",
            ["booked"],
            Schema(
                properties={"appointment_at": Schema(type=OpenAPIType.STRING)},
                required=["appointment_at"],
            ),
        ),
        _when(
            "outcome",
            ["let_go"],
            Schema(properties={"key": Schema(min_length=1)}, required=["key"]),
        ),
        _when(
            "outcome",
            ["note"],
            Schema(properties={"note": Schema(pattern=SAYS_SOMETHING)}, required=["note"]),
        ),
    ]
    outcome.description = "callback_at, when given, is in the future"

    nothing = Schema(type=OpenAPIType.NULL)
    not_both = Schema(
        schema_if=Schema(
            properties={"called_on": Schema(type=OpenAPIType.STRING)}, required=["called_on"]
        ),
        then=Schema(properties={"called_at": nothing}),
    )
    rating = component("ContactRatingIn")
    rating.all_of = [
        not_both,
        Schema(
            schema_if=Schema(properties={"called": Schema(const=False)}, required=["called"]),
            then=Schema(properties={"called_on": nothing, "called_at": nothing}),
        ),
    ]
    answer = component("patient_schemas_AnswerIn")  # clinic_desk has an AnswerIn too
    answer.all_of = [
        not_both,
        Schema(
            schema_if=Schema(
                properties={"answer": Schema(enum=["no", "unsure"])}, required=["answer"]
            ),
            then=Schema(properties={"called_on": nothing, "called_at": nothing}),
        ),
    ]
    answer.description = (
        "called_on or called_at only with a yes to a contact question, and in the past"
    )


IDEMPOTENCY_KEY = (
    "Makes a retry of this request safe: send a new unique key (a UUID) with each new "
    "request and the same key with its retries. The first answer (status and body) is "
    "kept for 24 hours for this patient and given again to a retry with the same key and "
    "the same request (the same JSON, however spelled), marked `Idempotent-Replayed: true`; "
    "nothing is recorded twice. The same key with another request is a 422 naming the key; "
    "a retry while the first is still being answered is a 409 with Retry-After. Answers "
    "that say nothing final (401, 403, 429, 5xx) are not kept: a retry runs the request "
    "again. Without the header every request is a new one."
)
APP_VERSION = (
    "The app's version (1.4.2: one to four numbers). Below the server's minimum the "
    "answer is 426 with the store links; malformed: 400. Without the header the request is "
    "served (the web pages and clients that cannot say their version are not told apart)."
)
IF_NONE_MATCH = (
    "The ETag of the answer the app already has: unchanged, the answer is 304 with no body."
)
ETAG = "A strong tag of this answer's body: send it as If-None-Match to be told it is unchanged"
UPGRADE_EXAMPLE = {
    "status": 426,
    "title": "Upgrade Required",
    "detail": "Эта версия приложения больше не поддерживается. Обновите приложение, чтобы "
    "продолжить.",
    "request_id": "3f2b6c0e9a7d4e1b8c5a2f0d6e9b1c4a",
    "app_version": "1.3.9",
    "min_app_version": "1.4.0",
    "store_links": {
        "app_store": "https://apps.apple.com/app/plantrack/id000000001",
        "google_play": "https://play.google.com/store/apps/details?id=app.plantrack",
    },
}
_TEXT = Schema(type=OpenAPIType.STRING)


def _upgrade_required() -> OpenAPIResponse:
    links = Schema(
        type=OpenAPIType.OBJECT,
        properties={"app_store": _TEXT, "google_play": _TEXT},
        description="where the app is installed from (a store not configured is left out)",
    )
    problem = Schema(
        type=OpenAPIType.OBJECT,
        required=["status", "title", "detail", "request_id", "store_links"],
        properties={
            "status": Schema(type=OpenAPIType.INTEGER),
            "title": _TEXT,
            "detail": Schema(
                type=OpenAPIType.STRING,
                description="for the patient, in Russian (English with Accept-Language: en)",
            ),
            "request_id": _TEXT,
            "app_version": _TEXT,
            "min_app_version": _TEXT,
            "store_links": links,
        },
    )
    return OpenAPIResponse(
        description="Upgrade Required: this app version is older than the server serves",
        content={
            "application/problem+json": OpenAPIMediaType(
                schema=problem,
                examples={"upgrade": Example(summary="Upgrade Required", value=UPGRADE_EXAMPLE)},
            )
        },
    )


def _header(name: str, description: str, pattern: str | None = None) -> Parameter:
    return Parameter(
        name=name,
        param_in="header",
        required=False,
        description=description,
        schema=Schema(type=OpenAPIType.STRING, pattern=pattern),
    )


def _problem_response(status: int, description: str) -> OpenAPIResponse:
    spec = problems(status)[status]
    example = spec.examples[0] if spec.examples else None
    return OpenAPIResponse(
        description=description,
        content={
            "application/problem+json": OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/Problem"),
                examples={"problem": example} if example else None,
            )
        },
    )


def document_patient_http(app: Any) -> None:
    """What the patient router's middleware does, written into every operation it wraps
    (read from the wiring itself, so the two cannot drift apart): X-App-Version and its
    426 everywhere (backend.web.app_version), Idempotency-Key and its 409/422 on POSTs
    (backend.web.idempotency), If-None-Match, ETag and 304 on GETs that keep a tag
    (backend.web.conditional)."""
    openapi: OpenAPI = app.openapi_schema
    for route in app.routes:
        path_item = (openapi.paths or {}).get(route.path_format)
        if path_item is None:
            continue
        for handler in getattr(route, "route_handlers", ()):
            wiring = handler.resolve_middleware()
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                if not isinstance(operation, Operation):
                    continue
                params = list(operation.parameters or [])
                responses = dict(operation.responses or {})
                if any(isinstance(m, AppVersionGate) for m in wiring):
                    params.append(_header(VERSION_HEADER, APP_VERSION, APP_VERSION_PATTERN))
                    responses["426"] = _upgrade_required()
                if method == "POST" and any(isinstance(m, IdempotentPosts) for m in wiring):
                    params.append(_header(KEY_HEADER, IDEMPOTENCY_KEY, KEY_PATTERN))
                    _add_problem(
                        responses,
                        409,
                        "a retry with the same Idempotency-Key while "
                        "the first request is still being answered (Retry-After)",
                    )
                    _add_problem(
                        responses,
                        422,
                        "the Idempotency-Key was used for another "
                        "request (the problem names it as `idempotency_key`)",
                    )
                    for status, answer in responses.items():
                        if status.startswith("2") and isinstance(answer, OpenAPIResponse):
                            answer.headers = {
                                **(answer.headers or {}),
                                "Idempotent-Replayed": OpenAPIHeader(
                                    schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
                                    description="this is the kept answer of an earlier "
                                    "request with the same Idempotency-Key",
                                ),
                            }
                if (
                    method == "GET"
                    and any(isinstance(m, ConditionalGet) for m in wiring)
                    and not handler.opt.get(NO_ETAG)
                ):
                    params.append(_header("If-None-Match", IF_NONE_MATCH))
                    tag = OpenAPIHeader(schema=_TEXT, description=ETAG, required=True)
                    ok = responses.get("200")
                    if isinstance(ok, OpenAPIResponse):
                        ok.headers = {
                            **(ok.headers or {}),
                            "ETag": tag,
                            "Cache-Control": OpenAPIHeader(
                                schema=_TEXT, description="private, no-cache: personal data"
                            ),
                        }
                    responses["304"] = OpenAPIResponse(
                        description="Not Modified: the answer has the ETag sent as "
                        "If-None-Match; no body",
                        headers={"ETag": tag},
                    )
                operation.parameters = params
                operation.responses = responses


def _add_problem(responses: dict[str, Any], status: int, why: str) -> None:
    given = responses.get(str(status))
    if isinstance(given, OpenAPIResponse):
        given.description = f"{given.description}; or {why}"
    else:
        responses[str(status)] = _problem_response(status, f"{_PROBLEM_TEXT[status]}; or {why}")
