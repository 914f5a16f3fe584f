"""Ranking a subscriber's matched papers: relevance first, then trending, then recency.

Pure: it sees only numbers and names. The weights are tuned so that relevance decides
between a paper that matches well and one that barely matches, while upvotes and recency
order papers of similar relevance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Upvotes count logarithmically: a paper with 100 upvotes gains this much, one with 10 half.
TRENDING_WEIGHT = 1.0
# The newest paper of the window gains this much over the oldest.
RECENCY_WEIGHT = 0.5
# Each filter matched beyond the best one adds this (a paper several topics agree on).
EXTRA_FILTER_WEIGHT = 0.5


@dataclass
class Candidate:
    doc: int  # position in the period index
    relevance: float = 0.0  # best single-filter relevance
    filters: list[str] = field(default_factory=list)  # names of the filters that matched
    terms: set[str] = field(default_factory=set)  # matched terms, for highlighting
    upvotes: int = 0
    recency: float = 0.0  # 0 = oldest in the window, 1 = newest

    def add_match(self, filter_name: str, score: float, terms) -> None:
        self.filters.append(filter_name)
        self.terms.update(terms)
        self.relevance = max(self.relevance, score)

    @property
    def score(self) -> float:
        return (
            self.relevance
            + EXTRA_FILTER_WEIGHT * (len(self.filters) - 1)
            + TRENDING_WEIGHT * math.log1p(max(self.upvotes, 0)) / math.log1p(100)
            + RECENCY_WEIGHT * self.recency
        )


def rank(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The best `limit` candidates, best first; ties broken by position (stable, repeatable)."""
    return sorted(candidates, key=lambda c: (-c.score, c.doc))[:limit]


def trending(upvotes_by_doc: dict[int, int], exclude: set[int], limit: int) -> list[int]:
    """The most upvoted docs (at least one upvote), most first, leaving out `exclude`."""
    ranked = sorted(
        (doc for doc, votes in upvotes_by_doc.items() if votes > 0 and doc not in exclude),
        key=lambda doc: (-upvotes_by_doc[doc], doc),
    )
    return ranked[:limit]
