"""A digest's message as the bytes an SMTP server receives, written directly.

Over SMTP, Django's backend turns each message into MIME objects and lets the standard
library's generator write them: header objects, folding, a policy consulted at every
step. The digest's message has one shape (a text part, an HTML alternative, the headers of
`messages.build_message`), so `smtp_wire` writes those bytes itself: the headers as Django
would set them, each part UTF-8 in 7bit, 8bit or quoted-printable as Django would choose,
CRLF line ends. A message of any other shape (an attachment, a copy recipient, a header
this module does not write) gets None, and Django's backend sends it as before. Measured
in one interleaved run (bench/results/compare_smtp_wire.md): 3.25 ms of a worker's CPU per
digest sent over SMTP, against 4.92 ms through Django's backend.

`hand_over` hands the bytes to the open session of Django's SMTP backend as smtplib's
`sendmail` would, and leaves the server's answer to the data for the caller to read after
its next piece of work; every other backend (anymail's ESPs, the outbox, the test backends)
gets the message object, as before. tests/alerts/digests/test_wire.py parses both forms of the same
digest back and compares them, header by header and part by part.
"""

from __future__ import annotations

import binascii
import functools
import random
import re
import smtplib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import ADDRESS_HEADERS, sanitize_address

# RFC 5322 2.1.1: header lines should fit in 78 characters (folded at spaces to fit), and
# no line of a message may be longer than 998 octets (a body with such a line goes in
# quoted-printable).
FOLD_AT = 78
MAX_LINE = 998

# An address made of RFC 5322 atoms only (a dot-atom local part, a host name): Django's
# sanitize_address gives it back unchanged, so it need not be parsed again. Anything else
# (a display name, quotes, non-ASCII) goes through sanitize_address.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# Headers written here from the message's own fields, in the order Django writes them.
_OWN_HEADERS = {"from", "to", "cc", "reply-to", "date", "subject", "content-type", "mime-version"}


@dataclass(frozen=True)
class Wire:
    sender: str  # the envelope's MAIL FROM, as Django's backend gives it
    recipients: list[str]
    data: bytes


def hand_over(conn, message: EmailMultiAlternatives) -> Callable[[], None] | None:
    """Hand `message` to the backend `conn`. Over an open session of Django's SMTP backend,
    as bytes written by `smtp_wire`, and the server's answer to them is left to read: the
    function returned reads it, raising what smtplib's `sendmail` raises on that answer.
    The caller does its next work (rendering the next digest) while the server takes the
    message in, and calls it before the session carries anything else. Every other
    backend, and a message `smtp_wire` does not write, is sent through the backend: None,
    the hand-off is complete. Errors are the backend's own (smtplib's over SMTP), raised."""
    session = conn.connection if type(conn) is SMTPBackend else None
    wire = smtp_wire(message) if session is not None else None
    if wire is None:
        conn.send_messages([message])
        return None
    submit(session, wire)
    return functools.partial(data_answer, session)


def sendmail(session: smtplib.SMTP, wire: Wire) -> dict[str, tuple[int, bytes]]:
    """smtplib's `SMTP.sendmail`: the same commands and replies, the same exceptions on the
    same answers, the same bytes after DATA, for less work. Returns the refused recipients."""
    refused = submit(session, wire)
    data_answer(session)
    return refused


