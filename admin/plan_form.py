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
SPARE_VARIANTS = 2
SPARE_EXPLANATIONS = 3


# The API's own ceiling for one amount (PaymentIn, plan prices): a hundred million roubles.
MAX_KOPECKS = 100_000_000_00


def rubles(amount: int) -> str:
    """Kopecks as the form shows them: 6500.00."""
    return f"{Decimal(amount) / 100:.2f}"


def kopecks(text: str, where: str) -> int:
    """Roubles as a person types them (6 500,50) into kopecks, exactly: never through a
    float, never a fraction of a kopeck rounded away, never an endless number."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value = Decimal(cleaned) * 100
    except InvalidOperation as exc:
        raise Invalid(f"{where}: {text!r} is not an amount") from exc
    if not value.is_finite():
        raise Invalid(f"{where}: {text!r} is not an amount")
    if abs(value) > MAX_KOPECKS:
        raise Invalid(f"{where}: at most {MAX_KOPECKS // 100:,} roubles".replace(",", " "))
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


def _lines(text: str) -> str:
    """Text areas post CRLF line ends; the plan keeps LF, and no blank edges."""
    return text.replace("\r\n", "\n").strip()


def _rows(form: Any, prefix: str) -> range:
    return range(_int(form.get(f"{prefix}rows", "0") or "0", "rows") or 0)


def _all(form: Any, name: str) -> list[str]:
    getall = getattr(form, "getall", None)
    values = getall(name, []) if getall is not None else form.get(name)
    return [values] if isinstance(values, str) else list(values or [])


def plan_from_form(form: Any, currency: str) -> PlanIn:
    """The posted editor as a plan, validated as the API validates one (msgspec)."""
    items: list[dict[str, Any]] = []
    index_of_row: dict[int, int] = {}  # the row number shown (1, 2, …) → index in items
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
        index_of_row[i + 1] = len(items)
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
                "price": kopecks(price, f"{where}, price"),
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
                "variant": _variant(form.get(f"t_variant_{j}", "")),
            }
        )
    variants: list[dict[str, Any]] = []
    for k in _rows(form, "variant_"):
        letter = _variant(form.get(f"v_letter_{k}", ""))
        if letter is None or form.get(f"v_keep_{k}") != "on":
            continue
        variants.append(
            {"variant": letter}
            | {
                f: _lines(form.get(f"v_{f}_{k}", ""))
                for f in ("title_ru", "title_en", "pros_ru", "pros_en", "cons_ru", "cons_en")
            }
        )
    explanations: list[dict[str, Any]] = []
    for k in _rows(form, "explanation_"):
        words = {
            f: _lines(form.get(f"e_{f}_{k}", ""))
            for f in ("problem_ru", "problem_en", "solution_ru", "solution_en")
        }
        if form.get(f"e_keep_{k}") != "on" or not any(words.values()):
            continue
        where = f"explanation {k + 1}"
        row = _int(form.get(f"e_item_{k}", ""), f"{where}, item row")
        if row is not None and row not in index_of_row:
            raise Invalid(f"{where}: item row {row} is not in the plan")
        explanations.append(
            {
                "variant": _variant(form.get(f"e_variant_{k}", "")),
                "stage": _int(form.get(f"e_stage_{k}", ""), f"{where}, stage"),
                "item": index_of_row[row] if row is not None else None,
                "visit": _int(form.get(f"e_visit_{k}", ""), f"{where}, visit"),
                "specialists": _all(form, f"e_specialists_{k}"),
                **words,
            }
        )
    plan = {
        "items": items,
        "teeth": teeth,
        "currency": currency,
        "chosen_variant": _variant(form.get("chosen_variant", "")),
        "variants": variants,
        "explanations": explanations,
    }
    try:
        return msgspec.convert(plan, PlanIn)
    except msgspec.ValidationError as exc:
        raise Invalid(str(exc)) from exc
