import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from alerts.papers.fetch import default_fetcher
from alerts.papers.http import FetchError
from alerts.papers.sources.records import SourceError
from alerts.papers.taxonomy import taxonomy_refresh
from alerts.search import taxonomy


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Write arXiv's category taxonomy (the categories `cat:` accepts) again from "
        "https://arxiv.org/category_taxonomy, and say what changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="read this URL instead of ARXIV_TAXONOMY_URL")
        parser.add_argument("--file", type=Path, help="read a saved copy of the page instead")
        parser.add_argument(
            "--output",
            type=Path,
            default=taxonomy.PATH,
            help=f"the file to write (default: {taxonomy.PATH.name})",
        )

    def handle(self, *args, url, file, output, **options):
        try:
            change = taxonomy_refresh(fetcher=default_fetcher(), url=url, file=file, output=output)
        except (SourceError, FetchError) as exc:
            self.stderr.write(str(exc))
            sys.exit(1)
        self.stdout.write(change.summary())
