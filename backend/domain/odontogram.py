"""The dental chart the patient sees: 32 permanent teeth (FDI), before, after and now.

`chart()` decides each tooth's condition for a phase; `render_svg()` draws it as two
arches seen from above (upper ∩, lower ∪; the patient's right on the viewer's left),
portrait-shaped for a phone. Each tooth is outlined as what it is — incisor, canine,
premolar, molar — so a patient finds "the big one at the back" at a glance; a missing
tooth is a gap (a faint dashed ghost), an implant shows its screw head, a crown its cap,
a bridge the bar joining its teeth, a tooth to be removed a cross. Colours are the
Okabe–Ito set, safe for colour-blind eyes, and every condition also carries a letter
code (inside the arch, beside the tooth) and a <title>, so nothing depends on colour or
sight. Texts come from the caller, in the patient's language.
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
    kinds: dict[str, str] = {}  # incisor | canine | premolar | molar → word


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

# Outline sizes (mesio-distal width × bucco-lingual depth), from the teeth's mean crown
# dimensions (central incisor 8.5 × 7 mm … first molar 10 × 11 mm) at about 3.3 units/mm.
KIND_SIZE: dict[str, tuple[float, float]] = {
    "incisor": (28, 22),
    "canine": (27, 28),
    "premolar": (26, 30),
    "molar": (35, 36),
}
INK, MUTED, GHOST = "#1F2933", "#7B8794", "#9AA5B1"


def kind_of_tooth(number: int) -> str:
    """Incisor (x1, x2), canine (x3), premolar (x4, x5), molar (x6-x8); deciduous teeth
    have molars at x4, x5."""
    quadrant, index = divmod(number, 10)
    if index <= 2:
        return "incisor"
    if index == 3:
        return "canine"
    if quadrant >= 5 or index >= 6:
        return "molar"
    return "premolar"


def _position(number: int) -> tuple[float, float, float, float, float, float, float]:
    """Centre, rotation, label position (outside) and code position (inside the arch)."""
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
    cx = CX + (RX - 34) * math.cos(angle)
    cy_ = cy + sign * (RY - 34) * math.sin(angle)
    return x, y, rotation, lx, ly, cx, cy_


def outline(kind: str) -> str:
    """The crown as seen from above, centred on 0,0; x along the arch, y across it."""
    w, h = KIND_SIZE[kind]
    a, b = w / 2, h / 2
    if kind == "incisor":  # a flat blade: wide, thin, a straight cutting edge
        return (
            f"M{-a} {-b + 3} Q{-a} {-b} {-a + 4} {-b} H{a - 4} Q{a} {-b} {a} {-b + 3} "
            f"C{a} {b * 0.4} {a * 0.5} {b} 0 {b} C{-a * 0.5} {b} {-a} {b * 0.4} {-a} {-b + 3}Z"
        )
    if kind == "canine":  # one pointed cusp, a rounded heel
        return (
            f"M0 {-b} C{a * 0.7} {-b * 0.7} {a} {-b * 0.2} {a} {b * 0.15} "
            f"C{a} {b * 0.8} {a * 0.4} {b} 0 {b} C{-a * 0.4} {b} {-a} {b * 0.8} {-a} {b * 0.15} "
            f"C{-a} {-b * 0.2} {-a * 0.7} {-b * 0.7} 0 {-b}Z"
        )
    if kind == "premolar":  # an oval with two cusps
        return (
            f"M0 {-b} C{a * 0.9} {-b} {a} {-b * 0.5} {a} 0 C{a} {b * 0.5} {a * 0.9} {b} 0 {b} "
            f"C{-a * 0.9} {b} {-a} {b * 0.5} {-a} 0 C{-a} {-b * 0.5} {-a * 0.9} {-b} 0 {-b}Z"
        )
    r = 9  # molar: a broad rounded square with four cusps
    return (
        f"M{-a + r} {-b} H{a - r} Q{a} {-b} {a} {-b + r} V{b - r} Q{a} {b} {a - r} {b} "
        f"H{-a + r} Q{-a} {b} {-a} {b - r} V{-b + r} Q{-a} {-b} {-a + r} {-b}Z"
    )


def grooves(kind: str) -> str:
    """The occlusal grooves that make a tooth read as a tooth."""
    w, h = KIND_SIZE[kind]
    if kind == "molar":
        return f"M{-w * 0.28} 0 H{w * 0.28} M0 {-h * 0.3} V{h * 0.3}"
    if kind == "premolar":
        return f"M{-w * 0.25} 0 H{w * 0.25}"
    if kind == "canine":
        return f"M0 {-h * 0.2} V{h * 0.15}"
    return f"M{-w * 0.3} {-h * 0.2} H{w * 0.3}"


def overlay(condition: str, kind: str, reach: tuple[float, float] = (0, 0)) -> str:
    """What a condition adds to the outline, in the tooth's own coordinates. `reach`: how
    far a bridge's bar runs past each side (-x, +x) to meet its neighbours in the bridge."""
    w, h = KIND_SIZE[kind]
    if condition == ToothCondition.implant:
        # The screw head seen from above: a ring with a hexagon socket.
        hexagon = " ".join(
            f"{5 * math.cos(math.pi / 3 * k):.1f},{5 * math.sin(math.pi / 3 * k):.1f}"
            for k in range(6)
        )
        return (
            '<circle r="9.5" fill="#F5F7FA" stroke="#1F2933" stroke-width="2"/>'
            '<circle r="9.5" fill="none" stroke="#1F2933" stroke-width="1" '
            'stroke-dasharray="2 2" transform="scale(0.78)"/>'
            f'<polygon points="{hexagon}" fill="#1F2933"/>'
        )
    if condition == ToothCondition.crown:
        # The cap: an inner rim a little inside the outline.
        return (
            f'<path d="{outline(kind)}" fill="none" stroke="#FFFFFF" stroke-width="2.5" '
            f'transform="scale(0.72)"/>'
            f'<path d="{outline(kind)}" fill="none" stroke="#7A4F00" stroke-width="1" '
            f'transform="scale(0.72)"/>'
        )
    if condition == ToothCondition.bridge:
        # The bar joining the bridge's teeth, on to where it meets the next one's.
        left, right = -w * 0.3 - reach[0], w * 0.3 + reach[1]
        return (
            f'<rect x="{left:.1f}" y="-3.5" width="{right - left:.1f}" height="7" rx="3" '
            f'fill="#1F2933"/>'
        )
    if condition == ToothCondition.extraction:
        d = min(w, h) * 0.3
        return (
            f'<path d="M{-d} {-d} L{d} {d} M{d} {-d} L{-d} {d}" stroke="#1F2933" '
            f'stroke-width="3" stroke-linecap="round"/>'
        )
    if condition == ToothCondition.caries:
        return f'<circle cx="{w * 0.15}" cy="{-h * 0.12}" r="4" fill="#1F2933"/>'
    if condition == ToothCondition.filled:
        return (
            f'<rect x="{-w * 0.22}" y="{-h * 0.16}" width="{w * 0.44}" height="{h * 0.32}" '
            f'rx="3" fill="#FFFFFF" fill-opacity="0.55"/>'
        )
    if condition == ToothCondition.root_canal:
        return '<circle r="3.5" fill="#FFFFFF" stroke="#1F2933" stroke-width="1.5"/>'
    if condition == ToothCondition.periodontitis:
        return (
            f'<path d="{outline(kind)}" fill="none" stroke="#D55E00" stroke-width="2.5" '
            f'stroke-dasharray="3 2" transform="scale(1.22)"/>'
        )
    return ""


