"""The funnel drawn as SVG on the server: coloured bars (green in, yellow reserve, red
lost) shaded by verification, and inflow against executed month by month.

Colours come from the Okabe–Ito set so the three meanings stay apart for colour-blind
eyes; shading uses pattern as well as tone, and every bar is labelled with its number.
"""

from xml.sax.saxutils import escape

from admin.i18n import Lang, word
from backend.domain.money_funnel import Funnel, Split
from backend.services import texts

GREEN, BLUE, YELLOW, RED, GREY = "#009E73", "#0072B2", "#E69F00", "#D55E00", "#7B8794"

PATTERNS = """<defs>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse"
 patternTransform="rotate(45)"><rect width="6" height="6" fill="#FFFFFF" fill-opacity="0.55"/>
<line x1="0" y1="0" x2="0" y2="6" stroke="#FFFFFF" stroke-width="3"/></pattern>
<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#000000" fill-opacity="0.35"/>
<circle cx="3" cy="3" r="1.4" fill="#FFFFFF"/></pattern>
</defs>"""


def _money(amount: int, lang: Lang) -> str:
    return texts.money(amount, "RUB", lang)


def _shades(split: Split) -> list[tuple[str, int]]:
    """A bar's parts by verification."""
    return [
        ("verified", split.verified),
        ("unverified", split.unverified),
        ("disputed", split.disputed),
    ]


def funnel_bars(f: Funnel, lang: Lang) -> str:
    """One bar per figure, as long as its money, split verified / unverified / disputed."""
    rows: list[tuple[str, str, int, list[tuple[str, int]], str]] = [
        ("in", GREEN, f.in_money, [("verified", f.in_money)], f"{f.in_count}"),
        ("accepted", GREEN, f.accepted_money, _shades(f.accepted_split), f"{f.accepted_count}"),
        ("executed", BLUE, f.executed_money, _shades(f.executed_split), ""),
        ("paid", BLUE, f.paid_money, _shades(f.paid_split), ""),
        ("reserve", YELLOW, f.reserve_money, [("verified", f.reserve_money)], f"{f.reserve_count}"),
        ("lost", RED, f.lost_money, [("verified", f.lost_money)], f"{f.lost_count}"),
    ]
    width, label_w, bar_h, gap = 800, 250, 34, 18
    top = max([r[2] for r in rows] + [1])
    span = width - label_w - 150
    parts = [PATTERNS]
    y = 10
    for key, colour, total, pieces, count in rows:
        parts.append(
            f'<text x="0" y="{y + 22}" font-size="15" fill="#1F2933">'
            f"{escape(word(key, lang))}</text>"
        )
        x = label_w
        for kind, amount in pieces:
            if amount <= 0:
                continue
            w = max(2.0, span * amount / top)
            fill = {"verified": "none", "unverified": "url(#hatch)", "disputed": "url(#dots)"}[kind]
            parts.append(
                f'<g class="bar-piece" data-figure="{key}" data-kind="{kind}">'
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                + (
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
                    if fill != "none"
                    else ""
                )
                + f"<title>{escape(word(key, lang))}, {escape(word(_kind(kind), lang))}: "
                f"{escape(_money(amount, lang))}</title></g>"
            )
            x += w
        tail = _money(total, lang) + (f" · {count}" if count else "")
        parts.append(
            f'<text x="{x + 8:.1f}" y="{y + 22}" font-size="14" fill="#1F2933" '
            f'data-value="{total}">{escape(tail)}</text>'
        )
        y += bar_h + gap
    legend_y = y + 6
    for i, kind in enumerate(("verified", "unverified", "disputed")):
        lx = label_w + i * 170
        fill = {"verified": "none", "unverified": "url(#hatch)", "disputed": "url(#dots)"}[kind]
        parts.append(
            f'<rect x="{lx}" y="{legend_y}" width="22" height="16" fill="{GREY}"/>'
            + (
                f'<rect x="{lx}" y="{legend_y}" width="22" height="16" fill="{fill}"/>'
                if fill != "none"
                else ""
            )
            + f'<text x="{lx + 28}" y="{legend_y + 13}" font-size="13" fill="#1F2933">'
            f"{escape(word(_kind(kind), lang))}</text>"
        )
    height = legend_y + 26
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(word("funnel", lang))}" '
        f'class="chart funnel-chart">' + "".join(parts) + "</svg>"
    )


def _kind(kind: str) -> str:
    return "in_dispute" if kind == "disputed" else kind


def monthly_chart(months: list, lang: Lang) -> str:
    """Pairs of bars per month: money in (green) and money executed (blue)."""
    width, height, left, bottom = 760, 260, 20, 40
    top = max([max(m.inflow, m.executed) for m in months] + [1])
    slot = (width - left) / max(len(months), 1)
    bar = slot * 0.32
    plot_h = height - bottom - 30
    parts = []
    for i, m in enumerate(months):
        x = left + i * slot + slot * 0.12
        for j, (value, colour, key) in enumerate(
            ((m.inflow, GREEN, "in"), (m.executed, BLUE, "executed"))
        ):
            h = plot_h * value / top
            bx = x + j * (bar + 4)
            parts.append(
                f'<rect class="month-bar" data-month="{m.month}" data-figure="{key}" '
                f'x="{bx:.1f}" y="{30 + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{m.month} {escape(word(key, lang))}: '
                f"{escape(_money(value, lang))}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{height - 18}" font-size="13" text-anchor="middle" '
            f'fill="#1F2933">{m.month}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="4" width="14" height="14" fill="{GREEN}"/>'
        f'<text x="{left + 20}" y="16" font-size="13">{escape(word("in", lang))}</text>'
        f'<rect x="{left + 140}" y="4" width="14" height="14" fill="{BLUE}"/>'
        f'<text x="{left + 160}" y="16" font-size="13">{escape(word("executed", lang))}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(word("months", lang))}" class="chart month-chart">'
        + "".join(parts)
        + "</svg>"
    )
