"""Choosing each subscriber's papers: the period index, matching, ranking, trending.

The papers of a dispatch run (first seen in the lookback window before its `window_end`)
become one in-memory `PeriodIndex`, built once per worker process and run, and shared by
every digest of that run: each distinct filter is compiled and evaluated once against it
(set algebra over the period's papers), never one database query per subscriber.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from alerts.core import collector
from alerts.core.caches import BoundedDict, BytesBoundedDict
from alerts.core.periods import period_length
from alerts.models import Digest, DigestItem, Paper
from alerts.search import model, ranking
from alerts.search import model as reader_model
from alerts.search.compiled import FilterStore
from alerts.search.matcher import Hit, PaperDoc, PaperIndex
from alerts.search.query import QueryError, categories_of
from alerts.search.textnorm import Highlighter, name_tokens
from subscribers.models import Subscriber, TopicFilter, Vote
from subscribers.reader_models import models_of
from subscribers.similar import SIMILAR_NAME

logger = logging.getLogger(__name__)

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
    return paper_row([getattr(paper, name) for name in PAPER_FIELDS])


# Per-run caches of filter results are emptied when they grow past this many filters, so
# a worker's memory stays bounded however many distinct filters the subscribers have.
CACHE_LIMIT = 50_000
# Matches past max_papers kept with a digest for its browser view ("N more matches"): a
# broad filter can match hundreds a day. They are kept in one value on the digest row
# (Digest.more_matches, `more_stored`), not as item rows.
MORE_KEPT = 100
RECENCY_CACHE_LIMIT = 64  # window starts: most digests of a run share one
# Of settings.MATCHER_CACHE_BYTES, the share of the filters' scored hits kept here (the
# rest goes to the matcher's own caches).
HITS_SHARE = 0.5
# What one kept `Hit` may cost: the object, its score, its doc number, a tuple slot
# (tracemalloc: about 150 bytes; often shared with the matcher's memo, then counted twice).
_HIT_BYTES = 160


def _hits_bytes(query: str, hits: tuple[Hit, ...]) -> int:
    """What one filter's kept hits cost: the dict slot, the query text, the tuple, the hits."""
    return 100 + 49 + len(query) + 56 + (8 + _HIT_BYTES) * len(hits)


def lookback(window_end: dt.datetime) -> dt.datetime:
    """The oldest moment a digest of this run can reach back to (a paused subscriber coming
    back gets at most this much, not months of papers)."""
    return window_end - dt.timedelta(days=settings.DIGEST_MAX_LOOKBACK_DAYS)


