"""OpenAPI links: which answer hands the ids the next call needs (the patient journey, a
clinic's claims, the exchange's desk). A client generator follows them, and so does
Schemathesis' stateful run (tests/service/test_fuzz_openapi.py), which then works on
real referrals, questions and deliveries instead of ids that name nothing."""

from litestar.openapi.spec import Link, OpenAPI, OpenAPIResponse, Operation

FIRST = "$response.body#/items/0/id"  # the first row of a list page
ID = "$response.body#/id"
IN_PATH = "$request.path.referral_id"

ME = "/api/v1/me"
PATIENT_REFERRAL = [
    ("get", f"{ME}/referrals/{{referral_id}}"),
    ("get", f"{ME}/referrals/{{referral_id}}/teeth"),
    ("get", f"{ME}/referrals/{{referral_id}}/teeth.svg"),
    ("get", f"{ME}/referrals/{{referral_id}}/media"),
    ("post", f"{ME}/referrals/{{referral_id}}/contact-rating"),
    ("post", f"{ME}/referrals/{{referral_id}}/reports"),
    ("post", f"{ME}/referrals/{{referral_id}}/receipts"),
    ("post", f"{ME}/referrals/{{referral_id}}/visit-code"),
]
CLINIC = "/api/v1/clinic/referrals/{referral_id}"
CLINIC_REFERRAL = [
    ("get", CLINIC),
    ("get", f"{CLINIC}/timeline"),
    ("post", f"{CLINIC}/claims"),
    ("put", f"{CLINIC}/plan"),
    ("post", f"{CLINIC}/visit-code"),
]
EXCHANGE = "/api/v1/exchange"
EXCHANGE_REFERRAL = [
    ("get", f"{EXCHANGE}/referrals/{{referral_id}}"),
    ("post", f"{EXCHANGE}/referrals/{{referral_id}}/media"),
    ("post", f"{EXCHANGE}/referrals/{{referral_id}}/transfer"),
]
CLINIC_ID = f"{EXCHANGE}/clinics/{{clinic_id}}"
EXCHANGE_CLINIC = [
    ("get", CLINIC_ID),
    ("patch", CLINIC_ID),
    ("put", f"{CLINIC_ID}/integration"),
    ("get", f"{CLINIC_ID}/integration/stages"),
    ("get", f"{CLINIC_ID}/prices"),
    ("put", f"{CLINIC_ID}/prices"),
]

# (method, path, status) of the answer → [(method, path) of the next call], {parameter: value}
LINKS: list[tuple[tuple[str, str, str], list[tuple[str, str]], dict[str, str]]] = [
    (("get", f"{ME}/referrals", "200"), PATIENT_REFERRAL, {"referral_id": FIRST}),
    (("get", f"{ME}/referrals/{{referral_id}}", "200"), PATIENT_REFERRAL[1:], {"referral_id": ID}),
    (
        ("get", f"{ME}/referrals/{{referral_id}}", "200"),
        [("post", f"{ME}/appointments/{{appointment_id}}/response")],
        {"appointment_id": "$response.body#/appointments/0/id"},
    ),
    (
        ("get", f"{ME}/referrals/{{referral_id}}", "200"),
        [("post", f"{ME}/questions/{{question_id}}/answer")],
        {"question_id": "$response.body#/questions/0/id"},
    ),
    (
        ("get", f"{ME}/questions", "200"),
        [("post", f"{ME}/questions/{{question_id}}/answer")],
        {"question_id": FIRST},
    ),
    (
        ("get", f"{ME}/referrals/{{referral_id}}/media", "200"),
        [("get", f"{ME}/media/{{media_id}}")],
        {"media_id": FIRST},
    ),
    (
        ("put", f"{ME}/devices", "200"),
        [("delete", f"{ME}/devices/{{token}}")],
        {"token": "$response.body#/token"},
    ),
    (("get", "/api/v1/clinic/referrals", "200"), CLINIC_REFERRAL, {"referral_id": FIRST}),
    (("get", "/api/v1/clinic/follow-up", "200"), CLINIC_REFERRAL, {"referral_id": FIRST}),
    (("post", f"{CLINIC}/claims", "200"), CLINIC_REFERRAL, {"referral_id": IN_PATH}),
    (("put", f"{CLINIC}/plan", "200"), CLINIC_REFERRAL, {"referral_id": IN_PATH}),
    (("get", f"{EXCHANGE}/clinics", "200"), EXCHANGE_CLINIC, {"clinic_id": FIRST}),
    (("post", f"{EXCHANGE}/clinics", "201"), EXCHANGE_CLINIC, {"clinic_id": ID}),
    (("get", f"{EXCHANGE}/referrals", "200"), EXCHANGE_REFERRAL, {"referral_id": FIRST}),
    (("post", f"{EXCHANGE}/referrals", "201"), EXCHANGE_REFERRAL, {"referral_id": ID}),
    (
        ("get", f"{EXCHANGE}/disputes", "200"),
        [("post", f"{EXCHANGE}/disputes/{{dispute_id}}/resolution")],
        {"dispute_id": FIRST},
    ),
    (
        ("get", f"{EXCHANGE}/inbox", "200"),
        [
            ("get", f"{EXCHANGE}/inbox/{{delivery_id}}"),
            ("post", f"{EXCHANGE}/inbox/{{delivery_id}}/replay"),
        ],
        {"delivery_id": FIRST},
    ),
]


def _operation(openapi: OpenAPI, method: str, path: str) -> Operation:
    item = (openapi.paths or {}).get(path)
    operation = getattr(item, method, None) if item is not None else None
    if not isinstance(operation, Operation):
        raise LookupError(f"OpenAPI links: no {method.upper()} {path}")
    return operation


def add_links(openapi: OpenAPI) -> None:
    """Write LINKS into the generated document (a route renamed or removed fails here,
    at start-up, rather than leaving a link to nothing)."""
    for (method, path, status), targets, parameters in LINKS:
        answer = (_operation(openapi, method, path).responses or {}).get(status)
        if not isinstance(answer, OpenAPIResponse):
            raise LookupError(f"OpenAPI links: {method.upper()} {path} has no {status} answer")
        links = dict(answer.links or {})
        for target_method, target_path in targets:
            target = _operation(openapi, target_method, target_path)
            assert target.operation_id is not None
            links[target.operation_id] = Link(
                operation_id=target.operation_id, parameters=dict(parameters)
            )
        answer.links = links
