"""Fetching papers from a source and storing them: the service behind `fetch_papers` and its task.

One `FetchSpec` is one fetch of one source (a set of arXiv listings, an API query, one day
of Hugging Face, one feed). arXiv's listings are stored one by one as they arrive, each in
its own transaction, so a listing that fails costs only its own papers. Any other source
makes all its HTTP requests first, then stores its records in ONE transaction
(alerts.papers.ingest), so a failure anywhere stores nothing. Every fetch leaves a
`FetchRun` row saying how it went, failures included.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from alerts.core.batches import chunked
from alerts.models import FetchRun, Paper
from alerts.papers.http import Fetcher, FetchError
from alerts.papers.ingest import IngestCounts, papers_ingest
from alerts.papers.selectors import arxiv_categories_in_use
from alerts.papers.sources import arxiv_api, arxiv_rss, feed, hf_daily
from alerts.papers.sources.records import PaperRecord, SourceError, url_with_params

logger = logging.getLogger(__name__)

SOURCES = tuple(Paper.Source.values)


@dataclass(frozen=True)
class FetchSpec:
    source: str
    categories: tuple[str, ...] = ()
    url: str = ""
    date: dt.date | None = None

    def as_params(self) -> dict:
        """What was asked, as JSON: recorded in the FetchRun, and the task's arguments."""
        params = {
            "categories": list(self.categories),
            "url": self.url,
            "date": self.date.isoformat() if self.date else "",
        }
        return {key: value for key, value in params.items() if value}


@dataclass
class FetchReport:
    """What a set of fetches did: the summed counts and one line per failed fetch."""

    counts: IngestCounts = field(default_factory=IngestCounts)
    failures: list[str] = field(default_factory=list)


# Which fetches -----------------------------------------------------------------------------


def fetch_specs(
    *, source: str | None, categories: Iterable[str] = (), url: str = "", date: dt.date | None = None
) -> list[FetchSpec]:
    """The fetches a request stands for. No source: the nightly set (arXiv listings for the
    categories in use, Hugging Face's daily papers, every configured extra feed)."""
    categories = tuple(categories)
    if source is None:
        return [
            FetchSpec(Paper.Source.ARXIV_RSS, categories=categories),
            FetchSpec(Paper.Source.HF_DAILY, date=date),
            *fetch_specs(source=Paper.Source.FEED),
        ]
    if source == Paper.Source.FEED and not url:
        return [FetchSpec(Paper.Source.FEED, url=feed_url) for feed_url in settings.EXTRA_FEEDS]
    return [FetchSpec(source, categories=categories, url=url, date=date)]


# Fetching ----------------------------------------------------------------------------------


def default_fetcher() -> Fetcher:
    return Fetcher(
        user_agent=settings.FETCH_USER_AGENT,
        timeout=settings.FETCH_TIMEOUT,
        retries=settings.FETCH_RETRIES,
        backoff=settings.FETCH_BACKOFF,
        max_bytes=settings.FETCH_MAX_BYTES,
        retry_after_max=settings.FETCH_RETRY_AFTER_MAX,
    )


class _Progress:
    """What a fetch has done so far, written to its FetchRun as it goes: a run stopped half-way
    (a time limit, a crash) still says how far it got, and its papers stay stored."""

    def __init__(self, run: FetchRun, fetcher: Fetcher) -> None:
        self.run_pk = run.pk
        self.fetcher = fetcher
        self.requests_before = fetcher.requests_made
        self.retried_before = len(fetcher.retried)
        self.notes: list[str] = []
        self.left_out: list[str] = []
        self.counts = IngestCounts()

    def save(self, **fields) -> None:
        retried = [f"retried after: {problem}" for problem in self.fetcher.retried[self.retried_before :]]
        FetchRun.objects.filter(pk=self.run_pk).update(
            requests=self.fetcher.requests_made - self.requests_before,
            notes="\n".join(retried + self.notes),
            left_out=self.left_out,
            **{name: getattr(self.counts, name) for name in ("fetched", "created", "updated", "skipped")},
            **fields,
        )


def papers_fetch(
    *, spec: FetchSpec, file: Path | None = None, fetcher: Fetcher | None = None
) -> IngestCounts:
    """Fetch one source (or read a saved response from `file`) and store its papers.

    Raises SourceError (bad response) or FetchError (HTTP failure) after recording it.
    """
    fetcher = fetcher or default_fetcher()
    params = spec.as_params() | ({"file": str(file)} if file else {})
    run = FetchRun.objects.create(source=spec.source, params=params)
    progress = _Progress(run, fetcher)
    try:
        if file:
            progress.counts = papers_ingest(records=_read_file(spec, file), source=spec.source)
        elif spec.source == Paper.Source.ARXIV_RSS and not spec.url:
            _fetch_listings(spec, fetcher, progress)
        else:
            records = _download(spec, fetcher)
            progress.counts = papers_ingest(records=records, source=spec.source)
    except Exception as exc:
        if isinstance(exc, FetchError):
            exc.source = spec.source
        exc.stored = progress.counts  # what was stored before the failure (listings)
        message = str(exc) if isinstance(exc, SourceError | FetchError) else f"{type(exc).__name__}: {exc}"
        progress.save(status=FetchRun.Status.FAILED, finished_at=timezone.now(), error=message)
        raise
    progress.save(status=FetchRun.Status.OK, finished_at=timezone.now())
    logger.debug("%s %s: %s", spec.source, params, progress.counts.summary())
    return progress.counts


