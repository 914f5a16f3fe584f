"""The largest digest of a realistic day stays under Gmail's clipping size (about 102 KB of
HTML: past it Gmail hides the rest, the footer with the unsubscribe link included).

Fifty matched papers and the trending section, from the real papers of the relevance set's
busiest day with the longest titles, author lines and abstracts
(tests/fixtures/largest_day_papers.json), sent through the real send path to anymail's test
backend; the sizes are those of the message as it leaves, after transfer encoding. The HTML
part is also measured as quoted-printable, the encoding that costs most (every `=` of an
attribute becomes `=3D`) and the one an ESP relaying over SMTP may pick."""

from __future__ import annotations

import datetime as dt
import email.charset
import email.policy
import json
from email import message_from_bytes
from pathlib import Path

import pytest
from django.core import mail

from alerts.digests.runner import digests_run
from tests.factories import PaperFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "largest_day_papers.json"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
KB = 1024
HTML_LIMIT = 90 * KB  # Gmail clips past about 102 KB
MESSAGE_LIMIT = 100 * KB


@pytest.fixture
def largest_day(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    data = json.loads(FIXTURE.read_text())["papers"]
    for n, item in enumerate(data):
        PaperFactory(
            arxiv_id=item["arxiv_id"],
            title=item["title"],
            authors=item["authors"],
            abstract=item["abstract"],
            categories=item["categories"],
            primary_category=item["categories"][0],
            upvotes=3 * n + 1,
            published=NOW - dt.timedelta(days=1),
            announced_on=NOW.date(),
            first_seen_at=NOW - dt.timedelta(hours=3, seconds=n),
        )
    reader = subscribe(
        "a.reader.with.a.rather.long.address@department.example-university.org",
        ("Language models and their evaluation", "language model*"),
        ("Agents that plan and use tools", "agent* OR tool*"),
        ("Everything in AI, CL and IR", "cat:cs.AI OR cat:cs.CL OR cat:cs.IR"),
        max_papers=50,
        include_trending=True,
    )
    assert digests_run(now=NOW, day=NOW.date()).sent == 1
    (message,) = mail.outbox
    assert message.to == [reader.email]
    return message


def html_part(raw: bytes):
    parsed = message_from_bytes(raw, policy=email.policy.SMTP)
    (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/html"]
    return part


def quoted_printable_size(html: str) -> int:
    charset = email.charset.Charset("utf-8")
    charset.body_encoding = email.charset.QP
    return len(charset.body_encode(html.encode()).encode())


def test_the_largest_realistic_digest_is_not_clipped(largest_day):
    raw = largest_day.message().as_bytes()
    part = html_part(raw)
    html = part.get_content()
    assert html.count('class="paper"') == 55  # fifty matched, five trending
    encoded = part.get_payload()  # the part's body as sent, in its transfer encoding
    sizes = {
        "message": len(raw),
        "html as sent": len(encoded.encode()),
        "html as quoted-printable": quoted_printable_size(html),
    }
    print({name: f"{size / KB:.1f} KB" for name, size in sizes.items()})
    assert sizes["html as sent"] < HTML_LIMIT, sizes
    assert sizes["html as quoted-printable"] < HTML_LIMIT, sizes
    assert sizes["message"] < MESSAGE_LIMIT, sizes
    # The footer, with the unsubscribe link, is in the part Gmail shows.
    assert "unsubscribe" in html[-3000:].lower()
