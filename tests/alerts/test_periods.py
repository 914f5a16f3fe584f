"""Periods: a subscriber's local day or week, and the moment its digest is due."""

import datetime as dt

from alerts.core.periods import current_period, due_hours, period_for_date

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_period_is_the_local_day_and_due_at_the_local_send_hour():
    # 23:30 UTC on 24 Nov is already 25 Nov in Tokyo (UTC+9).
    period = current_period(now=at("2026-11-24T23:30"), timezone="Asia/Tokyo", frequency="daily", send_hour=8)
    assert period.start == dt.date(2026, 11, 25)
    assert period.due_at == at("2026-11-24T23:00")  # 08:00 in Tokyo
    # Due at 23:00 UTC: dispatch's highest due send hour in Tokyo reaches 8 then, not before.
    tokyo = {"timezone": "Asia/Tokyo", "frequency": "daily"}
    assert due_hours(now=at("2026-11-24T23:30"), **tokyo) == (period.start, 8)
    assert due_hours(now=at("2026-11-24T22:59"), **tokyo) == (period.start, 7)


def test_weekly_period_starts_on_the_week_start_day():
    # Thursday 26 Nov 2026 -> the week that began on Monday 23 Nov.
    period = current_period(now=at("2026-11-26T12:00"), timezone="UTC", frequency="weekly", send_hour=7)
    assert period.start == dt.date(2026, 11, 23)
    assert period.due_at == at("2026-11-23T07:00")
    sunday_start = period_for_date(
        day=dt.date(2026, 11, 26), timezone="UTC", frequency="weekly", send_hour=7, week_start=6
    )
    assert sunday_start.start == dt.date(2026, 11, 22)


def test_due_hours_for_a_half_hour_time_zone():
    # Kolkata is UTC+5:30: at 02:00 UTC it is 07:30 there, so hours up to 7 are due.
    assert due_hours(now=at("2026-11-24T02:00"), timezone="Asia/Kolkata", frequency="daily") == (
        dt.date(2026, 11, 24),
        7,
    )
    # At 01:29 UTC it is 06:59: hour 7 has not come.
    assert due_hours(now=at("2026-11-24T01:29"), timezone="Asia/Kolkata", frequency="daily")[1] == 6


def test_due_hours_before_the_first_hour_of_the_day_is_none():
    # 00:30 in New York is hour 0: due; a minute before midnight UTC-5 is the previous day.
    start, hour = due_hours(now=at("2026-11-24T05:30"), timezone="America/New_York", frequency="daily")
    assert (start, hour) == (dt.date(2026, 11, 24), 0)


def test_weekly_later_in_the_week_every_hour_is_due():
    start, hour = due_hours(now=at("2026-11-26T00:00"), timezone="UTC", frequency="weekly")
    assert (start, hour) == (dt.date(2026, 11, 23), 23)
    start, hour = due_hours(now=at("2026-11-23T06:00"), timezone="UTC", frequency="weekly")
    assert (start, hour) == (dt.date(2026, 11, 23), 6)


def test_dst_spring_forward_day_skipped_hour_maps_forward():
    # 8 Mar 2026: New York jumps from 02:00 to 03:00 (UTC-5 -> UTC-4).
    period = period_for_date(
        day=dt.date(2026, 3, 8), timezone="America/New_York", frequency="daily", send_hour=2
    )
    assert period.due_at == at("2026-03-08T07:00")  # 02:00 does not exist; 03:00 EDT
    before = period_for_date(
        day=dt.date(2026, 3, 8), timezone="America/New_York", frequency="daily", send_hour=1
    )
    assert before.due_at == at("2026-03-08T06:00")


def test_unknown_time_zone_is_utc():
    period = current_period(
        now=at("2026-11-24T10:00"), timezone="Mars/Olympus", frequency="daily", send_hour=9
    )
    assert period.due_at == at("2026-11-24T09:00")
