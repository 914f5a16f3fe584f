from collections.abc import Iterator

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alerts.core.fields import JSONTextField


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


class Digest(models.Model):
    """One subscriber's digest for one period (their local day, or week). Unique per period.

    Life: pending (dispatched) -> sending (claimed by one worker) -> sent | failed, or
    skipped (nothing to send). A transient ESP error puts a sending digest back to pending
    for a later attempt; `attempts` counts hand-offs to the ESP. A hand-off whose answer was
    lost after the ESP may have taken the message (a read timeout, a dropped connection)
    makes it unknown: the recovery sweep records it as sent on the ESP's evidence, or puts it
    back to pending when none came within DIGEST_UNKNOWN_GRACE.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown"

    # No index of its own: the unique (subscriber, period) index serves every lookup by
    # subscriber, and each index is one more entry written whenever a digest row changes.
    subscriber = models.ForeignKey(
        "subscribers.Subscriber",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="digests",
        db_index=False,
    )
    # The first local day of the period: the day itself (daily) or the week's first day.
    period = models.DateField()
    frequency = models.CharField(max_length=8)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Papers first seen in (window_start, window_end] are candidates. window_end is the
    # dispatch run's moment; window_start is fixed when the digest is composed, at the end
    # of the subscriber's previous delivered digest.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField()
    subject = models.CharField(max_length=255, blank=True)
    paper_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Which claim holds a sending digest, and since when: a claim older than the lease
    # belongs to a worker that died, and the recovery sweep takes it over.
    # Not indexed: a worker reads its claim back by the chunk's ids (alerts.digests.sending).
    claim_id = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Since when the outcome of the last hand-off is unknown (status unknown): the grace
    # period for the ESP's evidence runs from here.
    unknown_since = models.DateTimeField(null=True, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last delivery event an ESP reported (delivered, bounced, opened, ...).
    delivery_status = models.CharField(max_length=16, blank=True)
    # The matches past max_papers, best first, for the browser view (the email only counts
    # them): {"total": how many matched past max_papers, "names": [each distinct list of
    # filter names], "terms": [each distinct list of matched terms], "items": [[paper id,
    # score, place of its names in "names", place of its terms in "terms"], ...]}, at most
    # composing.MORE_KEPT items, ranked on after the matched items. Digests stored before
    # the shared lists have the lists themselves in each item, erased ones empty lists
    # (`more_entries_of` reads every form). One value on the row, not up to a hundred item
    # rows a digest: those rows tripled the database's work per digest
    # (bench/results/pipeline.md). Never counted as sent; written by
    # alerts.digests.composing.more_stored. Kept as JSON text, not jsonb (nothing queries
    # into it; PostgreSQL parsed it into jsonb at every digest's write).
    more_matches = JSONTextField(default=dict, blank=True)

    class Meta:
        ordering = ["-period", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "period"], name="one_digest_per_period"),
        ]
        indexes = [
            models.Index(fields=["status", "period"]),
            models.Index(fields=["subscriber", "status", "window_end"]),
            # The admin home counts today's sent and failed digests from this index alone.
            models.Index(fields=["finished_at", "status"], name="digest_finished_status"),
        ]
        # Pages of the admin beyond the model's own list: being staff is not enough for them.
        permissions = [
            ("preview_digest", "Can preview any subscriber's next digest and send a test copy"),
            ("view_outbox", "Can read the local outbox (every email sent, with its links)"),
            ("resend_digest", "Can send a digest to its subscriber again"),
        ]

    def __str__(self) -> str:
        return f"digest {self.pk} for {self.period} ({self.status})"

    @property
    def more_paper_ids(self) -> list[int]:
        """The papers of `more_matches`, best first."""
        return [entry[0] for entry in (self.more_matches or {}).get("items", ())]

    @staticmethod
    def more_entries_of(stored: dict | None) -> Iterator[tuple[int, float, list[str], tuple[str, ...]]]:
        """(paper id, score, names of the filters that matched it, its terms) of each extra
        match in a `more_matches` value, best first, whichever form it was stored in."""
        stored = stored or {}
        names, terms = stored.get("names", ()), stored.get("terms", ())
        for paper_id, score, which, matched in stored.get("items", ()):
            if isinstance(which, int):
                which = names[which] if which < len(names) else ()
            if isinstance(matched, int):
                matched = terms[matched] if matched < len(terms) else ()
            yield paper_id, score, list(which), tuple(matched)

    def more_matches_erase(self) -> None:
        """Keep the papers and scores of `more_matches` (their count, their feedback links),
        not what says who the reader is: the filter names and the terms."""
        stored = self.more_matches or {}
        self.more_matches = {
            "total": stored.get("total", 0),
            "items": [[entry[0], entry[1], [], []] for entry in stored.get("items", ())],
        }


class DigestItem(models.Model):
    """A paper in a digest, with why it is there. A sent item is never sent again."""

    class Section(models.TextChoices):
        MATCHED = "matched", "Matched"
        TRENDING = "trending", "Trending"
        # Matched but past max_papers: not in the email, listed in its browser view. Digests
        # stored before Digest.more_matches have such items; newer ones keep them there.
        MORE = "more", "More matches (browser view)"
        # No filter matched it; the subscriber's personal model proposed it.
        SIMILAR = "similar", "You may also like"

    # No single-column indexes: the unique (digest, paper) index serves lookups by digest and
    # the (paper, digest) index those by paper; a chunk writes a few thousand item rows, and
    # each index is one more entry per row. No foreign-key constraints in the database
    # either: one checks every inserted row with a locking lookup of its digest and of its
    # paper, and every digest of a run shares the papers. Items are written only by the send
    # path, for digests it has claimed and papers of the period's index, and deleting a
    # digest or a paper goes through the ORM, which deletes their items (tests/alerts/test_models.py).
    digest = models.ForeignKey(
        Digest, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False
    )
    paper = models.ForeignKey(
        Paper, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    section = models.CharField(max_length=8, choices=Section.choices, default=Section.MATCHED)
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField(default=0.0)
    # Names of the subscriber's filters that matched, and the normalised matched terms
    # (lists of strings, kept as JSON text: alerts.core.fields.JSONTextField).
    filters = JSONTextField(default=list, blank=True)
    terms = JSONTextField(default=list, blank=True)

    class Meta:
        ordering = ["digest", "section", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "paper"], name="paper_once_per_digest"),
        ]
        indexes = [models.Index(fields=["paper", "digest"])]

    def __str__(self) -> str:
        return f"#{self.rank} {self.paper_id} in digest {self.digest_id}"


class DigestResend(models.Model):
    """An admin's re-send of a sent digest: the one deliberate second delivery, and its
    audit entry (who asked, when, the new Message-ID, what became of it).

    The digest row itself is left as it was (sent, with its first Message-ID): the normal
    path's exactly-once rules never see a re-send. A re-send is claimed (queued -> sending)
    by one conditional UPDATE and handed to the ESP at most once; it is never retried by
    itself (an admin who wants another asks again).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        REFUSED = "refused", "Refused"  # the subscriber stopped receiving before it went
        FAILED = "failed", "Failed"

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="resends")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text too: the audit entry outlives the admin account.
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    message_id = models.CharField(max_length=255, blank=True)  # the re-sent message's Message-ID
    esp_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "digest re-send"

    def __str__(self) -> str:
        return f"re-send of digest {self.digest_id} by {self.requested_by_name} ({self.status})"


