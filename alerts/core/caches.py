"""A bounded cache for the hot paths, where a lookup must cost what a dict lookup costs.

`functools.lru_cache` and `cachetools` fit everything else. `BoundedDict` reads as a dict
and forgets everything when it is full, which keeps a worker's memory bounded however many
distinct keys a run has. `BytesBoundedDict` does the same by size in bytes, for values of
very different sizes (the matcher's bitsets and compiled filters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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


class BytesBoundedDict(dict):
    """A dict that holds at most `budget` bytes of entries, as `size_of(key, value)`
    estimates them: read it as a dict, write it with `put`; storing past the budget evicts
    the oldest entries.

    Reads are plain dict reads (C speed: the matcher reads its caches millions of times in
    a digest run), and a store costs one size estimate: the sizes are not kept but computed
    again for the entries evicted (keys and values never change). Eviction goes in
    storing order, not by last use, for the same reason, and in batches down to 3/4 of the
    budget: dropping the oldest entries one by one would rescan the freed slots each time.
    """

    __slots__ = ("budget", "size_of", "used")

    def __init__(self, budget: int, size_of: Callable[[Any, Any], int]) -> None:
        super().__init__()
        self.budget = budget
        self.size_of = size_of
        self.used = 0

    def put(self, key, value):
        """Store `value` under `key` and return it; an entry larger than the budget is not kept."""
        if key in self:
            self.used -= self.size_of(key, self.pop(key))
        size = self.size_of(key, value)
        if size > self.budget:
            return value
        self[key] = value
        self.used += size
        if self.used > self.budget:
            self._evict(self.budget * 3 // 4)
        return value

    def put_many(self, items: dict, size: int) -> None:
        """Store every entry of `items`, whose sizes add up to `size` (one sum computed by
        the caller, not a size estimate per entry): a batch of the matcher's bitsets."""
        for key in items.keys() & self.keys():
            self.used -= self.size_of(key, self.pop(key))
        self.update(items)
        self.used += size
        if self.used > self.budget:
            self._evict(self.budget * 3 // 4)

    def _evict(self, target: int) -> None:
        size_of = self.size_of
        evicted = []
        for key, value in self.items():
            if self.used <= target:
                break
            self.used -= size_of(key, value)
            evicted.append(key)
        for key in evicted:
            del self[key]

    def clear(self) -> None:
        super().clear()
        self.used = 0


# The matcher's caches: 100,000 filters x 1,000 papers matched in 0.61 s CPU from scratch, 0.33 s
# with compiled filters kept (bench/results/match.md, "Issue 3").
