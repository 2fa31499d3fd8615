"""The printable plan: an A4 PDF whose text (pdftotext) says what the plan says — the
clinic, all three options side by side with totals, length and explanations, stages with
dates — in the patient's language, with or without prices as the clinic chose; its pages
are kept as pictures (pdftoppm) to look at."""

import re
import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from backend.domain.roles import Role
from backend.routes import plan_document
from backend.runtime.clock import utcnow
from backend.services import patient_links, patient_reads
from backend.services.plan_print import plan_html, plan_pdf, qr_uri
from backend.store.tables import PatientLink
from tests.factories import close, make_clinic
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_plan_variants import THREE_OPTIONS

API = "/api/v1"
PHONE = "+79166660022"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pdf"


@pytest.fixture(autouse=True)
def poppler() -> None:
    if not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfinfo")):
        pytest.fail("the PDF tests need poppler-utils: apt-get install poppler-utils")


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    shutil.copyfile(path, ARTIFACTS / f"{name}.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(path), str(ARTIFACTS / name)], check=True)
    return " ".join(text.replace("\u00a0", " ").split())  # reading order, one space


def pdf_info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    return dict(
        (k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in out.stdout.splitlines())
    )


async def _referral(client, *, locale="ru", name="Мария Петрова"):
    clinic_id = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    created = await client.post(
        f"{API}/exchange/referrals",
        headers=operator.headers,
        json={
            "patient": {"phone": PHONE, "name": name, "locale": locale},
            "clinic_id": str(clinic_id),
            "plan": THREE_OPTIONS,
        },
    )
    assert created.status_code == 201, created.text
    return clinic_id, created.json()["id"]


async def test_the_printed_plan_shows_all_three_options_with_their_figures(client, db, tmp_path):
    clinic_id, referral_id = await _referral(client)
    patient = await patient_sign_in(client, PHONE)
    await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "B"}
    )
    got = await client.get(f"{API}/me/referrals/{referral_id}/plan.pdf", headers=patient.headers)
    assert got.status_code == 200, got.text[:300]
    assert got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF-")
    info = pdf_info(got.content, tmp_path)
    assert info["Page size"].endswith("(A4)"), info
    text = pdf_text(got.content, tmp_path, "plan-ru")

    for words in (
        "План лечения",
        "Мария Петрова",
        "Улыбка",
        "ул. Тверская, 1",
        "Вариант A: Имплантация",
        "Вариант B: Мостовидный протез",
        "Вариант C: Съёмный протез",
        "Вы выбрали этот вариант",
        "97 000 ₽",  # A: 2 000 + 65 000 + 30 000
        "50 000 ₽",  # B: 2 000 + 48 000
        "27 000 ₽",  # C: 2 000 + 25 000
        "≈ 241 дн. лечения",
        "≈ 31 дн. лечения",
        "≈ 61 дн. лечения",
        "Соседние зубы обтачиваются",
        "Мост из трёх единиц",
        "Ставим имплант",
        "Этапы и сроки",
        "Этап 2",
        "Приём 2",
    ):
        assert words in text, words
    assert "114" not in text.split("Этапы")[0]  # no sum of alternatives anywhere in the overview
    # Stages carry dates (day, month, year) and each option its expected finish.
    assert len(re.findall(r"\d{1,2} [а-я]+ 20\d\d — \d{1,2} [а-я]+ 20\d\d", text)) >= 6, text
    assert int(info["Pages"]) >= 2

    # The same document from the clinic's card.
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    card_pdf = await client.get(
        f"{API}/clinic/referrals/{referral_id}/plan.pdf", headers=coordinator.headers
    )
    assert card_pdf.status_code == 200
    assert "Вариант B: Мостовидный протез" in pdf_text(card_pdf.content, tmp_path, "plan-clinic")


