"""The one text normaliser shared by the paper index and the query parser.

Indexing a paper and reading a query go through the same steps, so a query word finds
exactly the paper words that normalise like it:

- words are runs of letters and digits (any script); apostrophes inside a word are dropped
  (`LeCun's` -> `lecuns` -> stem `lecun`); LaTeX control words such as `\\times` or
  `\\mathcal` are markup, not words, so `139.6$\\times$` gives `139` and `6`;
- hyphens join the parts of one compound word: `self-supervised` yields the parts
  `self`, `supervis` (in order, one position each) and the *joined* form `selfsupervis`,
  so the paper is found by `self-supervised`, `"self supervised"` and `selfsupervised`;
- case folding and accent folding (`Schölkopf` == `Scholkopf`, `Łukasz` == `Lukasz`);
- an acronym's plural loses its `s` (`LLMs` -> `llm`, `GPUs` -> `gpu`), in capitals or not
  (`llms`, `lms`: no vowel before the `s`; `gpus`, `cpus`: consonants and a final `u`), so a
  query typed in lower case finds the same papers: Snowball leaves such words alone;
- light English stemming with Snowball (`models` -> `model`, `diffusions` -> `diffus`).

Prefix searches (`generati*`) look at the *surface* form (folded but not stemmed), because
a stem is not a prefix of the words it stands for (`generative` stems to `generat`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import snowballstemmer

from alerts.core.caches import BoundedDict

__all__ = [
    "BOUNDARY",
    "NORMALISER_VERSION",
    "Highlighter",
    "Word",
    "analyse",
    "chunk_words",
    "fold",
    "highlight_spans",
    "joined_chunks",
    "name_tokens",
    "names_tokens",
    "plain_forms",
    "stem",
    "word",
    "words",
]

# Bump whenever a text or a query word normalises differently (stemmer, folding, word
# rules): compiled filters kept across runs (alerts.search.compiled) hold normalised words,
# and are compiled again when this changes.
NORMALISER_VERSION = 1

_STEMMER = snowballstemmer.stemmer("english")

# A letter or digit of any script, or a combining accent (text in decomposed form).
_CHAR = r"(?:[^\W_]|[\u0300-\u036f])"
_PLAIN = rf"{_CHAR}+(?:['\u2019]{_CHAR}+)*"
_HYPHENS = "-\u2010\u2011"
# A LaTeX control word (skipped) or a word, possibly hyphenated (group 1).
_WORD_RE = re.compile(rf"\\[A-Za-z]+|({_PLAIN}(?:[{_HYPHENS}]{_PLAIN})*)")
# The same without the combining-accent alternative: most texts have none, and this is faster.
_PLAIN_FAST = r"[^\W_]+(?:['\u2019][^\W_]+)*"
_WORD_RE_FAST = re.compile(rf"\\[A-Za-z]+|({_PLAIN_FAST}(?:[{_HYPHENS}]{_PLAIN_FAST})*)")
_COMBINING_RE = re.compile(r"[\u0300-\u036f]")
# For ASCII text without LaTeX (most abstracts), bytes.translate + split find the same
# words several times faster: every byte that cannot be in a word becomes a space.
_ASCII_WORD_BYTES = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'"
_ASCII_SEPARATORS = bytes(i if i in _ASCII_WORD_BYTES else 32 for i in range(256))
# `joined_chunks` ends each text's chunks with this one, which no text gives (a NUL in a text
# separates words, as a space does); its translation keeps it, and every byte of a non-ASCII
# character, and blanks out LaTeX control words first.
BOUNDARY = "\0"
_BATCH_SEPARATORS = bytes(i if i in _ASCII_WORD_BYTES or i == 0 or i >= 128 else 32 for i in range(256))
_LATEX_RE = re.compile(r"\\[A-Za-z]+")
_HYPHEN_RE = re.compile(f"[{_HYPHENS}]")
_VOWELS = frozenset("aeiouy")
# English words of the shape of an acronym's plural (consonants, then "us").
_NOT_ACRONYMS = frozenset({"plus", "thus"})

# Letters that Unicode does not decompose into a base letter and an accent.
_EXTRA_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "\u0131": "i",  # dotless i
        "þ": "th",
        "Þ": "th",
    }
)

# Caches keep a day's vocabulary (tens of thousands of words); they are emptied when they
# grow past this, so a long-lived worker never grows without bound. Not lru_cache: on 268
# paper titles and abstracts it made a warm `words` 1.4x as slow (65.7 -> 93.9 µs a text).
_CACHE_LIMIT = 500_000


class Word(NamedTuple):
    """One word of a text, normalised.

    `parts` are the stems of its hyphen-separated parts, one position each; `joined` is the
    stem of the parts written together, or "" for a one-part word. `surface` and
    `joined_surface` are the same before stemming (folded only), for prefix searches.
    """

    parts: tuple[str, ...]
    joined: str
    surface: tuple[str, ...]
    joined_surface: str

    @property
    def whole(self) -> str:
        """The one token that stands for the whole word: its joined form, or its only part."""
        return self.joined or self.parts[0]


_stems: BoundedDict[str, str] = BoundedDict(_CACHE_LIMIT)
_words: BoundedDict[str, Word] = BoundedDict(_CACHE_LIMIT)
# An ASCII chunk that is one plain word -> its stem; any other ASCII chunk -> its words.
_plain: BoundedDict[str, str] = BoundedDict(_CACHE_LIMIT)
_chunks: BoundedDict[str, list[Word]] = BoundedDict(_CACHE_LIMIT)


def fold(text: str) -> str:
    """Case and accent folding: `Schölkopf` -> `scholkopf`."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLD))
    # A few compatibility forms decompose to a space and an accent (Greek ypogegrammeni):
    # a token never holds a space.
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace()).casefold()


