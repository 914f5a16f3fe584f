"""A local outbox: an email backend that keeps each message as one .eml file.

Used by `make run` so that a person can read the confirmation and digest emails without an
ESP (the admin lists them), and by tests whose sender runs in another process.
"""

import os
import re
import tempfile
import uuid
from email import policy
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


def outbox_dir() -> Path:
    return Path(settings.EMAIL_OUTBOX_DIR)


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        directory = outbox_dir()
        directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            data = message.message().as_bytes(linesep="\n")
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.eml"
            # Write then rename, so that a reader never sees half a message.
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, directory / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent


# Reading the outbox --------------------------------------------------------------------

# The names OutboxEmailBackend gives: a UTC timestamp and a random suffix. Anything else in
# the directory is not a message of ours, and a name from a URL must match before use.
MESSAGE_NAME = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{12}\.eml$")


def outbox_names() -> list[str]:
    """The outbox's message names, newest first."""
    directory = outbox_dir()
    if not directory.is_dir():
        return []
    names = [path.name for path in directory.iterdir() if MESSAGE_NAME.match(path.name)]
    return sorted(names, reverse=True)


def outbox_message(name: str, *, headers_only: bool = False) -> ParsedMessage | None:
    """One message by name, or None when there is no such message."""
    if not MESSAGE_NAME.match(name):
        return None
    try:
        with open(outbox_dir() / name, "rb") as fh:
            return BytesParser(policy=policy.default).parse(fh, headersonly=headers_only)
    except FileNotFoundError:
        return None


def message_bodies(message: ParsedMessage) -> tuple[str, str]:
    """The message's plain-text and HTML bodies ("" for a part it lacks)."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else "", html.get_content() if html else "")


def html_for_preview(html: str) -> str:
    """The HTML body with links opening in a new tab.

    The preview frame is sandboxed; a link followed inside it would load one of our pages
    into a frame, which their `frame-ancestors 'none'` refuses.
    """
    base = '<base target="_blank">'
    head = re.search(r"<head(\s[^>]*)?>", html, flags=re.IGNORECASE)
    if head is None:
        return base + html
    return html[: head.end()] + base + html[head.end() :]
