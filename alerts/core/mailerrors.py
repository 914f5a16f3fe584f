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
import urllib3
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings

from alerts.core import retry


@dataclass(frozen=True)
class SendError:
    transient: bool
    reason: str
    retry_after: float | None = None
    # The request may have reached the ESP in full and been accepted, but its answer was
    # lost: sending again blindly could deliver the message twice.
    unknown: bool = False


def classify(exc: BaseException) -> SendError:
    """Is this failure worth another attempt (the ESP or the network is having a bad
    moment) or final (the ESP refuses this message)? Unknown failures count as transient:
    they are retried until the attempt limit, then recorded as failed with their reason.

    `unknown` marks the failures after which the ESP may hold the message all the same
    (its answer was lost on the way back): those are not retried blindly
    (alerts.digests.recovery reconciles them)."""
    text = f"{exc.__class__.__name__}: {exc}".strip()[:1000]
    if isinstance(exc, AnymailRecipientsRefused):
        response = getattr(exc, "response", None)
        answer = f" ({response.status_code}: {response.text[:300]})" if response is not None else ""
        return SendError(False, f"recipient refused by the ESP{answer}"[:1000])
    if isinstance(exc, AnymailAPIError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
        if status is None:  # no answer at all: timeout, refused connection
            sent = _maybe_sent(exc)
            return SendError(True, f"{_no_answer(exc, sent)}: {text}"[:1000], unknown=sent)
        if status >= 500 and not _is_answer(response):
            # A gateway between us and the ESP's API (502, 504) lost the API's answer.
            reason = f"ESP answered {status} with no answer of its own: {text}"[:1000]
            return SendError(True, reason, unknown=True)
        if status == 429 or status >= 500:
            wait = retry.retry_after((getattr(response, "headers", None) or {}).get("Retry-After"))
            return SendError(True, f"ESP answered {status}: {text}"[:1000], wait)
        return SendError(False, f"ESP answered {status}: {text}"[:1000])
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return SendError(all(400 <= c < 500 for c in codes), f"SMTP refused the recipient: {exc.recipients}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:1000])
    if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError | ConnectionResetError):
        # The server went silent or away mid-conversation, perhaps after taking the message.
        return SendError(True, text, unknown=True)
    if isinstance(exc, smtplib.SMTPException | socket.timeout | ConnectionError | TimeoutError | OSError):
        return SendError(True, text)
    if isinstance(exc, AnymailError | ValueError):
        return SendError(False, text)  # a message the backend cannot build will never send
    return SendError(True, text)


# Failures that happen before a request leaves this machine: nothing reached the ESP.
_NOT_SENT = (
    requests.ConnectTimeout,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    ConnectionRefusedError,
)


def _maybe_sent(exc: BaseException) -> bool:
    """Could the ESP have received this request in full? Yes after a read timeout or a
    connection dropped while waiting for the answer; no when the connection never opened."""
    if not isinstance(exc, requests.Timeout | requests.ConnectionError):
        return False
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, _NOT_SENT):
            return False
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__ or _wrapped_reason(cause)
    return True


def _wrapped_reason(exc: BaseException) -> BaseException | None:
    # requests and urllib3 carry the underlying error in args or `.reason`, not as __cause__.
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    return inner


def _is_answer(response) -> bool:
    """Did the ESP's API itself answer (a JSON body), rather than a proxy in front of it?"""
    try:
        response.json()
    except ValueError:
        return False
    return True


def _no_answer(exc: BaseException, maybe_sent: bool) -> str:
    # anymail's exception is also the requests exception it wraps. Said first, because the
    # admin's digest list shows only the start of the reason.
    if isinstance(exc, requests.Timeout):
        return "the ESP did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return (
            "the connection dropped before the ESP answered" if maybe_sent else "could not connect to the ESP"
        )
    return "no answer from the ESP"


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter (half fixed, half random), at least Retry-After."""
    base = min(settings.DIGEST_RETRY_MAX, settings.DIGEST_RETRY_BASE * 2 ** max(0, attempt - 1))
    delay = base / 2 + random.uniform(0, base / 2)
    return max(delay, retry_after or 0.0)
