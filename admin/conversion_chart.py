"""Conversion drawn as SVG on the server (as IDENT's "consultation effectiveness"):
one column per step, its referrals in blue, the forecast above them in yellow, each
labelled with its numbers; the step-to-step per cent between columns."""

from xml.sax.saxutils import escape

from admin.charts import BLUE, YELLOW
from admin.i18n import Lang, word
from backend.routes.clinic_reports import ConversionRowOut


def conversion_columns(row: ConversionRowOut, lang: Lang) -> str:
    width, height, left, bottom, top_pad = 840, 320, 10, 44, 52
    plot_h = height - bottom - top_pad
    top = max([max(c.forecast, c.reached) for c in row.steps] + [1])
    slot = (width - left) / len(row.steps)
    bar = slot * 0.5
    parts = []
    for i, c in enumerate(row.steps):
        x = left + i * slot + (slot - bar) / 2
        h = plot_h * c.reached / top
        extra = plot_h * max(c.forecast - c.reached, 0) / top
        y = top_pad + plot_h - h
        parts.append(
            f'<rect class="conv-bar" data-step="{c.step}" data-reached="{c.reached}" '
            f'x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{BLUE}">'
            f"<title>{escape(word('step_' + c.step, lang))}: {c.reached}</title></rect>"
        )
        if extra > 0.5:
            parts.append(
                f'<rect class="conv-forecast" data-step="{c.step}" data-forecast="{c.forecast}" '
                f'x="{x:.1f}" y="{y - extra:.1f}" width="{bar:.1f}" height="{extra:.1f}" '
                f'fill="{YELLOW}"><title>{escape(word("forecast", lang))}: {c.forecast}'
                f"</title></rect>"
            )
        label = f"{c.reached}" + (f" → {c.forecast:g}" if c.forecast > c.reached else "")
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - extra - 6:.1f}" font-size="13" '
            f'text-anchor="middle" fill="#1F2933">{escape(label)}</text>'
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 18}" font-size="13" '
            f'text-anchor="middle" fill="#1F2933">{escape(word("step_" + c.step, lang))}</text>'
        )
        if c.conversion is not None:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 36}" font-size="12" '
                f'text-anchor="middle" fill="#52606D">{c.conversion:g}%</text>'
            )
    legend_y = 16  # above the columns, clear of the step names and per cents below them
    for j, (colour, key) in enumerate(((BLUE, "conv_reached"), (YELLOW, "forecast"))):
        lx = left + j * 160
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 11}" width="18" height="12" fill="{colour}"/>'
            f'<text x="{lx + 24}" y="{legend_y}" font-size="13" fill="#1F2933">'
            f"{escape(word(key, lang))}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(word("conversion_title", lang))}" '
        f'class="chart conversion-chart">' + "".join(parts) + "</svg>"
    )
