"""The topic-filter query language: arXiv's API syntax plus the habits of a search box.

`parse(text)` turns a filter into an AST of `Node`s or raises `QueryError` with the column
of the problem. The grammar, the precedence and every message are documented in
`docs/query-language.md`; in short, from the loosest binding to the tightest:

    OR  <  AND, ANDNOT, adjacency (implicit AND)  <  NOT, leading "-"  <  field:, ( ), "..."

The AST is canonical: leaves hold normalised words (see `alerts.search.textnorm`), AND and OR
are flattened, de-duplicated and sorted, and every node carries `key`, a string that is
equal for two queries exactly when their canonical trees are equal (`Diffusion  models`
and `models diffusion` share one key). The matcher memoises on it.

Pure module: no Django imports; no regular expression is ever built from user input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from alerts.search import taxonomy, textnorm
from alerts.search.textnorm import Word

__all__ = [
    "FIELDS",
    "LANGUAGE_VERSION",
    "MAX_NESTING",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "And",
    "Author",
    "Category",
    "Node",
    "Not",
    "Or",
    "Prefix",
    "QueryError",
    "Text",
    "categories_of",
    "iter_leaves",
    "parse",
    "unknown_categories",
]

# Bump when `parse` gives another tree for some text (grammar, canonical order, leaves):
# compiled filters kept across runs (alerts.search.compiled) are then compiled again.
LANGUAGE_VERSION = 1

MAX_QUERY_LENGTH = 1000  # characters; also TopicFilter.query's max_length
MAX_TERMS = 100  # words, phrases' words included
MAX_NESTING = 20  # levels of parentheses

# Field prefixes a user can write, in the order error messages list them.
FIELDS = ("ti", "abs", "au", "cat", "all")
_FIELD_LIST = ", ".join(f"{f}:" for f in FIELDS)

# Text fields of the AST: title, abstract, or both (a bare word).
TITLE, ABSTRACT, TITLE_OR_ABSTRACT, AUTHORS = "ti", "abs", "tiabs", "au"


class QueryError(ValueError):
    """A filter that cannot be parsed: what is wrong and where (1-based column)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column

    def __reduce__(self):  # picklable (Celery results, multiprocessing)
        return (QueryError, (self.message, self.column))


# AST ------------------------------------------------------------------------------------


class Node:
    """A node of a parsed query. Two nodes are equal when their canonical `key`s are."""

    __slots__ = ("key",)
    key: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key}>"


class Text(Node):
    """Words in a text field, adjacent and in order (one word: a term; several: a phrase).

    `field` is `ti`, `abs` or `tiabs` (title or abstract: a bare word).
    """

    __slots__ = ("field", "words", "words_key")

    def __init__(self, field: str, words: tuple[Word, ...]) -> None:
        self.field = field
        self.words = words
        # A compound is written with its parts and its joined form: self-supervis=selfsupervis.
        self.words_key = " ".join(f"{'-'.join(w.parts)}={w.joined}" if w.joined else w.whole for w in words)
        self.key = f"t:{field}:{self.words_key}"


class Prefix(Node):
    """A word starting with `prefix` (folded, unstemmed) in `field` (`ti`, `abs`, `tiabs`, `au`)."""

    __slots__ = ("field", "prefix")

    def __init__(self, field: str, prefix: str) -> None:
        self.field = field
        self.prefix = prefix
        self.key = f"p:{field}:{prefix}"


class Author(Node):
    """An author whose name has `surname` and, before it, the `given` names in order.

    Names compare written together, without spaces, hyphens or underscores: a run of
    consecutive words of the author's name must read `written` (so `del_maestro`,
    `"Del Maestro"` and `delmaestro` all find Adrian Del Maestro and Adrian DelMaestro).
    Given names appear in order before that run, other names may sit between, and an
    initial matches a name it starts (`y` and `yann`, whichever side has the initial).
    """

    __slots__ = ("given", "surname", "written")

    def __init__(self, surname: tuple[str, ...], given: tuple[str, ...]) -> None:
        self.surname = surname
        self.given = given
        self.written = "".join(surname)
        self.key = f"a:{self.written}|{' '.join(given)}"