class PeriodIndex:
    """The papers of one dispatch run, their matcher index, and the per-run caches of
    composing (rendering keeps its own beside it: alerts.digests.rendering.PeriodRendering)."""

    def __init__(self, window_end: dt.datetime, papers: Sequence[PaperRow]):
        self.window_end = window_end
        self.papers = list(papers)  # ordered by (first_seen_at, id)
        self._seen = [p.first_seen_at for p in self.papers]
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        docs = [PaperDoc(p.title, p.abstract, p.authors, p.categories) for p in self.papers]
        cache_bytes = settings.MATCHER_CACHE_BYTES
        hits_bytes = int(cache_bytes * HITS_SHARE)
        self.index = PaperIndex(docs, cache_bytes=cache_bytes - hits_bytes, filters=filter_store())
        self.upvotes = {i: p.upvotes for i, p in enumerate(self.papers) if p.upvotes}
        self._categories: dict[str, int] | None = None
        # Per run, not per subscriber: each filter's scored hits and named categories, each
        # paper's trending bonus, the recency bonuses of each window start, the upvoted
        # papers most upvoted first.
        self._hits = BytesBoundedDict(hits_bytes, _hits_bytes)  # query -> its hits
        self._categories_of: BoundedDict[str, frozenset[str]] = BoundedDict(CACHE_LIMIT)
        self._sorted_terms: BoundedDict[tuple[str, ...], tuple[str, ...]] = BoundedDict(CACHE_LIMIT)
        self.trending_bonus = [ranking.trending_bonus(p.upvotes or 0) for p in self.papers]
        self._recency: BoundedDict[dt.datetime, _RecencyBonus] = BoundedDict(RECENCY_CACHE_LIMIT)
        self.by_upvotes = ranking.trending(self.upvotes, set(), len(self.upvotes))
        self._model_vectors = None
        self._surfaces: BoundedDict[int, Highlighter] = BoundedDict(CACHE_LIMIT)
        # (paper, reason) -> (its stems found in the paper, the reason as the paper writes it).
        self._reasons: BoundedDict[tuple[int, str], tuple[tuple[str, ...], str | None]] = BoundedDict(
            CACHE_LIMIT
        )
        self._vectors: tuple[model.Corpus, object] | None = None
        self._vectors_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.papers)

    @property
    def model_vectors(self):
        """The period's papers as the readers' models see them (one row per paper, tf-idf
        over the period's own papers), built on first use, once per run."""
        if self._model_vectors is None:
            corpus = reader_model.Corpus()
            corpus.add(self.model_texts)
            # Column-major: `score_many` multiplies by its transpose, then a row-major view.
            self._model_vectors = corpus.vectors(self.model_texts).tocsc()
        return self._model_vectors

    @functools.cached_property
    def model_texts(self) -> list[reader_model.PaperText]:
        """What the readers' models read of each paper of the run."""
        return [reader_model.PaperText(p.title, p.abstract, p.authors, p.categories) for p in self.papers]

    def words_of(self, doc: int) -> Highlighter:
        """The words of a paper's title and abstract (to name why a model proposes it)."""
        found = self._surfaces.get(doc)
        if found is None:
            paper = self.papers[doc]
            found = self._surfaces.put(doc, Highlighter(f"{paper.title}\n{paper.abstract}"))
        return found

    def reason_words(self, doc: int, reason: str) -> tuple[tuple[str, ...], str | None]:
        """(the stems of `reason`, a model's reason to propose paper `doc`, that the paper's
        title or abstract holds; the reason as the paper writes it, None if it does not):
        worked out once per run, as a day's proposed papers and their reasons repeat
        from one reader to the next."""
        key = (doc, reason)
        found = self._reasons.get(key)
        if found is None:
            found = self._reasons.put(key, self._reason_words(doc, reason))
        return found

    def _reason_words(self, doc: int, reason: str) -> tuple[tuple[str, ...], str | None]:
        paper = self.papers[doc]
        if reason.startswith("au:"):
            name = reason[3:]
            authors = [a for a in paper.authors if " ".join(name_tokens(a)) == name]
            return (), authors[0] if authors else None
        words = self.words_of(doc)
        text = f"{paper.title}\n{paper.abstract}"
        stems: list[str] = []
        shown: list[str] = []
        for stem in reason.split():
            spans = words.spans([stem])
            if spans:
                stems.append(stem)
                shown.append(text[spans[0][0] : spans[0][1]].lower())
        return tuple(stems), " ".join(shown) if shown else None

    def window_mask(self, start: dt.datetime | None, end: dt.datetime) -> int:
        """Bitset of the papers first seen in (start, end]: a contiguous run, as they are sorted."""
        lo = bisect_right(self._seen, start) if start is not None else 0
        hi = bisect_right(self._seen, end)
        return ((1 << hi) - 1) ^ ((1 << lo) - 1)

    def hits(self, query: str, bits: int) -> Iterable[Hit]:
        """The scored hits of a valid `query` among the papers `bits` (a subset of its
        matches), in no particular order."""
        hits = self._hits.get(query)
        if hits is None:
            hits = self._hits.put(query, tuple(self.index.hits(query)))
        if bits == self.index.match(query):
            return hits
        return [hit for hit in hits if (bits >> hit.doc) & 1]

    def sorted_terms(self, terms: tuple[str, ...]) -> tuple[str, ...]:
        """A hit's `terms` sorted, without repeats: what a digest item keeps. The hits of one
        filter share their terms, so a run sorts each filter's once, not once per item
        (an item of each of 10,000 digests with 70 items each, most past max_papers)."""
        found = self._sorted_terms.get(terms)
        if found is None:
            found = self._sorted_terms.put(terms, tuple(sorted(set(terms))))
        return found

    def categories_of(self, query: str) -> frozenset[str]:
        """The categories a valid `query` names (see alerts.search.query.categories_of)."""
        found = self._categories_of.get(query)
        if found is None:
            found = self._categories_of.put(query, frozenset(categories_of(query)))
        return found

    def recency_bonus(self, window_start: dt.datetime) -> dict[int, float]:
        """{paper position: its recency bonus} in windows starting at `window_start`, filled
        as papers are asked for (most digests of a run share their window start)."""
        found = self._recency.get(window_start)
        if found is None:
            found = self._recency.put(window_start, _RecencyBonus(self, window_start))
        return found

    def vectors(self) -> tuple[model.Corpus, object]:
        """The reader's model's corpus and vectors of the run's papers (of length 1,
        transposed: one column a paper), built on first use: only runs with a "similar to"
        topic pay for them."""
        if self._vectors is None:
            with self._vectors_lock:
                if self._vectors is None:
                    # Categories left out: a shared category alone would pass the threshold.
                    texts = [model.PaperText(p.title, p.abstract, p.authors) for p in self.papers]
                    corpus = model.Corpus()
                    corpus.add(texts)
                    self._vectors = (corpus, model.unit_rows(corpus.vectors(texts)).T.tocsr())
        return self._vectors

    def similarities(self, seeds: Mapping[int, Seeds]) -> dict[int, np.ndarray]:
        """{key: cosine of every paper of the run with those seeds' centroid}: one sparse
        product for all the seeds of a chunk (alerts.search.model.similarities)."""
        if not seeds:
            return {}
        corpus, vectors_t = self.vectors()
        keys = list(seeds)
        cosines = model.similarities(vectors_t, [corpus.vectors(seeds[key].texts) for key in keys])
        return dict(zip(keys, cosines, strict=True))

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


