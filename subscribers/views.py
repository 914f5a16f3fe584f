"""Sign-up, live preview, confirm, manage, unsubscribe. Each view parses the request and
calls one service; the pages work without JavaScript."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone as djtz
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage

from alerts.core.periods import zone
from subscribers import feedback, filter_preview, invitations, services, similar, tokens
from subscribers.clientip import client_ip
from subscribers.forms import (
    FILTERS_PREFIX,
    EmailChangeForm,
    PreferencesForm,
    SignupForm,
    TrendingSignupForm,
    filter_formset,
)
from subscribers.models import DEFAULT_PAPERS, MAX_FILTERS, Invitation, Subscriber, SubscriberEvent
from subscribers.rules import WEEKDAYS
from subscribers.selectors import filters_with_unknown_categories, next_digest_at
from subscribers.tokens import feed_url

Actor = SubscriberEvent.Actor
Status = Subscriber.Status


# Rate limits --------------------------------------------------------------------------


def _rate_limited(
    request: HttpRequest,
    group: str,
    setting: str,
    template: str = "subscribers/rate_limited.html",
    *,
    cost: int = 1,
    key: str | Callable = "ip",
) -> HttpResponse | None:
    """Count this request `cost` times against the client IP's limit (a request doing the
    work of several, such as ten previews, counts as several); the 429 page once it is over.
    The address is subscribers.clientip.client_ip's (RATELIMIT_IP_META_KEY names it).
    Another `key` (django-ratelimit's: a callable of group and request) counts per
    something else, such as one subscriber whatever their address."""
    for _ in range(max(1, cost)):
        usage = get_usage(request, group=group, key=key, rate=getattr(settings, setting), increment=True)
        if usage is not None and usage["should_limit"]:
            break
    if usage is None or not usage["should_limit"]:
        return None
    wait = max(1, usage["time_left"])
    response = render(request, template, {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


# Sign-up ------------------------------------------------------------------------------


def _rows_requested(request: HttpRequest) -> int:
    try:
        rows = int(request.POST.get(f"{FILTERS_PREFIX}-TOTAL_FORMS", "1"))
    except ValueError:
        rows = 1
    return max(1, min(rows, MAX_FILTERS))


def _posted_filters(request: HttpRequest, rows: int) -> list[dict]:
    return [
        {
            "name": request.POST.get(f"{FILTERS_PREFIX}-{i}-name", "")[:200],
            "query": request.POST.get(f"{FILTERS_PREFIX}-{i}-query", "")[:2000],
        }
        for i in range(rows)
    ]


def _preview_cost(request: HttpRequest) -> int:
    """What "add a filter" or "preview" counts against the preview limit: one per preview."""
    if request.POST.get("action") != "preview":
        return 1
    queries = sum(1 for row in _posted_filters(request, _rows_requested(request)) if row["query"])
    return queries + (1 if request.POST.get("similar", "").strip() else 0)


def _redisplay(request: HttpRequest, form_class, template: str, context: dict) -> HttpResponse:
    """The page again with what was typed, one more filter row or the previews, and no
    error messages: the "add another filter" and "preview" buttons for pages without JS."""
    rows = _rows_requested(request)
    initial_filters = _posted_filters(request, rows)
    if request.POST.get("action") == "add_filter":
        rows = min(rows + 1, MAX_FILTERS)
    fields = (form_class.func if isinstance(form_class, partial) else form_class).base_fields
    initial = {name: request.POST.get(name) for name in fields if name in request.POST}
    for checkbox in ("include_trending", "send_when_empty"):
        initial[checkbox] = checkbox in request.POST
    formset = filter_formset(initial=initial_filters, rows=rows)
    previews = {}
    if request.POST.get("action") == "preview":
        previews = {
            i: filter_preview.filter_preview(row["query"])
            for i, row in enumerate(initial_filters)
            if row["query"]
        }
        if initial.get("similar", "").strip():
            context["similar_preview"] = filter_preview.similar_preview(initial["similar"])
    context.update(form=form_class(initial=initial), formset=formset, previews=previews)
    return render(request, template, context)


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    return _signup(request, None)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The sign-up page through an admin's invitation link: any domain may sign up here."""
    try:
        invited = invitations.invitation_from_link(token)
    except invitations.InvitationUnusable as exc:
        return _invitation_unusable(request, exc)
    return _signup(request, invited)


def _invitation_unusable(request: HttpRequest, exc: invitations.InvitationUnusable) -> HttpResponse:
    status = 404 if exc.reason == "invalid" else 410
    return render(request, "subscribers/invitation_invalid.html", {"message": exc.message}, status=status)


def _signup(request: HttpRequest, invited: Invitation | None) -> HttpResponse:
    forms_of = {"invited": invited is not None}
    if request.method == "GET":
        form = SignupForm(**forms_of)
        form.offer_browser_timezone()
        form.offer_default_week_day()
        context = {
            "form": form,
            "formset": filter_formset(rows=1),
            "previews": {},
            "trending_form": TrendingSignupForm(**forms_of),
            "invited": invited,
        }
        return render(request, "subscribers/signup.html", context)
    action = request.POST.get("action", "subscribe")
    if action == "trending":
        return _rate_limited(request, "signup", "RATE_LIMIT_SIGNUP") or _trending_signup(request, invited)
    if action in ("add_filter", "preview"):
        limited = _rate_limited(request, "preview", "RATE_LIMIT_PREVIEW", cost=_preview_cost(request))
        form_class = partial(SignupForm, **forms_of)
        return limited or _redisplay(request, form_class, "subscribers/signup.html", {"invited": invited})
    if limited := _rate_limited(request, "signup", "RATE_LIMIT_SIGNUP"):
        return limited
    try:
        with _answer_no_sooner_than(settings.SIGNUP_ANSWER_SECONDS):
            return _subscribe(request, invited)
    except invitations.InvitationUnusable as exc:
        # Used up (or revoked) between showing the page and sending it.
        return _invitation_unusable(request, exc)


@contextmanager
def _answer_no_sooner_than(seconds: float):
    """Hold the answer until `seconds` after the start. A new address costs more work than
    a known one (rows created); waiting for a fixed time that covers both keeps the answer's
    timing from telling a stranger whether an address is subscribed (docs/reliability.md
    has the figures, from bench/signup_timing.py)."""
    started = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))


