"""Receivers of anymail's signals: thin edges that call one service each."""

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import inbound, tracking
from anymail.utils import get_anymail_setting
from django.dispatch import receiver

from alerts.digests.webhooks import delivery_event_record, inbound_unsubscribe


def _refuse_unauthenticated(sender, esp_name: str) -> None:
    # Without a webhook secret anymail lets every call through (with a warning) for the ESPs
    # it authenticates by that secret alone: anyone could then mark any address bounced,
    # complained or unsubscribed. Such calls are refused (400) until the secret is set.
    if getattr(sender, "warn_if_no_basic_auth", False) and not get_anymail_setting(
        "webhook_secret", default=None
    ):
        raise AnymailWebhookValidationFailure(
            f"{esp_name} webhook call refused: ANYMAIL_WEBHOOK_SECRET is not set"
        )


@receiver(tracking, dispatch_uid="alerts.delivery_event_record")
def on_tracking_event(sender, event, esp_name, **kwargs):
    _refuse_unauthenticated(sender, esp_name)
    delivery_event_record(event=event, esp_name=esp_name)


@receiver(inbound, dispatch_uid="alerts.inbound_unsubscribe")
def on_inbound_mail(sender, event, esp_name, **kwargs):
    _refuse_unauthenticated(sender, esp_name)
    inbound_unsubscribe(subject=event.message.subject if event.message else "")
