"""The subscriber's own controls on the manage page: a sample of the next digest on demand
(limited, marked, and never the period's digest), when the next digest comes, removing one
filter, and pauses with an end that the dispatch ends by itself."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from alerts.core.periods import local_at
from alerts.digests.dispatch import digests_dispatch
from alerts.digests.runner import digests_run
from alerts.models import Digest, Paper
from subscribers import services, tokens
from subscribers.models import Subscriber, SubscriberEvent, TopicFilter
from subscribers.selectors import next_digest_at
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.conftest import html_part
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db
Kind = SubscriberEvent.Kind

# A fixed Tuesday afternoon: the rules below never read the clock.
NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def manage_path(subscriber) -> str:
    return tokens.manage_url(subscriber).removeprefix("https://alerts.example.org")


def csrf_client(path: str, ip: str = "203.0.113.7") -> tuple[Client, str]:
    """A browser-like client (CSRF enforced) that has loaded PATH, and its form's token."""
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=ip)
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client, token


@pytest.fixture
def reader(week_papers):
    reader = SubscriberFactory(email="ada@example.org", filters=0)
    TopicFilterFactory(subscriber=reader, name="Language models", query="language model*")
    return reader


# Samples ------------------------------------------------------------------------------


def test_a_sample_is_marked_and_its_papers_still_come_in_the_real_digest(
    reader, outbox, django_capture_on_commit_callbacks
):
    path = manage_path(reader)
    client, token = csrf_client(path)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(path, {"action": "sample", "csrfmiddlewaretoken": token}, follow=True)
    assert "A sample of your next digest is on its way to ada@example.org" in answer.text
    (sample,) = outbox
    assert sample.to == ["ada@example.org"]
    assert sample.subject.startswith("[Sample] ")
    assert sample.body.startswith("This is a sample of your next digest")
    assert 'class="sample-note"' in html_part(sample)
    # No digest row: the period's digest is still to come, in full.
    assert not Digest.objects.exists()
    sample_titles = [paper.title for paper in outbox_titles(sample)]
    assert len(sample_titles) >= 1

    outbox.clear()
    digests_run()
    (digest,) = outbox
    assert not digest.subject.startswith("[Sample]")
    assert "This is a sample" not in digest.body
    assert Digest.objects.get(subscriber=reader).status == Digest.Status.SENT
    for title in sample_titles:
        assert title in digest.body


def outbox_titles(message):
    """The papers of `message`, found by the titles of the papers in the database."""
    return [paper for paper in Paper.objects.all() if paper.title in message.body]


def test_samples_are_limited_per_subscriber(reader, outbox, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMIT_SAMPLE = "2/d"
    path = manage_path(reader)
    answers = []
    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):  # a new address does not help
        client, token = csrf_client(path, ip)
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(client.post(path, {"action": "sample", "csrfmiddlewaretoken": token}))
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Retry-After" in answers[-1]
    assert len(outbox) == 2


def test_samples_are_limited_per_client_address(
    week_papers, outbox, settings, django_capture_on_commit_callbacks
):
    settings.RATE_LIMIT_SAMPLE_IP = "2/h"
    codes = []
    for n in range(3):
        path = manage_path(SubscriberFactory(email=f"reader{n}@example.org"))
        client, token = csrf_client(path, "198.51.100.9")
        with django_capture_on_commit_callbacks(execute=True):
            codes.append(client.post(path, {"action": "sample", "csrfmiddlewaretoken": token}).status_code)
    assert codes == [302, 302, 429]
    assert len(outbox) == 2


def test_a_sample_needs_the_csrf_token(reader, outbox):
    path = manage_path(reader)
    client = Client(enforce_csrf_checks=True)
    assert client.post(path, {"action": "sample"}).status_code == 403
    assert outbox == []


def test_only_an_active_subscription_gets_a_sample(
    week_papers, outbox, client, django_capture_on_commit_callbacks
):
    pending = SubscriberFactory(status="pending", confirmed_at=None)
    page = client.get(manage_path(pending))
    assert "Send me a sample now" not in page.text
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(manage_path(pending), {"action": "sample"}, follow=True)
    assert "Only an active subscription can get a sample." in answer.text
    assert outbox == []


