"""Upsert of paper records: one row per arXiv id (or per feed item), whatever the version or source.

Merge rules, applied record by record (so a batch with the same paper twice merges too):
- arXiv (listing or API) is the authority on a paper's metadata. A record of the same or a
  newer version overwrites what it reports (empty values mean "not reported", never
  "erase"); an older version only fills blanks. The version only moves forward.
- Hugging Face enriches: it sets upvotes and fills blanks, and creates the paper when arXiv
  has not been fetched yet; arXiv data later fills it in and takes it over.
- Categories only grow (a cross-list adds its category).
- `announced_on` is set once, by the first listing that names the paper, and never moved;
  `announce_type` goes with it ("new" wins over "cross" for the same announcement).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.core import bulk
from alerts.core.batches import chunked
from alerts.models import Paper
from alerts.papers.sources.records import PaperRecord

ARXIV_SOURCES = frozenset({Paper.Source.ARXIV_RSS, Paper.Source.ARXIV_API})
# Fields a record overwrites (when it may) or fills (when it may only enrich).
METADATA_FIELDS = (
    "title",
    "abstract",
    "authors",
    "affiliations",
    "primary_category",
    "published",
    "updated",
    "abs_url",
    "pdf_url",
    "doi",
    "journal_ref",
    "comment",
    "feed_url",
)
# Of two listings on the same day, the one about the paper itself wins over a cross-list.
_ANNOUNCE_RANK = {"new": 4, "replace": 3, "cross": 2, "replace-cross": 1, "": 0}
_READ_CHUNK = 900  # ids per IN (...): under SQLite's bound-parameter limit
_WRITE_BATCH = 1000  # rows per statement: a night's listing in a few statements
# The fields a new paper's row is written with; the others take their defaults.
_NEW_FIELDS = (
    "arxiv_id",
    "external_key",
    "version",
    "categories",
    "announced_on",
    "announce_type",
    "upvotes",
    "source",
    *METADATA_FIELDS,
)


@dataclass
class IngestCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(
            fetched=self.fetched + other.fetched,
            created=self.created + other.created,
            updated=self.updated + other.updated,
            skipped=self.skipped + other.skipped,
        )

    def summary(self) -> str:
        return (
            f"fetched {self.fetched}, created {self.created}, updated {self.updated}, skipped {self.skipped}"
        )


def papers_ingest(*, records: Iterable[PaperRecord], source: str) -> IngestCounts:
    """Store `records` from `source` in one transaction: all of them, or nothing.

    Counts distinct papers: `fetched` = created + updated + skipped (unchanged).
    """
    records = list(records)
    try:
        return _ingest(records, source)
    except IntegrityError:
        # Another fetch created one of these papers between our read and our insert. Its
        # transaction has committed by now, so a second pass sees the row and updates it.
        return _ingest(records, source)


@transaction.atomic
def _ingest(records: list[PaperRecord], source: str) -> IngestCounts:
    arxiv_ids = sorted({r.arxiv_id for r in records if r.arxiv_id})
    external_keys = sorted({r.external_key for r in records if not r.arxiv_id and r.external_key})
    rows: dict[tuple[str, str], Paper] = {}
    # Locked, so that a concurrent fetch cannot overwrite what this one merges in.
    locked = Paper.objects.select_for_update()
    for chunk in chunked(arxiv_ids, _READ_CHUNK):
        rows.update((("arxiv", p.arxiv_id), p) for p in locked.filter(arxiv_id__in=chunk))
    for chunk in chunked(external_keys, _READ_CHUNK):
        rows.update((("external", p.external_key), p) for p in locked.filter(external_key__in=chunk))

    new_keys: dict[tuple[str, str], None] = {}  # an ordered set: rows are created in feed order
    changed_fields: dict[tuple[str, str], set[str]] = {}
    for record in records:
        key = record.key
        row = rows.get(key)
        if row is None:
            rows[key] = _new_paper(record, source)
            new_keys[key] = None
            continue
        changed = _merge(row, record, source)
        if changed and key not in new_keys:
            changed_fields.setdefault(key, set()).update(changed)

    created = [rows[key] for key in new_keys]
    updated = [rows[key] for key in changed_fields]
    _write(created, updated, sorted(set().union(*changed_fields.values())))
    seen = {record.key for record in records}
    return IngestCounts(
        fetched=len(seen),
        created=len(created),
        updated=len(updated),
        skipped=len(seen) - len(created) - len(updated),
    )


def _write(created: list[Paper], updated: list[Paper], changed: list[str]) -> None:
    """New rows inserted (a paper another fetch created meanwhile raises IntegrityError) and
    the changed fields of existing, locked rows updated, through the shared bulk writer."""
    for batch in chunked(created, _WRITE_BATCH):
        bulk.insert(Paper, [{name: getattr(paper, name) for name in _NEW_FIELDS} for paper in batch])
    now = timezone.now()
    for paper in updated:
        paper.modified_at = now
    for batch in chunked(updated, _WRITE_BATCH):
        bulk.update(batch, [*changed, "modified_at"])


def _new_paper(record: PaperRecord, source: str) -> Paper:
    return Paper(
        arxiv_id=record.arxiv_id or None,
        external_key=None if record.arxiv_id else record.external_key,
        version=record.version,
        categories=list(record.categories),
        announced_on=record.announced_on,
        announce_type=record.announce_type if record.announced_on else "",
        upvotes=record.upvotes,
        source=source,
        **{name: getattr(record, name) for name in METADATA_FIELDS},
    )


def _merge(row: Paper, record: PaperRecord, source: str) -> set[str]:
    """Apply `record` to `row` in memory; return the names of the fields it changed."""
    changed: set[str] = set()

    def put(name: str, value) -> None:
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.add(name)

    stale = record.version is not None and row.version is not None and record.version < row.version
    authoritative = (source in ARXIV_SOURCES or source == row.source) and not stale
    for name in METADATA_FIELDS:
        value = getattr(record, name)
        if value and (authoritative or not getattr(row, name)):
            put(name, value)
    if record.version is not None and (row.version is None or record.version > row.version):
        put("version", record.version)
    if source in ARXIV_SOURCES and row.source == Paper.Source.HF_DAILY:
        put("source", source)

    extra = [c for c in record.categories if c not in row.categories]
    if extra:
        put("categories", [*row.categories, *extra])
    if record.announced_on:
        if row.announced_on is None:
            put("announced_on", record.announced_on)
            put("announce_type", record.announce_type)
        elif record.announced_on == row.announced_on and _ANNOUNCE_RANK.get(
            record.announce_type, 0
        ) > _ANNOUNCE_RANK.get(row.announce_type, 0):
            put("announce_type", record.announce_type)
    if record.upvotes is not None:
        put("upvotes", record.upvotes)
    return changed
