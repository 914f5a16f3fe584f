"""The normalised paper record every source produces, and the helpers the parsers share.

Pure module: no Django. A parser turns a response body into a list of `PaperRecord`s or
raises `SourceError` with a message that names the source and the problem.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import io
import re
import xml.sax
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.parsers import expat
from zoneinfo import ZoneInfo

import feedparser

from alerts.core.display import shorten

# arXiv announces in US Eastern time: an announcement "date" is a date there.
ARXIV_TIMEZONE = ZoneInfo("America/New_York")

# New-style ids (2203.01250, 0704.0001) and old-style ones (astro-ph/0601001, math.GT/0309136),
# each optionally followed by a version (v3).
_ARXIV_ID = re.compile(
    r"(?<![\w.-])(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?(?![\d.])"
)
# An arXiv category (cs.LG, hep-th, astro-ph.GA, cond-mat.str-el, q-bio.NC) or a whole
# archive (cs, math). ACM (I.2.6) and MSC (65M70) classes do not match.
_ARXIV_CATEGORY = re.compile(r"^[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")

# Bounds on what one paper may bring: the longest real arXiv titles are a few hundred
# characters and abstracts at most 1,920; a feed's description may be a whole blog post.
MAX_TITLE_CHARS = 1000
MAX_ABSTRACT_CHARS = 20_000
# Bounds on a feed's markup: real feeds nest a dozen elements deep with a handful of
# attributes each; past these feedparser takes seconds to minutes per megabyte.
MAX_XML_DEPTH = 64
MAX_XML_ATTRIBUTES = 64
# Explicit bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI,
# RLI, FSI, PDI): in a title they can reverse the text shown after it. The plain marks
# (LRM, RLM, ALM) cannot, and stay.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class SourceError(Exception):
    """A response a source cannot turn into papers; the message says which source and why."""

    def __init__(self, source: str, problem: str, origin: str = ""):
        super().__init__(problem)
        self.source = source
        self.problem = problem
        self.origin = origin

    def __str__(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return f"{self.source}{where}: {self.problem}"


@dataclass
class PaperRecord:
    """One paper as a source reported it, normalised. Empty values mean "not reported"."""

    title: str
    arxiv_id: str | None = None  # bare id, no version
    external_key: str | None = None  # feed guid or link, for items not on arXiv
    version: int | None = None
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    # Author name -> affiliations, for the authors that have any (arXiv API only).
    affiliations: dict[str, list[str]] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    primary_category: str = ""
    published: dt.datetime | None = None
    updated: dt.datetime | None = None
    announced_on: dt.date | None = None
    announce_type: str = ""
    abs_url: str = ""
    pdf_url: str = ""
    doi: str = ""
    journal_ref: str = ""
    comment: str = ""
    upvotes: int | None = None
    feed_url: str = ""

    def __post_init__(self) -> None:
        # Whatever a source sends, a paper stays a size a page and an email can show.
        self.title = shorten(self.title, MAX_TITLE_CHARS)
        self.abstract = shorten(self.abstract, MAX_ABSTRACT_CHARS)

    @property
    def key(self) -> tuple[str, str]:
        if self.arxiv_id:
            return ("arxiv", self.arxiv_id)
        return ("external", self.external_key or "")


# arXiv identifiers and categories -------------------------------------------------------


def find_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The first arXiv id in `text` (a guid, an abs/pdf URL, "arXiv:..."), as (id, version)."""
    match = _ARXIV_ID.search(text or "")
    if not match:
        return None
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def identify_entry(entry, id_texts: list[str], *, source: str, position: int) -> tuple[str, int | None, str]:
    """(arXiv id, version, title) of a feed entry, the id from the first of `id_texts` naming one."""
    found = next((f for f in map(find_arxiv_id, id_texts) if f), None)
    if not found:
        raise SourceError(source, f"entry {position} has no arXiv id (id {entry.get('id', '')!r})")
    arxiv_id, version = found
    title = clean_text(entry.get("title"))
    if not title:
        raise SourceError(source, f"entry {position} ({arxiv_id}) has no title")
    return arxiv_id, version, title


def entry_categories(entry) -> list[str]:
    """The arXiv categories of a feed entry (ACM and MSC classes left out)."""
    return arxiv_categories([tag.get("term", "") for tag in entry.get("tags", [])])


def is_arxiv_category(text: str) -> bool:
    return bool(_ARXIV_CATEGORY.match(text or ""))


def arxiv_categories(terms: list[str]) -> list[str]:
    """The arXiv categories among `terms`, in order, without repeats."""
    out: list[str] = []
    for term in terms:
        term = (term or "").strip()
        if is_arxiv_category(term) and term not in out:
            out.append(term)
    return out


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


def url_with_params(url: str, **params: str) -> str:
    """`url` with these query parameters set (replacing any of the same name), keeping the rest."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({key: str(value) for key, value in params.items() if value is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


# Text -----------------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """Collapse the line breaks and indentation feeds wrap titles and abstracts with, and drop
    bidirectional overrides that would reverse whatever is shown after the text."""
    return " ".join((text or "").translate(_BIDI_CONTROLS).split())


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment (a feed item's description), whitespace collapsed."""
    if not markup:
        return ""
    if "<" not in markup:
        return clean_text(html.unescape(markup))
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return clean_text("".join(extractor.parts))


