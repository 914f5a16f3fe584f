"""Ranking a subscriber's matched papers: relevance first, then trending, then recency.

Pure: it sees only numbers and names. The weights are tuned so that relevance decides
between a paper that matches well and one that barely matches, while upvotes and recency
order papers of similar relevance.

A paper's score is `relevance + EXTRA_FILTER_WEIGHT * (filters - 1) + trending_bonus(upvotes)
+ recency_bonus(recency)`; the two bonuses depend on the paper (and the digest's window)
only, so a run computes them once per paper, not once per subscriber (`rank`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Upvotes count logarithmically: a paper with 100 upvotes gains this much, one with 10 half.
TRENDING_WEIGHT = 1.0
# The newest paper of the window gains this much over the oldest.
RECENCY_WEIGHT = 0.5
# Each filter matched beyond the best one adds this (a paper several topics agree on).
EXTRA_FILTER_WEIGHT = 0.5

_LOG_101 = math.log1p(100)


def trending_bonus(upvotes: int) -> float:
    return TRENDING_WEIGHT * math.log1p(max(upvotes, 0)) / _LOG_101


def recency_bonus(recency: float) -> float:
    """`recency`: 0 = the oldest moment of the window, 1 = the newest."""
    return RECENCY_WEIGHT * recency


def rank(
    candidates: Mapping[int, Sequence], trending: Sequence[float], recency: Mapping[int, float], limit: int
) -> list[tuple[float, int]]:
    """The best `limit` candidates as `(score, doc)`, best first; ties broken by doc
    (stable, repeatable). `candidates`: {doc: (best single-filter relevance, the filters
    that matched, ...)}; `trending` and `recency`: each doc's bonuses (see above).
    When more match than fit, the slots are shared fairly (`fair_share`)."""
    extra = EXTRA_FILTER_WEIGHT
    scored = [
        (-(entry[0] + extra * (len(entry[1]) - 1) + trending[doc] + recency[doc]), doc)
        for doc, entry in candidates.items()
    ]
    scored.sort()
    if len(scored) > limit:
        scored = fair_share(scored, candidates, limit)
    return [(-negative, doc) for negative, doc in scored[:limit]]


def fair_share(
    scored: list[tuple[float, int]], candidates: Mapping[int, Sequence], limit: int
) -> list[tuple[float, int]]:
    """`limit` of the `scored` docs (best first) such that each filter gets some slots
    before any gets many: in turn, every filter takes its best docs not taken yet, up to
    its share (half the slots, split evenly, at least one each); the best of the rest
    fill what is left. Without it a broad filter pushes a narrow one out of the digest."""
    by_filter: dict[str, list[tuple[float, int]]] = {}
    for entry in scored:
        for name in candidates[entry[1]][1]:
            by_filter.setdefault(name, []).append(entry)
    if len(by_filter) < 2:
        return scored[:limit]
    share = max(1, limit // (2 * len(by_filter)))
    taken: set[int] = set()
    for entries in by_filter.values():  # filters in the order of their best paper
        got = 0
        for entry in entries:
            if got >= share or len(taken) >= limit:
                break
            if entry[1] not in taken:
                taken.add(entry[1])
                got += 1
    for entry in scored:
        if len(taken) >= limit:
            break
        taken.add(entry[1])
    return [entry for entry in scored if entry[1] in taken]


# A trending-only digest: a paper first seen at the end of the window needs a tenth of the
# upvotes of one first seen at its start to rank beside it (upvotes accrue over days, so
# raw counts would fill the digest with the same old papers).
TRENDING_ONLY_RECENCY_WEIGHT = TRENDING_WEIGHT * math.log(10) / _LOG_101


def trending_only_score(upvotes: int, recency: float) -> float:
    """The order of a trending-only digest: `trending_bonus(upvotes) +
    TRENDING_ONLY_RECENCY_WEIGHT * recency` = (log(1 + upvotes) + log(10) * recency) / log(101)
    (`recency` 0 = the oldest moment of the window, 1 = the newest)."""
    return trending_bonus(upvotes) + TRENDING_ONLY_RECENCY_WEIGHT * max(0.0, min(1.0, recency))


def trending(upvotes_by_doc: dict[int, int], exclude: set[int], limit: int) -> list[int]:
    """The most upvoted docs (at least one upvote), most first, leaving out `exclude`."""
    ranked = sorted(
        (doc for doc, votes in upvotes_by_doc.items() if votes > 0 and doc not in exclude),
        key=lambda doc: (-upvotes_by_doc[doc], doc),
    )
    return ranked[:limit]
