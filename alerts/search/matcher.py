"""Evaluate many topic filters against one day's papers at once.

`PaperIndex(docs)` indexes the papers once; every filter then becomes set algebra over
bitsets: a Python int whose bit i is set when paper i matches. AND, OR and ANDNOT are
single big-int operations over the day's papers, so a filter costs a few microseconds
however many papers match it.

What makes a million subscribers cheap:

- postings per field map a normalised token to its bitset; the bare-word postings (title or
  abstract) are built with the others, `all:` and prefixes are computed once and cached;
- every distinct filter text is parsed once, and every canonical sub-tree (see
  `alerts.search.query`) evaluated once, so `Diffusion  models` and `models diffusion` share
  their work, and a term shared by ten thousand filters is looked up once;
- `match_many` takes a batch of filters (a dispatch chunk's, a day's): it walks the store's
  rows each filter needs once, in the store's order, with no per-node cache lookups, and
  finds every two-word phrase of the batch in one pass over each field's candidate places;
- phrases are the AND of their words' postings followed by a positional check on those
  candidates only, cached per phrase;
- scores and matched terms are computed lazily, only for the (filter, paper) pairs a
  digest shows (`hits`); `top_hits` finds the best few without scoring every match;
- every cache is bounded in bytes (`alerts.core.caches.BytesBoundedDict`): a long-lived
  process (a worker going through a million subscribers' filters, the web process
  answering live previews of any query) keeps its memory bounded.

Pure module: no Django imports.
"""

from __future__ import annotations

import itertools
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter, rshift
from typing import NamedTuple

import numpy as np

from alerts.core.caches import BytesBoundedDict
from alerts.core.collector import collector_paused
from alerts.search import textnorm
from alerts.search.compiled import FilterStore, words_key
from alerts.search.query import ABSTRACT, TITLE, TITLE_OR_ABSTRACT, QueryError
from alerts.search.textnorm import Word

__all__ = ["CompiledQuery", "Hit", "PaperDoc", "PaperIndex", "iter_bits"]

# Relevance weights: a matched term in the title counts twice one in the abstract; an
# author or category term counts like an abstract term.
TITLE_WEIGHT = 2.0
ABSTRACT_WEIGHT = 1.0
OTHER_WEIGHT = 1.0
# `top_hits` adds the weights up as bit slices over all matches at once: whole numbers only.
_WEIGHT_UNITS = (int(TITLE_WEIGHT), int(ABSTRACT_WEIGHT), int(OTHER_WEIGHT))
if _WEIGHT_UNITS != (TITLE_WEIGHT, ABSTRACT_WEIGHT, OTHER_WEIGHT):
    raise ValueError("the relevance weights must be whole numbers")

# Each index's caches share this many bytes by default (see `BytesBoundedDict`), in these
# parts: evaluated nodes are the most reused (a term shared by ten thousand filters);
# compiled filters hold the hits of their matches.
CACHE_BYTES = 256 * 1024 * 1024
_CACHE_SHARES = {
    "bits": 0.40,
    "compiled": 0.20,
    "compiled_by_key": 0.20,
    "leaf_scores": 0.08,
    "terms": 0.02,
    "field": 0.05,  # each of title and abstract: phrases and prefixes
}
# What one cache entry costs beyond its key and value: its share of the dict's table.
_ENTRY_BYTES = 100
# Signs of the rows with children (see `alerts.search.compiled`).
_GROUPS = frozenset("&|-")
# What one memoised `Hit` costs (the object and its dict slot; its terms are shared).
_HIT_BYTES = 160