class Category(Node):
    """An arXiv category (`cs.LG`: archive `cs`, subject `LG`) or a whole archive (subject "")."""

    __slots__ = ("archive", "subject")

    def __init__(self, archive: str, subject: str) -> None:
        self.archive = archive
        self.subject = subject
        self.key = f"c:{self.name}"

    @property
    def name(self) -> str:
        """`cs.LG`, or the archive alone (`cs`, `hep-th`)."""
        return f"{self.archive}.{self.subject}" if self.subject else self.archive


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child
        self.key = f"-({child.key})"


class _Group(Node):
    __slots__ = ("children",)
    _sign = ""

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children
        self.key = f"{self._sign}({','.join(c.key for c in children)})"


class And(_Group):
    __slots__ = ()
    _sign = "&"


class Or(_Group):
    __slots__ = ()
    _sign = "|"


def _negate(node: Node) -> Node:
    return node.child if isinstance(node, Not) else Not(node)


def _combine(cls: type[_Group], nodes: list[Node]) -> Node:
    """Canonical AND/OR: nested groups of the same kind flattened, duplicates dropped, sorted."""
    if len(nodes) == 1:
        return nodes[0]
    flat: dict[str, Node] = {}
    for node in nodes:
        if type(node) is cls:
            for child in node.children:  # type: ignore[attr-defined]
                flat[child.key] = child
        else:
            flat[node.key] = node
    if len(flat) == 1:
        return next(iter(flat.values()))
    return cls(tuple(flat[k] for k in sorted(flat)))


def iter_leaves(node: Node, positive: bool = True) -> Iterator[tuple[Node, bool]]:
    """Every leaf of the tree with its polarity (False under an odd number of NOTs)."""
    stack = [(node, positive)]
    while stack:
        current, polarity = stack.pop()
        if isinstance(current, Not):
            stack.append((current.child, not polarity))
        elif isinstance(current, _Group):
            stack.extend((child, polarity) for child in reversed(current.children))
        else:
            yield current, polarity


# Lexer ----------------------------------------------------------------------------------

# Kinds of lexemes.
_OPEN, _CLOSE, _OP, _NOT, _FIELD, _TERM, _PHRASE, _END = range(8)
_OPERATORS = {"AND": "AND", "OR": "OR", "ANDNOT": "ANDNOT", "NOT": "NOT"}

_LEXEME_RE = re.compile(r'\s+|(\()|(\))|("[^"]*"?)|([^\s()"]+)')
_CATEGORY_RE = re.compile(r"([a-z]+(?:-[a-z]+)?)(?:\.([a-z]+(?:-[a-z]+)?|\*))?")


class _Lexeme:
    __slots__ = ("column", "kind", "text")

    def __init__(self, kind: int, text: str, column: int) -> None:
        self.kind = kind
        self.text = text
        self.column = column


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    open_columns: list[int] = []
    terms = 0
    for match in _LEXEME_RE.finditer(text):
        opening, closing, phrase, raw = match.groups()
        column = match.start() + 1
        if raw is not None:
            terms = _lex_word(out, raw, column, text[match.end() : match.end() + 1], terms)
        elif phrase is not None:
            if len(phrase) == 1 or not phrase.endswith('"'):
                raise QueryError("unbalanced quote: '\"' is never closed", column)
            terms += max(1, len(phrase.split()))
            if terms > MAX_TERMS:
                raise QueryError(f"too many terms: at most {MAX_TERMS}", column)
            out.append(_Lexeme(_PHRASE, phrase[1:-1], column))
        elif opening is not None:
            open_columns.append(column)
            if len(open_columns) > MAX_NESTING:
                raise QueryError(f"too deeply nested: at most {MAX_NESTING} levels of parentheses", column)
            out.append(_Lexeme(_OPEN, "(", column))
        elif closing is not None:
            if not open_columns:
                raise QueryError("unbalanced parenthesis: ')' has no matching '('", column)
            open_columns.pop()
            out.append(_Lexeme(_CLOSE, ")", column))
    if open_columns:
        raise QueryError("unbalanced parenthesis: '(' is never closed", open_columns[0])
    out.append(_Lexeme(_END, "", len(text) + 1))
    return out


