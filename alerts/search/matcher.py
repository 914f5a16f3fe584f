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

import re
import sys
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from alerts.core.caches import BytesBoundedDict
from alerts.search import textnorm
from alerts.search.query import (
    ABSTRACT,
    MAX_NESTING,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    TITLE,
    And,
    Author,
    Category,
    Node,
    Not,
    Or,
    Prefix,
    QueryError,
    Text,
    iter_leaves,
    parse,
)
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
    "bits": 0.25,
    "by_text": 0.10,
    "chunks": 0.10,
    "errors": 0.02,
    "compiled": 0.15,
    "compiled_by_key": 0.20,
    "leaf_scores": 0.06,
    "terms": 0.02,
    "field": 0.05,  # each of title and abstract: phrases and prefixes
}
# What one cache entry costs beyond its key and value: its share of the dict's table.
_ENTRY_BYTES = 100
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
    """A parsed filter with its matching papers; scores are computed when first asked for."""

    __slots__ = ("_hits", "_scorer", "bits", "node")

    def __init__(self, node: Node, bits: int) -> None:
        self.node = node
        self.bits = bits  # bit i <=> docs[i] matches
        self._scorer: list[tuple[int, int, int, tuple[str, ...]]] | None = None
        self._hits: dict[int, Hit] = {}

    @property
    def key(self) -> str:
        """Canonical form: equal for queries that mean the same."""
        return self.node.key

    def __repr__(self) -> str:
        return f"<CompiledQuery {self.key} matches={self.bits.bit_count()}>"

    def nbytes(self) -> int:
        """An upper bound of its memory: the bitset, the parsed tree (a few dozen bytes per
        character of its canonical form) and a memoised hit per matching paper."""
        return sys.getsizeof(self.bits) + 48 * len(self.key) + _HIT_BYTES * self.bits.bit_count()


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


