"""python manage.py search_papers "QUERY" [--since YYYY-MM-DD] [--limit N] [--json]"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import unicodedata

from django.core.management.base import BaseCommand, CommandError

from alerts.papers.selectors import PaperSearchHit, papers_search
from alerts.search.query import QueryError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _printable(text: str) -> str:
    """Paper titles are untrusted: no control characters (terminal escapes) reach the screen."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def _as_json(hit: PaperSearchHit) -> dict:
    paper = hit.paper
    return {
        "arxiv_id": paper.arxiv_id,
        "key": paper.key,
        "title": paper.title,
        "score": hit.score,
        "terms": list(hit.terms),
        "authors": paper.authors,
        "categories": paper.categories,
        "announced_on": paper.announced_on.isoformat() if paper.announced_on else None,
        "abs_url": paper.abs_url,
    }


class Command(BaseCommand):
    help = (
        "Search the stored papers with the topic-filter query language, best match first. "
        'A query that starts with "-" goes after --: search_papers -- "-cat:cs.CV diffusion".'
    )

    def add_arguments(self, parser):
        parser.add_argument("query", help="a topic filter, e.g. 'ti:\"diffusion models\" AND cat:cs.LG'")
        parser.add_argument("--since", type=_date, help="only papers announced on or after YYYY-MM-DD")
        parser.add_argument("--limit", type=_positive, default=20, help="at most N papers (default 20)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print a JSON list")

    def handle(self, *args, query: str, since: dt.date | None, limit: int, as_json: bool, **options):
        try:
            hits = papers_search(query=query, since=since, limit=limit)
        except QueryError as exc:
            message = str(exc)
            if "\n" not in query and len(query) <= 200:  # point at the column
                message += f"\n  {query}\n  {' ' * (exc.column - 1)}^"
            raise CommandError(message, returncode=2) from None
        if as_json:
            self.stdout.write(json.dumps([_as_json(hit) for hit in hits], indent=2, ensure_ascii=False))
            return
        for hit in hits:
            self.stdout.write(f"{hit.paper.key}  {hit.score:4.1f}  {_printable(hit.paper.title)}")
        if not hits:
            self.stderr.write("no paper matches")
