"""A Prometheus scrape of /metrics with a million subscribers and a month of digests.

    python -m bench.metrics            # 1,000,000 subscribers, 30 days of daily digests
    python -m bench.metrics --quick    # 10,000 subscribers: a smoke run, nothing written

The database is filled as bench/admin_home.py fills it (the same private PostgreSQL, the
same INSERT ... SELECT generate_series). Then GET /metrics with the bearer token, through
Django's whole request stack (production settings):

- first scrape ever: no day kept yet, so every closed day since the oldest row is counted
  and kept (once ever; the admin home's first view does the same for its month);
- first scrape of a day: the day just over is counted;
- usual scrape: every closed day kept; today counted live, the queue, the latency window.

The fair baseline, measured in the same run: the all-time counters counted straight from
the rows (one GROUP BY per table over the whole history), which is what every scrape would
cost without the kept daily counts.
"""

from __future__ import annotations

import time

from bench import admin_home, common

TOKEN = "bench-metrics-token-0123456789abcdef"  # noqa: S105 (a private throwaway server)
REPEATS = 5


def scrape_seconds(client) -> float:
    started = time.perf_counter()
    response = client.get(
        "/metrics", HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", secure=True
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    assert b"paper_alerts_digests_sent_total" in response.content
    return elapsed


def baseline_seconds() -> float:
    """Every counter from the rows of all time: what a scrape costs without kept days."""
    from alerts.digests.daily_counts import count_since, first_day, start_of_day

    started = time.perf_counter()
    count_since(start_of_day(first_day()))
    return time.perf_counter() - started


def measure() -> dict:
    import datetime as dt

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from alerts.models import DailyCount

    settings.METRICS_TOKEN = TOKEN
    client = Client()
    result = {"baseline_all_time_from_rows_s": [baseline_seconds() for _ in range(REPEATS)]}
    DailyCount.objects.all().delete()
    result["first_scrape_s"] = scrape_seconds(client)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    new_day = []
    for _ in range(REPEATS):
        DailyCount.objects.filter(day=yesterday).delete()
        new_day.append(scrape_seconds(client))
    result["first_scrape_of_a_day_s"] = new_day
    result["usual_scrape_s"] = [scrape_seconds(client) for _ in range(REPEATS)]
    result["usual_scrape_slowest_queries"] = common.slowest_queries(lambda: scrape_seconds(client))
    return result


def markdown(report: dict) -> str:
    r = report["result"]
    usual = common.median(r["usual_scrape_s"])
    baseline = common.median(r["baseline_all_time_from_rows_s"])
    return f"""# A scrape of /metrics with {report["subscribers"]:,} subscribers

`python -m bench.metrics` ({common.machine_line(report["machine"])}).
{report["seed"]["digests"]:,} digests ({report["days"]} days of daily digests, today's included),
{report["seed"]["events"]:,} subscriber events, in a private PostgreSQL (fsync off), filled as
`bench/admin_home.py` fills it. GET /metrics with the bearer token through Django's request
stack, production settings; medians of {REPEATS}.

| | seconds |
|---|---:|
| usual scrape (closed days kept, today counted live) | {usual:.3f} |
| first scrape of a day (one closed day to count) | {common.median(r["first_scrape_of_a_day_s"]):.3f} |
| first scrape ever (every closed day to count, once) | {r["first_scrape_s"]:.3f} |
| baseline: the all-time counters counted from the rows (no kept counts) | {baseline:.3f} |

Its slowest query took {r["usual_scrape_slowest_queries"][0]["s"]:.3f} s (its plan is in `metrics.json`).
Seeding took {report["seed"]["subscribers_and_events_s"] + report["seed"]["digests_s"]:.0f} s.
"""


def main() -> None:
    admin_home.seeded_main(measure, markdown, "metrics", "usual_scrape_slowest_queries")


if __name__ == "__main__":
    main()
