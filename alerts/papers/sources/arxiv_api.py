"""The arXiv API (export.arxiv.org/api/query): an Atom feed of search results, one page each.

A page says how many results the query has (`opensearch:totalResults`) and where it starts;
each entry carries the versioned id (`http://arxiv.org/abs/<id>v<N>`, old-style ids such as
`astro-ph/0601001v2` too), `arxiv:primary_category`, `arxiv:comment`, `arxiv:journal_ref`,
`arxiv:doi`, a pdf link and authors with `arxiv:affiliation`s. An error comes back as a
feed with a single entry whose id starts with `http://arxiv.org/api/errors`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from alerts.papers.sources.records import (
    PaperRecord,
    SourceError,
    abs_url,
    clean_text,
    entry_categories,
    identify_entry,
    parse_datetime,
    parse_feed,
    pdf_url,
    url_with_params,
)

SOURCE = "arxiv-api"
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_ERROR_IDS = ("http://arxiv.org/api/errors", "https://arxiv.org/api/errors")


@dataclass
class ApiPage:
    records: list[PaperRecord]
    total_results: int
    start_index: int
    items_per_page: int


def search_query(categories: list[str], day: str | None = None) -> str:
    """The API's search_query for papers in any of `categories`, submitted on `day` (YYYYMMDD)."""
    query = " OR ".join(f"cat:{category}" for category in categories)
    if len(categories) > 1:
        query = f"({query})"
    if day:
        window = f"submittedDate:[{day}0000 TO {day}2359]"
        query = f"{query} AND {window}" if query else window
    return query


def page_url(base: str, *, start: int, max_results: int, **params: str) -> str:
    """`base` with the paging parameters (and any others) set, keeping what it already had."""
    return url_with_params(base, **params, start=str(start), max_results=str(max_results))


def parse(body: bytes) -> ApiPage:
    parsed = parse_feed(body, source=SOURCE, sanitize_html=False)
    entries = parsed.entries
    if len(entries) == 1 and entries[0].get("id", "").startswith(_ERROR_IDS):
        message = clean_text(entries[0].get("summary")) or entries[0]["id"]
        raise SourceError(SOURCE, f"arXiv answered with an error: {message}")
    if "opensearch_totalresults" not in parsed.feed:
        raise SourceError(SOURCE, "not an arXiv API response (no opensearch:totalResults)")
    total = _count(parsed.feed, "opensearch_totalresults")
    start = _count(parsed.feed, "opensearch_startindex")
    per_page = _count(parsed.feed, "opensearch_itemsperpage")
    affiliations = _affiliations(body)
    records = [_record(entry, position, affiliations) for position, entry in enumerate(entries, start=1)]
    return ApiPage(records=records, total_results=total, start_index=start, items_per_page=per_page)


def _count(feed, key: str) -> int:
    value = str(feed.get(key, "0")).strip() or "0"
    try:
        return int(value)
    except ValueError:
        raise SourceError(SOURCE, f"{key.replace('_', ':', 1)} is not a number: {value!r}") from None


def _affiliations(body: bytes) -> dict[str, dict[str, list[str]]]:
    """Entry id -> author name -> affiliations. feedparser keeps only the last affiliation
    of an entry, so these are read from the XML directly (already known to be well-formed)."""
    out: dict[str, dict[str, list[str]]] = {}
    root = ET.fromstring(body)  # noqa: S314 - well-formed per feedparser; expat resolves no external entities
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = (entry.findtext(f"{_ATOM}id") or "").strip()
        by_author = {}
        for author in entry.iter(f"{_ATOM}author"):
            name = clean_text(author.findtext(f"{_ATOM}name"))
            places = [clean_text(a.text) for a in author.iter(f"{_ARXIV}affiliation") if clean_text(a.text)]
            if name and places:
                by_author[name] = places
        out[entry_id] = by_author
    return out


def _record(entry, position: int, affiliations) -> PaperRecord:
    arxiv_id, version, title = identify_entry(entry, [entry.get("id", "")], source=SOURCE, position=position)
    categories = entry_categories(entry)
    primary = (entry.get("arxiv_primary_category") or {}).get("term", "") or (categories[:1] or [""])[0]
    if primary and primary not in categories:
        categories.insert(0, primary)
    pdf = next((link.get("href", "") for link in entry.get("links", []) if link.get("title") == "pdf"), "")
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=clean_text(entry.get("summary")),
        authors=[clean_text(author.get("name")) for author in entry.get("authors", []) if author.get("name")],
        affiliations=affiliations.get(entry.get("id", "").strip(), {}),
        categories=categories,
        primary_category=primary,
        published=parse_datetime(entry.get("published")),
        updated=parse_datetime(dict.get(entry, "updated")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf.replace("http://", "https://", 1) if pdf else pdf_url(arxiv_id),
        doi=clean_text(entry.get("arxiv_doi")),
        journal_ref=clean_text(entry.get("arxiv_journal_ref")),
        comment=clean_text(entry.get("arxiv_comment")),
    )
