"""Feedback links from digests (more / less like this, save), saved papers, and the JSON
download of a subscriber's data. Each view parses the request and calls subscribers.feedback.

Opening a feedback link (GET) records nothing: mail scanners fetch every link and many
run the page's scripts. The page shows the paper and one button; the POST it sends records
the vote. These forms carry no CSRF token, as the confirm and unsubscribe buttons: the
signed path is the credential (whoever can forge the POST already holds the link, and can
press the button), some in-app mail browsers drop cookies, and only POST changes anything.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from subscribers import feedback, tokens
from subscribers.feedback import Action, FeedbackInvalid
from subscribers.models import Subscriber
from subscribers.views import _rate_limited

ACTION_LABELS = dict(Action.choices)
DONE = {"recorded", "undone", "unchanged"}


def _limited(request: HttpRequest) -> HttpResponse | None:
    return _rate_limited(request, "feedback", "RATE_LIMIT_FEEDBACK")


def _invalid(request: HttpRequest, message: str, status: int = 404) -> HttpResponse:
    return render(request, "subscribers/feedback_invalid.html", {"reason": message}, status=status)


def _parse_paper(paper_id: str) -> int:
    if not paper_id.isdigit() or len(paper_id) > 18:
        raise FeedbackInvalid("This link names no paper.")
    return int(paper_id)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])  # link checkers send HEAD: it records nothing either
def feedback_vote(request: HttpRequest, token: str, paper_id: str, action: str) -> HttpResponse:
    if limited := _limited(request):
        return limited
    try:
        target = feedback.feedback_target(token=token, paper_id=_parse_paper(paper_id), action=action)
    except FeedbackInvalid as exc:
        return _invalid(request, exc.message)
    if request.method == "POST":
        if request.POST.get("do") == "undo":
            done = feedback.vote_undo(subscriber=target.subscriber, paper=target.paper, action=action)
            return redirect(f"{request.path}?done={'undone' if done else 'unchanged'}", permanent=False)
        stored = feedback.vote_record(
            subscriber=target.subscriber, paper=target.paper, action=action, digest=target.digest
        )
        return redirect(f"{request.path}?done={'recorded' if stored else 'unchanged'}", permanent=False)
    current = feedback.actions_on(subscriber=target.subscriber, paper=target.paper)
    base = reverse("feedback-digest", kwargs={"token": token})
    others = [(name, ACTION_LABELS[name], f"{base}{target.paper.pk}/{name}/") for name in Action.values]
    context = {
        "paper": target.paper,
        "paper_url": feedback.paper_link(target.paper),
        "action": action,
        "label": ACTION_LABELS[action],
        "recorded": action in current,
        "current": current,
        "done": request.GET.get("done") if request.GET.get("done") in DONE else "",
        "others": [other for other in others if other[0] != action],
        "saved_url": f"{base}saved/",
    }
    return render(request, "subscribers/feedback.html", context)


@require_GET
def feedback_digest(request: HttpRequest, token: str) -> HttpResponse:
    """The bare prefix of a digest's feedback links: its saved papers."""
    return redirect("feedback-saved", token=token)


# Saved papers --------------------------------------------------------------------------


def _owner(kind: str, token: str) -> Subscriber | None:
    """The subscriber a feedback token (from a digest) or a manage token names."""
    try:
        if kind == "feedback":
            return feedback.digest_of_feedback_token(token).subscriber
        return tokens.subscriber_from_token(token, tokens.MANAGE)
    except (FeedbackInvalid, tokens.TokenInvalid):
        return None


def _saved_base(kind: str, token: str) -> str:
    return reverse("feedback-saved" if kind == "feedback" else "subscribers:saved", kwargs={"token": token})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def saved(request: HttpRequest, token: str, kind: str = "feedback") -> HttpResponse:
    if limited := _limited(request):
        return limited
    subscriber = _owner(kind, token)
    if subscriber is None:
        return _invalid(request, feedback.INVALID_LINK)
    if request.method == "POST":
        try:
            paper_id = _parse_paper(request.POST.get("paper", ""))
        except FeedbackInvalid as exc:
            return _invalid(request, exc.message, status=400)
        feedback.vote_undo(subscriber=subscriber, paper=paper_id, action=Action.SAVE)
        return redirect(f"{request.path}?removed=1")
    base = _saved_base(kind, token)
    context = {
        "saved": [(v, feedback.paper_link(v.paper)) for v in feedback.saved_papers(subscriber=subscriber)],
        "removed": "removed" in request.GET,
        "bibtex_url": f"{base}papers.bib",
        "ids_url": f"{base}arxiv-ids.txt",
        "manage_url": reverse("subscribers:manage", kwargs={"token": token}) if kind == "manage" else "",
    }
    return render(request, "subscribers/saved.html", context)


@never_cache
@require_GET
def saved_export(request: HttpRequest, token: str, fmt: str, kind: str = "feedback") -> HttpResponse:
    if limited := _limited(request):
        return limited
    subscriber = _owner(kind, token)
    if subscriber is None:
        return _invalid(request, feedback.INVALID_LINK)
    if fmt == "bibtex":
        body, name, kind_of = feedback.saved_bibtex(subscriber=subscriber), "saved-papers.bib", "x-bibtex"
    else:
        body, name, kind_of = feedback.saved_ids(subscriber=subscriber), "saved-arxiv-ids.txt", "plain"
    response = HttpResponse(body, content_type=f"text/{kind_of}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# From the manage page ------------------------------------------------------------------


@never_cache
@require_POST
def vote_remove(request: HttpRequest, token: str) -> HttpResponse:
    """The manage page's "remove" beside a vote (a normal CSRF-protected form)."""
    subscriber = _owner("manage", token)
    if subscriber is None:
        return _invalid(request, feedback.INVALID_LINK)
    action = request.POST.get("action", "")
    try:
        paper_id = _parse_paper(request.POST.get("paper", ""))
    except FeedbackInvalid as exc:
        return _invalid(request, exc.message, status=400)
    if action in Action.values:
        feedback.vote_undo(subscriber=subscriber, paper=paper_id, action=action)
    return redirect(reverse("subscribers:manage", kwargs={"token": token}) + "#votes-heading")


@never_cache
@require_GET
def data_export(request: HttpRequest, token: str) -> HttpResponse:
    """Everything kept about the subscriber, as a JSON download."""
    if limited := _limited(request):
        return limited
    subscriber = _owner("manage", token)
    if subscriber is None:
        return _invalid(request, feedback.INVALID_LINK)
    body = json.dumps(feedback.subscriber_data(subscriber=subscriber), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-paper-alerts-data.json"'
    return response
