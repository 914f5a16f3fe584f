"""Reads of the alerts app: plain functions with keyword-only arguments (`<entity>_<action>`)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from alerts.models import Paper
from alerts.papers.sources.records import is_arxiv_category
from alerts.search.matcher import PaperDoc, PaperIndex
from alerts.search.query import QueryError, categories_of, parse
from subscribers.models import Subscriber, TopicFilter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaperSearchHit:
    paper: Paper
    score: float
    terms: tuple[str, ...]  # normalised matched terms, for textnorm.highlight_spans


def papers_search(*, query: str, since: dt.date | None = None, limit: int = 20) -> list[PaperSearchHit]:
    """Stored papers matching a topic filter, best first (ties: most recently stored first).

    Raises `alerts.search.query.QueryError` for an invalid filter, before reading any paper.
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


def arxiv_categories_in_use() -> list[str]:
    """The arXiv categories to fetch listings for: `ARXIV_CATEGORIES`, and every category or
    archive an active filter of a confirmed subscriber names (`cat:cs.LG`, `cat:math.*`).

    A whole archive ("cs") makes its own categories ("cs.LG") redundant: its listing has
    them. A stored filter that no longer parses is skipped (and logged), never fatal.
    """
    wanted: set[str] = set()
    for category in settings.ARXIV_CATEGORIES:
        if is_arxiv_category(category):
            wanted.add(category)
        else:
            logger.warning("ARXIV_CATEGORIES: %r is not an arXiv category; skipped", category)
    queries = (
        TopicFilter.objects.filter(is_active=True, subscriber__status=Subscriber.Status.ACTIVE)
        .order_by()
        .values_list("query", flat=True)
        .distinct()
    )
    for query in queries.iterator():
        try:
            named = categories_of(query)
        except QueryError as exc:
            logger.warning("topic filter %r does not parse (%s); its categories are not fetched", query, exc)
            continue
        wanted.update(category for category in named if is_arxiv_category(category))
    return sorted(c for c in wanted if "." not in c or c.split(".", 1)[0] not in wanted)