def papers_fetch_request(
    *,
    source: str | None,
    categories: Iterable[str] = (),
    url: str = "",
    file: Path | None = None,
    date: dt.date | None = None,
) -> FetchReport:
    """What `fetch_papers` asks for: one source, a saved response of one, or the nightly set.

    Each fetch runs in turn; a failed one is reported (and recorded) and the others still run.
    """
    if file:
        if source is None:
            raise ValueError("a saved response needs its source, to know how to read it")
        specs = [FetchSpec(source, categories=tuple(categories), url=url, date=date)]
    else:
        specs = fetch_specs(source=source, categories=categories, url=url, date=date)
    report = FetchReport()
    fetcher = default_fetcher()
    for spec in specs:
        try:
            report.counts += papers_fetch(spec=spec, file=file, fetcher=fetcher)
        except (SourceError, FetchError) as exc:
            report.failures.append(str(exc))
            report.counts += exc.stored
    return report


def _read_file(spec: FetchSpec, path: Path) -> list[PaperRecord]:
    limit = settings.FETCH_MAX_BYTES
    try:
        # A saved response gets the same size limit as a download (bounded memory).
        size = path.stat().st_size
        if size > limit:
            problem = f"the file is too large ({size} bytes; the limit is {limit} bytes, FETCH_MAX_BYTES)"
            raise SourceError(spec.source, problem, origin=str(path))
        body = path.read_bytes()
    except OSError as exc:
        raise SourceError(spec.source, f"cannot read the file: {exc.strerror}", origin=str(path)) from None
    return _parse(spec.source, body, origin=str(path), feed_url=spec.url)


@contextmanager
def _reading(origin: str):
    """Name the file or URL in a SourceError raised while reading it."""
    try:
        yield
    except SourceError as exc:
        exc.origin = exc.origin or origin
        raise


def _parse(source: str, body: bytes, *, origin: str, feed_url: str = "") -> list[PaperRecord]:
    with _reading(origin):
        if source == Paper.Source.ARXIV_RSS:
            return arxiv_rss.parse(body)
        if source == Paper.Source.ARXIV_API:
            return arxiv_api.parse(body).records
        if source == Paper.Source.HF_DAILY:
            return hf_daily.parse(body)
        return feed.parse(body, feed_url=feed_url)


def _download(spec: FetchSpec, fetcher: Fetcher) -> list[PaperRecord]:
    if spec.source == Paper.Source.ARXIV_RSS:  # one listing URL, as given
        response = fetcher.get(spec.url, min_interval=settings.ARXIV_REQUEST_INTERVAL)
        return _parse(spec.source, response.body, origin=spec.url)
    if spec.source == Paper.Source.ARXIV_API:
        return _download_api(spec, fetcher)
    if spec.source == Paper.Source.HF_DAILY:
        return _download_hf(spec, fetcher)
    response = fetcher.get(
        spec.url, accept="application/rss+xml, application/atom+xml, application/xml;q=0.9"
    )
    return _parse(spec.source, response.body, origin=spec.url, feed_url=spec.url)


def _fetch_listings(spec: FetchSpec, fetcher: Fetcher, progress: _Progress) -> None:
    """The arXiv listings of `spec.categories` (none: the categories in use, the most wanted
    first, at most ARXIV_MAX_CATEGORIES_PER_RUN), each stored as it arrives.

    A category arXiv has no listing for is noted and skipped. A listing that fails otherwise
    is noted, the others are still fetched and stored, and then the fetch fails with it (so
    the task tries a transient failure again). Two transient failures in a row mean arXiv
    is down or busy: the fetch stops there.
    """
    categories = list(spec.categories) or _categories_capped(progress)
    size = max(1, settings.ARXIV_RSS_CATEGORIES_PER_REQUEST)
    chunks = list(chunked(categories, size))
    failures: list[FetchError | SourceError] = []
    transient_in_a_row = 0
    for n, chunk in enumerate(chunks, start=1):
        try:
            progress.counts += _store_listing(spec, fetcher, chunk, progress.notes)
            transient_in_a_row = 0
        except (FetchError, SourceError) as exc:
            failures.append(exc)
            progress.notes.append(_listing_failed(chunk, exc))
            logger.warning(progress.notes[-1])
            transient = isinstance(exc, FetchError) and exc.transient
            transient_in_a_row = transient_in_a_row + 1 if transient else 0
            if transient_in_a_row >= 2 and n < len(chunks):
                progress.notes.append(f"stopped: arXiv is failing; {len(chunks) - n} listings not tried")
                raise
        progress.save()  # this listing's papers are committed: the run shows them
    failed = [exc for exc in failures if not _no_listing(exc)]
    if failed:
        raise failed[-1]
    if failures and len(failures) == len(chunks):
        raise failures[-1]  # not one listing: the URL is wrong, not a category