def stem(folded: str) -> str:
    """Snowball English stem of a folded word (memoised)."""
    result = _stems.get(folded)
    if result is None:
        result = _stems.put(folded, _STEMMER.stemWord(folded))
    return result


def _surface(raw: str) -> str:
    """Folded form of one raw word part: no apostrophes, acronym plurals singular."""
    raw = raw.replace("'", "").replace("\u2019", "")
    if len(raw) >= 3 and raw[-1] == "s" and raw[:-1].isupper():
        raw = raw[:-1]  # LLMs -> LLM: an upper-case acronym with a lower-case plural s
    folded = fold(raw)
    # The same rules on the folded form, so that a query typed in lower case (`gpus`, `lms`)
    # finds what the text wrote in capitals (`GPUs`, `LMs`).
    if len(folded) >= 3 and folded[-1] == "s" and folded.isalpha() and folded not in _NOT_ACRONYMS:
        head = folded[:-1]
        if not _VOWELS.intersection(head):
            folded = head  # llms, lms, cnns: a word without vowels is an acronym
        elif len(head) >= 3 and head[-1] == "u" and not _VOWELS.intersection(head[:-1]):
            folded = head  # gpus, cpus, imus: only the final u is a vowel (Snowball keeps "us")
    return folded


def _make_word(raw: str) -> Word:
    raw_parts = _HYPHEN_RE.split(raw)
    surface = tuple(_surface(p) for p in raw_parts)
    parts = tuple(stem(s) for s in surface)
    if len(raw_parts) == 1:
        return Word(parts, "", surface, "")
    joined_surface = _surface("".join(raw_parts))
    return Word(parts, stem(joined_surface), surface, joined_surface)


def word(raw: str) -> Word:
    """The normalised form of one raw word as matched in a text (memoised)."""
    result = _words.get(raw)
    if result is None:
        result = _words.put(raw, _make_word(raw))
    return result


def _matches(text: str) -> Iterator[re.Match[str]]:
    pattern = _WORD_RE if _COMBINING_RE.search(text) else _WORD_RE_FAST
    for match in pattern.finditer(text):
        if match.group(1) is not None:
            yield match


def _ascii_chunks(text: str) -> list[str] | None:
    """Space-separated candidate words of an ASCII text without LaTeX, else None.

    For such text (most abstracts), bytes.translate + split find the same words as the
    regular expression several times faster: every byte that cannot be in a word becomes a
    space. A chunk that is not plain letters and digits still has stray hyphens or
    apostrophes, and goes through the regular expression.
    """
    if text.isascii() and "\\" not in text:
        return text.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    return None


def _chunk_words(chunk: str) -> list[Word]:
    if chunk.isalnum():
        return [word(chunk)]
    result = _chunks.get(chunk)
    if result is None:
        get = _words.get
        # A chunk of `joined_chunks` may hold any character but white space and LaTeX.
        pattern = _WORD_RE if not chunk.isascii() and _COMBINING_RE.search(chunk) else _WORD_RE_FAST
        result = _chunks.put(chunk, [get(raw) or word(raw) for raw in pattern.findall(chunk) if raw])
    return result


