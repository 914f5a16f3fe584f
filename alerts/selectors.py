"""Reads of the alerts app: plain functions with keyword-only arguments (`<entity>_<action>`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from alerts.matcher import PaperDoc, PaperIndex
from alerts.models import Paper
from alerts.query import parse


@dataclass(frozen=True, slots=True)
class PaperSearchHit:
    paper: Paper
    score: float
    terms: tuple[str, ...]  # normalised matched terms, for textnorm.highlight_spans


def papers_search(*, query: str, since: dt.date | None = None, limit: int = 20) -> list[PaperSearchHit]:
    """Stored papers matching a topic filter, best first (ties: most recently stored first).

    Raises `alerts.query.QueryError` for an invalid filter, before reading any paper.
    `since` keeps papers announced on or after that date (papers without an announcement
    date, such as feed items, by the day they were first stored).
    """
    parse(query)
    papers = Paper.objects.all()
    if since is not None:
        papers = papers.filter(
            Q(announced_on__gte=since) | Q(announced_on__isnull=True, first_seen_at__date__gte=since)
        )
    ids: list[int] = []
    docs: list[PaperDoc] = []
    for pk, title, abstract, authors, categories in papers.values_list(
        "pk", "title", "abstract", "authors", "categories"
    ).iterator(chunk_size=2000):
        ids.append(pk)
        docs.append(PaperDoc(title, abstract, tuple(authors or ()), tuple(categories or ())))
    hits = PaperIndex(docs).hits(query)[:limit]
    by_id = Paper.objects.in_bulk([ids[hit.doc] for hit in hits])
    return [PaperSearchHit(by_id[ids[hit.doc]], hit.score, hit.terms) for hit in hits]
