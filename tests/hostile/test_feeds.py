"""Malformed, wrongly encoded and hostile feeds: each file in inputs/feeds/ through
`fetch_papers --file`, with what it must do written next to it (inputs/feeds/expected.json).
A refused one exits 1 with one clear line, changes nothing and is recorded; an accepted one
is stored exactly as its UTF-8 original; nothing ever fetches a URL a feed names.

Then a 50 MB feed: refused at the size limit, over HTTP and from a file, in bounded memory
(measured: the peak RSS of the `fetch_papers` process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import run_fetch_papers, saved, table_snapshot
from tests.fakeweb import Reply
from tests.servers import ROOT

INPUTS = Path(__file__).resolve().parent / "inputs" / "feeds"
EXPECTED = json.loads((INPUTS / "expected.json").read_text())
NAMES = sorted(p.name for p in INPUTS.iterdir() if p.name != "expected.json")
LISTING = saved("arxiv_rss_cs.DC_2026-03-04.xml")


def test_every_input_says_what_it_must_do():
    assert set(NAMES) == set(EXPECTED) - {"_"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_feed_input(name, fakeweb, tmp_path):
    expected = EXPECTED[name]
    path = tmp_path / name
    path.write_bytes((INPUTS / name).read_bytes().replace(b"@@FAKEWEB@@", fakeweb.url.encode()))
    fakeweb.route("/secret", Reply(body="root:x:0:0:the secret"))
    refused = "error" in expected
    if refused:  # papers already stored, so that "nothing changed" means something
        hf_papers = saved("hf_daily_2026-03-04.json")
        assert run_fetch_papers("--source", "hf-daily", "--file", str(hf_papers)).status == 0
    before = table_snapshot()

    result = run_fetch_papers("--source", expected["source"], "--file", str(path))

    assert fakeweb.requests() == []  # no entity, DTD or link in a feed is ever fetched
    if refused:
        message = f"{expected['source']} ({path}): {expected['error']}"
        assert (result.status, result.err) == (1, message + "\n")
        assert result.out == "fetched 0, created 0, updated 0, skipped 0\n"
        assert table_snapshot() == before
        assert FetchRun.objects.get(status=FetchRun.Status.FAILED).error == message
        return
    count = expected["stored"]
    assert (result.status, result.err) == (0, "")
    assert result.summary == f"fetched {count}, created {count}, updated 0, skipped 0"
    assert "secret" not in json.dumps(list(Paper.objects.values("title", "abstract")))
    if expected["source"] == "arxiv-rss":
        # The same papers, to the letter, as the UTF-8 original: storing it changes nothing.
        again = run_fetch_papers("--source", "arxiv-rss", "--file", str(LISTING))
        assert again.summary == "fetched 7, created 0, updated 0, skipped 7"


# 50 MB --------------------------------------------------------------------------------

LIMIT = 20 * 1024 * 1024  # FETCH_MAX_BYTES's default


def big_feed(size: int) -> bytes:
    """A well-formed RSS feed of `size` bytes or a little more: real-looking items."""
    abstract = "We study sparse attention for long-context language models and report gains. " * 20
    item = (
        "<item><title>Sparse attention, part {n}</title><link>https://journal.example.org/a/{n}</link>"
        "<guid>a{n}</guid><description>" + abstract + "</description></item>\n"
    )
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Big</title>\n'
    count = size // len(item.format(n=100_000)) + 1
    return (head + "".join(item.format(n=n) for n in range(count)) + "</channel></rss>\n").encode()


def fetch_in_a_process(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    """Run `manage.py fetch_papers ARGS` in its own process: (status, stderr, peak RSS in MB)."""
    peak = Path(env["DATA_DIR"]) / "peak-kb.txt"
    result = subprocess.run(
        [sys.executable, "-m", "tests.peak_memory", str(peak), "manage.py", "fetch_papers", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stderr, int(peak.read_text()) / 1024


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_feed_is_refused_at_the_size_limit_in_bounded_memory(fakeweb, subprocess_env):
    body = big_feed(50 * 1024 * 1024)
    fakeweb.route("/small.xml", Reply(body=saved("feed_journal_rss.xml").read_bytes()))
    fakeweb.route("/declared.xml", Reply(body=body))
    fakeweb.route("/streamed.xml", Reply(body=body, send_length=False))

    status, err, baseline = fetch_in_a_process(
        subprocess_env, "--source", "feed", "--url", f"{fakeweb.url}/small.xml"
    )
    assert (status, err) == (0, "")

    # Declared 50 MB: refused before a byte of the body is read.
    url = f"{fakeweb.url}/declared.xml"
    status, err, declared = fetch_in_a_process(subprocess_env, "--source", "feed", "--url", url)
    assert status == 1
    declared_size = f"{len(body)} bytes declared"
    assert err == f"feed: response from {url} is too large ({declared_size}; the limit is {LIMIT} bytes)\n"

    # No Content-Length: read in 64 KB pieces and dropped once past the limit.
    url = f"{fakeweb.url}/streamed.xml"
    status, err, streamed = fetch_in_a_process(subprocess_env, "--source", "feed", "--url", url)
    assert status == 1
    assert err.startswith(f"feed: response from {url} is too large (stopped reading at ")
    assert err.endswith(f" bytes; the limit is {LIMIT} bytes)\n")

    # A saved 50 MB response is refused by its size, unread.
    path = Path(subprocess_env["DATA_DIR"]) / "big.xml"
    path.write_bytes(body)
    status, err, from_file = fetch_in_a_process(subprocess_env, "--source", "feed", "--file", str(path))
    assert status == 1
    limit = f"the limit is {LIMIT} bytes, FETCH_MAX_BYTES"
    assert err == f"feed ({path}): the file is too large ({len(body)} bytes; {limit})\n"

    print(
        f"peak RSS: small feed {baseline:.0f} MB, 50 MB declared {declared:.0f} MB, "
        f"50 MB streamed {streamed:.0f} MB, 50 MB file {from_file:.0f} MB"
    )
    assert declared - baseline < 10
    assert from_file - baseline < 10
    # At most the limit was read (measured: about 20 MB more than the small feed).
    assert streamed - baseline < LIMIT / 2**20 + 15
    assert Paper.objects.count() == 2  # the small feed's
    assert FetchRun.objects.filter(status=FetchRun.Status.FAILED).count() == 3
