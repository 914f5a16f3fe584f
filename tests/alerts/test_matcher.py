"""The matcher's interface as the sign-up preview and the digest pipeline use it."""

import pytest

from alerts.search.compiled import FilterStore
from alerts.search.matcher import Hit, PaperDoc, PaperIndex, iter_bits
from alerts.search.query import QueryError
from alerts.search.textnorm import highlight_spans

DOCS = [
    PaperDoc(
        "Sparse attention for long contexts",
        "We study diffusion of information in transformers.",
        ("Yann LeCun",),
        ("cs.LG",),
    ),
    PaperDoc(
        "Diffusion models for images", "Score-based diffusion models.", ("Bernhard Schölkopf",), ("cs.CV",)
    ),
    PaperDoc(
        "Robot grasping", "A self-supervised policy learns grasps.", ("Adrian Del Maestro",), ("cs.RO",)
    ),
    PaperDoc("Graph neural networks", "Message passing on graphs.", ("Fei-Fei Li",), ("cs.LG", "stat.ML")),
]


@pytest.fixture
def index() -> PaperIndex:
    return PaperIndex(DOCS)


def test_match_is_a_bitset_over_the_docs(index):
    assert len(index) == 4
    assert index.match("diffusion") == 0b0011
    assert list(iter_bits(index.match("cat:cs.LG"))) == [0, 3]
    assert index.match("-cat:cs.LG") == 0b0110
    assert index.match("nothing-like-this") == 0


def test_an_invalid_filter_raises_its_error_and_the_others_still_match(index):
    queries = ["diffusion", "(diffusion", "Diffusion", "diffusion", "au:lecun", "title:x", "(diffusion"]
    matches: dict[str, int] = {}
    errors: dict[str, QueryError] = {}
    for query in queries:
        try:
            matches[query] = index.match(query)
        except QueryError as exc:
            errors[query] = exc
    assert matches == {"diffusion": 0b0011, "Diffusion": 0b0011, "au:lecun": 0b0001}
    assert set(errors) == {"(diffusion", "title:x"}
    assert str(errors["(diffusion"]) == "unbalanced parenthesis: '(' is never closed (column 1)"
    assert errors["title:x"].column == 1


def test_compile_is_memoised_by_text_and_by_meaning(index):
    first = index.compile("diffusion models")
    assert index.compile("diffusion models") is first
    assert index.compile("Models   DIFFUSION") is first  # same canonical form
    assert index.compile("diffusion AND models").bits == first.bits == 0b0010
    assert first.key == "&(t:tiabs:diffus,t:tiabs:model)"
    with pytest.raises(QueryError):
        index.compile("diffusion AND")


def test_hits_rank_title_matches_first_then_doc_order(index):
    hits = index.hits("diffusion")
    assert [h.doc for h in hits] == [1, 0]  # in the title and the abstract, then the abstract only
    assert hits[0] == Hit(doc=1, score=3.0, terms=("diffus",))
    assert hits[1] == Hit(doc=0, score=1.0, terms=("diffus",))
    assert index.hits("cat:cs.LG") == [Hit(0, 1.0, ()), Hit(3, 1.0, ())]  # a tie: doc order
    assert index.hits("diffusion", mask=0b0001) == [hits[1]]
    assert index.hits("diffusion", mask=0) == []
    assert index.hits("diffusion")[0] is hits[0]  # computed once, then cached


def test_hits_count_only_the_terms_that_are_wanted(index):
    (hit,) = index.hits("(diffusion OR grasping) -cat:cs.LG ti:models")
    assert hit.doc == 1
    assert set(hit.terms) == {"diffus", "model"}  # the negated category adds nothing
    (hit,) = index.hits("self-supervised au:del_maestro")
    assert hit.terms == ("self", "supervis", "selfsupervis")
    assert hit.score == 2.0  # abstract (1) + author (1)
    abstract = DOCS[hit.doc].abstract
    assert [abstract[a:b] for a, b in highlight_spans(abstract, hit.terms)] == ["self-supervised"]


def test_prefix_terms_highlight_what_they_matched(index):
    (hit,) = index.hits("gras*")
    title = DOCS[hit.doc].title
    assert hit.terms == ("gras*",)
    assert [title[a:b] for a, b in highlight_spans(title, hit.terms)] == ["grasping"]


