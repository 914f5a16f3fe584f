"""The README's backup and restore commands, run as written (less `docker compose exec -T
postgres`) against the test PostgreSQL: a dump restored into a fresh database holds the rows."""

from __future__ import annotations

import re
import shlex
import subprocess
import uuid

import psycopg
import pytest
from django.db import connection

from alerts.models import DailyCount, Digest, DigestItem
from tests.conftest import require
from tests.factories import PaperFactory, SubscriberFactory
from tests.servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)
PREFIX = "docker compose exec -T postgres "
TABLES = (
    "subscribers_subscriber",
    "alerts_paper",
    "alerts_digest",
    "alerts_digestitem",
    "alerts_dailycount",
    "django_migrations",
    "django_celery_beat_periodictask",
)


def readme_commands() -> list[str]:
    """The commands of the README's backup section that run in the postgres container."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Backups") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]
    return [line.removeprefix(PREFIX) for line in block.splitlines() if line.startswith(PREFIX)]


def run(command: str, *, server, database: str, dump) -> None:
    """One README command against the test server: the defaults of docker-compose.yml
    (user and database `paper_alerts`) become the test's, and the redirection the file."""
    words, redirect = shlex.split(command.replace("$(date +%F)", "today")), None
    if len(words) > 2 and words[-2] in "<>":
        redirect, words = words[-2], words[:-2]
    words = [
        server.user if w == "paper_alerts" and prev == "-U" else database if w == "paper_alerts" else w
        for prev, w in zip(["", *words[:-1]], words, strict=True)
    ]
    binary = server.bindir / words[0]
    argv = [str(binary), "-h", "127.0.0.1", "-p", str(server.port), *words[1:]]
    stdin = dump.open("rb") if redirect == "<" else None
    stdout = dump.open("wb") if redirect == ">" else None
    try:
        result = subprocess.run(
            argv, stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        for handle in (stdin, stdout):
            if handle:
                handle.close()
    assert result.returncode == 0, f"{command}: {result.stderr.decode()}"


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}  # noqa: S608


def test_the_readme_backup_restores_every_row_into_a_fresh_database(postgres_server, tmp_path):
    require(postgres_server is not None and connection.vendor == "postgresql", "PostgreSQL is needed")
    papers = [PaperFactory() for _ in range(3)]
    for n in range(4):
        digest = Digest.objects.create(
            subscriber=SubscriberFactory(email=f"reader{n}@example.org"),
            period="2026-11-18",
            frequency="daily",
            status="sent",
            window_end="2026-11-18T07:00:00Z",
        )
        for rank, paper in enumerate(papers):
            DigestItem.objects.create(digest=digest, paper=paper, rank=rank)
    DailyCount.objects.create(day="2026-11-17", metric="sent", count=1234)
    source = connection.settings_dict["NAME"]
    commands = readme_commands()
    dumps = [c for c in commands if c.startswith("pg_dump")]
    restores = [c for c in commands if not c.startswith("pg_dump")]
    assert [c.split()[0] for c in dumps] == ["pg_dump"], commands
    assert [c.split()[0] for c in restores] == ["dropdb", "createdb", "pg_restore"], commands
    assert all(" -Fc" in c for c in dumps)  # the custom format pg_restore reads
    fresh = f"restored_{uuid.uuid4().hex[:8]}"
    dump = tmp_path / "paper-alerts.dump"

    for command in dumps:
        run(command, server=postgres_server, database=source, dump=dump)
    try:
        for command in restores:
            run(command, server=postgres_server, database=fresh, dump=dump)

        restored = counts(postgres_server.url(fresh))
        assert restored == counts(postgres_server.url(source))
        assert restored["alerts_digestitem"] == 12
        with psycopg.connect(postgres_server.url(fresh)) as conn:
            emails = {row[0] for row in conn.execute("SELECT email FROM subscribers_subscriber")}
            kept = conn.execute("SELECT count FROM alerts_dailycount WHERE metric = 'sent'").fetchone()[0]
        assert emails == {f"reader{n}@example.org" for n in range(4)}
        assert kept == 1234
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
