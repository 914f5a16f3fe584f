"""What a developer would reach for instead of alerts.search.matcher, for bench/match.py.

Every engine gets the same analysed text (alerts.search.textnorm's tokens, written out as plain
words), so only the matching differs, and the correctness gate can demand identical
(filter, paper) pairs:

- SQLite FTS5: one in-memory table, one `MATCH` per filter;
- tantivy (tantivy-py): one in-memory index, one query per filter;
- a naive loop: every filter checked against every paper in Python.

A filter is first translated from our AST (alerts.search.query.parse) into each engine's query;
a filter an engine cannot express raises `Unsupported` with the reason, and the
benchmark leaves it out of that engine's comparison and counts it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import tantivy

from alerts.search import textnorm
from alerts.search.query import And, Author, Category, Node, Not, Or, Prefix, Text, parse

FIELDS = ("ti", "abs")
COLUMNS = ("ti", "ti_alias", "ti_surface", "abs", "abs_alias", "abs_surface", "au", "cat")


class Unsupported(Exception):
    """The engine cannot express this filter; the message says why."""


# The analysed papers ---------------------------------------------------------------------


def _runs(tokens: list[str]) -> list[str]:
    return ["".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)]


def _category_tokens(category: str) -> list[str]:
    category = category.lower()
    archive = category.partition(".")[0]
    return [_category_token("cat", category), _category_token("arch", archive)]


def _category_token(kind: str, value: str) -> str:
    return kind + "".join(c if c.isalnum() else "x" for c in value)


def analysed(docs: Sequence) -> list[dict[str, str]]:
    """Each paper as whitespace-separated normalised tokens, per column."""
    rows = []
    for doc in docs:
        row = {}
        for field, text in (("ti", doc.title), ("abs", doc.abstract)):
            words = textnorm.words(text)
            row[field] = " ".join(part for w in words for part in w.parts)
            row[f"{field}_alias"] = " ".join(w.joined for w in words if w.joined)
            row[f"{field}_surface"] = " ".join(s for w in words for s in (*w.surface, w.joined_surface) if s)
        row["au"] = " ".join(run for name in doc.authors for run in _runs(textnorm.name_tokens(name)))
        row["cat"] = " ".join(t for c in doc.categories for t in _category_tokens(c))
        rows.append(row)
    return rows


def compounds(rows: list[dict[str, str]]) -> dict[str, set[str]]:
    """Every joined compound of each text field: a phrase word that is one cannot be translated."""
    return {field: {t for row in rows for t in row[f"{field}_alias"].split()} for field in FIELDS}


# A portable query: what both engines share -------------------------------------------------


@dataclass(frozen=True)
class Term:
    columns: tuple[str, ...]
    token: str


@dataclass(frozen=True)
class Phrase:
    column: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class PrefixOf:
    columns: tuple[str, ...]
    prefix: str


@dataclass(frozen=True)
class Any_:
    children: tuple


@dataclass(frozen=True)
class All_:
    children: tuple


@dataclass(frozen=True)
class Without:
    child: object


def portable(node: Node, known_compounds: dict[str, set[str]]):
    """Our AST in terms both engines have; raises Unsupported."""
    if isinstance(node, And):
        return All_(tuple(portable(c, known_compounds) for c in node.children))
    if isinstance(node, Or):
        return Any_(tuple(portable(c, known_compounds) for c in node.children))
    if isinstance(node, Not):
        return Without(portable(node.child, known_compounds))
    if isinstance(node, Category):
        token = (
            _category_token("cat", node.name.lower())
            if node.subject
            else _category_token("arch", node.archive)
        )
        return Term(("cat",), token)
    if isinstance(node, Author):
        if node.given:
            raise Unsupported("author with given names or initials")
        return Term(("au",), node.written)
    if isinstance(node, Prefix):
        if node.field == "au":
            return PrefixOf(("au",), node.prefix)
        fields = FIELDS if node.field == "tiabs" else (node.field,)
        return PrefixOf(tuple(f"{f}_surface" for f in fields), node.prefix)
    assert isinstance(node, Text)
    fields = FIELDS if node.field == "tiabs" else (node.field,)
    words = node.words
    if len(words) == 1:
        w = words[0]
        if not w.joined:
            return Term(tuple(c for f in fields for c in (f, f"{f}_alias")), w.parts[0])
        return Any_(
            (
                *(Phrase(f, w.parts) for f in fields),
                Term(tuple(c for f in fields for c in (f, f"{f}_alias")), w.joined),
            )
        )
    for f in fields:
        for w in words:
            if w.joined or w.parts[0] in known_compounds[f]:
                raise Unsupported("phrase with a hyphenated word (its joined form has no position)")
    return Any_(tuple(Phrase(f, tuple(w.parts[0] for w in words)) for f in fields))


# SQLite FTS5 ------------------------------------------------------------------------------


class Fts5:
    name = "SQLite FTS5"

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.db = sqlite3.connect(":memory:")
        columns = ", ".join(COLUMNS)
        self.db.execute(f"CREATE VIRTUAL TABLE papers USING fts5({columns}, tokenize='unicode61')")
        placeholders = ", ".join("?" for _ in COLUMNS)
        self.db.executemany(
            f"INSERT INTO papers(rowid, {columns}) VALUES (?, {placeholders})",
            [(i, *(row[c] for c in COLUMNS)) for i, row in enumerate(rows)],
        )
        self.db.commit()

    @staticmethod
    def translate(query) -> str:
        if isinstance(query, Term):
            return f'{{{" ".join(query.columns)}}} : "{query.token}"'
        if isinstance(query, Phrase):
            return f'{query.column} : "{" ".join(query.tokens)}"'
        if isinstance(query, PrefixOf):
            return f'{{{" ".join(query.columns)}}} : "{query.prefix}" *'
        if isinstance(query, Any_):
            if any(isinstance(c, Without) for c in query.children):
                raise Unsupported("OR with a negation")
            return "(" + " OR ".join(Fts5.translate(c) for c in query.children) + ")"
        if isinstance(query, All_):
            positive = [c for c in query.children if not isinstance(c, Without)]
            negative = [c.child for c in query.children if isinstance(c, Without)]
            if not positive:
                raise Unsupported("only negations (FTS5's NOT needs something before it)")
            text = "(" + " AND ".join(Fts5.translate(c) for c in positive) + ")"
            for child in negative:
                text = f"({text} NOT {Fts5.translate(child)})"
            return text
        raise Unsupported("negation alone (FTS5's NOT needs something before it)")

    def run(self, match: str) -> int:
        bits = 0
        for (rowid,) in self.db.execute("SELECT rowid FROM papers WHERE papers MATCH ?", (match,)):
            bits |= 1 << rowid
        return bits


# tantivy ----------------------------------------------------------------------------------


class Tantivy:
    name = "tantivy"

    def __init__(self, rows: list[dict[str, str]]) -> None:
        builder = tantivy.SchemaBuilder()
        for column in COLUMNS:
            builder.add_text_field(column, tokenizer_name="whitespace")
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        writer = self.index.writer(heap_size=100_000_000, num_threads=1)
        for row in rows:
            writer.add_document(tantivy.Document(**row))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.size = len(rows)

    def translate(self, query) -> tantivy.Query:
        q, occur, schema = tantivy.Query, tantivy.Occur, self.schema
        if isinstance(query, Term):
            terms = [q.term_query(schema, c, query.token) for c in query.columns]
            return terms[0] if len(terms) == 1 else q.boolean_query([(occur.Should, t) for t in terms])
        if isinstance(query, Phrase):
            if len(query.tokens) == 1:
                return q.term_query(schema, query.column, query.tokens[0])
            return q.phrase_query(schema, query.column, list(query.tokens))
        if isinstance(query, PrefixOf):
            parts = [q.regex_query(schema, c, query.prefix + ".*") for c in query.columns]
            return parts[0] if len(parts) == 1 else q.boolean_query([(occur.Should, p) for p in parts])
        if isinstance(query, Any_):
            return q.boolean_query([(occur.Should, self.translate(c)) for c in query.children])
        if isinstance(query, All_):
            clauses = [
                (occur.MustNot, self.translate(c.child))
                if isinstance(c, Without)
                else (occur.Must, self.translate(c))
                for c in query.children
            ]
            if all(o == occur.MustNot for o, _ in clauses):
                clauses.append((occur.Must, q.all_query()))
            return q.boolean_query(clauses)
        assert isinstance(query, Without)
        return q.boolean_query([(occur.Must, q.all_query()), (occur.MustNot, self.translate(query.child))])

    def run(self, query: tantivy.Query) -> int:
        bits = 0
        for _score, address in self.searcher.search(query, self.size or 1).hits:
            bits |= 1 << address.doc  # one segment: the doc id is the insertion order
        return bits


# The naive loop ---------------------------------------------------------------------------


@dataclass
class _NaivePaper:
    tokens: dict[str, list[str]]  # field -> stems in order
    spans: dict[str, dict[int, list[tuple[int, str]]]]  # field -> start -> (end, joined compound)
    stems: dict[str, set[str]]
    surfaces: dict[str, set[str]]
    names: list[list[str]]
    categories: set[str]


class NaiveLoop:
    """Each filter parsed once, then checked against each paper with plain Python."""

    name = "naive Python loop"

    def __init__(self, docs: Sequence) -> None:
        self.papers = []
        for doc in docs:
            tokens, spans, stems, surfaces = {}, {}, {}, {}
            for field, text in (("ti", doc.title), ("abs", doc.abstract)):
                words = textnorm.words(text)
                tokens[field], spans[field] = [], {}
                for w in words:
                    if w.joined:
                        spans[field].setdefault(len(tokens[field]), []).append(
                            (len(tokens[field]) + len(w.parts), w.joined)
                        )
                    tokens[field].extend(w.parts)
                stems[field] = {t for w in words for t in (*w.parts, w.joined) if t}
                surfaces[field] = {s for w in words for s in (*w.surface, w.joined_surface) if s}
            self.papers.append(
                _NaivePaper(
                    tokens,
                    spans,
                    stems,
                    surfaces,
                    [textnorm.name_tokens(n) for n in doc.authors],
                    {c.lower() for c in doc.categories},
                )
            )

    def translate(self, text: str) -> Node:
        return parse(text)

    def run(self, node: Node) -> int:
        bits = 0
        for i, paper in enumerate(self.papers):
            if self._check(node, paper):
                bits |= 1 << i
        return bits

    def _check(self, node: Node, paper: _NaivePaper) -> bool:
        if isinstance(node, And):
            return all(self._check(c, paper) for c in node.children)
        if isinstance(node, Or):
            return any(self._check(c, paper) for c in node.children)
        if isinstance(node, Not):
            return not self._check(node.child, paper)
        if isinstance(node, Category):
            if node.subject:
                return node.name.lower() in paper.categories
            return any(c.partition(".")[0] == node.archive for c in paper.categories)
        if isinstance(node, Author):
            return any(_naive_name(tokens, node.written, node.given) for tokens in paper.names)
        fields = FIELDS if node.field in ("tiabs",) else (node.field,)
        if isinstance(node, Prefix):
            if node.field == "au":
                return any(run.startswith(node.prefix) for tokens in paper.names for run in _runs(tokens))
            return any(s.startswith(node.prefix) for f in fields for s in paper.surfaces[f])
        assert isinstance(node, Text)
        words = node.words
        if len(words) == 1 and not words[0].joined:
            return any(words[0].parts[0] in paper.stems[f] for f in fields)
        return any(
            all(t in paper.stems[f] for w in words for t in w.parts[:1])
            and _naive_phrase(paper.tokens[f], paper.spans[f], words)
            for f in fields
        )


def _naive_phrase(tokens: list[str], spans: dict[int, list[tuple[int, str]]], query_words: tuple) -> bool:
    """Try every start: each query word as its parts in a row, or as one token or compound."""
    for start in range(len(tokens)):
        ends = {start}
        for qw in query_words:
            following = set()
            for at in ends:
                if tuple(tokens[at : at + len(qw.parts)]) == qw.parts:
                    following.add(at + len(qw.parts))
                if at < len(tokens) and tokens[at] == qw.whole:
                    following.add(at + 1)
                following.update(end for end, joined in spans.get(at, ()) if joined == qw.whole)
            ends = following
            if not ends:
                break
        if ends:
            return True
    return False


def _naive_name(tokens: list[str], written: str, given: tuple[str, ...]) -> bool:
    for start in range(len(tokens)):
        for end in range(start + 1, len(tokens) + 1):
            if "".join(tokens[start:end]) == written and _naive_given(tokens[:start], given):
                return True
    return False


def _naive_given(before: list[str], given: tuple[str, ...]) -> bool:
    i = 0
    for name in given:
        while i < len(before) and not (
            before[i] == name
            or (len(name) == 1 and before[i].startswith(name))
            or (len(before[i]) == 1 and name.startswith(before[i]))
        ):
            i += 1
        if i == len(before):
            return False
        i += 1
    return True
