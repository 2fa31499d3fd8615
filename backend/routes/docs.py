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
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from litestar.params import Body
from litestar.plugins import OpenAPISchemaPlugin

from backend.domain.roles import CLINIC_ROLES
from backend.routes.exports import XLSX


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
