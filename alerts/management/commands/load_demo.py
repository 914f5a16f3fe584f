"""`python manage.py load_demo`: the demo papers, through the real ingestion (`make demo`).

Reads the saved responses in alerts/fixtures/demo/ (an arXiv listing feed and a Hugging
Face daily papers answer) with `fetch_papers --file`, offline. Running it again stores
nothing twice: papers are upserted by their arXiv id.
"""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "fixtures" / "demo"
# The listing first, as at night; Hugging Face's upvotes then land on papers already stored.
DEMO_FILES = (("arxiv-rss", "arxiv-listing.xml"), ("hf-daily", "hf-daily-papers.json"))


class Command(BaseCommand):
    help = "Load the demo papers (an arXiv listing and a Hugging Face daily list) from files, offline."

    def handle(self, *args, **options):
        for source, name in DEMO_FILES:
            self.stdout.write(f"{name}: ", ending="")
            call_command(
                "fetch_papers", source=source, file=DEMO_DIR / name, stdout=self.stdout, stderr=self.stderr
            )