# The fast path of `PaperIndex.match` reads a filter as chunks: a parenthesis, a phrase
# (possibly with a field or a "-" before it), a word, or a stray quote (which sends the
# filter to the full parser).
_CHUNK_RE = re.compile(r'[()]|[^\s()"]*"[^"]*"|[^\s()"]+|"')
_AND, _ANDNOT, _OR, _NOT, _OPEN, _CLOSE = range(1, 7)
_CHUNK_OPERATORS = {"AND": _AND, "ANDNOT": _ANDNOT, "OR": _OR, "NOT": _NOT, "(": _OPEN, ")": _CLOSE}


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
    """Title or abstract: postings, positions for phrases, surface forms for prefixes."""

    __slots__ = (
        "_lines",
        "_phrases",
        "_positions",
        "_prefixes",
        "_surfaces",
        "_vocabulary",
        "aliases",
        "compounds",
        "postings",
        "streams",
        "texts",
    )

    def __init__(self, cache_bytes: int) -> None:
        self.postings: dict[str, int] = {}  # stem or joined compound -> bitset
        self.streams: list[tuple[str, ...]] = []  # per doc: stems in order
        # Per doc: start position -> (joined compound, number of parts), or None.
        self.aliases: list[dict[int, tuple[str, int]] | None] = []
        self.compounds: set[str] = set()  # every joined compound of the field
        self.texts: list[str] = []  # per doc, for what is built when first needed
        self._positions: list[dict[str, list[int]] | None] = []
        # Per doc: " tok tok ... tok ", for plain runs of words: one C-level substring search.
        self._lines: list[str | None] = []
        self._surfaces: dict[str, int] | None = None  # folded unstemmed word -> bitset
        self._vocabulary: list[str] = []  # the surface forms, sorted
        # Phrase (canonical words) -> bitset, prefix -> bitset: half the budget each.
        self._phrases = BytesBoundedDict(cache_bytes // 2, _bitset_entry_bytes)
        self._prefixes = BytesBoundedDict(cache_bytes // 2, _bitset_entry_bytes)

    def add(self, doc: int, text: str) -> None:
        stream, compounds = textnorm.analyse(text)
        stems = set(stream)
        aliases = None
        if compounds is not None:
            aliases = {at: (w.joined, len(w.parts)) for at, w in compounds.items()}
            joined = {w.joined for w in compounds.values()}
            stems.update(joined)
            self.compounds.update(joined)
        self.streams.append(tuple(stream))
        self.aliases.append(aliases)
        self.texts.append(text)
        self._positions.append(None)
        self._lines.append(None)
        bit = 1 << doc
        postings = self.postings
        get = postings.get
        for key in stems:
            postings[key] = get(key, 0) | bit

    def prefix(self, prefix: str) -> int:
        bits = self._prefixes.get(prefix)
        if bits is None:
            surfaces = self._surface_postings()
            bits = self._prefixes.put(prefix, _prefix_bits(surfaces, self._vocabulary, prefix))
        return bits

    def _surface_postings(self) -> dict[str, int]:
        if self._surfaces is None:  # built on the first prefix search
            surfaces: dict[str, int] = {}
            get = surfaces.get
            for doc, text in enumerate(self.texts):
                words = textnorm.words(text)
                keys = {surface for w in words for surface in w.surface}
                keys.update(w.joined_surface for w in words if w.joined)
                bit = 1 << doc
                for key in keys:
                    surfaces[key] = get(key, 0) | bit
            self._surfaces = surfaces
            self._vocabulary = sorted(surfaces)
        return self._surfaces

    def phrase(self, words: tuple[Word, ...], key: str) -> int:
        """Docs whose field holds these words adjacent and in order (a single word too)."""
        postings = self.postings
        if len(words) == 1 and not words[0].joined:
            return postings.get(words[0].parts[0], 0)
        bits = self._phrases.get(key)
        if bits is not None:
            return bits
        candidates = -1
        for w in words:
            word_bits = -1
            for part in w.parts:
                word_bits &= postings.get(part, 0)
            if w.joined:
                word_bits |= postings.get(w.joined, 0)
            candidates &= word_bits
            if not candidates:
                break
        sure = 0
        if len(words) == 1:  # the joined form anywhere is the whole word: no check needed
            sure = postings.get(words[0].joined, 0)
            candidates &= ~sure
        bits = sure
        # Words of one part each, none of them the joined form of a compound of this field,
        # can only match as a plain run of tokens: a substring of the doc's line of tokens.
        run = None
        if not any(w.joined or w.parts[0] in self.compounds for w in words):
            run = f" {' '.join(w.parts[0] for w in words)} "
        for doc in iter_bits(candidates):
            if self._phrase_in(doc, words, run):
                bits |= 1 << doc
        return self._phrases.put(key, bits)

    def _positions_of(self, doc: int) -> dict[str, list[int]]:
        """Token -> its positions in the doc, built when a phrase first looks at the doc."""
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(self.streams[doc]):
            known = positions.get(token)
            if known is None:
                positions[token] = [i]
            else:
                known.append(i)
        for i, (joined, _span) in (self.aliases[doc] or {}).items():
            positions.setdefault(joined, []).append(i)
        self._positions[doc] = positions
        return positions

    def _phrase_in(self, doc: int, words: tuple[Word, ...], run: str | None) -> bool:
        if run is not None:
            line = self._lines[doc]
            if line is None:
                line = self._lines[doc] = f" {' '.join(self.streams[doc])} "
            return run in line
        stream = self.streams[doc]
        positions = self._positions[doc] or self._positions_of(doc)
        aliases = self.aliases[doc]
        first = words[0]
        current = set(positions.get(first.parts[0], ()))
        current.update(positions.get(first.whole, ()))
        for w in words:  # every place the phrase can have reached after each word
            following: set[int] = set()
            for at in current:
                following.update(_word_ends(stream, aliases, at, w))
            if not following:
                return False
            current = following
        return True


def _word_ends(
    stream: tuple[str, ...], aliases: dict[int, tuple[str, int]] | None, at: int, w: Word
) -> list[int]:
    """Where the text can continue if word `w` stands at position `at` (none: no match).

    A hyphenated query word matches its parts in a row, or its joined form written as one
    word, or a hyphenated compound of the text whose joined form is the same.
    """
    ends = []
    end = at + len(w.parts)
    if stream[at:end] == w.parts:
        ends.append(end)
    whole = w.whole
    if at < len(stream) and stream[at] == whole:
        ends.append(at + 1)
    if aliases is not None:
        alias = aliases.get(at)
        if alias is not None and alias[0] == whole:
            ends.append(at + alias[1])
    return ends


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


def _runs(tokens: tuple[str, ...]) -> set[str]:
    """Every run of consecutive name tokens written together: how a surname can be written."""
    size = len(tokens)
    return {"".join(tokens[start:end]) for start in range(size) for end in range(start + 1, size + 1)}


def _name_matches(tokens: tuple[str, ...], surname: str, given: tuple[str, ...]) -> bool:
    """arXiv-style author match of one name's tokens (see `alerts.search.query.Author`)."""
    for start in range(len(tokens)):
        written = ""
        for token in tokens[start:]:
            written += token
            if len(written) >= len(surname):
                break
        if written == surname and _given_names_before(tokens, start, given):
            return True
    return False


class PaperIndex:
    """An in-memory index of one set of papers (a day's), built once, queried many times."""

    def __init__(self, docs: Sequence[PaperDoc], *, cache_bytes: int = CACHE_BYTES) -> None:
        """`cache_bytes`: what the caches of this index may hold in all (see `BytesBoundedDict`)."""
        self.docs = tuple(docs)
        self._all = (1 << len(self.docs)) - 1
        budget = {name: int(share * cache_bytes) for name, share in _CACHE_SHARES.items()}
        self._title = _TextField(budget["field"])
        self._abstract = _TextField(budget["field"])
        self._authors: dict[str, int] = {}  # name tokens, and runs of them written together -> bitset
        self._author_vocabulary: list[str] | None = None
        # Name token or run of tokens written together -> (doc, tokens of the whole name).
        self._names: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        self._categories: dict[str, int] = {}  # lower-case category -> bitset
        self._archives: dict[str, int] = {}  # lower-case archive -> bitset
        # Caches: canonical key -> bitset (every node evaluated), text -> bitset or error;
        # fast path: chunk -> (bitset, terms); see also _leaf_score and _score.
        self._bits = BytesBoundedDict(budget["bits"], _bitset_entry_bytes)
        self._by_text = BytesBoundedDict(budget["by_text"], _bitset_entry_bytes)
        self._chunks = BytesBoundedDict(budget["chunks"], _entry_bytes)
        self._errors = BytesBoundedDict(budget["errors"], _entry_bytes)
        self._compiled = BytesBoundedDict(budget["compiled"], _entry_bytes)
        self._compiled_by_key = BytesBoundedDict(budget["compiled_by_key"], _entry_bytes)
        self._leaf_scores = BytesBoundedDict(budget["leaf_scores"], _entry_bytes)
        self._terms = BytesBoundedDict(budget["terms"], _entry_bytes)
        for doc, paper in enumerate(self.docs):
            self._add(doc, paper)

    def _add(self, doc: int, paper: PaperDoc) -> None:
        bit = 1 << doc
        self._title.add(doc, paper.title)
        self._abstract.add(doc, paper.abstract)
        author_tokens: set[str] = set()
        for name in paper.authors:
            tokens = tuple(textnorm.name_tokens(name))
            keys = _runs(tokens)
            for key in keys:
                self._names.setdefault(key, []).append((doc, tokens))
            author_tokens.update(keys)
        for token in author_tokens:
            self._authors[token] = self._authors.get(token, 0) | bit
        for category in paper.categories:
            category = category.lower()
            self._categories[category] = self._categories.get(category, 0) | bit
            archive = category.partition(".")[0]
            self._archives[archive] = self._archives.get(archive, 0) | bit

    def __len__(self) -> int:
        return len(self.docs)

    # Matching ---------------------------------------------------------------------------

    def match(self, query: str) -> int:
        """Bitset of the papers the query matches (bit i <=> docs[i]). Raises `QueryError`."""
        bits = self._by_text.get(query)
        if bits is None:
            bits = self._match_chunks(query)
            if bits is None:
                error = self._errors.get(query)
                if error is not None:
                    raise error
                try:
                    node = parse(query)
                except QueryError as exc:
                    self._errors.put(query, exc)
                    raise
                bits = self._eval(node)
            self._by_text.put(query, bits)
        return bits

    def _match_chunks(self, query: str) -> int | None:
        """The fast path of `match`: None unless the filter is certainly valid.

        Most filters are a few words, phrases and operators, and their words recur across
        subscribers. Each chunk (`models`, `ti:"diffusion models"`, `-cat:cs.CV`) is
        parsed and evaluated once by the full parser and kept as a bitset; the operators
        between chunks are then applied with the parser's precedence (OR < AND, ANDNOT,
        adjacency < NOT). Anything unusual (a field before a group, a stray "-" or quote,
        a dangling operator, a limit reached) returns None, and the full parser decides,
        with its error messages.
        """
        if len(query) > MAX_QUERY_LENGTH:
            return None
        everything = self._all
        cache = self._chunks
        operators = _CHUNK_OPERATORS
        stack: list[tuple[int, int, int, bool]] = []
        union, conjunction, pending, negate, expect = 0, -1, 0, False, True
        terms = 0
        for chunk in _CHUNK_RE.findall(query):
            operator = operators.get(chunk)
            if operator is None or operator == _CLOSE:
                if operator is None:
                    cached = cache.get(chunk) or self._new_chunk(chunk)
                    if cached is None:
                        return None
                    bits, count = cached
                    terms += count
                    if terms > MAX_TERMS:
                        return None
                else:  # ")" closes a group, which is then an operand
                    if expect or not stack:
                        return None
                    bits = union | conjunction
                    union, conjunction, pending, negate = stack.pop()
                if negate != (pending == _ANDNOT):
                    bits = everything ^ (bits & everything)
                conjunction &= bits
                pending, negate, expect = 0, False, False
            elif operator == _NOT:
                negate = not negate
                expect = True
            elif operator == _OR:
                if expect:
                    return None
                union |= conjunction
                conjunction, expect = -1, True
            elif operator == _OPEN:
                if len(stack) == MAX_NESTING:
                    return None
                stack.append((union, conjunction, pending, negate))
                union, conjunction, pending, negate, expect = 0, -1, 0, False, True
            else:  # AND, ANDNOT
                if expect:
                    return None
                pending, expect = operator, True
        if expect or stack:
            return None
        return (union | conjunction) & everything

    def _new_chunk(self, chunk: str) -> tuple[int, int] | None:
        """A chunk's (bitset, words counted against MAX_TERMS), kept; None if it is invalid."""
        try:
            node = parse(chunk)
        except QueryError:
            return None
        count = len(chunk.split()) if '"' in chunk else 1
        return self._chunks.put(chunk, (self._eval(node), count))

    def compile(self, query: str) -> CompiledQuery:
        """The compiled filter, memoised per text and per canonical form. Raises `QueryError`."""
        compiled = self._compiled.get(query)
        if compiled is None:
            node = parse(query)
            compiled = self._compiled_by_key.get(node.key)
            if compiled is None:
                compiled = self._compiled_by_key.put(node.key, CompiledQuery(node, self._eval(node)))
            self._compiled.put(query, compiled)
        return compiled

    def _eval(self, node: Node) -> int:
        key = node.key
        bits = self._bits.get(key)
        if bits is not None:
            return bits
        kind = type(node)
        if kind is And:
            bits = -1
            for child in node.children:  # type: ignore[attr-defined]
                if type(child) is Not:
                    bits &= ~self._eval(child.child)  # type: ignore[attr-defined]
                else:
                    bits &= self._eval(child)
                if not bits:
                    break
            bits &= self._all
        elif kind is Or:
            bits = 0
            for child in node.children:  # type: ignore[attr-defined]
                bits |= self._eval(child)
        elif kind is Not:
            bits = self._all ^ self._eval(node.child)  # type: ignore[attr-defined]
        elif kind is Text:
            bits = self._text(node)  # type: ignore[arg-type]
        elif kind is Prefix:
            bits = self._prefix(node)  # type: ignore[arg-type]
        elif kind is Author:
            bits = self._author(node)  # type: ignore[arg-type]
        elif kind is Category:
            bits = self._category(node)  # type: ignore[arg-type]
        else:  # pragma: no cover - parse() builds no other node
            raise TypeError(f"unknown node {node!r}")
        return self._bits.put(key, bits)

    def _text(self, node: Text) -> int:
        words = node.words
        if node.field == TITLE:
            return self._title.phrase(words, node.words_key)
        if node.field == ABSTRACT:
            return self._abstract.phrase(words, node.words_key)
        return self._title.phrase(words, node.words_key) | self._abstract.phrase(words, node.words_key)

    def _prefix(self, node: Prefix) -> int:
        if node.field == TITLE:
            return self._title.prefix(node.prefix)
        if node.field == ABSTRACT:
            return self._abstract.prefix(node.prefix)
        if node.field == "au":
            if self._author_vocabulary is None:
                self._author_vocabulary = sorted(self._authors)
            return _prefix_bits(self._authors, self._author_vocabulary, node.prefix)
        return self._title.prefix(node.prefix) | self._abstract.prefix(node.prefix)

    def _author(self, node: Author) -> int:
        surname, given = node.written, node.given
        if not given:
            return self._authors.get(surname, 0)
        bits = 0
        for doc, tokens in self._names.get(surname, ()):
            if _name_matches(tokens, surname, given):
                bits |= 1 << doc
        return bits

    def _category(self, node: Category) -> int:
        if node.subject:
            return self._categories.get(f"{node.archive}.{node.subject.lower()}", 0)
        return self._archives.get(node.archive, 0)

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
            compiled._scorer = [
                self._leaf_score(leaf) for leaf, positive in iter_leaves(compiled.node) if positive
            ]
        return compiled._scorer

    def _leaf_score(self, leaf: Node) -> tuple[int, int, int, tuple[str, ...]]:
        """(title bits, abstract bits, other bits, terms) of one positive leaf."""
        cached = self._leaf_scores.get(leaf.key)
        if cached is not None:
            return cached
        title = abstract = other = 0
        terms: tuple[str, ...] = ()
        if isinstance(leaf, Text):
            if leaf.field != ABSTRACT:
                title = self._title.phrase(leaf.words, leaf.words_key)
            if leaf.field != TITLE:
                abstract = self._abstract.phrase(leaf.words, leaf.words_key)
            terms = tuple(t for w in leaf.words for t in (*w.parts, w.joined) if t)
        elif isinstance(leaf, Prefix) and leaf.field != "au":
            if leaf.field != ABSTRACT:
                title = self._title.prefix(leaf.prefix)
            if leaf.field != TITLE:
                abstract = self._abstract.prefix(leaf.prefix)
            terms = (leaf.prefix + "*",)
        else:
            other = self._eval(leaf)
        return self._leaf_scores.put(leaf.key, (title, abstract, other, terms))


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
