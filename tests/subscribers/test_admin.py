"""The admin: finding subscribers, their filters and history, actions through the services,
and the dashboard."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from subscribers import services
from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.conftest import links_in

pytestmark = pytest.mark.django_db
Status = Subscriber.Status
CHANGELIST = "admin:subscribers_subscriber_changelist"


def changelist(admin_client, **params):
    response = admin_client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response


def listed(response) -> list[str]:
    return sorted(s.email for s in response.context["cl"].result_list)


def test_search_by_email_and_filter_by_status_frequency_and_date(admin_client):
    SubscriberFactory(email="ada@example.org")
    SubscriberFactory(email="alan@example.org", status=Status.PENDING, frequency="weekly")
    old = SubscriberFactory(email="grace@navy.example", status=Status.BOUNCED)
    Subscriber.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=400))

    assert listed(changelist(admin_client, q="NAVY")) == ["grace@navy.example"]
    assert listed(changelist(admin_client, status__exact="pending")) == ["alan@example.org"]
    assert listed(changelist(admin_client, frequency__exact="weekly")) == ["alan@example.org"]
    since = str(timezone.now() - dt.timedelta(days=7))  # as the "Past 7 days" link has it
    assert listed(changelist(admin_client, created_at__gte=since)) == ["ada@example.org", "alan@example.org"]


def test_counts_at_a_glance(admin_client):
    SubscriberFactory.create_batch(3)
    paused = SubscriberFactory()
    services.subscription_pause(subscriber=paused)
    SubscriberFactory(status=Status.PENDING)
    SubscriberFactory(status=Status.COMPLAINED)
    page = changelist(admin_client).text
    assert "<strong>6</strong> in all" in page
    assert "<strong>4</strong> active (1 paused)" in page
    assert "<strong>1</strong> pending" in page
    assert "<strong>1</strong> complained" in page


def test_the_change_page_shows_filters_and_history_read_only(admin_client):
    subscriber = SubscriberFactory(filters=0)
    TopicFilterFactory(subscriber=subscriber, name="Graphs", query="ti:graph")
    services.subscription_pause(subscriber=subscriber)
    page = admin_client.get(reverse("admin:subscribers_subscriber_change", args=[subscriber.pk]))
    assert page.status_code == 200
    assert "ti:graph" in page.text
    assert "History (audit trail)" in page.text
    assert "paused" in page.text
    assert 'name="status"' not in page.text  # status changes only through actions


def test_nobody_adds_subscribers_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:subscribers_subscriber_add")).status_code == 403


def run_action(admin_client, action, *subscribers, follow=True):
    data = {"action": action, "_selected_action": [s.pk for s in subscribers]}
    return admin_client.post(reverse(CHANGELIST), data, follow=follow)


def test_resend_confirmation_action(admin_client, outbox, django_capture_on_commit_callbacks):
    pending = SubscriberFactory(status=Status.PENDING)
    active = SubscriberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "resend_confirmation", pending, active)
    assert "Confirmation email queued: 1 subscriber." in response.text
    assert f"No confirmation to send: {active.email} is active." in response.text
    (message,) = outbox
    assert message.to == [pending.email]
    assert "confirm" in links_in(message)
    assert pending.events.get(kind="confirmation_sent").actor == "admin"


def test_suppress_and_reactivate_actions(admin_client):
    subscriber = SubscriberFactory()
    response = run_action(admin_client, "suppress_bounced", subscriber)
    assert "Marked bounced: 1 subscriber." in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.BOUNCED
    event = subscriber.events.get(kind="suppressed")
    assert (event.actor, event.to_status) == ("admin", "bounced")
    assert "in the admin" in event.detail["reason"]

    response = run_action(admin_client, "reactivate", subscriber)
    assert "Reactivated: 1 subscriber." in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.ACTIVE


def test_a_complained_address_is_never_reactivated(admin_client):
    subscriber = SubscriberFactory()
    run_action(admin_client, "suppress_complained", subscriber)
    response = run_action(admin_client, "reactivate", subscriber)
    assert "complained (marked our mail as spam), and such an address is never reactivated" in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.COMPLAINED


def test_deleting_erases_and_keeps_the_counts(admin_client):
    subscriber = SubscriberFactory()
    services.subscription_pause(subscriber=subscriber)
    url = reverse("admin:subscribers_subscriber_delete", args=[subscriber.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Subscriber.objects.exists()
    assert sorted(SubscriberEvent.objects.values_list("kind", flat=True)) == ["erased", "paused"]


def test_the_audit_trail_has_its_own_read_only_list(admin_client):
    subscriber = SubscriberFactory(email="ada@example.org")
    services.subscription_pause(subscriber=subscriber)
    services.subscription_unsubscribe(subscriber=subscriber, actor="subscriber", reason="too many")
    url = reverse("admin:subscribers_subscriberevent_changelist")
    page = admin_client.get(url, {"q": "ada@", "kind__exact": "unsubscribed"})
    assert page.status_code == 200
    assert [e.kind for e in page.context["cl"].result_list] == ["unsubscribed"]
    event = subscriber.events.first()
    change = admin_client.get(reverse("admin:subscribers_subscriberevent_change", args=[event.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.text  # view only
    assert admin_client.get(reverse("admin:subscribers_subscriberevent_add")).status_code == 403


def test_the_dashboard_shows_sign_ups_and_active_subscribers_per_day(admin_client):
    today = timezone.now()
    # Yesterday: two sign-ups, both confirmed. Today: one more, one unsubscribes.
    people = [
        services.subscription_create(
            email=f"p{i}@example.org",
            filters=[services.FilterInput(name="g", query="ti:g")],
            timezone="UTC",
            send_hour=7,
            frequency="daily",
            max_papers=20,
            include_trending=False,
        ).subscriber
        for i in range(3)
    ]
    services.subscription_confirm(subscriber=people[0])
    services.subscription_confirm(subscriber=people[1])
    SubscriberEvent.objects.filter(subscriber__in=people[:2]).update(created_at=today - dt.timedelta(days=1))
    services.subscription_unsubscribe(subscriber=people[1], actor="subscriber")

    page = admin_client.get(reverse("admin:subscribers_subscriber_dashboard"))
    assert page.status_code == 200
    days = {day.day: day for day in page.context["days"]}
    assert len(days) == 30
    yesterday, now = days[today.date() - dt.timedelta(days=1)], days[today.date()]
    assert (yesterday.signups, yesterday.confirmations, yesterday.active) == (2, 2, 2)
    assert (now.signups, now.unsubscribes, now.active) == (1, 1, 1)
    assert days[today.date() - dt.timedelta(days=2)].active == 0
    assert "Sign-ups" in page.text
