"""Plan progress: percentages, stages, expected finish, on track or behind."""

from datetime import timedelta
from uuid import UUID

from backend.domain.events import PlanLine
from backend.domain.norms import DEFAULT_NORMS, Specialization, effective_norms
from backend.domain.progress import (
    BEHIND_GRACE,
    Schedule,
    changes_at,
    item_due_dates,
    plan_progress,
    start_of_day,
)
from tests.unit.ledger_builder import T0

NORMS = effective_norms()
FILLING, CANAL, IMPLANT, CROWN = (UUID(int=i) for i in range(1, 5))
LINES = (
    PlanLine(item_id=FILLING, price=6_000_00, specialization="therapy", stage=1),
    PlanLine(item_id=CANAL, price=14_000_00, specialization="endodontics", stage=1),
    PlanLine(item_id=IMPLANT, price=60_000_00, specialization="implantology", stage=2),
    PlanLine(item_id=CROWN, price=20_000_00, specialization="orthopedics", stage=3),
)
DAY = timedelta(days=1)


def progress(done, now_days, started=True, booked=True, stopped=False):
    return plan_progress(
        LINES,
        done,
        started_at=T0 if started else None,
        planned_start=T0 + 3 * DAY if booked else None,
        norms=NORMS,
        now=T0 + now_days * DAY,
        stopped=stopped,
    )


def test_every_specialization_has_a_norm_with_a_source():
    assert set(DEFAULT_NORMS) == set(Specialization)
    assert all(n.source and n.course_days > 0 for n in DEFAULT_NORMS.values())


def test_expected_finish_adds_stages_back_to_back():
    # Stage 1 lasts as long as its longest item (endodontics, 21 d), then implant 180 d,
    # then crown 60 d.
    p = progress({}, 0)
    assert [s.expected_end - s.expected_start for s in p.stages] == [21 * DAY, 180 * DAY, 60 * DAY]
    assert p.planned_finish == T0 + 261 * DAY
    assert p.schedule is Schedule.on_track
    assert (p.percent_money, p.percent_items, p.current_stage) == (0, 0, 1)
    assert p.next_item_id == FILLING


def test_percentages_floor_so_the_bar_is_full_only_when_done():
    p = progress({FILLING: T0 + DAY}, 2)
    assert (p.percent_money, p.percent_items) == (6, 25)
    p = progress({FILLING: T0, CANAL: T0, IMPLANT: T0, CROWN: T0 + 5 * DAY}, 6)
    assert (p.percent_money, p.percent_items, p.schedule) == (100, 100, Schedule.done)
    assert p.expected_finish == T0 + 5 * DAY


def test_behind_when_the_current_stage_is_past_its_end_plus_grace():
    done = {FILLING: T0 + DAY}
    assert progress(done, 21 + 6).schedule is Schedule.on_track
    p = progress(done, 21 + 10)
    assert p.schedule is Schedule.behind and p.behind_days == 10
    # What is left is re-planned from today: the implant cannot start in the past.
    assert p.expected_finish == start_of_day(T0 + 31 * DAY) + (180 + 60) * DAY


def test_schedule_replans_from_a_stage_done_early():
    done = {FILLING: T0 + DAY, CANAL: T0 + 5 * DAY}
    p = progress(done, 6)
    assert p.current_stage == 2
    assert p.stages[1].expected_start == T0 + 5 * DAY
    assert p.expected_finish == T0 + (5 + 180 + 60) * DAY
    assert p.planned_finish == T0 + 261 * DAY


def test_not_started_plan_counts_from_the_booked_appointment():
    p = progress({}, 0, started=False)
    assert p.schedule is Schedule.not_started
    assert p.expected_finish == T0 + (3 + 261) * DAY


def test_a_plan_not_begun_nor_booked_is_planned_from_the_start_of_today():
    morning, evening = (progress({}, d, started=False, booked=False) for d in (10.0, 10.6))
    assert morning == evening  # the same all day: nothing moves with the clock
    assert morning.stages[0].expected_start == start_of_day(T0 + 10 * DAY)
    assert changes_at(morning, T0 + 10 * DAY) == start_of_day(T0 + 11 * DAY)
    assert progress({}, 11.2, started=False, booked=False).expected_finish == (
        morning.expected_finish + DAY
    )


def test_a_stopped_plan_expects_nothing_and_never_changes_by_itself():
    p = progress({FILLING: T0 + DAY}, 40, stopped=True)
    assert p.schedule is Schedule.stopped and p.behind_days == 0
    assert (p.expected_finish, p.planned_finish) == (None, None)
    assert all(s.expected_start is None and s.expected_end is None for s in p.stages)
    assert (p.items_done, p.percent_items) == (1, 25)  # what was done still shows
    assert changes_at(p, T0 + 40 * DAY) is None
    done = {FILLING: T0, CANAL: T0, IMPLANT: T0, CROWN: T0 + 5 * DAY}
    assert progress(done, 40, stopped=True).schedule is Schedule.done


def test_changes_at_names_when_the_stage_falls_behind_and_each_day_after():
    done = {FILLING: T0 + DAY}
    on_time = progress(done, 21 + 6.5)
    # Stage 1 ends on day 21; it is behind from day 28, unless midnight comes first.
    assert changes_at(on_time, T0 + 27.5 * DAY) == min(
        T0 + 21 * DAY + BEHIND_GRACE, start_of_day(T0 + 28.5 * DAY)
    )
    late = progress(done, 31.5)
    at = changes_at(late, T0 + 31.5 * DAY)
    assert at is not None and T0 + 31.5 * DAY < at <= T0 + 32 * DAY
    assert progress(done, 31.5).behind_days == late.behind_days
    # Just before that moment it reads the same; at it, something changed.
    before = (at - T0) / DAY - 1e-6
    assert progress(done, before) == late
    assert progress(done, (at - T0) / DAY) != late


def test_clinic_override_and_item_course_days_win_over_defaults():
    override = DEFAULT_NORMS[Specialization.implantology]
    norms = effective_norms(
        [
            type(override)(
                specialization=Specialization.implantology,
                chair_minutes=400,
                course_days=120,
                source="clinic's own protocol",
            )
        ]
    )
    lines = (
        *LINES[:2],
        PlanLine(item_id=IMPLANT, price=1, specialization="implantology", stage=2, course_days=90),
    )
    due = item_due_dates(lines, T0, norms)
    assert due[IMPLANT] == T0 + (21 + 90) * DAY
    due = item_due_dates(LINES[:3], T0, norms)
    assert due[IMPLANT] == T0 + (21 + 120) * DAY