def test_the_confirmation_page_offers_a_sample_and_says_when_the_first_digest_comes(
    week_papers, outbox, django_capture_on_commit_callbacks
):
    pending = SubscriberFactory(status="pending", confirmed_at=None, timezone="Asia/Tokyo", send_hour=23)
    # The confirmation's button needs no CSRF token; the sample's form carries one.
    client = Client(enforce_csrf_checks=True)
    page = client.post(tokens.confirm_url(pending).removeprefix("https://alerts.example.org"), {})
    assert "You are subscribed" in page.text
    assert "Your next digest:" in page.text
    assert "(Asia/Tokyo)" in page.text
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>.*?value="sample"', page.text, re.S)
    assert form.group(1) == tokens.manage_url(pending)
    with django_capture_on_commit_callbacks(execute=True):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)
        path = form.group(1).removeprefix("https://alerts.example.org")
        assert client.post(path, {"action": "sample", "csrfmiddlewaretoken": token}).status_code == 302
    assert [m.subject.startswith("[Sample]") for m in outbox] == [True]


# When the next digest comes -----------------------------------------------------------


def test_the_next_digest_is_the_one_the_dispatch_creates():
    """The page's answer is the moment of the dispatch run that creates the digest."""
    tokyo = ZoneInfo("Asia/Tokyo")
    subscriber = SubscriberFactory(
        timezone="Asia/Tokyo", send_hour=8, frequency="weekly", week_day=3, filters=0
    )
    # Last Thursday's digest went out: this week's is the next one.
    last_week = dt.date(2026, 11, 19)
    Digest.objects.create(subscriber=subscriber, period=last_week, frequency="weekly", window_end=NOW)
    predicted = next_digest_at(subscriber, now=NOW)
    # Tuesday 15:00 UTC is Wednesday 00:00 in Tokyo: the next Thursday is tomorrow there.
    assert predicted == local_at(dt.date(2026, 11, 26), 8, tokyo)
    moment = NOW
    while Digest.objects.filter(subscriber=subscriber).count() < 2:
        digests_dispatch(now=moment)
        moment += dt.timedelta(minutes=15)
    assert Digest.objects.get(subscriber=subscriber, period=dt.date(2026, 11, 26)).window_end == predicted


def test_the_manage_page_shows_the_next_digest_in_the_subscribers_time_zone(client):
    new_york = ZoneInfo("America/New_York")
    subscriber = SubscriberFactory(timezone="America/New_York", send_hour=6, filters=1)
    # Today's digest (New York's today) went out: the next one is tomorrow's, at 06:00 there.
    today = dt.datetime.now(new_york).date()
    Digest.objects.create(subscriber=subscriber, period=today, frequency="daily", window_end=NOW)
    page = client.get(manage_path(subscriber)).text
    tomorrow = today + dt.timedelta(days=1)
    line = re.search(r'<p class="next-digest">(.*?)</p>', page, re.S).group(1)
    assert f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B %Y}, 06:00" in line
    assert "(America/New_York)" in line
    assert f'datetime="{local_at(tomorrow, 6, new_york).astimezone(new_york).isoformat()}"' in line


def test_no_next_digest_while_paused_without_an_end(client):
    subscriber = SubscriberFactory()
    services.subscription_pause(subscriber=subscriber)
    subscriber.refresh_from_db()
    assert next_digest_at(subscriber, now=NOW) is None
    assert "Your next digest:" not in client.get(manage_path(subscriber)).text


# Removing a filter --------------------------------------------------------------------


def test_a_filter_is_removed_by_its_own_button(client):
    subscriber = SubscriberFactory(filters=0)
    keep = TopicFilterFactory(subscriber=subscriber, name="Graphs", query="ti:graph", position=0)
    gone = TopicFilterFactory(subscriber=subscriber, name="Agents", query="abs:agent", position=1)
    last = TopicFilterFactory(subscriber=subscriber, name="Robots", query="ti:robot", position=2)
    path = manage_path(subscriber)
    client, token = csrf_client(path)
    page = client.get(path).text
    assert page.count('name="remove_filter"') == 3
    assert f'name="remove_filter" value="{gone.pk}"' in page
    answer = client.post(path, {"remove_filter": str(gone.pk), "csrfmiddlewaretoken": token}, follow=True)
    assert "The filter “Agents” is removed." in answer.text
    # The others keep their rows (digests point at them) and close ranks.
    assert list(subscriber.filters.values_list("pk", "position")) == [(keep.pk, 0), (last.pk, 1)]
    event = SubscriberEvent.objects.get(subscriber=subscriber, kind=Kind.UPDATED)
    assert event.detail == {"fields": ["filters"], "removed": "Agents"}


