"""The rules that turn a CRM's rows and amounts into plan lines, procedures done and
payments (backend.domain.crm_money), without a database."""

from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from backend.domain.crm_money import (
    CrmRow,
    listed_rows,
    match_rows,
    payment_moves,
    plan_from_rows,
    title_key,
    tooth_of,
)
from backend.domain.plan_import import PriceLine
from backend.domain.plans import PlanItem


def item(title: str, price: int, *, code: str = "", tooth: int | None = None, **kw) -> PlanItem:
    return PlanItem(
        item_id=uuid4(),
        specialization=kw.pop("specialization", "therapy"),
        price=price,
        code=code,
        title_ru=title,
        tooth=tooth,
        **kw,
    )


def row(title: str, price: int, *, code: str = "", ref: str | None = None) -> CrmRow:
    return CrmRow(ref=ref or title, title=title, price=price, code=code, tooth=tooth_of(title))


def test_a_rows_name_gives_its_tooth_in_the_ways_clinics_write_it():
    assert tooth_of("Пломба, зуб 16") == 16
    assert tooth_of("Удаление зуба 38") == 38
    assert tooth_of("Коронка (46)") == 46
    assert tooth_of("Имплант 36 зуб") == 36
    assert tooth_of("Tooth #21 filling") == 21
    assert tooth_of("Гигиена полости рта") is None
    assert tooth_of("Пломба (99)") is None  # no such tooth
    assert tooth_of("Пломбы, зуб 16 и зуб 17") is None  # two teeth: not one line's tooth


def test_titles_compare_without_case_punctuation_or_the_tooth():
    assert title_key("Пломба, зуб 16") == title_key("ПЛОМБА") == "пломба"
    assert title_key("Удаление зуба мудрости (38)") == "удаление зуба мудрости"
    assert title_key("Чистка  Ёмкая") == title_key("чистка емкая")


def test_rows_match_lines_by_code_then_by_title_and_tooth():
    filling16 = item("Пломба", 6_500_00, tooth=16)
    filling17 = item("Пломба", 6_500_00, tooth=17)
    hygiene = item("Гигиена", 7_500_00, code="A16.07.051")
    rows = [
        row("Профессиональная чистка", 8_000_00, code="a16.07.051"),
        row("Пломба (зуб 17)", 7_000_00),
        row("Пломба, зуб 16", 7_000_00),
        row("Удаление зуба 38", 4_000_00),
    ]
    matched = match_rows(rows, [filling16, filling17, hygiene])
    assert [m[1] for m in matched] == [hygiene, filling17, filling16, None]


def test_a_row_dropped_and_added_back_gets_its_old_line_from_an_earlier_version():
    old = item("Имплант", 45_000_00, code="A16.07.054", tooth=36)
    current = [item("Пломба", 6_500_00, tooth=16)]
    matched = match_rows([row("Имплант зуб 36", 45_000_00, code="A16.07.054")], current, [old])
    assert matched[0][1] == old


def test_rows_as_the_plan_reprice_add_and_drop_and_the_same_rows_change_nothing():
    filling = item("Пломба", 6_500_00, tooth=16)
    hygiene = item("Гигиена", 7_500_00)
    rows = [row("Пломба, зуб 16", 7_000_00), row("Удаление зуба 38", 4_000_00)]
    lines = plan_from_rows(
        match_rows(rows, [filling, hygiene]),
        [filling, hygiene],
        rows_mean="plan",
        specialization="surgery",
        known={},
    )
    assert lines is not None
    assert [(line.item_id, line.price) for line in lines] == [
        (filling.item_id, 7_000_00),
        (None, 4_000_00),
    ]
    assert lines[1].specialization == "surgery" and lines[1].tooth == 38
    assert lines[1].title_ru == "Удаление"
    # The plan those rows made, read again: nothing to revise.
    revised = [
        item("Пломба", 7_000_00, tooth=16),
        item("Удаление зуба 38", 4_000_00, tooth=38),
    ]
    again = match_rows(rows, revised)
    assert plan_from_rows(again, revised, rows_mean="plan", specialization="surgery") is None


