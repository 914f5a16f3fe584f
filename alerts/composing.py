"""Choosing each subscriber's papers: the period index, matching, ranking, trending.

The papers of a dispatch run (first seen in the lookback window before its `window_end`)
become one in-memory `PeriodIndex`, built once per worker process and run, and shared by
every digest of that run: each distinct filter is compiled and evaluated once against it
(set algebra over the period's papers), never one database query per subscriber.
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Max

from subscribers.models import TopicFilter

from . import ranking
from .matcher import PaperDoc, PaperIndex, iter_bits
from .models import Digest, DigestItem, Paper
from .periods import period_length
from .query import QueryError, categories_of

PAPER_FIELDS = (
    "id",
    "arxiv_id",
    "external_key",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "abs_url",
    "pdf_url",
    "upvotes",
    "first_seen_at",
    "published",
)


@dataclass(frozen=True, slots=True)
class PaperRow:
    """The parts of a paper a digest shows, read once per period."""

    id: int
    arxiv_id: str | None
    external_key: str | None
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    primary_category: str
    abs_url: str
    pdf_url: str
    upvotes: int | None
    first_seen_at: dt.datetime
    published: dt.datetime | None

    @property
    def hf_url(self) -> str:
        if self.arxiv_id and self.upvotes is not None:
            return f"https://huggingface.co/papers/{self.arxiv_id}"
        return ""


def paper_row(values: Sequence) -> PaperRow:
    """A PaperRow from a paper's PAPER_FIELDS values, in that order."""
    (pid, arxiv_id, key, title, abstract, authors, cats, primary, abs_url, pdf_url, votes, seen, pub) = values
    return PaperRow(
        id=pid,
        arxiv_id=arxiv_id,
        external_key=key,
        title=title,
        abstract=abstract,
        authors=tuple(authors or ()),
        categories=tuple(cats or ()),
        primary_category=primary,
        abs_url=abs_url,
        pdf_url=pdf_url,
        upvotes=votes,
        first_seen_at=seen,
        published=pub,
    )


def paper_row_of(paper: Paper) -> PaperRow:
    return paper_row([getattr(paper, "id" if name == "id" else name) for name in PAPER_FIELDS])


def lookback(window_end: dt.datetime) -> dt.datetime:
    """The oldest moment a digest of this run can reach back to (a paused subscriber coming
    back gets at most this much, not months of papers)."""
    return window_end - dt.timedelta(days=settings.DIGEST_MAX_LOOKBACK_DAYS)


class PeriodIndex:
    """The papers of one dispatch run, their matcher index, and per-run caches."""

    def __init__(self, window_end: dt.datetime, papers: Sequence[PaperRow]):
        self.window_end = window_end
        self.papers = list(papers)  # ordered by (first_seen_at, id)
        self._seen = [p.first_seen_at for p in self.papers]
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        self.index = PaperIndex([PaperDoc(p.title, p.abstract, p.authors, p.categories) for p in self.papers])
        self.upvotes = {i: p.upvotes for i, p in enumerate(self.papers) if p.upvotes}
        # Rendered paper blocks, keyed by (paper position, highlighted terms): see rendering.
        self.blocks: dict = {}
        self._categories: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.papers)

    def window_mask(self, start: dt.datetime | None, end: dt.datetime) -> int:
        """Bitset of the papers first seen in (start, end]: a contiguous run, as they are sorted."""
        lo = bisect_right(self._seen, start) if start is not None else 0
        hi = bisect_right(self._seen, end)
        return ((1 << hi) - 1) ^ ((1 << lo) - 1)

    def mask_of(self, paper_ids: Iterable[int]) -> int:
        mask = 0
        for pid in paper_ids:
            pos = self.position.get(pid)
            if pos is not None:
                mask |= 1 << pos
        return mask

    def category_mask(self, categories: set[str]) -> int:
        """Papers in any of `categories` (an archive name such as "cs" covers cs.*)."""
        if self._categories is None:
            table: dict[str, int] = {}
            for i, paper in enumerate(self.papers):
                for cat in paper.categories:
                    table[cat] = table.get(cat, 0) | (1 << i)
                    archive = cat.split(".", 1)[0]
                    if archive != cat:
                        table[archive] = table.get(archive, 0) | (1 << i)
            self._categories = table
        mask = 0
        for cat in categories:
            mask |= self._categories.get(cat, 0)
        return mask


