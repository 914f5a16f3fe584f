"""Compiled filters kept across runs: what is stored, how it is read back, when it is dropped."""

from __future__ import annotations

import marshal
import struct
import sys
import tracemalloc

import pytest

from alerts.search import compiled, textnorm
from alerts.search.compiled import FilterStore
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import QueryError

# A store's file: a tag and a random name, then records (a tag, a length, marshal data).
HEADER = b"PAFF" + b"n" * 16


def record(value) -> bytes:
    data = marshal.dumps(value)
    return struct.pack("<4sQ", b"PAFS", len(data)) + data


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
    path.write_bytes(HEADER + record((older, tuple(sys.version_info[:2]), store.rows, store.texts)))
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


def records_in(path) -> int:
    data, at, count = path.read_bytes(), len(HEADER), 0
    assert data.startswith(b"PAFF")
    while at < len(data):
        tag, size = struct.unpack_from("<4sQ", data, at)
        assert tag == b"PAFS"
        at, count = at + 12 + size, count + 1
    assert at == len(data)
    return count


def test_a_save_appends_what_is_new_and_reads_only_what_others_appended(tmp_path):
    path = tmp_path / "compiled-filters"
    first = FilterStore()
    for n in range(20_000):
        first.compile(f"topic{n} AND (models OR agents)")
    first.save(path)  # the whole store, one record
    second = FilterStore.load(path)
    second.compile("graph* OR robot")
    second.save(path)
    size = path.stat().st_size

    first.compile("diffusion models")
    tracemalloc.start()
    try:
        first.save(path)
        extra = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Reading the 20,000 filters back would cost megabytes; the others' record and its
    # own new filter cost a few kilobytes.
    assert extra < 50_000, f"{extra:,} bytes"
    assert path.stat().st_size - size < 1_000
    # What the other process appended, merged: its rows renumbered into this table.
    merged_in = PaperIndex(DOCS, filters=first).match("graph* OR robot")
    assert merged_in == PaperIndex(DOCS).match("graph* OR robot")
    assert records_in(path) == 3

    merged = FilterStore.load(path)
    assert len(merged) == 20_002
    assert records_in(path) == 1  # a load rewrites a file of several records as one
    index, fresh = PaperIndex(DOCS, filters=merged), PaperIndex(DOCS)
    for text in ("diffusion models", "graph* OR robot", "topic7 AND (models OR agents)"):
        assert index.match(text) == fresh.match(text)


def test_a_record_cut_short_by_a_crash_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "compiled-filters"
    first = FilterStore()
    first.compile("diffusion models")
    first.save(path)
    with open(path, "ab") as out:  # a process died while appending
        out.write(struct.pack("<4sQ", b"PAFS", 1000) + b"\x00" * 10)
    first.compile("robot")
    first.save(path)
    assert records_in(path) == 2
    assert set(FilterStore.load(path).texts) == {"diffusion models", "robot"}


def test_a_save_after_another_process_rewrote_the_file_keeps_both(tmp_path):
    path = tmp_path / "compiled-filters"
    first = FilterStore()
    first.compile("diffusion models")
    first.save(path)
    second = FilterStore.load(path)
    second.compile("robot")
    second.save(path)
    FilterStore.load(path)  # a third process starts: the file is rewritten as one record
    first.compile("graph*")
    first.save(path)
    assert set(FilterStore.load(path).texts) == {"diffusion models", "robot", "graph*"}


def test_saves_between_processes_rewriting_the_file_lose_nothing(tmp_path):
    # A file system reuses a replaced file's inode number at once: a process must know the
    # file by more than that, or its next save appends in the middle of another's record.
    path = tmp_path / "compiled-filters"
    first = FilterStore()
    first.compile("diffusion models")
    first.save(path)
    for n in range(6):
        for k in range(2):  # processes start: each rewrites the file as one record
            other = FilterStore.load(path)
            other.compile(f"topic{n}{k} OR robot")
            other.save(path)
        first.compile(f"first{n} AND models")
        first.save(path)
    texts = set(FilterStore.load(path).texts)
    assert {"diffusion models", *(f"topic{n}{k} OR robot" for n in range(6) for k in range(2))} <= texts
    assert {f"first{n} AND models" for n in range(6)} <= texts


def test_a_record_of_another_version_between_others_is_skipped_and_garbage_is_replaced(tmp_path):
    path = tmp_path / "compiled-filters"
    first = FilterStore()
    first.compile("diffusion models")
    first.save(path)
    older = (compiled.FORMAT, compiled.query.LANGUAGE_VERSION, textnorm.NORMALISER_VERSION - 1)
    with open(path, "ab") as out:
        out.write(record((older, tuple(sys.version_info[:2]), [("c", "cs", "")], {"cat:cs": 0})))
    first.compile("robot")
    first.save(path)
    loaded = FilterStore.load(path)
    assert set(loaded.texts) == {"diffusion models", "robot"}
    index, fresh = PaperIndex(DOCS, filters=loaded), PaperIndex(DOCS)
    assert index.match("robot") == fresh.match("robot")

    damaged = HEADER + b"PAFS\xff\xff\xff\xff\xff\xff\xff\x7f"  # a length past any file
    path.write_bytes(damaged)
    assert len(FilterStore.load(path)) == 0
    path.write_bytes(b"not a store")
    first.compile("graph*")
    first.save(path)  # over a file that is not a store's: the whole store written again
    assert set(FilterStore.load(path).texts) == {"diffusion models", "robot", "graph*"}
