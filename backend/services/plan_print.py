"""The printed plan: an HTML page from a Jinja template, made into an A4 colour PDF by
WeasyPrint (Pango lays out the text; DejaVu Sans carries Cyrillic). What it says comes
from `backend.routes.plan_document`."""

import base64
import io
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), enable_async=False
)


def qr_uri(text: str) -> str:
    """A QR code as an SVG data URI, for an <img>."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def plan_html(context: dict[str, Any]) -> str:
    link = context.get("app_link")
    return _env.get_template("plan_print.html").render(**context, qr=qr_uri(link) if link else None)


def plan_pdf(context: dict[str, Any]) -> bytes:
    """Blocking (a plan takes a fraction of a second to a second of CPU): call it from a
    worker thread, not the event loop."""
    from weasyprint import HTML  # imported late: loading Pango is slow and not always needed

    return HTML(string=plan_html(context), base_url=str(TEMPLATES)).write_pdf()
