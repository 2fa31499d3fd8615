"""The OpenAPI document: valid, and every route described with examples."""

import msgspec
from openapi_spec_validator import validate

from backend.domain.claims import Claim
from backend.routes import patient_examples as ex
from backend.routes import patient_export as px
from backend.routes import patient_schemas as s
from backend.routes import staff_bodies as sb
from backend.routes import staff_examples as sx
from backend.routes import staff_schemas as ss
from backend.services.exchange_admin import ClinicChange, ClinicIn
from backend.services.profile import ProfileChange

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


async def test_openapi_document_validates_and_documents_every_route(client):
    doc = (await client.get("/schema/openapi.json")).json()
    validate(doc)
    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            if not op.get("description"):
                missing.append(f"{where}: description")
            body = op.get("requestBody", {}).get("content", {})
            for media, spec in body.items():
                # Litestar puts a body's examples on its schema (JSON Schema `examples`).
                if not (spec.get("examples") or spec.get("schema", {}).get("examples")):
                    missing.append(f"{where}: request example ({media})")
            for status, response in op["responses"].items():
                if status.startswith("2") and status != "204":
                    for media, spec in response.get("content", {}).items():
                        if not spec.get("examples"):
                            missing.append(f"{where}: {status} example ({media})")
    assert missing == []


def test_examples_match_their_schemas():
    pairs = [
        (ex.TOKENS, s.Tokens),
        (ex.ME, s.Me),
        (ex.DEVICE, s.DeviceOut),
        (ex.REFERRAL, s.ReferralOut),
        (ex.REFERRAL_PAGE, s.ReferralPage),
        (ex.QUESTION_PAGE, s.QuestionPage),
        (ex.TEETH, s.TeethOut),
        (ex.MEDIA, s.MediaOut),
        (ex.MEDIA_LIST, s.MediaList),
        (ex.RECORDED, s.Recorded),
        (ex.RECEIPT, s.ReceiptOut),
        (ex.SIGN_IN, s.PatientSignIn),
        (ex.REFRESH, s.RefreshIn),
        (ex.PROFILE_CHANGE, ProfileChange),
        (ex.DEVICE_IN, s.DeviceIn),
        (ex.ANSWER_IN, s.AnswerIn),
        (ex.RATING_IN, s.ContactRatingIn),
        (ex.APPOINTMENT_IN, s.AppointmentResponseIn),
        (ex.VISIT_CODE_IN, s.VisitCodeIn),
        (ex.REPORT_IN, s.ReportIn),
        (ex.RECEIPT_IN, s.ReceiptIn),
        (ex.EXPORT, px.PatientExport),
        (ex.ERASED, px.ErasureOut),
        (ex.ERASURE_IN, s.ErasureIn),
        (sx.SIGN_IN, sb.StaffSignIn),
        (sx.SESSION, ss.StaffSession),
        (sx.REFERRAL_LIST, ss.ReferralList),
        (sx.CARD, ss.ReferralCardOut),
        (sx.TIMELINE, ss.Timeline),
        (sx.CLAIM_IN, Claim),
        (sx.CLAIM_OUT, ss.ClaimRecorded),
        (sx.PLAN_IN, sb.PlanRevisionIn),
        (sx.PLAN_OUT, ss.PlanRevised),
        (sx.VISIT_CODE, ss.VisitCodeOut),
        (sx.RATINGS, ss.RatingList),
        (sx.NOBODY, ss.NobodyCalledList),
        (sx.FUNNEL, ss.FunnelOut),
        (sx.SCORECARDS, ss.ScorecardList),
        (sx.CLINIC_OUT, ss.ClinicOut),
        (sx.CLINIC_LIST, ss.ClinicList),
        (sx.CLINIC_IN, ClinicIn),
        (sx.CLINIC_CHANGE, ClinicChange),
        (sx.STAFF_IN, sb.StaffIn),
        (sx.STAFF_OUT, ss.StaffCreated),
        (sx.REFERRAL_IN, sb.NewReferralIn),
        (sx.REFERRAL_CREATED, ss.ReferralCreated),
        (sx.TRANSFER_IN, sb.TransferIn),
        (sx.TRANSFER_OUT, ss.TransferOut),
        (sx.MEDIA_OUT, ss.MediaCreated),
        (sx.DISPUTES, ss.DisputeList),
        (sx.RESOLUTION_IN, sb.ResolutionIn),
        (sx.AUDIT, ss.AuditList),
    ]
    for example, schema in pairs:
        msgspec.json.decode(msgspec.json.encode(example), type=schema, strict=False)


async def test_patient_routes_document_keys_tags_and_versions(client):
    """Idempotency-Key on every patient POST, If-None-Match/ETag/304 on every patient GET
    that keeps a tag, X-App-Version and its 426 on all of them, each with a description."""
    doc = (await client.get("/schema/openapi.json")).json()
    downloads = {"/api/v1/me/export", "/api/v1/me/referrals/{referral_id}/plan.pdf"}
    seen = {"post": 0, "get": 0}
    for path, item in doc["paths"].items():
        if not path.startswith("/api/v1/me"):
            continue
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            headers = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
            assert headers["X-App-Version"]["description"], path
            assert "426" in op["responses"], path
            if method == "post":
                seen["post"] += 1
                assert "24 hours" in headers["Idempotency-Key"]["description"], path
                assert {"409", "422"} <= set(op["responses"]), path
                assert "Idempotency-Key" in op["responses"]["422"]["description"], path
            if method == "get" and path not in downloads:
                seen["get"] += 1
                assert headers["If-None-Match"]["description"], path
                assert "304" in op["responses"], path
                assert op["responses"]["200"]["headers"]["ETag"]["required"], path
            elif method == "get":
                assert "If-None-Match" not in headers and "304" not in op["responses"], path
    assert seen == {"post": 8, "get": 9}  # the GETs with the sync feed (/me/changes)
