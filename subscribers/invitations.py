"""Invitations: sign-up links an admin creates, which let an address at any domain sign up
while SIGNUP_ALLOWED_DOMAINS restricts sign-up to a lab's or an institute's domains.

An invitation works until it expires, is revoked, or has let in `max_uses` sign-ups. A use
is claimed with one conditional UPDATE in the sign-up's transaction, so two sign-ups racing
for the last use cannot both get it, and a sign-up that fails uses nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone as djtz
from django.utils.formats import date_format

from subscribers import tokens
from subscribers.models import Invitation

__all__ = [
    "InvitationUnusable",
    "invitation_check",
    "invitation_create",
    "invitation_from_link",
    "invitation_revoke",
    "invitation_use",
]


class InvitationUnusable(Exception):
    """The link cannot be used (any more); `reason` is invalid, expired, used_up or
    revoked, and `message` says so for the person holding it."""

    MESSAGES = {
        "invalid": "This invitation link does not work. It may have been cut short when it was "
        "copied: open it from the message you received, or ask whoever sent it for a new one.",
        "expired": "This invitation expired on {date}. Ask whoever sent it to you for a new one.",
        "used_up": "This invitation has already been used as many times as it allows. "
        "Ask whoever sent it to you for a new one.",
        "revoked": "This invitation has been withdrawn. Ask whoever sent it to you for a new one.",
    }

    def __init__(self, reason: str, invitation: Invitation | None = None):
        date = date_format(djtz.localtime(invitation.expires_at), "DATETIME_FORMAT") if invitation else ""
        self.reason = reason
        self.message = self.MESSAGES[reason].format(date=date)
        super().__init__(self.message)


def invitation_check(invitation: Invitation, *, now: dt.datetime | None = None) -> Invitation:
    """The invitation if it can let one more sign-up in; InvitationUnusable otherwise."""
    now = now or djtz.now()
    if invitation.revoked_at is not None:
        raise InvitationUnusable("revoked", invitation)
    if invitation.expires_at <= now:
        raise InvitationUnusable("expired", invitation)
    if invitation.uses >= invitation.max_uses:
        raise InvitationUnusable("used_up", invitation)
    return invitation


def invitation_from_link(token: str, *, now: dt.datetime | None = None) -> Invitation:
    """The usable invitation a link names; InvitationUnusable says why not."""
    try:
        invitation = tokens.invitation_from_token(token)
    except tokens.TokenInvalid:
        raise InvitationUnusable("invalid") from None
    return invitation_check(invitation, now=now)


def invitation_use(*, invitation: Invitation, now: dt.datetime | None = None) -> None:
    """Count one sign-up against the invitation, in the caller's transaction; raise
    InvitationUnusable when it ran out (or was revoked) since the page was shown."""
    now = now or djtz.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, revoked_at__isnull=True, expires_at__gt=now, uses__lt=F("max_uses")
    ).update(uses=F("uses") + 1)
    if not claimed:
        fresh = Invitation.objects.filter(pk=invitation.pk).first()
        if fresh is None:
            raise InvitationUnusable("invalid")
        invitation_check(fresh, now=now)
        raise InvitationUnusable("used_up", fresh)


@transaction.atomic
def invitation_create(
    *, created_by, note: str = "", expires_at: dt.datetime, max_uses: int = 1
) -> Invitation:
    return Invitation.objects.create(
        created_by=created_by, note=note, expires_at=expires_at, max_uses=max_uses
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, now: dt.datetime | None = None) -> bool:
    """Stop the link at once (sign-ups it already let in stay); False if already revoked."""
    return bool(
        Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
            revoked_at=now or djtz.now()
        )
    )
