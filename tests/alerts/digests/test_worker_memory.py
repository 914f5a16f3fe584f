"""A worker's memory through a long run stays bounded by its settings: the matcher's caches
and the filters' hits by MATCHER_CACHE_BYTES (measured as real allocations, not as the
caches' own estimates), its compiled filters by MATCHER_FILTER_STORE_LIMIT, its highlighted
paper blocks by RENDER_CACHE_BYTES."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import sys
import tracemalloc

from alerts.digests import composing, rendering
from alerts.digests.composing import FilterSpec, PeriodIndex, compose
from alerts.digests.messages import digest_links
from alerts.models import Digest
from alerts.search.matcher import PaperIndex
from alerts.search.query import QueryError
from bench import render, workload
from subscribers.models import Subscriber

WINDOW_END = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)


def period_of(papers: list[workload.Paper]) -> PeriodIndex:
    return PeriodIndex(WINDOW_END, render.paper_rows(papers, WINDOW_END))


def test_a_runs_matcher_caches_and_hits_really_hold_at_most_matcher_cache_bytes(settings):
    settings.MATCHER_CACHE_BYTES = 1024 * 1024
    papers = workload.papers(400)
    subscribers = workload.subscribers(3000, workload.vocabulary(papers))
    queries = list(dict.fromkeys(q for _, filters in subscribers for q in filters))
    pidx = period_of(papers)
    index = pidx.index
    # Compiled filters are bounded by their own setting (below); the tables an index builds
    # on first use (phrase positions, prefix and author tables) by the day's papers.
    for q in queries:
        with contextlib.suppress(QueryError):
            index.hits(q)
    fields = (index._title, index._abstract)
    caches = [
        *(index._bits, index._compiled, index._compiled_by_key, index._leaf_scores, index._terms),
        *(cache for field in fields for cache in (field._phrases, field._prefixes)),
    ]
    for cache in caches:
        cache.clear()
    unbounded = PaperIndex(index.docs, filters=index.filters)
    expected = {}
    for q in queries[::400]:
        with contextlib.suppress(QueryError):
            expected[q] = unbounded.hits(q)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        worst = 0
        for n, q in enumerate(queries):
            try:
                bits = index.match(q)
            except QueryError:
                continue
            hits = pidx.hits(q, bits)
            if q in expected:  # bounded caches, the same answers
                assert sorted(hits, key=lambda h: (-h.score, h.doc)) == expected[q]
            if n % 400 == 0:
                gc.collect()
                worst = max(worst, tracemalloc.get_traced_memory()[0] - base)
        gc.collect()
        worst = max(worst, tracemalloc.get_traced_memory()[0] - base)
    finally:
        tracemalloc.stop()
    assert len(queries) > 4000
    assert 0 < worst <= settings.MATCHER_CACHE_BYTES, f"{worst:,} bytes"
    filled = sum(cache.used for cache in caches) + pidx._hits.used
    assert filled > settings.MATCHER_CACHE_BYTES // 2  # the caches were full: evicting


def test_a_workers_compiled_filters_are_bounded_by_their_setting(settings, tmp_path):
    settings.MATCHER_FILTER_STORE = str(tmp_path / "compiled-filters")
    settings.MATCHER_FILTER_STORE_LIMIT = 100
    try:
        store = composing.filter_store()
        for n in range(250):
            store.compile(f"topic{n} AND models")
            assert len(store) <= 100
        assert store.generation == 2  # started again from empty, twice
    finally:
        composing._store.pop(settings.MATCHER_FILTER_STORE, None)


def test_a_runs_highlighted_blocks_really_hold_at_most_render_cache_bytes(settings):
    settings.RENDER_CACHE_BYTES = 1024 * 1024
    papers = workload.papers(300)
    pidx = period_of(papers)
    start = WINDOW_END - dt.timedelta(days=2)
    digests = []
    for n, filters in workload.subscribers(2500, workload.vocabulary(papers)):
        specs = [FilterSpec(f"topic {k}", q) for k, q in enumerate(filters)]
        composition = compose(
            pidx=pidx, filters=specs, window_start=start, excluded=0, max_papers=20, include_trending=False
        )
        subscriber = Subscriber(pk=n + 1, email=f"reader{n}@example.org", token_secret=f"{n:032x}")
        digest = Digest(pk=n + 1, subscriber=subscriber, period=WINDOW_END.date())
        digests.append((composition, [s.name for s in specs], subscriber, digest))

    def render(composition, names, subscriber, digest) -> str:
        return rendering.render_digest(
            pidx=pidx,
            composition=composition,
            email=subscriber.email,
            filter_names=names,
            period=digest.period,
            weekly=False,
            links=digest_links(digest, subscriber),
        ).html

    state = rendering.rendering_of(pidx)
    state.budget = 1 << 40  # unbounded: the answers the bounded run must give
    expected = [render(*d) for d in digests][::50]
    assert state.used > 4 * settings.RENDER_CACHE_BYTES  # the run makes several budgets' worth
    state.clear_highlights()
    state.budget = settings.RENDER_CACHE_BYTES
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        worst, html = 0, []
        for n, d in enumerate(digests):
            if n % 50 == 0:
                html.append(render(*d))
            else:
                render(*d)
            # After every digest (the caches are fullest just before they are emptied).
            worst = max(worst, tracemalloc.get_traced_memory()[0] - base - sum(map(sys.getsizeof, html)))
    finally:
        tracemalloc.stop()
    assert html == expected
    assert 0 < worst <= settings.RENDER_CACHE_BYTES, f"{worst:,} bytes"
    assert state.highlights
    assert state.used <= settings.RENDER_CACHE_BYTES
