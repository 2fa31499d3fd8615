"""What a clinic's CRM says about money, in plantrack's words: its product rows matched
to the lines of the referral's plan, the plan version they make, which lines they say
are done, and the payments and corrections an amount "paid so far" stands for.

Pure rules: the adapters read the vendors (backend.integrations), the service records
what follows here through the panel's own doors (backend.services.crm_money). A row
matches a plan line by its product code, then by its title and tooth; a row that
matches nothing becomes a new line, never silently dropped.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from backend.domain.plan_import import PriceLine
from backend.domain.plans import PlanItem
from backend.domain.teeth import is_valid_tooth

RowsMean = Literal["plan", "done", "off"]


class CrmRow(msgspec.Struct, frozen=True, kw_only=True):
    """One product row of a deal (Bitrix24) or product linked to a lead (amoCRM)."""

    ref: str  # the vendor's id of the row: Bitrix24 row ID, amoCRM catalog element id
    title: str
    price: int  # minor units for the whole row: unit price × quantity, after discounts
    code: str = ""  # the product's code in the CRM's catalogue, when it has one
    tooth: int | None = None  # FDI number, when the row's name carries one


class CrmPayment(msgspec.Struct, frozen=True, kw_only=True):
    """A payment object of the CRM (Bitrix24 crm.item.payment.list)."""

    ref: str
    amount: int  # minor units
    currency: str
    paid: bool
    paid_at: datetime | None = None


class CrmMoney(msgspec.Struct, frozen=True, kw_only=True):
    """What one deal or lead says about money as it stands, vendor formats parsed."""

    label_ru: str  # "Битрикс24, сделка 17": names the object in the plan's reason
    label_en: str  # "Bitrix24 deal 17"
    state_at: datetime | None  # when the object last changed (the vendor's clock)
    stage_at: datetime | None = None  # when it entered its current stage
    rows_mean: RowsMean = "plan"
    currency: str | None = None  # of the rows and the amount
    rows: tuple[CrmRow, ...] = ()
    amount: int | None = None  # the deal's sum (OPPORTUNITY, lead price): shown, not booked
    paid_total: int | None = None  # the paid-so-far field, None when not configured or empty
    paid_currency: str | None = None
    payments: tuple[CrmPayment, ...] | None = None  # None: payment objects not read
    done_refs: tuple[str, ...] = ()  # what the "done rows" field lists
    problems: tuple[str, ...] = ()  # read but not understood: refused, and shown


class DraftLine(msgspec.Struct, frozen=True, kw_only=True):
    """A line of a plan version to be recorded; item_id None is a new line."""

    item_id: UUID | None
    specialization: str
    price: int
    code: str = ""
    title_ru: str = ""
    title_en: str = ""
    tooth: int | None = None
    stage: int = 1
    variant: str | None = None
    chair_minutes: int | None = None
    course_days: int | None = None


class PlanDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A plan version a clinic's system states, before it goes through the panel's
    plan-revision door."""

    lines: tuple[DraftLine, ...]
    reason: str
    chosen_variant: str | None = None


# --- reading rows ------------------------------------------------------------------------

# "зуб 16", "зуба 16", "з. 16", "зубы: 16", "tooth 16", "#16", "(16)"
_TOOTH = re.compile(
    r"(?:\bзуб[а-я]*\.?|\bз\.|\btooth|#)\s*[:№]?\s*(\d{2})\b|\((\d{2})\)|\b(\d{2})\s*зуб",
    re.IGNORECASE,
)


def tooth_of(text: str) -> int | None:
    """The FDI tooth a row's name mentions ("Пломба, зуб 16"), if exactly one does."""
    found = {
        int(next(g for g in m.groups() if g))
        for m in _TOOTH.finditer(text or "")
        if is_valid_tooth(int(next(g for g in m.groups() if g)))
    }
    return found.pop() if len(found) == 1 else None


def title_key(text: str) -> str:
    """A title as compared: case, punctuation, spacing and the tooth mention ignored."""
    text = _TOOTH.sub(" ", (text or "").casefold().replace("ё", "е"))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def plain_title(text: str) -> str:
    """A row's name as a line's title: the tooth mention taken out (the line has the tooth
    in its own field), «Пломба, зуб 16» → «Пломба»; the name itself if nothing is left."""
    plain = " ".join(_TOOTH.sub(" ", text or "").split()).strip(" ,;:-–—")
    return plain or (text or "").strip()


def _same_title(row: CrmRow, item: PlanItem) -> bool:
    key = title_key(row.title)
    return bool(key) and key in (title_key(item.title_ru), title_key(item.title_en))


