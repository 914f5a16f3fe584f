"""The confirmation email through a real Celery worker: queued on commit over Redis, sent
by another process into the local outbox, and its link confirms the subscription."""

import time

import pytest

from subscribers.models import Subscriber
from tests.outbox import outbox_messages
from tests.subscribers.helpers import signup_data


def wait_for_messages(count: int, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = outbox_messages()
        if len(messages) >= count:
            return messages
        time.sleep(0.1)
    raise AssertionError(
        f"expected {count} message(s) in the outbox after {timeout}s, found {len(outbox_messages())}"
    )


@pytest.mark.django_db(transaction=True)
def test_the_confirmation_email_is_sent_by_a_worker(client, celery_workers, outbox_dir):
    worker = celery_workers("worker1", SITE_URL="https://alerts.example.org")

    response = client.post("/", signup_data("ada@example.org", [("Graphs", "ti:graph")]))
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()

    ((_, message),) = wait_for_messages(1)
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Confirm your subscription to Paper alerts"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "ti:graph" not in text  # what was typed is shown on the confirmation page only
    assert "Confirm my subscription" in html
    link = next(word for word in text.split() if word.startswith("https://alerts.example.org/confirm/"))
    assert link in html

    assert client.post(link.removeprefix("https://alerts.example.org")).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert "send_confirmation_email" in worker.output()
