"""A topic of kind "similar to": papers a subscriber likes, pasted as arXiv ids, arXiv URLs
or titles, instead of (or besides) a query.

- **Parsing** (`seeds_parse`): one paper a line; a line of ids or URLs may hold several,
  separated by spaces or commas. An arXiv id is new-style (`2401.01234`, `0704.0001`) or
  old-style (`hep-th/9901001`, `math.GT/0309136`), bare, after `arXiv:`, or in an
  arxiv.org `abs/`, `pdf/` or `html/` URL, with or without a version (`v2`). A line that
  is not an id is a title.
- **Lookup** (`seeds_lookup`): ids among the stored papers (`alerts.Paper.arxiv_id`);
  titles among the stored papers' titles, ignoring case, accents and punctuation, exactly
  or closely (`TITLE_MATCH`, a difflib ratio: a typo or a missing word still finds it).
  Nothing is fetched and nothing is stored: an id no stored paper has is reported as such.
- **Storage** (`seeds_set`): each seed is a `subscribers.Vote` *more like this* with source
  `seed`, so the personal model learns from it like from a vote in a digest; the topic is
  the set of those votes. Removing a seed (from this list or the manage page's votes)
  removes the vote.
- **Matching** is in the digest (`alerts.digests.composing`): the period's papers nearest
  to the seeds' centroid (`alerts.search.model.similar`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from alerts.models import Paper
from alerts.search import textnorm
from subscribers.models import Subscriber, Vote

# Bounds on what one paste may hold: a handful of favourite papers, not a library.
MAX_SEEDS = 20
MAX_CHARS = 5000
MAX_LINE = 400
# A stored title matches a pasted one from this difflib ratio on (of their normalised forms).
TITLE_MATCH = 0.9
# Candidates read per pasted title (the newest papers sharing one of its longest words).
TITLE_CANDIDATES = 2000
SIMILAR_NAME = "Similar to your papers"

_NEW_ID = r"(?P<new>(?P<yy>\d\d)(?P<mm>\d\d)\.(?P<num>\d{4,5}))"
_OLD_ID = r"(?P<old>(?P<archive>[a-z][a-z-]*(?:\.[A-Za-z]{2})?)/(?P<oyy>\d\d)(?P<omm>\d\d)\d{3})"
_ID = re.compile(
    r"(?:arxiv:)?"
    r"(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)?"
    rf"(?:{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?(?:\.pdf)?/?(?:[?#]\S*)?",
    re.IGNORECASE,
)
# What a person meant as an id, even when it is not a valid one.
_ID_LIKE = re.compile(r"^(?:arxiv:|\S*arxiv\.org/|\d{4}\.\d|[a-z-]+(?:\.[a-z]{2})?/\d)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class SeedItem:
    """One pasted item: an arXiv id, a title, or what could not be read (`error`)."""

    text: str
    arxiv_id: str = ""
    title: str = ""
    error: str = ""


@dataclass(frozen=True)
class SeedLookup:
    found: list[tuple[SeedItem, Paper]]
    missing: list[tuple[SeedItem, str]]  # (item, why)

    @property
    def papers(self) -> list[Paper]:
        return [paper for _, paper in self.found]


def _id_problem(match: re.Match) -> str:
    """Why a well-formed id cannot be one arXiv gave out, or ""."""
    if match.group("new"):
        yy, mm, digits = int(match.group("yy")), int(match.group("mm")), len(match.group("num"))
        if not 1 <= mm <= 12:
            return f"there is no month {mm:02d}"
        if (yy, mm) < (7, 4):
            return "new-style ids start in April 2007 (0704.xxxx)"
        if (yy, mm) >= (15, 1) and digits != 5:
            return "ids from 2015 on have 5 digits after the dot"
        if (yy, mm) < (15, 1) and digits != 4:
            return "ids before 2015 have 4 digits after the dot"
        return ""
    mm = int(match.group("omm"))
    if not 1 <= mm <= 12:
        return f"there is no month {mm:02d}"
    return ""


def _canonical(match: re.Match) -> str:
    if match.group("new"):
        return match.group("new")
    archive, _, subject = match.group("archive").partition(".")
    number = match.group("old").split("/", 1)[1]
    return f"{archive.lower()}.{subject.upper()}/{number}" if subject else f"{archive.lower()}/{number}"


def _parse_id(token: str) -> SeedItem | None:
    """The item `token` names when it is meant as an id (valid or not); None for a word."""
    match = _ID.fullmatch(token)
    if match:
        problem = _id_problem(match)
        if problem:
            return SeedItem(token, error=f"“{token}” is not an arXiv id: {problem}.")
        return SeedItem(token, arxiv_id=_canonical(match))
    if _ID_LIKE.match(token):
        return SeedItem(
            token,
            error=f"“{token}” is not an arXiv id: write it as 2401.01234 or hep-th/9901001, "
            "or paste its arxiv.org link.",
        )
    return None


def seeds_parse(text: str) -> list[SeedItem]:
    """The items of a paste, in order, without repeats. ValidationError for a paste too long
    or with too many items, or with control characters."""
    text = (text or "").replace("\r\n", "\n")
    if len(text) > MAX_CHARS:
        raise ValidationError(
            f"Paste at most {MAX_CHARS} characters of ids or titles (this has {len(text)}).", code="similar"
        )
    if _CONTROL.search(text):
        raise ValidationError("The list of papers cannot contain control characters.", code="similar")
    items: list[SeedItem] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if not line:
            continue
        tokens = [t for t in _SEPARATORS.split(line) if t]
        parsed = [_parse_id(t) for t in tokens]
        if all(parsed):
            items.extend(p for p in parsed if p is not None)
        elif len(line) > MAX_LINE:
            items.append(SeedItem(line[:60] + "…", error=f"A title is at most {MAX_LINE} characters long."))
        elif len(_title_key(line).split()) < 2:
            items.append(SeedItem(line, error=f"“{line}” is neither an arXiv id nor a title (too short)."))
        else:
            items.append(SeedItem(line, title=line))
    unique: list[SeedItem] = []
    seen: set[str] = set()
    for item in items:
        key = item.arxiv_id or _title_key(item.title) or item.text
        if key not in seen:
            seen.add(key)
            unique.append(item)
    if len(unique) > MAX_SEEDS:
        raise ValidationError(
            f"Paste at most {MAX_SEEDS} papers (this has {len(unique)}): "
            "the few that describe your interest best.",
            code="similar",
        )
    return unique


def _title_key(title: str) -> str:
    """A title as compared: case, accents and punctuation left out."""
    return " ".join(textnorm.fold(w) for w in re.findall(r"\w+", title or ""))


def _title_candidates(title: str) -> Q | None:
    words = sorted(
        {w for w in re.findall(r"\w+", title) if w.isascii() and len(w) >= 4}, key=len, reverse=True
    )
    if not words:
        return None
    query = Q()
    for word in words[:3]:
        query |= Q(title__icontains=word)
    return query


def _find_title(title: str) -> Paper | None:
    key = _title_key(title)
    candidates = _title_candidates(title)
    if candidates is None:
        return None
    rows = Paper.objects.filter(candidates).order_by("-id").only("id", "title", "arxiv_id", "abs_url")
    best, best_ratio = None, TITLE_MATCH
    for paper in rows[:TITLE_CANDIDATES]:
        other = _title_key(paper.title)
        if other == key:
            return paper
        matcher = difflib.SequenceMatcher(None, key, other, autojunk=False)
        if matcher.real_quick_ratio() >= best_ratio and matcher.quick_ratio() >= best_ratio:
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio = paper, ratio
    return best


def seeds_lookup(items: Sequence[SeedItem]) -> SeedLookup:
    """Each item's stored paper, or why there is none. Reads only."""
    ids = [item.arxiv_id for item in items if item.arxiv_id]
    by_id = {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=ids)} if ids else {}
    found: list[tuple[SeedItem, Paper]] = []
    missing: list[tuple[SeedItem, str]] = []
    for item in items:
        if item.error:
            missing.append((item, item.error))
        elif item.arxiv_id:
            paper = by_id.get(item.arxiv_id)
            if paper is None:
                missing.append(
                    (
                        item,
                        f"No paper {item.arxiv_id} is stored here: check the id (only papers this service "
                        "has fetched can be used; paste another paper you like, or write a query).",
                    )
                )
            else:
                found.append((item, paper))
        else:
            paper = _find_title(item.title)
            if paper is None:
                missing.append(
                    (item, f"No stored paper has the title “{item.title}”: paste its arXiv id instead.")
                )
            else:
                found.append((item, paper))
    return SeedLookup(found, missing)