def _subscribe(request: HttpRequest, invited: Invitation | None) -> HttpResponse:
    form = SignupForm(request.POST, invited=invited is not None)
    formset = filter_formset(request.POST)
    if form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            services.subscription_create(
                email=data["email"],
                filters=formset.filter_inputs(),
                timezone=data["timezone"],
                send_hour=data["send_hour"],
                frequency=data["frequency"],
                max_papers=data["max_papers"],
                include_trending=data["include_trending"],
                send_when_empty=data["send_when_empty"],
                week_day=data.get("week_day"),
                client_ip=client_ip(request),
                invitation=invited,
                similar=data["similar"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            # The same page whatever the address's state (new, pending, active, ...): the
            # response must not tell a stranger whether someone is subscribed.
            return render(request, "subscribers/check_inbox.html", {"email": data["email"]})
    context = {"form": form, "formset": formset, "previews": {}, "invited": invited}
    return render(request, "subscribers/signup.html", context, status=400)


def _trending_signup(request: HttpRequest, invited: Invitation | None) -> HttpResponse:
    """The one-box subscription: the day's trending papers for an address alone, daily at
    the default hour, confirmed by email like any sign-up."""
    form = TrendingSignupForm(request.POST, invited=invited is not None)
    if form.is_valid():
        try:
            services.subscription_create(
                email=form.cleaned_data["email"],
                filters=[],
                timezone="UTC",
                send_hour=Subscriber._meta.get_field("send_hour").default,
                frequency=Subscriber.Frequency.DAILY,
                max_papers=DEFAULT_PAPERS,
                include_trending=True,
                client_ip=client_ip(request),
                invitation=invited,
            )
        except ValidationError as exc:
            form.add_error("email", exc)
        except invitations.InvitationUnusable as exc:
            return _invitation_unusable(request, exc)
        else:
            return render(request, "subscribers/check_inbox.html", {"email": form.cleaned_data["email"]})
    context = {
        "form": SignupForm(invited=invited is not None),
        "formset": filter_formset(rows=1),
        "previews": {},
        "trending_form": form,
        "invited": invited,
    }
    return render(request, "subscribers/signup.html", context, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
def resend(request: HttpRequest) -> HttpResponse:
    """ "Email me my link again": the confirmation, or the preferences link if confirmed."""
    if request.method == "GET":
        return render(request, "subscribers/resend.html", {})
    if limited := _rate_limited(request, "resend", "RATE_LIMIT_RESEND"):
        return limited
    with _answer_no_sooner_than(settings.SIGNUP_ANSWER_SECONDS):
        services.subscriber_links_resend(email=request.POST.get("email", ""))
    return render(request, "subscribers/resend.html", {"sent": True})


@require_GET
def preview_view(request: HttpRequest) -> HttpResponse:
    """The live preview of one query (`q`), or of the papers pasted as "similar to"
    (`similar`): an HTML fragment for the sign-up and manage pages."""
    if limited := _rate_limited(request, "preview", "RATE_LIMIT_PREVIEW", "subscribers/_rate_limited.html"):
        return limited
    if "similar" in request.GET:
        result = filter_preview.similar_preview(request.GET["similar"])
        response = render(request, "subscribers/_similar_preview.html", {"similar_preview": result})
        response["Cache-Control"] = "private, max-age=60"
        return response
    result = filter_preview.filter_preview(request.GET.get("q", ""))
    response = render(request, "subscribers/_preview.html", {"preview": result})
    response["Cache-Control"] = "private, max-age=60"
    return response


# Links from emails --------------------------------------------------------------------


def _from_token(token: str, purpose: str) -> Subscriber | None:
    try:
        return tokens.subscriber_from_token(token, purpose)
    except tokens.TokenInvalid:  # also TokenExpired: the page does not say which
        return None


def _bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "subscribers/link_invalid.html", {}, status=404)


# Opening the link shows one button; pressing it confirms. Mail scanners that fetch every
# link in an email (to check it for malware) would otherwise confirm sign-ups nobody made,
# which is what double opt-in is there to prevent. The signed token is the credential,
# so the button's form needs no CSRF cookie (some in-app mail browsers drop cookies).
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _from_token(token, tokens.CONFIRM)
    if subscriber is None:
        return _bad_link(request)
    if subscriber.status == Status.ACTIVE:
        # An old confirmation link (forwarded, found in a mailbox) gives nothing away: the
        # preferences link only ever travels by email.
        return render(request, "subscribers/confirmed.html", {"already": True})
    if request.method == "GET":
        # What the button applies is shown here, not in the email: whoever signed up
        # typed it, and only the address's owner opens this page.
        pending = subscriber.pending_signup
        context = {
            "subscriber": subscriber,
            "token": token,
            "filters": services.pending_signup_filters(subscriber) or subscriber.filters.all(),
            "similar": services.pending_signup_similar(subscriber)
            if pending
            else similar.seeds_of(subscriber),
            "pending_at": pending["at"] if pending else "",
        }
        return render(request, "subscribers/confirm.html", context)
    try:
        if not services.subscription_confirm(
            subscriber=subscriber, pending_at=request.POST.get("pending", "")
        ):
            return render(request, "subscribers/confirmed.html", {"already": True})
    except services.SubscriptionError:
        return _bad_link(request)
    subscriber.refresh_from_db()
    context = {
        "subscriber": subscriber,
        "filters": subscriber.filters.all(),
        "manage_url": tokens.manage_url(subscriber),
        "next_digest": next_digest_shown(subscriber),
    }
    return render(request, "subscribers/confirmed.html", context)


def next_digest_shown(subscriber: Subscriber) -> dict | None:
    """When the next digest comes, on the subscriber's clock: {"at": local time, "now":
    whether it is due already}, or None when none is coming."""
    now = djtz.now()
    at = next_digest_at(subscriber, now=now)
    if at is None:
        return None
    return {"at": at.astimezone(zone(subscriber.timezone)), "now": at <= now}


MANAGE_ACTIONS = {
    "save",
    "add_filter",
    "preview",
    "remove_filter",
    "sample",
    "pause",
    "pause_week",
    "pause_month",
    "pause_until",
    "resume",
    "unsubscribe",
    "resubscribe",
    "sign_out",
    "change_email",
}


@never_cache
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _from_token(token, tokens.MANAGE)
    if subscriber is None:
        return _bad_link(request)
    context = {
        "subscriber": subscriber,
        "token": token,
        "feed_url": feed_url(subscriber),
        "category_notices": filters_with_unknown_categories(subscriber_ids=[subscriber.pk]),
        "votes": feedback.votes_of(subscriber=subscriber),
        "email_form": EmailChangeForm(),
        "next_digest": next_digest_shown(subscriber),
        "pause_choices": services.pause_choices(subscriber=subscriber, now=djtz.now()),
        "pause_min": djtz.now().astimezone(zone(subscriber.timezone)).date() + dt.timedelta(days=1),
        "week_day_name": WEEKDAYS[subscriber.week_day],
        "paused_until": (
            subscriber.paused_until.astimezone(zone(subscriber.timezone)) if subscriber.paused_until else None
        ),
    }
    if subscriber.status == Status.COMPLAINED:
        return render(request, "subscribers/manage_closed.html", context)
    action = "show"
    if request.method == "POST":
        # A filter's remove button names the filter (its only field); any other button, the action.
        action = "remove_filter" if "remove_filter" in request.POST else request.POST.get("action", "save")
    if action == "show" or action not in MANAGE_ACTIONS:
        return _manage_page(request, subscriber, context)
    if action == "change_email":
        return _change_email(request, subscriber, context)
    if action in ("add_filter", "preview"):
        limited = _rate_limited(request, "preview", "RATE_LIMIT_PREVIEW", cost=_preview_cost(request))
        return limited or _redisplay(request, PreferencesForm, "subscribers/manage.html", context)
    if action == "save":
        return _save_preferences(request, subscriber, context)
    return _manage_action(request, subscriber, action)


def _manage_page(
    request: HttpRequest, subscriber: Subscriber, context: dict, *, email_form=None, status: int = 200
) -> HttpResponse:
    """The manage page as saved: the subscriber's preferences, filters and "similar to"
    papers in the forms."""
    saved = list(subscriber.filters.all())
    filters = [{"name": f.name, "query": f.query} for f in saved]
    initial = {
        field: getattr(subscriber, field) for field in PreferencesForm.base_fields if field != "similar"
    }
    initial["similar"] = similar.seeds_text(similar.seeds_of(subscriber))
    context.update(
        form=PreferencesForm(initial=initial),
        formset=filter_formset(initial=filters, rows=max(1, len(filters))),
        previews={},
        email_form=email_form or context["email_form"],
        # Row i of the form is saved filter i: its remove button names the filter's id.
        saved_filters=dict(enumerate(saved)),
    )
    return render(request, "subscribers/manage.html", context, status=status)


def _change_email(request: HttpRequest, subscriber: Subscriber, context: dict) -> HttpResponse:
    """A link to confirm the new address goes there. The answer is the same whether another
    subscriber has that address or not (its owner is told instead)."""
    if limited := _rate_limited(request, "resend", "RATE_LIMIT_RESEND"):
        return limited
    form = EmailChangeForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, context, email_form=form, status=400)
    new_email = form.cleaned_data["new_email"]
    try:
        with _answer_no_sooner_than(settings.SIGNUP_ANSWER_SECONDS):
            outcome = services.subscriber_email_change_request(subscriber=subscriber, new_email=new_email)
    except ValidationError as exc:
        form.add_error("new_email", exc)
        return _manage_page(request, subscriber, context, email_form=form, status=400)
    except services.SubscriptionError as exc:
        messages.error(request, exc.message)
        return redirect(request.path)
    page = {"email": subscriber.email, "new_email": new_email, "limited": outcome == "limited"}
    return render(request, "subscribers/email_change_sent.html", page)


# The link sent to a new address: opening it shows a button, pressing it moves the
# subscription (mail scanners open links). The token is the credential, as for confirm.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = tokens.subscriber_from_email_change_token(token)
    except tokens.TokenInvalid:  # also TokenExpired, a used or replaced link
        return _bad_link(request)
    new_email = subscriber.pending_email
    if request.method == "GET":
        return render(request, "subscribers/email_change.html", {"new_email": new_email, "token": token})
    try:
        services.subscriber_email_change_confirm(subscriber=subscriber, new_email=new_email)
    except services.SubscriptionError as exc:
        return render(request, "subscribers/email_change.html", {"refused": exc.message}, status=409)
    subscriber.refresh_from_db()
    context = {"new_email": subscriber.email, "manage_url": tokens.manage_url(subscriber), "done": True}
    return render(request, "subscribers/email_change.html", context)


def _manage_action(request: HttpRequest, subscriber: Subscriber, action: str) -> HttpResponse:
    """Pause, resume, resubscribe; and the two that revoke this page's own link: unsubscribe
    and "sign out everywhere" answer with a page of their own rather than a redirect here."""
    if action == "resubscribe":
        return _resubscribe(request, subscriber)
    if action == "sign_out":
        return _sign_out(request, subscriber)
    if action == "sample":
        return _sample(request, subscriber)
    try:
        if action == "remove_filter":
            removed = services.filter_remove(
                subscriber=subscriber, filter_id=_int(request.POST.get("remove_filter"))
            )
            messages.success(request, f"The filter “{removed.name}” is removed.")
        elif action.startswith("pause"):
            _pause(request, subscriber, action)
        elif action == "resume":
            services.subscription_resume(subscriber=subscriber)
            messages.success(request, "Digests are on again.")
        else:
            services.subscription_unsubscribe(
                subscriber=subscriber, actor=Actor.SUBSCRIBER, reason="manage page"
            )
            subscriber.refresh_from_db()
            context = {"subscriber": subscriber, "token": tokens.make_token(subscriber, tokens.UNSUBSCRIBE)}
            return render(request, "subscribers/unsubscribed.html", context)
    except services.SubscriptionError as exc:
        messages.error(request, exc.message)
    return redirect(request.path)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0


def _pause(request: HttpRequest, subscriber: Subscriber, action: str) -> None:
    """Pause with no end, for a week, for a month, or until a date the subscriber chose."""
    until: dt.date | None = None
    if action in ("pause_week", "pause_month"):
        until = services.pause_choices(subscriber=subscriber, now=djtz.now())[action.removeprefix("pause_")]
    elif action == "pause_until":
        try:
            until = dt.date.fromisoformat(request.POST.get("until", "").strip())
        except ValueError:
            raise services.SubscriptionError(
                "Choose the date your digests should start again (for example 2026-12-31)."
            ) from None
    services.subscription_pause(subscriber=subscriber, until=until)
    if until is None:
        messages.success(request, "Digests are paused. Resume them here whenever you like.")
    else:
        messages.success(
            request, f"Digests are paused until {until:%A %-d %B %Y}; they start again that day."
        )


def _sample(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """ "Send me a sample now": limited per client address and per subscriber (a sample is
    an email: the page must not become a way to flood an inbox)."""
    if limited := _rate_limited(request, "sample-ip", "RATE_LIMIT_SAMPLE_IP"):
        return limited
    by_subscriber = lambda group, request: f"subscriber:{subscriber.pk}"  # noqa: E731
    if limited := _rate_limited(request, "sample", "RATE_LIMIT_SAMPLE", key=by_subscriber):
        return limited
    try:
        services.sample_request(subscriber=subscriber)
    except services.SubscriptionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"A sample of your next digest is on its way to {subscriber.email}. "
            "It does not replace the digest itself.",
        )
    return redirect(request.path)


def _sign_out(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if limited := _rate_limited(request, "resend", "RATE_LIMIT_RESEND"):
        return limited
    sent = services.subscriber_links_revoke(subscriber=subscriber, actor=Actor.SUBSCRIBER)
    return render(request, "subscribers/signed_out.html", {"email": subscriber.email, "sent": sent})


def _save_preferences(request: HttpRequest, subscriber: Subscriber, context: dict) -> HttpResponse:
    form = PreferencesForm(request.POST)
    formset = filter_formset(request.POST)
    if form.is_valid() and formset.is_valid():
        try:
            changed = services.subscription_update(
                subscriber=subscriber, filters=formset.filter_inputs(), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your preferences are saved." if changed else "Nothing changed.")
            return redirect(request.path)
    context.update(form=form, formset=formset, previews={})
    return render(request, "subscribers/manage.html", context, status=400)


def _resubscribe(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if limited := _rate_limited(request, "resend", "RATE_LIMIT_RESEND"):
        return limited
    context = {"email": subscriber.email, "resubscribe": True}
    try:
        context["limited"] = not services.confirmation_resend(subscriber=subscriber, actor=Actor.SUBSCRIBER)
    except services.SubscriptionError as exc:
        context["refused"] = exc.message
    return render(request, "subscribers/check_inbox.html", context)


# RFC 8058 one-click unsubscribe: mail providers POST here with no cookie and no CSRF
# token, and expect 200 without a redirect. The signed token is what authorises it.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _from_token(token, tokens.UNSUBSCRIBE)
    if subscriber is None:
        return _bad_link(request)
    if request.method == "GET":
        return render(request, "subscribers/unsubscribe.html", {"subscriber": subscriber, "token": token})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    services.subscription_unsubscribe(
        subscriber=subscriber, actor=Actor.SUBSCRIBER, reason="one-click" if one_click else "unsubscribe page"
    )
    subscriber.refresh_from_db()
    return render(request, "subscribers/unsubscribed.html", {"subscriber": subscriber, "token": token})


@never_cache
@require_POST
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """From the unsubscribed page: a fresh confirmation link, nothing re-activated yet."""
    subscriber = _from_token(token, tokens.UNSUBSCRIBE)
    if subscriber is None:
        return _bad_link(request)
    return _resubscribe(request, subscriber)


# Errors -------------------------------------------------------------------------------


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """A request Django refused to read (e.g. more form fields than DATA_UPLOAD_MAX_NUMBER_FIELDS,
    as a crafted sign-up with a thousand filters sends, or a suspicious one): a page that says
    so, in the site's own look, instead of a bare "Bad Request"."""
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """An error of ours: the site's own page, rendered without the request's context (no
    session, no database), so it shows even when what failed was the database."""
    page = render_to_string("500.html", {"site_name": settings.SITE_NAME})
    return HttpResponse(page, status=500)