class _RecencyBonus(dict):
    """{paper position: recency bonus} for one window start, computed on first use."""

    def __init__(self, pidx: PeriodIndex, window_start: dt.datetime) -> None:
        super().__init__()
        self.papers = pidx.papers
        self.window_start = window_start
        self.span = (pidx.window_end - window_start).total_seconds() or 1.0

    def __missing__(self, doc: int) -> float:
        age = (self.papers[doc].first_seen_at - self.window_start).total_seconds()
        bonus = self[doc] = ranking.recency_bonus(max(0.0, min(1.0, age / self.span)))
        return bonus


_cache: dict[tuple, PeriodIndex] = {}
_cache_lock = threading.Lock()

# The process's compiled filters (alerts.search.compiled): read once from
# settings.MATCHER_FILTER_STORE, shared by every run's index, written back by
# `filter_store_save`.
_store: dict[str, FilterStore] = {}
_store_saved_at: dict[str, float] = {}
_store_lock = threading.Lock()


def filter_store() -> FilterStore:
    """The compiled filters every PeriodIndex of this process uses (kept across runs)."""
    path = str(settings.MATCHER_FILTER_STORE or "")
    with _store_lock:
        store = _store.get(path)
        if store is None:
            limit = settings.MATCHER_FILTER_STORE_LIMIT
            store = _store[path] = FilterStore.load(Path(path), limit) if path else FilterStore(limit)
            _store_saved_at[path] = time.monotonic()
        return store


def filter_store_save(*, force: bool = False) -> bool:
    """Write the filters this process compiled to the shared file (merged with what other
    workers wrote), at most every MATCHER_FILTER_STORE_SAVE_SECONDS unless `force`; True
    when written. A failure to write is not a digest's failure: the filters are compiled
    again next time."""
    path = str(settings.MATCHER_FILTER_STORE or "")
    store = _store.get(path)
    if store is None or not store.dirty or not path:
        return False
    now = time.monotonic()
    if not force and now - _store_saved_at.get(path, 0.0) < settings.MATCHER_FILTER_STORE_SAVE_SECONDS:
        return False
    _store_saved_at[path] = now
    try:
        store.save(Path(path))
    except OSError:
        logger.warning("could not write the compiled filters to %s", path, exc_info=True)
        return False
    return True


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
    # The objects a worker keeps between chunks (alerts.core.collector.settle) go back to
    # the cycle collector: the index this one replaces is freed in full.
    collector.release()
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
    # Matches past max_papers, best first (at most MORE_KEPT of them): not in the email,
    # which says how many there are; listed in its browser view. As read back from a stored
    # digest (`composition_from_items`), for the browser view.
    more: list[ComposedItem] = field(default_factory=list)
    # How many matched past max_papers (more than `more` holds when over MORE_KEPT).
    more_total: int = 0
    # "You may also like": papers no filter matched that the reader's model ranks highly.
    similar: list[ComposedItem] = field(default_factory=list)
    # The same matches as `compose` leaves them: already in Digest.more_matches' item form
    # ([paper id, score, place of its filters' names, place of its terms] in `more_lists`),
    # with no object per item. Most items a digest keeps are these; an object each cost a
    # tenth of a worker's time (bench/results/pipeline.md).
    more_entries: list[list] = field(default_factory=list)
    # (the distinct lists of filter names, the distinct lists of terms) `more_entries` name.
    more_lists: tuple[list, list] = ([], [])

    @property
    def more_count(self) -> int:
        return max(self.more_total, len(self.more), len(self.more_entries))

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.trending and not self.similar

    @property
    def all_items(self) -> list[ComposedItem]:
        """Every item to store as the digest's items (the extra matches are stored apart,
        compactly: `more_stored`)."""
        return self.items + self.trending + self.similar


