"""The reader's own feedback: votes from a digest's links (more / less like this, save),
saved papers, and everything kept about a subscriber as JSON.

A feedback link is `/feedback/<digest token>/<paper id>/<action>/`: the token is signed once
per digest (subscribers.tokens.FEEDBACK, keyed by the subscriber's token_secret, so a new
secret revokes them), and the paper and the action are checked here against that digest's
items. Opening a link records nothing (mail scanners open links); only the page's button does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import Digest, DigestItem, Paper
from subscribers.models import Subscriber, Vote
from subscribers.tokens import PREVIEW, TokenInvalid, feedback_digest_id, feedback_token_check

Action = Vote.Action
# More and less exclude each other: pressing one takes the other back.
OPPOSITE = {Action.MORE: Action.LESS, Action.LESS: Action.MORE}


INVALID_LINK = "This link is not valid: it may be incomplete, or it has been revoked."


class FeedbackInvalid(Exception):
    """A feedback link that names nothing a subscriber may vote on; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FeedbackTarget:
    subscriber: Subscriber
    digest: Digest
    paper: Paper
    action: str


def digest_of_feedback_token(token: str) -> Digest:
    """The digest a feedback token was signed for; FeedbackInvalid for a forged,
    truncated or revoked one (the subscriber signed out everywhere, or was erased)."""
    if token == PREVIEW:
        raise FeedbackInvalid("This link comes from a preview: votes count from digests that were sent.")
    try:
        digest = Digest.objects.select_related("subscriber").filter(pk=feedback_digest_id(token)).first()
        feedback_token_check(token, digest.subscriber if digest else None)
    except TokenInvalid:
        raise FeedbackInvalid(INVALID_LINK) from None
    return digest


def feedback_target(*, token: str, paper_id: int, action: str) -> FeedbackTarget:
    """What a feedback link names, checked: the signature, the action, and that the paper
    is one of that digest's papers (a token cannot be reused for another paper)."""
    digest = digest_of_feedback_token(token)
    if action not in Action.values:
        raise FeedbackInvalid("This link asks for an action that does not exist.")
    item = DigestItem.objects.filter(digest=digest, paper_id=paper_id).select_related("paper").first()
    if item is None:
        raise FeedbackInvalid("This paper is not one of that digest's papers.")
    return FeedbackTarget(subscriber=digest.subscriber, digest=digest, paper=item.paper, action=action)


def actions_on(*, subscriber: Subscriber, paper: Paper) -> set[str]:
    return set(Vote.objects.filter(subscriber=subscriber, paper=paper).values_list("action", flat=True))


@transaction.atomic
def vote_record(*, subscriber: Subscriber, paper: Paper, action: str, digest: Digest | None = None) -> bool:
    """Record one vote; a second press changes nothing. True when something was stored."""
    if action not in Action.values:
        raise FeedbackInvalid("This action does not exist.")
    opposite = OPPOSITE.get(action)
    if opposite:
        Vote.objects.filter(subscriber=subscriber, paper=paper, action=opposite).delete()
    try:
        with transaction.atomic():
            _, created = Vote.objects.get_or_create(
                subscriber=subscriber, paper=paper, action=action, defaults={"digest": digest}
            )
    except IntegrityError:  # the same press twice at once: the other one stored it
        created = False
    return created


def vote_undo(*, subscriber: Subscriber, paper: Paper | int, action: str) -> bool:
    """Take a vote back (also: remove a saved paper). True when there was one."""
    paper_id = paper if isinstance(paper, int) else paper.pk
    deleted, _ = Vote.objects.filter(subscriber=subscriber, paper_id=paper_id, action=action).delete()
    return bool(deleted)


# Reads ----------------------------------------------------------------------------------


def votes_of(*, subscriber: Subscriber) -> list[Vote]:
    """Every vote of `subscriber`, newest first, with its paper."""
    return list(Vote.objects.filter(subscriber=subscriber).select_related("paper"))


def saved_papers(*, subscriber: Subscriber) -> list[Vote]:
    """The papers `subscriber` saved, newest first (the vote rows, with their paper)."""
    return list(Vote.objects.filter(subscriber=subscriber, action=Action.SAVE).select_related("paper"))


def paper_link(paper: Paper) -> str:
    url = paper.abs_url or (f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else "")
    return url if url.startswith(("https://", "http://")) else ""


def _bibtex_escape(value: str) -> str:
    # Braces and backslashes would end or break a field; the rest is kept as written.
    return " ".join(value.replace("\\", "").replace("{", "").replace("}", "").split())


def bibtex_entry(paper: Paper) -> str:
    year = (paper.published or paper.first_seen_at).year
    key = f"paper{paper.pk}"
    if paper.arxiv_id:
        key = "arxiv" + re.sub(r"[^A-Za-z0-9]", "_", paper.arxiv_id)
    fields = [
        ("title", _bibtex_escape(paper.title)),
        ("author", " and ".join(_bibtex_escape(a) for a in paper.authors)),
        ("year", str(year)),
    ]
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        if paper.primary_category:
            fields.append(("primaryClass", _bibtex_escape(paper.primary_category)))
    if paper.doi:
        fields.append(("doi", _bibtex_escape(paper.doi)))
    if link := paper_link(paper):
        fields.append(("url", _bibtex_escape(link)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{key},\n{body}\n}}\n"


def saved_bibtex(*, subscriber: Subscriber) -> str:
    return "\n".join(bibtex_entry(vote.paper) for vote in saved_papers(subscriber=subscriber))


def saved_ids(*, subscriber: Subscriber) -> str:
    """One arXiv id a line (papers without one, from other feeds, are left out)."""
    ids = [vote.paper.arxiv_id for vote in saved_papers(subscriber=subscriber) if vote.paper.arxiv_id]
    return "".join(f"{arxiv_id}\n" for arxiv_id in ids)


def subscriber_data(*, subscriber: Subscriber) -> dict:
    """Everything kept about `subscriber` that they gave us, for a JSON download."""
    return {
        "exported_at": timezone.now().isoformat(),
        "email": subscriber.email,
        "status": subscriber.status,
        "timezone": subscriber.timezone,
        "send_hour": subscriber.send_hour,
        "frequency": subscriber.frequency,
        "max_papers": subscriber.max_papers,
        "include_trending": subscriber.include_trending,
        "created_at": subscriber.created_at.isoformat(),
        "filters": [
            {"name": f.name, "query": f.query, "is_active": f.is_active} for f in subscriber.filters.all()
        ],
        "votes": [
            {
                "action": vote.action,
                "source": vote.source,
                "arxiv_id": vote.paper.arxiv_id,
                "title": vote.paper.title,
                "url": paper_link(vote.paper),
                "created_at": vote.created_at.isoformat(),
            }
            for vote in votes_of(subscriber=subscriber)
        ],
    }
