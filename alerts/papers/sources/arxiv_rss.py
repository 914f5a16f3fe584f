"""arXiv's per-category listing feeds (rss.arxiv.org/rss/<cats> and /atom/<cats>, 2024+ format).

Each item is one announcement: `arxiv:announce_type` says whether the paper is new, a
cross-list, a replacement (a new version) or a replaced cross-list. The guid is
`oai:arXiv.org:<id>v<N>`, authors come as ONE comma-separated `dc:creator`, and the
description starts with "arXiv:<id>v<N> Announce Type: <type>" before "Abstract: ...".
The feed's pubDate is the announcement date; weekends and holidays give an empty feed.
"""

from __future__ import annotations

import re

from alerts.papers.sources.records import (
    PaperRecord,
    SourceError,
    abs_url,
    arxiv_date,
    clean_text,
    entry_categories,
    identify_entry,
    parse_datetime,
    parse_feed,
    pdf_url,
)

SOURCE = "arxiv-rss"
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")

_PREAMBLE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*", re.IGNORECASE)
_ABSTRACT_LABEL = re.compile(r"^\s*Abstract:\s*", re.IGNORECASE)
# Name suffixes that a comma separates from the name they belong to ("John Smith, Jr.").
_SUFFIX = re.compile(r"^(?:jr|sr|ii|iii|iv|v|vi|phd|md)\.?$", re.IGNORECASE)


def listing_url(base: str, categories: list[str]) -> str:
    """The listing feed of several categories: arXiv joins them with "+" in the path."""
    return base.rstrip("/") + "/" + "+".join(categories)


def split_authors(creator: str) -> list[str]:
    """Split arXiv's one-string author list ("A, B and C") into names, keeping "Jr." suffixes."""
    names: list[str] = []
    for piece in clean_text(creator).split(","):
        piece = piece.strip()
        if not piece:
            continue
        if names and _SUFFIX.match(piece):
            names[-1] = f"{names[-1]} {piece}"
            continue
        # "A and B" only ever joins the last two names; a name never contains " and ".
        names.extend(part.strip() for part in re.split(r"^and\s+|\s+and\s+", piece) if part.strip())
    return names


def parse(body: bytes) -> list[PaperRecord]:
    """The announcements in one listing feed (RSS 2.0 or Atom), in feed order."""
    parsed = parse_feed(body, source=SOURCE, sanitize_html=False)
    feed_date = parse_datetime(parsed.feed.get("published") or dict.get(parsed.feed, "updated"))
    records = []
    for position, entry in enumerate(parsed.entries, start=1):
        records.append(_record(entry, position, feed_date))
    return records


def _record(entry, position: int, feed_date) -> PaperRecord:
    description = entry.get("summary", "")
    preamble = _PREAMBLE.match(description)
    # The guid names the version; so does the description's preamble; the link does not.
    id_texts = [entry.get("id", ""), description[: preamble.end()] if preamble else "", entry.get("link", "")]
    arxiv_id, version, title = identify_entry(entry, id_texts, source=SOURCE, position=position)

    announce_type = (entry.get("arxiv_announce_type") or (preamble and preamble.group("type")) or "").lower()
    if announce_type and announce_type not in ANNOUNCE_TYPES:
        raise SourceError(
            SOURCE, f"item {position} ({arxiv_id}) has an unknown announce type {announce_type!r}"
        )
    abstract = description[preamble.end() :] if preamble else description
    abstract = clean_text(_ABSTRACT_LABEL.sub("", abstract, count=1))

    announced = parse_datetime(entry.get("published")) or feed_date
    categories = entry_categories(entry)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=split_authors(entry.get("author", "")),
        categories=categories,
        # The listing names no primary category; arXiv lists a paper's primary first.
        primary_category=categories[0] if categories else "",
        announced_on=arxiv_date(announced),
        announce_type=announce_type,
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        doi=clean_text(entry.get("arxiv_doi")),
        journal_ref=clean_text(entry.get("arxiv_journal_reference")),
    )
