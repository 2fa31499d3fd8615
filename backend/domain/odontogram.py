"""The dental chart the patient sees: 32 permanent teeth (FDI), before, after and now.

`chart()` decides each tooth's condition for a phase; `render_svg()` draws it as two
arches seen from above (upper ∩, lower ∪; the patient's right on the viewer's left),
portrait-shaped for a phone. Colours are the Okabe–Ito set, safe for colour-blind
eyes, and every condition also carries a letter code, so nothing depends on colour.
Texts come from the caller, in the patient's language.
"""

import math
from typing import Literal
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

import msgspec

from backend.domain.plans import PlanItem, ToothState
from backend.domain.teeth import PERMANENT_TEETH, ToothCondition

Phase = Literal["before", "after", "now"]

# condition → (fill, code text colour). Okabe & Ito, "Color Universal Design" (2008).
PALETTE: dict[str, tuple[str, str]] = {
    ToothCondition.healthy: ("#FFFFFF", "#1F2933"),
    ToothCondition.caries: ("#D55E00", "#000000"),
    ToothCondition.filled: ("#0072B2", "#FFFFFF"),
    ToothCondition.root_canal: ("#CC79A7", "#000000"),
    ToothCondition.crown: ("#E69F00", "#000000"),
    ToothCondition.missing: ("#E5E7EB", "#52606D"),
    ToothCondition.implant: ("#009E73", "#000000"),
    ToothCondition.extraction: ("#F0E442", "#000000"),
    ToothCondition.bridge: ("#56B4E9", "#000000"),
    ToothCondition.periodontitis: ("#000000", "#FFFFFF"),
}


