"""python manage.py evaluate_ranking --set PATH [--json]"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from alerts.search.evaluation import SetError, evaluate, load_set, report_lines


class Command(BaseCommand):
    help = (
        "Replay a labelled set of papers day by day with simulated readers (no database) and print "
        "the personal model's figure beside arxiv-sanity-lite's method measured in the same run."
    )

    # It reads a file and touches neither the database nor the site's settings.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--set", required=True, dest="path", help="labelled set: JSON lines, gzip or not")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the figures as JSON")

    def handle(self, *args, path: str, as_json: bool, **options):
        try:
            papers = load_set(path)
        except SetError as exc:
            raise CommandError(str(exc), returncode=1) from None
        progress = None
        if not as_json and sys.stderr.isatty():

            def progress(message: str) -> None:
                self.stderr.write(f"\r{message}", ending="")

        evaluation = evaluate(papers, progress=progress)
        if progress:
            self.stderr.write("")
        if as_json:
            self.stdout.write(json.dumps(evaluation.as_json(), indent=2))
            return
        for line in report_lines(evaluation):
            self.stdout.write(line)
