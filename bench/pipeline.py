"""Whole-pipeline benchmark: dispatch, match, rank, render and send with PostgreSQL, Redis
and two Celery worker processes, to anymail's test backend and over SMTP.

    python -m bench.pipeline            # the full run (about 20 minutes); writes bench/results/
    python -m bench.pipeline --quick    # a smoke run: 2,000 and 10,000 subscribers, nothing written
    python -m bench.pipeline --models 20  # the cost of the readers' models: 100,000 subscribers
                                          # (--subscribers N), 20% of them with a model against
                                          # none; writes bench/results/pipeline_models.{md,json}
    python -m bench.pipeline --workers-compare  # one worker process against two, 10,000 subscribers
    python -m bench.pipeline --million  # 1,000,000 subscribers to the last digest (most of an
                                        # hour); writes bench/results/pipeline_million.{md,json}

Everything runs on this machine, each server in its own process, started as the test
suite starts them (tests/servers.py): a private PostgreSQL (fsync off: the disk is not
what is measured), Redis, and two `celery -A config worker` processes (one pool process
each, production settings). The bench process seeds the database with COPY, sends the
`dispatch_due_digests` task as beat would, and waits until every digest is sent.

One run: every subscriber is due (send hour 0, UTC, daily), so dispatch creates one digest
per subscriber and queues them in chunks; the workers send them. Measured:

- dispatch: from sending the task to the last chunk queued (the digests' `queued_at`);
- send: from then to the last digest recorded as sent (`finished_at`); throughput is
  digests sent per second of it;
- peak memory of each worker: VmHWM of its main and pool processes, from /proc;
- CPU seconds of the workers, PostgreSQL, Redis and the SMTP sink (from /proc), and of the
  whole machine, so that other load on the shared machine shows.

Backends: (a) `bench.esp.EmailBackend`, anymail's test backend without its in-memory
outbox; (b) Django's SMTP backend (one connection per worker, kept across chunks) to an
aiosmtpd sink in a separate process (bench.smtpsink), compared with the sink's own
ceiling: plain smtplib over one connection sending the same messages (the first 1,000
the sink received).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import secrets
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import common, workload
from tests import servers

TICK = os.sysconf("SC_CLK_TCK")
TARGET_PER_SECOND = 1_000
TARGET_SMTP_SHARE = 0.8
TARGET_RSS_MB = 500
TEST_BACKEND = "bench.esp.EmailBackend"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


# Processes ---------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread has just ended
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """CPU time of a process (with `reaped`, also of its children that have exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = int(fields[11]) + int(fields[12])
    if reaped:
        used += int(fields[13]) + int(fields[14])
    return used / TICK


def tree_cpu_seconds(pid: int) -> float:
    """A server's CPU time: itself, its live children, and the children it has reaped."""
    return cpu_seconds(pid, reaped=True) + sum(cpu_seconds(c) for c in children(pid))


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (every core, every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK


# The stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    postgres: servers.PostgresServer
    redis: servers.RedisServer
    env: dict[str, str]
    postmaster: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pa-bench-")))

    def stop(self) -> None:
        from django.db import connections

        connections.close_all()
        self.postgres.stop()
        self.redis.stop()
        shutil.rmtree(self.redis.directory, ignore_errors=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_stack() -> Stack:
    postgres = servers.start_postgres()
    redis = servers.start_redis()
    import psycopg

    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE bench")
    database_url = postgres.url("bench")
    common.django_setup(DATABASE_URL=database_url, REDIS_URL=redis.url)
    env = common.bench_environment(DATABASE_URL=database_url, REDIS_URL=redis.url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    postmaster = int((postgres.directory / "data" / "postmaster.pid").read_text().split()[0])
    return Stack(postgres=postgres, redis=redis, env=env, postmaster=postmaster)


# Seeding -------------------------------------------------------------------------------------


def seed_papers(count: int) -> float:
    """Replace the papers with a day of `count`, first seen over the last 23 hours."""
    from django.utils import timezone

    from alerts.models import Paper

    started = time.perf_counter()
    Paper.objects.all().delete()
    now = timezone.now()
    step = dt.timedelta(hours=23) / count
    votes = workload.upvotes(count)
    Paper.objects.bulk_create(
        [
            Paper(
                arxiv_id=p.arxiv_id,
                version=1,
                title=p.title,
                abstract=p.abstract,
                authors=list(p.authors),
                categories=list(p.categories),
                primary_category=p.categories[0],
                abs_url=f"https://arxiv.org/abs/{p.arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{p.arxiv_id}",
                upvotes=votes[i],
                source=Paper.Source.ARXIV_RSS,
                first_seen_at=now - dt.timedelta(hours=23) + step * i,
            )
            for i, p in enumerate(workload.papers(count))
        ],
        batch_size=1000,
    )
    return time.perf_counter() - started


def seed_subscribers(have: int, total: int, vocabulary) -> dict:
    """Add subscribers `have` .. `total - 1` of the workload (and their filters) with COPY."""
    from django.db import connection

    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    filters = 0
    connection.ensure_connection()
    raw = connection.connection
    subscribers = itertools.islice(workload.subscribers(total, vocabulary), have, None)
    # One COPY at a time on a connection: the filters wait in a file until the subscribers are in.
    with raw.cursor() as cursor, tempfile.TemporaryFile("w+") as pending_filters:
        with cursor.copy(
            "COPY subscribers_subscriber (id, email, status, timezone, send_hour, frequency, week_day, max_papers,"
            " include_trending, send_when_empty, token_secret, unsubscribe_secret, created_at, updated_at,"
            " confirmed_at, status_changed_at, pending_email) FROM STDIN"
        ) as subscriber_copy:
            for index, queries in subscribers:
                pk = index + 1
                subscriber_copy.write_row(
                    (
                        pk,
                        f"reader{index}@example.org",
                        "active",
                        "UTC",
                        0,
                        "daily",
                        0,
                        20,
                        workload.wants_trending(index),
                        False,
                        secrets.token_hex(16),
                        secrets.token_hex(16),
                        now,
                        now,
                        now,
                        now,
                        "",
                    )
                )
                for position, query in enumerate(queries):
                    # COPY's text format: tabs separate columns, backslashes escape.
                    name = query[:100].replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")
                    escaped = query.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")
                    pending_filters.write(f"{pk}\t{name}\t{escaped}\t{position}\n")
                    filters += 1
        pending_filters.seek(0)
        stamp = now.isoformat()
        with cursor.copy(
            "COPY subscribers_topicfilter (subscriber_id, name, query, position, is_active, created_at,"
            " updated_at) FROM STDIN"
        ) as filter_copy:
            for line in pending_filters:
                filter_copy.write(f"{line[:-1]}\tt\t{stamp}\t{stamp}\n")
        cursor.execute("ANALYZE")
    return {"seconds": time.perf_counter() - started, "subscribers": total - have, "filters": filters}


def reset_run(stack: Stack) -> None:
    """No digests, no queued tasks, no journal: the next run starts from a clean slate."""
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_vote, alerts_deliveryevent, alerts_digestresend, alerts_digestitem, alerts_digest"
            " RESTART IDENTITY"
        )
        cursor.execute("VACUUM ANALYZE alerts_digest")
        cursor.execute("VACUUM ANALYZE alerts_digestitem")
    redis.Redis.from_url(stack.redis.url).flushdb()


def seed_models(share: float, total: int, distinct: int = 50) -> dict:
    """Give `share` of the `total` subscribers (every k-th) a reader's model of full stored
    size, trained on votes over the seeded papers: `distinct` models, dealt round-robin
    (scoring and re-ranking cost the same whichever model a subscriber has)."""
    import random

    from django.utils import timezone

    from alerts.models import Paper
    from alerts.search import model as reader_model
    from subscribers.models import ReaderModel

    started = time.perf_counter()
    ReaderModel.objects.all().delete()
    if not share:
        return {"models": 0, "seconds": 0.0}
    rows = list(Paper.objects.values_list("title", "abstract", "authors", "categories"))
    texts = [reader_model.PaperText(t, a, tuple(au), tuple(c)) for t, a, au, c in rows]
    corpus = reader_model.Corpus()
    corpus.add(texts)
    vectors = corpus.vectors(texts)
    rng = random.Random(7)
    blobs, sizes = [], []
    for _ in range(distinct):
        voted = rng.sample(range(len(texts)), 40)
        votes = [
            reader_model.Vote(r, reader_model.MORE if n < 15 else reader_model.LESS)
            for n, r in enumerate(voted)
        ]
        blob = reader_model.train(vectors, votes, background=range(len(texts))).dumps()
        blobs.append(blob)
        sizes.append(len(blob))
    step = max(1, round(1 / share))
    now = timezone.now()
    ReaderModel.objects.bulk_create(
        [
            ReaderModel(subscriber_id=pk, weights=blobs[n % distinct], trained_at=now, votes_used=40)
            for n, pk in enumerate(range(1, total + 1, step))
        ],
        batch_size=2000,
    )
    return {
        "models": ReaderModel.objects.count(),
        "bytes_median": statistics.median(sizes),
        "seconds": time.perf_counter() - started,
    }


def run_models(args) -> dict:
    """Per-digest cost with `args.models` percent of `args.subscribers` having a model, against
    none, the two alternating on the same stack, papers and subscribers."""
    size, papers = args.subscribers, 1000
    report = {"machine": common.machine(), "share": args.models / 100, "subscribers": size, "papers": papers}
    stack = start_stack()
    try:
        seed_subscribers(0, size, workload.vocabulary())
        seed_papers(papers)
        runs: dict[str, list[dict]] = {"none": [], "models": []}
        for _ in range(args.runs):
            for name, share in (("none", 0.0), ("models", args.models / 100)):
                report[f"seeded_{name}"] = seed_models(share, size)
                print(f"{name}: {report[f'seeded_{name}']}", flush=True)
                runs[name].append(
                    run_pipeline(
                        stack, backend=TEST_BACKEND, expected=size, papers=papers, timeout=args.timeout
                    )
                )
    finally:
        stack.stop()
    for name, results in runs.items():
        report[name] = {
            "cpu_ms_per_digest": [1000 * r["cpu_s"]["workers"] / r["sent"] for r in results],
            "send_ms_per_digest": [1000 * r["send_s"] / r["sent"] for r in results],
            "sent": [r["sent"] for r in results],
        }
    for key in ("cpu_ms_per_digest", "send_ms_per_digest"):
        report[f"ratio_{key}"] = statistics.median(report["models"][key]) / statistics.median(
            report["none"][key]
        )
    return report


def models_markdown(report: dict) -> str:
    none, models = report["none"], report["models"]
    share = report["share"]

    def cell(values: list[float]) -> str:
        return f"**{statistics.median(values):.3f}** ({', '.join(f'{v:.3f}' for v in values)})"

    ratio = report["ratio_cpu_ms_per_digest"]
    return "\n".join(
        [
            "# Pipeline cost of the readers' models",
            "",
            f"`python -m bench.pipeline --models {round(share * 100)}` on {common.machine_line(report['machine'])}.",
            "",
            f"{report['subscribers']:,} subscribers (their workload filters), {report['papers']:,} papers, two"
            " workers, anymail's test backend; the same stack runs each configuration in turn,"
            f" {len(none['sent'])} times. With models: {share:.0%} of the subscribers have one"
            f" ({report['seeded_models']['models']:,} rows, median {report['seeded_models']['bytes_median']:,.0f}"
            " bytes stored: 2,000 weights, trained on 40 votes), so their digests are re-ranked and get"
            ' "You may also like". Median (each run).',
            "",
            "| per digest | no models | with models | ratio |",
            "|---|---:|---:|---:|",
            f"| workers' CPU, ms | {cell(none['cpu_ms_per_digest'])} | {cell(models['cpu_ms_per_digest'])} |"
            f" **{ratio:.2f}x** |",
            f"| send time, ms | {cell(none['send_ms_per_digest'])} | {cell(models['send_ms_per_digest'])} |"
            f" {report['ratio_send_ms_per_digest']:.2f}x |",
            "",
            f"Target: at most +25% per digest: {verdict(ratio <= 1.25)}.",
            "",
            f"Digests a second with the models on for {share:.0%} of the subscribers (the send time"
            f" above): {models_rate(report):,.0f}, against {models_rate(report, 'none'):,.0f}"
            f" with none (target {TARGET_PER_SECOND:,}/s with them on): {verdict(models_rate(report) >= TARGET_PER_SECOND)}.",
            "",
        ]
    )


def models_rate(report: dict, side: str = "models") -> float:
    """Digests a second in one configuration of the --models run (`side`: "models" or
    "none"): the median send time of a digest, inverted."""
    return 1000 / statistics.median(report[side]["send_ms_per_digest"])


# One run -------------------------------------------------------------------------------------


def queue_empty(client) -> bool:
    """No task waiting or running (kombu keeps a task being run in the `unacked` hash)."""
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def db_counts(before: dt.datetime | None = None) -> dict:
    """Digests by status (with `before`, only those finished by then count as sent), the
    run's first and last moments, and PostgreSQL's own counters."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN status = 'sent' AND finished_at > %s THEN 'later' ELSE status END, count(*)"
            " FROM alerts_digest GROUP BY 1",
            [before or dt.datetime.max.replace(tzinfo=dt.UTC)],
        )
        counts = dict(cursor.fetchall())
        cursor.execute(
            "SELECT min(created_at), max(queued_at), max(finished_at) FILTER (WHERE finished_at <= %s)"
            " FROM alerts_digest",
            [before or dt.datetime.max.replace(tzinfo=dt.UTC)],
        )
        first_created, last_queued, last_finished = cursor.fetchone()
        cursor.execute(
            "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, inserted, updated = cursor.fetchone()
    return {
        "status": counts,
        "first_created": first_created,
        "last_queued": last_queued,
        "last_finished": last_finished,
        "commits": commits,
        "rows_inserted": inserted,
        "rows_updated": updated,
    }


def dispatched() -> bool:
    """The dispatch has committed (it creates and queues every digest in one transaction)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM alerts_digest)")
        return cursor.fetchone()[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_sink(port: int, keep: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.smtpsink", "--port", str(port)]
    if keep is not None:
        cmd += ["--keep", str(keep)]
    sink = subprocess.Popen(cmd, cwd=servers.ROOT, stdout=subprocess.PIPE, text=True)
    if sink.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start")
    return sink


def stop_sink(sink: subprocess.Popen) -> dict:
    sink.terminate()
    out, _ = sink.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def run_pipeline(
    stack: Stack,
    *,
    backend: str,
    expected: int,
    papers: int,
    timeout: float,
    budget: float | None = None,
    worker_count: int = 2,
    chunk_size: int | None = None,
) -> dict:
    """Dispatch and send one digest to each of `expected` subscribers; what it took. With a
    `budget`, sending stops that many seconds after dispatch (throughput is what was sent
    by then; the rest stays pending)."""
    import redis

    from alerts.tasks import dispatch_due_digests

    reset_run(stack)
    env = dict(stack.env, DJANGO_EMAIL_BACKEND=backend)
    if chunk_size is not None:  # dispatch (in a worker) cuts the run into chunks of this size
        env["DIGEST_CHUNK_SIZE"] = str(chunk_size)
    sink = None
    sink_cpu, received = 0.0, None
    keep = stack.workdir / "kept"
    if backend == SMTP_BACKEND:
        shutil.rmtree(keep, ignore_errors=True)
        port = servers.free_port()
        sink = start_sink(port, keep)
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
    workers: list[servers.CeleryWorker] = []
    samples: list[tuple[float, list[float]]] = []  # (seconds since start, RSS of each worker's pool)
    cut = None
    try:
        for n in range(1, worker_count + 1):
            workers.append(servers.CeleryWorker(env=env, name=f"bench{n}", concurrency=1).start())
        client = redis.Redis.from_url(stack.redis.url)
        before = {
            "postgres": tree_cpu_seconds(stack.postmaster),
            "redis": cpu_seconds(stack.redis.proc.pid),
            "machine": machine_cpu_seconds(),
            "db": db_counts(),
        }
        started = time.time()
        dispatch_due_digests.delay()
        # Poll the broker (cheap) until no task is left, then check the database once.
        poll = max(0.5, expected / 200_000)
        deadline = time.monotonic() + timeout
        dispatch_seen = None
        while True:
            time.sleep(poll)
            samples.append(
                (time.time() - started, [sum(rss_mb(c) for c in children(w.proc.pid)) for w in workers])
            )
            if dispatch_seen is None and dispatched():
                dispatch_seen = time.time()
            if budget is not None and dispatch_seen is not None and time.time() - dispatch_seen >= budget:
                cut = time.time()
                break
            if queue_empty(client):
                time.sleep(poll)
                if queue_empty(client):
                    after_db = db_counts()
                    open_digests = after_db["status"].get("pending", 0) + after_db["status"].get("sending", 0)
                    if sum(after_db["status"].values()) >= expected and not open_digests:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the run did not finish in {timeout:.0f} s")
        finished_wall = time.time()
        memory, worker_cpu = [], 0.0
        for worker in workers:
            pool = children(worker.proc.pid)
            memory.append(
                {
                    "main_mb": peak_rss_mb(worker.proc.pid),
                    "pool_mb": max((peak_rss_mb(c) for c in pool), default=0.0),
                }
            )
            worker_cpu += cpu_seconds(worker.proc.pid) + sum(cpu_seconds(c) for c in pool)
        machine_cpu = machine_cpu_seconds() - before["machine"]
    finally:
        for worker in workers:
            worker.stop()
            worker.log.unlink(missing_ok=True)
        if sink is not None:
            sink_cpu = cpu_seconds(sink.pid)
            received = stop_sink(sink) if sink.poll() is None else None
    time.sleep(0.5)  # the workers' database sessions end and PostgreSQL reaps them
    postgres_cpu = tree_cpu_seconds(stack.postmaster) - before["postgres"]
    redis_cpu = cpu_seconds(stack.redis.proc.pid) - before["redis"]
    if cut is not None:
        after_db = db_counts(before=dt.datetime.fromtimestamp(cut, dt.UTC))

    status = after_db["status"]
    last_queued = after_db["last_queued"].timestamp()
    end = cut if cut is not None else after_db["last_finished"].timestamp()
    dispatch_s, send_s, total_s = last_queued - started, end - last_queued, end - started
    sent = status.get("sent", 0)
    chunks = -(-expected // int(env.get("DIGEST_CHUNK_SIZE", 100)))
    result = {
        "backend": "smtp" if backend == SMTP_BACKEND else "test",
        "subscribers": expected,
        "papers": papers,
        "workers": worker_count,
        "status": status,
        "sent": sent,
        "complete": cut is None,
        "budget_s": budget,
        "dispatch_s": dispatch_s,
        "send_s": send_s,
        "total_s": total_s,
        "wall_s": finished_wall - started,
        "per_second": sent / send_s if send_s > 0 else 0.0,
        "per_second_overall": sent / total_s if total_s > 0 else 0.0,
        "memory": memory,
        "peak_worker_mb": max(max(m["main_mb"], m["pool_mb"]) for m in memory),
        "rss_samples": samples[:: max(1, len(samples) // 50)],
        "cpu_s": {
            "workers": worker_cpu,
            "postgres": postgres_cpu,
            "redis": redis_cpu,
            "sink": sink_cpu,
            "machine": machine_cpu,
        },
        "commits_per_chunk": (after_db["commits"] - before["db"]["commits"]) / chunks,
        "rows_inserted": after_db["rows_inserted"] - before["db"]["rows_inserted"],
        "received": received,
    }
    print(
        f"  {result['backend']:>4} {expected:>9,} subscribers x {papers:,} papers: dispatch {dispatch_s:.1f} s,"
        f" send {send_s:.1f} s{'' if cut is None else ' (time-boxed)'}: {sent:,} sent"
        f" ({result['per_second']:,.0f} digests/s), peak worker {result['peak_worker_mb']:.0f} MB, cpu workers"
        f" {worker_cpu:.0f} s, postgres {postgres_cpu:.0f} s, machine {machine_cpu:.0f} s of {2 * result['wall_s']:.0f}",
        flush=True,
    )
    return result


# The sink's ceiling ------------------------------------------------------------------------


def smtp_ceiling(stack: Stack, messages: int, runs: int) -> dict:
    """Plain smtplib over one connection to a fresh sink, with the messages the pipeline sent."""
    kept = [path.read_bytes() for path in sorted((stack.workdir / "kept").glob("*.eml"))]
    if not kept:
        raise RuntimeError("the SMTP run kept no messages to replay")
    rates = []
    for _ in range(runs):
        port = servers.free_port()
        sink = start_sink(port)
        client = smtplib.SMTP("127.0.0.1", port)
        started = time.perf_counter()
        for message in itertools.islice(itertools.cycle(kept), messages):
            client.sendmail("alerts@localhost", ["reader@example.org"], message)
        elapsed = time.perf_counter() - started
        client.quit()
        received = stop_sink(sink)
        if received["messages"] != messages:
            raise RuntimeError(f"the sink received {received['messages']} of {messages} messages")
        rates.append(messages / elapsed)
    return {
        "messages": messages,
        "distinct_messages": len(kept),
        "mean_bytes": statistics.mean(len(m) for m in kept),
        "per_second": statistics.median(rates),
        "all_per_second": rates,
        "runs": runs,
    }


# The whole benchmark -------------------------------------------------------------------------


def summarise(results: list[dict]) -> dict:
    """The median run of a configuration (by send time), with the spread of all runs."""
    ordered = sorted(results, key=lambda r: r["send_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["runs"] = len(results)
    for key in ("dispatch_s", "send_s", "total_s", "per_second", "per_second_overall", "peak_worker_mb"):
        values = [r[key] for r in results]
        middle[key] = statistics.median(values)
        middle[f"all_{key}"] = values
    return middle


def run(args) -> dict:
    plan = plan_of(args)
    report = {"machine": common.machine(), "configurations": [], "seeding": [], "plan": plan}
    stack = start_stack()
    try:
        from django.conf import settings

        from alerts.models import Paper

        report["chunk_size"] = settings.DIGEST_CHUNK_SIZE  # the workers' too: the same environment

        vocabulary = workload.vocabulary()
        have = 0
        for size, paper_counts in plan["sizes"]:
            seeded = seed_subscribers(have, size, vocabulary)
            have = size
            report["seeding"].append({"total": size, **seeded})
            print(
                f"seeded {seeded['subscribers']:,} subscribers and {seeded['filters']:,} filters in"
                f" {seeded['seconds']:.1f} s (COPY)",
                flush=True,
            )
            for papers, backend, runs, budget in paper_counts:
                if Paper.objects.count() != papers:
                    seed_papers(papers)
                results = [
                    run_pipeline(
                        stack,
                        backend=backend,
                        expected=size,
                        papers=papers,
                        timeout=args.timeout,
                        budget=budget,
                    )
                    for _ in range(runs)
                ]
                report["configurations"].append(summarise(results))
                if size == plan["profile_at"] and papers == 1000 and backend == TEST_BACKEND:
                    report["profile"] = profile_share(stack)
                if backend == SMTP_BACKEND:
                    report["smtp_ceiling"] = smtp_ceiling(
                        stack, plan["ceiling_messages"], plan["ceiling_runs"]
                    )
                    ceiling = report["smtp_ceiling"]
                    print(
                        f"  smtplib over one connection to the sink: {ceiling['per_second']:,.0f} messages/s"
                    )
    finally:
        stack.stop()
    return report


def compare(args, configurations: dict[str, dict]) -> dict:
    """The same 10,000-subscriber run in each of `configurations` ({name: arguments of
    `run_pipeline`}), alternating on the same stack, papers and subscribers, `args.runs`
    times each."""
    size, papers = 10_000, 1000
    report = {"machine": common.machine(), "subscribers": size, "papers": papers}
    stack = start_stack()
    try:
        seed_subscribers(0, size, workload.vocabulary())
        seed_papers(papers)
        runs: dict[str, list[dict]] = {name: [] for name in configurations}
        for _ in range(args.runs):
            for name, configuration in configurations.items():
                runs[name].append(
                    run_pipeline(
                        stack,
                        backend=TEST_BACKEND,
                        expected=size,
                        papers=papers,
                        timeout=args.timeout,
                        **configuration,
                    )
                )
    finally:
        stack.stop()
    for name, results in runs.items():
        report[name] = {
            "per_second": [r["per_second"] for r in results],
            "worker_cpu_ms": [1000 * r["cpu_s"]["workers"] / r["sent"] for r in results],
            "postgres_cpu_ms": [1000 * r["cpu_s"]["postgres"] / r["sent"] for r in results],
            "redis_cpu_ms": [1000 * r["cpu_s"]["redis"] / r["sent"] for r in results],
            "machine_cpu_ms": [1000 * r["cpu_s"]["machine"] / r["sent"] for r in results],
            "peak_worker_mb": [r["peak_worker_mb"] for r in results],
        }
    return report


def run_workers(args) -> dict:
    """One worker process against two: how far a second worker carries."""
    report = compare(args, {"1": {"worker_count": 1}, "2": {"worker_count": 2}})
    report["ratio"] = statistics.median(report["2"]["per_second"]) / statistics.median(
        report["1"]["per_second"]
    )
    return report


def run_chunks(args) -> dict:
    """Digests per send task: what a chunk's fixed work (its claim, its reads, its writes,
    the task itself) costs per digest at each size."""
    sizes = [int(size) for size in args.chunk_sizes.split(",")]
    report = compare(args, {str(size): {"chunk_size": size} for size in sizes})
    report["sizes"] = sizes
    return report


def database_size() -> dict:
    """The database's size on disk and its largest tables (with their indexes and TOAST)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
            " ORDER BY 2 DESC LIMIT 6"
        )
        tables = [{"table": name, "bytes": size, "rows": rows} for name, size, rows in cursor.fetchall()]
    return {"bytes": total, "tables": tables}


def run_million(args) -> dict:
    """Dispatch and send to a million subscribers (five filters each) over a day of 1,000
    papers, to the last digest: wall time, the workers' peak memory, the database after."""
    size, papers = (2_000 if args.quick else 1_000_000), 1000
    report = {"machine": common.machine(), "subscribers": size, "papers": papers}
    stack = start_stack()
    try:
        report["seeding"] = seed_subscribers(0, size, workload.vocabulary())
        print(f"seeded {size:,} subscribers in {report['seeding']['seconds']:.0f} s", flush=True)
        seed_papers(papers)
        report["database_before"] = database_size()
        report["run"] = run_pipeline(
            stack, backend=TEST_BACKEND, expected=size, papers=papers, timeout=max(args.timeout, 14_400)
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        report["database_after"] = database_size()
    finally:
        stack.stop()
    return report


def million_markdown(report: dict) -> str:
    run, before, after = report["run"], report["database_before"], report["database_after"]
    cpu, sent = run["cpu_s"], max(1, run["sent"])
    mb = 1024 * 1024
    return "\n".join(
        [
            "# A million subscribers, end to end",
            "",
            f"`python -m bench.pipeline --million` on {common.machine_line(report['machine'])}.",
            "",
            f"{report['subscribers']:,} subscribers of the workload (five filters each), a day of"
            f" {report['papers']:,} papers, anymail's test backend; PostgreSQL (fsync off), Redis and two"
            " Celery worker processes (one pool process each) on the machine's two cores. Every subscriber"
            " is due; `dispatch_due_digests` creates one digest each and queues them in chunks; the run"
            " ends when the last digest is recorded as sent (not time-boxed).",
            "",
            "| | |",
            "|---|---:|",
            f"| digests sent | {run['sent']:,} of {report['subscribers']:,} |",
            f"| digests by final state | {', '.join(f'{k} {v:,}' for k, v in sorted(run['status'].items()))} |",
            f"| dispatch (task sent to last chunk queued) | {run['dispatch_s']:,.0f} s |",
            f"| send (then to the last digest sent) | {run['send_s']:,.0f} s |",
            f"| wall time, dispatch and send | **{run['total_s']:,.0f} s** ({run['total_s'] / 60:.1f} min) |",
            f"| digests/s while sending | {run['per_second']:,.0f} |",
            f"| peak RSS per worker (VmHWM, main or pool process) | **{run['peak_worker_mb']:.0f} MB** (target under"
            f" {TARGET_RSS_MB} MB: {verdict(run['peak_worker_mb'] < TARGET_RSS_MB)}) |",
            f"| CPU s: workers / PostgreSQL / Redis / machine | {cpu['workers']:,.0f} / {cpu['postgres']:,.0f} /"
            f" {cpu['redis']:,.0f} / {cpu['machine']:,.0f} |",
            f"| per digest: workers' / PostgreSQL's CPU | {cpu['workers'] / sent * 1000:.2f} ms /"
            f" {cpu['postgres'] / sent * 1000:.2f} ms |",
            f"| database before the run (subscribers, filters, papers) | {before['bytes'] / mb:,.0f} MB |",
            f"| database after the run | **{after['bytes'] / mb:,.0f} MB** |",
            f"| seeding (COPY, then ANALYZE) | {report['seeding']['seconds']:,.0f} s |",
            "",
            "Largest tables after the run (with their indexes):",
            "",
            "| table | rows (PostgreSQL's estimate) | size |",
            "|---|---:|---:|",
            *(f"| {t['table']} | {t['rows']:,} | {t['bytes'] / mb:,.0f} MB |" for t in after["tables"]),
            "",
        ]
    )


COMPARED = [
    ("digests/s", "per_second", 0),
    ("workers' CPU per digest, ms", "worker_cpu_ms", 2),
    ("PostgreSQL CPU per digest, ms", "postgres_cpu_ms", 2),
    ("Redis CPU per digest, ms", "redis_cpu_ms", 3),
    ("whole machine's CPU per digest, ms", "machine_cpu_ms", 2),
    ("peak RSS per worker, MB", "peak_worker_mb", 0),
]


def comparison_table(report: dict, columns: list[tuple[str, str]]) -> list[str]:
    """Markdown rows: each measure of `compare`'s report, a column per (title, name)."""

    def cell(values: list[float], digits: int) -> str:
        return f"**{statistics.median(values):.{digits}f}** ({', '.join(f'{v:.{digits}f}' for v in values)})"

    return [
        "| | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
        *(
            f"| {label} | " + " | ".join(cell(report[name][key], d) for _, name in columns) + " |"
            for label, key, d in COMPARED
        ),
    ]


def workers_markdown(report: dict) -> str:
    runs = len(report["1"]["per_second"])
    return "\n".join(
        [
            "# One worker process against two",
            "",
            f"`python -m bench.pipeline --workers-compare` on {common.machine_line(report['machine'])}.",
            "",
            f"{report['subscribers']:,} subscribers (their workload filters), {report['papers']:,} papers,"
            " anymail's test backend, PostgreSQL and Redis on the same two cores; the same stack runs"
            f" one worker process and then two, {runs} times each, alternating."
            " Median (each run).",
            "",
            *comparison_table(report, [("one worker", "1"), ("two workers", "2")]),
            "",
            f"Two workers / one: **{report['ratio']:.2f}x** the digests per second. The machine has two"
            " cores, shared by the workers, PostgreSQL, Redis and the benchmark, so a second worker"
            " cannot double the rate here; docs/scaling.md turns the CPU per digest into hosts.",
        ]
    )


def chunks_markdown(report: dict) -> str:
    sizes = report["sizes"]
    runs = len(report[str(sizes[0])]["per_second"])
    total = {
        size: statistics.median(report[str(size)]["worker_cpu_ms"])
        + statistics.median(report[str(size)]["postgres_cpu_ms"])
        for size in sizes
    }
    return "\n".join(
        [
            "# Digests per send task",
            "",
            f"`python -m bench.pipeline --chunk-sizes {','.join(map(str, sizes))}` on"
            f" {common.machine_line(report['machine'])}.",
            "",
            f"{report['subscribers']:,} subscribers (their workload filters), {report['papers']:,} papers,"
            " anymail's test backend, two worker processes, PostgreSQL and Redis on the same two cores;"
            f" dispatch cuts the run into chunks of each size in turn (`DIGEST_CHUNK_SIZE`), {runs} times"
            " each, alternating. Median (each run).",
            "",
            *comparison_table(report, [(f"chunks of {size}", str(size)) for size in sizes]),
            "",
            "Workers' and PostgreSQL's CPU per digest: "
            + ", ".join(f"{total[size]:.2f} ms in chunks of {size}" for size in sizes)
            + ". A chunk's fixed work (its claim, its reads of filters, windows and sent items, its"
            " writes, the task itself) is spread over its digests; a bigger chunk holds more digests"
            " in flight when a worker dies (the recovery sweep settles them) and leaves fewer"
            " chunks to share between workers at the end of a run.",
        ]
    )


def plan_of(args) -> dict:
    """Which runs: (subscribers, [(papers, backend, runs, send budget or None)]), seeded in
    increasing order. The SMTP run, whose pace the sink sets, is sent for a fixed time; the
    million-subscriber run is its own (`--million`)."""
    if args.quick:
        return {
            "sizes": [
                (2_000, [(1000, TEST_BACKEND, 1, None), (1000, SMTP_BACKEND, 1, None)]),
                (10_000, [(1000, TEST_BACKEND, 1, None), (3000, TEST_BACKEND, 1, None)]),
            ],
            "ceiling_messages": 300,
            "ceiling_runs": 2,
            "profile_at": 2_000,
        }
    return {
        "sizes": [
            (10_000, [(1000, TEST_BACKEND, args.runs, None), (3000, TEST_BACKEND, 1, None)]),
            (100_000, [(1000, TEST_BACKEND, 1, None), (1000, SMTP_BACKEND, 1, args.smtp_budget)]),
        ],
        "ceiling_messages": 1000,
        "ceiling_runs": 5,
        "profile_at": 10_000,
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(report: dict) -> str:
    m = report["machine"]
    configs = report["configurations"]
    lines = [
        "# Whole-pipeline benchmark",
        "",
        f"`python -m bench.pipeline` on {common.machine_line(m)}. PostgreSQL (fsync off), Redis and two"
        " Celery worker processes (one pool process each) share the machine's two cores with the"
        " benchmark and, over SMTP, the sink; other sessions may run on it too: the *machine* CPU"
        " column counts every process, so what it has beyond the others is other load.",
        "",
        "Each run: every subscriber is due; `dispatch_due_digests` (sent as beat sends it) creates one"
        f" digest per subscriber and queues them in chunks of {report.get('chunk_size', 100)}; the workers"
        " match, rank, render and"
        " send them. *dispatch*: task sent to last chunk queued; *send*: from then to the last digest"
        " recorded as sent, or, for a time-boxed run, a fixed time after which the workers are stopped"
        " (what they sent by then counts; the rest stays pending); *digests/s*: sent / send time;"
        " *peak RSS*: the larger VmHWM of the two workers' processes. Medians when there are several"
        " runs (each run starts from an empty digest table).",
        "",
        "| backend | subscribers | papers | runs | dispatch | send | digests sent | digests/s |"
        " peak RSS per worker | CPU s: workers / postgres / redis / sink / machine |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in configs:
        cpu = c["cpu_s"]
        boxed = "" if c["complete"] else " (time-boxed)"
        lines.append(
            f"| {c['backend']} | {c['subscribers']:,} | {c['papers']:,} | {c['runs']} | {c['dispatch_s']:.1f} s |"
            f" {c['send_s']:.1f} s{boxed} | {c['sent']:,} | **{c['per_second']:,.0f}** |"
            f" {c['peak_worker_mb']:.0f} MB | {cpu['workers']:.0f} / {cpu['postgres']:.0f} / {cpu['redis']:.0f} /"
            f" {cpu['sink']:.0f} / {cpu['machine']:.0f} |"
        )
    lines += ["", "## Targets", ""]
    test_100k = [
        c for c in configs if (c["backend"], c["subscribers"], c["papers"]) == ("test", 100_000, 1000)
    ]
    smtp = [c for c in configs if c["backend"] == "smtp"]
    largest = max(configs, key=lambda c: c["subscribers"])
    if test_100k:
        c = test_100k[0]
        lines.append(
            f"- 100,000 subscribers to anymail's test backend: {c['per_second']:,.0f} digests/s"
            f" (target {TARGET_PER_SECOND:,}): {verdict(c['per_second'] >= TARGET_PER_SECOND)}."
        )
    if smtp and "smtp_ceiling" in report:
        c, ceiling = smtp[0], report["smtp_ceiling"]
        share = c["per_second"] / ceiling["per_second"]
        lines.append(
            f"- Over SMTP: {c['per_second']:,.0f} digests/s against the sink's ceiling of"
            f" {ceiling['per_second']:,.0f} messages/s (smtplib over one connection, replaying"
            f" {ceiling['distinct_messages']:,} of the messages the sink received, {ceiling['mean_bytes'] / 1024:.0f} KB"
            f" on average, {ceiling['messages']:,} per run, median of {ceiling['runs']} runs): {share:.0%} (target"
            f" {TARGET_SMTP_SHARE:.0%}): {verdict(share >= TARGET_SMTP_SHARE)}."
            + (f" The sink received {c['received']['messages']:,} messages." if c.get("received") else "")
        )
    peak = max(c["peak_worker_mb"] for c in configs)
    reach = "" if largest["complete"] else f" (after the {largest['sent']:,} digests sent in the time box)"
    lines.append(
        f"- Peak memory of a worker: {peak:.0f} MB over every run; {largest['peak_worker_mb']:.0f} MB at"
        f" {largest['subscribers']:,} subscribers{reach} (target under {TARGET_RSS_MB} MB): {verdict(peak < TARGET_RSS_MB)}."
    )
    lines += ["", "## What limits it", ""]
    for c in test_100k + smtp:
        cpu, sent = c["cpu_s"], max(1, c["sent"])
        ours = (cpu["workers"] + cpu["postgres"] + cpu["redis"] + cpu["sink"]) / sent * 1000
        lines.append(
            f"- {c['backend']}, {c['subscribers']:,} subscribers: per digest {cpu['workers'] / sent * 1000:.2f} ms of"
            f" worker CPU, {cpu['postgres'] / sent * 1000:.2f} ms of PostgreSQL, {cpu['sink'] / sent * 1000:.2f} ms"
            f" of the sink: {ours:.2f} ms in all, so two cores carry at most {2000 / ours:,.0f} digests/s;"
            f" the machine was busy {cpu['machine'] / (2 * c['wall_s']):.0%} of the run."
        )
    if "profile" in report:
        prof = report["profile"]
        lines += [
            "",
            f"Where a worker's time goes (one worker's share of {prof['digests']:,} digests sent in-process to"
            f" the test backend, cProfile; {prof['per_digest_ms']:.2f} ms per digest under the profiler):",
            "",
            "| part | share |",
            "|---|---:|",
            *(f"| {name} | {share:.0%} |" for name, share in prof["shares"]),
        ]
    lines += [
        "",
        "## Scaling",
        "",
        "![time against subscribers](pipeline.png)",
        "",
        "| subscribers | papers | dispatch | per 1,000 digests | send per 1,000 digests | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    tests = sorted(
        (c for c in configs if c["backend"] == "test"), key=lambda c: (c["papers"], c["subscribers"])
    )
    for c in tests:
        lines.append(
            f"| {c['subscribers']:,} | {c['papers']:,} | {c['dispatch_s']:.1f} s |"
            f" {c['dispatch_s'] / c['subscribers'] * 1000:.3f} s | {c['send_s'] / max(1, c['sent']) * 1000:.2f} s"
            f" | {c['peak_worker_mb']:.0f} MB |"
        )
    lines += ["", "## Seeding", ""]
    for s in report["seeding"]:
        lines.append(
            f"- {s['subscribers']:,} subscribers and {s['filters']:,} filters (COPY, then ANALYZE):"
            f" {s['seconds']:.1f} s."
        )
    lines.append("")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    tests = [c for c in report["configurations"] if c["backend"] == "test"]
    for papers in sorted({c["papers"] for c in tests}):
        runs = sorted((c for c in tests if c["papers"] == papers), key=lambda c: c["subscribers"])
        xs = [c["subscribers"] for c in runs]
        left.plot(xs, [c["dispatch_s"] for c in runs], marker="o", label=f"{papers:,} papers")
        right.plot(xs, [c["per_second"] for c in runs], marker="o", label=f"{papers:,} papers")
        boxed = [c for c in runs if not c["complete"]]
        right.plot(
            [c["subscribers"] for c in boxed],
            [c["per_second"] for c in boxed],
            "o",
            mfc="white",
            color="gray",
        )
    left.set(xscale="log", yscale="log", xlabel="subscribers", ylabel="seconds", title="Dispatch")
    right.set(xscale="log", xlabel="subscribers", ylabel="digests per second", title="Sending (two workers)")
    right.set_ylim(bottom=0)
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    right.text(0.02, 0.03, "hollow: time-boxed run", transform=right.transAxes, fontsize=7, color="gray")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


# Where the time goes -------------------------------------------------------------------------

# (label, (file suffix, function name) of the calls whose time it is), in digests_send.
PARTS = (
    ("composing: matching and ranking", (("alerts/digests/composing.py", "compose"),)),
    ("composing: reading filters, windows, sent items", (("alerts/digests/composing.py", "prepare"),)),
    ("rendering, links signed", (("alerts/digests/messages.py", "render"), ("alerts/digests/messages.py", "digest_links"))),
    ("building the message", (("alerts/digests/messages.py", "build_message"),)),
    ("ESP backend (anymail)", (("anymail/backends/base.py", "send_messages"),)),
    ("send journal (Redis)", (("alerts/digests/journal.py", "accepted"), ("alerts/digests/journal.py", "begin"))),
    ("claiming and recording (database)", (("alerts/digests/sending.py", "claim"), ("alerts/core/bulk.py", "update"),
        ("alerts/core/bulk.py", "insert_ignoring_conflicts"), ("django/db/transaction.py", "__exit__"))),
)  # fmt: skip


def profile_share(stack: Stack) -> dict:
    """One worker's share of a run's chunks sent in this process under cProfile (CPU time)."""
    import cProfile
    import pstats

    from django.conf import settings

    from alerts.digests.dispatch import digests_dispatch, pending_of_run
    from alerts.digests.sending import digests_send

    reset_run(stack)
    settings.EMAIL_BACKEND = TEST_BACKEND
    chunks = list(pending_of_run(digests_dispatch(due_only=False).window_end))[::2]
    profiler = cProfile.Profile(time.process_time)
    sent = 0
    profiler.enable()
    for ids in chunks:
        sent += digests_send(digest_ids=ids).sent
    profiler.disable()
    stats = pstats.Stats(profiler).stats

    def cumulative(file: str, function: str) -> float:
        return sum(v[3] for (path, _, name), v in stats.items() if name == function and path.endswith(file))

    total = cumulative("alerts/digests/sending.py", "digests_send")
    shares = {label: sum(cumulative(f, n) for f, n in calls) for label, calls in PARTS}
    # prepare() includes compose(): its own share is what it spends besides.
    shares["composing: reading filters, windows, sent items"] -= shares["composing: matching and ranking"]
    shares["other (the send loop itself)"] = total - sum(shares.values())
    return {
        "digests": sent,
        "per_digest_ms": total / max(1, sent) * 1000,
        "shares": [(label, value / total) for label, value in shares.items()],
    }


def main() -> None:
    # Stopped with SIGTERM, the run still stops the servers it started (see `run`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each, nothing written")
    parser.add_argument("--runs", type=int, default=5, help="runs of the 10,000-subscriber configuration")
    parser.add_argument("--smtp-budget", type=float, default=180, help="seconds of sending over SMTP")
    parser.add_argument(
        "--million",
        action="store_true",
        help="dispatch and send to 1,000,000 subscribers x 5 filters x 1,000 papers, to the end",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run may take")
    parser.add_argument(
        "--models",
        type=float,
        default=None,
        help="percent of subscribers with a reader's model, against none",
    )
    parser.add_argument(
        "--subscribers", type=int, default=100_000, help="subscribers of the --models comparison"
    )
    parser.add_argument(
        "--chunk-sizes",
        default=None,
        help="10,000 subscribers in send tasks of each of these sizes (e.g. 100,250,500), alternating",
    )
    parser.add_argument(
        "--workers-compare",
        action="store_true",
        help="10,000 subscribers with one worker process and with two, alternating (--runs each)",
    )
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    modes = (
        (args.million, run_million, million_markdown, "pipeline_million"),
        (args.workers_compare, run_workers, workers_markdown, "pipeline_workers"),
        (args.chunk_sizes is not None, run_chunks, chunks_markdown, "pipeline_chunks"),
        (args.models is not None, run_models, models_markdown, "pipeline_models"),
    )
    for chosen, measure, describe, name in modes:
        if chosen:
            report = measure(args)
            text = describe(report)
            print(text)
            if not args.quick:
                common.write(name, report, text)
            return
    report = run(args)
    text = markdown(report)
    print(text)
    if not args.quick:
        common.write("pipeline", report, text)
        plot(report, common.RESULTS / "pipeline.png")


if __name__ == "__main__":
    main()