def _lex_word(out: list[_Lexeme], raw: str, column: int, following: str, terms: int) -> int:
    """Append the lexemes of the bare word `raw` (an operator, or a term with its leading
    "-" and field) found at `column`, followed by the character `following`; returns the
    number of terms so far."""
    # A leading "-" negates what follows it directly; "a - b" leaves it dangling.
    while raw.startswith("-"):
        if len(raw) == 1:
            if following in ("(", '"'):
                out.append(_Lexeme(_NOT, "-", column))
                return terms
            raise QueryError("dangling operator '-': nothing follows it", column)
        out.append(_Lexeme(_NOT, "-", column))
        raw = raw[1:]
        column += 1
    operator = _OPERATORS.get(raw)
    if operator is not None:
        out.append(_Lexeme(_NOT if operator == "NOT" else _OP, raw, column))
        return terms
    name, colon, rest = raw.partition(":")
    if colon and name.isalpha() and name.isascii():
        field = name.lower()
        if field not in FIELDS:
            raise QueryError(f"unknown field '{name}:'; the fields are {_FIELD_LIST}", column)
        out.append(_Lexeme(_FIELD, field, column))
        if not rest:
            return terms
        raw = rest
        column += len(name) + 1
    terms += 1
    if terms > MAX_TERMS:
        raise QueryError(f"too many terms: at most {MAX_TERMS}", column)
    out.append(_Lexeme(_TERM, raw, column))
    return terms


# Leaves ---------------------------------------------------------------------------------


def _text_leaf(field: str, lexeme: _Lexeme) -> Node:
    raw = lexeme.text
    if "*" in raw:
        return _prefix_leaf(field, lexeme)
    words = tuple(textnorm.words(raw))
    if not words:
        raise QueryError(f"'{raw}' has no letters or digits to search for", lexeme.column)
    return Text(field, words)


def _prefix_leaf(field: str, lexeme: _Lexeme) -> Node:
    raw = lexeme.text
    if lexeme.kind == _PHRASE:
        raise QueryError("a wildcard '*' cannot be used inside a phrase", lexeme.column + 1 + raw.index("*"))
    star = raw.index("*")
    if star != len(raw) - 1:
        raise QueryError("a wildcard '*' can only end a word, as in diffus*", lexeme.column + star)
    stem = raw[:-1].replace("-", "").replace("'", "").replace("\u2019", "")
    if field == AUTHORS:
        stem = stem.replace("_", "")
    if not stem:
        raise QueryError("a wildcard '*' needs letters or digits before it", lexeme.column + star)
    if not stem.isalnum():
        raise QueryError(f"'{raw}': a wildcard term is letters and digits followed by '*'", lexeme.column)
    return Prefix(field, textnorm.fold(stem))


def _author_leaf(lexeme: _Lexeme) -> Node:
    raw = lexeme.text
    if "*" in raw:
        return _prefix_leaf(AUTHORS, lexeme)
    if "," in raw:  # "LeCun, Y": surname first
        surname_raw, _, given_raw = raw.partition(",")
        surname = textnorm.name_tokens(surname_raw)
        given = textnorm.name_tokens(given_raw)
    else:  # "Yann LeCun", del_maestro: the last word is the surname
        names = raw.split()
        surname = textnorm.name_tokens(names[-1]) if names else []
        given = textnorm.name_tokens(" ".join(names[:-1]))
    if not surname:
        raise QueryError(f"'{raw}' has no name to search for", lexeme.column)
    return Author(tuple(surname), tuple(given))


