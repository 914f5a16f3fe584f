"""A bounded cache for the hot paths, where a lookup must cost what a dict lookup costs.

`functools.lru_cache` and `cachetools` fit everything else. `BoundedDict` reads as a dict
and forgets everything when it is full, which keeps a worker's memory bounded however many
distinct keys a run has.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


# bench.render, caches filled: 127-141 us a digest, 157-166 us with cachetools.LRUCache (interleaved runs);
# textnorm.words on warm caches: 65.7 us a text with this, 93.9 us with functools.lru_cache.
class BoundedDict(dict[K, V]):
    """A dict of at most `limit` entries: read it as a dict, write it with `put`."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Store `value` under `key` (emptying the dict first when it is full); return it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
