"""Hugging Face's daily papers (huggingface.co/api/daily_papers?date=YYYY-MM-DD), JSON.

The answer is a list of objects, one per paper on that day's list:
`{"paper": {"id": "<arXiv id>", "title", "summary", "authors": [{"name", ...}], "upvotes",
"publishedAt", ...}, "title", "summary", "publishedAt", "numComments", "submittedBy", ...}`.
The upvotes are Hugging Face's trending signal; everything else arXiv says better.
"""

from __future__ import annotations

import json

from alerts.papers.sources.records import (
    PaperRecord,
    SourceError,
    abs_url,
    clean_text,
    find_arxiv_id,
    parse_datetime,
    pdf_url,
)

SOURCE = "hf-daily"
_JSON_TYPES = {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean"}


def parse(body: bytes) -> list[PaperRecord]:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceError(
            SOURCE, f"the response is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            SOURCE, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, dict) and "error" in data:
        raise SourceError(SOURCE, f"Hugging Face answered with an error: {clean_text(str(data['error']))}")
    if not isinstance(data, list):
        kind = _JSON_TYPES.get(type(data), "value")
        raise SourceError(SOURCE, f"expected a list of papers, got a JSON {kind}")
    return [_record(item, position) for position, item in enumerate(data, start=1)]


def _record(item, position: int) -> PaperRecord:
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict) or not isinstance(paper.get("id"), str):
        raise SourceError(SOURCE, f"item {position} has no paper.id")
    found = find_arxiv_id(paper["id"])
    if not found or found[0] != paper["id"]:
        raise SourceError(SOURCE, f"item {position}: paper.id {paper['id']!r} is not an arXiv id")
    arxiv_id = found[0]
    title = clean_text(_text(paper, "title", position) or _text(item, "title", position))
    if not title:
        raise SourceError(SOURCE, f"item {position} ({arxiv_id}) has no title")
    authors = paper.get("authors", [])
    if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
        raise SourceError(SOURCE, f"item {position} ({arxiv_id}): paper.authors is not a list of objects")
    upvotes = paper.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool) or not isinstance(upvotes, int)):
        raise SourceError(SOURCE, f"item {position} ({arxiv_id}): paper.upvotes is not a whole number")
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=clean_text(_text(paper, "summary", position) or _text(item, "summary", position)),
        authors=[
            clean_text(a.get("name")) for a in authors if isinstance(a.get("name"), str) and a["name"].strip()
        ],
        published=parse_datetime(_text(paper, "publishedAt", position)),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        upvotes=upvotes,
    )


def _text(obj: dict, key: str, position: int) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SourceError(SOURCE, f"item {position}: {key} is not a string")
    return value
