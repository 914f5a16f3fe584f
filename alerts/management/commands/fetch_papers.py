import datetime as dt
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from alerts.papers.fetch import SOURCES, papers_fetch_request
from alerts.search import taxonomy


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from None


def _category(value: str) -> str:
    """A category or archive of arXiv's taxonomy, as arXiv writes it (`cs.lg` -> `cs.LG`)."""
    name = taxonomy.archive(value) or taxonomy.category(value)
    if name is None:
        hint = taxonomy.suggest(value)
        raise CommandError(f"not an arXiv category: {value}" + (f" (did you mean {hint}?)" if hint else ""))
    return name


class Command(BaseCommand):
    # Run by cron-like schedulers and scripts that read its output: the system checks (for
    # the web process) would print their warnings ahead of the one summary line.
    requires_system_checks = []
    help = (
        "Fetch new papers and store them. Without --source: the nightly set (arXiv listings for "
        "the categories in use, Hugging Face's daily papers, the configured extra feeds)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", choices=SOURCES, help="fetch only this source")
        parser.add_argument(
            "--category",
            action="append",
            default=[],
            metavar="C",
            help="arXiv category (repeatable); default: the categories in use",
        )
        parser.add_argument("--url", default="", help="fetch this URL instead of the configured one")
        parser.add_argument("--file", type=Path, help="ingest a saved response instead of fetching")
        parser.add_argument(
            "--date", type=_date, help="YYYY-MM-DD: the day to fetch (Hugging Face, API back-fill)"
        )

    def handle(self, *args, source, category, url, file, date, **options):
        category = [_category(c) for c in category]
        if file and not source:
            raise CommandError("--file needs --source, to know how to read the file")
        if url and not source:
            raise CommandError("--url needs --source, to know what the URL serves")
        if category and source not in (None, "arxiv-rss", "arxiv-api"):
            raise CommandError(f"--category applies to arxiv-rss and arxiv-api, not {source}")
        if date and source == "arxiv-rss":
            raise CommandError("--date does not apply to arxiv-rss: a listing is always the latest one")
        report = papers_fetch_request(source=source, categories=category, url=url, file=file, date=date)
        for failure in report.failures:
            self.stderr.write(failure)
        self.stdout.write(report.counts.summary())
        if report.failures:
            sys.exit(1)