@dataclass(frozen=True, slots=True)
class PaperDoc:
    """What the matcher knows of a paper."""

    title: str
    abstract: str
    authors: tuple[str, ...]  # full names, "Yann LeCun"
    categories: tuple[str, ...]  # "cs.LG", ...


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching paper: its index in the docs, its relevance and the terms it matched."""

    doc: int
    score: float
    terms: tuple[str, ...]  # normalised (see textnorm.highlight_spans)


class CompiledQuery:
    """A compiled filter with its matching papers; scores are computed when first asked for."""

    __slots__ = ("_hits", "_scorer", "bits", "filters", "leaves", "node")

    def __init__(self, filters: FilterStore, node: int, bits: int) -> None:
        self.filters = filters
        self.node = node  # its id in `filters`
        self.leaves = filters.leaves(node)  # ids of its positive leaves: what scores
        self.bits = bits  # bit i <=> docs[i] matches
        self._scorer: list[tuple[int, int, int, tuple[str, ...]]] | None = None
        self._hits: dict[int, Hit] = {}

    @property
    def key(self) -> str:
        """Canonical form: equal for queries that mean the same."""
        return self.filters.key(self.node)

    def __repr__(self) -> str:
        return f"<CompiledQuery {self.key} matches={self.bits.bit_count()}>"

    def nbytes(self) -> int:
        """An upper bound of its memory: the bitset, its leaves and a memoised hit per
        matching paper."""
        return sys.getsizeof(self.bits) + 64 * len(self.leaves) + 200 + _HIT_BYTES * self.bits.bit_count()


def _bytes_of(value: object) -> int:
    """Estimated memory of a key or value: an int, a string, a tuple of them, an error."""
    kind = type(value)
    if kind is int:
        return 28 + (value.bit_length() >> 3)  # type: ignore[union-attr]
    if kind is str:
        return 49 + len(value)  # type: ignore[arg-type]
    if kind is tuple:
        return 56 + sum(8 + _bytes_of(item) for item in value)  # type: ignore[union-attr]
    if kind is CompiledQuery:
        return value.nbytes()  # type: ignore[union-attr]
    return sys.getsizeof(value) + 2 * len(str(value)) + 200  # an error and its message


def _entry_bytes(key: object, value: object) -> int:
    """What one cache entry costs: its key, its value and the dict slot holding them."""
    return _ENTRY_BYTES + _bytes_of(key) + _bytes_of(value)


def _bitset_entry_bytes(key: str, bits: int) -> int:
    """`_entry_bytes` of the commonest entry, a text and its bitset, without the dispatch."""
    return _ENTRY_BYTES + 77 + len(key) + (bits.bit_length() >> 3)


_ID_ENTRY_BYTES = _ENTRY_BYTES + 28 + 28


def _id_entry_bytes(key: int, bits: int) -> int:
    """`_entry_bytes` of a node id and its bitset."""
    return _ID_ENTRY_BYTES + (bits.bit_length() >> 3)


def iter_bits(bitset: int) -> Iterator[int]:
    """Doc indexes of the set bits of a non-negative bitset, ascending."""
    if bitset < 0:
        raise ValueError("iter_bits needs a non-negative bitset")
    digits = bin(bitset)[:1:-1]  # least significant bit first
    i = digits.find("1")
    while i != -1:
        yield i
        i = digits.find("1", i + 1)


class _TextField:
    """Title or abstract: postings, positions for phrases, surface forms for prefixes.

    Built for all the day's texts at once: they are cut into chunks in one pass
    (`textnorm.joined_chunks`), each distinct chunk of the day is normalised once (the
    plain words, most of them, stemmed in one call), and the token stream of all texts is
    one numpy array gathered from the chunks' tokens; the postings are the rows of the bit
    matrix of (token, paper) over the stream, the surface forms' likewise (on the first
    prefix search).
    """

    __slots__ = (
        "_alias_ids",
        "_alias_surfaces",
        "_aliases",
        "_doc_at",
        "_gather",
        "_lookups",
        "_offsets",
        "_order",
        "_part_surfaces",
        "_phrases",
        "_prefixes",
        "_stream",
        "_surfaces",
        "_token_ids",
        "_vocabulary",
        "postings",
        "size",
    )

    def __init__(self, texts: Sequence[str], cache_bytes: int) -> None:
        self.size = len(texts)
        self._surfaces: dict[str, int] | None = None  # folded unstemmed word -> bitset
        self._vocabulary: list[str] = []  # the surface forms, sorted
        # The stream's positions grouped by token (built on the first phrase): token i is at
        # _order[_offsets[i]:_offsets[i + 1]].
        self._order: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        self._lookups = 0  # token positions found by scanning the stream
        # Phrase (canonical words) -> bitset, prefix -> bitset: half the budget each.
        self._phrases = BytesBoundedDict(cache_bytes // 2, _bitset_entry_bytes)
        self._prefixes = BytesBoundedDict(cache_bytes // 2, _bitset_entry_bytes)
        self._build(texts)

    def _build(self, texts: Sequence[str]) -> None:
        every = textnorm.joined_chunks(texts)
        every.append(textnorm.BOUNDARY)  # the stream ends with one more -1 (see `pairs`)
        # Each chunk's id: where it was first seen, then numbered in that order.
        first_seen: dict[str, int] = {}
        seen_at = map(first_seen.setdefault, every, itertools.count())
        firsts = np.fromiter(seen_at, dtype=np.int64, count=len(every))
        distinct = list(first_seen)
        number = np.zeros(len(every), dtype=np.int64)
        seen = np.fromiter(first_seen.values(), dtype=np.int64, count=len(distinct))
        number[seen] = np.arange(len(distinct))
        chunk_ids = number[firsts]
        chunks = _read_chunks(distinct)
        self._token_ids = chunks.token_ids
        self._part_surfaces = chunks.surfaces
        # The token stream: each chunk's tokens in turn, -1 after each text (no phrase runs
        # across) and once more at the end; `_gather` says where in `chunks.tokens` each
        # position of the stream comes from.
        per_chunk = chunks.counts[chunk_ids]
        self._gather = _gathered(chunks.starts[chunk_ids], per_chunk)
        self._stream = stream = chunks.tokens[self._gather]
        ends = stream < 0
        # The doc of each position: the -1s before it (the last -1 belongs to none: `size`).
        self._doc_at = doc_at = np.cumsum(ends) - ends
        # Compounds of the text as (position of the first part, joined form, parts), by
        # position: a phrase may go through one as its joined form.
        with_compounds = chunks.compound_counts[chunk_ids]
        found = np.flatnonzero(with_compounds)  # the places of chunks with compounds
        per_found = with_compounds[found]
        which = _gathered(chunks.compound_starts[chunk_ids[found]], per_found)
        first = np.cumsum(per_chunk) - per_chunk  # each chunk's first position
        at = np.repeat(first[found], per_found) + chunks.compound_offsets[which]
        self._aliases = np.stack((at, chunks.compound_ids[which], chunks.compound_spans[which]))
        self._alias_surfaces = (which, chunks.compound_surfaces)
        self._alias_ids = set(self._aliases[1].tolist())
        # Postings: each token of the stream and each joined form gives its doc.
        inside = np.flatnonzero(~ends)
        rows = np.concatenate((stream[inside], self._aliases[1]))
        docs = np.concatenate((doc_at[inside], doc_at[at]))
        bitsets = _packed(rows, docs, len(chunks.names), self.size)
        self.postings = dict(zip(chunks.names, bitsets, strict=True))

    def _token_positions(self, token: int) -> np.ndarray:
        if self._order is None and self._lookups < _SCANS_BEFORE_SORTING:
            self._lookups += 1  # a few phrases a day go this way: a scan each beats sorting the stream
            return np.flatnonzero(self._stream == token)
        if self._order is None:
            stream = self._stream
            valid = np.flatnonzero(stream >= 0)
            self._order = valid[np.argsort(stream[valid], kind="stable")]
            counts = np.bincount(stream[valid], minlength=len(self._token_ids))
            self._offsets = np.concatenate(([0], np.cumsum(counts)))
        return self._order[self._offsets[token] : self._offsets[token + 1]]  # type: ignore[index]

    def pairs(self, firsts: list[str], seconds: list[str]) -> list[int]:
        """`phrase` of each two one-part words (firsts[i], seconds[i]), all in one pass over
        the text: every edge of the text that a wanted first word can take (a token to the
        next position, or a compound's joined form over its parts) is paired with each
        token that can follow it (the token at its end, the joined form of a compound
        starting there), as (first * tokens + second), each looked up among the wanted
        pairs' at once."""
        count = len(firsts)
        if not count or not self.size:
            return [0] * count
        ids = self._token_ids
        width = len(ids) + 1  # the last id stands for a word not in the field (-1)
        unknown = itertools.repeat(-1)
        wanted = np.empty((count, 2), dtype=np.int64)
        wanted[:, 0] = np.fromiter(map(ids.get, firsts, unknown), dtype=np.int64, count=count)
        wanted[:, 1] = np.fromiter(map(ids.get, seconds, unknown), dtype=np.int64, count=count)
        starts = np.zeros(width, dtype=bool)
        starts[wanted[:, 0]] = True
        starts[-1] = False
        stream = self._stream
        where, joined, spans = self._aliases
        at = np.flatnonzero(starts[stream[:-1]])  # the stream ends with -1: at + 1 is in it
        over = np.flatnonzero(starts[joined])  # compounds whose joined form is a wanted first word
        first = np.concatenate((stream[at], joined[over]))
        begin = np.concatenate((at, where[over]))
        end = np.concatenate((at + 1, where[over] + spans[over]))  # a -1 at worst: a text's end
        compound_at = np.full(len(stream), -1, dtype=np.int64)
        compound_at[where] = joined
        then = compound_at[end]
        # Only the places followed by a wanted second word are looked up.
        seconds_wanted = np.zeros(width, dtype=bool)
        seconds_wanted[wanted[:, 1]] = True
        seconds_wanted[-1] = False
        plain = np.flatnonzero(seconds_wanted[stream[end]])
        also = np.flatnonzero(seconds_wanted[then])
        keys = np.concatenate((first[plain] * width + stream[end[plain]], first[also] * width + then[also]))
        docs = self._doc_at[np.concatenate((begin[plain], begin[also]))]
        # A pair with a word not in the field gets a key no place has (at least -1: a first
        # word with id 0 at a text's end).
        wanted_keys = np.where((wanted >= 0).all(axis=1), wanted[:, 0] * width + wanted[:, 1], -2)
        distinct, which = np.unique(wanted_keys, return_inverse=True)
        row = np.minimum(np.searchsorted(distinct, keys), len(distinct) - 1)
        hit = np.flatnonzero(distinct[row] == keys)
        bitsets = _packed(row[hit], docs[hit], len(distinct), self.size)
        return list(map(bitsets.__getitem__, which.tolist()))

    def prefix(self, prefix: str) -> int:
        bits = self._prefixes.get(prefix)
        if bits is None:
            surfaces = self._surface_postings()
            bits = self._prefixes.put(prefix, _prefix_bits(surfaces, self._vocabulary, prefix))
        return bits

    def _surface_postings(self) -> dict[str, int]:
        if self._surfaces is None:  # built on the first prefix search, as the postings are
            which, joined = self._alias_surfaces
            distinct = dict.fromkeys(itertools.chain(self._part_surfaces, joined))
            distinct.pop(None, None)  # the stream's -1 has none
            names: list[str] = list(distinct)  # type: ignore[arg-type]
            surface_id: dict[str | None, int] = dict(zip(names, itertools.count()))
            surface_id[None] = -1
            get = surface_id.__getitem__
            parts = np.fromiter(map(get, self._part_surfaces), dtype=np.int64, count=len(self._part_surfaces))
            at_parts = parts[self._gather]
            inside = np.flatnonzero(at_parts >= 0)
            joined_ids = np.fromiter(map(get, joined), dtype=np.int64, count=len(joined))[which]
            rows = np.concatenate((at_parts[inside], joined_ids))
            docs = np.concatenate((self._doc_at[inside], self._doc_at[self._aliases[0]]))
            self._surfaces = dict(zip(names, _packed(rows, docs, len(names), self.size), strict=True))
            self._vocabulary = sorted(self._surfaces)
        return self._surfaces

    def phrase(self, words: tuple[Word, ...], key: str) -> int:
        """Docs whose field holds these words adjacent and in order (a single word too)."""
        if len(words) == 1 and not words[0].joined:
            return self.postings.get(words[0].parts[0], 0)
        bits = self._phrases.get(key)
        if bits is None:
            bits = self._phrases.put(key, self._phrase(words))
        return bits

    def _phrase(self, words: tuple[Word, ...]) -> int:
        """Every place the phrase can have reached after each word, as positions of the
        stream, from wherever its first word can start; the docs of those that get through.

        A hyphenated query word matches its parts in a row, or its joined form written as
        one word, or a hyphenated compound of the text whose joined form is the same; a
        plain word may also be the joined form of a compound of the text. Papers without
        every word (their postings hold their parts and joined forms) are never looked at.
        """
        postings = self.postings
        candidates = -1
        for w in words:
            word_bits = -1
            for part in w.parts:
                word_bits &= postings.get(part, 0)
            if w.joined:
                word_bits |= postings.get(w.joined, 0)
            candidates &= word_bits
            if not candidates:
                return 0
        ids = self._token_ids
        stream = self._stream
        aliases = self._aliases
        first = words[0]
        whole = ids.get(first.whole, -1)
        current = self._token_positions(ids[first.parts[0]]) if first.parts[0] in ids else stream[:0]
        if first.joined or whole in self._alias_ids:
            more = [current, aliases[0][aliases[1] == whole]]
            if first.joined and whole >= 0:
                more.append(self._token_positions(whole))
            current = np.unique(np.concatenate(more))
        last = len(stream) - 1
        for w in words:
            parts = [ids.get(p, -1) for p in w.parts]
            whole = ids.get(w.whole, -1)
            if len(parts) == 1 and not w.joined and whole not in self._alias_ids:  # the common case
                current = current[stream[current] == whole] + 1
            else:
                following = []
                if -1 not in parts:  # its parts in a row
                    ok = stream[current] == parts[0]
                    for step, part in enumerate(parts[1:], 1):
                        ok &= stream[np.minimum(current + step, last)] == part
                    following.append(current[ok] + len(parts))
                if w.joined and whole >= 0:  # its joined form as one word
                    following.append(current[stream[current] == whole] + 1)
                if whole in self._alias_ids:  # a compound of the text, joined as it is
                    found = np.minimum(np.searchsorted(aliases[0], current), len(aliases[0]) - 1)
                    ok = (aliases[0][found] == current) & (aliases[1][found] == whole)
                    following.append(current[ok] + aliases[2][found[ok]])
                current = np.concatenate(following) if following else current[:0]
            if not len(current):
                return 0
        bits = 0
        for doc in set(self._doc_at[current - 1].tolist()):
            bits |= 1 << doc
        return bits


class _Chunks(NamedTuple):
    """The distinct chunks of a field, read (see `_read_chunks`)."""

    token_ids: dict[str, int]  # token -> id
    names: list[str]  # the tokens by id
    tokens: np.ndarray  # the chunks' token ids, chunk i's at tokens[starts[i]:starts[i] + counts[i]]
    starts: np.ndarray
    counts: np.ndarray
    surfaces: list[str | None]  # the surface form of each of `tokens`
    # The compounds, chunk i's at [compound_starts[i]:compound_starts[i] + compound_counts[i]]:
    # the offset of their first part in the chunk, their joined forms (id and surface), their parts.
    compound_starts: np.ndarray
    compound_counts: np.ndarray
    compound_offsets: np.ndarray
    compound_ids: np.ndarray
    compound_spans: np.ndarray
    compound_surfaces: list[str]


def _read_chunks(distinct: list[str]) -> _Chunks:
    """Each distinct chunk of a field once: its tokens (the `textnorm.BOUNDARY` between texts
    gives -1) and their surface forms, its compounds. A chunk that is one plain word (most)
    is one stem, all of them from one call (`textnorm.plain_forms`); the others (compounds,
    apostrophes, the boundary) are read one at a time (`textnorm.chunk_words`)."""
    count = len(distinct)
    plain_flags = list(map(str.isalnum, distinct))
    surfaces, token_texts = textnorm.plain_forms(list(itertools.compress(distinct, plain_flags)))
    part_surfaces: list[str | None] = surfaces  # type: ignore[assignment]
    is_plain = np.fromiter(plain_flags, dtype=bool, count=count)
    starts = np.empty(count, dtype=np.int64)
    counts = np.ones(count, dtype=np.int64)
    plain_at = np.flatnonzero(is_plain)
    starts[plain_at] = np.arange(len(plain_at))
    other_at = np.flatnonzero(~is_plain).tolist()
    other_starts: list[int] = []
    other_counts: list[int] = []
    compounds: list[tuple[int, int, str, int, str]] = []  # (chunk, offset, joined, parts, joined surface)
    for i in other_at:
        chunk = distinct[i]
        other_starts.append(len(token_texts))
        if chunk == textnorm.BOUNDARY:
            token_texts.append(chunk)
            part_surfaces.append(None)
            other_counts.append(1)
            continue
        offset = 0
        for w in textnorm.chunk_words(chunk):
            if w.joined:
                compounds.append((i, offset, w.joined, len(w.parts), w.joined_surface))
            offset += len(w.parts)
            token_texts.extend(w.parts)
            part_surfaces.extend(w.surface)
        other_counts.append(offset)
    starts[other_at] = other_starts
    counts[other_at] = other_counts
    joined_forms = (joined for _, _, joined, _, _ in compounds)
    distinct_tokens = dict.fromkeys(itertools.chain(token_texts, joined_forms))
    distinct_tokens.pop(textnorm.BOUNDARY, None)
    names = list(distinct_tokens)
    token_ids = dict(zip(names, itertools.count()))
    tokens = np.fromiter(
        map(token_ids.get, token_texts, itertools.repeat(-1)), dtype=np.int64, count=len(token_texts)
    )
    by_chunk = np.array([c[0] for c in compounds], dtype=np.int64)
    compound_counts = np.bincount(by_chunk, minlength=count)
    return _Chunks(
        token_ids,
        names,
        tokens,
        starts,
        counts,
        part_surfaces,
        np.cumsum(compound_counts) - compound_counts,
        compound_counts,
        np.array([c[1] for c in compounds], dtype=np.int64),
        np.array([token_ids[c[2]] for c in compounds], dtype=np.int64),
        np.array([c[3] for c in compounds], dtype=np.int64),
        [c[4] for c in compounds],
    )


def _gathered(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """starts[i], starts[i] + 1, ... counts[i] of them, for each i in turn."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)


# Token positions found by a scan of the stream before they are all sorted by token once
# (on 1,000 abstracts a scan costs 0.06 ms, the sort 10.5 ms).
_SCANS_BEFORE_SORTING = 64

# The largest dense matrix (bytes, one per paper and key) built at once for the postings.
_BIT_MATRIX_BYTES = 16 * 1024 * 1024


def _packed(rows: np.ndarray, docs: np.ndarray, count: int, size: int) -> list[int]:
    """`count` bitsets over `size` docs: bit d of bitset r is set for each (rows[i], docs[i])."""
    if len(rows) < count * (1 + size // 512):  # a few bits a row (phrases): set one by one
        bitsets = [0] * count
        for row, doc in zip(rows.tolist(), docs.tolist(), strict=True):
            bitsets[row] |= 1 << doc
        return bitsets
    found: list[int] = []
    from_bytes = int.from_bytes
    block = max(1, _BIT_MATRIX_BYTES // max(size, 1))  # rows of a dense bit matrix at a time
    for first in range(0, count, block):
        last = min(first + block, count)
        inside = (rows >= first) & (rows < last) if first or last < count else slice(None)
        matrix = np.zeros((last - first, size), dtype=bool)
        matrix[rows[inside] - first, docs[inside]] = True
        packed = np.packbits(matrix, axis=1, bitorder="little")
        width = packed.shape[1]
        data = packed.tobytes()
        found.extend(from_bytes(data[i * width : (i + 1) * width], "little") for i in range(last - first))
    return found


def _doc_bitsets(values: list[Sequence[str]], size: int) -> dict[str, int]:
    """{value: bitset of the docs that have it}, values[d] being doc d's, in order of first sight."""
    counts = np.fromiter(map(len, values), dtype=np.int64, count=size)
    every = list(itertools.chain.from_iterable(values))
    distinct = list(dict.fromkeys(every))
    value_id = dict(zip(distinct, itertools.count()))
    rows = np.fromiter(map(value_id.__getitem__, every), dtype=np.int64, count=len(every))
    docs = np.repeat(np.arange(size, dtype=np.int64), counts)
    return dict(zip(distinct, _packed(rows, docs, len(distinct), size), strict=True))


def _prefix_bits(postings: dict[str, int], vocabulary: list[str], prefix: str) -> int:
    bits = 0
    i = bisect_left(vocabulary, prefix)
    while i < len(vocabulary) and vocabulary[i].startswith(prefix):
        bits |= postings[vocabulary[i]]
        i += 1
    return bits


def _same_given_name(query: str, name: str) -> bool:
    """Equal, or one of them is an initial of the other (`y` and `yann`)."""
    if query == name:
        return True
    if len(query) == 1:
        return name.startswith(query)
    return len(name) == 1 and query.startswith(name)


def _given_names_before(tokens: tuple[str, ...], end: int, given: tuple[str, ...]) -> bool:
    """Whether the `given` names appear in order among tokens[:end] (others may sit between)."""
    i = 0
    for name in given:
        while i < end and not _same_given_name(name, tokens[i]):
            i += 1
        if i == end:
            return False
        i += 1
    return True


def _by_initial(
    names: dict[tuple[str, ...], int], surname: str
) -> dict[str, list[tuple[tuple[str, ...], int, tuple[int, ...]]]]:
    """{letter: the names (tokens, papers, where the surname starts in them) with a word
    starting with it}: a given name or an initial can only match a word that starts with
    its own first letter. The places of the surname are found once per name, not per query."""
    found: dict[str, list[tuple[tuple[str, ...], int, tuple[int, ...]]]] = {}
    for tokens, docs in names.items():
        entry = (tokens, docs, _surname_starts(tokens, surname))
        for letter in {token[0] for token in tokens if token}:
            found.setdefault(letter, []).append(entry)
    return found


def _runs(tokens: tuple[str, ...]) -> set[str]:
    """Every run of consecutive name tokens written together: how a surname can be written."""
    size = len(tokens)
    return {"".join(tokens[start:end]) for start in range(size) for end in range(start + 1, size + 1)}


def _surname_starts(tokens: tuple[str, ...], surname: str) -> tuple[int, ...]:
    """Where in a name's tokens a run of them written together is the surname: the places
    an arXiv-style author match (see `alerts.search.query.Author`) looks for given names before."""
    starts = []
    for start in range(len(tokens)):
        written = ""
        for token in tokens[start:]:
            written += token
            if len(written) >= len(surname):
                break
        if written == surname:
            starts.append(start)
    return tuple(starts)


class PaperIndex:
    """An in-memory index of one set of papers (a day's), built once, queried many times.

    Filters are compiled by `filters` (an `alerts.search.compiled.FilterStore`, which may
    be kept across runs; by default one of this index's own) and evaluated here by the ids
    of their canonical nodes: a node shared by many filters is evaluated once.
    """

    def __init__(
        self, docs: Sequence[PaperDoc], *, cache_bytes: int = CACHE_BYTES, filters: FilterStore | None = None
    ) -> None:
        """`cache_bytes`: what the caches of this index may hold in all (see `BytesBoundedDict`)."""
        self.docs = tuple(docs)
        self._all = (1 << len(self.docs)) - 1
        self.filters = filters if filters is not None else FilterStore()
        self._generation = self.filters.generation
        budget = {name: int(share * cache_bytes) for name, share in _CACHE_SHARES.items()}
        with collector_paused():  # hundreds of thousands of small objects, no cycle
            self._title = _TextField([d.title for d in self.docs], budget["field"])
            self._abstract = _TextField([d.abstract for d in self.docs], budget["field"])
        self._authors: dict[str, int] = {}  # name tokens, and runs of them written together -> bitset
        self._author_vocabulary: list[str] | None = None
        # Name token or run of tokens written together -> {tokens of a whole name: its papers}.
        self._names: dict[str, dict[tuple[str, ...], int]] = {}
        # The same by the first letters of the names' words (built when first asked for).
        self._names_by_initial: dict[str, dict[str, list[tuple[tuple[str, ...], int, tuple[int, ...]]]]] = {}
        self._categories: dict[str, int] = {}  # lower-case category -> bitset
        self._archives: dict[str, int] = {}  # lower-case archive -> bitset
        # Caches: node id -> bitset (every node evaluated: a text finds its id in `filters`);
        # compiled filters by text and by node id; see also _leaf_score and _score.
        self._bits = BytesBoundedDict(budget["bits"], _id_entry_bytes)
        self._compiled = BytesBoundedDict(budget["compiled"], _entry_bytes)
        self._compiled_by_key = BytesBoundedDict(budget["compiled_by_key"], _entry_bytes)
        self._leaf_scores = BytesBoundedDict(budget["leaf_scores"], _entry_bytes)
        self._terms = BytesBoundedDict(budget["terms"], _entry_bytes)
        with collector_paused():
            self._add_people()

    def _add_people(self) -> None:
        names = self._names
        authors = self._authors
        categories = self._categories
        archives = self._archives
        # A day repeats its authors and categories: each distinct one is read once.
        by_category = _doc_bitsets([paper.categories for paper in self.docs], len(self.docs))
        for category, bits in by_category.items():
            category = category.lower()
            categories[category] = categories.get(category, 0) | bits
            archive = category.partition(".")[0]
            archives[archive] = archives.get(archive, 0) | bits
        docs_of = _doc_bitsets([paper.authors for paper in self.docs], len(self.docs))
        for tokens, bits in zip(textnorm.names_tokens(list(docs_of)), docs_of.values(), strict=True):
            for key in _runs(tokens):
                by_name = names.get(key)
                if by_name is None:
                    names[key] = {tokens: bits}
                else:
                    by_name[tokens] = by_name.get(tokens, 0) | bits
                authors[key] = authors.get(key, 0) | bits

    def __len__(self) -> int:
        return len(self.docs)

    # Matching ---------------------------------------------------------------------------

    def match(self, query: str) -> int:
        """Bitset of the papers the query matches (bit i <=> docs[i]). Raises `QueryError`."""
        node = self.filters.texts.get(query)
        if type(node) is int and self._generation == self.filters.generation:
            bits = self._bits.get(node)  # type: ignore[call-overload]
            if bits is not None:
                return bits
        node = self.filters.compile(query)
        if self._generation != self.filters.generation:
            self._forget_ids()
        return self._eval(node)

    def match_many(self, queries: Iterable[str]) -> dict[str, int]:
        """{query: `match(query)`} for every valid query (an invalid one is left out; `match`
        raises its error), evaluated together: each canonical node not evaluated yet once,
        in the store's order (children before parents), and the two-word phrases of all of
        them in one pass over each field (`_TextField.pairs`)."""
        with collector_paused():  # compiling and evaluating build many objects, no cycle
            return self._match_many(queries)

    def _match_many(self, queries: Iterable[str]) -> dict[str, int]:
        store = self.filters
        generation = store.generation
        texts = store.texts
        distinct = list(dict.fromkeys(queries))
        nodes: list = list(map(texts.get, distinct))
        if set(map(type, nodes)) != {int}:  # some are new or invalid (most days, none)
            tops = {}
            for query, node in zip(distinct, nodes, strict=True):
                if type(node) is not int:
                    try:
                        node = store.compile(query)
                    except QueryError:
                        continue
                tops[query] = node
            distinct, nodes = list(tops), list(tops.values())
        if store.generation != generation or self._generation != store.generation:
            # The store started again while compiling: the ids above name other nodes.
            return {query: self.match(query) for query in distinct}
        if not nodes:
            return {}
        values, todo, phrases = self._unevaluated(set(nodes))
        found = self._pairs(phrases)
        for node, bits in found.items():
            values[node] = bits
        self._evaluate(todo, values, found)
        # What `_id_entry_bytes` says of each, added up without a call per node.
        bytes_of_bits = map(rshift, map(int.bit_length, found.values()), itertools.repeat(3))
        size = len(found) * _ID_ENTRY_BYTES + sum(bytes_of_bits)
        self._bits.put_many(found, size)
        bitsets = itemgetter(*nodes)(values)
        return dict(zip(distinct, bitsets if len(nodes) > 1 else (bitsets,), strict=True))

    def _unevaluated(self, tops: set[int]) -> tuple[list[int | None], list[int], list[int]]:
        """The nodes under `tops` not evaluated yet, in the store's order (children first);
        the bitsets of the others by node id (None for the rest); the two-word text nodes.

        A child's id is below its parent's: for a batch of a good share of the store (a
        day's filters at once), one walk down the ids from the highest, marking the children
        of each node met, reaches every node needed once (a third cheaper than a search);
        for a few filters (a preview, a small chunk), a search from them."""
        known = self._bits
        any_known = bool(known)  # a new index (a day's first batch) knows none
        rows = self.filters.rows
        if len(tops) * 8 < len(rows):
            return self._searched(tops)
        values: list[int | None] = [None] * len(rows)
        marks = np.zeros(len(rows), dtype=np.uint8)
        marks[np.fromiter(tops, dtype=np.int64, count=len(tops))] = 1
        needed = bytearray(marks.tobytes())
        todo: list[int] = []
        phrases: list[int] = []
        add = todo.append
        # reversed() reads the marks as it goes: a child marked on the way is met later.
        for node in itertools.compress(range(len(rows) - 1, -1, -1), reversed(needed)):
            if any_known:
                bits = known.get(node)
                if bits is not None:
                    values[node] = bits
                    continue
            add(node)
            row = rows[node]
            sign = row[0]
            if sign in _GROUPS:
                for child in row[1:]:
                    needed[child] = 1
            elif sign == "t" and len(row[2]) == 2:
                phrases.append(node)
        todo.reverse()
        return values, todo, phrases

    def _searched(self, tops: set[int]) -> tuple[list[int | None], list[int], list[int]]:
        """`_unevaluated` by a depth-first search from `tops`."""
        known = self._bits
        rows = self.filters.rows
        values: list[int | None] = [None] * len(rows)
        seen = bytearray(len(rows))
        todo: list[int] = []
        phrases: list[int] = []
        stack = list(tops)
        while stack:
            node = stack.pop()
            if seen[node]:
                continue
            seen[node] = 1
            bits = known.get(node)
            if bits is not None:
                values[node] = bits
                continue
            todo.append(node)
            row = rows[node]
            sign = row[0]
            if sign in _GROUPS:
                stack.extend(row[1:])
            elif sign == "t" and len(row[2]) == 2:
                phrases.append(node)
        todo.sort()
        return values, todo, phrases

    def _evaluate(self, todo: list[int], values: list[int | None], found: dict[int, int]) -> None:
        """Evaluate the nodes of `todo` in order into `values` and `found` (where the phrases
        of `_pairs` already are): a node's children are known before it. Every bitset is of
        the index's papers only, so a group of two (most) is one operation."""
        rows = self.filters.rows
        everything = self._all
        phrases = dict(found)
        for node in todo:
            row = rows[node]
            sign = row[0]
            if sign == "&":
                if len(row) == 3:
                    bits = values[row[1]] & values[row[2]]  # type: ignore[operator]
                else:
                    bits = values[row[1]]
                    for child in row[2:]:
                        bits &= values[child]  # type: ignore[operator]
                        if not bits:
                            break
            elif sign == "|":
                if len(row) == 3:
                    bits = values[row[1]] | values[row[2]]  # type: ignore[operator]
                else:
                    bits = 0
                    for child in row[1:]:
                        bits |= values[child]  # type: ignore[operator]
            elif sign == "-":
                bits = everything ^ values[row[1]]  # type: ignore[operator]
            elif node in phrases:
                continue  # a phrase of `_pairs`
            else:
                bits = self._leaf(row)
            values[node] = bits
        if todo:
            evaluated = itemgetter(*todo)(values)
            found.update(zip(todo, evaluated if len(todo) > 1 else (evaluated,), strict=True))

    def _pairs(self, nodes: list[int]) -> dict[int, int]:
        """{node: bitset} of the text nodes (`nodes`, all of them rows of two words) that are
        a phrase of two one-part words, each field's in one batch (`_TextField.pairs`)."""
        rows = self.filters.rows
        chosen: list[tuple[int, str]] = []
        firsts: dict[str, list[str]] = {TITLE: [], ABSTRACT: []}
        seconds: dict[str, list[str]] = {TITLE: [], ABSTRACT: []}
        fields = {TITLE: (TITLE,), ABSTRACT: (ABSTRACT,), TITLE_OR_ABSTRACT: (TITLE, ABSTRACT)}
        for node in nodes:
            _, field, ((first, first_joined), (second, second_joined)) = rows[node]
            if first_joined or second_joined or len(first) != 1 or len(second) != 1:
                continue
            for name in fields[field]:
                firsts[name].append(first[0])
                seconds[name].append(second[0])
            chosen.append((node, field))
        title_bits = iter(self._title.pairs(firsts[TITLE], seconds[TITLE]))
        abstract_bits = iter(self._abstract.pairs(firsts[ABSTRACT], seconds[ABSTRACT]))
        found: dict[int, int] = {}
        for node, field in chosen:
            in_title = next(title_bits) if field != ABSTRACT else 0
            in_abstract = next(abstract_bits) if field != TITLE else 0
            found[node] = in_title | in_abstract
        return found

    def _forget_ids(self) -> None:
        """The store started again: its ids now name other nodes."""
        for cache in (self._bits, self._compiled, self._compiled_by_key):
            cache.clear()
        self._generation = self.filters.generation

    def compile(self, query: str) -> CompiledQuery:
        """The compiled filter, memoised per text and per canonical form. Raises `QueryError`."""
        compiled = self._compiled.get(query)
        if compiled is None:
            node = self.filters.compile(query)
            if self._generation != self.filters.generation:
                self._forget_ids()
            compiled = self._compiled_by_key.get(node)
            if compiled is None:
                compiled = self._compiled_by_key.put(
                    node, CompiledQuery(self.filters, node, self._eval(node))
                )
            self._compiled.put(query, compiled)
        return compiled

    def _eval(self, node: int) -> int:
        bits = self._bits.get(node)
        if bits is not None:
            return bits
        row = self.filters.rows[node]
        sign = row[0]
        if sign == "&":
            rows = self.filters.rows
            bits = -1
            for child in row[1:]:
                child_row = rows[child]
                if child_row[0] == "-":
                    bits &= ~self._eval(child_row[1])
                else:
                    bits &= self._eval(child)
                if not bits:
                    break
            bits &= self._all
        elif sign == "|":
            bits = 0
            for child in row[1:]:
                bits |= self._eval(child)
        elif sign == "-":
            bits = self._all ^ self._eval(row[1])
        else:
            bits = self._leaf(row)
        return self._bits.put(node, bits)

    def _leaf(self, row: tuple) -> int:
        """The bitset of a leaf row: text, prefix, author or category."""
        sign = row[0]
        if sign == "t":
            return self._text(row)
        if sign == "p":
            return self._prefix(row)
        if sign == "a":
            return self._author(row)
        return self._category(row)

    def _text(self, row: tuple) -> int:
        _, field, words = row
        if len(words) == 1 and not words[0][1]:  # one plain word: a posting
            stem = words[0][0][0]
            if field == TITLE:
                return self._title.postings.get(stem, 0)
            if field == ABSTRACT:
                return self._abstract.postings.get(stem, 0)
            return self._title.postings.get(stem, 0) | self._abstract.postings.get(stem, 0)
        as_words = tuple(Word(parts, joined, (), "") for parts, joined in words)
        key = words_key(words)
        if field == TITLE:
            return self._title.phrase(as_words, key)
        if field == ABSTRACT:
            return self._abstract.phrase(as_words, key)
        return self._title.phrase(as_words, key) | self._abstract.phrase(as_words, key)

    def _prefix(self, row: tuple) -> int:
        _, field, prefix = row
        if field == TITLE:
            return self._title.prefix(prefix)
        if field == ABSTRACT:
            return self._abstract.prefix(prefix)
        if field == "au":
            if self._author_vocabulary is None:
                self._author_vocabulary = sorted(self._authors)
            return _prefix_bits(self._authors, self._author_vocabulary, prefix)
        return self._title.prefix(prefix) | self._abstract.prefix(prefix)

    def _author(self, row: tuple) -> int:
        _, surname, given = row
        if not given:
            return self._authors.get(surname, 0)
        by_initial = self._names_by_initial.get(surname)
        if by_initial is None:
            by_initial = self._names_by_initial[surname] = _by_initial(self._names.get(surname, {}), surname)
        bits = 0
        # Each distinct name once, among those with a word starting as the first given name.
        for tokens, docs, starts in by_initial.get(given[0][0], ()):
            for start in starts:
                if _given_names_before(tokens, start, given):
                    bits |= docs
                    break
        return bits

    def _category(self, row: tuple) -> int:
        _, archive, subject = row
        if subject:
            return self._categories.get(f"{archive}.{subject.lower()}", 0)
        return self._archives.get(archive, 0)

    # Relevance --------------------------------------------------------------------------

    def hits(self, query: str, mask: int = -1) -> list[Hit]:
        """Matching papers within `mask`, best first; ties in doc order. Raises `QueryError`."""
        compiled = self.compile(query)
        bits = compiled.bits & mask
        if not bits:
            return []
        scorer = self._scorer(compiled)
        cache = compiled._hits
        terms = self._terms
        hits = []
        for doc in iter_bits(bits):
            hit = cache.get(doc)
            if hit is None:
                hit = cache[doc] = _score(doc, scorer, terms)
            hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.doc))
        return hits

    def top_hits(self, query: str, k: int, mask: int = -1) -> list[Hit]:
        """`hits(query, mask)[:k]`, scoring only those k papers. Raises `QueryError`.

        The scores of all matches are added up at once as bit slices (slice j holds the
        papers whose score has bit j set: a handful of big-int operations per leaf of the
        filter), the k best are picked from the slices, highest bit first, and only they
        are scored for their terms. The cost is bounded by the filter's size, not by how
        many papers it matches, and nothing per paper is kept (the live preview).
        """
        compiled = self.compile(query)
        bits = compiled.bits & mask & self._all
        if not bits or k <= 0:
            return []
        scorer = self._scorer(compiled)
        slices: list[int] = []
        title_units, abstract_units, other_units = _WEIGHT_UNITS
        for title, abstract, other, _terms in scorer:
            _add_weighted(slices, title & bits, title_units)
            _add_weighted(slices, abstract & bits, abstract_units)
            _add_weighted(slices, other & bits, other_units)
        best = _top_of(slices, bits, k)
        hits = [_score(doc, scorer, self._terms) for doc in iter_bits(best)]
        hits.sort(key=lambda h: (-h.score, h.doc))
        return hits

    def _scorer(self, compiled: CompiledQuery) -> list[tuple[int, int, int, tuple[str, ...]]]:
        if compiled._scorer is None:
            rows = self.filters.rows
            compiled._scorer = [self._leaf_score(rows[leaf], leaf) for leaf in compiled.leaves]
        return compiled._scorer

    def _leaf_score(self, row: tuple, leaf: int) -> tuple[int, int, int, tuple[str, ...]]:
        """(title bits, abstract bits, other bits, terms) of one positive leaf."""
        cached = self._leaf_scores.get(row)
        if cached is not None:
            return cached
        title = abstract = other = 0
        terms: tuple[str, ...] = ()
        sign, field = row[0], row[1]
        if sign == "t":
            if field != ABSTRACT:
                title = self._text(("t", TITLE, row[2]))
            if field != TITLE:
                abstract = self._text(("t", ABSTRACT, row[2]))
            terms = tuple(t for parts, joined in row[2] for t in (*parts, joined) if t)
        elif sign == "p" and field != "au":
            if field != ABSTRACT:
                title = self._title.prefix(row[2])
            if field != TITLE:
                abstract = self._abstract.prefix(row[2])
            terms = (row[2] + "*",)
        else:
            other = self._eval(leaf)
        return self._leaf_scores.put(row, (title, abstract, other, terms))


