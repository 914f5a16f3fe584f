"""anymail's test backend for long runs: the same payload building, without the outbox.

`anymail.backends.test.EmailBackend` keeps every message it is given in
`django.core.mail.outbox` and numbers each one by looking it up in that list, which is
what a test wants and what a run of a hundred thousand digests cannot afford (memory
grows by every message, and each lookup scans the whole list). This backend does all
anymail does for a message (normalising it into the ESP's payload, recipient statuses,
the message id) and then forgets it.
"""

from __future__ import annotations

import itertools
import os

from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail

_numbers = itertools.count(1)


class EmailBackend(AnymailTestBackend):
    def get_esp_message_id(self, message) -> str:
        return f"bench-{os.getpid()}-{next(_numbers)}"

    def post_to_esp(self, payload, message):
        response = super().post_to_esp(payload, message)
        mail.outbox.clear()
        return response
