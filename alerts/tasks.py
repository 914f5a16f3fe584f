"""Celery tasks: thin edges that call the services."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task

from .fetching import FetchError
from .paper_fetch import fetch_specs, papers_fetch

logger = logging.getLogger(__name__)


class TransientFetchError(Exception):
    """A fetch that may succeed later (arXiv busy, a timeout): the only failure retried."""


@shared_task(
    autoretry_for=(TransientFetchError,),
    retry_backoff=300,  # 5 min, 10 min, 20 min...: arXiv or Hugging Face being busy passes
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=4,
    # A source is a handful of requests 3 s apart; the API back-fill pages through at most
    # ARXIV_API_MAX_RESULTS. Past these limits something hangs.
    soft_time_limit=20 * 60,
    time_limit=25 * 60,
)
def fetch_papers_task(
    source: str | None = None,
    categories: list[str] | None = None,
    url: str = "",
    date: str | None = None,
) -> dict | None:
    """Fetch one source and store its papers. A request standing for several fetches (no
    source: the nightly set; "feed": every configured feed) queues one task per fetch, so
    that each retries, or fails, on its own."""
    day = dt.date.fromisoformat(date) if date else None
    specs = fetch_specs(source=source, categories=categories or (), url=url, date=day)
    if source is None or len(specs) != 1:
        for spec in specs:
            fetch_papers_task.delay(source=spec.source, **spec.as_params())
        return None
    try:
        counts = papers_fetch(spec=specs[0])
    except FetchError as exc:
        # Already recorded in a FetchRun. Only what may pass (busy, timeouts) is retried.
        if exc.transient:
            raise TransientFetchError(str(exc)) from exc
        raise
    return {"fetched": counts.fetched, "created": counts.created, "updated": counts.updated}
