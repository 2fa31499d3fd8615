"""The mouth chart (backend.domain.odontogram): valid SVG, phases, colours."""

import xml.etree.ElementTree as ET
from uuid import uuid4

import pytest

from backend.domain.odontogram import PALETTE, chart, render_svg
from backend.domain.plans import PlanItem, ToothState
from backend.domain.teeth import PERMANENT_TEETH, ToothCondition
from backend.services import texts

SVG = "{http://www.w3.org/2000/svg}"

FILLING, IMPLANT = uuid4(), uuid4()
STATES = [
    ToothState(tooth=16, phase="before", condition="caries"),
    ToothState(tooth=16, phase="after", condition="filled"),
    ToothState(tooth=36, phase="before", condition="missing"),
    ToothState(tooth=36, phase="after", condition="implant"),
]
ITEMS = [
    PlanItem(item_id=FILLING, specialization="therapy", price=6_500_00, tooth=16),
    PlanItem(item_id=IMPLANT, specialization="implantology", price=55_000_00, tooth=36),
]


@pytest.mark.parametrize("phase", ["before", "after", "now"])
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_chart_svg_is_valid_with_one_shape_per_tooth(phase, lang):
    teeth = chart(STATES, ITEMS, {FILLING}, phase)
    svg = render_svg(teeth, texts.chart_texts(phase, lang))
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    groups = root.findall(f".//{SVG}g[@class='tooth']")
    assert sorted(int(g.get("data-tooth")) for g in groups) == sorted(PERMANENT_TEETH)
    for g in groups:
        assert len(g.findall(f".//{SVG}path[@class='tooth-shape']")) == 1
        assert g.find(f"{SVG}title") is not None  # each tooth says what it is
    assert root.find(f"{SVG}title").text == texts.CHART[phase][lang]
    assert root.findall(f".//{SVG}g[@class='legend-item']")


def test_chart_phases_show_before_planned_and_todays_state():
    def state(phase, tooth, done=frozenset()):
        return next(t for t in chart(STATES, ITEMS, set(done), phase) if t.tooth == tooth)

    assert state("before", 16).condition == "caries"
    assert state("after", 16).condition == "filled"
    assert state("now", 16).condition == "caries"
    assert state("now", 16, {FILLING}).condition == "filled" and state("now", 16, {FILLING}).done
    assert not state("before", 16, {FILLING}).done  # progress marks only on today's chart
    assert state("now", 36, {FILLING}).condition == "missing"
    assert not state("now", 17).in_plan and state("now", 36).in_plan


def test_every_condition_has_a_colour_and_words_in_both_languages():
    assert set(PALETTE) == set(ToothCondition) == set(texts.CONDITIONS)
    colours = [fill for fill, _ in PALETTE.values()]
    assert len(set(colours)) == len(colours)
