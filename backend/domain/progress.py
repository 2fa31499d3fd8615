"""Plan progress: how far a plan is, by money and by items, and whether it is on time.

A plan's stages run one after another; the items of a stage run side by side, so a
stage lasts as long as its longest item (its own course length, else the norm for its
specialization). The schedule is re-planned from what actually happened: once a stage
is done, the next one is expected to start then. `planned_finish` keeps the schedule
as it was at the start, for comparing expected and actual duration.

What has not happened yet is planned from the start of today (UTC), not from this
instant: a screen reads the same all day unless something happens, and changes by
itself only at the moments `changes_at` names. A stopped plan (the referral closed
before it was done) expects nothing.
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import msgspec

from backend.domain.events import PlanLine
from backend.domain.norms import DEFAULT_NORMS, Norms, Specialization

# A stage counts as late only once it is this far past its expected end.
BEHIND_GRACE = timedelta(days=7)


class Schedule(StrEnum):
    not_started = "not_started"
    on_track = "on_track"
    behind = "behind"
    done = "done"
    stopped = "stopped"  # the referral closed before the plan was done


class StageProgress(msgspec.Struct, frozen=True, kw_only=True):
    stage: int
    items_total: int
    items_done: int
    money_total: int
    money_done: int
    expected_start: datetime | None
    expected_end: datetime | None
    done_at: datetime | None  # when its last item was done


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    money_total: int
    money_done: int
    items_total: int
    items_done: int
    percent_money: int
    percent_items: int
    current_stage: int | None  # first stage with items left; None when all done
    next_item_id: UUID | None
    schedule: Schedule
    behind_days: int
    expected_finish: datetime | None
    planned_finish: datetime | None
    stages: tuple[StageProgress, ...]


def course_days(line: PlanLine, norms: Norms) -> int:
    if line.course_days is not None:
        return line.course_days
    norm = norms.get(line.specialization) or DEFAULT_NORMS.get(Specialization(line.specialization))
    return norm.course_days if norm else 1


def stage_durations(lines: tuple[PlanLine, ...], norms: Norms) -> dict[int, timedelta]:
    durations: dict[int, timedelta] = {}
    for line in lines:
        days = timedelta(days=course_days(line, norms))
        durations[line.stage] = max(durations.get(line.stage, timedelta(0)), days)
    return dict(sorted(durations.items()))


def planned_schedule(
    lines: tuple[PlanLine, ...], start: datetime, norms: Norms
) -> dict[int, tuple[datetime, datetime]]:
    """Expected (start, end) of each stage, stages back to back from `start`."""
    schedule: dict[int, tuple[datetime, datetime]] = {}
    at = start
    for stage, duration in stage_durations(lines, norms).items():
        schedule[stage] = (at, at + duration)
        at += duration
    return schedule


def item_due_dates(
    lines: tuple[PlanLine, ...], start: datetime, norms: Norms
) -> dict[UUID, datetime]:
    """When each item's money is expected: at the end of its stage (for plan vs fact)."""
    schedule = planned_schedule(lines, start, norms)
    return {line.item_id: schedule[line.stage][1] for line in lines}


def _percent(part: int, whole: int) -> int:
    """Floor, so a bar reads 100% only when everything is done."""
    return 100 * part // whole if whole else 0


def plan_progress(
    lines: tuple[PlanLine, ...],
    done: dict[UUID, datetime],
    *,
    started_at: datetime | None,
    planned_start: datetime | None,
    norms: Norms,
    now: datetime,
    stopped: bool = False,
) -> Progress:
    """Progress of the chosen lines of a plan.

    started_at: when treatment began (the first visit); planned_start: the booked
    appointment, used for the expected finish of a plan not yet begun; stopped: the
    referral closed before the plan was done (no dates are expected any more).
    """
    durations = stage_durations(lines, norms)
    by_stage: dict[int, list[PlanLine]] = {s: [] for s in durations}
    for line in lines:
        by_stage[line.stage].append(line)

    today = start_of_day(now)
    anchor = started_at or planned_start or today
    planned = planned_schedule(lines, anchor, norms)
    stages: list[StageProgress] = []
    at = anchor
    current_stage: int | None = None
    for stage, duration in durations.items():
        stage_lines = by_stage[stage]
        done_times = [done[line.item_id] for line in stage_lines if line.item_id in done]
        finished = len(done_times) == len(stage_lines)
        stages.append(
            StageProgress(
                stage=stage,
                items_total=len(stage_lines),
                items_done=len(done_times),
                money_total=sum(line.price for line in stage_lines),
                money_done=sum(line.price for line in stage_lines if line.item_id in done),
                expected_start=at,
                expected_end=at + duration,
                done_at=max(done_times) if finished and done_times else None,
            )
        )
        if finished and done_times:
            at = max(max(done_times), at)  # re-plan from what happened
        elif current_stage is None:
            current_stage = stage
            # What is left cannot start before today, however late this stage is.
            at = max(at + duration, today)
        else:
            at = at + duration

    money_total = sum(line.price for line in lines)
    money_done = sum(line.price for line in lines if line.item_id in done)
    items_done = sum(1 for line in lines if line.item_id in done)
    next_item = next(
        (
            line.item_id
            for line in lines
            if line.stage == current_stage and line.item_id not in done
        ),
        None,
    )

    behind_days = 0
    if current_stage is None and lines:
        schedule = Schedule.done
    elif stopped:
        schedule = Schedule.stopped
    elif started_at is None:
        schedule = Schedule.not_started
    else:
        current = next(s for s in stages if s.stage == current_stage)
        late = now - (current.expected_end or now)
        if late >= BEHIND_GRACE:  # from the moment the grace runs out (timers fire then)
            schedule, behind_days = Schedule.behind, late.days
        else:
            schedule = Schedule.on_track

    last_done = max(done.values(), default=None) if current_stage is None and lines else None
    if schedule is Schedule.stopped:
        stages = [
            msgspec.structs.replace(stage, expected_start=None, expected_end=None)
            for stage in stages
        ]
        planned = {}
    return Progress(
        money_total=money_total,
        money_done=money_done,
        items_total=len(lines),
        items_done=items_done,
        percent_money=_percent(money_done, money_total),
        percent_items=_percent(items_done, len(lines)),
        current_stage=current_stage,
        next_item_id=next_item,
        schedule=schedule,
        behind_days=behind_days,
        expected_finish=last_done or (stages[-1].expected_end if stages else None),
        planned_finish=max((end for _, end in planned.values()), default=None),
        stages=tuple(stages),
    )


def start_of_day(at: datetime) -> datetime:
    """Midnight UTC of `at`'s day: the anchor of what is planned from today."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def changes_at(progress: Progress, now: datetime) -> datetime | None:
    """The next moment after `now` at which `progress` would read differently with
    nothing happening: the next day (what is left is planned from today) and, for a
    begun plan, when its current stage falls behind or one more day behind."""
    if progress.current_stage is None or progress.schedule is Schedule.stopped:
        return None
    moments = [start_of_day(now) + timedelta(days=1)]
    current = next(s for s in progress.stages if s.stage == progress.current_stage)
    if progress.schedule is not Schedule.not_started and current.expected_end is not None:
        late = now - current.expected_end
        moments.append(
            current.expected_end
            + (BEHIND_GRACE if late < BEHIND_GRACE else timedelta(days=late.days + 1))
        )
    return min(moments)
