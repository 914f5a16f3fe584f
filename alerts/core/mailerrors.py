"""What a failed hand-off to the mail server or ESP means: try again later, or give up.

Shared by everything that sends mail (digests, confirmation emails), so that one rule
decides what is transient.
"""

from __future__ import annotations

import random
import smtplib
import socket
from dataclasses import dataclass

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings

from alerts.core import retry


@dataclass(frozen=True)
class SendError:
    transient: bool
    reason: str
    retry_after: float | None = None


def classify(exc: BaseException) -> SendError:
    """Is this failure worth another attempt (the ESP or the network is having a bad
    moment) or final (the ESP refuses this message)? Unknown failures count as transient:
    they are retried until the attempt limit, then recorded as failed with their reason."""
    text = f"{exc.__class__.__name__}: {exc}".strip()[:1000]
    if isinstance(exc, AnymailRecipientsRefused):
        response = getattr(exc, "response", None)
        answer = f" ({response.status_code}: {response.text[:300]})" if response is not None else ""
        return SendError(False, f"recipient refused by the ESP{answer}"[:1000])
    if isinstance(exc, AnymailAPIError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
        if status is None:  # no answer at all: timeout, refused connection
            return SendError(True, f"{_no_answer(exc)}: {text}"[:1000])
        if status == 429 or status >= 500:
            wait = retry.retry_after((getattr(response, "headers", None) or {}).get("Retry-After"))
            return SendError(True, f"ESP answered {status}: {text}"[:1000], wait)
        return SendError(False, f"ESP answered {status}: {text}"[:1000])
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return SendError(all(400 <= c < 500 for c in codes), f"SMTP refused the recipient: {exc.recipients}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:1000])
    if isinstance(exc, smtplib.SMTPException | socket.timeout | ConnectionError | TimeoutError | OSError):
        return SendError(True, text)
    if isinstance(exc, AnymailError | ValueError):
        return SendError(False, text)  # a message the backend cannot build will never send
    return SendError(True, text)


def _no_answer(exc: BaseException) -> str:
    # anymail's exception is also the requests exception it wraps. Said first, because the
    # admin's digest list shows only the start of the reason.
    if isinstance(exc, requests.Timeout):
        return "the ESP did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect to the ESP"
    return "no answer from the ESP"


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter (half fixed, half random), at least Retry-After."""
    base = min(settings.DIGEST_RETRY_MAX, settings.DIGEST_RETRY_BASE * 2 ** max(0, attempt - 1))
    delay = base / 2 + random.uniform(0, base / 2)
    return max(delay, retry_after or 0.0)
