"""Every change to a subscriber: sign-up, confirmation, preferences, pause, unsubscribe,
suppression. Each runs in one transaction, locks the subscriber's row, and writes a
SubscriberEvent (the audit trail) with the status before and after.

Emails are never sent here: a Celery task is queued when the transaction commits, so a
rolled-back sign-up sends nothing and a slow mail server never holds up a request.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as djtz

from alerts.core import jobs
from alerts.models import Paper
from subscribers import rules
from subscribers.erasure import subscriber_traces_erase
from subscribers.invitations import invitation_use
from subscribers.models import Invitation, Subscriber, SubscriberEvent, TopicFilter, Vote, new_token_secret
from subscribers.rules import FilterInput
from subscribers.selectors import filters_with_unknown_categories
from subscribers.similar import seeds_set

__all__ = [
    "FilterInput",
    "SignupResult",
    "SubscriptionError",
    "category_notices_queue",
    "confirmation_resend",
    "filter_remove",
    "pause_choices",
    "pause_end",
    "pauses_end",
    "pending_signup_filters",
    "pending_signup_similar",
    "sample_request",
    "subscriber_email_change_confirm",
    "subscriber_email_change_request",
    "subscriber_email_failed",
    "subscriber_erase",
    "subscriber_links_resend",
    "subscriber_links_revoke",
    "subscriber_reactivate",
    "subscriber_suppress",
    "subscription_confirm",
    "subscription_create",
    "subscription_pause",
    "subscription_resume",
    "subscription_unsubscribe",
    "subscription_update",
]

Status = Subscriber.Status
Kind = SubscriberEvent.Kind
Actor = SubscriberEvent.Actor

# A suppressed or unsubscribed address only comes back through a fresh confirmation.
CONFIRMABLE = {Status.PENDING, Status.UNSUBSCRIBED, Status.BOUNCED}


class SubscriptionError(Exception):
    """A state change that is not allowed; `message` says why, for a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SignupResult:
    subscriber: Subscriber | None
    # created | confirmation_sent | manage_link_sent | limited | blocked
    outcome: str


# Helpers ------------------------------------------------------------------------------


def _record(
    subscriber: Subscriber | None,
    kind: str,
    *,
    actor: str,
    from_status: str = "",
    to_status: str = "",
    **detail,
) -> SubscriberEvent:
    return SubscriberEvent.objects.create(
        subscriber=subscriber,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        detail={key: value for key, value in detail.items() if value not in (None, "")},
    )


def _move(subscriber: Subscriber, to: str, kind: str, *, actor: str, now: dt.datetime, **detail) -> None:
    """Change the status, stamp it, save, and record the change."""
    before = subscriber.status
    subscriber.status = to
    subscriber.status_changed_at = now
    fields = ["status", "status_changed_at", "updated_at"]
    if to == Status.ACTIVE:
        subscriber.confirmed_at = now
        subscriber.paused_at = subscriber.paused_until = None
        fields += ["confirmed_at", "paused_at", "paused_until"]
    if to == Status.UNSUBSCRIBED:
        subscriber.unsubscribed_at = now
        fields.append("unsubscribed_at")
    subscriber.save(update_fields=fields)
    _record(subscriber, kind, actor=actor, from_status=before, to_status=to, **detail)


def _locked(subscriber: Subscriber) -> Subscriber:
    """Re-read the subscriber under a row lock: the caller's copy may be stale."""
    return Subscriber.objects.select_for_update().get(pk=subscriber.pk)


def _sent_today(subscriber: Subscriber, kind: str) -> int:
    since = djtz.now() - dt.timedelta(days=1)
    return subscriber.events.filter(kind=kind, created_at__gte=since).count()


# The email each kind of event sends (a task of subscribers.tasks, given the subscriber's id).
EMAIL_TASKS = {
    Kind.CONFIRMATION_SENT: "send_confirmation_email",
    Kind.MANAGE_LINK_SENT: "send_manage_link_email",
    Kind.EMAIL_CHANGE_REQUESTED: "send_email_change_email",
    Kind.EMAIL_TAKEN_NOTICE_SENT: "send_email_taken_notice",
}


