"""The dental chart as a phone shows it: the patient API's SVG rendered by Chromium at
390 px. Every tooth is on screen, none overlaps another, each says what it is, and the
options' charts after differ where the options do (an implant, a bridge, a gap)."""

import msgspec
import pytest

from backend.services.referrals import PatientIn, PlanIn, send_referral
from tests.browser.conftest import shot
from tests.factories import NOW, make_clinic
from tests.http.patient_client import sign_in
from tests.http.test_plan_variants import THREE_OPTIONS

PHONE = "+79165550021"
BEFORE = [
    {"tooth": 16, "phase": "before", "condition": "caries"},
    {"tooth": 46, "phase": "before", "condition": "root_canal"},
    {"tooth": 48, "phase": "before", "condition": "extraction"},
    {"tooth": 11, "phase": "before", "condition": "crown"},
]

BOXES = """svg => [...svg.querySelectorAll('g.tooth')].map(g => {
  const r = g.querySelector('.tooth-shape').getBoundingClientRect();
  return {tooth: +g.dataset.tooth, kind: g.dataset.kind, condition: g.dataset.condition,
          title: g.querySelector('title').textContent,
          x: r.left, y: r.top, w: r.width, h: r.height};
})"""


def overlap(a: dict, b: dict) -> float:
    dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(dx, 0) * max(dy, 0)


@pytest.mark.parametrize("variant", ["A", "B", "C"])
async def test_the_chart_after_each_option_reads_on_a_phone(client, db, browser, variant):
    clinic_id = await make_clinic()
    plan = {**THREE_OPTIONS, "teeth": BEFORE + THREE_OPTIONS["teeth"]}
    sent = await send_referral(
        patient=PatientIn(phone=PHONE),
        clinic_id=clinic_id,
        plan=msgspec.convert(plan, PlanIn),
        actor="test",
        now=NOW,
    )
    patient = await sign_in(client, PHONE)
    svg = (
        await client.get(
            f"/api/v1/me/referrals/{sent.referral_id}/teeth.svg?phase=after&variant={variant}",
            headers=patient.headers,
        )
    ).text

    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await page.set_content(f"<body style='margin:0'><main style='width:390px'>{svg}</main></body>")
    boxes = await page.locator("svg").evaluate(BOXES)
    await shot(page, f"chart-after-{variant}")

    assert sorted(b["tooth"] for b in boxes) == sorted(
        q * 10 + n for q in (1, 2, 3, 4) for n in range(1, 9)
    )
    for b in boxes:
        assert b["x"] >= 0 and b["x"] + b["w"] <= 390, b  # on a phone's screen
        assert b["w"] >= 14 and b["h"] >= 14, b  # big enough to see and tap
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            smaller = min(a["w"] * a["h"], b["w"] * b["h"])
            assert overlap(a, b) < 0.25 * smaller, (a["tooth"], b["tooth"])
    kinds = {b["tooth"]: b["kind"] for b in boxes}
    assert (kinds[11], kinds[13], kinds[15], kinds[36]) == (
        "incisor",
        "canine",
        "premolar",
        "molar",
    )
    by_tooth = {b["tooth"]: b for b in boxes}
    expected_36 = {"A": "implant", "B": "bridge", "C": "missing"}[variant]
    assert by_tooth[36]["condition"] == expected_36
    assert by_tooth[36]["title"].startswith("36 (моляр): ")
    tooth_36 = page.locator('g.tooth[data-tooth="36"]')
    if variant == "A":  # the implant's screw head, drawn
        await tooth_36.locator("polygon").wait_for()
    if variant == "B":  # the bar of the bridge, and its crowned neighbours
        await tooth_36.locator("rect").wait_for()
        assert (by_tooth[35]["condition"], by_tooth[37]["condition"]) == ("crown", "crown")
    if variant == "C":  # a gap: only a dashed ghost, nothing filled
        shape = tooth_36.locator(".tooth-shape")
        assert await shape.get_attribute("fill") == "none"
        assert await shape.get_attribute("stroke-dasharray")
    # Letter codes beside the teeth carry the state without colour.
    codes = await page.locator('g.tooth[data-tooth="16"] text').all_text_contents()
    assert codes == ["К", "16"]  # caries, untreated in these options
