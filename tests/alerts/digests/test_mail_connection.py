"""A worker keeps its mail connection open from chunk to chunk (one SMTP session, not one a
chunk), and opens a new one when the server has closed the kept one, without losing or
doubting a digest. The mail server is a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from alerts.digests.runner import digests_run
from alerts.digests.sending import drop_mail_connection
from alerts.models import Digest
from tests.servers import free_port

from .conftest import subscribe

pytestmark = pytest.mark.django_db


class Server:
    """Accepts every message and notes the SMTP session (connection) it came over."""

    def __init__(self):
        self.received: list[tuple[list[str], int]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, id(session)))
        return "250 Message accepted"


def start(handler: Server, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    settings.DIGEST_CHUNK_SIZE = 1  # one digest a chunk: every chunk would open its own session
    drop_mail_connection()
    yield settings.EMAIL_PORT
    drop_mail_connection()


def test_one_session_carries_every_chunk_and_a_closed_one_is_replaced(papers, smtp):
    first = Server()
    controller = start(first, smtp)
    try:
        for n in range(3):
            subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"))
        assert digests_run().sent == 3
    finally:
        controller.stop()  # the server goes away, and with it the kept session
    assert sorted(to for (to,), _ in first.received) == [f"reader{n}@example.org" for n in range(3)]
    assert len({session for _, session in first.received}) == 1

    second = Server()
    controller = start(second, smtp)
    try:
        subscribe("late@example.org", ("Diffusion", "diffusion"))
        assert digests_run().sent == 1
    finally:
        controller.stop()
    assert [to for (to,), _ in second.received] == ["late@example.org"]
    late = Digest.objects.get(subscriber__email="late@example.org")
    assert (late.status, late.last_error) == (Digest.Status.SENT, "")
