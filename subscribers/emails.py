"""Rendering and sending the service's emails: a plain-text part and an HTML part each.

An email called NAME is three templates under templates/emails/: NAME_subject.txt,
NAME_body.txt and NAME_body.html. The HTML part's <style> is inlined (mail clients drop
style sheets), and the subject is folded onto one line (a line break in a header is
how header injection starts; Django would refuse it anyway).
"""

from __future__ import annotations

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from subscribers.selectors import filters_with_unknown_categories
from subscribers.tokens import (
    CONFIRM_MAX_AGE,
    EMAIL_CHANGE_MAX_AGE,
    confirm_url,
    email_change_url,
    manage_url,
    unsubscribe_url,
)

_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Return (subject, text, html) of the email NAME rendered with CONTEXT."""
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    text = render_to_string(f"emails/{name}_body.txt", context)
    html = _inliner.inline(render_to_string(f"emails/{name}_body.html", context))
    return subject, text, html


def send_email(*, to: str, name: str, context: dict, headers: dict[str, str] | None = None) -> str:
    """Render the email NAME and send it to one address; return the ESP's message id, if any."""
    subject, text, html = render_email(name, context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=headers or {})
    message.attach_alternative(html, "text/html")
    message.send()
    status = getattr(message, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


# The subscriber emails ----------------------------------------------------------------


def confirmation_email_send(*, subscriber) -> str:
    """The double opt-in email: a link valid for 7 days to the page that shows the filters
    and confirms them. Whoever signed up typed those filters, maybe to a stranger's
    address: no text of theirs goes into the email."""
    context = {
        "subscriber": subscriber,
        "confirm_url": confirm_url(subscriber),
        "valid_days": CONFIRM_MAX_AGE // 86400,
    }
    return send_email(to=subscriber.email, name="confirmation", context=context)


def manage_link_email_send(*, subscriber) -> str:
    """To an active subscriber who signed up again (or asked): where their preferences are."""
    context = {
        "subscriber": subscriber,
        "filters": list(subscriber.filters.all()),
        "manage_url": manage_url(subscriber),
        "unsubscribe_url": unsubscribe_url(subscriber),
    }
    return send_email(to=subscriber.email, name="manage_link", context=context)


def category_notice_email_send(*, subscriber, filter_ids: list[int]) -> str:
    """To an active subscriber: these filters name arXiv categories that do not exist, so
    they match nothing until changed (with the nearest real category, when there is one).
    Nothing is sent when every one of them was changed since."""
    notices = [
        notice
        for notice in filters_with_unknown_categories(subscriber_ids=[subscriber.pk])
        if notice.filter_id in filter_ids
    ]
    if not notices:
        return ""
    context = {
        "subscriber": subscriber,
        "notices": notices,
        "manage_url": manage_url(subscriber),
        "unsubscribe_url": unsubscribe_url(subscriber),
    }
    return send_email(to=subscriber.email, name="category_notice", context=context)


# An address change --------------------------------------------------------------------


def email_change_email_send(*, subscriber) -> str:
    """To the address the subscriber asked to move to: a link to confirm it is theirs.
    Nothing of the subscription (old address, filters) is in it: whoever asked typed it."""
    if not subscriber.pending_email:
        return ""  # confirmed, or replaced by a newer request, since this was queued
    context = {
        "new_email": subscriber.pending_email,
        "change_url": email_change_url(subscriber),
        "valid_days": EMAIL_CHANGE_MAX_AGE // 86400,
    }
    return send_email(to=subscriber.pending_email, name="email_change", context=context)


def email_changed_notice_send(*, subscriber, old_email: str) -> str:
    """To the old address, once the change is confirmed: a notice with no link in it (a
    link here could only help whoever now reads this mailbox)."""
    return send_email(to=old_email, name="email_changed", context={"old_email": old_email})


def email_taken_notice_send(*, subscriber) -> str:
    """To an address someone asked to move another subscription to: it has one already,
    so nothing changed; its preferences link when it is active (as a repeated sign-up)."""
    active = subscriber.status == subscriber.Status.ACTIVE
    context = {
        "subscriber": subscriber,
        "manage_url": manage_url(subscriber) if active else "",
        "unsubscribe_url": unsubscribe_url(subscriber) if active else "",
    }
    return send_email(to=subscriber.email, name="email_taken", context=context)
