"""The plan editor's form: a plan version as rows of inputs, and the posted rows back.

Every field of a plan travels through the form (item ids, codes, both titles, teeth,
stages, variants, chair time, course length, the tooth chart, the chosen variant), so
saving a plan unchanged makes a version equal to the one it was opened from. Empty
rows are spare rows for additions; an unticked row is dropped from the new version.
"""

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec

from backend.services.errors import Invalid
from backend.services.referrals import PlanIn

SPARE_ITEMS = 3
SPARE_TEETH = 4


def rubles(amount: int) -> str:
    """Kopecks as the form shows them: 6500.00."""
    return f"{Decimal(amount) / 100:.2f}"


def _kopecks(text: str, where: str) -> int:
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value = Decimal(cleaned) * 100
    except InvalidOperation as exc:
        raise Invalid(f"{where}: {text!r} is not an amount") from exc
    if value != value.to_integral_value():
        raise Invalid(f"{where}: at most two decimals")
    return int(value)


def _int(text: str, where: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise Invalid(f"{where}: {text!r} is not a whole number") from exc


def _uuid(text: str) -> str | None:
    try:
        return str(UUID(text)) if text.strip() else None
    except ValueError:
        return None


def _variant(text: str) -> str | None:
    return text.strip().upper() or None


def _rows(form: Any, prefix: str) -> range:
    return range(_int(form.get(f"{prefix}rows", "0") or "0", "rows") or 0)


def plan_from_form(form: Any, currency: str) -> PlanIn:
    """The posted editor as a plan, validated as the API validates one (msgspec)."""
    items: list[dict[str, Any]] = []
    for i in _rows(form, "item_"):
        if form.get(f"keep_{i}") != "on":
            continue
        title_ru = form.get(f"title_ru_{i}", "").strip()
        title_en = form.get(f"title_en_{i}", "").strip()
        price = form.get(f"price_{i}", "").strip()
        if not (title_ru or title_en) and not price:
            continue  # an untouched spare row
        where = f"row {i + 1}"
        if not price:
            raise Invalid(f"{where}: a price is needed")
        items.append(
            {
                "item_id": _uuid(form.get(f"item_id_{i}", "")),
                "code": form.get(f"code_{i}", "").strip(),
                "title_ru": title_ru,
                "title_en": title_en,
                "specialization": form.get(f"specialization_{i}", "therapy"),
                "tooth": _int(form.get(f"tooth_{i}", ""), f"{where}, tooth"),
                "stage": _int(form.get(f"stage_{i}", ""), f"{where}, stage") or 1,
                "variant": _variant(form.get(f"variant_{i}", "")),
                "price": _kopecks(price, f"{where}, price"),
                "chair_minutes": _int(form.get(f"chair_minutes_{i}", ""), f"{where}, minutes"),
                "course_days": _int(form.get(f"course_days_{i}", ""), f"{where}, days"),
            }
        )
    teeth: list[dict[str, Any]] = []
    for j in _rows(form, "tooth_"):
        if form.get(f"t_keep_{j}") != "on":
            continue
        tooth = _int(form.get(f"t_tooth_{j}", ""), f"chart row {j + 1}, tooth")
        if tooth is None:
            continue
        teeth.append(
            {
                "tooth": tooth,
                "phase": form.get(f"t_phase_{j}", "before"),
                "condition": form.get(f"t_condition_{j}", "healthy"),
                "note": form.get(f"t_note_{j}", "").strip(),
            }
        )
    plan = {
        "items": items,
        "teeth": teeth,
        "currency": currency,
        "chosen_variant": _variant(form.get("chosen_variant", "")),
    }
    try:
        return msgspec.convert(plan, PlanIn)
    except msgspec.ValidationError as exc:
        raise Invalid(str(exc)) from exc
