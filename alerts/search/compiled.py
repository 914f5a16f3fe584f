"""Compiled topic filters, kept across runs: a day's matching is evaluation, not parsing.

`FilterStore.compile(text)` parses a filter once (`alerts.search.query.parse`) and keeps its
canonical tree as a table of small tuples, one per distinct canonical node, shared by every
filter that contains it:

    ("&", id, id, ...)   ("|", id, id, ...)   ("-", id)
    ("t", field, ((parts, joined), ...))      a word or a phrase (see `textnorm.Word`)
    ("p", field, prefix)  ("a", written, given)  ("c", archive, subject)

Children are ids of earlier rows, in the canonical order, so two filters that mean the same
(`Diffusion  models`, `models diffusion`) get the same id, and a sub-expression shared by
many filters has one id, evaluated once per day (`alerts.search.matcher.PaperIndex`).
An invalid filter keeps its error (message, column).

What is cached and how it is invalidated:

- the table and text -> id (or error) depend only on the query text, the parser and the
  normaliser: each record of the file carries `VERSION` (this table's format,
  `query.LANGUAGE_VERSION` and `textnorm.NORMALISER_VERSION`) and the Python version (a
  record is `marshal` data: fast to read, written and read only by this service); records
  of any other version are ignored, so bumping either version recompiles every filter;
- the store is bounded: past `limit` texts it starts again from empty (its `generation`
  changes, which tells an index to forget what it evaluated by id);
- the file is a log shared by the workers, under a lock: `save` appends one record with
  the filters this process compiled since its last save (their rows only), after reading
  the records others appended since (`load` reads them all, and rewrites the file as one
  record when it holds several). A save never reads the whole file back: at a million
  subscribers the file holds about 320,000 filters, and holding them twice in a worker
  while merging cost it over 100 MB at every save.

Pure module: no Django imports.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import re
import secrets
import struct
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from alerts.core.caches import BoundedDict
from alerts.core.collector import collector_paused
from alerts.search import query, textnorm
from alerts.search.query import (
    MAX_NESTING,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    And,
    Author,
    Category,
    Node,
    Not,
    Or,
    Prefix,
    QueryError,
    Text,
)

__all__ = ["VERSION", "FilterStore"]

FORMAT = 2  # bump when the rows' layout changes
VERSION = (FORMAT, query.LANGUAGE_VERSION, textnorm.NORMALISER_VERSION)
_PYTHON = tuple(sys.version_info[:2])
# Distinct filter texts kept: a million subscribers write about 320,000 (bench/results/match.md).
DEFAULT_LIMIT = 2_000_000

Row = tuple
# Parsed chunks kept in memory while compiling (a day's filters share their words).
CHUNK_LIMIT = 200_000
# The file: this tag and a random name (new at every rewrite), then records, each this tag
# and the length of its marshal data, then the data.
_NAME_BYTES = 16
_HEADER = struct.Struct(f"<4s{_NAME_BYTES}s")
_FILE_TAG = b"PAFF"
_RECORD = struct.Struct("<4sQ")
_TAG = b"PAFS"

# The fast path of `compile` reads a filter as chunks: a parenthesis, a phrase (possibly
# with a field or a "-" before it), a word, or a stray quote (which sends the filter to the
# full parser).
_CHUNK_RE = re.compile(r'[()]|[^\s()"]*"[^"]*"|[^\s()"]+|"')
_AND, _ANDNOT, _OR, _NOT, _OPEN, _CLOSE = range(1, 7)
_CHUNK_OPERATORS = {"AND": _AND, "ANDNOT": _ANDNOT, "OR": _OR, "NOT": _NOT, "(": _OPEN, ")": _CLOSE}


class FilterStore:
    """Query text -> id of its canonical compiled tree, or its error; the rows of the trees."""

    __slots__ = (
        "_chunks",
        "_file",
        "_ids",
        "_key_ids",
        "_lock",
        "_unsaved",
        "dirty",
        "generation",
        "limit",
        "rows",
        "texts",
    )

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.rows: list[Row] = []
        self.texts: dict[str, int | tuple[str, int]] = {}
        self._ids: dict[Row, int] | None = {}  # row -> id; None until the first new row after `load`
        self.generation = 0
        self.dirty = False
        self._lock = threading.Lock()  # compiling appends rows: one thread at a time
        self._chunks: BoundedDict[str, tuple[Node, int] | None] = BoundedDict(CHUNK_LIMIT)
        self._key_ids: BoundedDict[str, int] = BoundedDict(CHUNK_LIMIT)  # canonical key -> id
        self._unsaved: list[str] = []  # texts compiled here since the last save
        # The file's identity (device, inode) and where its records end, as this store last
        # read it: a save reads only what was appended after.
        self._file: tuple[tuple[int, int], int] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def compile(self, text: str) -> int:
        """The id of the filter's compiled tree (parsed on first sight). Raises `QueryError`."""
        found = self.texts.get(text)
        if found is None:
            with self._lock:
                if len(self.texts) >= self.limit:
                    self.clear()
                try:
                    found = self._intern(self._by_chunks(text) or query.parse(text))
                except QueryError as exc:
                    found = (exc.message, exc.column)
                self.texts[text] = found
                self._unsaved.append(text)
                self.dirty = True
        if type(found) is int:
            return found
        raise QueryError(*found)  # type: ignore[misc]

    # long because it is one small parser, its state in local variables (it runs per filter)
    def _by_chunks(self, text: str) -> Node | None:
        """The canonical tree of a filter built from its chunks, or None unless the filter
        is certainly valid (then the full parser decides, with its error messages).

        Most filters are a few words, phrases and operators, and their words recur across
        subscribers: each chunk (`models`, `ti:"diffusion models"`, `-cat:cs.CV`) is parsed
        once by the full parser and kept; the operators between chunks are applied with the
        parser's precedence (OR < AND, ANDNOT, adjacency < NOT) and its canonical
        combinations, so the tree is the one `parse` gives.
        """
        if len(text) > MAX_QUERY_LENGTH:
            return None
        cache = self._chunks
        operators = _CHUNK_OPERATORS
        stack: list[tuple[list[Node], list[Node], int, bool]] = []
        union: list[Node] = []
        conjunction: list[Node] = []
        pending, negate, expect, terms = 0, False, True, 0
        for chunk in _CHUNK_RE.findall(text):
            operator = operators.get(chunk)
            if operator is None:
                cached = cache.get(chunk, False)
                if cached is False:
                    cached = cache.put(chunk, _parse_chunk(chunk))
                if cached is None:
                    return None
                node, count = cached
                terms += count
                if terms > MAX_TERMS:
                    return None
                if negate:  # NOT before "-word": the parser counts both
                    node = node.child if type(node) is Not and chunk.startswith("-") else Not(node)
            elif operator == _CLOSE:
                if expect or not stack:
                    return None
                node = _group(union, conjunction)
                union, conjunction, pending, negate = stack.pop()
                if negate:
                    node = Not(node)
            elif operator == _NOT:
                negate, expect = not negate, True
                continue
            elif operator == _OR:
                if expect:
                    return None
                union.append(query._combine(And, conjunction))
                conjunction, expect = [], True
                continue
            elif operator == _OPEN:
                if len(stack) == MAX_NESTING:
                    return None
                stack.append((union, conjunction, pending, negate))
                union, conjunction, pending, negate, expect = [], [], 0, False, True
                continue
            else:  # AND, ANDNOT
                if expect:
                    return None
                pending, expect = operator, True
                continue
            conjunction.append(query._negate(node) if pending == _ANDNOT else node)
            pending, negate, expect = 0, False, False
        if expect or stack:
            return None
        return _group(union, conjunction)

    def clear(self) -> None:
        self.rows, self.texts, self._ids = [], {}, {}
        self._unsaved = []
        self._key_ids.clear()
        self.generation += 1
        self.dirty = True

    def _row_id(self, row: Row) -> int:
        ids = self._ids
        if ids is None:  # a loaded store: most days compile nothing new
            ids = self._ids = {row: i for i, row in enumerate(self.rows)}
        found = ids.get(row)
        if found is None:
            found = ids[row] = len(self.rows)
            self.rows.append(row)
        return found

    def _intern(self, node: Node) -> int:
        found = self._key_ids.get(node.key)
        if found is None:
            found = self._key_ids.put(node.key, self._intern_new(node))
        return found

    def _intern_new(self, node: Node) -> int:
        kind = type(node)
        if kind is And or kind is Or:
            sign = "&" if kind is And else "|"
            row: Row = (sign, *(self._intern(child) for child in node.children))  # type: ignore[attr-defined]
        elif kind is Not:
            row = ("-", self._intern(node.child))  # type: ignore[attr-defined]
        elif kind is Text:
            row = ("t", node.field, tuple((w.parts, w.joined) for w in node.words))  # type: ignore[attr-defined]
        elif kind is Prefix:
            row = ("p", node.field, node.prefix)  # type: ignore[attr-defined]
        elif kind is Author:
            row = ("a", node.written, node.given)  # type: ignore[attr-defined]
        elif kind is Category:
            row = ("c", node.archive, node.subject)  # type: ignore[attr-defined]
        else:  # pragma: no cover - parse() builds no other node
            raise TypeError(f"unknown node {node!r}")
        return self._row_id(row)

    def key(self, node_id: int) -> str:
        """The canonical key of a compiled tree, as `alerts.search.query.Node.key` writes it."""
        row = self.rows[node_id]
        sign = row[0]
        if sign == "&" or sign == "|":
            return f"{sign}({','.join(self.key(child) for child in row[1:])})"
        if sign == "-":
            return f"-({self.key(row[1])})"
        if sign == "t":
            return f"t:{row[1]}:{words_key(row[2])}"
        if sign == "p":
            return f"p:{row[1]}:{row[2]}"
        if sign == "a":
            return f"a:{row[1]}|{' '.join(row[2])}"
        return f"c:{row[1]}.{row[2]}" if row[2] else f"c:{row[1]}"

    def leaves(self, node_id: int) -> list[int]:
        """Ids of the positive leaves of a tree (under an even number of negations), in order."""
        found: list[int] = []
        stack = [(node_id, True)]
        rows = self.rows
        while stack:
            current, positive = stack.pop()
            row = rows[current]
            sign = row[0]
            if sign == "-":
                stack.append((row[1], not positive))
            elif sign == "&" or sign == "|":
                stack.extend((child, positive) for child in reversed(row[1:]))
            elif positive:
                found.append(current)
        return found

    # Across runs ------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, limit: int = DEFAULT_LIMIT) -> FilterStore:
        """The store saved at `path`; an empty one when there is none, or no record of this
        version, or it cannot be read (a cache: it is rebuilt, never trusted blindly). A file
        of several records is rewritten as one."""
        store = cls(limit)
        path = Path(path)
        try:
            with _locked(path), open(path, "rb") as handle, collector_paused():  # small tuples, no cycle
                name = _file_name(handle)
                end, records, read = store._read_from(handle, _HEADER.size, adopt=True) if name else (0, 0, 0)
                if records != 1 or read != 1 or end < os.fstat(handle.fileno()).st_size:
                    store._rewrite(path)
                else:
                    store._file = (name, end)
        except OSError:
            pass
        store.dirty = False
        return store

    def save(self, path: Path) -> None:
        """Append to `path` the filters compiled here since the last save, after merging
        what other processes appended since this store last read it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path), self._lock:
            handle = _open_existing(path)
            if handle is None:
                self._rewrite(path)
                return
            with handle:
                name = _file_name(handle)
                if name is None:  # not a store: nothing in it can be read
                    self._rewrite(path)
                    return
                start = _record_at(handle, self._file[1]) if self._file and self._file[0] == name else None
                if start is None:  # another process rewrote the file (or this store never read
                    start = _after_first(handle)  # it): its first record is read by the next load
                end = self._read_from(handle, start)[0]
                handle.seek(end)
                handle.truncate()  # a record cut short by a crash
                if self._unsaved:
                    handle.write(_record(self._export(self._unsaved)))
                    handle.flush()
                self._file = (name, handle.tell())
            self._unsaved = []
            self.dirty = False

    def _read_from(self, handle, start: int, *, adopt: bool = False) -> tuple[int, int, int]:
        """Merge the records of `handle` from `start`, one at a time (with `adopt`, the first
        into a new store as it is: no index reads it yet). Returns where the last whole
        record ends, how many records there were, and how many were read (of this version)."""
        size = os.fstat(handle.fileno()).st_size
        handle.seek(start)
        end, records, read = start, 0, 0
        while True:
            head = handle.read(_RECORD.size)
            if len(head) < _RECORD.size:
                break
            tag, length = _RECORD.unpack(head)
            if tag != _TAG or length > size - handle.tell():
                break
            data = handle.read(length)
            end, records = handle.tell(), records + 1
            saved = _decode(data)
            if saved is None:
                continue
            read += 1
            if adopt and not self.rows and not self.texts:
                self.rows, self.texts = saved
                self._ids = None
                if len(self.texts) > self.limit:
                    self.clear()
            else:
                self._merge(*saved)
        return end, records, read

    def _rewrite(self, path: Path) -> None:
        """Write the whole store to `path` as one record, under a new name (atomically)."""
        name = secrets.token_bytes(_NAME_BYTES)
        data = _HEADER.pack(_FILE_TAG, name) + _record((self.rows, self.texts))
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            self._file = None
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self._file = (name, len(data))
        self._unsaved = []
        self.dirty = False

    def _export(self, texts: list[str]) -> tuple[list[Row], dict[str, int | tuple[str, int]]]:
        """`texts` and the rows they reach, as a table of their own (`_merge` reads it)."""
        rows: list[Row] = []

        def append(row: Row) -> int:
            rows.append(row)
            return len(rows) - 1

        copy = _copier(self.rows, append)
        exported: dict[str, int | tuple[str, int]] = {}
        for text in texts:
            found = self.texts.get(text)
            if found is not None:
                exported[text] = copy(found) if type(found) is int else found
        return rows, exported

    def _merge(self, rows: list[Row], texts: dict[str, int | tuple[str, int]]) -> None:
        copy = _copier(rows, self._row_id)
        for text, found in texts.items():
            if text not in self.texts and len(self.texts) < self.limit:
                self.texts[text] = copy(found) if type(found) is int else found


def _copier(source: list[Row], add: Callable[[Row], int]) -> Callable[[int], int]:
    """A function copying a tree of `source` (by its id) into another table, children
    first, each row once: `add` stores a row there and gives its id."""
    mapped: dict[int, int] = {}

    def copy(node_id: int) -> int:
        found = mapped.get(node_id)
        if found is None:
            row = source[node_id]
            if row[0] in ("&", "|", "-"):
                row = (row[0], *(copy(child) for child in row[1:]))
            found = mapped[node_id] = add(row)
        return found

    return copy


def _group(union: list[Node], conjunction: list[Node]) -> Node:
    return query._combine(Or, [*union, query._combine(And, conjunction)])


def _parse_chunk(chunk: str) -> tuple[Node, int] | None:
    """A chunk's tree and the words it counts against MAX_TERMS; None if it is not valid alone."""
    try:
        node = query.parse(chunk)
    except QueryError:
        return None
    return node, (len(chunk.split()) if '"' in chunk else 1)


