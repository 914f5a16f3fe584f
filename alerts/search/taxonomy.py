"""arXiv's category taxonomy: which archives and categories exist, and their names.

The list lives in `arxiv_taxonomy.json` beside this module, copied from
https://arxiv.org/category_taxonomy (`manage.py refresh_arxiv_taxonomy` writes it again
from that page). `cat:` in a filter must name one of these, so that a typo is caught when
it is typed, and no filter can make the nightly fetch ask arXiv for listings that do not
exist. Old archive names that arXiv replaced by a category (`solv-int` is now `nlin.SI`)
are still understood, as the category that replaced them.

Pure module: no Django imports.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PATH = Path(__file__).with_name("arxiv_taxonomy.json")
SOURCE_URL = "https://arxiv.org/category_taxonomy"


@dataclass(frozen=True)
class Taxonomy:
    archives: dict[str, str]  # "cs" -> "Computer Science"
    categories: dict[str, str]  # "cs.CL" -> "Computation and Language"; also "hep-th"
    legacy: dict[str, str] = field(default_factory=dict)  # "solv-int" -> "nlin.SI"

    def as_json(self) -> dict:
        return {
            "source": SOURCE_URL,
            "archives": dict(sorted(self.archives.items())),
            "categories": dict(sorted(self.categories.items())),
            "legacy": dict(sorted(self.legacy.items())),
        }


@cache
def taxonomy() -> Taxonomy:
    """The taxonomy kept in the repository (read once per process)."""
    data = json.loads(PATH.read_text(encoding="utf-8"))
    return Taxonomy(data["archives"], data["categories"], data.get("legacy", {}))


@cache
def _lowered() -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    """Case-folded lookups: categories (legacy names resolved), archives, and human names."""
    tax = taxonomy()
    categories = {name.lower(): name for name in tax.categories}
    categories.update({old.lower(): new for old, new in tax.legacy.items()})
    archives = {name.lower(): name for name in tax.archives}
    by_title: dict[str, list[str]] = {}
    for name, title in tax.categories.items():
        by_title.setdefault(title.lower(), []).append(name)
    return categories, archives, by_title


def category(name: str) -> str | None:
    """The category `name` stands for, as arXiv writes it (`cs.cl` -> `cs.CL`, `solv-int` ->
    `nlin.SI`), or None when arXiv has no such category."""
    return _lowered()[0].get(name.lower())


def archive(name: str) -> str | None:
    """The archive `name` stands for (`CS` -> `cs`), or None."""
    return _lowered()[1].get(name.lower())


def title(name: str) -> str:
    """The human name of a category or archive ("" when unknown)."""
    tax = taxonomy()
    return tax.categories.get(name) or tax.archives.get(name, "")


def by_title(name: str) -> str | None:
    """The categories whose human name is `name` (`robotics` -> `cs.RO`), written as a user
    would type them after `cat:`, or None."""
    found = _lowered()[2].get(" ".join(name.lower().split()))
    return " or cat:".join(found) if found else None


def suggest(name: str, *, whole_archive: bool = False) -> str | None:
    """The nearest real category (or archive, for `cs.*`-style input), written as a user
    would type it after `cat:`; None when nothing is close enough to be a likely typo."""
    categories, archives, _ = _lowered()
    lowered = name.lower()
    if named := by_title(name):
        return named
    if whole_archive:
        close = difflib.get_close_matches(lowered.removesuffix(".*"), archives, n=1, cutoff=0.75)
        return f"{archives[close[0]]}.*" if close else None
    head, dot, _ = lowered.partition(".")
    if dot and head in archives:
        # A known archive with an unknown subject: the nearest of that archive's own.
        own = [c for c in categories if c.startswith(head + ".")]
        close = difflib.get_close_matches(lowered, own, n=1, cutoff=0.75)
        return categories[close[0]] if close else f"{archives[head]}.*"
    close = difflib.get_close_matches(lowered, [*categories, *archives], n=1, cutoff=0.75)
    if not close:
        return None
    return categories.get(close[0]) or archives[close[0]]


def reload() -> None:
    """Forget what was read, after the file was written again."""
    taxonomy.cache_clear()
    _lowered.cache_clear()
