"""Load: the sign-up form and the live preview under wrk, against gunicorn on loopback.

    python -m bench.load                 # 60 s; writes bench/results/load.md and load.json
    python -m bench.load --seconds 10    # a shorter look; nothing written without --write

It runs what production runs: production settings behind a (pretend) TLS proxy, gunicorn,
PostgreSQL, Redis (rate-limit counters, the confirmation emails' task queue), with a week
of real papers for the preview. Private PostgreSQL and Redis servers are started for the
run (tests/servers.py). Two wrk processes then run at once for the given time: one POSTs
sign-ups (bench/wrk/signup.lua: most addresses new, a quarter from a small shared pool
signed up again and again concurrently), one GETs previews of typical queries
(bench/wrk/preview.lua). Each request comes from its own client address (X-Real-IP, as the
proxy sets it), so the per-client rate limits stay on and are not what is measured.

Afterwards: no answer may be a 5xx, and every sign-up the site accepted (answered with
"Check your inbox") must be stored exactly once, with one "created" audit event.
tests/load/test_load.py runs the same for a few seconds in the suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import psycopg

from tests import servers

ROOT = Path(__file__).resolve().parent.parent
WRK = ROOT / "bench" / "wrk"
RESULTS = ROOT / "bench" / "results"
HOST = "alerts.example.org"
WEEK_PAPERS = ROOT / "tests" / "fixtures" / "subscribers" / "week_papers.json"


@dataclass
class Endpoint:
    name: str
    requests: int
    seconds: float
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))


@dataclass
class Report:
    seconds: float
    connections: int
    workers: int
    threads: int
    endpoints: list[Endpoint] = field(default_factory=list)
    accepted: int = 0  # distinct addresses the site answered "Check your inbox" for
    # Addresses sent but never answered: requests in flight when wrk stopped (the site may
    # or may not have stored them, as with any request cut off), and how many requests
    # wrk made without reading an answer.
    in_flight: list[str] = field(default_factory=list)
    unanswered_requests: int = 0
    stored: int = 0  # of this run's addresses, rows in the database
    stored_twice: list[str] = field(default_factory=list)
    accepted_not_stored: list[str] = field(default_factory=list)
    stored_not_sent: list[str] = field(default_factory=list)
    stored_unanswered: int = 0
    created_events: int = 0

    @property
    def exactly_once(self) -> bool:
        """Every accepted sign-up stored once (with one "created" event), and nothing stored
        that was not sent; only the requests in flight at the end may be either."""
        return (
            not self.stored_twice
            and not self.accepted_not_stored
            and not self.stored_not_sent
            and self.created_events == self.stored
            and self.stored == self.accepted + self.stored_unanswered
            and len(self.in_flight) <= self.unanswered_requests
        )


def production_env(
    base: dict[str, str], *, database_url: str, redis_url: str, data_dir: Path
) -> dict[str, str]:
    """What the web container runs with (.env.example's settings), for this machine."""
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
        "RATELIMIT_IP_META_KEY": "HTTP_X_REAL_IP",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def collect_static(env: dict[str, str]) -> None:
    manage(env, "collectstatic", "--no-input", "--verbosity", "0")


def start_gunicorn(
    env: dict[str, str], *, workers: int, threads: int, log: Path
) -> tuple[subprocess.Popen, int]:
    port = servers.free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--worker-class",
                "gthread",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    servers.wait_for_port(port, timeout=60, proc=proc)
    return proc, port


def csrf_pair(port: int) -> tuple[str, str]:
    """A CSRF form token and its cookie, as a browser gets them from the sign-up page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/", headers={"Host": HOST, "X-Forwarded-Proto": "https", "X-Real-IP": "10.255.0.1"})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 200, (response.status, body[:500])
    cookie = re.search(r"csrftoken=([^;]+)", response.headers["Set-Cookie"]).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return token, cookie


def start_wrk(script: str, port: int, seconds: float, connections: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{seconds:g}s",
            "--timeout",
            "10s",
            "--script",
            str(WRK / script),
            f"http://127.0.0.1:{port}",
            "--",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def endpoint(name: str, proc: subprocess.Popen) -> Endpoint:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    data = json.loads(output.strip().splitlines()[-1])
    return Endpoint(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        statuses=data["statuses"],
        errors=data["errors"],
        latency_ms={key: value / 1000 for key, value in data["latency_us"].items()},
    )


def check_signups(report: Report, database_url: str, accepted_dir: Path, run_id: str) -> None:
    """Compare what the site said it accepted with what the database holds."""

    def addresses(kind: str) -> list[str]:
        found = []
        for path in accepted_dir.glob(f"{kind}-*.txt"):
            found.extend(line.strip().lower() for line in path.read_text().splitlines() if line.strip())
        return found

    sent_lines = addresses("sent")
    sent, accepted = set(sent_lines), set(addresses("accepted"))
    answered = sum(report.endpoints[0].statuses.values())
    pattern = f"%-{run_id}-%@example.org"
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT lower(email), count(*) FROM subscribers_subscriber WHERE lower(email) LIKE %s GROUP BY 1",
            [pattern],
        ).fetchall()
        report.created_events = conn.execute(
            "SELECT count(*) FROM subscribers_subscriberevent e JOIN subscribers_subscriber s "
            "ON e.subscriber_id = s.id WHERE e.kind = 'created' AND lower(s.email) LIKE %s",
            [pattern],
        ).fetchone()[0]
    stored = Counter(dict(rows))
    report.accepted = len(accepted)
    report.in_flight = sorted(sent - accepted)
    report.unanswered_requests = len(sent_lines) - answered
    report.stored_unanswered = len(set(stored) & set(report.in_flight))
    report.stored = len(stored)
    report.stored_twice = sorted(email for email, n in stored.items() if n != 1)
    report.accepted_not_stored = sorted(accepted - set(stored))
    report.stored_not_sent = sorted(set(stored) - sent)


def run(
    env: dict[str, str],
    *,
    database_url: str,
    seconds: float,
    connections: int = 4,
    workers: int = 2,
    threads: int = 4,
    work_dir: Path,
) -> Report:
    """Both endpoints under load at once for `seconds`, then the exactly-once check.
    `env` is the web process's environment (see production_env); static files collected."""
    run_id = secrets.token_hex(4)
    accepted_dir = work_dir / f"accepted-{run_id}"
    accepted_dir.mkdir(parents=True)
    proc, port = start_gunicorn(env, workers=workers, threads=threads, log=work_dir / "gunicorn.log")
    try:
        token, cookie = csrf_pair(port)
        signup = start_wrk(
            "signup.lua", port, seconds, connections, token, cookie, HOST, str(accepted_dir), run_id
        )
        preview = start_wrk("preview.lua", port, seconds, connections, HOST)
        report = Report(seconds=seconds, connections=connections, workers=workers, threads=threads)
        report.endpoints = [
            endpoint("sign-up (POST /)", signup),
            endpoint("live preview (GET /preview/)", preview),
        ]
    finally:
        proc.terminate()
        proc.wait(30)
    check_signups(report, database_url, accepted_dir, run_id)
    return report


# The standalone run ------------------------------------------------------------------------


def week_feed(path: Path) -> Path:
    """The suite's week of real papers (Hugging Face titles and abstracts) as an RSS feed."""
    papers = json.loads(WEEK_PAPERS.read_text())["papers"]
    items = "".join(
        f"<item><title>{escape(p['title'])}</title><link>https://example.org/papers/{n}</link>"
        f"<guid>week-{n}</guid><description>{escape(p['abstract'])}</description></item>\n"
        for n, p in enumerate(papers)
    )
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Week</title>\n{items}</channel></rss>\n'
    )
    return path