def _bridge_reach(teeth: list[ChartTooth]) -> dict[int, tuple[float, float]]:
    """For each bridge tooth, how far its bar runs toward each bridge neighbour (half the
    way, so the two bars meet), along its own x axis."""
    bridged = {t.tooth for t in teeth if t.condition == ToothCondition.bridge}
    reach: dict[int, tuple[float, float]] = {}
    for number in bridged:
        quadrant, index = divmod(number, 10)
        x, y, rotation = _position(number)[:3]
        turn = math.radians(-rotation)
        sides = [0.0, 0.0]
        for other in (
            number - 1,
            number + 1,
            (quadrant + (1 if quadrant in (1, 4) else -1)) * 10 + 1,
        ):
            if other not in bridged or other == number:
                continue
            if index != 1 and other % 10 == 1 and other // 10 != quadrant:
                continue  # across the midline only from the central incisors
            ox, oy = _position(other)[:2]
            dx, dy = ox - x, oy - y
            along = dx * math.cos(turn) - dy * math.sin(turn)
            half = math.hypot(dx, dy) / 2 - KIND_SIZE[kind_of_tooth(number)][0] * 0.3
            sides[1 if along > 0 else 0] = max(half, 0)
        reach[number] = (sides[0], sides[1])
    return reach


def _tooth(t: ChartTooth, texts: ChartTexts, reach: tuple[float, float] = (0, 0)) -> str:
    kind = kind_of_tooth(t.tooth)
    fill, ink = PALETTE.get(t.condition, PALETTE[ToothCondition.healthy])
    x, y, rotation, lx, ly, cx, cy = _position(t.tooth)
    label = texts.conditions.get(t.condition, t.condition)
    state = f" — {texts.done}" if t.done else (f" — {texts.in_plan}" if t.in_plan else "")
    kind_word = texts.kinds.get(kind)
    title = f"{t.tooth}{f' ({kind_word})' if kind_word else ''}: {label}{state}"
    code = texts.codes.get(t.condition, "")
    place = f'transform="translate({x:.1f} {y:.1f}) rotate({rotation:.1f})"'
    if t.condition == ToothCondition.missing:
        # A gap: only a faint dashed ghost of the tooth that is not there.
        shape = (
            f'<path class="tooth-shape" d="{outline(kind)}" fill="none" stroke="{GHOST}" '
            f'stroke-width="{2 if t.in_plan else 1.2}" stroke-dasharray="3 3" '
            f'transform="scale(0.85)"/>'
        )
    else:
        stroke = INK if t.in_plan else MUTED
        shape = (
            f'<path class="tooth-shape" d="{outline(kind)}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{3 if t.in_plan else 1.5}" stroke-linejoin="round"/>'
            f'<path d="{grooves(kind)}" fill="none" stroke="{ink}" stroke-opacity="0.35" '
            f'stroke-width="1.2" stroke-linecap="round"/>' + overlay(t.condition, kind, reach)
        )
    badge = ""
    if code:
        badge = (
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="10" fill="{fill}" stroke="{MUTED}" '
            f'stroke-width="1"/><text x="{cx:.1f}" y="{cy + 4.5:.1f}" text-anchor="middle" '
            f'font-size="{12 if len(code) < 2 else 10}" font-weight="700" fill="{ink}">'
            f"{escape(code)}</text>"
        )
    done = ""
    if t.done:
        done = (
            f'<circle cx="{x + 14:.1f}" cy="{y - 14:.1f}" r="7" fill="#009E73" '
            f'stroke="#FFFFFF" stroke-width="1.5"/><path d="M{x + 10.5:.1f} {y - 14:.1f} '
            f'l2.5 2.5 l4.5 -5" fill="none" stroke="#FFFFFF" stroke-width="2"/>'
        )
    return (
        f'<g class="tooth" data-tooth="{t.tooth}" data-kind="{kind}" '
        f"data-condition={quoteattr(t.condition)}>"
        f"<title>{escape(title)}</title>"
        f"<g {place}>{shape}</g>{badge}{done}"
        f'<text x="{lx:.1f}" y="{ly + 5:.1f}" text-anchor="middle" font-size="13" '
        f'fill="#52606D">{t.tooth}</text></g>'
    )


