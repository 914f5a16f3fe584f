"""Fixtures for the paper sources: saved responses, the fetch_papers command, table snapshots."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from alerts.models import Paper

SOURCES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def saved(name: str) -> Path:
    """A saved response under tests/fixtures/sources/."""
    path = SOURCES_DIR / name
    assert path.is_file(), path
    return path


@dataclass
class CommandResult:
    status: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""


def run_fetch_papers(*args: str) -> CommandResult:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("fetch_papers", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return CommandResult(status=status, out=out.getvalue(), err=err.getvalue())


@pytest.fixture
def fetch_papers():
    """Run `manage.py fetch_papers ARGS` in-process: CommandResult(status, out, err)."""
    return run_fetch_papers


def stored(paper: Paper) -> dict:
    """Every field a fetch writes, as stored (bookkeeping timestamps and the pk left out)."""
    paper.refresh_from_db()
    data = model_to_dict(paper, exclude=["id"])
    data.pop("first_seen_at", None)
    return data


def table_snapshot() -> list[dict]:
    """The whole paper table, every column, to compare before and after a failed fetch."""
    return list(Paper.objects.order_by("id").values())


@pytest.fixture
def arxiv_on(fakeweb, settings):
    """Point every source at the fake web server."""
    settings.ARXIV_RSS_URL = f"{fakeweb.url}/rss/"
    settings.ARXIV_API_URL = f"{fakeweb.url}/api/query"
    settings.HF_DAILY_URL = f"{fakeweb.url}/api/daily_papers"
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    settings.FETCH_BACKOFF = 0.01
    settings.FETCH_TIMEOUT = 5.0
    return fakeweb
