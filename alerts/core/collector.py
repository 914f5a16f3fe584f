"""Python's cycle collector in a process that holds a large, long-lived state.

Pausing it while building many objects that hold no cycles (`collector_paused`); keeping
a digest run's index and caches out of its full collections (`settle`, `release`).

The cycle collector runs every few hundred container allocations and, now and then, walks
every object of the process. A worker holding a run's filters and caches has millions of
them, so building a day's paper index (hundreds of thousands of small lists, tuples and
dicts, none in a cycle) set off full collections that cost as much as the build itself.
With the 100,000-subscriber workload of bench.match held in one process, the collector
on and off in turn (CPU time, median of 3): index build 0.28 s against 0.15 s, the day's
filters compiled and matched from scratch 1.50 s against 1.36 s. Objects freed meanwhile
are still freed at once (reference counting); only cycles wait until the collector runs
again.

A worker sending a run's digests keeps that index and its caches for the whole run, and
every chunk makes and drops tens of thousands of objects more. Those of a chunk that live
through a few young collections are promoted to the oldest generation, so a full collection
comes every thousand digests or so, and each walks the whole run's state again. After a
chunk, `settle` collects the cycles it left and moves every object still alive out of the
generations the collector walks (`gc.freeze`): later full collections walk only what is
new. `release` hands them back when the run's index is replaced, so that the old index's
cycles are freed too. The before and after, two workers side by side:
bench/results/compare_collector.md.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused", "release", "settle"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector inside the block; it runs again after, as it was before
    (a block inside another, or another thread's, leaves it to the outermost one)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle() -> None:
    """After a piece of work (a chunk of digests): collect the cycles it left, then keep
    every object still alive (the run's index and caches, mostly) out of later collections
    (`gc.freeze`). What becomes garbage later is still freed at once by reference counting;
    only cycles among the kept objects wait until `release`."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Hand the objects kept by `settle` back to the collector (a run's index is replaced):
    the cycles among them that are garbage now are freed by the next full collection."""
    gc.unfreeze()
