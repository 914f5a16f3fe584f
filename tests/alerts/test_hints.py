"""Hints for a filter that matches nothing (alerts.search.hints): each is a rewritten
query, offered only when it matches some of the stored papers."""

from __future__ import annotations

import pytest

from alerts.search.hints import hints
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import parse
from subscribers.templatetags.subscribers import QUERY_EXAMPLES

DOCS = [
    PaperDoc(
        "Diffusion models in robotics",
        "We plan robot motions with diffusion models.",
        ("Ada Lovelace",),
        ("cs.RO",),
    ),
    PaperDoc(
        "Speech recognition in noisy rooms", "Acoustic models for speech.", ("Alan Turing",), ("cs.CL",)
    ),
    PaperDoc("Quantum error correction", "Surface codes at scale.", ("Grace Hopper",), ("quant-ph",)),
]
INDEX = PaperIndex(DOCS)
CATEGORIES = {"cs.RO", "cs.CL", "quant-ph"}


def count(query: str) -> int:
    return INDEX.match(query).bit_count()


def found(query: str) -> list[tuple[str, str, int]]:
    assert count(query) == 0  # hints are for queries that matched nothing
    return [(hint.kind, hint.query, hint.matches) for hint in hints(query, count, CATEGORIES)]


def test_a_category_with_no_paper_gets_the_nearest_one_that_has_some():
    assert found("speech cat:cs.CE") == [("category", "speech cat:cs.CL", 1)]
    (hint,) = hints("speech cat:cs.CE", count, CATEGORIES)
    assert hint.message == "Did you mean cat:cs.CL?"


def test_a_function_word_that_blocks_a_phrase_or_a_list_of_words_is_dropped():
    assert found('"diffusion models for robotics"') == [("function_words", '"diffusion models" robotics', 1)]
    assert found('ti:"diffusion models for robotics"') == [
        ("function_words", 'ti:"diffusion models" ti:robotics', 1)
    ]
    assert found("diffusion models for robotics") == [("function_words", "diffusion models robotics", 1)]
    (hint,) = hints("diffusion models for robotics", count, CATEGORIES)
    assert hint.message.startswith("Drop 'for'")


def test_words_that_each_match_alone_but_not_together_get_try_or():
    assert found("speech quantum") == [("or", "speech OR quantum", 2)]
    # Not when a word matches nothing, nor when the query already has operators.
    assert found("speech unicorns") == []
    assert found("(speech quantum)") == []
    assert found("speech AND quantum") == []


def test_no_hint_when_no_rewrite_matches():
    assert found("unicorns") == []
    assert found("cat:math.AG") == []  # nothing near it among the stored papers' categories


@pytest.mark.parametrize("example", QUERY_EXAMPLES)
def test_the_page_s_examples_are_valid_queries(example):
    parse(example)