def test_a_filter_of_someone_else_or_the_last_one_is_not_removed(client):
    subscriber = SubscriberFactory(filters=1)
    other = SubscriberFactory(filters=2)
    path = manage_path(subscriber)
    answer = client.post(path, {"remove_filter": str(other.filters.first().pk)}, follow=True)
    assert "That filter is gone already." in answer.text
    assert other.filters.count() == 2
    answer = client.post(path, {"remove_filter": str(subscriber.filters.get().pk)}, follow=True)
    assert "This is your only filter" in answer.text
    assert subscriber.filters.count() == 1
    # With the trending papers the last filter can go: the digest still has something to show.
    Subscriber.objects.filter(pk=subscriber.pk).update(include_trending=True)
    client.post(path, {"remove_filter": str(subscriber.filters.get().pk)})
    assert not TopicFilter.objects.filter(subscriber=subscriber).exists()


def test_removing_a_filter_needs_the_csrf_token():
    subscriber = SubscriberFactory(filters=2)
    client = Client(enforce_csrf_checks=True)
    answer = client.post(manage_path(subscriber), {"remove_filter": str(subscriber.filters.first().pk)})
    assert answer.status_code == 403
    assert subscriber.filters.count() == 2


# Pauses with an end -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "until"),
    [("pause_week", dt.date(2026, 12, 1)), ("pause_month", dt.date(2026, 12, 24))],
)
def test_ready_made_pauses_end_a_week_or_a_month_from_the_local_today(action, until):
    subscriber = SubscriberFactory(timezone="Europe/Berlin")
    choices = services.pause_choices(subscriber=subscriber, now=NOW)
    assert choices[action.removeprefix("pause_")] == until


def test_a_month_from_the_31st_is_the_last_day_of_a_shorter_month():
    subscriber = SubscriberFactory(timezone="UTC")
    now = dt.datetime(2027, 1, 31, 12, tzinfo=dt.UTC)
    assert services.pause_choices(subscriber=subscriber, now=now)["month"] == dt.date(2027, 2, 28)
    now = dt.datetime(2026, 12, 15, 12, tzinfo=dt.UTC)
    assert services.pause_choices(subscriber=subscriber, now=now)["month"] == dt.date(2027, 1, 15)


def test_pause_until_a_date_from_the_page_and_resume_beside_the_badge(client):
    subscriber = SubscriberFactory(timezone="Europe/Berlin")
    path = manage_path(subscriber)
    until = dt.date.today() + dt.timedelta(days=10)
    answer = client.post(path, {"action": "pause_until", "until": until.isoformat()}, follow=True)
    assert f"Digests are paused until {until:%A %-d %B %Y}" in answer.text
    subscriber.refresh_from_db()
    # It ends at the usual send hour of that day, on the subscriber's clock.
    assert subscriber.paused_until == local_at(until, subscriber.send_hour, ZoneInfo("Europe/Berlin"))
    # The resume button is in the status line, right after the badge.
    status = re.search(r'<div class="status-line">(.*?)</div>', answer.text, re.S).group(1)
    assert status.index("badge paused") < status.index('value="resume"')
    assert f"No digests until {until:%A %-d %B %Y}" in status
    assert "Your next digest:" in status
    answer = client.post(path, {"action": "resume"}, follow=True)
    assert "Digests are on again." in answer.text
    subscriber.refresh_from_db()
    assert (subscriber.paused_at, subscriber.paused_until) == (None, None)


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2026-11-24", "Choose a date after today (24 November 2026)"),
        ("2026-11-20", "Choose a date after today (24 November 2026)"),
        ("2028-01-01", "A pause can last at most a year."),
    ],
)
def test_a_pause_ending_today_in_the_past_or_too_far_ahead_is_refused(until, message):
    subscriber = SubscriberFactory(timezone="Europe/Berlin")
    with pytest.raises(services.SubscriptionError, match=re.escape(message)):
        services.subscription_pause(subscriber=subscriber, until=dt.date.fromisoformat(until), now=NOW)
    subscriber.refresh_from_db()
    assert subscriber.paused_at is None


