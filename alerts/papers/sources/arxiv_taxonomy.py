"""arXiv's category taxonomy page (https://arxiv.org/category_taxonomy) read into a Taxonomy.

The page lists, inside `<div id="category_taxonomy_list">`, one `<h2>` per group (Computer
Science, Physics, ...), in the Physics group one `<h3>` per archive ("Astrophysics
(astro-ph)"), and one `<h4>` per category: `cs.CL <span>(Computation and Language)</span>`.
Archives without subject classes (gr-qc, hep-th) appear as a category of their own; the
archive of a group without `<h3>`s (cs, math, stat, ...) is named after its group.

Pure module: no Django. Raises SourceError when the page does not look like the taxonomy.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from alerts.papers.sources.records import SourceError
from alerts.search.taxonomy import Taxonomy

SOURCE = "arxiv-taxonomy"
# Fewer than this many categories is a page arXiv changed or an error page, not the list
# (there are about 155): refusing keeps the file in the repository as it was.
MIN_CATEGORIES = 100

_CATEGORY = re.compile(r"([a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[a-z]+)?)?)\s*\((.+)\)")
_ARCHIVE = re.compile(r"(.+?)\s*\(([a-z]+(?:-[a-z]+)?)\)")


class _Headings(HTMLParser):
    """The text of every h2, h3 and h4 inside the taxonomy list, in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # open elements inside the list (0: outside it)
        self.heading: str | None = None
        self.text: list[str] = []
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in _VOID
        elif tag == "div" and ("id", "category_taxonomy_list") in attrs:
            self.depth = 1
        if self.depth and tag in ("h2", "h3", "h4"):
            self.heading, self.text = tag, []

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == self.heading:
            self.found.append((tag, " ".join("".join(self.text).split())))
            self.heading = None
        self.depth -= tag not in _VOID

    def handle_data(self, data):
        if self.heading:
            self.text.append(data)


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


def parse(body: bytes) -> Taxonomy:
    """Every archive and category on the page, with its human name."""
    reader = _Headings()
    reader.feed(body.decode("utf-8", errors="replace"))
    reader.close()
    archives: dict[str, str] = {}
    categories: dict[str, str] = {}
    group = ""
    for tag, text in reader.found:
        if tag == "h2":
            group = text
        elif tag == "h3" and (match := _ARCHIVE.fullmatch(text)):
            archives[match.group(2)] = match.group(1)
        elif tag == "h4" and (match := _CATEGORY.fullmatch(text)):
            name = match.group(1)
            categories[name] = match.group(2)
            archives.setdefault(name.partition(".")[0], group)
    if len(categories) < MIN_CATEGORIES:
        raise SourceError(
            SOURCE,
            f"found {len(categories)} categories, expected at least {MIN_CATEGORIES}: not the taxonomy page",
        )
    return Taxonomy(archives, categories)
