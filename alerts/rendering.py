"""Rendering digests from the templates in templates/emails/digest_*.

Rendering a full Django template per digest costs about a millisecond; a million digests a
day cannot afford it. Instead each template is rendered ONCE per process with a marker in
place of every per-digest value ("slots"), its CSS inlined, and split into literal parts
(`Compiled`). A digest is then a join of those parts with its own values, escaped for HTML.
Paper blocks are rendered once per run and highlight set (`PeriodIndex.blocks`) and reused by
every digest that shows them. The output is what the same templates would render directly:
`render_digest_direct` does exactly that, and the tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import css_inline
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from .composing import ComposedItem, Composition, PaperRow, PeriodIndex
from .models import DigestItem
from .textnorm import highlight_spans

# Slot markers carry a secret of this process: paper text rendered into a block around
# them can never forge one (a title saying "@@slot:unsubscribe_url@@" stays text).
SLOT_NONCE = secrets.token_hex(8)
SLOT_RE = re.compile(rf"@@slot{SLOT_NONCE}:([a-z_]+)@@")
# Slots that take HTML rendered by a template (paper blocks); every other slot is text.
RAW_SLOTS = frozenset({"papers", "trending"})
CSS_PATH = Path(settings.BASE_DIR) / "templates" / "emails" / "digest.css"
ABSTRACT_CHARS = 320
AUTHORS_SHOWN = 3


class Slots(dict):
    """Template context value whose every key renders as a slot marker."""

    def __missing__(self, key: str) -> SafeString:
        return mark_safe(f"@@slot{SLOT_NONCE}:{key}@@")  # noqa: S308 - a fixed marker, no outside text


def _as_parsed(value: str) -> str:
    # What an HTML parser makes of the characters before any escaping: line breaks become
    # "\n", NUL becomes U+FFFD.
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def escape_text(value: str) -> str:
    """Escape for HTML element content, as the HTML serializer does (WHATWG "escaping a
    string"): the inliner parses and re-serializes every template, so this is what Django's
    escaping turns into once the CSS is inlined."""
    value = _as_parsed(value)
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str) -> str:
    """Escape for a double-quoted attribute value, as the HTML serializer does."""
    return _as_parsed(value).replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


class Compiled:
    """A rendered template split at its slots: fill() joins it with per-digest values.

    In an HTML template each slot is escaped for where it stands (element content or an
    attribute value), except the `raw` slots, which take HTML rendered by a template.
    """

    __slots__ = ("escapers", "literals", "names")

    def __init__(self, rendered: str, *, html: bool = False, raw: frozenset[str] = frozenset()):
        parts = SLOT_RE.split(rendered)
        self.literals = parts[0::2]
        self.names = parts[1::2]
        escapers = []
        before = ""
        for i, name in enumerate(self.names):
            before += self.literals[i]
            if not html or name in raw:
                escapers.append(None)
            elif before.rfind("<") > before.rfind(">"):
                escapers.append(escape_attribute)
            else:
                escapers.append(escape_text)
        self.escapers = escapers

    def fill(self, values: dict[str, str]) -> str:
        literals = self.literals
        out = [literals[0]]
        for i, name in enumerate(self.names):
            escape = self.escapers[i]
            value = values[name]
            out.append(escape(value) if escape else value)
            out.append(literals[i + 1])
        return "".join(out)


@lru_cache(maxsize=1)
def _stylesheet() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


_compiled: dict[str, Compiled] = {}
_compiled_lock = threading.Lock()


def inline_css(rendered: str, mode: str) -> str:
    """Inline the email stylesheet: into a whole document (keeping its <style> block, whose
    dark-mode media query cannot be inlined) or into a fragment."""
    if mode == "document":
        return css_inline.CSSInliner(keep_style_tags=True).inline(rendered)
    if mode == "fragment":
        return css_inline.inline_fragment(rendered, _stylesheet())
    return rendered


def compiled(template: str, css: str = "") -> Compiled:
    """`template` rendered once with slot markers (and its CSS inlined), for this process."""
    found = _compiled.get(template)
    if found is None:
        rendered = render_to_string(template, {"slots": Slots(), **site_context()})
        found = Compiled(inline_css(rendered, css), html=template.endswith(".html"), raw=RAW_SLOTS)
        with _compiled_lock:
            _compiled[template] = found
    return found


def site_context() -> dict:
    return {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL}


# Paper blocks ---------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """The start of `text`, cut at a word boundary near `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + "…"


def highlighted(text: str, terms: Sequence[str]) -> SafeString:
    """`text` escaped, with the spans whose normalised form is a matched term in <mark>."""
    if not terms:
        return mark_safe(html.escape(text))  # noqa: S308 - escaped just here
    out, pos = [], 0
    for start, end in highlight_spans(text, terms):
        if start < pos:
            continue
        out.append(html.escape(text[pos:start]))
        out.append("<mark>" + html.escape(text[start:end]) + "</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece escaped above


def author_line(authors: Sequence[str]) -> str:
    if len(authors) <= AUTHORS_SHOWN + 1:
        return ", ".join(authors)
    return f"{', '.join(authors[:AUTHORS_SHOWN])} and {len(authors) - AUTHORS_SHOWN} more"


def safe_url(url: str) -> str:
    """Only absolute http(s) links reach an email: a feed may carry javascript: or worse."""
    return url if url.startswith(("https://", "http://")) else ""


def paper_context(paper: PaperRow, terms: Sequence[str], *, show_matched: bool) -> dict:
    title = " ".join(paper.title.split())
    snippet = shorten(paper.abstract, ABSTRACT_CHARS)
    return {
        "paper": paper,
        "title_text": title,
        "title_html": highlighted(title, terms),
        "abstract_html": highlighted(snippet, terms),
        "abstract_text": snippet,
        "authors": author_line(paper.authors),
        "categories": ", ".join(paper.categories),
        "abs_url": safe_url(paper.abs_url),
        "pdf_url": safe_url(paper.pdf_url),
        "hf_url": paper.hf_url,
        "show_matched": show_matched,
    }


@dataclass(frozen=True)
class Block:
    html: Compiled
    text: Compiled


def paper_block(pidx: PeriodIndex, item: ComposedItem) -> Block:
    """The rendered block of one paper with one set of highlighted terms, once per run."""
    matched = item.section == DigestItem.Section.MATCHED
    key = (item.doc, item.terms, matched)
    block = pidx.blocks.get(key)
    if block is None:
        context = {
            "slots": Slots(),
            **site_context(),
            **paper_context(item.paper, item.terms, show_matched=matched),
        }
        block = Block(
            html=Compiled(
                inline_css(render_to_string("emails/_digest_paper.html", context), "fragment"), html=True
            ),
            text=Compiled(render_to_string("emails/_digest_paper.txt", context)),
        )
        pidx.blocks[key] = block
    return block


# Whole digests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    manage_url: str
    unsubscribe_url: str
    view_url: str


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def subject_parts(
    composition: Composition, filter_names: Sequence[str], period: dt.date, weekly: bool
) -> dict:
    count = len(composition.items)
    names = []
    for item in composition.items:
        for name in item.filters:
            if name not in names:
                names.append(name)
    if count:
        summary = f"{count} new paper{'s' if count != 1 else ''}"
        if names:
            summary += f" for '{names[0]}'"
            if len(names) > 1:
                rest = len(names) - 1
                summary += f" and {rest} more filter{'s' if rest != 1 else ''}"
    elif composition.trending:
        summary = f"No new matches; {len(composition.trending)} trending papers"
    else:
        summary = "No new papers for " + (
            f"'{filter_names[0]}'" if len(filter_names) == 1 else "your filters"
        )
    when = (
        f"week of {period:%a} {period.day} {period:%b}" if weekly else f"{period:%a} {period.day} {period:%b}"
    )
    return {"summary": summary, "when": when}


def _header_safe(value: str) -> str:
    """One line, no control characters: filter names end up in the Subject header."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:200]


def _values(
    composition: Composition,
    email: str,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    links: Links,
) -> dict[str, str]:
    """The per-digest values of the templates' slots, unescaped."""
    parts = subject_parts(composition, filter_names, period, weekly)
    return {
        "summary": parts["summary"],
        "when": parts["when"],
        "email": email,
        "filters": ", ".join(f"'{n}'" for n in filter_names),
        "manage_url": links.manage_url,
        "unsubscribe_url": links.unsubscribe_url,
        "view_url": links.view_url,
    }


def render_digest(
    *,
    pidx: PeriodIndex,
    composition: Composition,
    email: str,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    links: Links,
) -> RenderedDigest:
    """One digest, from the compiled templates and the run's paper blocks."""
    plain = _values(composition, email, filter_names, period, weekly, links)
    papers_html, papers_text = [], []
    for item in composition.items:
        block = paper_block(pidx, item)
        matched = ", ".join(item.filters)
        papers_html.append(block.html.fill({"matched": matched}))
        papers_text.append(block.text.fill({"matched": matched}))
    trend_html = trend_text = ""
    if composition.trending:
        blocks = [paper_block(pidx, item) for item in composition.trending]
        trend_html = compiled("emails/_digest_trending.html", "fragment").fill(
            {"papers": "".join(b.html.fill({"matched": ""}) for b in blocks)}
        )
        trend_text = compiled("emails/_digest_trending.txt").fill(
            {"papers": "".join(b.text.fill({"matched": ""}) for b in blocks)}
        )
    return RenderedDigest(
        subject=_header_safe(compiled("emails/digest_subject.txt").fill(plain).strip()),
        text=compiled("emails/digest_body.txt").fill(
            {**plain, "papers": "".join(papers_text), "trending": trend_text}
        ),
        html=compiled("emails/digest_body.html", "document").fill(
            {**plain, "papers": "".join(papers_html), "trending": trend_html}
        ),
    )


def render_digest_direct(
    *,
    composition: Composition,
    email: str,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    links: Links,
) -> RenderedDigest:
    """The same digest rendered from scratch: every template rendered with its real values
    and the CSS inlined into the whole document. The reference for `render_digest` (tests
    compare the two) and the baseline the rendering benchmark measures it against."""
    plain = _values(composition, email, filter_names, period, weekly, links)
    site = site_context()

    def blocks(items: list[ComposedItem], template: str, matched: bool) -> str:
        return "".join(
            render_to_string(
                template,
                {
                    **site,
                    **paper_context(item.paper, item.terms, show_matched=matched),
                    "slots": {"matched": ", ".join(item.filters) if matched else ""},
                },
            )
            for item in items
        )

    trend_html = trend_text = ""
    if composition.trending:
        trend_html = render_to_string(
            "emails/_digest_trending.html",
            {
                **site,
                "slots": {
                    "papers": mark_safe(  # noqa: S308 - blocks rendered (escaped) by their template
                        blocks(composition.trending, "emails/_digest_paper.html", False)
                    )
                },
            },
        )
        trend_text = render_to_string(
            "emails/_digest_trending.txt",
            {**site, "slots": {"papers": blocks(composition.trending, "emails/_digest_paper.txt", False)}},
        )
    html_slots = {
        **plain,
        "papers": mark_safe(blocks(composition.items, "emails/_digest_paper.html", True)),  # noqa: S308
        "trending": mark_safe(trend_html),  # noqa: S308 - rendered (escaped) by the template above
    }
    text_slots = {
        **plain,
        "papers": blocks(composition.items, "emails/_digest_paper.txt", True),
        "trending": trend_text,
    }
    return RenderedDigest(
        subject=_header_safe(render_to_string("emails/digest_subject.txt", {**site, "slots": plain}).strip()),
        text=render_to_string("emails/digest_body.txt", {**site, "slots": text_slots}),
        html=inline_css(
            render_to_string("emails/digest_body.html", {**site, "slots": html_slots}), "document"
        ),
    )
