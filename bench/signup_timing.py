"""Does the sign-up answer take longer for an address that is already known?

The page is the same whatever the address's state (no email enumeration by content); this
measures whether its timing tells. Django's test client POSTs the sign-up form in this
process, with production settings on PostgreSQL and Redis (tasks are queued to Redis, as
in a deployment, and no worker takes them). The requests alternate between the kinds, so
that a drift of the machine's load falls on all of them alike:

- unknown: an address never seen (a subscriber is created);
- pending, unsubscribed, active: an address in that state (seeded beforehand, each used
  once, so the per-address daily email limit never changes the work done).

    python -m bench.signup_timing [--requests 200]

Prints the median, 10th and 90th percentiles per kind and the differences between the
medians; writes bench/results/signup_timing.{json,md}.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from bench import common
from tests import servers

KINDS = ("unknown", "pending", "unsubscribed", "active")


def form(email: str) -> dict[str, str]:
    return {
        "action": "subscribe",
        "email": email,
        "frequency": "daily",
        "send_hour": "7",
        "timezone": "Europe/Berlin",
        "max_papers": "20",
        "filters-TOTAL_FORMS": "1",
        "filters-INITIAL_FORMS": "0",
        "filters-0-name": "Sparse attention",
        "filters-0-query": 'abs:"sparse attention"',
    }


def seed(requests: int) -> None:
    from subscribers.models import Subscriber, TopicFilter

    subscribers = [
        Subscriber(email=f"{kind}{i}@example.org", status=kind)
        for kind in KINDS[1:]
        for i in range(requests + 1)
    ]
    Subscriber.objects.bulk_create(subscribers)
    TopicFilter.objects.bulk_create(
        [TopicFilter(subscriber=s, name="Graphs", query="ti:graph") for s in Subscriber.objects.all()]
    )


def measure(requests: int) -> dict[str, list[float]]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.1", secure=True)
    for kind in KINDS:  # warm-up: templates, caches, connections
        assert client.post("/", form(f"{kind}{requests}@example.org")).status_code == 200
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for i in range(requests):
        for kind in KINDS:
            started = time.perf_counter()
            response = client.post("/", form(f"{kind}{i}@example.org"))
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
    return timings


def summary(timings: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for kind, values in timings.items():
        deciles = statistics.quantiles(values, n=10)
        out[kind] = {
            "median_ms": common.median(values) * 1000,
            "p10_ms": deciles[0] * 1000,
            "p90_ms": deciles[-1] * 1000,
        }
    return out


def markdown(report: dict) -> str:
    lines = [
        "# Sign-up timing by the address's state",
        "",
        f"`{report['command']}`: {report['requests']} sign-ups of each kind, interleaved, "
        "Django's test client, production settings on PostgreSQL and Redis.",
        f"Machine: {common.machine_line(report['machine'])}.",
        "",
        "| address | median ms | p10 ms | p90 ms | median - unknown's |",
        "|---|---|---|---|---|",
    ]
    base = report["kinds"]["unknown"]["median_ms"]
    for kind, row in report["kinds"].items():
        lines.append(
            f"| {kind} | {row['median_ms']:.1f} | {row['p10_ms']:.1f} | {row['p90_ms']:.1f} "
            f"| {row['median_ms'] - base:+.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    postgres = servers.start_postgres()
    redis = servers.start_redis()
    work = Path(tempfile.mkdtemp(prefix="pa-signup-timing-"))
    try:
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE signup_timing")
        common.django_setup(
            DATABASE_URL=postgres.url("signup_timing"),
            REDIS_URL=redis.url,
            RATE_LIMIT_SIGNUP="1000000/h",
            DATA_DIR=str(work),
        )
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)  # pages name hashed files
        seed(args.requests)
        report = {
            "command": f"python -m bench.signup_timing --requests {args.requests}",
            "requests": args.requests,
            "machine": common.machine(),
            "kinds": summary(measure(args.requests)),
        }
        connections.close_all()
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = markdown(report)
    common.write("signup_timing", report, text)
    print(text)


if __name__ == "__main__":
    main()