def render_svg(teeth: list[ChartTooth], texts: ChartTexts) -> str:
    reach = _bridge_reach(teeth)
    out = [_tooth(t, texts, reach.get(t.tooth, (0, 0))) for t in teeth]
    present = [c for c in PALETTE if any(t.condition == c for t in teeth)]
    legend_y = LOWER_CY + RY + 70
    rows = (len(present) + 1) // 2
    height = legend_y + rows * 34 + 20
    legend = []
    for i, condition in enumerate(present):
        fill = PALETTE[condition][0]
        lx, ly = 24 + (i % 2) * 188, legend_y + (i // 2) * 34
        code = texts.codes.get(condition, "")
        if condition == ToothCondition.missing:
            swatch = (
                f'<path d="{outline("premolar")}" fill="none" stroke="{GHOST}" '
                f'stroke-width="1.5" stroke-dasharray="3 3" transform="scale(0.7)"/>'
            )
        else:
            swatch = (
                f'<path d="{outline("premolar")}" fill="{fill}" stroke="{MUTED}" '
                f'stroke-width="1.2" transform="scale(0.7)"/>'
                f'<g transform="scale(0.7)">{overlay(condition, "premolar")}</g>'
            )
        legend.append(
            f'<g class="legend-item"><g transform="translate({lx + 10} {ly - 6})">{swatch}</g>'
            f'<text x="{lx + 34}" y="{ly}" font-size="14" fill="#1F2933">'
            f"{escape(texts.conditions.get(condition, condition))}"
            f"{f' ({escape(code)})' if code else ''}</text></g>"
        )

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-title chart-desc" '
        f"font-family=\"system-ui, -apple-system, Roboto, 'DejaVu Sans', sans-serif\">"
        f'<title id="chart-title">{escape(texts.title)}</title>'
        f'<desc id="chart-desc">{escape(texts.description)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="#FFFFFF"/>'
        f'<text x="{CX}" y="{UPPER_CY - 60}" text-anchor="middle" font-size="15" '
        f'fill="#52606D">{escape(texts.upper)}</text>'
        f'<text x="{CX}" y="{LOWER_CY + 72}" text-anchor="middle" font-size="15" '
        f'fill="#52606D">{escape(texts.lower)}</text>'
        + "".join(out)
        + f'<g class="legend">{"".join(legend)}</g></svg>'
    )