def words_key(words: tuple[tuple[tuple[str, ...], str], ...]) -> str:
    """`Text.words_key` of a text row's words: a compound as its parts and joined form."""
    return " ".join(f"{'-'.join(parts)}={joined}" if joined else parts[0] for parts, joined in words)


def _record(table: tuple[list[Row], dict]) -> bytes:
    data = marshal.dumps((VERSION, _PYTHON, *table))
    return _RECORD.pack(_TAG, len(data)) + data


def _decode(data: bytes) -> tuple[list[Row], dict] | None:
    try:
        # Written by `save` only, in the service's own data directory (never user input).
        version, python, rows, texts = marshal.loads(data)  # noqa: S302
    except (EOFError, ValueError, TypeError):
        return None
    if tuple(version) != VERSION or tuple(python) != _PYTHON:
        return None
    return rows, texts


def _open_existing(path: Path):
    try:
        return open(path, "r+b")  # closed by the caller's `with`
    except FileNotFoundError:
        return None


def _file_name(handle) -> bytes | None:
    """The random name `_rewrite` gave the file (a new one at every rewrite: unlike an inode
    number, never reused), or None if it is not a store's file."""
    handle.seek(0)
    head = handle.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    tag, name = _HEADER.unpack(head)
    return name if tag == _FILE_TAG else None


def _record_at(handle, offset: int) -> int | None:
    """`offset` if a record starts there or the file ends there, else None."""
    size = os.fstat(handle.fileno()).st_size
    if offset == size:
        return offset
    if offset < _HEADER.size or offset + _RECORD.size > size:
        return None
    handle.seek(offset)
    return offset if _RECORD.unpack(handle.read(_RECORD.size))[0] == _TAG else None


def _after_first(handle) -> int:
    """Where the file's first record ends (after the header, if it has none)."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(_HEADER.size)
    head = handle.read(_RECORD.size)
    if len(head) < _RECORD.size:
        return _HEADER.size
    tag, length = _RECORD.unpack(head)
    end = _HEADER.size + _RECORD.size + length
    return end if tag == _TAG and end <= size else _HEADER.size


@contextlib.contextmanager
def _locked(path: Path):
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
