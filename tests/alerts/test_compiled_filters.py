"""Compiled filters kept across runs: what is stored, how it is read back, when it is dropped."""

from __future__ import annotations

import marshal
import sys

import pytest

from alerts.search import compiled, textnorm
from alerts.search.compiled import FilterStore
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import QueryError

DOCS = [
    PaperDoc("Diffusion models for images", "Score-based diffusion models.", ("Yann LeCun",), ("cs.CV",)),
    PaperDoc(
        "Robot grasping", "A self-supervised policy learns grasps.", ("Adrian Del Maestro",), ("cs.RO",)
    ),
    PaperDoc("Graph neural networks", "Message passing on graphs.", ("Fei-Fei Li",), ("cs.LG",)),
]
QUERIES = [
    "diffusion models",
    "models diffusion",  # the same canonical form
    '"self supervised" OR au:"Y LeCun"',
    "gra* -cat:cs.LG",
    "(robot OR graph) AND NOT diffusion",
    "ti:diffusion ANDNOT abs:graphs",
]


def answers(index: PaperIndex) -> list:
    return [(index.match(q), index.hits(q)) for q in QUERIES]


def test_filters_read_back_from_a_saved_store_answer_as_freshly_parsed_ones(tmp_path):
    path = tmp_path / "compiled-filters"
    store = FilterStore()
    expected = answers(PaperIndex(DOCS, filters=store))
    assert store.texts["diffusion models"] == store.texts["models diffusion"]
    store.save(path)

    loaded = FilterStore.load(path)
    assert set(loaded.texts) == set(QUERIES)
    assert loaded.rows == store.rows
    assert not loaded.dirty
    assert answers(PaperIndex(DOCS, filters=loaded)) == expected
    assert not loaded.dirty  # nothing was parsed again
    assert loaded.key(loaded.texts["models diffusion"]) == "&(t:tiabs:diffus,t:tiabs:model)"


def test_an_invalid_filter_keeps_its_error_across_runs(tmp_path):
    path = tmp_path / "compiled-filters"
    store = FilterStore()
    with pytest.raises(QueryError) as first:
        PaperIndex(DOCS, filters=store).match("diffusion AND")
    store.save(path)
    with pytest.raises(QueryError) as again:
        PaperIndex(DOCS, filters=FilterStore.load(path)).match("diffusion AND")
    assert (again.value.message, again.value.column) == (first.value.message, first.value.column)


def test_a_store_of_another_normaliser_version_or_a_damaged_one_is_not_read(tmp_path):
    path = tmp_path / "compiled-filters"
    store = FilterStore()
    store.compile("diffusion models")
    store.save(path)
    assert len(FilterStore.load(path)) == 1

    older = (compiled.FORMAT, compiled.query.LANGUAGE_VERSION, textnorm.NORMALISER_VERSION - 1)
    path.write_bytes(marshal.dumps((older, tuple(sys.version_info[:2]), store.rows, store.texts)))
    assert len(FilterStore.load(path)) == 0  # normalised with other rules: compiled again

    path.write_bytes(b"not a store")
    assert len(FilterStore.load(path)) == 0
    assert len(FilterStore.load(tmp_path / "missing")) == 0


def test_saving_merges_what_another_worker_saved(tmp_path):
    path = tmp_path / "compiled-filters"
    first, second = FilterStore(), FilterStore()
    first.compile("diffusion models")
    first.compile("robot")
    second.compile("graph* OR robot")
    with pytest.raises(QueryError):
        second.compile("(broken")
    first.save(path)
    second.save(path)  # another process, another numbering of the same nodes

    merged = FilterStore.load(path)
    assert set(merged.texts) == {"diffusion models", "robot", "graph* OR robot", "(broken"}
    index, fresh = PaperIndex(DOCS, filters=merged), PaperIndex(DOCS)
    for text in ("diffusion models", "robot", "graph* OR robot"):
        assert index.match(text) == fresh.match(text)
    with pytest.raises(QueryError, match="never closed"):
        index.match("(broken")


def test_a_full_store_starts_again_and_its_indexes_still_answer_right():
    store = FilterStore(limit=2)
    index, fresh = PaperIndex(DOCS, filters=store), PaperIndex(DOCS)
    for query in [*QUERIES, *QUERIES]:
        assert index.match(query) == fresh.match(query)
        assert index.hits(query) == fresh.hits(query)
    assert len(store) <= 2
    assert store.generation > 0
