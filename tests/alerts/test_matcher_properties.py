"""Random corpora and random query trees: the matcher agrees with a slow reference.

The reference below evaluates the test's own query tree paper by paper, with the plainest
reading of the language (docs/query-language.md); only the text normaliser is shared. The
matcher gets the tree rendered as text, so the parser is under test too.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.search import textnorm
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import QueryError

TEXT_WORDS = [
    "model",
    "models",
    "Diffusion",
    "graph",
    "learning",
    "self-supervised",
    "selfsupervised",
    "self",
    "supervised",
    "state-of-the-art",
    "art",
    "Jülich",
    "julich",
    "GPUs",
    "GPU",
    "LLMs",
    "agent",
    "agentic",
    "$\\times$",
    "times",
    "quantum",
    "co-design",
]
QUERY_WORDS = [w for w in TEXT_WORDS if "$" not in w] + ["Schölkopf", "lecun"]
PREFIXES = ["mod", "diff", "self", "sup", "gpu", "ag", "q", "selfsup", "jul", "le"]
AUTHORS = [
    "Yann LeCun",
    "Y. LeCun",
    "Adrian Del Maestro",
    "Adrian DelMaestro",
    "Bernhard Schölkopf",
    "Fei-Fei Li",
    "Tao Li",
    "Laurens van der Maaten",
    "Julich Model",
]
AUTHOR_QUERIES = [
    "lecun",
    "del_maestro",
    "delmaestro",
    '"Del Maestro"',
    '"Yann LeCun"',
    '"LeCun, Y"',
    '"Y LeCun"',
    "scholkopf",
    '"Fei-Fei Li"',
    "feifei",
    "li",
    "van_der_maaten",
    '"Del Maestro, A"',
    '"Laurens Maaten"',
    "lec*",
    "de*",
]
CATEGORIES = ["cs.LG", "cs.CV", "stat.ML", "quant-ph", "math.OC"]
CATEGORY_QUERIES = ["cs.LG", "cs.*", "stat.ML", "quant-ph", "math.*", "cs.cv", "cs"]


# The reference --------------------------------------------------------------------------


def _edges(text: str) -> set[tuple[int, int, str]]:
    """The text as a graph: (start, end, token) for every part and every joined compound."""
    edges = set()
    position = 0
    for w in textnorm.words(text):
        for i, part in enumerate(w.parts):
            edges.add((position + i, position + i + 1, part))
        if w.joined:
            edges.add((position, position + len(w.parts), w.joined))
        position += len(w.parts)
    return edges


def _phrase_in(text: str, query: str) -> bool:
    """Query words one after the other, each as its parts in a row or as one token."""
    edges = _edges(text)
    current = {start for start, _, _ in edges}
    for w in textnorm.words(query):
        following = set()
        for at in current:
            end = at
            for part in w.parts:
                end = end + 1 if (end, end + 1, part) in edges else -1
                if end < 0:
                    break
            if end >= 0:
                following.add(end)
            following.update(e for s, e, token in edges if s == at and token == w.whole)
        current = following
    return bool(current)


def _prefix_in(text: str, prefix: str) -> bool:
    prefix = textnorm.fold(prefix)
    return any(
        surface.startswith(prefix) for w in textnorm.words(text) for surface in (*w.surface, w.joined_surface)
    )


def _same_given(a: str, b: str) -> bool:
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def _author_in(names: tuple[str, ...], query: str) -> bool:
    query = query.strip('"')
    if query.endswith("*"):
        prefix = textnorm.fold(query[:-1].replace("_", ""))
        return any(
            "".join(tokens[start:]).startswith(prefix)
            for tokens in (textnorm.name_tokens(n) for n in names)
            for start in range(len(tokens))
        )
    if "," in query:
        surname_text, given_text = query.split(",", 1)
    else:
        *given_words, surname_text = query.split()
        given_text = " ".join(given_words)
    surname = "".join(textnorm.name_tokens(surname_text))
    given = textnorm.name_tokens(given_text)
    for name in names:
        tokens = textnorm.name_tokens(name)
        for start, end in itertools.combinations(range(len(tokens) + 1), 2):
            if "".join(tokens[start:end]) != surname:
                continue
            # the given names: some choice of earlier tokens, in order
            for chosen in itertools.combinations(tokens[:start], len(given)):
                if all(_same_given(g, t) for g, t in zip(given, chosen, strict=True)):
                    return True
    return False


def _category_in(categories: tuple[str, ...], query: str) -> bool:
    query = query.lower()
    if query.endswith(".*") or "." not in query:
        archive = query.removesuffix(".*")
        return any(c.lower().split(".")[0] == archive for c in categories)
    return any(c.lower() == query for c in categories)


def _text_in(paper: PaperDoc, field: str | None, kind: str, value: str) -> bool:
    check = _prefix_in if kind == "prefix" else _phrase_in
    value = value.rstrip("*") if kind == "prefix" else value
    if field == "ti":
        return check(paper.title, value)
    if field == "abs":
        return check(paper.abstract, value)
    return check(paper.title, value) or check(paper.abstract, value)


def reference(tree: tuple, paper: PaperDoc) -> bool:
    kind = tree[0]
    if kind == "and":
        return all(reference(child, paper) for child in tree[1])
    if kind == "or":
        return any(reference(child, paper) for child in tree[1])
    if kind == "not":
        return not reference(tree[1], paper)
    if kind == "author":
        return _author_in(paper.authors, tree[1])
    if kind == "category":
        return _category_in(paper.categories, tree[1])
    field, value = tree[1], tree[2]
    matched = _text_in(paper, field, kind, value)
    if field == "all":  # all: also searches the authors (a name written like the value)
        matched = matched or _author_in(paper.authors, value)
    return matched


# Random corpora and query trees ---------------------------------------------------------

papers = st.builds(
    PaperDoc,
    title=st.lists(st.sampled_from(TEXT_WORDS), max_size=5).map(" ".join),
    abstract=st.lists(st.sampled_from(TEXT_WORDS), max_size=14).map(" ".join),
    authors=st.lists(st.sampled_from(AUTHORS), max_size=3, unique=True).map(tuple),
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True).map(tuple),
)
fields = st.sampled_from([None, "ti", "abs", "all"])
leaves = st.one_of(
    st.tuples(st.just("term"), fields, st.sampled_from(QUERY_WORDS)),
    st.tuples(
        st.just("phrase"),
        fields,
        st.lists(st.sampled_from(QUERY_WORDS), min_size=2, max_size=3).map(" ".join),
    ),
    st.tuples(
        st.just("prefix"),
        st.sampled_from([None, "ti", "abs"]),
        st.sampled_from(PREFIXES).map(lambda p: p + "*"),
    ),
    st.tuples(st.just("author"), st.sampled_from(AUTHOR_QUERIES)),
    st.tuples(st.just("category"), st.sampled_from(CATEGORY_QUERIES)),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("not"), children),
    ),
    max_leaves=7,
)


def render(tree: tuple, draw) -> str:
    """The tree as a user might type it, with every group in parentheses."""
    kind = tree[0]
    if kind in ("and", "or"):
        parts = [render(child, draw) for child in tree[1]]
        parts = [p if tree[1][i][0] not in ("and", "or") else f"({p})" for i, p in enumerate(parts)]
        if kind == "or":
            return " OR ".join(parts)
        return draw(st.sampled_from([" AND ", " "])).join(parts)
    if kind == "not":
        inner = render(tree[1], draw)
        if tree[1][0] in ("and", "or"):
            inner = f"({inner})"
        return draw(st.sampled_from(["NOT ", "-"])) + inner
    if kind == "author":
        return f"au:{tree[1]}"
    if kind == "category":
        return f"cat:{tree[1]}"
    field, value = tree[1], tree[2]
    if kind == "phrase":
        value = f'"{value}"'
    return f"{field}:{value}" if field else value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=st.lists(papers, min_size=1, max_size=8), tree=trees, data=st.data())
def test_matcher_agrees_with_the_reference(corpus, tree, data):
    query = render(tree, data.draw)
    index = PaperIndex(corpus)
    expected = sum(1 << i for i, paper in enumerate(corpus) if reference(tree, paper))
    assert index.match(query) == expected, query
    assert index.compile(query).bits == expected, query


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=st.lists(papers, min_size=1, max_size=8),
    forest=st.lists(trees, min_size=1, max_size=12),
    first=st.integers(min_value=0, max_value=12),
    data=st.data(),
)
def test_many_filters_at_once_agree_with_the_reference(corpus, forest, first, data):
    """`match_many` (a day's filters in one pass, two-word phrases batched) finds what the
    reference finds, on a fresh index and on one that has evaluated some filters already."""
    queries = [render(tree, data.draw) for tree in forest]
    expected = {
        query: sum(1 << i for i, paper in enumerate(corpus) if reference(tree, paper))
        for query, tree in zip(queries, forest, strict=True)
    }
    assert PaperIndex(corpus).match_many(queries) == expected
    index = PaperIndex(corpus)
    for query in queries[:first]:
        index.match(query)
    assert index.match_many([*queries, *queries]) == expected
    assert {query: index.match(query) for query in queries} == expected


def test_many_filters_leave_the_invalid_ones_out_and_match_raises_their_error():
    index = PaperIndex([PaperDoc("Diffusion models", "Graph learning", ("Yann LeCun",), ("cs.LG",))])
    found = index.match_many(['"diffusion models"', "ti:(", "graph -diffusion", '"learning graph"'])
    assert found == {'"diffusion models"': 1, "graph -diffusion": 0, '"learning graph"': 0}
    with pytest.raises(QueryError, match="never closed"):
        index.match("ti:(")


@settings(max_examples=100, deadline=None)
@given(corpus=st.lists(papers, min_size=1, max_size=6), tree=trees, data=st.data())
def test_every_hit_is_a_match_and_scores_rank_it(corpus, tree, data):
    query = render(tree, data.draw)
    index = PaperIndex(corpus)
    hits = index.hits(query)
    assert sorted(hit.doc for hit in hits) == [i for i in range(len(corpus)) if index.match(query) >> i & 1]
    assert [(-h.score, h.doc) for h in hits] == sorted((-h.score, h.doc) for h in hits)


@settings(max_examples=200, deadline=None)
@given(
    corpus=st.lists(papers, min_size=1, max_size=10),
    tree=trees,
    data=st.data(),
    k=st.integers(min_value=0, max_value=6),
    mask=st.integers(min_value=0, max_value=(1 << 10) - 1),
)
def test_the_top_hits_are_the_first_hits_without_scoring_every_match(corpus, tree, data, k, mask):
    query = render(tree, data.draw)
    index = PaperIndex(corpus)
    assert index.top_hits(query, k, mask) == index.hits(query, mask)[:k], query
    assert index.top_hits(query, k) == PaperIndex(corpus).hits(query)[:k], query
