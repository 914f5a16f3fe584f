"""The cycle collector in a worker: what a chunk leaves is freed, what the run keeps is
left out of later collections until the run's index is replaced."""

import datetime as dt
import gc
import weakref

import pytest

from alerts.core import collector
from alerts.digests import composing


class Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def nothing_frozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_frees_the_cycles_left_and_keeps_the_survivors_until_release(nothing_frozen):
    left = weakref.ref(Node())  # garbage already, in a cycle
    kept = Node()
    collector.settle()
    assert left() is None
    assert gc.get_freeze_count() > 0

    # Kept by settle: a cycle that turns into garbage afterwards waits, however many
    # collections run...
    kept_ref = weakref.ref(kept)
    del kept
    gc.collect()
    assert kept_ref() is not None
    # ...until release hands it back.
    collector.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert kept_ref() is None


@pytest.mark.django_db
def test_a_new_runs_index_hands_the_kept_objects_back(nothing_frozen):
    collector.settle()
    assert gc.get_freeze_count() > 0
    composing.period_index(dt.datetime(2001, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert gc.get_freeze_count() == 0