def words(text: str) -> list[Word]:
    """The words of a text, normalised, in order."""
    get = _words.get
    chunks = _ascii_chunks(text)
    if chunks is not None:
        out: list[Word] = []
        for chunk in chunks:
            w = get(chunk)
            if w is not None:
                out.append(w)
            else:
                out.extend(_chunk_words(chunk))
        return out
    pattern = _WORD_RE if _COMBINING_RE.search(text) else _WORD_RE_FAST
    return [get(raw) or word(raw) for raw in pattern.findall(text) if raw]


def joined_chunks(texts: Iterable[str]) -> list[str]:
    """The chunks of every text in order, each text's followed by `BOUNDARY`, each chunk
    read by `chunk_words`: what a batch index cuts the day's texts into, all at once.

    LaTeX control words blanked out, every byte of the texts' UTF-8 that cannot be in a word
    becomes a space (one bytes.translate of them all; a non-ASCII character may be in a
    word, and is kept) and the result is split on white space. No word of the regular
    expression goes across a space, so each chunk holds the words it finds there, read by
    `chunk_words`. On 1,000 abstracts, 18% of them non-ASCII: 14 ms against 22 ms for
    the texts one by one.
    """
    pieces = []
    for text in texts:
        if "\\" in text:
            text = _LATEX_RE.sub(" ", text)
        if BOUNDARY in text:
            text = text.replace(BOUNDARY, " ")
        pieces.append(text.encode("utf-8", "surrogatepass"))
    pieces.append(b"")  # a boundary after the last text too
    joined = f" {BOUNDARY} ".encode().join(pieces)
    return joined.translate(_BATCH_SEPARATORS).decode("utf-8", "surrogatepass").split()


def plain_forms(chunks: list[str]) -> tuple[list[str], list[str]]:
    """The surface forms and the stems of chunks that are each one word of letters and
    digits (`str.isalnum`), as `word(chunk)` has them (its one surface and its one part),
    all stemmed in one call of the stemmer and not kept in the word caches: a batch index
    reads each distinct chunk of the day once (4,418 such chunks of 1,000 abstracts in
    4 ms against 15 ms through `chunk_words`)."""
    surfaces = list(map(_surface, chunks))
    return surfaces, _STEMMER.stemWords(surfaces)


def chunk_words(chunk: str) -> list[Word]:
    """The words of one chunk of `joined_chunks` (the same as `words` finds there)."""
    found = _words.get(chunk)
    return [found] if found is not None else _chunk_words(chunk)


def _index_of_none(items: list[str | None], start: int) -> int:
    try:
        return items.index(None, start)
    except ValueError:
        return -1


def analyse(text: str) -> tuple[list[str], dict[int, Word] | None]:
    """What the index keeps of a text: its tokens in order (a token's position is its
    list index; a hyphenated word contributes its parts), and its hyphenated compounds by
    the position of their first part (None when there is none); a compound's joined form
    is an alias the index keeps beside the positions (see `Word`).

    The same result as walking `words(text)`, but a chunk of text already seen as one
    plain word is turned into its stem by one C-level `map` over a dict: only compounds
    and words never seen before are looked at one by one.
    """
    chunks = _ascii_chunks(text)
    whole_words = chunks is None  # chunks are single words from the regular expression
    if chunks is None:
        pattern = _WORD_RE if _COMBINING_RE.search(text) else _WORD_RE_FAST
        chunks = pattern.findall(text)
        if "" in chunks:  # LaTeX control words
            chunks = [c for c in chunks if c]
    stream = list(map(_plain.get, chunks))
    if None not in stream:
        return stream, None  # type: ignore[return-value]
    out: list[str] = []
    compounds: dict[int, Word] | None = None
    done = 0
    while (at := _index_of_none(stream, done)) >= 0:
        out.extend(stream[done:at])  # type: ignore[arg-type]
        chunk = chunks[at]
        chunk_words = [_words.get(chunk) or word(chunk)] if whole_words else _chunk_words(chunk)
        if len(chunk_words) == 1 and not chunk_words[0].joined:
            _plain.put(chunk, chunk_words[0].parts[0])
        for w in chunk_words:
            if w.joined:
                if compounds is None:
                    compounds = {}
                compounds[len(out)] = w
            out.extend(w.parts)
        done = at + 1
    out.extend(stream[done:])  # type: ignore[arg-type]
    return out, compounds


def name_tokens(text: str) -> list[str]:
    """Folded, unstemmed tokens of a person's name; `_` separates like a space (arXiv's form).

    `Adrian Del Maestro` and `del_maestro` give `adrian del maestro` and `del maestro`;
    a hyphenated name gives its parts (`Jean-Pierre` -> `jean`, `pierre`).
    """
    return [part for w in words(text.replace("_", " ")) for part in w.surface]


