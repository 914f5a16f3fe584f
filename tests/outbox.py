"""Reading the local outbox from tests whose sender runs in another process."""

from __future__ import annotations

from email.message import EmailMessage

from alerts.outbox import outbox_message, outbox_names


def outbox_messages() -> list[tuple[str, EmailMessage]]:
    """Every message in the outbox, oldest first, as (file name, parsed message)."""
    messages = ((name, outbox_message(name)) for name in reversed(outbox_names()))
    return [(name, message) for name, message in messages if message is not None]
