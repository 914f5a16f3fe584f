"""Operator alerts: one email to the admins per incident (a late source, a stuck digest
queue, a failure-rate jump) and one when it recovers, whatever how often the check runs."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.apps import apps
from django.core import mail

from alerts.incidents import incidents_check
from alerts.models import Digest, FetchRun, Incident
from alerts.schedules import schedules_store
from alerts.tasks import check_incidents
from tests.factories import SubscriberFactory
from tests.outbox import outbox_messages

# A Tuesday: arXiv's listings (00:30 New York time, Monday to Friday) were due on Monday
# at 05:30 UTC and today at 05:30 UTC.
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
ADMINS = [("ops@example.org", "ops@example.org"), ("lab@example.org", "lab@example.org")]


@pytest.fixture
def admins(settings):
    settings.ADMINS = ADMINS
    settings.SITE_URL = "https://alerts.example.org"
    settings.OFFLINE_DEMO = False


def late_arxiv() -> None:
    """The beat schedules, and an arXiv fetch that last succeeded on Saturday."""
    schedules_store(apps)
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=NOW - dt.timedelta(days=3), fetched=9)


def waiting_digest(created: dt.datetime, email: str = "ada@example.org") -> Digest:
    digest = Digest.objects.create(
        subscriber=SubscriberFactory(email=email, filters=0),
        period=created.date(),
        frequency="daily",
        window_end=created,
    )
    Digest.objects.filter(pk=digest.pk).update(created_at=created)
    return digest


def finished(status: str, count: int, at: dt.datetime) -> None:
    for n in range(count):
        digest = waiting_digest(at, email=f"{status}{n}.{at:%H%M}@example.org")
        Digest.objects.filter(pk=digest.pk).update(status=status, finished_at=at)


@pytest.mark.django_db(transaction=True)
def test_each_kind_mails_the_admins_once_when_it_opens_and_once_when_it_recovers(
    celery_workers, outbox_dir, drained
):
    late_arxiv()
    stuck = waiting_digest(NOW - dt.timedelta(hours=2))
    finished("failed", 12, NOW - dt.timedelta(minutes=30))
    finished("sent", 3, NOW - dt.timedelta(minutes=30))
    celery_workers(
        "worker1", DJANGO_ADMINS="ops@example.org,lab@example.org", SITE_URL="https://alerts.example.org"
    )

    def check(at: dt.datetime) -> list:
        check_incidents.delay(now=at.isoformat())
        drained(rows_final=False)
        return [message for _, message in outbox_messages()]

    opened = check(NOW)
    assert len(opened) == 3
    subjects = sorted(m["Subject"] for m in opened)
    assert subjects == [
        "[Paper alerts] Incident: Digest queue stuck",
        "[Paper alerts] Incident: Failure rate high",
        "[Paper alerts] Incident: Source late (arxiv-rss)",
    ]
    assert all(m["To"] == "ops@example.org, lab@example.org" for m in opened)
    bodies = {m["Subject"].rsplit(": ", 1)[1]: m.get_content() for m in opened}
    assert (
        "arXiv listing is late: its last successful fetch started 2026-11-21 12:00 UTC"
        in bodies["Source late (arxiv-rss)"]
    )
    assert "a scheduled fetch was due at 2026-11-23 05:30 UTC" in bodies["Source late (arxiv-rss)"]
    assert (
        "created 2026-11-24 10:00 UTC, 120 minutes ago (1 pending, 0 being sent)"
        in bodies["Digest queue stuck"]
    )
    assert (
        "12 of 15 digests finished in the last 60 minutes failed (80%, above 20%)"
        in bodies["Failure rate high"]
    )
    assert "In the admin: https://alerts.example.org/admin/alerts/incident/" in bodies["Digest queue stuck"]
    assert Incident.objects.filter(closed_at=None).count() == 3

    assert len(check(NOW + dt.timedelta(minutes=5))) == 3  # still wrong: nobody is mailed again
    assert Incident.objects.count() == 3

    # The fetch succeeds, the queue drains, the failures age out of the last hour.
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=NOW + dt.timedelta(hours=1))
    Digest.objects.filter(pk=stuck.pk).update(status="sent", finished_at=NOW + dt.timedelta(hours=1))
    after = check(NOW + dt.timedelta(hours=2))
    recovered = sorted(m["Subject"] for m in after[3:])
    assert recovered == [
        "[Paper alerts] Recovered: Digest queue stuck",
        "[Paper alerts] Recovered: Failure rate high",
        "[Paper alerts] Recovered: Source late (arxiv-rss)",
    ]
    assert "Recovered at 2026-11-24 14:00 UTC, open since 2026-11-24 12:00 UTC." in after[3].get_content()
    assert not Incident.objects.filter(closed_at=None).exists()
    assert len(check(NOW + dt.timedelta(hours=2, minutes=5))) == 6

    # It happens again: a new incident, a new email.
    waiting_digest(NOW + dt.timedelta(hours=2), email="bob@example.org")
    again = check(NOW + dt.timedelta(hours=3, minutes=1))
    assert [m["Subject"] for m in again[6:]] == ["[Paper alerts] Incident: Digest queue stuck"]
    assert Incident.objects.filter(kind="queue_stuck").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failed", "sent", "opens"),
    [
        (10, 40, False),  # 20%: not above the threshold
        (10, 39, True),  # 20.4%
        (9, 0, False),  # every one failed, but fewer than INCIDENT_FAILURE_MIN
    ],
)
def test_the_failure_rate_is_failed_over_finished_in_the_last_hour_with_a_minimum(
    admins, mailoutbox, failed, sent, opens
):
    finished("failed", failed, NOW - dt.timedelta(minutes=59))
    finished("sent", sent, NOW - dt.timedelta(minutes=59))
    finished("failed", 30, NOW - dt.timedelta(minutes=61))  # before the window
    result = incidents_check(now=NOW)
    assert [i.kind for i in result.opened] == (["failure_rate"] if opens else [])
    assert len(mailoutbox) == (1 if opens else 0)


@pytest.mark.django_db
def test_the_queue_is_stuck_past_the_threshold_not_at_it(admins, mailoutbox, settings):
    settings.INCIDENT_QUEUE_STUCK_AFTER = 3600
    waiting_digest(NOW - dt.timedelta(hours=1))
    assert incidents_check(now=NOW).opened == []
    (incident,) = incidents_check(now=NOW + dt.timedelta(seconds=1)).opened
    assert incident.kind == "queue_stuck"
    assert [m.subject for m in mailoutbox] == ["[Paper alerts] Incident: Digest queue stuck"]


@pytest.mark.django_db
def test_a_source_that_is_not_late_opens_nothing(admins, mailoutbox):
    schedules_store(apps)
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=NOW - dt.timedelta(hours=6))
    assert incidents_check(now=NOW).opened == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_without_admins_the_incident_is_recorded_and_mailed_once_admins_are_set(admins, mailoutbox, settings):
    settings.ADMINS = []
    waiting_digest(NOW - dt.timedelta(hours=2))
    (incident,) = incidents_check(now=NOW).opened
    assert mailoutbox == []
    settings.ADMINS = ADMINS
    incidents_check(now=NOW + dt.timedelta(minutes=5))
    assert [m.to for m in mailoutbox] == [["ops@example.org", "lab@example.org"]]
    incident.refresh_from_db()
    assert incident.opened_notified_at == NOW + dt.timedelta(minutes=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_a_mail_that_could_not_be_sent_is_tried_again_by_the_next_check(admins, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    waiting_digest(NOW - dt.timedelta(hours=2))
    result = incidents_check(now=NOW)
    assert (len(result.opened), result.mailed) == (1, 0)
    assert Incident.objects.get().opened_notified_at is None  # released for the next check
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    assert incidents_check(now=NOW + dt.timedelta(minutes=5)).mailed == 1
    assert [m.subject for m in mail.outbox] == ["[Paper alerts] Incident: Digest queue stuck"]


@pytest.mark.django_db
def test_the_admin_home_lists_the_open_incidents(admins, admin_client):
    assert "No open incident." in admin_client.get("/admin/").content.decode()
    waiting_digest(NOW - dt.timedelta(hours=2))
    incidents_check(now=NOW)
    home = admin_client.get("/admin/").content.decode()
    assert "Digest queue stuck</strong> since" in home
    assert "the oldest waiting digest was created 2026-11-24 10:00 UTC" in home
    page = admin_client.get("/admin/alerts/incident/?state=open").content.decode()
    assert "queue_stuck" in page or "Digest queue stuck" in page