def _queue_email(subscriber: Subscriber, kind: str, *, actor: str, reason: str, **detail) -> bool:
    """Queue the email of KIND unless the subscriber had its daily share of that kind."""
    if _sent_today(subscriber, kind) >= settings.SUBSCRIBER_EMAILS_PER_DAY:
        return False
    status = subscriber.status
    _record(subscriber, kind, actor=actor, from_status=status, to_status=status, reason=reason, **detail)
    jobs.enqueue_on_commit(f"subscribers.tasks.{EMAIL_TASKS[kind]}", subscriber.pk)
    return True


def _check_preferences(**values) -> dict:
    """Validate the preference fields that are given (not None); raise ValidationError."""
    checks = {
        "timezone": rules.check_timezone,
        "send_hour": rules.check_send_hour,
        "frequency": rules.check_frequency,
        "week_day": rules.check_week_day,
        "max_papers": rules.check_max_papers,
        "include_trending": bool,
        "send_when_empty": bool,
    }
    cleaned, errors = {}, {}
    for field, value in values.items():
        if value is None:
            continue
        try:
            cleaned[field] = checks[field](value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _replace_filters(subscriber: Subscriber, filters: list[FilterInput]) -> bool:
    """Make the subscriber's filters these, in order; rows are updated in place so that
    digests that point at a filter keep pointing at it. Return whether anything changed."""
    existing = list(subscriber.filters.order_by("position", "id"))
    changed = len(existing) != len(filters)
    for position, item in enumerate(filters):
        if position < len(existing):
            row = existing[position]
            new = (item.name, item.query, item.is_active, position)
            if (row.name, row.query, row.is_active, row.position) != new:
                row.name, row.query, row.is_active, row.position = new
                row.save(update_fields=["name", "query", "is_active", "position", "updated_at"])
                changed = True
        else:
            TopicFilter.objects.create(
                subscriber=subscriber,
                name=item.name,
                query=item.query,
                is_active=item.is_active,
                position=position,
            )
    if len(existing) > len(filters):
        TopicFilter.objects.filter(pk__in=[row.pk for row in existing[len(filters) :]]).delete()
    return changed


def _find_locked(email: str) -> Subscriber | None:
    return Subscriber.objects.select_for_update().by_email(email).first()


# Sign-up ------------------------------------------------------------------------------


@transaction.atomic
def subscription_create(
    *,
    email: str,
    filters: list[FilterInput],
    timezone: str,
    send_hour: int,
    frequency: str,
    max_papers: int,
    include_trending: bool,
    send_when_empty: bool = False,
    week_day: int | None = None,
    client_ip: str | None = None,
    invitation: Invitation | None = None,
    similar: Sequence[Paper] = (),
) -> SignupResult:
    """Sign an address up, or answer a repeated sign-up without revealing the address's state.

    - new address: a pending subscriber and a confirmation email;
    - pending, unsubscribed or bounced: nothing changes yet; what this sign-up asked for is
      kept apart (`pending_signup`) and a fresh confirmation is sent, whose button applies it;
    - active: nothing changes; the address is sent its preferences link instead;
    - complained: nothing is sent and nothing changes (an admin decides).
    Whoever signs up may not own the address: until the owner presses a confirmation's
    button, a sign-up changes nothing of an existing subscriber, and no email carries what
    the sign-up typed (filter names, queries). Emails to one address are limited to
    SUBSCRIBER_EMAILS_PER_DAY a day. `similar`: papers of a "similar to" topic
    (subscribers.similar), which can stand in for filters.

    When SIGNUP_ALLOWED_DOMAINS restricts sign-up, an address at another domain needs an
    `invitation`, which counts one use per sign-up (InvitationUnusable once it ran out).
    """
    email = rules.check_email(email)
    if invitation is None:
        rules.check_signup_domain(email)
    filters = rules.check_filters(filters, trending=include_trending or bool(similar))
    preferences = _check_preferences(
        timezone=timezone,
        send_hour=send_hour,
        frequency=frequency,
        max_papers=max_papers,
        include_trending=include_trending,
        send_when_empty=send_when_empty,
        week_day=week_day,
    )
    if invitation is not None:
        invitation_use(invitation=invitation)
    subscriber = _find_locked(email)
    if subscriber is None:
        subscriber, created = _create_pending(email, filters, preferences, client_ip, invitation, similar)
        if created:
            _queue_email(subscriber, Kind.CONFIRMATION_SENT, actor=Actor.SUBSCRIBER, reason="signup")
            return SignupResult(subscriber, "created")
    return _signup_again(subscriber, filters, preferences, client_ip, similar)


def _create_pending(
    email: str,
    filters: list[FilterInput],
    preferences: dict,
    client_ip: str | None,
    invitation: Invitation | None = None,
    similar: Sequence[Paper] = (),
) -> tuple[Subscriber, bool]:
    """A new pending subscriber and True; or the row a racing sign-up for the same address
    created first (found under its lock) and False."""
    try:
        # A savepoint: two sign-ups racing for one new address both get here, and the
        # loser of the unique index carries on as a repeated sign-up.
        with transaction.atomic():
            subscriber = Subscriber.objects.create(email=email, status_changed_at=djtz.now(), **preferences)
            _replace_filters(subscriber, filters)
            seeds_set(subscriber=subscriber, papers=similar)
            _record(
                subscriber,
                Kind.CREATED,
                actor=Actor.SUBSCRIBER,
                to_status=Status.PENDING,
                ip=client_ip,
                invitation=invitation.pk if invitation else None,
            )
    except IntegrityError:
        subscriber = _find_locked(email)
        if subscriber is None:
            raise
        return subscriber, False
    return subscriber, True


def _signup_again(
    subscriber: Subscriber,
    filters: list[FilterInput],
    preferences: dict,
    client_ip: str | None,
    similar: Sequence[Paper] = (),
) -> SignupResult:
    """A sign-up for an address that exists: change nothing the owner has not confirmed."""
    if subscriber.status == Status.COMPLAINED:
        _record(subscriber, Kind.SIGNUP_BLOCKED, actor=Actor.SUBSCRIBER, ip=client_ip)
        return SignupResult(subscriber, "blocked")
    if subscriber.status == Status.ACTIVE:
        # Tell the owner where their preferences are; the sign-up's choices are dropped.
        queued = _queue_email(subscriber, Kind.MANAGE_LINK_SENT, actor=Actor.SUBSCRIBER, reason="signup")
        return SignupResult(subscriber, "manage_link_sent" if queued else "limited")
    subscriber.pending_signup = {
        "at": djtz.now().isoformat(),
        "preferences": preferences,
        "filters": [[item.name, item.query] for item in filters],
        "similar": [paper.pk for paper in similar],
    }
    subscriber.save(update_fields=["pending_signup", "updated_at"])
    queued = _queue_email(subscriber, Kind.CONFIRMATION_SENT, actor=Actor.SUBSCRIBER, reason="signup")
    return SignupResult(subscriber, "confirmation_sent" if queued else "limited")


def pending_signup_filters(subscriber: Subscriber) -> list[FilterInput] | None:
    """The filters a repeated sign-up asked for and a confirmation would apply, if any."""
    return _filters_of(subscriber.pending_signup) if subscriber.pending_signup else None


def pending_signup_similar(subscriber: Subscriber) -> list[Paper] | None:
    """The "similar to" papers a repeated sign-up asked for and a confirmation would apply."""
    if not subscriber.pending_signup:
        return None
    wanted = subscriber.pending_signup.get("similar", [])
    found = Paper.objects.in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


def _filters_of(pending: dict) -> list[FilterInput]:
    return [FilterInput(name=name, query=query) for name, query in pending["filters"]]


def _set_preferences(subscriber: Subscriber, preferences: dict) -> list[str]:
    changed = [field for field, value in preferences.items() if getattr(subscriber, field) != value]
    for field in changed:
        setattr(subscriber, field, preferences[field])
    if changed:
        subscriber.save(update_fields=[*changed, "updated_at"])
    return changed


@transaction.atomic
def subscriber_links_resend(*, email: str) -> str:
    """ "Email me my link": a pending address gets its confirmation again, an active one its
    preferences link; any other address gets nothing. The caller shows the same page in
    every case. Returns the outcome (for logs and tests)."""
    try:
        email = rules.check_email(email)
    except ValidationError:
        return "invalid"
    subscriber = _find_locked(email)
    if subscriber is None:
        return "unknown"
    if subscriber.status == Status.PENDING:
        kind = Kind.CONFIRMATION_SENT
    elif subscriber.status == Status.ACTIVE:
        kind = Kind.MANAGE_LINK_SENT
    else:
        return "ignored"
    queued = _queue_email(subscriber, kind, actor=Actor.SUBSCRIBER, reason="resend")
    return kind if queued else "limited"


@transaction.atomic
def confirmation_resend(*, subscriber: Subscriber, actor: str = Actor.ADMIN) -> bool:
    """Send a fresh confirmation link; False when the address had its share today."""
    subscriber = _locked(subscriber)
    if subscriber.status not in CONFIRMABLE:
        raise SubscriptionError(
            f"No confirmation to send: {subscriber.email} is {subscriber.get_status_display().lower()}."
        )
    return _queue_email(subscriber, Kind.CONFIRMATION_SENT, actor=actor, reason="resend")


@transaction.atomic
def subscription_confirm(*, subscriber: Subscriber, pending_at: str = "") -> bool:
    """Activate after the subscriber followed a confirmation link; False if already active.

    `pending_at` names the repeated sign-up the confirmation page showed (its `at`): its
    preferences and filters are applied now. Any other one waiting is dropped unapplied."""
    subscriber = _locked(subscriber)
    if subscriber.status == Status.ACTIVE:
        return False
    if subscriber.status not in CONFIRMABLE:
        raise SubscriptionError("This address cannot be subscribed again from a link. Please contact us.")
    pending, subscriber.pending_signup = subscriber.pending_signup, None
    subscriber.save(update_fields=["pending_signup", "updated_at"])
    if pending and pending_at and pending["at"] == pending_at:
        changed = _set_preferences(subscriber, pending["preferences"])
        if _replace_filters(subscriber, _filters_of(pending)):
            changed.append("filters")
        seeds = Paper.objects.filter(pk__in=pending.get("similar", [])).in_bulk()
        if seeds_set(
            subscriber=subscriber, papers=[seeds[pk] for pk in pending.get("similar", []) if pk in seeds]
        ):
            changed.append("similar")
        if changed:
            _record(subscriber, Kind.UPDATED, actor=Actor.SUBSCRIBER, fields=changed, via="confirmation")
    kind = Kind.CONFIRMED if subscriber.status == Status.PENDING else Kind.RESUBSCRIBED
    _move(subscriber, Status.ACTIVE, kind, actor=Actor.SUBSCRIBER, now=djtz.now())
    return True


# Preferences --------------------------------------------------------------------------


@transaction.atomic
def subscription_update(
    *,
    subscriber: Subscriber,
    filters: list[FilterInput] | None = None,
    timezone: str | None = None,
    send_hour: int | None = None,
    frequency: str | None = None,
    max_papers: int | None = None,
    include_trending: bool | None = None,
    send_when_empty: bool | None = None,
    week_day: int | None = None,
    similar: Sequence[Paper] | None = None,
    actor: str = Actor.SUBSCRIBER,
) -> list[str]:
    """Change what is given (None leaves a field alone); return the names of changed fields.
    `similar`: the papers of the "similar to" topic (subscribers.similar)."""
    preferences = _check_preferences(
        timezone=timezone,
        send_hour=send_hour,
        frequency=frequency,
        max_papers=max_papers,
        include_trending=include_trending,
        send_when_empty=send_when_empty,
        week_day=week_day,
    )
    trending = subscriber.include_trending if include_trending is None else include_trending
    if similar is None:
        has_seeds = Vote.objects.filter(subscriber=subscriber, source=Vote.Source.SEED).exists()
    else:
        has_seeds = bool(similar)
    cleaned_filters = (
        rules.check_filters(filters, trending=trending or has_seeds) if filters is not None else None
    )
    subscriber = _locked(subscriber)
    if subscriber.status == Status.COMPLAINED:
        raise SubscriptionError("This subscription is closed. Please contact us.")
    changed = _set_preferences(subscriber, preferences)
    if cleaned_filters is not None and _replace_filters(subscriber, cleaned_filters):
        changed.append("filters")
    if similar is not None and seeds_set(subscriber=subscriber, papers=similar):
        changed.append("similar")
    if changed:
        _record(subscriber, Kind.UPDATED, actor=actor, fields=changed)
    return changed


def _set_paused(
    subscriber: Subscriber, paused: bool, actor: str, until: dt.datetime | None = None, **detail
) -> bool:
    subscriber = _locked(subscriber)
    if subscriber.status != Status.ACTIVE:
        verb = "paused" if paused else "resumed"
        raise SubscriptionError(f"Only an active subscription can be {verb}.")
    if (subscriber.paused_at is not None) == paused:
        return False
    subscriber.paused_at = djtz.now() if paused else None
    subscriber.paused_until = until if paused else None
    subscriber.save(update_fields=["paused_at", "paused_until", "updated_at"])
    kind = Kind.PAUSED if paused else Kind.RESUMED
    if until is not None:
        detail["until"] = until.isoformat()
    _record(
        subscriber, kind, actor=actor, from_status=subscriber.status, to_status=subscriber.status, **detail
    )
    return True


def pause_end(*, subscriber: Subscriber, until: dt.date) -> dt.datetime:
    """The moment a pause "until `until`" ends: the subscriber's send hour on that day, in
    their time zone, so digests start again that day at their usual time (a weekly one too,
    whose week began before)."""
    tz = ZoneInfo(subscriber.timezone)
    return dt.datetime.combine(until, dt.time(subscriber.send_hour), tzinfo=tz).astimezone(dt.UTC)


def pause_choices(*, subscriber: Subscriber, now: dt.datetime) -> dict[str, dt.date]:
    """The ends of the ready-made pauses, as local dates: a week and a calendar month from
    today (the 31st of a month becomes the last day of a shorter next month)."""
    today = now.astimezone(ZoneInfo(subscriber.timezone)).date()
    year, month = divmod(today.month, 12)
    year, month = today.year + year, month + 1
    days_in_month = calendar.monthrange(year, month)[1]
    return {
        "week": today + dt.timedelta(days=7),
        "month": dt.date(year, month, min(today.day, days_in_month)),
    }


@transaction.atomic
def subscription_pause(
    *,
    subscriber: Subscriber,
    actor: str = Actor.SUBSCRIBER,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Stop digests without unsubscribing (links keep working); False if already paused.
    With `until` (a local date after today) the dispatch resumes them on that day."""
    end = None
    if until is not None:
        today = (now or djtz.now()).astimezone(ZoneInfo(subscriber.timezone)).date()
        try:
            rules.check_pause_until(until, today=today)
        except ValidationError as exc:
            raise SubscriptionError(exc.messages[0]) from None
        end = pause_end(subscriber=subscriber, until=until)
    return _set_paused(subscriber, True, actor, until=end)


@transaction.atomic
def subscription_resume(*, subscriber: Subscriber, actor: str = Actor.SUBSCRIBER) -> bool:
    """Digests again from the next period on; False if not paused."""
    return _set_paused(subscriber, False, actor)


def pauses_end(*, now: dt.datetime) -> int:
    """Resume every subscriber whose pause ended by `now` (the dispatch calls this before
    it selects who is due); return how many. Each is re-checked under its row lock: one who
    resumed or changed the date meanwhile is left alone."""
    ended = 0
    due = Subscriber.objects.filter(paused_at__isnull=False, paused_until__lte=now)
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            subscriber = Subscriber.objects.select_for_update().get(pk=pk)
            if (
                subscriber.paused_at is None
                or subscriber.paused_until is None
                or subscriber.paused_until > now
            ):
                continue
            ended += _set_paused(subscriber, False, Actor.SYSTEM, reason="pause ended")
    return ended


# Filters and samples ------------------------------------------------------------------


@transaction.atomic
def filter_remove(*, subscriber: Subscriber, filter_id: int, actor: str = Actor.SUBSCRIBER) -> TopicFilter:
    """Delete one of the subscriber's filters (the others keep their rows and order).
    The last filter of a subscriber with neither the trending papers nor "similar to"
    papers stays: a digest needs something to match."""
    subscriber = _locked(subscriber)
    if subscriber.status == Status.COMPLAINED:
        raise SubscriptionError("This subscription is closed. Please contact us.")
    row = subscriber.filters.filter(pk=filter_id).first()
    if row is None:
        raise SubscriptionError("That filter is gone already.")
    has_seeds = Vote.objects.filter(subscriber=subscriber, source=Vote.Source.SEED).exists()
    if subscriber.filters.count() == 1 and not (subscriber.include_trending or has_seeds):
        raise SubscriptionError(
            "This is your only filter: change its query instead, or unsubscribe to stop the digests."
        )
    row.delete()
    for position, other in enumerate(subscriber.filters.order_by("position", "id")):
        if other.position != position:
            other.position = position
            other.save(update_fields=["position", "updated_at"])
    _record(subscriber, Kind.UPDATED, actor=actor, fields=["filters"], removed=row.name)
    return row


def sample_request(*, subscriber: Subscriber) -> None:
    """Queue a sample of the subscriber's next digest, to their own address. A sample is
    no digest: nothing of it is recorded, so its papers still come in the next digest
    (alerts.digests.previews.digest_sample_send). Callers limit how often."""
    if subscriber.status != Status.ACTIVE:
        raise SubscriptionError("Only an active subscription can get a sample.")
    jobs.enqueue_on_commit("alerts.tasks.send_sample_digest", subscriber.pk)


@transaction.atomic
def subscription_unsubscribe(*, subscriber: Subscriber, actor: str, reason: str = "") -> bool:
    """Stop all mail at once. Idempotent: False if no mail was going out anyway.

    Every link but the unsubscribe link is revoked with it (manage, confirm, feed, browser
    view): a person who leaves leaves nothing open behind them."""
    subscriber = _locked(subscriber)
    if subscriber.status not in (Status.PENDING, Status.ACTIVE):
        return False
    _rotate_token_secret(subscriber)
    _move(subscriber, Status.UNSUBSCRIBED, Kind.UNSUBSCRIBED, actor=actor, now=djtz.now(), reason=reason)
    return True


# Address change ---------------------------------------------------------------------


@transaction.atomic
def subscriber_email_change_request(*, subscriber: Subscriber, new_email: str) -> str:
    """An active subscriber asks to receive their digests at NEW_EMAIL: a link to confirm
    goes there; nothing changes until it is pressed. Returns sent, taken or limited.

    When another subscriber has that address, the answer is the same as when none does (the
    caller says "we sent a link" either way) and that address's owner is told instead,
    within its daily share. The requester's link requests count against their own share
    (SUBSCRIBER_EMAILS_PER_DAY), whichever case it was. ValidationError for an address
    that is invalid, the current one, or at a domain sign-up does not allow."""
    new_email = rules.check_signup_domain(rules.check_email(new_email), signup=False)
    subscriber = _locked(subscriber)
    if subscriber.status != Status.ACTIVE:
        raise SubscriptionError("Only an active subscription can move to another address.")
    if new_email.lower() == subscriber.email.lower():
        raise ValidationError("That is already the address of this subscription.", code="email")
    if _sent_today(subscriber, Kind.EMAIL_CHANGE_REQUESTED) >= settings.SUBSCRIBER_EMAILS_PER_DAY:
        return "limited"
    owner = Subscriber.objects.by_email(new_email).exclude(pk=subscriber.pk).first()
    # A newer request voids the link of an older one (it is signed over pending_email).
    subscriber.pending_email = "" if owner else new_email
    subscriber.save(update_fields=["pending_email", "updated_at"])
    if owner is None:
        _queue_email(
            subscriber,
            Kind.EMAIL_CHANGE_REQUESTED,
            actor=Actor.SUBSCRIBER,
            reason="manage page",
            to=new_email,
        )
        return "sent"
    status = subscriber.status
    _record(
        subscriber,
        Kind.EMAIL_CHANGE_REQUESTED,
        actor=Actor.SUBSCRIBER,
        from_status=status,
        to_status=status,
        reason="address taken: its owner is told instead",
        to=new_email,
    )
    if owner.status != Status.COMPLAINED:
        _queue_email(owner, Kind.EMAIL_TAKEN_NOTICE_SENT, actor=Actor.SUBSCRIBER, reason="address change")
    return "taken"


@transaction.atomic
def subscriber_email_change_confirm(*, subscriber: Subscriber, new_email: str) -> str:
    """The link sent to NEW_EMAIL was pressed: the subscription moves there. Its links
    (manage, feed, browser view) are replaced, so links in the old mailbox no longer
    control it (unsubscribe links keep working); the old address is told, once, with no
    link. Returns the old address. SubscriptionError when the change can no longer be made."""
    subscriber = _locked(subscriber)
    if not subscriber.pending_email or subscriber.pending_email.lower() != new_email.lower():
        raise SubscriptionError("This link has been replaced by a newer one or used already.")
    if subscriber.status != Status.ACTIVE:
        raise SubscriptionError("This subscription is no longer active, so its address was not changed.")
    try:
        rules.check_signup_domain(subscriber.pending_email, signup=False)
    except ValidationError as exc:
        raise SubscriptionError(exc.messages[0]) from None
    old, new = subscriber.email, subscriber.pending_email
    taken = SubscriptionError(f"{new} has a subscription of its own, so this one was not moved there.")
    if Subscriber.objects.by_email(new).exclude(pk=subscriber.pk).exists():
        raise taken
    subscriber.email, subscriber.pending_email = new, ""
    subscriber.token_secret = new_token_secret()
    try:
        with transaction.atomic():
            subscriber.save(update_fields=["email", "pending_email", "token_secret", "updated_at"])
    except IntegrityError:
        raise taken from None
    status = subscriber.status
    _record(
        subscriber,
        Kind.EMAIL_CHANGED,
        actor=Actor.SUBSCRIBER,
        from_status=status,
        to_status=status,
        **{"from": old, "to": new},
    )
    jobs.enqueue_on_commit("subscribers.tasks.send_email_changed_notice", subscriber.pk, old)
    return old


def _rotate_token_secret(subscriber: Subscriber) -> None:
    # The unsubscribe link is keyed by unsubscribe_secret, which stays (subscribers.tokens).
    subscriber.token_secret = new_token_secret()
    subscriber.save(update_fields=["token_secret", "updated_at"])


@transaction.atomic
def subscriber_links_revoke(*, subscriber: Subscriber, actor: str = Actor.SUBSCRIBER) -> bool:
    """ "Sign out everywhere": every manage, confirm, feed and browser-view link sent so far
    stops working at once; unsubscribe links keep working. A fresh manage link goes to the
    address (within its daily share of emails). Returns whether that link was queued."""
    subscriber = _locked(subscriber)
    _rotate_token_secret(subscriber)
    status = subscriber.status
    _record(subscriber, Kind.LINKS_REVOKED, actor=actor, from_status=status, to_status=status)
    if status != Status.ACTIVE:
        return False
    return _queue_email(subscriber, Kind.MANAGE_LINK_SENT, actor=actor, reason="links revoked")


# Suppression (ESP feedback, admin) ----------------------------------------------------


@transaction.atomic
def subscriber_suppress(*, subscriber: Subscriber, status: str, reason: str, actor: str) -> bool:
    """Mark an address bounced or complained: no more mail. A complaint outranks a bounce."""
    if status not in (Status.BOUNCED, Status.COMPLAINED):
        raise ValueError(f"suppress to bounced or complained, not {status!r}")
    subscriber = _locked(subscriber)
    if subscriber.status == status or subscriber.status == Status.COMPLAINED:
        return False
    if actor == Actor.ADMIN:
        kind = Kind.SUPPRESSED
    else:
        kind = Kind.BOUNCED if status == Status.BOUNCED else Kind.COMPLAINED
    _move(subscriber, status, kind, actor=actor, now=djtz.now(), reason=reason)
    return True


@transaction.atomic
def subscriber_reactivate(*, subscriber: Subscriber, actor: str) -> bool:
    """Lift a bounce (the mailbox works again). Never a complaint, never an unsubscribe."""
    subscriber = _locked(subscriber)
    if subscriber.status == Status.ACTIVE:
        return False
    if subscriber.status == Status.COMPLAINED:
        raise SubscriptionError(
            f"Not reactivated: {subscriber.email} complained (marked our mail as spam), and such an "
            "address is never reactivated. "
            "If the person asks to come back, delete the subscriber and let them sign up again."
        )
    if subscriber.status == Status.UNSUBSCRIBED:
        raise SubscriptionError(
            f"Not reactivated: {subscriber.email} unsubscribed, and only they can subscribe again, "
            "by confirming a fresh link."
        )
    if subscriber.status == Status.PENDING:
        raise SubscriptionError(
            f"Not reactivated: {subscriber.email} has not confirmed yet; resend the confirmation instead."
        )
    _move(subscriber, Status.ACTIVE, Kind.REACTIVATED, actor=actor, now=djtz.now())
    return True


@transaction.atomic
def subscriber_erase(*, subscriber: Subscriber, actor: str) -> None:
    """Delete a subscriber and their personal data (a GDPR request); the audit trail keeps
    its counts, with no link to the person and no personal detail left in it."""
    subscriber = _locked(subscriber)
    SubscriberEvent.objects.filter(subscriber=subscriber).update(detail={})
    subscriber_traces_erase(subscriber=subscriber)
    # The admin's own log names the object it deleted (by its address): not any more.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Subscriber), object_id=str(subscriber.pk)
    ).update(object_repr="(erased subscriber)", change_message="")
    _record(None, Kind.ERASED, actor=actor, from_status=subscriber.status)
    subscriber.delete()


def subscriber_email_failed(*, subscriber: Subscriber, message: str, reason: str) -> None:
    """Record that an email (MESSAGE names which) could not be sent, where an admin sees it."""
    _record(subscriber, Kind.EMAIL_FAILED, actor=Actor.SYSTEM, message=message, reason=reason[:500])


# Emails about a stored filter naming an arXiv category that does not exist, at most:
# one per filter ever, one per subscriber a day, this many per run (the rest next run).
CATEGORY_NOTICES_PER_RUN = 500
CATEGORY_NOTICE_INTERVAL = dt.timedelta(days=1)


def category_notices_queue(*, now: dt.datetime) -> int:
    """Email each active subscriber whose active filters name arXiv categories that do not
    exist (saved before `cat:` was checked): such a filter matches nothing until changed.

    Each filter is claimed (`category_notice_sent_at`) before its email is queued, so it
    is told about once, even when two runs overlap. Returns the number of emails queued.
    """
    due: dict[int, list[int]] = {}
    for notice in filters_with_unknown_categories(untold_only=True):
        due.setdefault(notice.subscriber_id, []).append(notice.filter_id)
    told_lately = set(
        TopicFilter.objects.filter(
            subscriber_id__in=list(due), category_notice_sent_at__gt=now - CATEGORY_NOTICE_INTERVAL
        ).values_list("subscriber_id", flat=True)
    )
    queued = 0
    for subscriber_id, filter_ids in due.items():
        if subscriber_id in told_lately or queued >= CATEGORY_NOTICES_PER_RUN:
            continue
        with transaction.atomic():
            unclaimed = TopicFilter.objects.filter(
                pk__in=filter_ids, is_active=True, category_notice_sent_at__isnull=True
            )
            claimed = sorted(unclaimed.select_for_update().values_list("pk", flat=True))
            if not claimed:
                continue
            TopicFilter.objects.filter(pk__in=claimed).update(category_notice_sent_at=now)
            jobs.enqueue_on_commit("subscribers.tasks.send_category_notice_email", subscriber_id, claimed)
        queued += 1
    return queued