def test_iter_bits():
    assert list(iter_bits(0)) == []
    assert list(iter_bits(0b1011)) == [0, 1, 3]
    assert list(iter_bits(1 << 2999)) == [2999]
    with pytest.raises(ValueError, match="non-negative"):
        list(iter_bits(-1))


def test_an_empty_day_matches_nothing():
    index = PaperIndex([])
    assert index.match("diffusion") == 0
    assert index.match("-diffusion") == 0
    assert index.hits("diffusion") == []


def test_two_word_phrases_matched_together_find_what_each_finds_alone():
    """A batch looks its two-word phrases up in one pass over each field: a phrase with a
    word the day does not have finds nothing, even beside one whose first word ends a text;
    a word that is also the joined form of a compound of the text is found both ways."""
    docs = [
        PaperDoc("alpha beta", "One self-supervised model.", (), ()),
        PaperDoc("gamma alpha", "A selfsupervised model, a self supervised one.", (), ()),
    ]
    queries = [
        '"alpha beta"',
        '"zzz qqq"',
        '"alpha zzz"',
        '"zzz alpha"',
        '"selfsupervised model"',
        '"supervised model"',
        '"supervised one"',
        '"one selfsupervised"',
    ]
    together = PaperIndex(docs).match_many(queries)
    assert together == {query: PaperIndex(docs).match(query) for query in queries}
    assert together['"zzz qqq"'] == together['"alpha zzz"'] == 0
    assert together['"selfsupervised model"'] == 0b11
    assert together['"one selfsupervised"'] == 0b01


def test_a_batch_finds_the_same_as_most_of_its_store_or_as_a_few_of_a_big_one():
    """A batch that is most of its store walks the store's ids; a few filters of a big
    store are searched from: both find what each filter finds alone."""
    words = ("diffusion", "models", "graph*", '"message passing"', "au:lecun", "cat:cs.LG", "self-supervised")
    queries = [
        *(f"{a} {b}" for a in words for b in words if a != b),
        *(f"({a} OR {b}) -{c}" for a in words for b in words for c in words[:3] if len({a, b, c}) == 3),
    ]
    alone = {query: PaperIndex(DOCS).match(query) for query in queries}
    store = FilterStore()
    assert PaperIndex(DOCS, filters=store).match_many(queries) == alone
    assert len(store.rows) < 8 * len(queries)  # most of the store: walked
    few = queries[::50]
    assert PaperIndex(DOCS, filters=store).match_many(few) == {query: alone[query] for query in few}


def all_caches(index: PaperIndex) -> list:
    fields = (index._title, index._abstract)
    return [
        *(index._bits, index._compiled),
        *(index._compiled_by_key, index._leaf_scores, index._terms),
        *(cache for field in fields for cache in (field._phrases, field._prefixes)),
    ]


def test_a_long_lived_index_keeps_its_caches_within_their_bytes_and_still_answers_the_same():
    words = ("diffusion", "attention", "graph*", "grasping", "models", "sparse", "self-supervised")
    queries = [
        *(q for w in words for q in (w, f"ti:{w}", f"{w} -cat:cs.CV", f"({w} OR robot) cat:cs.*")),
        *('"diffusion models"', '"sparse attention"', '"message passing"', 'abs:"self-supervised policy"'),
        "graph* AND NOT (",
        "au:",  # invalid: their errors are cached too
    ]

    def answers(index: PaperIndex) -> list:
        found = []
        for q in queries:
            try:
                found.append((index.match(q), index.hits(q), index.top_hits(q, 2)))
            except QueryError as exc:
                found.append(str(exc))
        return found

    expected = answers(PaperIndex(DOCS))
    index = PaperIndex(DOCS, cache_bytes=40_000)
    for _ in range(2):  # the second round finds most of its queries forgotten
        assert answers(index) == expected
    caches = all_caches(index)
    for cache in caches:
        assert 0 <= cache.used <= cache.budget
        assert cache.used == sum(cache.size_of(key, value) for key, value in cache.items())
    assert sum(cache.budget for cache in caches) <= 40_000
    assert len(index._bits) < len(index.filters.rows)  # some were dropped