@dataclass(frozen=True)
class FilterSpec:
    name: str
    query: str


@dataclass(frozen=True)
class Personal:
    """A subscriber's model and its scores of every paper of the run (`score_many`)."""

    model: reader_model.PersonalModel
    scores: np.ndarray
    # Papers in "You may also like" (0: none).
    similar: int = 0


# A similar paper's relevance, beside a filter's: cosine x this (a cosine of 0.2, well above
# the threshold, weighs as a query word matched in the title).
SIMILAR_RELEVANCE = 10.0


@dataclass(frozen=True)
class Seeds:
    """A subscriber's "similar to" papers: their text, their ids (never proposed back),
    and once computed for a run, every paper's cosine with their centroid."""

    texts: tuple[model.PaperText, ...]
    paper_ids: frozenset[int]
    cosine: np.ndarray | None = None


def compose(
    *,
    pidx: PeriodIndex,
    filters: Sequence[FilterSpec],
    window_start: dt.datetime,
    excluded: int,
    max_papers: int,
    include_trending: bool,
    seeds: Seeds | None = None,
    personal: Personal | None = None,
) -> Composition:
    """One subscriber's digest: the best `max_papers` papers their filters match in the
    window, or that are similar to their `seeds`, none already sent to them (`excluded`),
    and optionally what is trending. With a reader's model (`personal`), the filters'
    papers in the model's order too, and "you may also like" papers no topic matched."""
    candidates_mask = pidx.window_mask(window_start, pidx.window_end) & ~excluded
    found, categories, invalid = _matches(pidx, filters, candidates_mask, categories=include_trending)
    if seeds is not None and seeds.texts:
        _add_similar(pidx, found, seeds, candidates_mask)
    recency = pidx.recency_bonus(window_start)
    chosen, rest = ranking.rank_with_rest(found, pidx.trending_bonus, recency, max_papers, MORE_KEPT)
    similar: list[ComposedItem] = []
    if personal is not None:
        kept, similar = _personal(pidx, personal, chosen, found, candidates_mask, max_papers)
        # Matches displaced by proposed papers lead the extra matches.
        taken = {doc for _, doc in kept}
        rest = ([entry for entry in chosen if entry[1] not in taken] + list(rest))[:MORE_KEPT]
        chosen = kept
    items = [
        _matched_item(pidx, found, doc, total, n, DigestItem.Section.MATCHED)
        for n, (total, doc) in enumerate(chosen, start=1)
    ]
    more, more_lists = _more_entries(pidx, found, rest)
    trending_items: list[ComposedItem] = []
    if include_trending and candidates_mask:
        # A trending-only subscription (no filters) gets a whole digest of trending papers.
        topics = filters or (seeds is not None and seeds.texts)
        limit = settings.DIGEST_TRENDING_SIZE if topics else max_papers
        order = None if topics else _trending_only_order(pidx, recency)
        proposed = {i.doc for i in similar}
        trending_items = _trending(pidx, items, categories, candidates_mask, limit, order, proposed)
    return Composition(
        window_start=window_start,
        items=items,
        trending=trending_items,
        invalid_filters=invalid,
        more_total=len(found) - len(chosen),
        similar=similar,
        more_entries=more,
        more_lists=more_lists,
    )