@pytest.mark.parametrize(("until", "message"), [("", "Choose the date"), ("2026-13-45", "Choose the date")])
def test_the_page_refuses_a_missing_or_malformed_date_clearly(client, until, message):
    subscriber = SubscriberFactory()
    answer = client.post(manage_path(subscriber), {"action": "pause_until", "until": until}, follow=True)
    assert message in answer.text
    subscriber.refresh_from_db()
    assert subscriber.paused_at is None


def test_the_page_refuses_a_past_date_with_the_reason(client):
    subscriber = SubscriberFactory()
    yesterday = dt.date.today() - dt.timedelta(days=1)
    answer = client.post(
        manage_path(subscriber), {"action": "pause_until", "until": yesterday.isoformat()}, follow=True
    )
    assert "Choose a date after today" in answer.text
    assert 'class="message error"' in answer.text


def test_the_dispatch_ends_a_pause_on_its_day_and_the_digest_of_that_day_goes_out():
    london = ZoneInfo("Europe/London")
    subscriber = SubscriberFactory(timezone="Europe/London", send_hour=8, filters=0)
    services.subscription_pause(subscriber=subscriber, until=dt.date(2026, 11, 27), now=NOW)
    subscriber.refresh_from_db()
    assert next_digest_at(subscriber, now=NOW) == local_at(dt.date(2026, 11, 27), 8, london)
    moment = dt.datetime(2026, 11, 24, 16, tzinfo=dt.UTC)
    while moment < dt.datetime(2026, 11, 29, 0, tzinfo=dt.UTC):
        digests_dispatch(now=moment)
        moment += dt.timedelta(hours=1)
    periods = list(
        Digest.objects.filter(subscriber=subscriber).order_by("period").values_list("period", flat=True)
    )
    assert periods == [dt.date(2026, 11, 27), dt.date(2026, 11, 28)]
    assert Digest.objects.get(period=dt.date(2026, 11, 27)).window_end == local_at(
        dt.date(2026, 11, 27), 8, london
    )
    subscriber.refresh_from_db()
    assert (subscriber.paused_at, subscriber.paused_until) == (None, None)
    resumed = SubscriberEvent.objects.get(subscriber=subscriber, kind=Kind.RESUMED)
    assert resumed.actor == SubscriberEvent.Actor.SYSTEM
    assert resumed.detail == {"reason": "pause ended"}


def test_weekly_subscribers_choose_their_day_on_the_page(client):
    subscriber = SubscriberFactory(frequency="weekly", filters=1)
    assert subscriber.week_day == 0  # Monday, the service's default
    page = client.get(manage_path(subscriber)).text
    assert "weekly digests on Mondays" in page
    data = {
        "action": "save",
        "frequency": "weekly",
        "week_day": "4",
        "send_hour": "7",
        "timezone": "UTC",
        "max_papers": "20",
        "filters-TOTAL_FORMS": "1",
        "filters-INITIAL_FORMS": "0",
        "filters-MIN_NUM_FORMS": "0",
        "filters-MAX_NUM_FORMS": "10",
        "filters-0-name": "A",
        "filters-0-query": subscriber.filters.get().query,
    }
    client.post(manage_path(subscriber), data)
    subscriber.refresh_from_db()
    assert subscriber.week_day == 4
    assert "weekly digests on Fridays" in client.get(manage_path(subscriber)).text
    data["week_day"] = "9"
    answer = client.post(manage_path(subscriber), data)
    assert answer.status_code == 400
    assert "Choose a day of the week for weekly digests." in answer.text


def test_a_weekly_sign_up_keeps_the_day_it_chose(client):
    page = client.get("/").text
    assert 'name="week_day"' in page
    client.post("/", signup_data(email="wed@example.org", frequency="weekly", week_day=2))
    assert Subscriber.objects.get(email="wed@example.org").week_day == 2