def test_a_new_line_takes_its_specialization_and_title_from_the_price_list():
    rows = [CrmRow(ref="9", title="", price=45_000_00, code="A16.07.054")]
    known = {
        "A16.07.054": PriceLine(
            code="A16.07.054",
            specialization="implantology",
            title_ru="Имплантация",
            title_en="Implant",
            price=45_000_00,
            course_days=180,
        )
    }
    lines = plan_from_rows(
        match_rows(rows, []), [], rows_mean="plan", specialization="therapy", known=known
    )
    assert lines is not None
    (line,) = lines
    assert (line.specialization, line.title_ru, line.title_en, line.course_days) == (
        "implantology",
        "Имплантация",
        "Implant",
        180,
    )


def test_rows_as_services_done_keep_the_plan_and_add_what_it_lacks():
    filling = item("Пломба", 6_500_00, tooth=16)
    hygiene = item("Гигиена", 7_500_00)
    rows = [row("Гигиена", 7_500_00), row("Анестезия", 1_500_00)]
    lines = plan_from_rows(
        match_rows(rows, [filling, hygiene]),
        [filling, hygiene],
        rows_mean="done",
        specialization="therapy",
    )
    assert lines is not None
    assert [(line.item_id, line.price) for line in lines] == [
        (filling.item_id, 6_500_00),
        (hygiene.item_id, 7_500_00),
        (None, 1_500_00),
    ]
    only_known = [row("Гигиена", 7_500_00)]
    assert (
        plan_from_rows(
            match_rows(only_known, [filling, hygiene]),
            [filling, hygiene],
            rows_mean="done",
            specialization="therapy",
        )
        is None
    )


def test_no_rows_or_rows_switched_off_make_no_plan():
    filling = item("Пломба", 6_500_00, tooth=16)
    assert plan_from_rows([], [filling], rows_mean="plan", specialization="therapy") is None
    matched = match_rows([row("Пломба, зуб 16", 9_000_00)], [filling])
    assert plan_from_rows(matched, [filling], rows_mean="off", specialization="therapy") is None


def test_the_done_rows_field_names_rows_by_id_code_or_title_and_unknown_values_are_kept():
    rows = [
        row("Пломба, зуб 16", 7_000_00, ref="101"),
        row("Гигиена", 7_500_00, code="A16.07.051", ref="102"),
        row("Пломба, зуб 17", 7_000_00, ref="103"),
    ]
    found, unknown = listed_rows(["103", "a16.07.051", "пломба зуб 16", "Отбеливание", ""], rows)
    assert [r.ref for r in found] == ["103", "102", "101"]
    assert unknown == ["Отбеливание"]


def test_more_paid_is_a_payment_of_the_difference():
    assert payment_moves(14_500_00, [(1, 7_000_00)]) == ([], 7_500_00)
    assert payment_moves(7_000_00, [(1, 7_000_00)]) == ([], 0)
    assert payment_moves(7_000_00, []) == ([], 7_000_00)


def test_less_paid_takes_back_the_last_payments_and_pays_the_rest_again():
    recorded = [(1, 7_000_00), (2, 7_500_00), (3, 4_000_00)]
    assert payment_moves(14_500_00, recorded) == ([3], 0)
    assert payment_moves(10_000_00, recorded) == ([3, 2], 3_000_00)
    assert payment_moves(0, recorded) == ([3, 2, 1], 0)


@given(
    st.lists(st.integers(min_value=1, max_value=10**7), max_size=8),
    st.integers(min_value=0, max_value=10**8),
)
def test_after_the_moves_the_ledgers_sum_is_the_crms_amount(amounts, paid_total):
    recorded = list(enumerate(amounts, start=1))
    taken, more = payment_moves(paid_total, recorded)
    kept = sum(a for i, a in recorded if i not in taken)
    assert more >= 0
    assert kept + more == paid_total
    # Only the newest payments are taken back, and no more of them than needed.
    assert taken == [i for i, _ in reversed(recorded)][: len(taken)]
    if taken:
        assert kept + dict(recorded)[taken[-1]] > paid_total


def test_a_new_lines_title_leaves_the_tooth_to_the_tooth_field():
    (line,) = plan_from_rows(
        match_rows([row("Коронка, зуб 46", 30_000_00)], []),
        [],
        rows_mean="plan",
        specialization="orthopedics",
    )
    assert (line.title_ru, line.tooth) == ("Коронка", 46)
    (kept,) = plan_from_rows(
        match_rows([row("Зуб 46", 30_000_00)], []), [], rows_mean="plan", specialization="x"
    )
    assert (kept.title_ru, kept.tooth) == ("Зуб 46", 46)  # nothing but the tooth: kept
