"""Hints for a filter that matches nothing: rewritten queries that would have matched.

Pure: it sees the query's text, a way to count a query's matches among the stored papers
(`count`), and the categories those papers are in. Each hint is a whole query the person
can take as it is, with how many papers it matches; only rewrites that match something
are offered, at most one of each kind, in this order:

- **did you mean `cat:cs.CL`?** a `cat:` that matches nothing, replaced by the nearest
  category the stored papers are in (difflib on the names, same archive first);
- **drop 'for'**: function words (for, of, the, ...) taken out: from a bare list of words
  they are dropped, and a quoted phrase is split where they stood
  (`"diffusion models for robotics"` -> `"diffusion models" robotics`);
- **try OR**: a plain list of words (no operators, no parentheses), each of which matches
  alone but not all together, joined with OR instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alerts.search.query import QueryError

# Short words that carry no topic and make a phrase or a title search fail when written.
FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "the", "of", "for", "in", "on", "at", "to", "with", "by", "from"),
        *("and", "or", "via", "into", "onto", "towards", "toward", "using", "about"),
    }
)
OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT"})
# A term: an optional field, then a quoted phrase or a run of non-space characters.
_TERM = re.compile(r'(?:[A-Za-z]+:\s*)?"[^"]*"?|\S+')
_CATEGORY = re.compile(r"(?<![\w.-])cat:\s*([A-Za-z][\w.*-]*)", re.IGNORECASE)
CATEGORY_CUTOFF = 0.6


@dataclass(frozen=True)
class Hint:
    kind: str  # "category", "function_words", "or"
    message: str  # what to tell the person ("Did you mean cat:cs.CL?")
    query: str  # the rewritten query
    matches: int  # how many stored papers it matches


def _safe_count(count: Callable[[str], int], query: str) -> int:
    try:
        return count(query)
    except QueryError:
        return 0


def _category_hint(text: str, count: Callable[[str], int], categories: Iterable[str]) -> Hint | None:
    known = {c.lower(): c for c in categories}
    for match in _CATEGORY.finditer(text):
        written = match.group(1)
        if _safe_count(count, f"cat:{written}"):
            continue
        archive = written.lower().partition(".")[0]
        own = [c for c in known if c.startswith(archive + ".")]
        close = difflib.get_close_matches(written.lower(), own, n=3, cutoff=CATEGORY_CUTOFF)
        close += difflib.get_close_matches(written.lower(), list(known), n=3, cutoff=CATEGORY_CUTOFF)
        for candidate in dict.fromkeys(close):
            name = known[candidate]
            query = text[: match.start(1)] + name + text[match.end(1) :]
            if matches := _safe_count(count, query):
                return Hint("category", f"Did you mean cat:{name}?", query, matches)
    return None


def _is_function_word(term: str) -> bool:
    return term.lower() in FUNCTION_WORDS


def _without_function_words(text: str) -> tuple[str, list[str]]:
    """`text` with its function words dropped (phrases split where they stood), and the
    words dropped."""
    dropped: list[str] = []
    out: list[str] = []
    for term in _TERM.findall(text):
        head, quote, body = term.partition('"')
        if quote:
            parts: list[list[str]] = [[]]
            words = body.rstrip('"').split()
            if not any(map(_is_function_word, words)):
                out.append(term)
                continue
            for word in words:
                if _is_function_word(word):
                    dropped.append(word)
                    parts.append([])
                else:
                    parts[-1].append(word)
            for piece in (p for p in parts if p):
                words = " ".join(piece)
                out.append(f'{head}"{words}"' if len(piece) > 1 else f"{head}{words}")
        elif _is_function_word(term):
            dropped.append(term)
        else:
            out.append(term)
    return " ".join(out), dropped


def _function_word_hint(text: str, count: Callable[[str], int]) -> Hint | None:
    query, dropped = _without_function_words(text)
    if not dropped or not query.strip():
        return None
    matches = _safe_count(count, query)
    if not matches:
        return None
    words = list(dict.fromkeys(w.lower() for w in dropped))
    named = " and ".join(f"'{w}'" for w in words)
    return Hint("function_words", f"Drop {named}: short words like {named} can stop a match.", query, matches)


def _or_hint(text: str, count: Callable[[str], int]) -> Hint | None:
    written = _TERM.findall(text)
    if any(t in OPERATORS or t[0] in "(-" or ")" in t for t in written):
        return None
    terms = [t for t in written if not _is_function_word(t)]
    if len(terms) < 2:
        return None
    if not all(_safe_count(count, t) for t in terms) or _safe_count(count, " ".join(terms)):
        return None
    query = " OR ".join(terms)
    if matches := _safe_count(count, query):
        return Hint(
            "or", "Try OR: each of these words matches on its own, but no paper has them all.", query, matches
        )
    return None


def hints(text: str, count: Callable[[str], int], categories: Iterable[str]) -> list[Hint]:
    """Rewrites of `text` (a valid query that matched nothing) that match some papers."""
    text = " ".join(text.split())
    found = [
        _category_hint(text, count, categories),
        _function_word_hint(text, count),
        _or_hint(text, count),
    ]
    return [hint for hint in found if hint is not None]
