"""Delivery periods: a subscriber's local day (daily) or week (weekly), and when it is due.

Pure functions of (timezone, frequency, send hour, moment); no Django. A digest belongs to
exactly one period, named by the period's first local day, so a unique (subscriber, period)
row is what makes "one digest a day" hold whatever runs the dispatch, and how often.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAILY = "daily"
WEEKLY = "weekly"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The named time zone; an unknown name (which validation should have refused) is UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Period:
    start: dt.date  # first local day of the period: its name
    due_at: dt.datetime  # the moment (aware, UTC) the digest may go out: send hour, local time
    frequency: str


def local_at(day: dt.date, hour: int, tz: ZoneInfo) -> dt.datetime:
    """`hour`:00 on `day` in `tz`, as UTC. A time skipped by a DST change maps forward."""
    naive = dt.datetime.combine(day, dt.time(hour))
    aware = naive.replace(tzinfo=tz)
    # zoneinfo keeps a non-existent wall time as is; round-tripping through UTC normalises it.
    return aware.astimezone(dt.UTC)


def period_start(local_day: dt.date, frequency: str, week_start: int = 0) -> dt.date:
    if frequency == WEEKLY:
        return local_day - dt.timedelta(days=(local_day.weekday() - week_start) % 7)
    return local_day


def current_period(
    *, now: dt.datetime, timezone: str, frequency: str, send_hour: int, week_start: int = 0
) -> Period:
    """The period that `now` falls in, for a subscriber in `timezone`."""
    tz = zone(timezone)
    local_day = now.astimezone(tz).date()
    start = period_start(local_day, frequency, week_start)
    return Period(start=start, due_at=local_at(start, send_hour, tz), frequency=frequency)


def period_for_date(
    *, day: dt.date, timezone: str, frequency: str, send_hour: int, week_start: int = 0
) -> Period:
    """The period that contains the local date `day`."""
    start = period_start(day, frequency, week_start)
    return Period(start=start, due_at=local_at(start, send_hour, zone(timezone)), frequency=frequency)


def period_length(frequency: str) -> dt.timedelta:
    return dt.timedelta(days=7 if frequency == WEEKLY else 1)


def ruled_out_by(start: dt.date, frequency: str) -> tuple[tuple[str | None, dt.date], ...]:
    """What rules out a digest for the period starting on `start`: an existing digest of
    the frequency named (None: any frequency) whose period starts on or after the date.

    A digest of this period or a later one (one who moved west across the date line after
    today's digest must not get yesterday's); for a weekly period also a weekly digest of
    the six days before it: a weekly subscriber who moves their day gets the next digest
    on the new day at least seven days after the last one, never two in a week, and never
    more than thirteen days without one. The dispatch turns this into its query and
    `next_digest_at` reads it for the pages: one rule, not two copies of it.
    """
    rules: tuple[tuple[str | None, dt.date], ...] = ((None, start),)
    if frequency == WEEKLY:
        rules += ((WEEKLY, start - dt.timedelta(days=6)),)
    return rules


def next_digest_at(
    *,
    now: dt.datetime,
    timezone: str,
    frequency: str,
    send_hour: int,
    week_start: int = 0,
    latest: dict[str | None, dt.date],
    resume_at: dt.datetime | None = None,
) -> dt.datetime:
    """The moment (UTC) from which the dispatch creates the subscriber's next digest: the
    first period from now (or from `resume_at`, the end of a pause) that no existing digest
    rules out, at its send hour, or at once when that hour has passed already.
    `latest` maps None to the latest period of any of their digests and WEEKLY to the
    latest weekly one (a missing key: none)."""
    tz = zone(timezone)
    moment = max(now, resume_at) if resume_at else now
    start = period_start(moment.astimezone(tz).date(), frequency, week_start)
    while any(
        latest.get(kind) is not None and latest[kind] >= since
        for kind, since in ruled_out_by(start, frequency)
    ):
        start += period_length(frequency)
    return max(moment, local_at(start, send_hour, tz))


def due_hours(*, now: dt.datetime, timezone: str, frequency: str, week_start: int = 0) -> tuple[dt.date, int]:
    """For everyone in `timezone` with `frequency`: (their current period, the highest send
    hour that is due now). Subscribers with send_hour <= that hour are due; -1 means none.

    This is what lets the dispatch select due subscribers with one query per time zone.
    """
    tz = zone(timezone)
    local = now.astimezone(tz)
    start = period_start(local.date(), frequency, week_start)
    if start < local.date():
        return start, 23  # a later day of the week: every send hour has passed
    # Same day: hours whose local wall time has come. Compare real instants, so that DST
    # days (23 or 25 hours) are right.
    due = -1
    for hour in range(24):
        if local_at(start, hour, tz) <= now:
            due = hour
    return start, due