def _add_weighted(slices: list[int], bitset: int, weight: int) -> None:
    """Add `weight` to the score of every paper in `bitset`; the scores are kept as bit
    slices (bit i of slices[j] is bit j of paper i's score), added with a ripple carry."""
    position = 0
    while weight and bitset:
        if weight & 1:
            carry, j = bitset, position
            while carry:
                while j >= len(slices):
                    slices.append(0)
                current = slices[j]
                slices[j] = current ^ carry
                carry &= current
                j += 1
        weight >>= 1
        position += 1


def _top_of(slices: list[int], candidates: int, k: int) -> int:
    """The `k` candidates of the highest scores (see `_add_weighted`), ties to the lowest
    doc, as a bitset: each slice, highest first, halves the papers still in question."""
    if candidates.bit_count() <= k:
        return candidates
    above, tied = 0, candidates  # certainly in; level with the k-th best so far
    for bits in reversed(slices):
        high = tied & bits
        if above.bit_count() + high.bit_count() >= k:
            tied = high  # the k-th best has this bit: those without it are out
        else:
            above |= high  # all of these are in; the k-th best lacks this bit
            tied &= ~bits
    missing = k - above.bit_count()
    for doc in iter_bits(tied):
        if not missing:
            break
        above |= 1 << doc
        missing -= 1
    return above


def _score(
    doc: int,
    scorer: list[tuple[int, int, int, tuple[str, ...]]],
    interned: BytesBoundedDict,
) -> Hit:
    """`doc`'s hit; its terms are the one equal tuple of `interned` (hits of one filter mostly
    share their terms, and a worker keeps tens of thousands of filters' hits)."""
    score = 0.0
    terms: dict[str, None] = {}
    for title, abstract, other, leaf_terms in scorer:
        in_title = (title >> doc) & 1
        in_abstract = (abstract >> doc) & 1
        if in_title or in_abstract:
            score += TITLE_WEIGHT * in_title + ABSTRACT_WEIGHT * in_abstract
            terms.update(dict.fromkeys(leaf_terms))
        if (other >> doc) & 1:
            score += OTHER_WEIGHT
    found = tuple(terms)
    known = interned.get(found)
    if known is None:
        known = interned.put(found, found)
    return Hit(doc, score, known)
