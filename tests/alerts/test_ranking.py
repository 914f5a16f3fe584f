"""Ranking shares a digest's slots fairly between filters: a broad filter cannot push a
narrow one out, and a paper two filters agree on ranks higher."""

from __future__ import annotations

from alerts.search import ranking


def ranked(candidates: dict[int, tuple], limit: int) -> list[int]:
    zero = [0.0] * (max(candidates) + 1)
    recency = dict.fromkeys(candidates, 0.0)
    return [doc for _, doc in ranking.rank(candidates, zero, recency, limit)]


def test_a_broad_filter_does_not_push_a_narrow_one_out():
    # 21 strong matches of a broad filter, 6 weaker ones of a narrow filter, 20 slots: the
    # case that sent 2 of 6 robotics papers and said nothing.
    broad = {doc: (2.0 + doc / 100, ["LLMs"], []) for doc in range(21)}
    narrow = {doc: (1.0, ["cs.RO"], []) for doc in range(21, 27)}
    chosen = ranked({**broad, **narrow}, 20)
    assert len(chosen) == 20
    assert sum(doc in narrow for doc in chosen) == 5  # its share: half the slots, split evenly
    assert chosen[:15] == sorted(broad, reverse=True)[:15]  # best first, the broad filter's best kept


def test_every_filter_gets_a_slot_before_any_gets_many():
    candidates = {doc: (5.0 - doc / 10, ["A"], []) for doc in range(10)}
    candidates |= {10 + n: (0.1, [name], []) for n, name in enumerate("BCDEF")}
    chosen = ranked(candidates, 6)
    assert {candidates[doc][1][0] for doc in chosen} == set("ABCDEF")


def test_a_paper_two_filters_match_ranks_above_one_filter_alone():
    candidates = {1: (1.0, ["A"], []), 2: (1.0, ["A", "B"], []), 3: (1.2, ["B"], [])}
    assert ranked(candidates, 3) == [2, 3, 1]


def test_when_everything_fits_nothing_changes():
    candidates = {doc: (float(doc), ["A" if doc % 2 else "B"], []) for doc in range(8)}
    assert ranked(candidates, 20) == list(range(7, -1, -1))


def test_trending_only_order_weighs_upvotes_against_recency():
    # A paper from the window's end needs a tenth of the upvotes of one from its start.
    assert ranking.trending_only_score(9, 1.0) == ranking.trending_only_score(99, 0.0)
    assert ranking.trending_only_score(12, 1.0) > ranking.trending_only_score(99, 0.0)
    assert ranking.trending_only_score(50, 0.5) > ranking.trending_only_score(40, 0.5)  # same age: upvotes
    assert ranking.trending_only_score(5, 2.0) == ranking.trending_only_score(5, 1.0)  # clamped
