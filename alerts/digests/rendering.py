"""Rendering digests from the templates in templates/emails/digest_*.

Rendering a full Django template per digest costs about a millisecond; a million digests a
day cannot afford it. Instead each template is rendered ONCE per process with a marker in
place of every per-digest value ("slots"), its CSS inlined, and split into literal parts
(`Compiled`). A digest is then a join of those parts with its own values, escaped for HTML:
no template engine and no inliner per digest. The paper templates are compiled the same way
once per block shape (`BlockShape`: which values are empty, whether the abstract was cut,
the upvotes), with a slot for each of the paper's values; each paper's block is filled in
from its shape once per run, each highlighting of it made once per run and set of marked
words (`PeriodRendering`, kept beside the run's `PeriodIndex`), and reused by every digest
that shows it. The output is what the same templates would render directly:
`render_digest_direct` does exactly that, and the tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path
from sys import getsizeof

import css_inline
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from alerts.core.display import hf_url, safe_url, shorten
from alerts.digests.composing import ComposedItem, Composition, PaperRow, PeriodIndex
from alerts.models import DigestItem
from alerts.search.textnorm import Highlighter, highlight_spans

# Slot markers carry a secret of this process: paper text rendered into a block around
# them can never forge one (a title saying "@@slot:unsubscribe_url@@" stays text).
SLOT_NONCE = secrets.token_hex(8)
SLOT_RE = re.compile(rf"@@slot{SLOT_NONCE}:([a-z_]+)@@")
# Slots that take HTML rendered by a template (paper blocks); every other slot is text.
RAW_SLOTS = frozenset({"papers", "trending", "more", "similar"})
# The abstract's first lines, with "read more" to the paper's page: 50 papers and the
# trending section stay under Gmail's clipping size (tests/alerts/digests/test_email_size.py).
ABSTRACT_CHARS = 240
AUTHORS_SHOWN = 3


class Slots(dict):
    """Template context value whose every key renders as a slot marker."""

    def __missing__(self, key: str) -> SafeString:
        return mark_safe(f"@@slot{SLOT_NONCE}:{key}@@")  # noqa: S308 - a fixed marker, no outside text


def _as_parsed(value: str) -> str:
    # What an HTML parser makes of the characters before any escaping: line breaks become
    # "\n", NUL becomes U+FFFD.
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


# Characters that the escapers below change; most values (names, links) have none.
_TEXT_SPECIAL = re.compile("[&<>\xa0\r\0]")
_ATTRIBUTE_SPECIAL = re.compile('[&"\xa0\r\0]')


def escape_text(value: str) -> str:
    """Escape for HTML element content, as the HTML serializer does (WHATWG "escaping a
    string"): the inliner parses and re-serializes every template, so this is what Django's
    escaping turns into once the CSS is inlined."""
    if not _TEXT_SPECIAL.search(value):
        return value
    value = _as_parsed(value)
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str) -> str:
    """Escape for a double-quoted attribute value, as the HTML serializer does."""
    if not _ATTRIBUTE_SPECIAL.search(value):
        return value
    return _as_parsed(value).replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


class Compiled:
    """A rendered template split at its slots: fill() joins it with per-digest values.

    In an HTML template each slot is escaped for where it stands (element content or an
    attribute value), except the `raw` slots, which take HTML rendered by a template.
    """

    __slots__ = ("_steps", "escapers", "literals", "names")

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
        self._prepare()

    @classmethod
    def _of(cls, literals: list[str], names: list[str], escapers: list) -> Compiled:
        self = cls.__new__(cls)
        self.literals, self.names, self.escapers = literals, names, escapers
        self._prepare()
        return self

    def partial(self, values: dict[str, str]) -> Compiled:
        """A copy with the slots named in `values` filled (escaped for where they stand)
        and the others kept."""
        literals, names, escapers = [self.literals[0]], [], []
        for name, escape, literal in self._steps:
            if name in values:
                value = values[name]
                literals[-1] += (escape(value) if escape else value) + literal
            else:
                names.append(name)
                escapers.append(escape)
                literals.append(literal)
        return Compiled._of(literals, names, escapers)

    def _prepare(self) -> None:
        self._steps = tuple(zip(self.names, self.escapers, self.literals[1:], strict=True))

    def unwrap(self, name: str) -> str:
        """Take the element wrapped around slot `name` out of the literals and return its
        opening tag as rendered: the slot then takes HTML (text with such elements inside)."""
        i = self.names.index(name)
        before, after = self.literals[i], self.literals[i + 1]
        start = before.rfind("<")
        tag = before[start:]
        closing = "</" + tag[1:].split(None, 1)[0].rstrip(">") + ">"
        if start < 0 or not after.startswith(closing):
            raise ValueError(f"slot {name!r} is not the only content of an element")
        self.literals[i] = before[:start]
        self.literals[i + 1] = after[len(closing) :]
        self.escapers[i] = None
        self._prepare()
        return tag

    def fill_until(self, values: dict[str, str], stop: frozenset[str]) -> tuple[tuple[str, ...], int]:
        """The parts before the first slot named in `stop`, the slots before it filled with
        `values`, and that slot's index (parts, not joined: a digest joins every part of
        its blocks once)."""
        at = self.first_of(stop)
        parts = [self.literals[0]]
        for slot, escape, literal in self._steps[:at]:
            value = values[slot]
            parts.append(escape(value) if escape else value)
            parts.append(literal)
        return tuple(parts), at

    def first_of(self, names: frozenset[str]) -> int:
        """The index of the first slot named in `names` (the number of slots if none is)."""
        return next((i for i, name in enumerate(self.names) if name in names), len(self.names))

    def tail(self, at: int, first: str, repeated: str) -> tuple[str, ...]:
        """The literals after slot `at`, split at the slots that follow it, all `repeated`.
        Slot `at` is `first` (its literal comes first) or already `repeated` (an empty
        first literal stands in for the missing `first`)."""
        rest = self.names[at + 1 :]
        if any(name != repeated for name in rest):
            raise ValueError(f"slots {rest} follow {first!r}, not only {repeated!r}")
        literals = tuple(self.literals[at + 1 :])
        if at == len(self.names) or self.names[at] == repeated:
            return ("", *literals)
        return literals

    def parts(self, values: dict[str, str | list[str]]) -> list[str]:
        """The template with `values` in its slots, as a list of parts to join; a raw slot
        may take a list of parts."""
        out = [self.literals[0]]
        for name, escape, literal in self._steps:
            value = values[name]
            if escape is not None:
                out.append(escape(value))  # type: ignore[arg-type]
            elif isinstance(value, list):
                out.extend(value)
            else:
                out.append(value)
            out.append(literal)
        return out

    def fill(self, values: dict[str, str | list[str]]) -> str:
        """The template with `values` in its slots, joined."""
        return "".join(self.parts(values))


def _stylesheet() -> str:
    return _stylesheet_at(Path(settings.BASE_DIR) / "templates" / "emails" / "digest.css")


@lru_cache(maxsize=4)
def _stylesheet_at(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# Minified declarations (`color:#1a56db`, not `color: #1a56db;`): the styles are repeated on
# every element of every paper, a third of a digest's HTML before they were minified.
_DOCUMENT_INLINER = css_inline.CSSInliner(keep_style_tags=True, minify_css=True)
_FRAGMENT_INLINER = css_inline.CSSInliner(minify_css=True)


def inline_css(rendered: str, mode: str) -> str:
    """Inline the email stylesheet: into a whole document (keeping its <style> block, whose
    dark-mode media query cannot be inlined) or into a fragment."""
    if mode == "document":
        return _DOCUMENT_INLINER.inline(rendered)
    if mode == "fragment":
        return _FRAGMENT_INLINER.inline_fragment(rendered, _stylesheet())
    return rendered


def compiled(template: str, css: str = "") -> Compiled:
    """`template` rendered once with slot markers (and its CSS inlined), for this process
    and site (the site's name and address are part of every template)."""
    return _compiled(template, css, settings.SITE_NAME, settings.SITE_URL)


# Compiled once, filled per digest: 198 us a digest against 9,834 us rendering the same
# templates per digest, both from empty caches (bench/results/render.md, one run).
@lru_cache(maxsize=64)
def _compiled(template: str, css: str, site_name: str, site_url: str) -> Compiled:
    rendered = render_to_string(template, {"slots": Slots(), "site_name": site_name, "site_url": site_url})
    return Compiled(inline_css(rendered, css), html=template.endswith(".html"), raw=RAW_SLOTS)


def site_context() -> dict:
    return {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL}


# Paper blocks ---------------------------------------------------------------------------


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


# What the line under a paper says before the per-digest names (the matched filters, or
# the words that make a proposed paper similar); the trending section has no such line.
LABELS = {
    DigestItem.Section.MATCHED: "Matched",
    DigestItem.Section.MORE: "Matched",
    DigestItem.Section.SIMILAR: "Similar to what you liked",
    DigestItem.Section.TRENDING: "",
}


# The template of a paper's block under each label: a proposed paper shows its title, why it
# is proposed and the feedback links (its abstract is a click away), so the largest digest,
# fifty matches, trending and five proposed, stays under Gmail's clipping size.
PAPER_TEMPLATES = {LABELS[DigestItem.Section.SIMILAR]: "emails/_digest_similar_paper"}


def paper_template(label: str, kind: str) -> str:
    return f"{PAPER_TEMPLATES.get(label, 'emails/_digest_paper')}.{kind}"


def paper_context(paper: PaperRow, terms: Sequence[str], *, label: str) -> dict:
    title = " ".join(paper.title.split())
    snippet = shorten(paper.abstract, ABSTRACT_CHARS)
    return {
        "abstract_cut": len(" ".join(paper.abstract.split())) > ABSTRACT_CHARS,  # shorten cut it
        "paper": paper,
        "title_text": title,
        "title_html": highlighted(title, terms),
        "abstract_html": highlighted(snippet, terms),
        "abstract_text": snippet,
        "authors": author_line(paper.authors),
        "categories": ", ".join(paper.categories),
        "abs_url": safe_url(paper.abs_url),
        "pdf_url": safe_url(paper.pdf_url),
        "hf_url": hf_url(paper.arxiv_id, paper.upvotes),
        "label": label,
    }


# The parts of a paper's HTML block that change from digest to digest besides the matched
# filters' names: the title and the abstract, with the subscriber's matched terms marked.
HIGHLIGHTED = ("title_html", "abstract_html")
# What an entry of a run's highlight caches costs besides the sizes of its objects
# (`sys.getsizeof`): its slot in the dict, which grows by doubling.
HIGHLIGHT_SLOT_BYTES = 100


def highlighted_html(text: str, spans: list[tuple[int, int]], mark: str) -> str:
    """`text` with `spans` in <mark> elements, as the inliner serialises what `highlighted`
    makes of it: `mark` is the opening tag the inliner wrote in that place."""
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue
        out.append(escape_text(text[pos:start]))
        out.append(mark)
        out.append(escape_text(text[start:end]))
        out.append("</mark>")
        pos = end
    out.append(escape_text(text[pos:]))
    return "".join(out)


# The slots of a paper block that every digest fills: the matched filters' names, then
# the base of the digest's feedback links (more / less like this, save), several times.
PER_DIGEST = frozenset({"matched", "feedback"})


# A paper's values that its block shows as text (escaped where they stand in HTML).
TEXT_VALUES = ("title_text", "abstract_text", "authors", "categories", "abs_url", "pdf_url", "hf_url")


class _PaperSlots:
    """What the paper templates read of `paper` while a shape is compiled: its id as a
    slot, its upvotes as they are (the templates test and pluralize them)."""

    __slots__ = ("id", "upvotes")

    def __init__(self, upvotes: int | None) -> None:
        self.id = Slots()["paper_id"]
        self.upvotes = upvotes


class BlockShape:
    """A paper block's templates rendered with a slot in place of each text value and the
    CSS inlined, once per label and whatever else the templates branch on: which values
    are empty, whether the abstract was cut, the upvotes. Every paper of that shape fills
    it with its own values (`Compiled.partial`): no template engine and no inliner per
    paper. The title and abstract are each one <mark> around their slot, so the inliner
    shows how it writes a <mark> there; `unwrap` then takes that element out (`marks`)."""

    __slots__ = ("html", "marks", "text")

    def __init__(self, label: str, present: tuple[str, ...], abstract_cut: bool, upvotes: int | None) -> None:
        slots = Slots()
        context = {
            "slots": slots,
            **site_context(),
            **{name: slots[name] if name in present else "" for name in TEXT_VALUES},
            "title_html": format_html("<mark>{}</mark>", slots["title_html"]),
            # The template shows the abstract only when there is one.
            "abstract_html": (
                format_html("<mark>{}</mark>", slots["abstract_html"]) if "abstract_text" in present else ""
            ),
            "abstract_cut": abstract_cut,
            "paper": _PaperSlots(upvotes),
            "label": label,
        }
        self.html = Compiled(
            inline_css(render_to_string(paper_template(label, "html"), context), "fragment"), html=True
        )
        self.marks = {name: self.html.unwrap(name) for name in HIGHLIGHTED if name in self.html.names}
        self.text = Compiled(render_to_string(paper_template(label, "txt"), context))


def block_shape(label: str, present: tuple[str, ...], abstract_cut: bool, upvotes: int | None) -> BlockShape:
    return _block_shape(label, present, abstract_cut, upvotes, settings.SITE_NAME, settings.SITE_URL)


# A day of 1,000 papers has a few dozen shapes (one per distinct upvote count of the day's
# trending papers, mostly): making a run's 1,010 blocks took 0.05 s with 27 shapes, against
# 0.23 s rendering each block's templates and inlining its HTML (bench/results/render.md).
@lru_cache(maxsize=1024)
def _block_shape(
    label: str,
    present: tuple[str, ...],
    abstract_cut: bool,
    upvotes: int | None,
    site_name: str,
    site_url: str,
) -> BlockShape:
    return BlockShape(label, present, abstract_cut, upvotes)


class Block:
    """A paper's block, made once per run from its shape (`BlockShape`), as the text before
    and after what changes per digest: the matched filters' names, the digest's feedback
    links, and in HTML the highlighted title and abstract (`highlighted`). A digest writes
    the text before (one string), its names, then the tail (`html_tail`, `text_tail`: the
    literals between the feedback links) joined by its feedback link base: three strings
    a paper."""

    __slots__ = (
        "_words",
        "head",
        "head_names",
        "html_tail",
        "marks",
        "snippet",
        "text",
        "text_tail",
        "title",
    )

    def __init__(self, paper: PaperRow, *, label: str) -> None:
        context = paper_context(paper, (), label=label)
        self.title, self.snippet = context["title_text"], context["abstract_text"]
        present = tuple(name for name in TEXT_VALUES if context[name])
        shape = block_shape(label, present, bool(context["abstract_cut"]), paper.upvotes)
        values = {name: context[name] for name in present}
        values["paper_id"] = str(paper.id)
        html = shape.html.partial(values)
        self.marks = shape.marks
        # The matched filters' names stand as text, in HTML escaped as such (`_blocks`).
        if "matched" in html.names and html.escapers[html.names.index("matched")] is not escape_text:
            raise ValueError("the matched filters' names must stand as element text")
        # Up to the first per-digest slot, the block's only slots are the highlighted parts.
        at = html.first_of(PER_DIGEST)
        self.head, self.head_names = tuple(html.literals[: at + 1]), tuple(html.names[:at])
        if any(name not in HIGHLIGHTED for name in self.head_names):
            raise ValueError(f"slots {self.head_names} before the matched filters' names")
        self.html_tail = html.tail(at, "matched", "feedback")
        text = shape.text.partial(values)
        head, at = text.fill_until({}, PER_DIGEST)
        self.text = "".join(head)
        self.text_tail = text.tail(at, "matched", "feedback")
        self._words: tuple[Highlighter, Highlighter] | None = None

    def words(self) -> tuple[Highlighter, Highlighter]:
        """The words of the title and of the abstract, read when a digest first marks terms
        in them (never for the trending section, which marks nothing)."""
        if self._words is None:
            self._words = (Highlighter(self.title), Highlighter(self.snippet))
        return self._words

    def highlighted(self, state: PeriodRendering, doc: int, label: str, terms: tuple[str, ...]) -> str:
        """The HTML block with `terms` marked in the title and abstract, up to the matched
        filters' names (then `html_tail`); shared by every digest whose terms mark the same
        words here. `(doc, label)` names the block in the run's caches."""
        if terms:
            title_words, snippet_words = self._words or self.words()
            in_title, in_snippet = title_words.relevant(terms), snippet_words.relevant(terms)
        else:
            in_title = in_snippet = ()
        variant = (doc, label, in_title, in_snippet)
        found = state.highlights.get(variant)
        if found is None:
            texts = {"title_html": (self.title, in_title), "abstract_html": (self.snippet, in_snippet)}
            words = dict(zip(HIGHLIGHTED, self.words(), strict=True)) if terms else {}
            parts = [self.head[0]]
            for name, literal in zip(self.head_names, self.head[1:], strict=True):
                text, marked = texts[name]
                spans = words[name].spans(marked) if marked else []
                parts.append(highlighted_html(text, spans, self.marks[name]))
                parts.append(literal)
            found = state.keep_variant(variant, "".join(parts))
        return state.keep_terms((doc, label, terms), found)


@dataclass(eq=False)
class PeriodRendering:
    """What rendering keeps for one run: each paper's block (per section), and its
    highlighted variants, shared by every digest of the run. One per `PeriodIndex`
    (`rendering_of`), dropped with it.

    The highlighted variants hold at most `budget` bytes (settings.RENDER_CACHE_BYTES, as
    `sys.getsizeof` of their keys and strings and `HIGHLIGHT_SLOT_BYTES` count them): a
    run of a million subscribers meets millions of term combinations. Full, both dicts are
    emptied together (the terms' index points at the variants' strings: emptying one alone
    would keep them).
    """

    blocks: dict[tuple[int, str], Block] = field(default_factory=dict)  # (paper position, label)
    # (paper position, label, terms marked in the title, in the abstract) -> the block's
    # HTML up to the matched filters' names.
    highlights: dict[tuple, str] = field(default_factory=dict)
    # (paper position, label, a digest item's terms) -> the same HTML: what most digests
    # look up.
    highlight_terms: dict[tuple, str] = field(default_factory=dict)
    budget: int = field(default_factory=lambda: settings.RENDER_CACHE_BYTES)
    used: int = 0

    def keep_variant(self, key: tuple, html: str) -> str:
        # The key: the paper's position, its label, the terms marked in title and abstract.
        self._spend(
            getsizeof(html) + getsizeof(key) + getsizeof(key[2]) + getsizeof(key[3]) + HIGHLIGHT_SLOT_BYTES
        )
        self.highlights[key] = html
        return html

    def keep_terms(self, key: tuple, html: str) -> str:
        # The key: the paper's position, its label, a digest item's terms; the HTML is the
        # variant's, unless the variants were emptied to make room.
        if self._spend(getsizeof(key) + getsizeof(key[2]) + HIGHLIGHT_SLOT_BYTES):
            self.used += getsizeof(html)
        self.highlight_terms[key] = html
        return html

    def _spend(self, size: int) -> bool:
        """Count `size` more bytes, emptying the caches first if they would not fit; True
        when they were emptied."""
        emptied = self.used + size > self.budget
        if emptied:
            self.clear_highlights()
        self.used += size
        return emptied

    def clear_highlights(self) -> None:
        self.highlights.clear()
        self.highlight_terms.clear()
        self.used = 0


_renderings: weakref.WeakKeyDictionary[PeriodIndex, PeriodRendering] = weakref.WeakKeyDictionary()
_renderings_lock = threading.Lock()


def rendering_of(pidx: PeriodIndex) -> PeriodRendering:
    """The rendering state of the run `pidx` indexes, made on first use."""
    found = _renderings.get(pidx)
    if found is None:
        with _renderings_lock:
            found = _renderings.setdefault(pidx, PeriodRendering())
    return found


def paper_block(state: PeriodRendering, item: ComposedItem, label: str | None = None) -> Block:
    """The block of one paper (with `label`, by default its section's), once per run."""
    key = (item.doc, LABELS[item.section] if label is None else label)
    block = state.blocks.get(key)
    if block is None:
        block = state.blocks[key] = Block(item.paper, label=key[1])
    return block


# Whole digests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    manage_url: str
    unsubscribe_url: str
    view_url: str
    # The base of the digest's feedback links (subscribers.tokens.feedback_url).
    feedback_url: str = ""


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def subject_parts(
    composition: Composition,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    matched_by: Sequence[Sequence[str]] | None = None,
) -> dict:
    """The subject's summary and date. `matched_by`: the items' lists of matched filters,
    or only the first of each distinct list (the same names, in the same order)."""
    count = len(composition.items)
    if matched_by is None:
        matched_by = [item.filters for item in composition.items]
    names = list(dict.fromkeys(chain.from_iterable(matched_by)))
    if count:
        summary = f"{count} new paper{'s' if count != 1 else ''}"
        if names:
            summary += f" for '{names[0]}'"
            if len(names) > 1:
                rest = len(names) - 1
                summary += f" and {rest} more filter{'s' if rest != 1 else ''}"
    elif composition.similar and not composition.trending:  # only "You may also like"
        n = len(composition.similar)
        summary = f"No new matches; {n} paper{'s' if n != 1 else ''} you may like"
    elif composition.trending and not filter_names:  # a trending-only subscription
        summary = f"{len(composition.trending)} trending paper{'s' if len(composition.trending) != 1 else ''}"
    elif composition.trending:
        summary = f"No new matches; {len(composition.trending)} trending papers"
    else:
        summary = "No new papers for " + (
            f"'{filter_names[0]}'" if len(filter_names) == 1 else "your filters"
        )
    return {"summary": summary, "when": _when(period, weekly)}


@lru_cache(maxsize=64)
def _when(period: dt.date, weekly: bool) -> str:
    return (
        f"week of {period:%a} {period.day} {period:%b}" if weekly else f"{period:%a} {period.day} {period:%b}"
    )


def _header_safe(value: str) -> str:
    """One line, no control characters: filter names end up in the Subject header."""
    if not value.isprintable():
        value = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(value.split())[:200]


def _values(
    composition: Composition,
    email: str,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    links: Links,
    matched_by: Sequence[Sequence[str]] | None = None,
) -> dict[str, str]:
    """The per-digest values of the templates' slots, unescaped."""
    parts = subject_parts(composition, filter_names, period, weekly, matched_by)
    return {
        "summary": parts["summary"],
        "when": parts["when"],
        "email": email,
        "filters": (
            "with the filters " + ", ".join(f"'{n}'" for n in filter_names)
            if filter_names
            else "for the day's trending papers"
        ),
        "manage_url": links.manage_url,
        "unsubscribe_url": links.unsubscribe_url,
        "view_url": links.view_url,
        "saved_url": f"{links.feedback_url}/saved/",
    }


def _blocks(
    state: PeriodRendering,
    items: list[ComposedItem],
    label: str,
    feedback: tuple[str, str],
    html: list[str],
    text: list[str],
) -> list[list[str]]:
    """Append the items' paper blocks to `html` and `text`: per paper, the block up to the
    matched filters' names (highlighted for the item's terms), the names, then the rest
    of the block with the digest's feedback link base (`feedback`: as HTML, as text).
    Returns the distinct lists of matched filters, in the order met."""
    blocks, variants = state.blocks, state.highlight_terms
    feedback_html, feedback_text = feedback
    names: dict[str, str] = {}  # the filters' names as text -> as HTML: items often share them
    matched_by: list[list[str]] = []
    for item in items:
        doc, terms = item.doc, item.terms
        block = blocks.get((doc, label)) or paper_block(state, item, label)
        joined = ", ".join(item.filters) if label else ""
        name = names.get(joined)
        if name is None:
            name = names[joined] = escape_text(joined)
            matched_by.append(item.filters)
        html += (
            variants.get((doc, label, terms)) or block.highlighted(state, doc, label, terms),
            name,
            feedback_html.join(block.html_tail),
        )
        text += (block.text, joined, feedback_text.join(block.text_tail))
    return matched_by


@dataclass(frozen=True)
class Wrappers:
    """The templates around a digest's paper blocks, compiled for one site."""

    subject: Compiled
    text: Compiled
    html: Compiled
    sections: dict[str, tuple[Compiled, Compiled]]  # trending, similar, more: (text, HTML)


def wrappers() -> Wrappers:
    return _wrappers(settings.SITE_NAME, settings.SITE_URL)


# One cache lookup per digest for all its wrappers, not one per template.
@lru_cache(maxsize=4)
def _wrappers(site_name: str, site_url: str) -> Wrappers:
    return Wrappers(
        subject=compiled("emails/digest_subject.txt"),
        text=compiled("emails/digest_body.txt"),
        html=compiled("emails/digest_body.html", "document"),
        sections={
            name: (
                compiled(f"emails/_digest_{name}.txt"),
                compiled(f"emails/_digest_{name}.html", "fragment"),
            )
            for name in ("trending", "similar", "more")
        },
    )


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
    """One digest, from the compiled templates and the run's paper blocks: a list of
    strings per part, joined once, and no template rendered."""
    state = rendering_of(pidx)
    templates = wrappers()
    feedback = (escape_attribute(links.feedback_url), links.feedback_url)
    papers_html: list[str] = []
    papers_text: list[str] = []
    label = LABELS[DigestItem.Section.MATCHED]
    matched_by = _blocks(state, composition.items, label, feedback, papers_html, papers_text)
    values: dict = _values(composition, email, filter_names, period, weekly, links, matched_by)
    text_values, html_values = dict(values, papers=papers_text), dict(values, papers=papers_html)
    for name, items in (("similar", composition.similar), ("trending", composition.trending)):
        if not items:
            text_values[name] = html_values[name] = ""
            continue
        blocks_html: list[str] = []
        blocks_text: list[str] = []
        _blocks(state, items, LABELS[name], feedback, blocks_html, blocks_text)
        section_text, section_html = templates.sections[name]
        text_values[name] = section_text.parts({"papers": blocks_text})
        html_values[name] = section_html.parts({"papers": blocks_html})
    if composition.more_count:
        more = {"count": more_label(composition.more_count), "view_url": links.view_url}
        more_text, more_html = templates.sections["more"]
        text_values["more"] = more_text.parts(more)
        html_values["more"] = more_html.parts(more)
    else:
        text_values["more"] = html_values["more"] = ""
    return RenderedDigest(
        subject=_header_safe(templates.subject.fill(values).strip()),
        text=templates.text.fill(text_values),
        html=templates.html.fill(html_values),
    )


def more_label(count: int) -> str:
    return f"{count} more match{'es' if count != 1 else ''}"


def render_digest_direct(
    *,
    composition: Composition,
    email: str,
    filter_names: Sequence[str],
    period: dt.date,
    weekly: bool,
    links: Links,
    read_only: bool = False,
    list_more: bool = False,
) -> RenderedDigest:
    """The same digest rendered from scratch: every template rendered with its real values
    and the CSS inlined into the whole document. The reference for `render_digest` (tests
    compare the two) and the baseline the rendering benchmark measures it against.

    `read_only`: the browser view's footer, with no address and no manage or unsubscribe
    link (a browser-view link may be shared; those links only travel by email).
    `list_more` (the browser view too): the matches past max_papers are listed, not counted."""
    plain = _values(composition, email, filter_names, period, weekly, links)
    site = site_context()
    feedback = links.feedback_url
    trend_html, trend_text = _direct_section(site, composition.trending, "trending", feedback)
    similar_html, similar_text = _direct_section(site, composition.similar, "similar", feedback)
    more_html, more_text = _direct_more(site, composition, links, list_more)
    html_slots = {
        **plain,
        "papers": mark_safe(  # noqa: S308 - rendered (escaped) by the template
            _direct_blocks(site, composition.items, "html", "Matched", feedback)
        ),
        "trending": mark_safe(trend_html),  # noqa: S308 - rendered (escaped) by the template above
        "similar": mark_safe(similar_html),  # noqa: S308 - rendered (escaped) by the template above
        "more": mark_safe(more_html),  # noqa: S308 - rendered (escaped) by its template
    }
    text_slots = {
        **plain,
        "papers": _direct_blocks(site, composition.items, "txt", "Matched", feedback),
        "trending": trend_text,
        "similar": similar_text,
        "more": more_text,
    }
    return RenderedDigest(
        subject=_header_safe(render_to_string("emails/digest_subject.txt", {**site, "slots": plain}).strip()),
        text=render_to_string(
            "emails/digest_body.txt", {**site, "read_only": read_only, "slots": text_slots}
        ),
        html=inline_css(
            render_to_string(
                "emails/digest_body.html", {**site, "read_only": read_only, "slots": html_slots}
            ),
            "document",
        ),
    )


def _direct_blocks(site: dict, items: list[ComposedItem], kind: str, label: str, feedback: str) -> str:
    """The items' paper blocks rendered from scratch (`kind`: "html" or "txt"), under `label`."""
    return "".join(
        render_to_string(
            paper_template(label, kind),
            {
                **site,
                **paper_context(item.paper, item.terms, label=label),
                "slots": {"matched": ", ".join(item.filters) if label else "", "feedback": feedback},
            },
        )
        for item in items
    )


def _direct_section(site: dict, items: list[ComposedItem], name: str, feedback: str) -> tuple[str, str]:
    """The trending or the similar section rendered from scratch: (HTML, text), empty
    without papers."""
    if not items:
        return "", ""
    label = LABELS[name]
    blocks_html = _direct_blocks(site, items, "html", label, feedback)
    html = render_to_string(
        f"emails/_digest_{name}.html",
        {**site, "slots": {"papers": mark_safe(blocks_html)}},  # noqa: S308 - rendered (escaped) by their template
    )
    blocks_text = _direct_blocks(site, items, "txt", label, feedback)
    text = render_to_string(f"emails/_digest_{name}.txt", {**site, "slots": {"papers": blocks_text}})
    return html, text


def _direct_more(site: dict, composition: Composition, links: Links, list_more: bool) -> tuple[str, str]:
    """The matches past max_papers rendered from scratch: counted with a link to the
    browser view, or (`list_more`) listed; (HTML, text), empty when there are none."""
    count = composition.more_count
    if not count:
        return "", ""
    if not list_more:
        slots = {"count": more_label(count), "view_url": links.view_url}
        html = render_to_string("emails/_digest_more.html", {**site, "slots": slots})
        return html, render_to_string("emails/_digest_more.txt", {**site, "slots": slots})
    blocks = {
        kind: _direct_blocks(site, composition.more, kind, "Matched", links.feedback_url)
        for kind in ("html", "txt")
    }
    label = more_label(len(composition.more))
    html = render_to_string(
        "emails/_digest_more_list.html",
        {**site, "slots": {"count": label, "papers": mark_safe(blocks["html"])}},  # noqa: S308 - rendered (escaped) by their template
    )
    text = render_to_string(
        "emails/_digest_more_list.txt", {**site, "slots": {"count": label, "papers": blocks["txt"]}}
    )
    return html, text
