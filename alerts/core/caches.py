"""A bounded memo for the hottest lookups: a dict emptied when it is full.

`functools.lru_cache` and `cachetools` keep the most recently used entries, but each hit
moves a list node (and cachetools' is Python code); on the normaliser's word lookups that
costs more than the lookup itself. This is a plain dict (its `get` stays C-level, usable in
`map`) that starts again from empty at `limit` entries: a long-lived worker never grows
without bound, and a day's vocabulary is read again in well under a second.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict of at most `limit` entries; `put` empties it first when it is full."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
