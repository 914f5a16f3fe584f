"""Calls to the ESP's tracking webhook that do not come from the ESP: wrong, malformed or
missing credentials (inputs/webhook_credentials.json), and any call at all while no
webhook secret is configured. A forged complaint would stop someone's mail for good, so
each is refused (400) and changes nothing; the ESP's own call, with the secret, works.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alerts.models import DeliveryEvent
from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory
from tests.servers import ROOT

from .conftest import WEBHOOK_SECRET, case_ids, cases, post_tracking_event

pytestmark = pytest.mark.django_db

CREDENTIALS = cases("webhook_credentials.json")
# Postmark's spam complaint for an address: all a stranger needs to know is the address.
COMPLAINT = {
    "RecordType": "SpamComplaint",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Email": "ada@example.org",
    "BouncedAt": "2026-11-25T11:00:00Z",
    "Description": "The subscriber explicitly marked this message as spam.",
    "MessageStream": "outbound",
}


@pytest.fixture
def ada():
    return SubscriberFactory(email="ada@example.org")


def call(client, authorization: str | None):
    return post_tracking_event(client, COMPLAINT, authorization)


def unchanged(subscriber) -> bool:
    subscriber.refresh_from_db()
    return (
        subscriber.status == Subscriber.Status.ACTIVE
        and not DeliveryEvent.objects.exists()
        and not SubscriberEvent.objects.filter(kind=SubscriberEvent.Kind.COMPLAINED).exists()
    )


@pytest.mark.parametrize("case", CREDENTIALS, ids=case_ids(CREDENTIALS))
def test_wrong_credentials_are_refused(case, client, settings, ada):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    assert call(client, case["authorization"]).status_code == 400
    assert unchanged(ada)


# anymail warns that webhooks without a secret are open to anyone: the point of this test.
@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
@pytest.mark.parametrize("case", CREDENTIALS[:3], ids=case_ids(CREDENTIALS[:3]))
def test_without_a_configured_secret_every_call_is_refused(case, client, settings, ada):
    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}
    assert call(client, case["authorization"]).status_code == 400
    assert unchanged(ada)


def test_the_esps_own_call_is_applied(client, settings, ada):
    """The refusals above are the credentials', not the payload's."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    assert call(client, "secret").status_code == 200
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.COMPLAINED


@pytest.mark.parametrize(
    "url",
    [
        "/anymail/mailgun/tracking/",
        "/anymail/mailgun/inbound_mime/",
        "/anymail/sendgrid/tracking/",
        "/anymail/amazon_ses/tracking/",
        "/anymail/mandrill/",
    ],
)
def test_webhook_urls_of_esps_not_configured_are_not_mounted(client, url, ada):
    # Unconfigured, anymail's views answer with a 500 (and a traceback in the logs).
    assert client.post(url, "{}", content_type="application/json").status_code == 404
    assert unchanged(ada)


def test_the_mounted_webhooks_follow_the_email_backend(tmp_path):
    """Outside the tests, the ESP is the one DJANGO_EMAIL_BACKEND sends through."""
    code = "from django.conf import settings; print(settings.ESP_WEBHOOKS)"

    def webhooks(backend: str) -> str:
        env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DATA_DIR=str(tmp_path),
            DJANGO_EMAIL_BACKEND=backend,
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    assert webhooks("anymail.backends.amazon_ses.EmailBackend") == "['amazon_ses']"
    assert webhooks("django.core.mail.backends.smtp.EmailBackend") == "[]"
