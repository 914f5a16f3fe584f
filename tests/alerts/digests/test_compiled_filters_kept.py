"""The pipeline keeps its compiled filters across runs, in the file MATCHER_FILTER_STORE names."""

from __future__ import annotations

import shutil

import pytest
from django.utils import timezone

from alerts.digests import composing
from alerts.digests.runner import digests_run
from alerts.models import DigestItem
from alerts.search.compiled import FilterStore
from tests.factories import PaperFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db


def test_a_run_writes_the_filters_it_compiled_and_the_next_process_reads_them(settings, tmp_path, mailoutbox):
    settings.MATCHER_FILTER_STORE = str(tmp_path / "first" / "compiled-filters")
    settings.MATCHER_FILTER_STORE_SAVE_SECONDS = 3600  # only the end of the run writes it
    PaperFactory(title="Language models for robot arms", abstract="Language models drive robot arms.")
    PaperFactory(title="Robot arms", abstract="Grasping with robot arms.")
    subscriber = subscribe("ada@example.org", ("LLMs", "language models"), ("Robots", "robot -grasping"))
    digests_run()
    assert len(mailoutbox) == 1

    saved = FilterStore.load(tmp_path / "first" / "compiled-filters")
    assert {"language models", "robot -grasping"} <= set(saved.texts)
    assert saved.key(saved.texts["language models"]) == "&(t:tiabs:languag,t:tiabs:model)"

    # Another worker process, the next day: it reads the file instead of parsing.
    shutil.copy(tmp_path / "first" / "compiled-filters", tmp_path / "compiled-filters")
    settings.MATCHER_FILTER_STORE = str(tmp_path / "compiled-filters")
    store = composing.filter_store()
    assert set(store.texts) == set(saved.texts)
    pidx = composing.build_period_index(timezone.now())
    assert pidx.index.filters is store
    item = DigestItem.objects.get(
        digest__subscriber=subscriber, paper__title="Language models for robot arms"
    )
    assert item.filters == ["LLMs", "Robots"]
    assert pidx.index.match("robot -grasping") == 0b01
    assert not store.dirty  # every filter came from the file
