"""Schedules in plain words for the admin: "every day at 05:00 America/New_York",
"every 15 minutes", "Monday to Friday at 00:30 America/New_York".

Plain Python over the five crontab fields (django-celery-beat's columns) and an interval's
count and unit. A crontab too unusual to say simply is shown as itself, marked as cron.
"""

from __future__ import annotations

import re

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
STEP = re.compile(r"^\*/(\d+)$")
NUMBER = re.compile(r"^\d+$")


def _day_name(value: str) -> str | None:
    if NUMBER.match(value):
        return DAY_NAMES[int(value) % 7]
    for name in DAY_NAMES:
        if name[:3].lower() == value[:3].lower():
            return name
    return None


def _days(day_of_week: str) -> str | None:
    """The days in words ("every day", "Monday to Friday"); None if not simple."""
    value = day_of_week.strip().lower()
    if value in ("*", "0-6", "mon-sun", "sun-sat"):
        return "every day"
    if "-" in value and "," not in value:
        first, last = (_day_name(part) for part in value.split("-", 1))
        return f"{first} to {last}" if first and last else None
    names = [_day_name(part) for part in value.split(",")]
    if not all(names):
        return None
    if len(names) == 1:
        return f"every {names[0]}"
    return "on " + ", ".join(names[:-1]) + f" and {names[-1]}"


def _times(minute: str, hour: str) -> str | None:
    """The times in words ("at 05:00", "every 15 minutes"); None if not simple."""
    if minute == "*" and hour == "*":
        return "every minute"
    step = STEP.match(minute)
    if step and hour == "*":
        every = int(step.group(1))
        return "every minute" if every == 1 else f"every {every} minutes"
    if not NUMBER.match(minute):
        return None
    if hour == "*":
        return f"every hour at :{int(minute):02d}"
    step = STEP.match(hour)
    if step:
        every = int(step.group(1))
        if every == 1:
            return f"every hour at :{int(minute):02d}"
        return f"every {every} hours from 00:{int(minute):02d}"
    hours = hour.split(",")
    if all(NUMBER.match(h) for h in hours):
        return "at " + ", ".join(f"{int(h):02d}:{int(minute):02d}" for h in hours)
    return None


def crontab_words(
    *, minute: str, hour: str, day_of_week: str, day_of_month: str, month_of_year: str, timezone: str
) -> str:
    """A crontab in plain words, with its time zone when the time of day matters."""
    raw = f"{minute} {hour} {day_of_month} {month_of_year} {day_of_week} (cron, {timezone})"
    if day_of_month != "*" or month_of_year != "*":
        return raw
    times, days = _times(minute.strip(), hour.strip()), _days(day_of_week)
    if times is None or days is None:
        return raw
    if times.startswith("at "):
        return f"{days} {times} {timezone}"
    if " from " in times:  # the hours counted from midnight depend on the time zone
        times = f"{times} {timezone}"
    if days == "every day":
        return times
    return f"{times}, {days}"


def interval_words(*, every: int, period: str) -> str:
    """django-celery-beat's interval ("minutes", 15) in words: "every 15 minutes"."""
    unit = period.rstrip("s")
    return f"every {unit}" if every == 1 else f"every {every} {unit}s"


def schedule_in_words(task) -> str:
    """A django-celery-beat PeriodicTask's schedule, whichever kind it has, in words."""
    if task.crontab is not None:
        c = task.crontab
        return crontab_words(
            minute=c.minute,
            hour=c.hour,
            day_of_week=c.day_of_week,
            day_of_month=c.day_of_month,
            month_of_year=c.month_of_year,
            timezone=str(c.timezone),
        )
    if task.interval is not None:
        return interval_words(every=task.interval.every, period=task.interval.period)
    if task.clocked is not None:
        return f"once, at {task.clocked.clocked_time:%Y-%m-%d %H:%M %Z}"
    if task.solar is not None:
        return str(task.solar)
    return "no schedule"