def _categories_capped(progress: _Progress) -> list[str]:
    """The categories in use, the most wanted first, cut at ARXIV_MAX_CATEGORIES_PER_RUN;
    the rest are recorded on the run (`left_out`) and in its notes."""
    categories = arxiv_categories_in_use()
    cap = max(1, settings.ARXIV_MAX_CATEGORIES_PER_RUN)
    categories, progress.left_out = categories[:cap], categories[cap:]
    if progress.left_out:
        progress.notes.append(
            f"{len(progress.left_out)} categories left out (ARXIV_MAX_CATEGORIES_PER_RUN={cap}), "
            f"those with the fewest subscribers: {', '.join(progress.left_out)}"
        )
        logger.warning(progress.notes[-1])
    return categories


def _no_listing(exc: FetchError | SourceError) -> bool:
    return isinstance(exc, FetchError) and exc.status in (400, 404, 410)


def _listing_failed(chunk: list[str], exc: FetchError | SourceError) -> str:
    joined = "+".join(chunk)
    if _no_listing(exc):
        # Categories come from what subscribers typed: one arXiv does not list must not
        # cost everyone else their papers.
        return f"no arXiv listing for {joined} ({exc}); skipped"
    return f"the arXiv listing for {joined} failed ({exc}); the other listings are stored"


def _store_listing(spec: FetchSpec, fetcher: Fetcher, chunk: list[str], notes: list[str]) -> IngestCounts:
    """One listing request, its papers stored in their own transaction."""
    url = arxiv_rss.listing_url(settings.ARXIV_RSS_URL, chunk)
    response = fetcher.get(url, min_interval=settings.ARXIV_REQUEST_INTERVAL)
    listed = _parse(spec.source, response.body, origin=url)
    if not listed:
        # A well-formed listing with no items is arXiv saying "nothing announced" (a
        # weekend, a holiday, a quiet category): no papers, but said where an admin looks.
        notes.append(f"the arXiv listing for {'+'.join(chunk)} had no items")
    return papers_ingest(records=listed, source=spec.source)


def _download_api(spec: FetchSpec, fetcher: Fetcher) -> list[PaperRecord]:
    """Page through an API query: the papers submitted on one day in the given categories
    (back-fill), or whatever query `spec.url` already names."""
    base = spec.url or settings.ARXIV_API_URL
    extra = {}
    if "search_query=" not in base and "id_list=" not in base:
        day = spec.date or (timezone.now() - dt.timedelta(days=1)).date()
        categories = list(spec.categories) or arxiv_categories_in_use()
        extra = {
            "search_query": arxiv_api.search_query(categories, day.strftime("%Y%m%d")),
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
        }
    page_size = settings.ARXIV_API_PAGE_SIZE
    records: list[PaperRecord] = []
    start, total = 0, None
    while total is None or start < min(total, settings.ARXIV_API_MAX_RESULTS):
        url = arxiv_api.page_url(base, start=start, max_results=page_size, **extra)
        page = _api_page(fetcher, url, start)
        total = page.total_results if total is None else total
        if not page.records:
            break
        records.extend(page.records)
        start += len(page.records)
    if total is not None and total > settings.ARXIV_API_MAX_RESULTS:
        logger.warning(
            "arXiv API query has %d results; stored the first %d", total, settings.ARXIV_API_MAX_RESULTS
        )
    return records


def _api_page(fetcher: Fetcher, url: str, start: int) -> arxiv_api.ApiPage:
    """One page of API results. arXiv's API is known to answer an empty page mid-way now and
    then: that is asked again, like a 503, and never taken for the end of the results."""
    attempt = 0
    while True:
        response = fetcher.get(url, min_interval=settings.ARXIV_REQUEST_INTERVAL)
        with _reading(url):
            page = arxiv_api.parse(response.body)
        if page.records or start >= page.total_results:
            return page
        problem = f"arXiv API returned an empty page at start={start} of {page.total_results} results ({url})"
        if attempt >= fetcher.retries:
            raise FetchError(problem, url=url, transient=True)
        attempt += 1
        fetcher.pause_before_retry(problem, attempt)


def _download_hf(spec: FetchSpec, fetcher: Fetcher) -> list[PaperRecord]:
    """One day's list, or (no date) today's and yesterday's: upvotes keep coming in after a day ends."""
    today = timezone.now().date()
    days = [spec.date] if spec.date else [today, today - dt.timedelta(days=1)]
    base = spec.url or settings.HF_DAILY_URL
    records: list[PaperRecord] = []
    for day in days:
        # A day's list is well under 100 papers; `limit` lifts the default page of 50.
        url = url_with_params(base, date=day.isoformat(), limit="100")
        response = fetcher.get(url, accept="application/json")
        records.extend(_parse(spec.source, response.body, origin=url))
    return records
