"""Long lists cut into slices: ids per IN (...), rows per statement, digests per task."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of `size` items, in order (the last may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
