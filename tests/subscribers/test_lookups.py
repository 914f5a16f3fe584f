"""Finding subscribers: by address whatever its case, and those who receive digests."""

import pytest
from django.utils import timezone

from subscribers.models import Subscriber
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
Status = Subscriber.Status


def test_by_email_ignores_case_and_finds_several_addresses():
    ada = SubscriberFactory(email="Ada.Lovelace@Example.org", filters=0)
    alan = SubscriberFactory(email="alan@example.org", filters=0)
    SubscriberFactory(email="grace@example.org", filters=0)
    assert Subscriber.objects.by_email("ada.lovelace@EXAMPLE.ORG").get() == ada
    assert set(Subscriber.objects.by_email("ALAN@example.org", "ada.lovelace@example.org")) == {ada, alan}
    assert not Subscriber.objects.by_email("nobody@example.org").exists()
    assert not Subscriber.objects.by_email("ada.lovelace@example.org ").exists()  # no fuzzy match


def test_receiving_in_a_query_and_on_one_subscriber_agree():
    now = timezone.now()
    everyone = [
        SubscriberFactory(status=status, paused_at=paused, filters=0)
        for status in Status.values
        for paused in (None, now)
    ]
    receiving = set(Subscriber.objects.receiving())
    assert receiving == {s for s in everyone if s.is_receiving}
    assert [(s.status, s.paused_at) for s in receiving] == [(Status.ACTIVE, None)]