def match_rows(
    rows: Sequence[CrmRow], current: Sequence[PlanItem], earlier: Sequence[PlanItem] = ()
) -> list[tuple[CrmRow, PlanItem | None]]:
    """Each row with the plan line it is, or None. Lines of the current plan are tried
    first, then lines of earlier versions (a row the CRM drops and adds back keeps its
    line); a line is taken by one row only. By code first, then by title; with the tooth
    when the row names one (a row without a tooth prefers a line without one)."""
    in_current = {i.item_id for i in current}
    pool = list(current) + [i for i in earlier if i.item_id not in in_current]
    taken: set[UUID] = set()

    def pick(row: CrmRow, same) -> PlanItem | None:
        candidates = [i for i in pool if i.item_id not in taken and same(row, i)]
        if row.tooth is not None:
            candidates = [i for i in candidates if i.tooth == row.tooth]
        else:
            candidates.sort(key=lambda i: i.tooth is not None)  # stable: plan order kept
        return candidates[0] if candidates else None

    def by_code(row: CrmRow, item: PlanItem) -> bool:
        return bool(row.code) and row.code.casefold() == item.code.casefold()

    found: dict[int, PlanItem] = {}
    for same in (by_code, _same_title):
        for n, row in enumerate(rows):
            if n in found:
                continue
            item = pick(row, same)
            if item is not None:
                found[n] = item
                taken.add(item.item_id)
    return [(row, found.get(n)) for n, row in enumerate(rows)]


def _draft(item: PlanItem, price: int | None = None) -> DraftLine:
    return DraftLine(
        item_id=item.item_id,
        specialization=item.specialization,
        price=item.price if price is None else price,
        code=item.code,
        title_ru=item.title_ru,
        title_en=item.title_en,
        tooth=item.tooth,
        stage=item.stage,
        variant=item.variant,
        chair_minutes=item.chair_minutes,
        course_days=item.course_days,
    )


def new_line(
    row: CrmRow, specialization: str, known: dict[str, PriceLine] | None = None
) -> DraftLine:
    """A row no plan line matches, as a new line: its specialization and titles from the
    price list when the code is in it, else the integration's default."""
    entry = (known or {}).get(row.code) if row.code else None
    name = plain_title(row.title) if row.tooth is not None else row.title.strip()
    title = name or (entry.title_ru if entry else "") or row.code
    return DraftLine(
        item_id=None,
        specialization=str(entry.specialization) if entry else specialization,
        price=row.price,
        code=row.code[:32],
        title_ru=title[:300],
        title_en=(entry.title_en if entry else "")[:300],
        tooth=row.tooth,
        course_days=entry.course_days if entry else None,
    )


def plan_from_rows(
    matched: Sequence[tuple[CrmRow, PlanItem | None]],
    current: Sequence[PlanItem],
    *,
    rows_mean: RowsMean,
    specialization: str,
    known: dict[str, PriceLine] | None = None,
) -> tuple[DraftLine, ...] | None:
    """The plan the rows make, or None when it is the current plan already.

    "plan": the rows are the plan — matched lines at the rows' prices, new lines for the
    rest, lines without a row dropped. "done": the rows are services rendered — the
    current plan stays, matched lines take the rows' prices, unmatched rows are added."""
    if rows_mean == "off" or not matched:
        return None
    if rows_mean == "plan":
        lines = [
            _draft(item, row.price) if item else new_line(row, specialization, known)
            for row, item in matched
        ]
    else:
        price_of = {item.item_id: row.price for row, item in matched if item is not None}
        lines = [_draft(i, price_of.get(i.item_id)) for i in current]
        lines += [new_line(row, specialization, known) for row, item in matched if item is None]
    now = sorted((str(i.item_id), i.price) for i in current)
    then = sorted((str(line.item_id), line.price) for line in lines)
    if all(line.item_id is not None for line in lines) and now == then:
        return None
    return tuple(lines)


def listed_rows(refs: Iterable[str], rows: Sequence[CrmRow]) -> tuple[list[CrmRow], list[str]]:
    """The rows a "done rows" field lists (each value a row id, a product code or a row's
    title), and the values that name no row."""
    found: list[CrmRow] = []
    unknown: list[str] = []
    for ref in refs:
        ref = str(ref).strip()
        if not ref:
            continue
        tooth = tooth_of(ref)
        row = next(
            (
                r
                for r in rows
                if r not in found
                and (
                    r.ref == ref
                    or (r.code and r.code.casefold() == ref.casefold())
                    or (
                        title_key(r.title) == title_key(ref) and (tooth is None or r.tooth == tooth)
                    )
                )
            ),
            None,
        )
        if row is None:
            unknown.append(ref)
        else:
            found.append(row)
    return found, unknown


def payment_moves(paid_total: int, recorded: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """What an amount paid so far asks of the ledger, given the payments already recorded
    from it ((event id, amount), oldest first): the payments to take back (newest first)
    and the amount of a new payment. More paid: a payment of the difference. Less: the
    last payments are taken back until the rest is not above the amount, then the
    difference is paid again — so the ledger's sum always equals the CRM's."""
    total = sum(amount for _, amount in recorded)
    if paid_total >= total:
        return [], paid_total - total
    taken: list[int] = []
    for event_id, amount in reversed(recorded):
        if total <= paid_total:
            break
        taken.append(event_id)
        total -= amount
    return taken, paid_total - total