_cache: dict[tuple, PeriodIndex] = {}
_cache_lock = threading.Lock()


def _papers_of(window_end: dt.datetime):
    return Paper.objects.filter(first_seen_at__gt=lookback(window_end), first_seen_at__lte=window_end)


def period_index(window_end: dt.datetime) -> PeriodIndex:
    """The run's index, built once per process: every chunk of the run reuses it.

    The key includes a fingerprint of the run's papers (count, newest id, last change), so
    a paper stored or updated (new upvotes) after the index was built is seen: one cheap
    aggregate query per chunk instead of trusting the clock.
    """
    stamp = _papers_of(window_end).aggregate(n=Count("id"), top=Max("id"), changed=Max("modified_at"))
    key = (window_end, stamp["n"], stamp["top"], stamp["changed"])
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            return found
    built = build_period_index(window_end)
    with _cache_lock:
        _cache[key] = built
        # Keep the newest two: chunks of the previous run may still be in flight.
        for old in sorted(_cache, key=lambda k: (k[0], k[3] or k[0]))[:-2]:
            del _cache[old]
    return built


def build_period_index(window_end: dt.datetime) -> PeriodIndex:
    rows = _papers_of(window_end).order_by("first_seen_at", "id").values_list(*PAPER_FIELDS)
    papers = [paper_row(r) for r in rows.iterator(chunk_size=2000)]
    return PeriodIndex(window_end, papers)


@dataclass
class ComposedItem:
    paper: PaperRow
    doc: int
    section: str
    rank: int
    score: float
    filters: list[str] = field(default_factory=list)
    terms: tuple[str, ...] = ()


@dataclass
class Composition:
    window_start: dt.datetime
    items: list[ComposedItem]
    trending: list[ComposedItem]
    # Filters that could not be evaluated (a stored query the language no longer accepts).
    invalid_filters: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.trending

    @property
    def all_items(self) -> list[ComposedItem]:
        return self.items + self.trending


@dataclass(frozen=True)
class FilterSpec:
    name: str
    query: str


def compose(
    *,
    pidx: PeriodIndex,
    filters: Sequence[FilterSpec],
    window_start: dt.datetime,
    excluded: int,
    max_papers: int,
    include_trending: bool,
) -> Composition:
    """One subscriber's digest: the best `max_papers` papers their filters match in the
    window, none already sent to them (`excluded`), and optionally what is trending."""
    index = pidx.index
    candidates_mask = pidx.window_mask(window_start, pidx.window_end) & ~excluded
    candidates: dict[int, ranking.Candidate] = {}
    categories: set[str] = set()
    invalid: list[str] = []
    if candidates_mask:
        for spec in filters:
            try:
                bits = index.match(spec.query) & candidates_mask
                categories |= categories_of(spec.query)
            except QueryError:
                invalid.append(spec.name)
                continue
            if not bits:
                continue
            for hit in index.hits(spec.query, mask=bits):
                cand = candidates.get(hit.doc)
                if cand is None:
                    cand = candidates[hit.doc] = ranking.Candidate(doc=hit.doc)
                cand.add_match(spec.name, hit.score, hit.terms)

    span = (pidx.window_end - window_start).total_seconds() or 1.0
    for cand in candidates.values():
        paper = pidx.papers[cand.doc]
        cand.upvotes = paper.upvotes or 0
        cand.recency = max(0.0, min(1.0, (paper.first_seen_at - window_start).total_seconds() / span))
    chosen = ranking.rank(list(candidates.values()), max_papers)
    items = [
        ComposedItem(
            paper=pidx.papers[c.doc],
            doc=c.doc,
            section=DigestItem.Section.MATCHED,
            rank=n,
            score=round(c.score, 4),
            filters=c.filters,
            terms=tuple(sorted(c.terms)),
        )
        for n, c in enumerate(chosen, start=1)
    ]

    trending_items: list[ComposedItem] = []
    if include_trending and candidates_mask:
        for paper_item in items:
            categories.update(paper_item.paper.categories)
        pool = candidates_mask & (pidx.category_mask(categories) if categories else -1)
        votes = {doc: pidx.upvotes[doc] for doc in iter_bits(pool) if doc in pidx.upvotes}
        shown = {item.doc for item in items}
        for n, doc in enumerate(ranking.trending(votes, shown, settings.DIGEST_TRENDING_SIZE), start=1):
            trending_items.append(
                ComposedItem(
                    paper=pidx.papers[doc],
                    doc=doc,
                    section=DigestItem.Section.TRENDING,
                    rank=n,
                    score=float(votes[doc]),
                )
            )
    return Composition(
        window_start=window_start, items=items, trending=trending_items, invalid_filters=invalid
    )


