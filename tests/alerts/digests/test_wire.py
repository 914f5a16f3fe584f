"""Over SMTP a digest goes as bytes written by alerts.digests.wire, not through Django's MIME
classes: the message must be the one Django would have sent (same headers, same parts, same
envelope), and a session that drops after the server took the message must leave the
digest unknown, never sent twice. The SMTP server is a real one on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import smtplib
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.core.mail.message import sanitize_address
from django.core.management import call_command

from alerts.digests.runner import digests_run
from alerts.digests.sending import drop_mail_connection
from alerts.digests.wire import Wire, data_answer, sendmail, smtp_wire, submit
from alerts.models import Digest
from tests.servers import free_port

from .conftest import SITE, subscribe

pytestmark = pytest.mark.django_db


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def headers_of(message: EmailMessage) -> list[tuple[str, str]]:
    # The boundary is random and the Date the moment of writing: compared apart.
    return [
        (name, " ".join(str(value).split()))
        for name, value in message.items()
        if name not in {"Content-Type", "Date"}
    ]


def parts_of(message: EmailMessage) -> list[tuple]:
    return [
        (
            part.get_content_type(),
            part.get_content_charset(),
            part["Content-Transfer-Encoding"],
            None if part.is_multipart() else part.get_content(),
            [str(d) for d in part.defects],
        )
        for part in message.walk()
    ]


def assert_same_message(django_bytes: bytes, wire_bytes: bytes) -> EmailMessage:
    ours, theirs = parse(wire_bytes), parse(django_bytes)
    assert headers_of(ours) == headers_of(theirs)
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    assert ours["Date"].datetime is not None
    assert parts_of(ours) == parts_of(theirs)
    assert all(not part.defects for part in ours.walk())
    assert all(len(line) <= 998 for line in wire_bytes.split(b"\r\n"))
    assert b"\n" not in wire_bytes.replace(b"\r\n", b"")  # CRLF line ends only, as SMTP wants
    return ours


def test_a_digest_written_directly_is_the_message_django_writes(papers, mailoutbox, settings):
    settings.SITE_NAME = "Alertes Zürich"  # a non-ASCII List-Id
    subscribe("ada@example.org", ("Difusión", "diffusion"), ("Attention", "attention"))
    subscribe("Bob.O'Neil+alerts@Example.org", ("Attention", "attention"))
    assert digests_run().sent == 2
    for message in mailoutbox:
        wire = smtp_wire(message)
        assert wire is not None
        django_bytes = message.message().as_bytes(linesep="\r\n")
        ours = assert_same_message(django_bytes, wire.data)
        (to,) = message.to
        # The envelope Django's SMTP backend gives smtplib.
        assert wire.sender == sanitize_address(message.from_email, "utf-8")
        assert wire.recipients == [sanitize_address(to, "utf-8")]
        assert ours["To"] == to
        assert ours["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert ours["List-Unsubscribe"].startswith(f"<{SITE}/unsubscribe/")
        assert ours["Message-ID"] == message.extra_headers["Message-ID"]
    ada = next(m for m in mailoutbox if m.to == ["ada@example.org"])
    assert "Difusión" in parse(smtp_wire(ada).data)["Subject"]  # RFC 2047, read back as written
    html = parse(smtp_wire(ada).data).get_body(("html",)).get_content()
    assert "Schölkopf" in html


def test_a_message_of_another_shape_is_left_to_django(papers, mailoutbox):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    (message,) = mailoutbox
    assert smtp_wire(message) is not None
    message.cc = ["copy@example.org"]
    assert smtp_wire(message) is None  # a copy recipient
    message.cc = []
    message.extra_headers["X-Note"] = "two\nlines"  # Django refuses it (BadHeaderError)
    assert smtp_wire(message) is None


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("An ASCII body.\n.A line that starts with a dot\n", "7bit"),
        ("Schölkopf\r\nWindows and\rold Mac line ends\n", "8bit"),
        ("Too long for SMTP: " + "Schölkopf = ünïcode " * 60 + "\nand a short one\n", "quoted-printable"),
    ],
)
def test_each_body_encoding_reads_back_as_django_writes_it(papers, mailoutbox, body, encoding):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    (message,) = mailoutbox
    message.body = body
    wire = smtp_wire(message).data
    ours = assert_same_message(message.message().as_bytes(linesep="\r\n"), wire)
    assert ours.get_body(("plain",))["Content-Transfer-Encoding"] == encoding


class Server:
    """Takes every message; with `drop`, closes the session right after taking one,
    before its answer leaves (the client waits for a 250 that never comes)."""

    def __init__(self, drop: str = ""):
        self.received: list[tuple[list[str], bytes]] = []
        self.drop = drop

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, envelope.original_content))
        if self.drop in envelope.rcpt_tos:
            self.drop = ""
            server.transport.close()
        return "250 Message accepted"


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    drop_mail_connection()
    controllers = []

    def serve(handler: Server) -> Server:
        controller = Controller(handler, hostname="127.0.0.1", port=settings.EMAIL_PORT)
        controller.start()
        controllers.append(controller)
        return handler

    yield serve
    drop_mail_connection()
    for controller in controllers:
        controller.stop()


def test_over_smtp_the_server_gets_the_digest_with_its_headers(papers, smtp):
    server = smtp(Server())
    ada = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    assert digests_run().sent == 1
    ((to, data),) = server.received
    assert to == ["ada@example.org"]
    message = parse(data)
    digest = Digest.objects.get(subscriber=ada)
    assert message["Message-ID"].strip("<>") == digest.esp_message_id
    assert message["X-Digest-Id"] == str(digest.pk)
    assert message["Subject"] == digest.subject
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{SITE}/unsubscribe/")
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert "Denoising diffusion models" in message.get_body(("plain",)).get_content()
    assert all(not part.defects for part in message.walk())


def test_a_session_dropped_after_the_server_took_the_digest_leaves_it_unknown_never_sent_twice(papers, smtp):
    server = smtp(Server(drop="ada@example.org"))
    ada = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    subscribe("bob@example.org", ("Attention", "attention"))
    run = digests_run()
    assert (run.sent, run.unknown) == (1, 1)
    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == Digest.Status.UNKNOWN
    assert digest.unknown_since is not None
    assert "SMTPServerDisconnected" in digest.last_error  # recorded where the admin sees it

    err = StringIO()
    call_command("send_digests", stdout=StringIO(), stderr=err)  # run again: nothing goes twice
    assert "1 digest(s) with an unknown outcome" in err.getvalue()
    assert sorted(to for (to,), _ in server.received) == ["ada@example.org", "bob@example.org"]
    assert Digest.objects.get(subscriber__email="bob@example.org").status == Digest.Status.SENT


class Scripted:
    """Takes every message, except that it refuses what `refuse` names: "mail", "rcpt" or
    "data", with `answer`, once."""

    def __init__(self, refuse: str = "", answer: str = ""):
        self.refuse, self.answer = refuse, answer
        self.received: list[tuple[str, list[str], list[str], bytes]] = []

    def _refused(self, step: str) -> str | None:
        if self.refuse == step:
            self.refuse = ""
            return self.answer
        return None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if answer := self._refused("mail"):
            return answer
        envelope.mail_from, envelope.mail_options = address, list(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if answer := self._refused("rcpt"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if answer := self._refused("data"):
            return answer
        self.received.append((envelope.mail_from, envelope.mail_options, envelope.rcpt_tos, envelope.content))
        return "250 Message accepted"


def session_to(handler: Scripted):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    session = smtplib.SMTP("127.0.0.1", port, timeout=5)
    return controller, session


# Lines that start with a dot (the first one too), and one that is only a dot: SMTP's end
# of data unless escaped.
DOTTED = Wire(
    sender="Paper alerts <alerts@example.org>",
    recipients=["ada@example.org"],
    data=b".First line\r\nSubject: dots\r\n\r\n.\r\n..two\r\nmiddle . dot\r\n.last\r\n",
)


@pytest.mark.parametrize("wire", [DOTTED, dataclasses.replace(DOTTED, data=DOTTED.data.rstrip(b"\r\n"))])
def test_the_lean_sendmail_hands_the_server_what_smtplib_hands_it(wire):
    handlers = {"smtplib": Scripted(), "ours": Scripted()}
    sessions = {name: session_to(handler) for name, handler in handlers.items()}
    try:
        assert sessions["smtplib"][1].sendmail(wire.sender, wire.recipients, wire.data) == {}
        assert sendmail(sessions["ours"][1], wire) == {}
    finally:
        for controller, session in sessions.values():
            session.quit()
            controller.stop()
    (theirs,), (ours,) = handlers["smtplib"].received, handlers["ours"].received
    assert ours == theirs
    assert ours[1] == [f"SIZE={len(wire.data)}"]
    assert ours[3].startswith(b".First line")  # as written: the escaping dots were taken off
    assert b"\r\n.\r\n..two\r\n" in ours[3]


@pytest.mark.parametrize(
    ("refuse", "answer", "error"),
    [
        ("mail", "451 4.3.0 try again later", smtplib.SMTPSenderRefused),
        ("rcpt", "550 5.1.1 no such user", smtplib.SMTPRecipientsRefused),
        ("data", "452 4.3.1 out of storage", smtplib.SMTPDataError),
        ("rcpt", "421 4.3.2 closing", smtplib.SMTPRecipientsRefused),
    ],
)
def test_a_refusal_raises_what_smtplib_raises_and_the_session_goes_on_as_after_smtplib(refuse, answer, error):
    outcomes = {}
    for name in ("smtplib", "ours"):
        handler = Scripted(refuse, answer)
        controller, session = session_to(handler)
        try:
            if name == "smtplib":
                send = functools.partial(session.sendmail, DOTTED.sender, DOTTED.recipients, DOTTED.data)
            else:
                send = functools.partial(sendmail, session, DOTTED)
            with pytest.raises(error) as raised:
                send()
            # After a 421 the session is closed; after any other refusal it was reset and
            # the next message goes through on it.
            if answer.startswith("421"):
                assert session.sock is None
            else:
                sendmail(session, DOTTED)
                session.quit()
        finally:
            controller.stop()
        outcomes[name] = (str(raised.value), len(handler.received))
    assert outcomes["ours"] == outcomes["smtplib"]
    assert answer.split(" ", 1)[1] in outcomes["ours"][0]


class Holding:
    """Takes every message, and answers its data only once the test releases it."""

    def __init__(self):
        self.arrived, self.release, self.answered = threading.Event(), threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        await asyncio.to_thread(self.release.wait, 10)
        self.answered.set()
        return "250 Message accepted"


def test_the_data_goes_out_and_its_answer_is_read_later():
    handler = Holding()
    controller, session = session_to(handler)
    try:
        assert submit(session, DOTTED) == {}  # returns with the server still holding its answer
        assert handler.arrived.wait(5)
        assert not handler.answered.is_set()
        handler.release.set()
        data_answer(session)  # the 250
        sendmail(session, DOTTED)  # the session goes on
        session.quit()
    finally:
        handler.release.set()
        controller.stop()


class RefusesOne(Server):
    """Takes every message but the one to `recipient`, whose data it answers with `answer`
    (once)."""

    def __init__(self, recipient: str, answer: str):
        super().__init__()
        self.recipient, self.answer = recipient, answer

    async def handle_DATA(self, server, session, envelope):
        if self.recipient in envelope.rcpt_tos:
            self.recipient = ""
            return self.answer
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize(
    ("answer", "sent", "failed"), [("554 5.7.1 message rejected", 2, 1), ("451 4.3.0 try again later", 3, 0)]
)
def test_a_refusal_read_after_the_next_digest_was_rendered_falls_on_its_own_digest(
    papers, smtp, answer, sent, failed
):
    """The answer to bob's data is read after carol's digest is rendered: a permanent refusal
    fails bob's alone; a transient one releases bob's and carol's (hers rendered, not yet
    handed over, so not an attempt), and both go out once on the retry."""
    server = smtp(RefusesOne("bob@example.org", answer))
    for name, topic in [("ada", "diffusion"), ("bob", "attention"), ("carol", "diffusion")]:
        subscribe(f"{name}@example.org", (topic.title(), topic))
    run = digests_run()
    assert (run.sent, run.failed, run.unknown) == (sent, failed, 0)
    digests = {d.subscriber.email.split("@")[0]: d for d in Digest.objects.select_related("subscriber")}
    assert answer.split(" ", 2)[2] in digests["bob"].last_error
    assert (digests["bob"].status, digests["bob"].attempts) == (
        (Digest.Status.FAILED, 1) if failed else (Digest.Status.SENT, 2)
    )
    assert (digests["carol"].status, digests["carol"].attempts) == (Digest.Status.SENT, 1)
    assert digests["ada"].status == Digest.Status.SENT
    received = sorted(to for (to,), _ in server.received)
    expected = ["ada", "carol"] if failed else ["ada", "bob", "carol"]
    assert received == [f"{name}@example.org" for name in expected]