async def test_the_printed_plan_speaks_english_and_hides_prices_when_told(client, db, tmp_path):
    clinic_id, referral_id = await _referral(client, locale="en", name="Mary Smith")
    manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic_id))
    await client.put(
        f"{API}/clinic/settings/patient-prices",
        headers=manager.headers,
        json={"show_prices": False},
    )
    patient = await patient_sign_in(client, PHONE)
    got = await client.get(f"{API}/me/referrals/{referral_id}/plan.pdf", headers=patient.headers)
    assert got.status_code == 200
    text = pdf_text(got.content, tmp_path, "plan-en-no-prices")
    for words in ("Treatment plan", "Option A: Implant", "Option B: Bridge", "Option C: Removable"):
        assert words in text, words
    assert "The clinic will tell you the price at the consultation" in text
    assert "₽" not in text and "97,000" not in text


async def test_the_patients_print_leads_to_their_own_page_and_staff_prints_to_none(
    client, db, tmp_path
):
    """The QR of the patient's print is their personal link (/p/{token}), reused print
    after print; the clinic's print has none (a personal link in the clinic's hands would
    let it answer for its patient); a revoked or ended referral prints no link."""
    clinic_id, referral_id = await _referral(client)
    patient = await patient_sign_in(client, PHONE)
    url = f"{API}/me/referrals/{referral_id}/plan.pdf"
    got = await client.get(url, headers=patient.headers)
    assert got.status_code == 200
    flat = "".join(pdf_text(got.content, tmp_path, "plan-qr").split())
    [link] = re.findall(re.escape(db.public_url.rstrip("/")) + r"/p/[A-Za-z0-9_-]{22}", flat)
    access = await patient_links.open_link(link.rsplit("/", 1)[1], utcnow())
    assert str(access.referral_id) == referral_id and access.question_id is None
    assert "/app/referrals" not in flat
    # The QR itself encodes that link: read out of the HTML the PDF is rendered from.
    now = utcnow()
    bundle = await patient_reads.referral_bundle(access.patient_id, access.referral_id, now)
    html = plan_html(
        plan_document.document(
            bundle, app_link=await plan_document.patient_link(db, bundle, now), now=now
        )
    )
    [qr_src] = re.findall(r'<td class="qr"><img src="([^"]+)"', html)
    assert qr_src == qr_uri(link)
    # A token with "-" where a line would break reads back whole.
    dashed = f"{db.public_url.rstrip('/')}/p/-mr1h4cIrx2-QO28tC4BD_"
    context = plan_document.document(bundle, app_link=dashed, now=now, for_patient=True)
    assert dashed in "".join(pdf_text(plan_pdf(context), tmp_path, "plan-qr-dashed").split())
    # Printed again: the same link, none minted.
    links = await PatientLink.count()
    again = await client.get(url, headers=patient.headers)
    assert link in "".join(pdf_text(again.content, tmp_path, "plan-qr-again").split())
    assert await PatientLink.count() == links

    # The clinic's print: no personal link, no QR.
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    card = await client.get(
        f"{API}/clinic/referrals/{referral_id}/plan.pdf", headers=coordinator.headers
    )
    card_text = pdf_text(card.content, tmp_path, "plan-clinic-no-qr")
    assert "/p/" not in card_text and "приходит вам в SMS" in card_text

    # Revoked: the link is not brought back on paper.
    await patient_links.revoke(access.referral_id, utcnow())
    revoked = await client.get(url, headers=patient.headers)
    revoked_text = pdf_text(revoked.content, tmp_path, "plan-qr-revoked")
    assert "/p/" not in revoked_text and "SMS" not in revoked_text
    assert await PatientLink.count() == links


async def test_a_closed_referral_prints_no_link(client, db, tmp_path):
    _, referral_id = await _referral(client)
    patient = await patient_sign_in(client, PHONE)
    await close(UUID(referral_id), "patient_refused")
    got = await client.get(f"{API}/me/referrals/{referral_id}/plan.pdf", headers=patient.headers)
    assert got.status_code == 200
    assert "/p/" not in pdf_text(got.content, tmp_path, "plan-qr-closed")
    assert await PatientLink.count() == 0
