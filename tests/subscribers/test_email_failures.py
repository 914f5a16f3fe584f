"""A confirmation email the mail server will not take: retried while the failure may pass,
recorded in the audit trail (where an admin sees it) when it will not. The mail server is
a real SMTP server on loopback (aiosmtpd) or a port nothing listens on."""

import pytest
from aiosmtpd.controller import Controller

from subscribers.models import SubscriberEvent
from tests.servers import free_port
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db


class Server:
    """Refuses one recipient the way a real server does (550), accepts the others."""

    def __init__(self):
        self.received = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", controller.port, 5
    yield handler
    controller.stop()


def sign_up(client, capture, email):
    with capture(execute=True):
        response = client.post("/", signup_data(email))
    assert response.status_code == 200  # the person's page never depends on the mail server


def test_a_refused_address_is_recorded_and_not_retried(
    client, smtp_server, django_capture_on_commit_callbacks
):
    sign_up(client, django_capture_on_commit_callbacks, "gone@example.org")
    sign_up(client, django_capture_on_commit_callbacks, "ada@example.org")
    failed = SubscriberEvent.objects.get(kind=SubscriberEvent.Kind.EMAIL_FAILED)
    assert failed.subscriber.email == "gone@example.org"
    assert failed.detail["message"] == "confirmation"
    assert "SMTPRecipientsRefused" in failed.detail["reason"]
    assert "No such user here" in failed.detail["reason"]
    ((recipients, content),) = smtp_server.received
    assert recipients == ["ada@example.org"]
    assert b"Confirm your subscription" in content


def test_a_mail_server_that_is_down_is_retried_then_recorded(
    client, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    # Tasks run in-process here, so the retries follow each other without their countdown.
    sign_up(client, django_capture_on_commit_callbacks, "ada@example.org")
    (failed,) = SubscriberEvent.objects.filter(kind=SubscriberEvent.Kind.EMAIL_FAILED)
    assert "ConnectionRefusedError" in failed.detail["reason"]
    assert [r.getMessage().split(": ")[1] for r in caplog.records if "retry: Retry in" in r.getMessage()] == [
        f"Retry in {seconds}s" for seconds in (30, 60, 120, 240, 480)
    ]
