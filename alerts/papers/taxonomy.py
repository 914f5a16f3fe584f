"""Refreshing the arXiv taxonomy kept in the repository from arXiv's own page."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from alerts.papers.http import Fetcher
from alerts.papers.sources import arxiv_taxonomy
from alerts.papers.sources.records import SourceError
from alerts.search import taxonomy


@dataclass(frozen=True)
class TaxonomyChange:
    categories: int
    archives: int
    added: list[str]
    removed: list[str]
    renamed: list[str]

    def summary(self) -> str:
        def listed(names: list[str]) -> str:
            return ", ".join(names) if names else "none"

        return (
            f"{self.categories} categories in {self.archives} archives; added: {listed(self.added)}; "
            f"removed: {listed(self.removed)}; renamed: {listed(self.renamed)}"
        )


def taxonomy_refresh(
    *, fetcher: Fetcher, url: str = "", file: Path | None = None, output: Path = taxonomy.PATH
) -> TaxonomyChange:
    """Read arXiv's taxonomy page (or a saved copy) and write it to `output`.

    The old archive names (`legacy`) are kept: the page no longer lists them. Raises
    SourceError or FetchError and leaves `output` as it was when the page cannot be read.
    """
    if file is not None:
        try:
            body = file.read_bytes()
        except OSError as exc:
            problem = f"cannot read the file: {exc.strerror}"
            raise SourceError(arxiv_taxonomy.SOURCE, problem, origin=str(file)) from None
    else:
        url = url or settings.ARXIV_TAXONOMY_URL
        body = fetcher.get(url, min_interval=settings.ARXIV_REQUEST_INTERVAL, accept="text/html").body
    new = arxiv_taxonomy.parse(body)
    old = json.loads(output.read_text(encoding="utf-8")) if output.exists() else {}
    before: dict[str, str] = old.get("categories", {})
    legacy = {name: now for name, now in old.get("legacy", {}).items() if now in new.categories}
    _write(output, taxonomy.Taxonomy(new.archives, new.categories, legacy).as_json())
    if output == taxonomy.PATH:
        taxonomy.reload()
    return TaxonomyChange(
        categories=len(new.categories),
        archives=len(new.archives),
        added=sorted(set(new.categories) - set(before)),
        removed=sorted(set(before) - set(new.categories)),
        renamed=sorted(n for n, t in new.categories.items() if n in before and before[n] != t),
    )


def _write(path: Path, data: dict) -> None:
    """Write the whole file or nothing: a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