def names_tokens(names: list[str]) -> list[tuple[str, ...]]:
    """`name_tokens` of each name, all of them cut in one pass (`joined_chunks`) and each
    distinct chunk read once: a name's tokens are surface forms, never stemmed."""
    every = joined_chunks([name.replace("_", " ") for name in names])
    forms: dict[str, tuple[str, ...] | None] = dict.fromkeys(every)
    for chunk in forms:
        if chunk == BOUNDARY:
            continue
        if chunk.isalnum():  # one plain word: its surface form, as `word(chunk)` has it
            forms[chunk] = (_surface(chunk),)
        else:
            forms[chunk] = tuple(surface for w in chunk_words(chunk) for surface in w.surface)
    found: list[tuple[str, ...]] = []
    tokens: list[str] = []
    for chunk in every:
        chunk_forms = forms[chunk]
        if chunk_forms is None:
            found.append(tuple(tokens))
            tokens = []
        else:
            tokens.extend(chunk_forms)
    return found


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans `(start, end)` of `text` whose normalised form is one of `terms`.

    `terms` are normalised tokens as the matcher reports them: a stem (`diffus`), a joined
    compound (`selfsupervis`, which highlights the whole `self-supervised`), or a prefix
    ending in `*` (`generati*`, compared with the unstemmed form). Spans are in the
    original text, ascending and non-overlapping.
    """
    return Highlighter(text).spans(terms)


class Highlighter:
    """One text's words, read once, so that any set of terms is highlighted in it quickly.

    A digest shows the same paper to many subscribers, each with their own matched terms;
    the paper's title and abstract are read once per run, and `relevant` tells which of a
    subscriber's terms can highlight anything here (most cannot), so the highlighted text
    can be shared by every subscriber with the same relevant terms.
    """

    __slots__ = ("_where", "_words", "surfaces")

    def __init__(self, text: str) -> None:
        self._words: list[tuple[int, int, str, Word]] = []  # (start, end, raw word, normalised)
        self._where: dict[str, list[int]] = {}  # stem or joined stem -> the words that have it
        surfaces: set[str] = set()
        for match in _matches(text):
            raw = match.group(1)
            w = word(raw)
            at = len(self._words)
            self._words.append((match.start(1), match.end(1), raw, w))
            for token in (*w.parts, w.joined) if w.joined else w.parts:
                found = self._where.setdefault(token, [])
                if not found or found[-1] != at:
                    found.append(at)
            surfaces.update(w.surface)
            if w.joined:
                surfaces.add(w.joined_surface)
        self.surfaces = tuple(sorted(surfaces))

    def relevant(self, terms: Iterable[str]) -> tuple[str, ...]:
        """The terms (of `terms`, in their order) that highlight something in this text."""
        stems = self._where
        out = []
        for term in terms:
            if term.endswith("*"):
                prefix = term[:-1]
                # Surfaces are sorted: the first one not below the prefix starts with it, if any does.
                at = bisect_left(self.surfaces, prefix)
                if at < len(self.surfaces) and self.surfaces[at].startswith(prefix):
                    out.append(term)
            elif term in stems:
                out.append(term)
        return tuple(out)

    def spans(self, terms: Iterable[str]) -> list[tuple[int, int]]:
        """As `highlight_spans` for this text."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for term in terms:
            if term.endswith("*"):
                prefixes.append(term[:-1])
            elif term:
                exact.add(term)
        if not exact and not prefixes:
            return []
        prefix_tuple = tuple(prefixes)

        def hit(stemmed: str, surface: str) -> bool:
            return stemmed in exact or (bool(prefix_tuple) and surface.startswith(prefix_tuple))

        # Without prefixes only the words that have one of the terms can be marked.
        words = (
            [self._words[i] for i in sorted({i for term in exact for i in self._where.get(term, ())})]
            if not prefixes
            else self._words
        )
        spans: list[tuple[int, int]] = []
        for start, end, raw, w in words:
            if w.joined and hit(w.joined, w.joined_surface):
                spans.append((start, end))
                continue
            offset = start
            for raw_part, stemmed, surface in zip(_HYPHEN_RE.split(raw), w.parts, w.surface, strict=True):
                if hit(stemmed, surface):
                    spans.append((offset, offset + len(raw_part)))
                offset += len(raw_part) + 1
        return spans