def submit(session: smtplib.SMTP, wire: Wire) -> dict[str, tuple[int, bytes]]:
    """`sendmail` up to the end of the data, without reading the server's answer to it
    (`data_answer` reads it). `sendmail` parses every envelope address with the email
    package's address parser to quote it, for every message, and escapes the dots at line
    starts with a regular expression over the whole message. Here a plain address is quoted
    as <address> at once and any other (the sender with its display name) parsed once per
    worker; the dots take one `bytes.replace` (the data has CRLF line ends). Returns the
    refused recipients."""
    session.ehlo_or_helo_if_needed()
    data = wire.data
    size = f" size={len(data)}" if session.does_esmtp and session.has_extn("size") else ""
    code, answer = session.docmd("mail", f"from:{_quoted(wire.sender)}{size}")
    if code != 250:
        _abandon(session, code)
        raise smtplib.SMTPSenderRefused(code, answer, wire.sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in wire.recipients:
        code, answer = session.docmd("rcpt", f"to:{_quoted(recipient)}")
        if code not in (250, 251):
            refused[recipient] = (code, answer)
        if code == 421:
            session.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(wire.recipients):
        session._rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    code, answer = session.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, answer)
    stuffed = (b"." if data.startswith(b".") else b"") + data.replace(b"\n.", b"\n..")
    session.send(stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"))
    return refused


def data_answer(session: smtplib.SMTP) -> None:
    """Read the server's answer to the data `submit` sent: its 250, or the error smtplib
    raises on any other answer (after which the session is reset, or closed on a 421)."""
    code, answer = session.getreply()
    if code != 250:
        _abandon(session, code)
        raise smtplib.SMTPDataError(code, answer)


def _quoted(address: str) -> str:
    """`address` as smtplib quotes it in MAIL and RCPT."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else _quoted_parsed(address)


@functools.lru_cache(maxsize=64)
def _quoted_parsed(address: str) -> str:
    return smtplib.quoteaddr(address)


def _abandon(session: smtplib.SMTP, code: int) -> None:
    """After a refused transaction, as smtplib does: a 421 (the server is closing) closes
    the session, anything else resets the transaction."""
    if code == 421:
        session.close()
    else:
        session._rset()


def smtp_wire(message: EmailMultiAlternatives) -> Wire | None:
    """The message as Django's SMTP backend would send it (the same headers and parts, to
    the same envelope), or None when it is not a text part with one HTML alternative."""
    if not _plain_shape(message):
        return None
    headers = _headers(message)
    text, html = _body(message.body), _body(message.alternatives[0][0])
    if headers is None:
        return None
    boundary = _boundary(text[0], html[0])
    top = f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\nMIME-Version: 1.0\r\n'
    data = b"".join(
        [
            top.encode("ascii"),
            headers,
            f"\r\n--{boundary}\r\n".encode(),
            _part("plain", *text),
            f"\r\n--{boundary}\r\n".encode(),
            _part("html", *html),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    (to,) = message.to
    return Wire(sender=_envelope_sender(message.from_email), recipients=[_envelope_recipient(to)], data=data)


def _plain_shape(message: EmailMultiAlternatives) -> bool:
    alternatives = getattr(message, "alternatives", None) or []
    return (
        isinstance(message, EmailMultiAlternatives)
        and len(message.to) == 1
        and not (message.cc or message.bcc or message.reply_to or message.attachments)
        and message.content_subtype == "plain"
        and message.alternative_subtype == "alternative"
        and len(alternatives) == 1
        and alternatives[0][1] == "text/html"
        and isinstance(alternatives[0][0], str)
        and isinstance(message.body, str)
        and (message.encoding or settings.DEFAULT_CHARSET).lower() in {"utf-8", "utf8"}
    )


def _headers(message: EmailMultiAlternatives) -> bytes | None:
    """The message's headers after MIME-Version, in Django's order, or None for a header
    this module does not write (Django's path then raises or writes it)."""
    extra = message.extra_headers
    names = {name.lower() for name in extra}
    if "message-id" not in names or names & (ADDRESS_HEADERS | _OWN_HEADERS) - {"from"}:
        return None
    (to,) = message.to
    lines = [
        _header("Subject", message.subject),
        _header("From", _from_header(extra.get("From", message.from_email))),
        _header("To", to if to.isascii() else sanitize_address(to, "utf-8")),
        _header("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
    ]
    lines += [_header(name, value) for name, value in extra.items() if name.lower() != "from"]
    if None in lines:
        return None
    return "".join(lines).encode("ascii")


def _header(name: str, value) -> str | None:
    """One header line (folded), ending in CRLF; None for a value with a line break in it
    (Django refuses those: BadHeaderError)."""
    value = str(value)
    if "\n" in value or "\r" in value:
        return None
    if not value.isascii():
        # RFC 2047 encoded words, as Django writes a non-ASCII header.
        return name + ": " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n") + "\r\n"
    if len(name) + 2 + len(value) <= FOLD_AT:
        return f"{name}: {value}\r\n"
    # Folded at spaces (a reader unfolds by removing the CRLF before each space), never
    # into a line of spaces only. A word longer than a line (a long URL) stays whole.
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > FOLD_AT and line.strip() and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@functools.lru_cache(maxsize=8)
def _from_header(value: str) -> str:
    # Django keeps an ASCII From header as it is, and writes a non-ASCII one as addresses.
    return value if value.isascii() else sanitize_address(value, "utf-8")


@functools.lru_cache(maxsize=8)
def _envelope_sender(from_email: str) -> str:
    return sanitize_address(from_email, "utf-8")


def _envelope_recipient(address: str) -> str:
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address, "utf-8")


def _body(text: str) -> tuple[bytes, str]:
    """A part's body in UTF-8 with CRLF line ends, and its transfer encoding as Django
    chooses it: 7bit when ASCII, else 8bit, and quoted-printable (binascii's, in C) when a
    line is longer than SMTP allows."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    if len(data) > MAX_LINE and max(map(len, data.split(b"\n"))) > MAX_LINE:
        return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n"), "quoted-printable"
    return data.replace(b"\n", b"\r\n"), "7bit" if text.isascii() else "8bit"


def _part(subtype: str, body: bytes, encoding: str) -> bytes:
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + body


def _boundary(*bodies: bytes) -> str:
    """A boundary in the standard library's form, found in neither body."""
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="
        if not any(b"--" + boundary.encode() in body for body in bodies):
            return boundary
