"""Writing many rows in one statement: papers at ingest, digests and their items when sent.

Django's `bulk_update` builds a `CASE WHEN id = ... THEN ...` of every row for every field,
as query expressions, and `bulk_create` prepares every value of every row as its own
parameter: for a chunk of 100 digests and their 2,000 items that is most of the chunk's
CPU. On PostgreSQL these functions send the rows as one JSON document that the database
reads into rows of the table's own type (`json_populate_recordset`), so the per-row work
is done by json.dumps and by PostgreSQL. Other databases (SQLite for `make run`) get
Django's `bulk_create` for inserts, and for updates one prepared UPDATE run for every row
(`executemany`): updating a night of 3,000 papers took 11 s with `bulk_update` there and
takes 1 s this way. Same rows either way.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} in bulk")


def _rows(model: type[Model]) -> str:
    """Rows of `model`'s table from the JSON parameter (an array of {column: value})."""
    return f"json_populate_recordset(NULL::{connection.ops.quote_name(model._meta.db_table)}, %s::json)"


# Bulk writes: claiming and recording are 6% of a worker's send time (bench/results/pipeline.md).
def update(objs: Sequence[Model], field_names: Sequence[str]) -> None:
    """Write `field_names` of each of `objs` (saved rows of one model), as `bulk_update`."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    if connection.vendor != "postgresql":
        _update_row_by_row(objs, [meta.get_field(name) for name in field_names])
        return
    fields = [meta.pk, *(meta.get_field(name) for name in field_names)]
    rows = [{f.column: getattr(obj, f.attname) for f in fields} for obj in objs]
    quote = connection.ops.quote_name
    key = quote(meta.pk.column)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    # Only names from the model's metadata go into the text; the rows are the parameter.
    table = quote(meta.db_table)
    sql = f"UPDATE {table} AS t SET {assignments} FROM {_rows(model)} AS v WHERE t.{key} = v.{key}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=_json_default)])


def _update_row_by_row(objs: Sequence[Model], fields: list) -> None:
    meta = objs[0]._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [
        [*(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields), obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def insert(model: type[Model], rows: Iterable[dict[str, Any]]) -> None:
    """Insert `rows` ({field attname: value}; fields left out take their default, and when
    the first row names them all, every row must) into `model`'s table, as `bulk_create`;
    a row that breaks a unique constraint raises IntegrityError and nothing is written."""
    _insert(model, list(rows), ignore_conflicts=False)


def insert_ignoring_conflicts(model: type[Model], rows: Iterable[dict[str, Any]]) -> None:
    """As `insert`, but a row that breaks a unique constraint is left out, as
    `bulk_create(ignore_conflicts=True)` does."""
    _insert(model, list(rows), ignore_conflicts=True)


def _insert(model: type[Model], rows: list[dict[str, Any]], *, ignore_conflicts: bool) -> None:
    if not rows:
        return
    meta = model._meta
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows], ignore_conflicts=ignore_conflicts)
        return
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    if all(f.attname == f.column for f in fields) and all(f.attname in rows[0] for f in fields):
        documents = rows  # each row already names every column (the send path's rows do)
    else:
        now = timezone.now()
        defaults = {
            # A time set when the row is saved (auto_now, auto_now_add) is this statement's.
            f.attname: now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else f.get_default()
            for f in fields
        }
        documents = [{f.column: row.get(f.attname, defaults[f.attname]) for f in fields} for row in rows]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    table = quote(meta.db_table)
    conflicts = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    sql = f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {_rows(model)}{conflicts}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(documents, default=_json_default)])