# Dates ----------------------------------------------------------------------------------


def parse_datetime(text: str | None) -> dt.datetime | None:
    """An aware datetime from RFC 822 (RSS) or ISO 8601 (Atom, JSON) text; None if unreadable.

    The offset written in the text is kept, so that the date arXiv meant stays the date.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def arxiv_date(moment: dt.datetime | None) -> dt.date | None:
    """The date of `moment` in arXiv's time zone (its listings are dated in US Eastern time)."""
    return moment.astimezone(ARXIV_TIMEZONE).date() if moment else None


# Feeds ----------------------------------------------------------------------------------


def parse_feed(body: bytes, *, source: str, sanitize_html: bool) -> feedparser.FeedParserDict:
    """Parse an RSS/Atom document with feedparser, refusing anything it had to guess at.

    Read "updated" with `dict.get(entry, "updated")`: feedparser's own `get` falls back to
    "published" for it (with a deprecation warning), which would blur the two dates.

    feedparser recovers from broken XML and wrong encodings with a loose parser; a feed we
    store papers from must be read exactly, so any such recovery is an error here.
    """
    if not body or not body.strip():
        raise SourceError(source, "the response is empty")
    if not body.lstrip(b" \t\r\n").startswith(_XML_STARTS):
        start = clean_text(body[:60].decode("utf-8", "replace"))[:24]
        raise SourceError(source, f"not an RSS or Atom feed (not XML; it starts with {start!r})")
    _screen_markup(body, source)
    # A stream, never a string: feedparser would treat a string as a URL or a file name.
    parsed = feedparser.parse(io.BytesIO(body), sanitize_html=sanitize_html, resolve_relative_uris=False)
    if parsed.get("bozo"):
        problem = _describe_feed_problem(parsed.get("bozo_exception"))
        if body[:2] in (b"<\x00", b"\x00<"):
            problem += " (the bytes look like UTF-16 without a byte order mark)"
        raise SourceError(source, problem)
    if not parsed.get("version"):
        raise SourceError(source, "not an RSS or Atom feed")
    return parsed


# How an XML document may start: "<" in UTF-8 (or ASCII, Latin-1...), after a byte order
# mark, or in UTF-16 or UTF-32 without one (XML 1.0, appendix F).
_XML_STARTS = (
    b"<",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00\x00\xfe\xff",
    b"\x00<",
    b"\x00\x00\x00<",
)


class _Refused(Exception):
    pass


def _screen_markup(body: bytes, source: str) -> None:
    """Refuse, before feedparser reads it, markup it must never expand or would stall on:
    entity declarations (a "billion laughs" grows kilobytes into gigabytes; an external
    entity reads a local file or a URL), elements nested past MAX_XML_DEPTH, elements with
    more than MAX_XML_ATTRIBUTES attributes. Also tells a document with no element at all
    from a truncated one. Other XML errors are left for feedparser to describe.

    expat runs with no handler for external entities or DTDs, so it fetches nothing, and
    the declaration handlers stop it before any entity is expanded.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = elements = 0

    def start(name, attributes):
        nonlocal depth, elements
        depth += 1
        elements += 1
        if depth > MAX_XML_DEPTH:
            raise _Refused(
                f"elements nested more than {MAX_XML_DEPTH} deep (line {parser.CurrentLineNumber}): refused"
            )
        if len(attributes) > MAX_XML_ATTRIBUTES:
            raise _Refused(
                f"an element with {len(attributes)} attributes (line {parser.CurrentLineNumber}); "
                f"at most {MAX_XML_ATTRIBUTES}: refused"
            )

    def end(name):
        nonlocal depth
        depth -= 1

    def entity(*args):
        raise _Refused(
            f"the document declares XML entities (line {parser.CurrentLineNumber}): refused, since they "
            "can expand to gigabytes or read other files"
        )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    try:
        parser.Parse(body, True)
    except _Refused as exc:
        raise SourceError(source, str(exc)) from None
    except expat.ExpatError as exc:
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS] and not elements:
            raise SourceError(
                source, "the document has no elements (only a declaration or comments)"
            ) from None
    except (ValueError, LookupError):
        pass  # an encoding expat cannot read: feedparser's own check decides


def _describe_feed_problem(exc: BaseException | None) -> str:
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return f"wrong encoding declaration ({exc})"
    if isinstance(exc, feedparser.CharacterEncodingUnknown):
        return f"unknown character encoding ({exc})"
    if isinstance(exc, xml.sax.SAXParseException):
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        if exc.getMessage() in {"no element found", "unclosed token"}:
            return f"the document is truncated (XML ends unexpectedly at {where})"
        return f"malformed XML at {where}: {exc.getMessage()}"
    return f"unreadable feed: {exc}"
