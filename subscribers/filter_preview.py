"""The live preview: what a query would have matched among the papers of the last days.

Every keystroke (debounced) asks for a preview, so the week's papers are indexed once per
web process and reused until they change: the index is keyed on how many papers the
window holds and when the newest of them arrived or changed (one small aggregate query),
so a fetch, an update or a paper leaving the window triggers a rebuild, and nothing else.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.utils import timezone

from alerts.core.display import safe_url
from alerts.models import Paper
from alerts.search import hints, model
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.textnorm import highlight_spans
from subscribers import rules, similar

TOP_PAPERS = 5


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


@dataclass(frozen=True)
class PreviewPaper:
    title_parts: list[tuple[str, bool]]  # (text, is a matched term)
    url: str
    day: dt.date


@dataclass(frozen=True)
class FilterPreview:
    query: str
    window_days: int
    error: str = ""
    total: int = 0
    days: list[DayCount] = field(default_factory=list)
    papers: list[PreviewPaper] = field(default_factory=list)
    # When the query matched nothing: rewrites that would have (alerts.search.hints).
    hints: list[hints.Hint] = field(default_factory=list)

    @property
    def busiest(self) -> int:
        return max((day.count for day in self.days), default=0) or 1

    @property
    def per_day(self) -> str:
        return f"{self.total / max(1, len(self.days)):.1f}".removesuffix(".0")


@dataclass(frozen=True)
class WeekIndex:
    key: tuple
    index: PaperIndex
    titles: list[str]
    urls: list[str]
    days: list[dt.date]
    window: list[dt.date]
    by_day: dict[dt.date, int]  # day of the window -> bitset of its papers
    categories: frozenset[str] = frozenset()  # the categories the window's papers are in


_lock = threading.Lock()
_current: WeekIndex | None = None


def week_index() -> WeekIndex:
    """The index of the papers first seen in the last PREVIEW_DAYS days, built once per change."""
    global _current
    today = timezone.now().date()
    window = [today - dt.timedelta(days=n) for n in range(settings.PREVIEW_DAYS - 1, -1, -1)]
    since = timezone.make_aware(dt.datetime.combine(window[0], dt.time.min), dt.UTC)
    papers = Paper.objects.filter(first_seen_at__gte=since)
    stats = papers.aggregate(
        n=Count("id"), last_id=Max("id"), newest=Max("first_seen_at"), changed=Max("modified_at")
    )
    key = (since, stats["n"], stats["last_id"], stats["newest"], stats["changed"])
    current = _current
    if current is not None and current.key == key:
        return current
    with _lock:
        if _current is not None and _current.key == key:
            return _current
        rows = papers.order_by("id").values_list(
            "title", "abstract", "authors", "categories", "abs_url", "announced_on", "first_seen_at"
        )
        docs, titles, urls, days = [], [], [], []
        by_day = dict.fromkeys(window, 0)
        for title, abstract, authors, categories, url, announced_on, first_seen_at in rows:
            docs.append(PaperDoc(title, abstract, tuple(authors or ()), tuple(categories or ())))
            titles.append(title)
            urls.append(safe_url(url))  # paper links come from feeds
            day = announced_on if announced_on in by_day else first_seen_at.astimezone(dt.UTC).date()
            if day in by_day:
                by_day[day] |= 1 << (len(days))
            days.append(day)
        index = PaperIndex(docs, cache_bytes=settings.PREVIEW_CACHE_BYTES)
        categories = frozenset(c for doc in docs for c in doc.categories)
        _current = WeekIndex(key, index, titles, urls, days, window, by_day, categories)
        return _current


def _title_parts(title: str, terms) -> list[tuple[str, bool]]:
    parts, at = [], 0
    for start, end in highlight_spans(title, terms):
        if start > at:
            parts.append((title[at:start], False))
        parts.append((title[start:end], True))
        at = end
    if at < len(title):
        parts.append((title[at:], False))
    return parts


def filter_preview(text: str) -> FilterPreview:
    """How many papers of the window QUERY matches per day, and the best few titles."""
    days = settings.PREVIEW_DAYS
    if not (text or "").strip():
        return FilterPreview(query="", window_days=days)
    try:
        text = rules.check_query(text)  # the sign-up form's own check: same message, same column
    except ValidationError as exc:
        return FilterPreview(query=text, window_days=days, error=exc.messages[0])
    week = week_index()
    # Bounded work whatever the query: counts are bitset pop-counts, and only the papers
    # shown are scored (top_hits), however many match.
    matched = week.index.match(text)
    papers = [
        PreviewPaper(_title_parts(week.titles[hit.doc], hit.terms), week.urls[hit.doc], week.days[hit.doc])
        for hit in week.index.top_hits(text, TOP_PAPERS, mask=matched)
    ]
    found_hints = []
    if not matched:
        found_hints = hints.hints(text, lambda query: week.index.match(query).bit_count(), week.categories)
    return FilterPreview(
        query=text,
        window_days=days,
        total=matched.bit_count(),
        days=[DayCount(day, (matched & week.by_day[day]).bit_count()) for day in week.window],
        papers=papers,
        hints=found_hints,
    )


# "Similar to these papers" ------------------------------------------------------------


@dataclass(frozen=True)
class SimilarPreview:
    """What a paste of papers names (found and not), and what the week held like them."""

    text: str
    window_days: int
    error: str = ""
    found: list[tuple[str, str, str]] = field(default_factory=list)  # (as pasted, title, url)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (as pasted, why)
    total: int = 0
    papers: list[PreviewPaper] = field(default_factory=list)


@dataclass(frozen=True)
class WeekVectors:
    key: tuple
    ids: list[int]
    corpus: model.Corpus
    # The week's papers (by id) as the model's vectors of length 1, transposed: one column
    # a paper (see alerts.search.model.similarities).
    vectors_t: object


_vectors_lock = threading.Lock()
_vectors: WeekVectors | None = None


def week_vectors(week: WeekIndex) -> WeekVectors:
    """The model's vectors of the week's papers (the rows of `week`), built once per change."""
    global _vectors
    current = _vectors
    if current is not None and current.key == week.key:
        return current
    with _vectors_lock:
        if _vectors is not None and _vectors.key == week.key:
            return _vectors
        rows = (
            Paper.objects.filter(first_seen_at__gte=week.key[0])
            .order_by("id")
            .values_list("id", "title", "abstract", "authors")
        )
        ids, texts = [], []
        for pid, title, abstract, authors in rows:
            ids.append(pid)
            # As in the digest (alerts.digests.composing.PeriodIndex.vectors): no categories.
            texts.append(model.PaperText(title, abstract, authors or ()))
        corpus = model.Corpus()
        corpus.add(texts)
        _vectors = WeekVectors(week.key, ids, corpus, model.unit_rows(corpus.vectors(texts)).T.tocsr())
        return _vectors


def similar_preview(text: str) -> SimilarPreview:
    """Which pasted items name a stored paper (and why the others do not), and how many of
    the window's papers a digest would have called similar to those found, the best few
    shown. Stores nothing."""
    days = settings.PREVIEW_DAYS
    if not (text or "").strip():
        return SimilarPreview(text="", window_days=days)
    try:
        items = similar.seeds_parse(text)
    except ValidationError as exc:
        return SimilarPreview(text=text, window_days=days, error=exc.messages[0])
    lookup = similar.seeds_lookup(items)
    found = [(item.text, paper.title, safe_url(paper.abs_url)) for item, paper in lookup.found]
    missing = [(item.text, why) for item, why in lookup.missing]
    if not lookup.found:
        return SimilarPreview(text=text, window_days=days, found=found, missing=missing)
    week = week_index()
    vectors = week_vectors(week)
    seeds = Paper.objects.filter(pk__in=[paper.pk for paper in lookup.papers])
    seed_texts = [model.PaperText(p.title, p.abstract, p.authors or ()) for p in seeds]
    seed_ids = {paper.pk for paper in lookup.papers}
    cosine = model.similarities(vectors.vectors_t, [vectors.corpus.vectors(seed_texts)])[0]
    matches = model.most_similar(
        cosine, limit=len(vectors.ids), allowed=lambda row: vectors.ids[row] not in seed_ids
    )
    papers = []
    if len(vectors.ids) == len(week.titles):  # the same papers (else one arrived in between)
        papers = [
            PreviewPaper([(week.titles[row], False)], week.urls[row], week.days[row])
            for row, _ in matches[:TOP_PAPERS]
        ]
    return SimilarPreview(
        text=text,
        window_days=days,
        found=found,
        missing=missing,
        total=len(matches),
        papers=papers,
    )
