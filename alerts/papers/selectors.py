"""Reads of the alerts app: plain functions with keyword-only arguments (`<entity>_<action>`)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from alerts.models import Paper
from alerts.search import taxonomy
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
    hits = PaperIndex(docs).top_hits(query, limit)  # scores only the papers shown
    by_id = Paper.objects.in_bulk([ids[hit.doc] for hit in hits])
    return [PaperSearchHit(by_id[ids[hit.doc]], hit.score, hit.terms) for hit in hits]


@dataclass(frozen=True, slots=True)
class CategoryDemand:
    name: str  # a category (cs.LG) or a whole archive (cs)
    subscribers: int  # active subscribers whose active filters name it (once per filter)
    configured: bool  # named in ARXIV_CATEGORIES


def arxiv_category_demand() -> list[CategoryDemand]:
    """The arXiv listings to fetch, the most wanted first: `ARXIV_CATEGORIES` (the operator's
    choice), then every category or archive an active filter of a confirmed subscriber names
    (`cat:cs.LG`, `cat:math.*`) by how many subscribers name it, then by name.

    A whole archive ("cs") makes its own categories ("cs.LG") redundant: its listing has
    them, and their subscribers count for it. A stored filter that no longer parses (an
    unknown category, say) is skipped and logged, never fatal.
    """
    configured: set[str] = set()
    for written in settings.ARXIV_CATEGORIES:
        name = taxonomy.archive(written) or taxonomy.category(written)
        if name is None:
            logger.warning("ARXIV_CATEGORIES: %r is not an arXiv category; skipped", written)
        else:
            configured.add(name)
    wanted = dict.fromkeys(configured, 0)
    queries = (
        TopicFilter.objects.filter(is_active=True, subscriber__status=Subscriber.Status.ACTIVE)
        .order_by()
        .values("query")
        .annotate(subscribers=Count("subscriber", distinct=True))
    )
    for row in queries.iterator():
        try:
            named = categories_of(row["query"])
        except QueryError as exc:
            logger.warning(
                "topic filter %r does not parse (%s); its categories are not fetched", row["query"], exc
            )
            continue
        for name in named:
            wanted[name] = wanted.get(name, 0) + row["subscribers"]
    for name in [n for n in wanted if "." in n and n.partition(".")[0] in wanted]:
        wanted[name.partition(".")[0]] += wanted.pop(name)
    demand = [CategoryDemand(name, count, name in configured) for name, count in wanted.items()]
    return sorted(demand, key=lambda d: (not d.configured, -d.subscribers, d.name))


def arxiv_categories_in_use() -> list[str]:
    """The names of `arxiv_category_demand()`, the most wanted first."""
    return [demand.name for demand in arxiv_category_demand()]