def composition_from_items(
    items: Iterable[DigestItem], window_start: dt.datetime | None, locate
) -> Composition:
    """A stored digest's composition, read back from its items (a retry sends the same
    digest; the browser view shows it as sent). `locate(item)` gives (PaperRow, position)
    or None for a paper no longer at hand."""
    matched: list[ComposedItem] = []
    trending: list[ComposedItem] = []
    for item in items:
        found = locate(item)
        if found is None:
            continue
        row, position = found
        composed = ComposedItem(
            paper=row,
            doc=position,
            section=item.section,
            rank=item.rank,
            score=item.score,
            filters=list(item.filters),
            terms=tuple(item.terms),
        )
        (trending if item.section == DigestItem.Section.TRENDING else matched).append(composed)
    return Composition(window_start=window_start, items=matched, trending=trending)


def filters_of(subscriber_ids: Iterable[int]) -> dict[int, list[FilterSpec]]:
    """Each subscriber's active filters, in their order, with one query."""
    specs: dict[int, list[FilterSpec]] = defaultdict(list)
    rows = TopicFilter.objects.filter(subscriber_id__in=list(subscriber_ids), is_active=True).order_by(
        "subscriber_id", "position", "id"
    )
    for sub_id, name, query in rows.values_list("subscriber_id", "name", "query"):
        specs[sub_id].append(FilterSpec(name, query))
    return specs


def window_starts(subscriber_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Each subscriber's previous delivered (sent or skipped) digest's window end: where
    the next digest's window starts, so a gap between digests never loses a paper."""
    rows = (
        Digest.objects.filter(
            subscriber_id__in=list(subscriber_ids),
            status__in=[Digest.Status.SENT, Digest.Status.SKIPPED],
        )
        .values("subscriber_id")
        .annotate(last=Max("window_end"))
        .values_list("subscriber_id", "last")
    )
    return dict(rows)


def already_sent(pidx: PeriodIndex, subscriber_ids: Iterable[int]) -> dict[int, int]:
    """{subscriber id: bitset of this run's papers already sent to them}.

    A paper first seen after `lookback` can only have gone out in a digest whose window
    ended after that moment, so only those digests are read.
    """
    rows = DigestItem.objects.filter(
        digest__subscriber_id__in=list(subscriber_ids),
        digest__status=Digest.Status.SENT,
        digest__window_end__gt=lookback(pidx.window_end),
    ).values_list("digest__subscriber_id", "paper_id")
    masks: dict[int, int] = {}
    for sub_id, paper_id in rows.iterator(chunk_size=5000):
        pos = pidx.position.get(paper_id)
        if pos is not None:
            masks[sub_id] = masks.get(sub_id, 0) | (1 << pos)
    return masks


def first_window_start(window_end: dt.datetime, frequency: str) -> dt.datetime:
    """A first digest covers one period back, so a new subscriber's first email has papers."""
    return window_end - period_length(frequency)


def clamp_start(start: dt.datetime, window_end: dt.datetime) -> dt.datetime:
    return max(start, lookback(window_end))
