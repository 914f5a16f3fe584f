"""The services other parts call (the digest pipeline, ESP webhooks, the admin): state
changes, what they refuse, and the audit trail each one leaves."""

import pytest
from django.core.exceptions import ValidationError

from subscribers import services
from subscribers.models import MAX_FILTERS, Subscriber, SubscriberEvent
from subscribers.services import FilterInput
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
Status = Subscriber.Status
Actor = SubscriberEvent.Actor


def create(email="ada@example.org", filters=None, **overrides):
    values = {
        "email": email,
        "filters": filters or [FilterInput(name="Graphs", query="ti:graph")],
        "timezone": "UTC",
        "send_hour": 7,
        "frequency": "daily",
        "max_papers": 20,
        "include_trending": False,
        **overrides,
    }
    return services.subscription_create(**values)


def last_event(subscriber) -> SubscriberEvent:
    return subscriber.events.order_by("-id").first()


def test_create_stores_a_pending_subscriber_and_records_the_sign_up(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        result = create(client_ip="198.51.100.7")
    assert result.outcome == "created"
    subscriber = result.subscriber
    assert subscriber.status == Status.PENDING
    assert subscriber.status_changed_at is not None
    created, sent = subscriber.events.order_by("id")
    assert (created.kind, created.to_status, created.detail) == ("created", "pending", {"ip": "198.51.100.7"})
    assert sent.kind == "confirmation_sent"
    assert len(callbacks) == 1  # the email is queued for after the commit, not sent here


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "a@b@c"}, "email"),
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"send_hour": 24}, "send_hour"),
        ({"frequency": "hourly"}, "frequency"),
        ({"max_papers": 500}, "max_papers"),
        ({"filters": [FilterInput(name="x", query="ti:x")] * (MAX_FILTERS + 1)}, "filters"),
        ({"filters": [FilterInput(name="x", query="q" * 1001)]}, "query"),
    ],
)
def test_create_refuses_what_the_form_would_refuse(overrides, field):
    # The pipeline or an import may call the service directly: the rules hold there too.
    with pytest.raises(ValidationError) as info:
        create(**overrides)
    error = info.value
    assert field in error.error_dict if hasattr(error, "error_dict") else error.code == field
    assert not Subscriber.objects.exists()


def test_a_thousand_filters_are_refused():
    with pytest.raises(ValidationError, match="at most 10 filters"):
        create(filters=[FilterInput(name=str(i), query=f"ti:t{i}") for i in range(1000)])


def test_the_same_address_in_another_case_is_the_same_subscriber():
    first = create("Ada@Example.org").subscriber
    second = create("ADA@EXAMPLE.ORG")
    assert second.subscriber.pk == first.pk
    assert Subscriber.objects.count() == 1


def test_confirm_activates_once():
    subscriber = create().subscriber
    assert services.subscription_confirm(subscriber=subscriber) is True
    assert services.subscription_confirm(subscriber=subscriber) is False
    subscriber.refresh_from_db()
    assert subscriber.status == Status.ACTIVE
    assert subscriber.confirmed_at is not None
    event = last_event(subscriber)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "confirmed",
        "subscriber",
        "pending",
        "active",
    )


def test_update_changes_only_what_is_given():
    subscriber = SubscriberFactory(max_papers=20, frequency="daily")
    changed = services.subscription_update(subscriber=subscriber, max_papers=35)
    assert changed == ["max_papers"]
    subscriber.refresh_from_db()
    assert (subscriber.max_papers, subscriber.frequency) == (35, "daily")
    assert subscriber.filters.count() == 1


def test_pause_and_resume_only_an_active_subscription():
    subscriber = SubscriberFactory()
    assert services.subscription_pause(subscriber=subscriber) is True
    assert services.subscription_pause(subscriber=subscriber) is False
    assert services.subscription_resume(subscriber=subscriber) is True
    assert services.subscription_resume(subscriber=subscriber) is False
    pending = SubscriberFactory(status=Status.PENDING)
    with pytest.raises(services.SubscriptionError, match="Only an active subscription can be paused"):
        services.subscription_pause(subscriber=pending)


@pytest.mark.parametrize("status", [Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED])
def test_unsubscribe_is_idempotent_and_never_softens_a_suppression(status):
    subscriber = SubscriberFactory(status=status)
    assert services.subscription_unsubscribe(subscriber=subscriber, actor=Actor.SUBSCRIBER) is False
    subscriber.refresh_from_db()
    assert subscriber.status == status
    assert not subscriber.events.exists()


def test_suppress_from_the_esp_and_a_complaint_outranks_a_bounce():
    subscriber = SubscriberFactory()
    assert services.subscriber_suppress(
        subscriber=subscriber, status=Status.BOUNCED, reason="550 mailbox unknown", actor=Actor.ESP
    )
    event = last_event(subscriber)
    assert (event.kind, event.actor, event.to_status, event.detail) == (
        "bounced",
        "esp",
        "bounced",
        {"reason": "550 mailbox unknown"},
    )
    assert services.subscriber_suppress(
        subscriber=subscriber, status=Status.COMPLAINED, reason="spam report", actor=Actor.ESP
    )
    assert not services.subscriber_suppress(
        subscriber=subscriber, status=Status.BOUNCED, reason="later bounce", actor=Actor.ESP
    )
    subscriber.refresh_from_db()
    assert subscriber.status == Status.COMPLAINED
    with pytest.raises(ValueError, match="bounced or complained"):
        services.subscriber_suppress(
            subscriber=subscriber, status=Status.ACTIVE, reason="", actor=Actor.ADMIN
        )


def test_reactivate_lifts_a_bounce_but_never_a_complaint_or_an_unsubscribe():
    bounced = SubscriberFactory(status=Status.BOUNCED)
    assert services.subscriber_reactivate(subscriber=bounced, actor=Actor.ADMIN) is True
    bounced.refresh_from_db()
    assert bounced.status == Status.ACTIVE
    assert last_event(bounced).kind == "reactivated"

    for status, message in [
        (Status.COMPLAINED, "never reactivated"),
        (Status.UNSUBSCRIBED, "only they can subscribe again"),
        (Status.PENDING, "resend the confirmation instead"),
    ]:
        subscriber = SubscriberFactory(status=status)
        with pytest.raises(services.SubscriptionError, match=message):
            services.subscriber_reactivate(subscriber=subscriber, actor=Actor.ADMIN)
        subscriber.refresh_from_db()
        assert subscriber.status == status


def test_confirmation_resend_refuses_active_and_complained_addresses():
    for status in (Status.ACTIVE, Status.COMPLAINED):
        with pytest.raises(services.SubscriptionError, match="No confirmation to send"):
            services.confirmation_resend(subscriber=SubscriberFactory(status=status))


def test_confirmation_resend_respects_the_daily_limit(settings):
    settings.SUBSCRIBER_EMAILS_PER_DAY = 2
    subscriber = create().subscriber  # one sent
    assert services.confirmation_resend(subscriber=subscriber) is True
    assert services.confirmation_resend(subscriber=subscriber) is False


def test_erasing_removes_the_person_and_keeps_the_counts():
    subscriber = create(client_ip="198.51.100.7").subscriber
    services.subscription_confirm(subscriber=subscriber)
    services.subscriber_erase(subscriber=subscriber, actor=Actor.ADMIN)
    assert not Subscriber.objects.exists()
    events = SubscriberEvent.objects.order_by("id")
    assert [e.kind for e in events] == ["created", "confirmation_sent", "confirmed", "erased"]
    assert all(e.subscriber_id is None for e in events)
    assert all(e.detail == {} for e in events)
    assert "ada" not in repr(list(events.values()))
