"""Model fields of our own."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import models


class JSONTextField(models.TextField):
    """A JSON value (lists and dicts of strings and numbers) kept as its text.

    For the columns the send path writes thousands of times a chunk and never queries into:
    PostgreSQL parses a `jsonb` value into its binary form on every write, and a chunk
    writes two small lists for each of its thousands of item rows. Read and written as the
    value itself, as with JSONField; the database sees text (its JSON), so lookups into it
    are not offered.
    """

    description = "A JSON value kept as text"

    def from_db_value(self, value, expression, connection):
        return value if value is None else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValidationError(f"Not valid JSON: {exc}", code="invalid") from exc
        return value

    def get_prep_value(self, value):
        return value if value is None else json.dumps(value)