class Incident(models.Model):
    """Something an operator must know about, open from `opened_at` until `closed_at`: a
    source late past its schedule, a stuck digest queue, a jump in the failure rate.

    At most one incident of a kind and key (the source, for a late source) is open at a
    time, so a check repeated every few minutes finds the open one and mails nobody again.
    The admins get one email when it opens and one when it closes (`*_notified_at`)."""

    class Kind(models.TextChoices):
        SOURCE_LATE = "source_late", "Source late"
        QUEUE_STUCK = "queue_stuck", "Digest queue stuck"
        FAILURE_RATE = "failure_rate", "Failure rate high"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=64, blank=True)  # which source; empty for the others
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    # The latest reading while open (how late, how old, which rate), updated by each check.
    last_detail = models.TextField(blank=True)
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    closed_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"], condition=Q(closed_at__isnull=True), name="one_open_incident_per_kind"
            ),
        ]

    def __str__(self) -> str:
        what = self.get_kind_display() + (f" ({self.key})" if self.key else "")
        return f"{what}, {'open' if self.closed_at is None else 'closed'}"


class DeliveryEvent(models.Model):
    """A tracking event from the ESP's webhook (anymail), stored once per ESP event id."""

    esp_name = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=24, db_index=True)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    recipient = models.EmailField(max_length=254, blank=True)
    digest = models.ForeignKey(
        Digest, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    subscriber = models.ForeignKey(
        "subscribers.Subscriber", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["esp_name", "event_id"], name="delivery_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient} ({self.esp_name})"


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
    # Categories in use that this run did not fetch: past ARXIV_MAX_CATEGORIES_PER_RUN,
    # those with the fewest subscribers.
    left_out = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class DailyCount(models.Model):
    """One number of one closed day for the admin home's charts (sign-ups, digests sent,
    bounces...), counted once when the day is over and kept, so the charts never scan a
    month of rows and survive the pruning of old rows. Today is always counted live."""

    day = models.DateField()
    metric = models.CharField(max_length=24)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["day", "metric"], name="one_count_per_day_and_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}: {self.count}"
