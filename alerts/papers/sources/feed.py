"""Any RSS or Atom feed (bioRxiv, a journal's table of contents, a lab's blog).

Items are keyed by their guid (RSS) or id (Atom), else by their link, so that the same item
seen again updates its row. Titles and descriptions may be HTML: they are stored as text.
"""

from __future__ import annotations

from urllib.parse import urljoin

from alerts.core.display import safe_url
from alerts.papers.sources.records import (
    PaperRecord,
    SourceError,
    clean_text,
    html_to_text,
    parse_datetime,
    parse_feed,
)

SOURCE = "feed"


def parse(body: bytes, *, feed_url: str = "") -> list[PaperRecord]:
    parsed = parse_feed(body, source=SOURCE, sanitize_html=True)
    return [_record(entry, position, feed_url) for position, entry in enumerate(parsed.entries, start=1)]


def _record(entry, position: int, feed_url: str) -> PaperRecord:
    # A "javascript:" link (or one relative to nothing known) is never shown to anyone.
    link = safe_url(urljoin(feed_url, (entry.get("link") or "").strip()))
    key = (entry.get("id") or "").strip() or link
    if not key:
        raise SourceError(SOURCE, f"item {position} has neither a guid nor a link")
    title = _text(entry, "title") or link or key
    authors: list[str] = []
    for author in entry.get("authors", []):
        authors.extend(name.strip() for name in (author.get("name") or "").split(";") if name.strip())
    published = parse_datetime(entry.get("published") or dict.get(entry, "updated"))
    return PaperRecord(
        external_key=key,
        title=title,
        abstract=_text(entry, "summary"),
        authors=authors,
        categories=[
            clean_text(tag.get("term")) for tag in entry.get("tags", []) if clean_text(tag.get("term"))
        ],
        published=published,
        updated=parse_datetime(dict.get(entry, "updated")) or published,
        abs_url=link,
        doi=_doi(entry),
        feed_url=feed_url,
    )


def _text(entry, key: str) -> str:
    value = entry.get(key, "")
    kind = (entry.get(f"{key}_detail") or {}).get("type", "text/plain")
    return html_to_text(value) if "html" in kind else clean_text(value)


def _doi(entry) -> str:
    if entry.get("prism_doi"):
        return clean_text(entry["prism_doi"])
    identifier = clean_text(entry.get("dc_identifier"))
    return identifier[4:] if identifier.lower().startswith("doi:") else ""