def _category_leaf(lexeme: _Lexeme, strict: bool = True, unknown: list | None = None) -> Category | None:
    """`cs.LG`, `cs`, `cs.*`: a category or archive of arXiv's taxonomy, as arXiv writes it.

    Anything else raises QueryError with the nearest real one (not `strict`: None). With
    `unknown`, a well-formed name arXiv does not have is collected there instead, as
    (written, suggestion), and kept as a category no paper has."""
    value = lexeme.text.strip()
    match = _CATEGORY_RE.fullmatch(value.lower())
    if match is None:
        if not strict:
            return None
        hint = taxonomy.by_title(value)  # cat:"machine learning"
        advice = (
            f"did you mean cat:{hint}?" if hint else "write one such as cs.LG, or an archive such as cs.*"
        )
        raise QueryError(f"'{value}' is not an arXiv category: {advice}", lexeme.column)
    name, subject = match.group(0), match.group(2)
    found = taxonomy.archive(match.group(1)) if subject in (None, "*") else None
    found = found or (taxonomy.category(name) if subject != "*" else None)
    if found is None:
        if not strict:
            return None
        hint = taxonomy.suggest(value, whole_archive=subject == "*")
        if unknown is None:
            raise QueryError(_unknown_message(value, hint), lexeme.column)
        unknown.append((value, hint))
        found = name
    archive, _, subject = found.partition(".")
    return Category(archive, "" if subject == "*" else subject)


def _unknown_message(value: str, hint: str | None) -> str:
    if hint:
        return f"'{value}' is not an arXiv category: did you mean cat:{hint}?"
    return f"'{value}' is not an arXiv category or archive: see {taxonomy.SOURCE_URL} for the list"


def _leaf(field: str | None, lexeme: _Lexeme, unknown: list | None = None) -> Node:
    if lexeme.kind == _PHRASE and not lexeme.text.strip():
        raise QueryError("empty phrase", lexeme.column)
    if field is None:
        return _text_leaf(TITLE_OR_ABSTRACT, lexeme)
    if field == "ti":
        return _text_leaf(TITLE, lexeme)
    if field == "abs":
        return _text_leaf(ABSTRACT, lexeme)
    if field == "au":
        return _author_leaf(lexeme)
    if field == "cat":
        return _category_leaf(lexeme, unknown=unknown)  # type: ignore[return-value]
    # all: title, abstract, authors, and categories when the value is written like one.
    alternatives = [_text_leaf(TITLE_OR_ABSTRACT, lexeme), _author_leaf(lexeme)]
    if "." in lexeme.text:
        category = _category_leaf(lexeme, strict=False)
        if category is not None:
            alternatives.append(category)
    return _combine(Or, alternatives)


# Parser ---------------------------------------------------------------------------------


