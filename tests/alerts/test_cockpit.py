"""The admin home as a cockpit: sources and lateness, the digest queue, 30 days of charts
counted once per closed day, and the "fetch now" and "send due digests now" buttons."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from alerts.charts import Series, bar_chart
from alerts.cockpit import sources_status
from alerts.digests.daily_counts import KEYS, daily_counts
from alerts.models import DailyCount, DeliveryEvent, Digest, FetchRun
from subscribers.models import SubscriberEvent
from tests.alerts.conftest import saved
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db
# A fixed instant: Wednesday 18 November 2026, 15:00 UTC.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
HOME = "admin:index"


def at(days_ago: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour), tzinfo=dt.UTC)


def event(kind: str, when: dt.datetime) -> None:
    row = SubscriberEvent.objects.create(kind=kind)
    SubscriberEvent.objects.filter(pk=row.pk).update(created_at=when)


def digest(status: str, finished: dt.datetime, n: int) -> Digest:
    subscriber = SubscriberFactory(email=f"reader{n}@example.org")
    return Digest.objects.create(
        subscriber=subscriber,
        period=finished.date(),
        frequency="daily",
        status=status,
        window_end=finished,
        finished_at=finished,
        sent_at=finished if status == "sent" else None,
    )


def delivery(kind: str, when: dt.datetime, n: int) -> None:
    row = DeliveryEvent.objects.create(esp_name="test", event_id=f"e{n}", event_type=kind)
    DeliveryEvent.objects.filter(pk=row.pk).update(received_at=when)


def fill_month() -> None:
    """Two days ago: 2 sign-ups, 1 confirmation, 3 sent, 1 failed, 1 bounce. Today: 1 of each.
    Forty days ago (outside the charts): a sign-up and a sent digest."""
    for kind, when in [("created", at(2)), ("created", at(2)), ("confirmed", at(2)), ("created", at(0, 9))]:
        event(kind, when)
    event("unsubscribed", at(0, 10))
    event("created", at(40))
    finished = [("sent", at(2)), ("sent", at(2)), ("sent", at(2)), ("failed", at(2)), ("sent", at(0, 9))]
    for n, (status, when) in enumerate(finished):
        digest(status, when, n)
    digest("sent", at(40), 99)
    delivery("bounced", at(2), 1)
    delivery("complained", at(0, 11), 2)
    delivery("delivered", at(2), 3)


def test_daily_counts_group_by_day_and_keep_closed_days(django_assert_max_num_queries):
    fill_month()

    counts = daily_counts(days=30, today=TODAY)

    assert counts.days[0] == TODAY - dt.timedelta(days=29)
    assert counts.days[-1] == TODAY
    two_days_ago = counts.days.index(TODAY - dt.timedelta(days=2))
    day = {key: values[two_days_ago] for key, values in counts.values.items()}
    assert day == {
        "signups": 2,
        "confirmations": 1,
        "unsubscribes": 0,
        "sent": 3,
        "failed": 1,
        "bounced": 1,
        "complaints": 0,
    }
    today = {key: values[-1] for key, values in counts.values.items()}
    assert today == {
        "signups": 1,
        "confirmations": 0,
        "unsubscribes": 1,
        "sent": 1,
        "failed": 0,
        "bounced": 0,
        "complaints": 1,
    }
    assert sum(counts.values["signups"]) == 3  # forty days ago is outside the charts
    # The 29 closed days are kept (the 7 charted numbers and those of /metrics); today is not.
    assert len(KEYS) == 16
    assert DailyCount.objects.count() == 29 * 16
    assert not DailyCount.objects.filter(day=TODAY).exists()

    # Kept days are read, not counted again: a late change to a closed day's rows stays out,
    # and the second view is the kept rows plus today's three aggregates.
    Digest.objects.filter(status="failed").update(status="sent")
    with django_assert_max_num_queries(5):
        again = daily_counts(days=30, today=TODAY)
    assert again.values == counts.values


def test_a_source_is_late_when_no_fetch_succeeded_after_its_due_time():
    # The schedules of migration 0003: arXiv on weekday nights (New York), Hugging Face every
    # 4 hours, extra feeds nightly.
    FetchRun.objects.create(source="hf-daily", status="ok", started_at=NOW - dt.timedelta(hours=1), fetched=5)
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=NOW - dt.timedelta(days=3), fetched=7)
    FetchRun.objects.create(source="arxiv-rss", status="failed", started_at=NOW - dt.timedelta(hours=10))

    status = {s.source: s for s in sources_status(now=NOW)}

    hf, arxiv, api = status["hf-daily"], status["arxiv-rss"], status["arxiv-api"]
    assert not hf.late
    assert hf.last.fetched == 5
    assert hf.schedule == "every 4 hours from 00:15 UTC"
    assert arxiv.late
    assert arxiv.last.status == "failed"
    assert arxiv.last_ok.fetched == 7
    assert arxiv.schedule == "Monday to Friday at 00:30 America/New_York"
    # Due Monday 16 Nov 00:30 in New York (05:30 UTC), the first run after Sunday's.
    assert arxiv.next_due == dt.datetime(2026, 11, 16, 5, 30, tzinfo=dt.UTC)
    assert (api.schedule, api.late, api.last) == ("", False, None)


def test_bar_chart_has_a_title_per_bar_and_escapes_its_label():
    days = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1), TODAY]
    svg = bar_chart(Series(key="x", label="<b>Sent</b>", days=days, values=[3, 0, 6]))

    assert svg.count("<rect") == 3
    titles = re.findall(r"<title>(.*?)</title>", svg)
    assert titles == [
        "Mon 16 Nov: 3 &lt;b&gt;sent&lt;/b&gt;",
        "Tue 17 Nov: 0 &lt;b&gt;sent&lt;/b&gt;",
        "Wed 18 Nov: 6 &lt;b&gt;sent&lt;/b&gt;",
    ]
    assert "<b>" not in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"><title>', svg)]
    assert heights[2] == 2 * heights[0]
    assert heights[1] == 1.0  # an empty day is a stub


def test_admin_home_shows_the_cockpit_with_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    now = timezone.now()
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=now - dt.timedelta(days=6), fetched=7)
    FetchRun.objects.create(source="hf-daily", status="ok", started_at=now - dt.timedelta(hours=1), fetched=5)
    for n in range(60):
        event("created", now - dt.timedelta(days=n % 20, minutes=1))
        digest("sent" if n % 4 else "failed", now - dt.timedelta(days=n % 25, minutes=1), n)
    pending = digest("pending", now, 1000)
    Digest.objects.filter(pk=pending.pk).update(finished_at=None, created_at=now - dt.timedelta(hours=3))

    with django_assert_max_num_queries(30):
        page = admin_client.get(reverse(HOME))

    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('<svg class="chart"') == 7
    assert html.count("</title></rect>") == 7 * 30
    assert "1 pending, 0 being sent; the oldest waiting was created <time" in html
    assert re.search(r'<tr class="late" id="source-arxiv-rss">', html)
    assert '<tr class="" id="source-hf-daily">' in html
    assert html.count(">Fetch now</button>") == 2  # arXiv listings and Hugging Face
    assert ">Send due digests now</button>" in html
    assert "<summary>The numbers, day by day</summary>" in html
    # Rows keep the same count whatever the history: the page reads aggregates.
    for n in range(60, 160):
        digest("sent", now - dt.timedelta(days=n % 25, minutes=1), n)
    with django_assert_max_num_queries(30):
        assert admin_client.get(reverse(HOME)).status_code == 200


@pytest.fixture
def staff_client(client):
    user = User.objects.create_user("viewer", "viewer@example.org", "pw", is_staff=True)
    client.force_login(user)
    client.user = user
    return client


def grant(user, *codenames: str) -> None:
    for codename in codenames:
        app, code = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=code))


def test_cockpit_parts_and_buttons_need_their_permissions(staff_client):
    html = staff_client.get(reverse(HOME)).content.decode()
    assert "cockpit-sources" not in html
    assert '<svg class="chart"' not in html

    grant(staff_client.user, "alerts.view_fetchrun", "alerts.view_digest")
    html = staff_client.get(reverse(HOME)).content.decode()
    assert "cockpit-sources" in html
    assert html.count('<svg class="chart"') == 7
    assert "Fetch now" not in html
    assert "Send due digests now" not in html
    for name in ("admin:cockpit_fetch", "admin:cockpit_send_due"):
        assert staff_client.post(reverse(name), {"source": "hf-daily"}).status_code == 403
    assert not FetchRun.objects.exists()


def message_of(response) -> str:
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    return message


def test_fetch_now_starts_the_fetch_and_links_to_its_run(admin_client, arxiv_on):
    arxiv_on.route("/api/daily_papers", Reply(body=saved("hf_daily_2026-03-04.json").read_bytes()))
    assert admin_client.get(reverse("admin:cockpit_fetch")).status_code == 405

    answer = admin_client.post(reverse("admin:cockpit_fetch"), {"source": "hf-daily"})

    assert (answer.status_code, answer.url) == (302, reverse(HOME))
    text = message_of(answer)
    assert text.startswith(
        "Started alerts.tasks.fetch_papers_task for Hugging Face daily papers (hf-daily), task "
    )
    link = re.search(r'href="([^"]+)"', text).group(1)
    assert parse_qs(urlsplit(link.replace("&amp;", "&")).query)["source"] == ["hf-daily"]
    run = FetchRun.objects.get()
    assert (run.source, run.status, run.fetched) == ("hf-daily", "ok", 5)
    listed = admin_client.get(link.replace("&amp;", "&"))
    assert listed.status_code == 200
    assert [r.pk for r in listed.context["cl"].result_list] == [run.pk]

    refused = admin_client.post(reverse("admin:cockpit_fetch"), {"source": "arxiv-api"})
    assert message_of(refused) == "There is no source 'arxiv-api' to fetch now."
    assert FetchRun.objects.count() == 1


def test_send_due_digests_now_dispatches_and_links_to_the_digests(
    admin_client, mailoutbox, week_papers, django_capture_on_commit_callbacks
):
    ada = SubscriberFactory(email="ada@example.org", send_hour=0, timezone="UTC", filters=0)
    TopicFilterFactory(subscriber=ada, name="Language", query="cat:cs.CL")

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(reverse("admin:cockpit_send_due"))

    text = message_of(answer)
    assert text.startswith("Started alerts.tasks.dispatch_due_digests (task ")
    link = re.search(r'href="([^"]+)"', text).group(1).replace("&amp;", "&")
    (made,) = Digest.objects.all()
    assert (made.subscriber.email, made.status) == ("ada@example.org", "sent")
    assert [m.to for m in mailoutbox] == [["ada@example.org"]]
    listed = admin_client.get(link)
    assert [d.pk for d in listed.context["cl"].result_list] == [made.pk]


def test_a_scheduled_source_that_never_succeeded_is_late_and_says_why(admin_client):
    FetchRun.objects.create(source="hf-daily", status="failed", error="HTTP 503")

    html = admin_client.get(reverse(HOME)).content.decode()

    row = re.search(r'<tr class="late" id="source-hf-daily">(.*?)</tr>', html, re.S).group(1)
    assert "Late</strong>: no successful fetch yet; the last one failed" in row