def standalone(args) -> Report:
    work = Path(tempfile.mkdtemp(prefix="pa-load-"))
    postgres = servers.start_postgres()
    redis = servers.start_redis()
    try:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE paper_alerts_load")
        database_url = postgres.url("paper_alerts_load")
        env = production_env(
            dict(os.environ), database_url=database_url, redis_url=redis.url, data_dir=work / "data"
        )
        manage(env, "migrate", "--no-input")
        manage(env, "fetch_papers", "--source", "feed", "--file", str(week_feed(work / "week.xml")))
        collect_static(env)
        return run(
            env,
            database_url=database_url,
            seconds=args.seconds,
            connections=args.connections,
            workers=args.workers,
            threads=args.threads,
            work_dir=work,
        )
    finally:
        redis.stop()
        postgres.stop()


def markdown(report: Report, command: str) -> str:
    lines = [
        "# Load: sign-up and live preview",
        "",
        f"`{command}` on a {os.cpu_count()}-core {platform.machine()} machine "
        f"({platform.python_implementation()} {platform.python_version()}), "
        f"{time.strftime('%Y-%m-%d')}. gunicorn: {report.workers} workers x {report.threads} threads (gthread), "
        f"production settings; PostgreSQL and Redis on the same machine; two wrk processes "
        f"({report.connections} connections each) for {report.seconds:g} s at once.",
        "",
        "| endpoint | requests | per second | statuses | p50 ms | p90 ms | p99 ms | max ms | socket errors |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for e in report.endpoints:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(e.statuses.items()))
        lines.append(
            f"| {e.name} | {e.requests} | {e.per_second:.0f} | {statuses} | {e.latency_ms['p50']:.1f} | "
            f"{e.latency_ms['p90']:.1f} | {e.latency_ms['p99']:.1f} | {e.latency_ms['max']:.1f} | "
            f"{sum(e.errors.values())} |"
        )
    lines += [
        "",
        f"Sign-ups accepted (distinct addresses): {report.accepted}; still in flight when wrk stopped: "
        f"{len(report.in_flight)} ({report.stored_unanswered} of them stored); stored: {report.stored}; "
        f"stored more than once: {len(report.stored_twice)}; "
        f"accepted but not stored: {len(report.accepted_not_stored)}; stored but never sent: "
        f"{len(report.stored_not_sent)}; 'created' audit events: {report.created_events}. "
        f"Every accepted sign-up stored exactly once: {'yes' if report.exactly_once else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=4, help="per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--write", action="store_true", help="write bench/results/load.* (always for 60 s)")
    args = parser.parse_args()
    report = standalone(args)
    command = "python -m bench.load" + ("" if args.seconds == 60 else f" --seconds {args.seconds:g}")
    text = markdown(report, command)
    print(text)
    if args.write or args.seconds == 60:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "load.md").write_text(text)
        data = asdict(report) | {
            "endpoints": [asdict(e) | {"per_second": e.per_second} for e in report.endpoints]
        }
        (RESULTS / "load.json").write_text(json.dumps(data, indent=1) + "\n")
    failed = [e.name for e in report.endpoints if e.server_errors] or (
        [] if report.exactly_once else ["exactly once"]
    )
    sys.exit(f"FAILED: {', '.join(failed)}" if failed else 0)


if __name__ == "__main__":
    main()
