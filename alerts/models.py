from django.db import models
from django.db.models import Q
from django.utils import timezone


class Paper(models.Model):
    """One paper, whatever its version or the sources that reported it.

    arXiv papers are keyed by their bare id (no version); items of other feeds by their
    feed guid or link. A newer version or another source updates the row in place.
    """

    class Source(models.TextChoices):
        ARXIV_RSS = "arxiv-rss", "arXiv listing"
        ARXIV_API = "arxiv-api", "arXiv API"
        HF_DAILY = "hf-daily", "Hugging Face daily papers"
        FEED = "feed", "RSS/Atom feed"

    arxiv_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Stable key of an item that is not on arXiv: its feed guid, or its link.
    external_key = models.CharField(max_length=1000, unique=True, null=True, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    # Author name -> affiliations, for the authors the arXiv API reports any for.
    affiliations = models.JSONField(default=dict, blank=True)
    categories = models.JSONField(default=list, blank=True)
    primary_category = models.CharField(max_length=64, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(null=True, blank=True)
    # The date the paper first appeared in a listing; set once, never moved.
    announced_on = models.DateField(null=True, blank=True, db_index=True)
    announce_type = models.CharField(max_length=32, blank=True)
    abs_url = models.URLField(max_length=1000, blank=True)
    pdf_url = models.URLField(max_length=1000, blank=True)
    doi = models.CharField(max_length=255, blank=True)
    journal_ref = models.TextField(blank=True)
    comment = models.TextField(blank=True)
    # Hugging Face upvotes; null when the paper is not on Hugging Face's daily list.
    upvotes = models.IntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    # The feed an external item came from (empty for arXiv).
    feed_url = models.URLField(max_length=1000, blank=True)
    # When this service first stored the paper: digests take papers by this moment, so a
    # paper announced while the service was down still reaches every subscriber.
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(arxiv_id__isnull=False) | Q(external_key__isnull=False),
                name="paper_has_a_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id or self.external_key}: {self.title[:80]}"

    @property
    def key(self) -> str:
        return self.arxiv_id or self.external_key or ""

    @property
    def hf_url(self) -> str:
        if self.arxiv_id and self.upvotes is not None:
            return f"https://huggingface.co/papers/{self.arxiv_id}"
        return ""


class FetchRun(models.Model):
    """One fetch of one source (a listing, an API query, a feed): what was asked, how it ended.

    Written outside the fetch's own transaction, so a failed fetch leaves its row (with the
    error) for the admin while the papers stay exactly as they were.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=16, choices=Paper.Source.choices)
    # What was asked: categories, URL, file, date.
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requests = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # What went wrong without stopping the fetch (a listing arXiv does not have).
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