class _Parser:
    """Recursive descent; depth is bounded by MAX_NESTING, checked by the lexer."""

    __slots__ = ("lexemes", "position", "unknown")

    def __init__(self, lexemes: list[_Lexeme], unknown: list | None = None) -> None:
        self.lexemes = lexemes
        self.position = 0
        self.unknown = unknown  # see _category_leaf

    def parse(self) -> Node:
        node = self.disjunction(None, None)
        lexeme = self.lexemes[self.position]
        if lexeme.kind != _END:  # only a ")" can stop a top-level disjunction early
            raise QueryError("unbalanced parenthesis: ')' has no matching '('", lexeme.column)
        return node

    def disjunction(self, field: str | None, before: _Lexeme | None) -> Node:
        nodes = [self.conjunction(field, before)]
        lexemes = self.lexemes
        while (lexeme := lexemes[self.position]).kind == _OP and lexeme.text == "OR":
            self.position += 1
            nodes.append(self.conjunction(field, lexeme))
        return _combine(Or, nodes)

    def conjunction(self, field: str | None, before: _Lexeme | None) -> Node:
        nodes = [self.unary(field, before)]
        lexemes = self.lexemes
        while True:
            lexeme = lexemes[self.position]
            kind = lexeme.kind
            if kind == _OP:
                if lexeme.text == "OR":
                    break
                self.position += 1
                node = self.unary(field, lexeme)
                nodes.append(_negate(node) if lexeme.text == "ANDNOT" else node)
            elif kind in (_CLOSE, _END):
                break
            else:  # adjacent: implicit AND
                nodes.append(self.unary(field, None))
        return _combine(And, nodes)

    def unary(self, field: str | None, before: _Lexeme | None) -> Node:
        negations = 0
        lexemes = self.lexemes
        while (lexeme := lexemes[self.position]).kind == _NOT:
            self.position += 1
            negations += 1
            before = lexeme
        node = self.primary(field, before)
        return Not(node) if negations % 2 else node

    def primary(self, field: str | None, before: _Lexeme | None) -> Node:
        lexeme = self.lexemes[self.position]
        kind = lexeme.kind
        if kind in (_TERM, _PHRASE):
            self.position += 1
            return _leaf(field, lexeme, self.unknown)
        if kind == _FIELD:
            self.position += 1
            value = self.lexemes[self.position]
            if value.kind in (_TERM, _PHRASE):
                self.position += 1
                return _leaf(lexeme.text, value, self.unknown)
            if value.kind == _OPEN:
                return self.group(lexeme.text)
            raise QueryError(
                f"'{lexeme.text}:' needs something to search for, "
                f'as in {lexeme.text}:word, {lexeme.text}:"a phrase" or {lexeme.text}:(...)',
                lexeme.column,
            )
        if kind == _OPEN:
            return self.group(field)
        # An operand is missing: say which operator is left without one.
        if kind == _OP:
            if before is None:
                raise QueryError(f"operator '{lexeme.text}' has nothing before it", lexeme.column)
            raise QueryError(
                f"operator '{lexeme.text}' follows '{before.text}' with nothing between them", lexeme.column
            )
        if before is not None:
            where = "nothing follows it" if kind == _END else "nothing follows it before ')'"
            raise QueryError(f"dangling operator '{before.text}': {where}", before.column)
        # Only an empty query gets here: the lexer balanced the parentheses, and group()
        # rejects "()".
        raise QueryError("empty query", 1)

    def group(self, field: str | None) -> Node:
        opening = self.lexemes[self.position]
        self.position += 1
        if self.lexemes[self.position].kind == _CLOSE:
            raise QueryError("empty parentheses", opening.column)
        node = self.disjunction(field, None)
        self.position += 1  # the ")": the lexer checked the balance
        return node


def parse(text: str) -> Node:
    """Parse a filter into its canonical AST; raise `QueryError` when it is not valid."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query is too long: {len(text)} characters, at most {MAX_QUERY_LENGTH}", MAX_QUERY_LENGTH + 1
        )
    if not text.strip():
        raise QueryError("empty query", 1)
    return _Parser(_lex(text)).parse()


def unknown_categories(text: str) -> list[tuple[str, str | None]]:
    """The categories a filter names that arXiv does not have, as (written, suggestion):
    how a filter stored before categories were checked is found and explained. A filter
    wrong in another way names none (its error is another matter)."""
    if len(text) > MAX_QUERY_LENGTH or not text.strip():
        return []
    unknown: list[tuple[str, str | None]] = []
    try:
        _Parser(_lex(text), unknown).parse()
    except QueryError:
        return []
    return unknown


def categories_of(text: str) -> set[str]:
    """The arXiv categories and archives a valid query names (`cat:cs.LG` -> `cs.LG`,
    `cat:cs.*` -> `cs`), so the fetcher knows which listings to fetch. Raises `QueryError`."""
    return {leaf.name for leaf, _ in iter_leaves(parse(text)) if isinstance(leaf, Category)}