class ChartTooth(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    condition: str
    in_plan: bool  # the plan has something for this tooth
    done: bool  # all of it is done
    partly_done: bool


class ChartTexts(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    description: str
    conditions: dict[str, str]  # condition → label
    codes: dict[str, str]  # condition → one- or two-letter code
    in_plan: str
    done: str
    upper: str
    lower: str


def chart(
    states: list[ToothState], items: list[PlanItem], done: set[UUID], phase: Phase
) -> list[ChartTooth]:
    before = {s.tooth: s.condition for s in states if s.phase == "before"}
    after = {s.tooth: s.condition for s in states if s.phase == "after"}
    by_tooth: dict[int, list[PlanItem]] = {}
    for item in items:
        if item.tooth is not None:
            by_tooth.setdefault(item.tooth, []).append(item)

    teeth = []
    for number in PERMANENT_TEETH:
        was = before.get(number, ToothCondition.healthy)
        will = after.get(number, was)
        planned = by_tooth.get(number, [])
        finished = sum(1 for i in planned if i.item_id in done)
        all_done = bool(planned) and finished == len(planned)
        condition = {"before": was, "after": will, "now": will if all_done else was}[phase]
        teeth.append(
            ChartTooth(
                tooth=number,
                condition=str(condition),
                in_plan=bool(planned) or was != will,
                # Progress marks belong to today's picture only.
                done=all_done and phase == "now",
                partly_done=0 < finished < len(planned) and phase == "now",
            )
        )
    return teeth


# Geometry, in viewBox units (a 400-wide portrait picture).
WIDTH = 400
CX, UPPER_CY, LOWER_CY, RX, RY = 200, 300, 350, 158, 215
TOOTH_W, TOOTH_H = 32, 36


def _position(number: int) -> tuple[float, float, float, float, float]:
    """Centre, rotation and label position of a tooth on its arch."""
    quadrant, index = divmod(number, 10)
    upper = quadrant in (1, 2)
    # 16 slots from the viewer's left: patient's right molars (x8) to left molars (x8).
    slot = (8 - index) if quadrant in (1, 4) else (7 + index)
    angle = math.pi - (slot + 0.5) * math.pi / 16  # π (left) → 0 (right)
    cy = UPPER_CY if upper else LOWER_CY
    sign = -1 if upper else 1
    x = CX + RX * math.cos(angle)
    y = cy + sign * RY * math.sin(angle)
    # Face the arch's centre: the tangent's direction.
    rotation = math.degrees(math.atan2(sign * RY * math.cos(angle), -RX * math.sin(angle)))
    lx = CX + (RX + 30) * math.cos(angle)
    ly = cy + sign * (RY + 30) * math.sin(angle)
    return x, y, rotation, lx, ly


def render_svg(teeth: list[ChartTooth], texts: ChartTexts) -> str:
    out: list[str] = []
    for t in teeth:
        fill, ink = PALETTE.get(t.condition, PALETTE[ToothCondition.healthy])
        x, y, rotation, lx, ly = _position(t.tooth)
        dashed = ' stroke-dasharray="4 3"' if t.condition == ToothCondition.missing else ""
        stroke = "#1F2933" if t.in_plan else "#7B8794"
        width = 3 if t.in_plan else 1.5
        label = texts.conditions.get(t.condition, t.condition)
        state = f" — {texts.done}" if t.done else (f" — {texts.in_plan}" if t.in_plan else "")
        code = texts.codes.get(t.condition, "")
        out.append(
            f'<g class="tooth" data-tooth="{t.tooth}" data-condition={quoteattr(t.condition)}>'
            f"<title>{t.tooth}: {escape(label)}{escape(state)}</title>"
            f'<rect class="tooth-shape" x="{-TOOTH_W / 2}" y="{-TOOTH_H / 2}" width="{TOOTH_W}" '
            f'height="{TOOTH_H}" rx="9" fill="{fill}" stroke="{stroke}" stroke-width="{width}"'
            f'{dashed} transform="translate({x:.1f} {y:.1f}) rotate({rotation:.1f})"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" font-size="14" '
            f'font-weight="700" fill="{ink}">{escape(code)}</text>'
            + (
                f'<circle cx="{x + 13:.1f}" cy="{y - 14:.1f}" r="7" fill="#009E73" '
                f'stroke="#FFFFFF" stroke-width="1.5"/><path d="M{x + 9.5:.1f} {y - 14:.1f} '
                f'l2.5 2.5 l4.5 -5" fill="none" stroke="#FFFFFF" stroke-width="2"/>'
                if t.done
                else ""
            )
            + f'<text x="{lx:.1f}" y="{ly + 5:.1f}" text-anchor="middle" font-size="13" '
            f'fill="#52606D">{t.tooth}</text></g>'
        )

    present = [c for c in PALETTE if any(t.condition == c for t in teeth)]
    legend_y = LOWER_CY + RY + 70
    rows = (len(present) + 1) // 2
    height = legend_y + rows * 30 + 20
    legend = []
    for i, condition in enumerate(present):
        fill, ink = PALETTE[condition]
        lx, ly = 24 + (i % 2) * 188, legend_y + (i // 2) * 30
        dashed = ' stroke-dasharray="4 3"' if condition == ToothCondition.missing else ""
        legend.append(
            f'<g class="legend-item"><rect x="{lx}" y="{ly - 16}" width="26" height="22" rx="6" '
            f'fill="{fill}" stroke="#7B8794"{dashed}/>'
            f'<text x="{lx + 13}" y="{ly}" text-anchor="middle" font-size="12" font-weight="700" '
            f'fill="{ink}">{escape(texts.codes.get(condition, ""))}</text>'
            f'<text x="{lx + 34}" y="{ly}" font-size="14" fill="#1F2933">'
            f"{escape(texts.conditions.get(condition, condition))}</text></g>"
        )

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-title chart-desc" '
        f'font-family="system-ui, -apple-system, Roboto, sans-serif">'
        f'<title id="chart-title">{escape(texts.title)}</title>'
        f'<desc id="chart-desc">{escape(texts.description)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="#FFFFFF"/>'
        f'<text x="{CX}" y="{UPPER_CY - 40}" text-anchor="middle" font-size="15" '
        f'fill="#52606D">{escape(texts.upper)}</text>'
        f'<text x="{CX}" y="{LOWER_CY + 52}" text-anchor="middle" font-size="15" '
        f'fill="#52606D">{escape(texts.lower)}</text>'
        + "".join(out)
        + f'<g class="legend">{"".join(legend)}</g></svg>'
    )
