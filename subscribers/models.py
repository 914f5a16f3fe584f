from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

MIN_PAPERS, MAX_PAPERS, DEFAULT_PAPERS = 5, 50, 20
MAX_FILTERS = 10


def new_token_secret() -> str:
    return secrets.token_hex(16)


def default_week_day() -> int:
    """The day a new weekly subscription starts on unless its subscriber picks another."""
    return settings.DIGEST_WEEK_START


class SubscriberQuerySet(models.QuerySet):
    def receiving(self) -> SubscriberQuerySet:
        """Those who get digests (see `Subscriber.RECEIVING`)."""
        return self.filter(**Subscriber.RECEIVING)

    def by_email(self, *emails: str) -> SubscriberQuerySet:
        """Those with one of these addresses, whatever their case: addresses are unique
        case-insensitively, so this finds one subscriber per address at most."""
        # The unique index is on LOWER(email); filtering on the same expression uses it.
        return self.alias(email_ci=Lower("email")).filter(email_ci__in=[email.lower() for email in emails])


class Subscriber(models.Model):
    """A person who receives digests. State changes go through subscribers.services only."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    # Who gets digests, defined once: `is_receiving` reads it for one subscriber,
    # `Subscriber.objects.receiving()` for a query. Paused subscribers stay active (their
    # links keep working) but get no digests.
    RECEIVING = {"status": Status.ACTIVE, "paused_at": None}

    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    timezone = models.CharField(max_length=64, default="UTC")
    send_hour = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    # The weekday a weekly digest goes out on (0 = Monday ... 6 = Sunday); daily ones ignore it.
    week_day = models.PositiveSmallIntegerField(
        default=default_week_day, validators=[MinValueValidator(0), MaxValueValidator(6)]
    )
    max_papers = models.PositiveSmallIntegerField(
        default=DEFAULT_PAPERS, validators=[MinValueValidator(MIN_PAPERS), MaxValueValidator(MAX_PAPERS)]
    )
    include_trending = models.BooleanField(default=False)
    send_when_empty = models.BooleanField(default=False)
    # Paused subscribers stay active (their links keep working) but get no digests.
    paused_at = models.DateTimeField(null=True, blank=True)
    # A pause with an end: the dispatch resumes the subscriber once this moment has come.
    paused_until = models.DateTimeField(null=True, blank=True)
    # Mixed into every signed link but the unsubscribe link; replacing it ("sign out
    # everywhere", an unsubscribe) revokes the manage, confirm, feed and browser-view links.
    token_secret = models.CharField(max_length=32, default=new_token_secret, editable=False)
    # Mixed into the unsubscribe link only and never replaced: the unsubscribe link of every
    # digest ever sent keeps working (see subscribers.tokens).
    unsubscribe_secret = models.CharField(max_length=32, default=new_token_secret, editable=False)
    # What a repeated sign-up of this address asked for (preferences, filters), kept apart
    # until a confirmation link's button applies it: anyone can type an address.
    pending_signup = models.JSONField(null=True, blank=True, editable=False)
    # The address the subscriber asked to move to, until a link sent there confirms it;
    # that link is signed over it, so a newer request or the change itself voids it.
    pending_email = models.EmailField(max_length=254, blank=True, default="", editable=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_ci_unique"),
            models.CheckConstraint(condition=Q(send_hour__gte=0, send_hour__lte=23), name="send_hour_0_23"),
            models.CheckConstraint(condition=Q(week_day__lte=6), name="week_day_0_6"),
            models.CheckConstraint(
                condition=Q(max_papers__gte=MIN_PAPERS, max_papers__lte=MAX_PAPERS),
                name="max_papers_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_receiving(self) -> bool:
        return all(getattr(self, field) == value for field, value in self.RECEIVING.items())


class TopicFilter(models.Model):
    """One named query of a subscriber, in the query language of alerts.search.query."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="filters")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=1000)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the subscriber was emailed that this filter names an arXiv category that does
    # not exist (it was saved before categories were checked): they are told once.
    category_notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["subscriber_id", "position", "id"]
        indexes = [models.Index(fields=["is_active", "subscriber"])]

    def __str__(self) -> str:
        # An unnamed filter is named after its query: say it once.
        return self.query if self.name in ("", self.query) else f"{self.name}: {self.query}"


