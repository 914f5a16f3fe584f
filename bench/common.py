"""What every benchmark shares: the machine's description, Django for the bench process,
medians, and writing results under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SITE_URL = "https://alerts.example.org"
# When this benchmark process started: `write` records the run's wall time from it.
STARTED = time.monotonic()


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except OSError:
        memory = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": memory,
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def machine_line(m: dict) -> str:
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB, Python {m['python']};"
        f" load average at start {m['load_average_at_start'][0]:.2f}"
    )


def bench_environment(**extra: str) -> dict[str, str]:
    """The environment of a benchmark process (and of the workers it starts): production
    settings, as a deployment runs them (no debug, no query log), with a throwaway key."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "SITE_URL": SITE_URL,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


# For benchmarks that touch neither broker nor cache (rendering, the admin home): production
# settings insist that a Redis URL is named; nothing connects to this one.
UNUSED_REDIS_URL = "redis://127.0.0.1:9/0"


def django_setup(**extra: str) -> None:
    """Set up Django in this process with `bench_environment`."""
    os.environ.update(bench_environment(**extra))
    import django

    django.setup()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write(name: str, report: dict, markdown: str) -> None:
    report["wall_s"] = time.monotonic() - STARTED
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(f"wrote {RESULTS}/{name}.json, {name}.md", file=sys.stderr)


def load(name: str) -> dict | None:
    """bench/results/NAME.json as a benchmark wrote it, or None when it has not run."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def slowest_queries(run: Callable[[], object], keep: int = 3) -> list[dict]:
    """The slowest queries `run` makes, each with PostgreSQL's plan of it: where the time goes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    queries = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:keep]
    out = []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            out.append({"s": float(query["time"]), "sql": query["sql"], "plan": [row[0] for row in cursor]})
    return out
