"""Beat's dispatch (every 15 minutes) walked through whole local days: across both DST
changes, on both sides of the date line, after a subscriber changes time zone or send hour,
and over weeks (also when a weekly subscriber moves their day). Each subscriber gets exactly
one digest per local day (per week for weekly), created at the first run once their local
send hour has come; none is skipped.

Every `now` is a fixed instant: nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from alerts.digests.dispatch import digests_dispatch
from alerts.models import Digest
from subscribers.models import Subscriber
from subscribers.selectors import next_digest_at
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

# Beat runs the dispatch every 15 minutes (for half-hour zones). Every zone here is a whole
# number of hours from UTC and changes its clocks on the hour, so a run on each hour meets
# every moment a send hour comes.
STEP = dt.timedelta(hours=1)


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def walk(start: dt.datetime, end: dt.datetime, step: dt.timedelta = STEP):
    moment = start
    while moment < end:
        yield moment
        moment += step


def first_moment_due(steps: list[dt.datetime], tz: ZoneInfo, day: dt.date, hour: int) -> dt.datetime:
    """The first run at which the wall clock in `tz` shows `day`, at `hour` or later: the
    moment the send hour has come, also on a day when that hour is skipped (spring forward)
    or happens twice (fall back: the first time counts)."""
    for moment in steps:
        local = moment.astimezone(tz)
        if (local.date() == day and local.hour >= hour) or local.date() > day:
            return moment
    raise AssertionError(f"the walk never reached {hour}:00 on {day} in {tz}")


def one_subscriber_per_hour(zone: str, frequency: str = "daily") -> dict[int, Subscriber]:
    return {
        hour: SubscriberFactory(timezone=zone, send_hour=hour, frequency=frequency, filters=0)
        for hour in range(24)
    }


def digests_of(subscriber: Subscriber) -> list[Digest]:
    return list(Digest.objects.filter(subscriber=subscriber).order_by("period"))


DAYS = [
    pytest.param("Europe/London", dt.date(2026, 3, 29), 23, id="london-spring-forward"),
    pytest.param("Europe/London", dt.date(2026, 10, 25), 25, id="london-fall-back"),
    pytest.param("America/New_York", dt.date(2026, 3, 8), 23, id="new-york-spring-forward"),
    pytest.param("America/New_York", dt.date(2026, 11, 1), 25, id="new-york-fall-back"),
    pytest.param("Pacific/Kiritimati", dt.date(2026, 11, 24), 24, id="kiritimati-utc+14"),
    pytest.param("Pacific/Pago_Pago", dt.date(2026, 11, 24), 24, id="pago-pago-utc-11"),
]


@pytest.mark.parametrize(("zone", "day", "hours_in_day"), DAYS)
def test_every_send_hour_gets_one_digest_per_local_day_at_its_hour(zone, day, hours_in_day):
    tz = ZoneInfo(zone)
    subscribers = one_subscriber_per_hour(zone)
    days = [day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]
    start, end = local_midnight(days[0], tz), local_midnight(days[-1] + dt.timedelta(days=1), tz)
    assert local_midnight(day + dt.timedelta(days=1), tz) - local_midnight(day, tz) == dt.timedelta(
        hours=hours_in_day
    )
    steps = list(walk(start, end))
    for now in steps:
        digests_dispatch(now=now)

    for hour, subscriber in subscribers.items():
        made = digests_of(subscriber)
        assert [d.period for d in made] == days, f"send hour {hour}"
        for digest in made:
            # window_end is the moment of the run that created the digest.
            expected = first_moment_due(steps, tz, digest.period, hour)
            assert digest.window_end == expected, f"send hour {hour} on {digest.period}"


WEEKS = [
    # (zone, a week's first day, the week start setting: 0 Monday ... 6 Sunday)
    pytest.param("Europe/London", dt.date(2026, 3, 29), 6, id="london-week-from-spring-forward-sunday"),
    pytest.param("America/New_York", dt.date(2026, 11, 1), 6, id="new-york-week-from-fall-back-sunday"),
    pytest.param("Pacific/Kiritimati", dt.date(2026, 11, 23), 0, id="kiritimati-monday-week"),
    pytest.param("Pacific/Pago_Pago", dt.date(2026, 11, 23), 0, id="pago-pago-monday-week"),
]


@pytest.mark.parametrize(("zone", "first_day", "week_start"), WEEKS)
def test_weekly_subscribers_get_one_digest_a_week_on_the_weeks_first_day(
    zone, first_day, week_start, settings
):
    settings.DIGEST_WEEK_START = week_start
    assert first_day.weekday() == week_start
    tz = ZoneInfo(zone)
    subscribers = one_subscriber_per_hour(zone, frequency="weekly")
    weeks = [first_day, first_day + dt.timedelta(days=7)]
    # A whole week, then the next week's first day: every send hour of both first days.
    start, end = local_midnight(weeks[0], tz), local_midnight(weeks[-1] + dt.timedelta(days=1), tz)
    steps = list(walk(start, end))
    for now in steps:
        digests_dispatch(now=now)

    for hour, subscriber in subscribers.items():
        made = digests_of(subscriber)
        assert [d.period for d in made] == weeks, f"send hour {hour}"
        for digest in made:
            assert digest.frequency == "weekly"
            assert digest.window_end == first_moment_due(steps, tz, digest.period, hour), f"send hour {hour}"


CHANGES = [
    pytest.param({"timezone": "America/New_York"}, id="to-new-york"),
    pytest.param({"timezone": "Pacific/Kiritimati"}, id="east-across-the-date-line"),
    pytest.param({"timezone": "Pacific/Pago_Pago"}, id="west-across-the-date-line"),
    pytest.param({"send_hour": 20}, id="later-send-hour"),
    pytest.param({"send_hour": 6}, id="earlier-send-hour"),
    pytest.param({"send_hour": 6, "timezone": "Asia/Tokyo"}, id="both"),
]


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_after_todays_digest_never_brings_a_second_one_and_skips_no_day(change):
    subscriber = SubscriberFactory(timezone="Europe/London", send_hour=8, filters=0)
    london = ZoneInfo("Europe/London")
    today = dt.date(2026, 11, 24)
    start = local_midnight(today, london)
    steps = list(walk(start, start + dt.timedelta(days=3)))
    changed_at = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # an hour after today's digest
    for now in steps:
        if now == changed_at:
            assert [d.period for d in digests_of(subscriber)] == [today]
            Subscriber.objects.filter(pk=subscriber.pk).update(**change)
        digests_dispatch(now=now)

    made = digests_of(subscriber)
    periods = [d.period for d in made]
    assert max(Counter(periods).values()) == 1  # no period twice (the database insists too)
    # Local days follow each other: none went backwards, none skipped.
    assert periods == [today + dt.timedelta(days=n) for n in range(len(periods))]
    assert len(periods) >= 3
    # Never two digests closer than the change allows: after today's, the next one waits for
    # the first send hour of a later local day in the new settings.
    subscriber.refresh_from_db()
    tz = ZoneInfo(subscriber.timezone)
    second = made[1]
    assert second.window_end == first_moment_due(steps, tz, second.period, subscriber.send_hour)


MONDAY = dt.date(2026, 11, 23)
DAY_MOVES = [
    # (when the day moves: local date and hour in London, the new weekday, the weekly digests expected)
    pytest.param(
        [(dt.date(2026, 11, 25), 12, 4)],
        [MONDAY, dt.date(2026, 12, 4), dt.date(2026, 12, 11), dt.date(2026, 12, 18)],
        id="monday-to-friday-on-wednesday",
    ),
    pytest.param(
        [(dt.date(2026, 11, 24), 12, 6)],
        [MONDAY, dt.date(2026, 12, 6), dt.date(2026, 12, 13), dt.date(2026, 12, 20)],
        id="monday-to-sunday-on-tuesday",
    ),
    pytest.param(
        [(MONDAY, 9, 1)],
        [MONDAY, dt.date(2026, 12, 1), dt.date(2026, 12, 8), dt.date(2026, 12, 15)],
        id="monday-to-tuesday-right-after-mondays-digest",
    ),
    pytest.param(
        [(dt.date(2026, 11, 29), 12, 2)],
        [MONDAY, dt.date(2026, 12, 2), dt.date(2026, 12, 9), dt.date(2026, 12, 16)],
        id="monday-to-wednesday-before-the-next-monday",
    ),
    pytest.param(
        [(dt.date(2026, 11, 25), 12, 4), (dt.date(2026, 11, 26), 12, 0)],
        [MONDAY, dt.date(2026, 11, 30), dt.date(2026, 12, 7), dt.date(2026, 12, 14)],
        id="to-friday-and-back-to-monday",
    ),
]


@pytest.mark.parametrize(("moves", "expected"), DAY_MOVES)
def test_moving_the_weekly_day_neither_doubles_nor_skips_a_digest(moves, expected):
    """After a move, the next digest goes out on the new day, the first one at least seven
    days after the last: never two within a week, never a week and more without one (at
    most thirteen days), and the manage page's "next digest" names the moment it comes."""
    london = ZoneInfo("Europe/London")
    subscriber = SubscriberFactory(
        timezone="Europe/London", send_hour=8, frequency="weekly", week_day=0, filters=0
    )
    start = local_midnight(MONDAY, london)
    steps = list(walk(start, local_midnight(dt.date(2026, 12, 21), london)))
    at = {dt.datetime.combine(day, dt.time(hour), tzinfo=london): week_day for day, hour, week_day in moves}
    predictions = []
    for now in steps:
        if now in at:
            Subscriber.objects.filter(pk=subscriber.pk).update(week_day=at[now])
            subscriber.refresh_from_db()
            predictions.append(next_digest_at(subscriber, now=now))
        digests_dispatch(now=now)

    made = digests_of(subscriber)
    assert [d.period for d in made] == expected
    sent = [d.window_end for d in made]
    for digest in made:
        assert digest.window_end == first_moment_due(steps, london, digest.period, 8)
    gaps = [(later - earlier).days for earlier, later in itertools.pairwise(sent)]
    assert all(7 <= gap <= 13 for gap in gaps), gaps
    # After the last move every digest is on the chosen day, seven days apart.
    assert made[-1].period.weekday() == moves[-1][2]
    assert gaps[-2:] == [7, 7]
    # What the page said right after the (last) move is when the next digest came.
    assert predictions[-1] == next(w for w in sent if w > max(at))
