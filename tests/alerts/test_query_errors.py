"""Every way a filter can be wrong: the message a subscriber sees, and the column it names."""

import time

import pytest

from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import MAX_NESTING, MAX_QUERY_LENGTH, MAX_TERMS, QueryError, categories_of, parse

FIELDS = "the fields are ti:, abs:, au:, cat:, all:"

ERRORS = [
    # (query, message, column)
    ("", "empty query", 1),
    ("   ", "empty query", 1),
    ("(diffusion", "unbalanced parenthesis: '(' is never closed", 1),
    ("(a OR (b AND c)", "unbalanced parenthesis: '(' is never closed", 1),
    ("diffusion)", "unbalanced parenthesis: ')' has no matching '('", 10),
    ("(a) b) c", "unbalanced parenthesis: ')' has no matching '('", 6),
    ("diffusion AND", "dangling operator 'AND': nothing follows it", 11),
    ("diffusion OR", "dangling operator 'OR': nothing follows it", 11),
    ("diffusion ANDNOT", "dangling operator 'ANDNOT': nothing follows it", 11),
    ("diffusion NOT", "dangling operator 'NOT': nothing follows it", 11),
    ("(a OR) b", "dangling operator 'OR': nothing follows it before ')'", 4),
    ("diffusion -", "dangling operator '-': nothing follows it", 11),
    ("a - b", "dangling operator '-': nothing follows it", 3),
    ("AND diffusion", "operator 'AND' has nothing before it", 1),
    ("OR diffusion", "operator 'OR' has nothing before it", 1),
    ("(ANDNOT a)", "operator 'ANDNOT' has nothing before it", 2),
    ("a AND OR b", "operator 'OR' follows 'AND' with nothing between them", 7),
    ("a OR OR b", "operator 'OR' follows 'OR' with nothing between them", 6),
    ("a NOT AND b", "operator 'AND' follows 'NOT' with nothing between them", 7),
    ("()", "empty parentheses", 1),
    ("a ( ) b", "empty parentheses", 3),
    ("title:diffusion", f"unknown field 'title:'; {FIELDS}", 1),
    ("diffusion co:thesis", f"unknown field 'co:'; {FIELDS}", 11),
    ("Mamba: linear-time models", f"unknown field 'Mamba:'; {FIELDS}", 1),
    ("ti:", "'ti:' needs something to search for, as in ti:word, ti:\"a phrase\" or ti:(...)", 1),
    ("x au: OR y", "'au:' needs something to search for, as in au:word, au:\"a phrase\" or au:(...)", 3),
    ('"diffusion models', "unbalanced quote: '\"' is never closed", 1),
    ('ti:"a b" "c', "unbalanced quote: '\"' is never closed", 10),
    ('""', "empty phrase", 1),
    ('ti:"  "', "empty phrase", 4),
    ("diff*usion", "a wildcard '*' can only end a word, as in diffus*", 5),
    ("*", "a wildcard '*' needs letters or digits before it", 1),
    ("ti:*", "a wildcard '*' needs letters or digits before it", 4),
    ('"diffusion mod*"', "a wildcard '*' cannot be used inside a phrase", 15),
    ("cs.L*", "'cs.L*': a wildcard term is letters and digits followed by '*'", 1),
    ("$\\times$", "'$\\times$' has no letters or digits to search for", 1),
    ("a ++", "'++' has no letters or digits to search for", 3),
    (
        "cat:cs..LG",
        "'cs..LG' is not an arXiv category: write one such as cs.LG, or an archive such as cs.*",
        5,
    ),
    ("cat:cs.L*", "'cs.L*' is not an arXiv category: write one such as cs.LG, or an archive such as cs.*", 5),
    ("au:,", "',' has no name to search for", 4),
]


@pytest.mark.parametrize(("query", "message", "column"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_invalid_query_says_what_and_where(query, message, column):
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert (raised.value.message, raised.value.column) == (message, column)
    assert str(raised.value) == f"{message} (column {column})"
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(("query", "message", "column"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_the_matcher_raises_the_same_error(query, message, column):
    index = PaperIndex([PaperDoc("Diffusion models", "", (), ())])
    with pytest.raises(QueryError) as raised:
        index.match(query)
    assert (raised.value.message, raised.value.column) == (message, column)
    # the second time comes from the cache, with the same message
    with pytest.raises(QueryError, match="column"):
        index.match(query)


def test_limits_are_checked_before_any_work():
    started = time.perf_counter()
    cases = [
        ("diffusion " * 1000, f"query is too long: 10000 characters, at most {MAX_QUERY_LENGTH}", 1001),
        (
            "(" * 1000 + "a" + ")" * 1000,
            f"query is too long: 2001 characters, at most {MAX_QUERY_LENGTH}",
            1001,
        ),
        ("(" * 400 + "a" + ")" * 400, f"too deeply nested: at most {MAX_NESTING} levels of parentheses", 21),
        ("-" * 900 + "a", None, None),  # 900 negations: no recursion, an even count cancels out
        (" ".join(["w"] * (MAX_TERMS + 1)), f"too many terms: at most {MAX_TERMS}", 2 * MAX_TERMS + 1),
        ('"' + " ".join(["w"] * (MAX_TERMS + 1)) + '"', f"too many terms: at most {MAX_TERMS}", 1),
    ]
    for query, message, column in cases:
        if message is None:
            assert parse(query).key == "t:tiabs:a"
            continue
        with pytest.raises(QueryError) as raised:
            parse(query)
        assert (raised.value.message, raised.value.column) == (message, column)
    assert time.perf_counter() - started < 1.0
    # at the limits, still valid
    parse("(" * MAX_NESTING + "a" + ")" * MAX_NESTING)
    parse(" ".join(["w"] * MAX_TERMS))
    parse("x" * MAX_QUERY_LENGTH)


def test_query_error_survives_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(QueryError("empty query", 1)))  # noqa: S301 (our own bytes)
    assert (error.message, error.column, str(error)) == ("empty query", 1, "empty query (column 1)")


def test_categories_of_names_the_listings_to_fetch():
    assert categories_of("cat:cs.lg OR cat:hep-th OR (cat:math.* diffusion) all:stat.ML -cat:cs.CV") == {
        "cs.LG",
        "hep-th",
        "math",
        "stat.ML",
        "cs.CV",
    }
    assert categories_of("cat:cond-mat.mes-hall cat:astro-ph.CO") == {"cond-mat.mes-hall", "astro-ph.CO"}
    assert categories_of("diffusion models") == set()
    with pytest.raises(QueryError):
        categories_of("cat:")