def seeds_check(text: str) -> list[Paper]:
    """The stored papers a paste names, each once; ValidationError listing every item that
    names none (then nothing is to be stored)."""
    lookup = seeds_lookup(seeds_parse(text))
    if lookup.missing:
        raise ValidationError([why for _, why in lookup.missing], code="similar")
    papers: dict[int, Paper] = {}
    for paper in lookup.papers:
        papers.setdefault(paper.pk, paper)
    return list(papers.values())


# Storage ------------------------------------------------------------------------------


def seeds_of(subscriber: Subscriber) -> list[Paper]:
    """The subscriber's seed papers, in the order they were given."""
    votes = Vote.objects.filter(subscriber=subscriber, action=Vote.Action.MORE, source=Vote.Source.SEED)
    return [vote.paper for vote in votes.select_related("paper").order_by("created_at", "id")]


def seeds_text(papers: Iterable[Paper]) -> str:
    """The seeds as the form shows them: one arXiv id (or title) a line."""
    return "\n".join(paper.arxiv_id or paper.title for paper in papers)


def seeds_set(*, subscriber: Subscriber, papers: Sequence[Paper]) -> bool:
    """Make these papers the subscriber's seeds (call inside the caller's transaction, the
    subscriber's row locked); return whether anything changed. A *more like this* already
    given from a digest becomes a seed; a *less like this* on a pasted paper is taken back."""
    wanted = {paper.pk for paper in papers}
    seeds = Vote.objects.filter(subscriber=subscriber, action=Vote.Action.MORE, source=Vote.Source.SEED)
    removed, _ = seeds.exclude(paper_id__in=wanted).delete()
    have = set(seeds.values_list("paper_id", flat=True))
    added = [paper for paper in papers if paper.pk not in have]
    if added:
        ids = [paper.pk for paper in added]
        Vote.objects.filter(subscriber=subscriber, paper_id__in=ids, action=Vote.Action.LESS).delete()
        Vote.objects.filter(subscriber=subscriber, paper_id__in=ids, action=Vote.Action.MORE).update(
            source=Vote.Source.SEED
        )
        present = set(
            Vote.objects.filter(subscriber=subscriber, paper_id__in=ids, action=Vote.Action.MORE).values_list(
                "paper_id", flat=True
            )
        )
        Vote.objects.bulk_create(
            [
                Vote(subscriber=subscriber, paper=paper, action=Vote.Action.MORE, source=Vote.Source.SEED)
                for paper in added
                if paper.pk not in present
            ]
        )
    return bool(removed or added)
