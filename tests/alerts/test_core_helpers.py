"""The small helpers every layer shares: Retry-After, shortened text, safe links."""

import email.utils
import time

import pytest

from alerts.core.display import hf_url, safe_url, shorten
from alerts.core.retry import retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),  # a negative wait means now
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
        ("soon", None),
        ("inf", None),  # never a wait without end
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_dates(value, expected):
    assert retry_after(value) == expected


def test_retry_after_counts_the_seconds_to_a_date_in_utc_or_not():
    later = time.time() + 60
    for date in (email.utils.formatdate(later, usegmt=True), email.utils.formatdate(later)):
        assert 55 <= retry_after(date) <= 60
    assert 55 <= retry_after(email.utils.formatdate(later).replace("+0000", "-0000")) <= 60


def test_shorten_keeps_what_fits_with_its_spaces_collapsed():
    assert shorten("  A short\n  title ", 20) == "A short title"
    assert shorten("x" * 20, 20) == "x" * 20


def test_shorten_cuts_at_a_word_with_an_ellipsis_never_past_the_limit():
    text = "Large language models, agents; and the tools they call in production."
    for limit in range(15, len(text)):  # from 15 on, a space lies in the second half
        short = shorten(text, limit)
        assert len(short) <= limit
        assert short.endswith("…")
        assert text.startswith(short[:-1])
        assert short[-2] not in " ,;:."
        assert text[len(short) - 1] in " ,;:."  # cut at a word's end
    assert shorten(text, 24) == "Large language models…"


def test_shorten_cuts_inside_a_word_that_fills_half_the_limit():
    assert shorten("a" * 50, 10) == "a" * 9 + "…"
    assert shorten("ab " + "c" * 50, 10) == "ab " + "c" * 6 + "…"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://arxiv.org/abs/2401.00001", True),
        ("http://example.org/paper", True),
        ("HTTPS://EXAMPLE.ORG/", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("/relative/path", False),
        ("//example.org/no-scheme", False),
        ("", False),
    ],
)
def test_only_web_links_are_shown(url, shown):
    assert safe_url(url) == (url if shown else "")


def test_the_hugging_face_link_is_for_papers_hugging_face_lists():
    assert hf_url("2401.00001", 0) == "https://huggingface.co/papers/2401.00001"
    assert hf_url("2401.00001", None) == ""
    assert hf_url(None, 12) == ""
