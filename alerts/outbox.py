"""A local outbox: an email backend that keeps each message as one .eml file.

Used by `make run` so that a person can read the confirmation and digest emails without an
ESP (the admin lists them), and by tests whose sender runs in another process.
"""

import os
import tempfile
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage as ParsedMessage
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


def outbox_messages() -> list[tuple[str, ParsedMessage]]:
    """Every message in the outbox, oldest first, as (file name, parsed message)."""
    directory = outbox_dir()
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.eml")):
        out.append((path.name, message_from_bytes(path.read_bytes(), policy=policy.default)))
    return out