class SubscriberEvent(models.Model):
    """The audit trail: one row per state change of a subscriber, who caused it and why.

    When a subscriber is erased (GDPR), their events stay with the subscriber link and any
    personal detail removed, so counts survive and nothing identifies the person.
    """

    class Kind(models.TextChoices):
        CREATED = "created"
        CONFIRMATION_SENT = "confirmation_sent"
        MANAGE_LINK_SENT = "manage_link_sent"
        CONFIRMED = "confirmed"
        UPDATED = "updated"
        PAUSED = "paused"
        RESUMED = "resumed"
        UNSUBSCRIBED = "unsubscribed"
        RESUBSCRIBED = "resubscribed"
        SUPPRESSED = "suppressed"
        REACTIVATED = "reactivated"
        BOUNCED = "bounced"
        COMPLAINED = "complained"
        ERASED = "erased"
        # A complained address asked to sign up again: nothing was sent (an admin decides).
        SIGNUP_BLOCKED = "signup_blocked"
        # An email to the subscriber could not be sent; detail says why.
        EMAIL_FAILED = "email_failed"
        # The subscriber revoked every link sent so far ("sign out everywhere").
        LINKS_REVOKED = "links_revoked"
        # An address change: asked for (a link sent to the new address), confirmed there,
        # and the notice to the owner of an address that already had a subscription.
        EMAIL_CHANGE_REQUESTED = "email_change_requested"
        EMAIL_CHANGED = "email_changed"
        EMAIL_TAKEN_NOTICE_SENT = "email_taken_notice_sent"

    class Actor(models.TextChoices):
        SUBSCRIBER = "subscriber"
        ADMIN = "admin"
        SYSTEM = "system"
        ESP = "esp"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices, default=Actor.SYSTEM)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subscriber", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.created_at:%Y-%m-%d %H:%M})"


class Vote(models.Model):
    """What a reader said about one paper of a digest: more like this, less like this, or
    save it for later. *More* and *less* exclude each other (the latest press wins); *save*
    stands beside either. The personal model learns from these rows; erasure removes them."""

    class Action(models.TextChoices):
        MORE = "more", "More like this"
        LESS = "less", "Less like this"
        SAVE = "save", "Save"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="votes")
    paper = models.ForeignKey("alerts.Paper", on_delete=models.CASCADE, related_name="+")
    # The digest whose link it came from (kept when that digest row goes).
    digest = models.ForeignKey(
        "alerts.Digest", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Source(models.TextChoices):
        LINK = "link", "A digest's link"
        # A paper the subscriber pasted into "Similar to these papers" (subscribers.similar):
        # a *more like this* that also makes the topic of that kind.
        SEED = "seed", "Similar to these papers"

    action = models.CharField(max_length=8, choices=Action.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LINK)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper", "action"], name="vote_once_per_action"),
        ]
        indexes = [models.Index(fields=["subscriber", "action", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} paper {self.paper_id}"


class Invitation(models.Model):
    """A sign-up link an admin hands out: while it is valid, an address at any domain may
    sign up through it, even when SIGNUP_ALLOWED_DOMAINS restricts sign-up. The link is
    signed (subscribers.tokens.invitation_url) over the id and `secret`."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    note = models.CharField(
        max_length=200,
        blank=True,
        help_text="For the admins only, e.g. who it is for. Never shown to the guest.",
    )
    expires_at = models.DateTimeField(help_text="The link stops working at this time.")
    max_uses = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="How many sign-ups it lets in (each sign-up through it counts one).",
    )
    uses = models.PositiveIntegerField(default=0, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret = models.CharField(max_length=32, default=new_token_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uses__lte=models.F("max_uses")), name="invitation_uses_within_max"
            ),
        ]

    def __str__(self) -> str:
        return self.note or f"Invitation {self.pk}"


class ReaderModel(models.Model):
    """A subscriber's personal model (alerts.search.model.PersonalModel), learnt from their
    votes by subscribers.reader_models and read by the digest; erased with the subscriber."""

    subscriber = models.OneToOneField(
        Subscriber, on_delete=models.CASCADE, primary_key=True, related_name="reader_model"
    )
    # PersonalModel.dumps(): under 20 KB. Empty until a vote says what the reader likes.
    weights = models.BinaryField(default=b"", blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    votes_used = models.PositiveIntegerField(default=0)
    # Set when a retraining is queued and cleared when it starts: the votes that arrive in
    # between queue nothing more, so a flood of votes trains once or a few times.
    queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"model of subscriber {self.subscriber_id} ({self.votes_used} votes)"
