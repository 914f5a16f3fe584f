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
from alerts.search.matcher import PaperDoc, PaperIndex
from subscribers.models import ReaderModel, Vote
from subscribers.reader_models import reader_model_train
from tests.factories import PaperFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "largest_day_papers.json"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
KB = 1024
HTML_LIMIT = 90 * KB  # Gmail clips past about 102 KB of HTML; the text part does not count
# The whole message, both parts (the text part carries three feedback links a paper too):
# a bound that catches a block growing, well under any ESP's message size limit.
MESSAGE_LIMIT = 128 * KB


def largest_day_papers() -> list:
    """The papers of the fixture's day, stored as announced today."""
    data = json.loads(FIXTURE.read_text())["papers"]
    return [
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
        for n, item in enumerate(data)
    ]


@pytest.fixture
def largest_day(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    largest_day_papers()
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


@pytest.fixture
def largest_day_with_a_model(settings):
    """The same day for a reader whose personal model proposes five papers no filter
    matches (copies of long papers under a category no filter names, the originals liked):
    fifty matches, five trending and five "you may also like"."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    papers = largest_day_papers()
    # The longest papers the words of the reader's filters do not match.
    words = PaperIndex([PaperDoc(p.title, p.abstract, p.authors, ()) for p in papers])
    taken = words.match("language model* OR agent* OR tool*")
    free = [p for n, p in enumerate(papers) if not (taken >> n) & 1]
    longest = sorted(free, key=lambda p: -len(p.title) - len(p.abstract) - len(", ".join(p.authors)))[:5]
    for n, paper in enumerate(longest):
        PaperFactory(
            arxiv_id=f"2611.{90000 + n}",
            title=paper.title + " (extended version)",
            authors=paper.authors,
            abstract=paper.abstract,
            categories=["stat.ML"],
            primary_category="stat.ML",
            upvotes=None,
            first_seen_at=NOW - dt.timedelta(hours=2, seconds=n),
        )
    reader = subscribe(
        "a.reader.with.a.rather.long.address@department.example-university.org",
        ("Language models and their evaluation", "language model*"),
        ("Agents that plan and use tools", "agent* OR tool*"),
        ("Everything in AI, CL and IR", "cat:cs.AI OR cat:cs.CL OR cat:cs.IR"),
        max_papers=50,
        include_trending=True,
    )
    for paper in longest:
        Vote.objects.create(subscriber=reader, paper=paper, action=Vote.Action.MORE)
    ReaderModel.objects.create(subscriber=reader)
    assert reader_model_train(subscriber_id=reader.pk, now=NOW).weights
    assert digests_run(now=NOW, day=NOW.date()).sent == 1
    (message,) = mail.outbox
    return message


def test_the_largest_digest_with_you_may_also_like_is_not_clipped(largest_day_with_a_model):
    raw = largest_day_with_a_model.message().as_bytes()
    part = html_part(raw)
    html = part.get_content()
    # Forty-five matched, five proposed (they take the last of max_papers), five trending.
    assert html.count('class="paper"') == 55
    assert "You may also like" in html
    assert html.count("Similar to what you liked:") == 5
    sizes = {
        "message": len(raw),
        "html as sent": len(part.get_payload().encode()),
        "html as quoted-printable": quoted_printable_size(html),
    }
    print({name: f"{size / KB:.1f} KB" for name, size in sizes.items()})
    assert sizes["html as sent"] < HTML_LIMIT, sizes
    assert sizes["html as quoted-printable"] < HTML_LIMIT, sizes
    assert sizes["message"] < MESSAGE_LIMIT, sizes
    assert "unsubscribe" in html[-3000:].lower()
