"""Receivers of anymail's signals: thin edges that call one service each."""

from anymail.signals import inbound, tracking
from django.dispatch import receiver

from .webhooks import delivery_event_record, inbound_unsubscribe


@receiver(tracking, dispatch_uid="alerts.delivery_event_record")
def on_tracking_event(sender, event, esp_name, **kwargs):
    delivery_event_record(event=event, esp_name=esp_name)


@receiver(inbound, dispatch_uid="alerts.inbound_unsubscribe")
def on_inbound_mail(sender, event, esp_name, **kwargs):
    inbound_unsubscribe(subject=event.message.subject if event.message else "")