def _more_entries(pidx: PeriodIndex, found: dict, rest: list) -> tuple[list[list], tuple[list, list]]:
    """The extra matches `rest` in Digest.more_matches' item form, and the lists of names
    and terms their items name by place (`more_stored`). Up to MORE_KEPT items a digest: the
    lists are keyed by what the matches already hold (a lone filter's name, a lone hit's
    terms), made into the stored lists once per distinct key."""
    papers = pidx.papers
    names_at: dict[str | tuple[str, ...], int] = {}
    terms_at: dict[tuple[str, ...], int] = {}
    entries = []
    for total, doc in rest:
        _, names, hits = found[doc]
        key = names[0] if len(names) == 1 else tuple(names)
        which = names_at.get(key)
        if which is None:
            which = names_at[key] = len(names_at)
        terms = hits[0].terms if len(hits) == 1 else _terms(pidx, hits)
        matched = terms_at.get(terms)
        if matched is None:
            matched = terms_at[terms] = len(terms_at)
        entries.append([papers[doc].id, round(total, 4), which, matched])
    names_list = [[key] if isinstance(key, str) else list(key) for key in names_at]
    return entries, (names_list, [pidx.sorted_terms(terms) for terms in terms_at])


def _personal(
    pidx: PeriodIndex, personal: Personal, chosen: list, found: dict, candidates_mask: int, max_papers: int
) -> tuple[list, list[ComposedItem]]:
    """The chosen matches in the model's order too, and the papers it proposes."""
    if len(chosen) > 1:
        chosen = ranking.rerank(chosen, personal.scores)
    similar: list[ComposedItem] = []
    if personal.similar and candidates_mask:
        similar = _similar(pidx, personal, candidates_mask, found.keys())
        # The email holds at most max_papers besides trending (which bounds its size):
        # proposed papers take the last slots when the matches fill them, at most half.
        similar = similar[: max(max_papers - len(chosen), max_papers // 2)]
        chosen = chosen[: max_papers - len(similar)]
    return chosen, similar


def _similar(pidx: PeriodIndex, personal: Personal, candidates_mask: int, taken) -> list[ComposedItem]:
    """The candidates no filter matched that the model scores best (`personal.similar` of them),
    above 0 (more likely liked than not), with the words that make each one similar."""
    scores = personal.scores
    chosen: list[ComposedItem] = []
    for doc in np.argsort(-scores, kind="stable").tolist():
        score = float(scores[doc])
        if len(chosen) >= personal.similar or score <= 0:
            break
        if not (candidates_mask >> doc) & 1 or doc in taken:
            continue
        paper = pidx.papers[doc]
        why = reader_model.reasons(personal.model, pidx.model_texts[doc])
        words, labels = _reason_words(pidx, doc, why)
        chosen.append(
            ComposedItem(
                paper=paper,
                doc=doc,
                section=DigestItem.Section.SIMILAR,
                rank=len(chosen) + 1,
                score=round(score, 4),
                filters=labels,
                terms=words,
            )
        )
    return chosen


def _reason_words(pidx: PeriodIndex, doc: int, why: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """(the stems to mark in the paper, the reasons as the paper writes them): a stem
    becomes the word of the title or abstract it stands for, an author their name."""
    stems: list[str] = []
    labels: list[str] = []
    for reason in why:
        found, label = pidx.reason_words(doc, reason)
        stems += found
        if label is not None:
            labels.append(label)
    return tuple(dict.fromkeys(stems)), list(dict.fromkeys(labels))


def _matched_item(
    pidx: PeriodIndex, found: dict, doc: int, total: float, rank: int, section: str
) -> ComposedItem:
    _, names, hits = found[doc]
    return ComposedItem(
        paper=pidx.papers[doc],
        doc=doc,
        section=section,
        rank=rank,
        score=round(total, 4),
        filters=names,
        terms=_terms(pidx, hits),
    )


def _terms(pidx: PeriodIndex, hits: Sequence[Hit]) -> tuple[str, ...]:
    """The terms an item's hits matched, sorted, without repeats."""
    if len(hits) == 1:
        return pidx.sorted_terms(hits[0].terms)
    return tuple(sorted({term for hit in hits for term in hit.terms}))


def _matches(
    pidx: PeriodIndex, filters: Sequence[FilterSpec], candidates_mask: int, *, categories: bool
) -> tuple[dict[int, list], set[str], list[str]]:
    """The candidates the filters match: {paper position: [best relevance, names of the
    filters that matched, their hits]}; the categories the filters name (when `categories`);
    the names of the filters that could not be read."""
    found: dict[int, list] = {}
    named: set[str] = set()
    invalid: list[str] = []
    if not candidates_mask:
        return found, named, invalid
    for spec in filters:
        try:
            bits = pidx.index.match(spec.query) & candidates_mask
        except QueryError:
            invalid.append(spec.name)
            continue
        if categories:
            named |= pidx.categories_of(spec.query)
        if not bits:
            continue
        name = spec.name
        if not found:
            found = {hit.doc: [hit.score, [name], [hit]] for hit in pidx.hits(spec.query, bits)}
            continue
        for hit in pidx.hits(spec.query, bits):
            entry = found.get(hit.doc)
            if entry is None:
                found[hit.doc] = [hit.score, [name], [hit]]
            else:
                if hit.score > entry[0]:
                    entry[0] = hit.score
                entry[1].append(name)
                entry[2].append(hit)
    return found, named, invalid


def _add_similar(pidx: PeriodIndex, found: dict[int, list], seeds: Seeds, candidates_mask: int) -> None:
    """Add the candidates similar to the seeds (alerts.search.model.most_similar: at most
    SIMILAR_TOP_K from SIMILAR_THRESHOLD on) to `found` as matches of SIMILAR_NAME."""
    cosine = seeds.cosine if seeds.cosine is not None else pidx.similarities({0: seeds})[0]
    papers = pidx.papers
    chosen = model.most_similar(
        cosine, allowed=lambda doc: (candidates_mask >> doc) & 1 and papers[doc].id not in seeds.paper_ids
    )
    for doc, cosine in chosen:
        hit = Hit(doc, SIMILAR_RELEVANCE * cosine, ())
        entry = found.get(doc)
        if entry is None:
            found[doc] = [hit.score, [SIMILAR_NAME], [hit]]
        else:
            entry[0] = max(entry[0], hit.score)
            entry[1].append(SIMILAR_NAME)
            entry[2].append(hit)


def _trending_only_order(pidx: PeriodIndex, recency: dict[int, float]) -> list[int]:
    """The upvoted papers in the order of a trending-only digest: upvotes and recency
    (alerts.search.ranking.trending_only_score), ties broken by position."""
    # `recency` holds each paper's recency bonus: RECENCY_WEIGHT x its place in the window.
    place = {doc: recency[doc] / ranking.RECENCY_WEIGHT for doc in pidx.by_upvotes}
    return sorted(
        pidx.by_upvotes, key=lambda doc: (-ranking.trending_only_score(pidx.upvotes[doc], place[doc]), doc)
    )


def _trending(
    pidx: PeriodIndex,
    items: list[ComposedItem],
    categories: set[str],
    candidates_mask: int,
    limit: int,
    order: list[int] | None = None,
    proposed: frozenset[int] | set[int] = frozenset(),
) -> list[ComposedItem]:
    """The most upvoted candidates in the categories the filters name or the chosen papers
    are in, besides the papers already chosen (or `proposed` by the reader's model); in
    `order` when given (a trending-only digest), most upvoted first otherwise."""
    categories = categories | {cat for item in items for cat in item.paper.categories}
    pool = candidates_mask & (pidx.category_mask(categories) if categories else -1)
    shown = {item.doc for item in items} | proposed
    trending: list[ComposedItem] = []
    for doc in pidx.by_upvotes if order is None else order:
        if len(trending) >= limit:
            break
        if (pool >> doc) & 1 and doc not in shown:
            trending.append(
                ComposedItem(
                    paper=pidx.papers[doc],
                    doc=doc,
                    section=DigestItem.Section.TRENDING,
                    rank=len(trending) + 1,
                    score=float(pidx.upvotes[doc]),
                )
            )
    return trending


def more_stored(composition: Composition) -> dict:
    """The extra matches of a composition `compose` made, as Digest.more_matches keeps them
    (its comment says the form): each distinct list of filter names or terms once, and each
    item four numbers (paper id, score, the places of its lists; `_more_entries`). A digest
    keeps up to MORE_KEPT of them and every digest of a run writes this value; with the
    lists inline in each item, encoding, sending and storing it was a large share of a
    digest's CPU (worker and PostgreSQL; bench/results/pipeline.md has the costs per
    digest). A composition read back from a stored digest is never stored again."""
    if not composition.more_count:
        return {}
    names, terms = composition.more_lists
    return {
        "total": composition.more_count,
        "names": names,
        "terms": terms,
        "items": composition.more_entries,
    }


def composition_from_items(
    items: Iterable[DigestItem],
    window_start: dt.datetime | None,
    locate: Callable[[int], tuple[PaperRow, int] | None],
    more_matches: dict | None = None,
) -> Composition:
    """A stored digest's composition, read back from its items and its `more_matches` (a
    retry sends the same digest; the browser view shows it as sent). `locate(paper id)`
    gives (PaperRow, position) or None for a paper no longer at hand."""
    matched: list[ComposedItem] = []
    trending: list[ComposedItem] = []
    more: list[ComposedItem] = []
    similar: list[ComposedItem] = []
    sections = {
        DigestItem.Section.TRENDING: trending,
        DigestItem.Section.MORE: more,
        DigestItem.Section.SIMILAR: similar,
    }
    for item in items:
        found = locate(item.paper_id)
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
        sections.get(item.section, matched).append(composed)
    stored = more_matches or {}
    for n, (paper_id, score, names, terms) in enumerate(
        Digest.more_entries_of(stored), start=len(matched) + 1
    ):
        found = locate(paper_id)
        if found is not None:
            more.append(
                ComposedItem(
                    paper=found[0],
                    doc=found[1],
                    section=DigestItem.Section.MORE,
                    rank=n,
                    score=score,
                    filters=names,
                    terms=terms,
                )
            )
    return Composition(
        window_start=window_start,
        items=matched,
        trending=trending,
        more=more,
        more_total=stored.get("total", 0),
        similar=similar,
    )


def filters_of(subscriber_ids: Iterable[int]) -> dict[int, list[FilterSpec]]:
    """Each subscriber's active filters, in their order, with one query."""
    specs: dict[int, list[FilterSpec]] = defaultdict(list)
    rows = TopicFilter.objects.filter(subscriber_id__in=list(subscriber_ids), is_active=True).order_by(
        "subscriber_id", "position", "id"
    )
    for sub_id, name, query in rows.values_list("subscriber_id", "name", "query"):
        specs[sub_id].append(FilterSpec(name, query))
    return specs


def seeds_of(subscriber_ids: Iterable[int]) -> dict[int, Seeds]:
    """Each subscriber's "similar to" papers (subscribers.similar), with one query."""
    rows = (
        Vote.objects.filter(
            subscriber_id__in=list(subscriber_ids), action=Vote.Action.MORE, source=Vote.Source.SEED
        )
        .order_by("subscriber_id", "created_at", "id")
        .values_list(
            "subscriber_id",
            "paper_id",
            "paper__title",
            "paper__abstract",
            "paper__authors",
        )
    )
    texts: dict[int, list[model.PaperText]] = defaultdict(list)
    ids: dict[int, set[int]] = defaultdict(set)
    for sub_id, paper_id, title, abstract, authors in rows:
        # As the period's papers (PeriodIndex.vectors): without categories.
        texts[sub_id].append(model.PaperText(title, abstract, authors or ()))
        ids[sub_id].add(paper_id)
    return {sub_id: Seeds(tuple(found), frozenset(ids[sub_id])) for sub_id, found in texts.items()}


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
        # Not the extras past max_papers (the email only counted them).
        section__in=(DigestItem.Section.MATCHED, DigestItem.Section.TRENDING, DigestItem.Section.SIMILAR),
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


# A chunk's claimed digests --------------------------------------------------------------


@dataclass
class Prepared:
    digest: Digest
    subscriber: Subscriber
    pidx: PeriodIndex
    composition: Composition
    filter_names: list[str]
    new: bool  # composed now (its items are to be written) or read back from an earlier attempt


def _stored_items(digests: Sequence[Digest]) -> dict[int, list[DigestItem]]:
    stored: dict[int, list[DigestItem]] = defaultdict(list)
    for item in DigestItem.objects.filter(digest__in=[d.pk for d in digests]).order_by("section", "rank"):
        stored[item.digest_id].append(item)
    return stored


def _in_index(pidx: PeriodIndex, paper_id: int) -> tuple[PaperRow, int] | None:
    pos = pidx.position.get(paper_id)
    return None if pos is None else (pidx.papers[pos], pos)


def prepare(digests: Sequence[Digest]) -> list[Prepared]:
    """Compose every claimed digest of a chunk, with a bounded number of queries: a retried
    digest is read back from its stored items, so it sends what its first attempt chose."""
    subscriber_ids = [d.subscriber_id for d in digests]
    filters = filters_of(subscriber_ids)
    seeds = seeds_of(subscriber_ids)
    starts = window_starts(subscriber_ids)
    retried = [d for d in digests if d.attempts > 0 and d.window_start is not None]
    stored = _stored_items(retried) if retried else {}
    by_run: dict[dt.datetime, list[Digest]] = defaultdict(list)
    for digest in digests:
        by_run[digest.window_end].append(digest)

    prepared: list[Prepared] = []
    for window_end, run in by_run.items():
        pidx = period_index(window_end)
        fresh = [d.subscriber_id for d in run if d.pk not in stored]
        # The chunk's filters evaluated together: composing each digest then finds its own done.
        pidx.index.match_many(spec.query for sub_id in fresh for spec in filters.get(sub_id, ()))
        sent_before = already_sent(pidx, fresh) if fresh else {}
        # The chunk's "similar to" topics: one sparse product for all of them.
        run_seeds = {sub_id: seeds[sub_id] for sub_id in fresh if sub_id in seeds}
        for sub_id, cosine in pidx.similarities(run_seeds).items():
            run_seeds[sub_id] = dataclasses.replace(run_seeds[sub_id], cosine=cosine)
        personal = personal_of(pidx, fresh) if fresh else {}
        for digest in run:
            specs = filters.get(digest.subscriber.pk, [])
            if digest.pk in stored:
                composition = composition_from_items(
                    stored[digest.pk],
                    digest.window_start,
                    lambda paper_id, pidx=pidx: _in_index(pidx, paper_id),
                    digest.more_matches,
                )
            else:
                composition = _compose_new(
                    pidx,
                    digest,
                    specs,
                    starts,
                    sent_before,
                    run_seeds.get(digest.subscriber_id),
                    personal.get(digest.subscriber_id),
                )
            names = [spec.name for spec in specs]
            if digest.subscriber_id in seeds:
                names.append(SIMILAR_NAME)
            prepared.append(
                Prepared(digest, digest.subscriber, pidx, composition, names, new=digest.pk not in stored)
            )
    filter_store_save()
    return prepared


def _compose_new(
    pidx: PeriodIndex,
    digest: Digest,
    specs: Sequence[FilterSpec],
    starts: dict[int, dt.datetime],
    sent_before: dict[int, int],
    seeds: Seeds | None,
    personal: Personal | None,
) -> Composition:
    subscriber = digest.subscriber
    previous = starts.get(subscriber.pk)
    start = previous if previous is not None else first_window_start(pidx.window_end, digest.frequency)
    return compose(
        pidx=pidx,
        filters=specs,
        window_start=clamp_start(start, pidx.window_end),
        excluded=sent_before.get(subscriber.pk, 0),
        max_papers=subscriber.max_papers,
        include_trending=subscriber.include_trending,
        seeds=seeds,
        personal=personal,
    )


def personal_of(pidx: PeriodIndex, subscriber_ids: Sequence[int]) -> dict[int, Personal]:
    """{subscriber id: their model and its scores of the run's papers} for those of
    `subscriber_ids` who have a model: one query, and one sparse product for them all
    (`score_many`: the chunk's models times the run's paper matrix, built once per run)."""
    models = models_of(subscriber_ids)
    if not models or not pidx.papers:
        return {}
    scores = reader_model.score_many(list(models.values()), pidx.model_vectors)
    similar = settings.DIGEST_MAY_ALSO_LIKE
    return {sub_id: Personal(m, scores[i], similar) for i, (sub_id, m) in enumerate(models.items())}
