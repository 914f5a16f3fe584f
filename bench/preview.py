"""Live preview under hostile queries: what one web process spends per answer, and keeps.

    python -m bench.preview                        # writes bench/results/preview.md and .json
    python -m bench.preview --baseline DIR         # the same run against another checkout too
    python -m bench.preview --quick                # 40 queries and 4 posts; nothing written

The attack of issue 13 (finding 3), against what production runs: gunicorn (one sync
worker: the web process measured), production settings, PostgreSQL and Redis started for
the run, 10,000 real papers (the relevance set under ../shared/samples/relevance/, first
seen over the last six days) in the preview's window. After a warm-up (the index of the
week built by a first preview, the prefix table by a first prefix query), it sends:

- 200 live previews, `GET /preview/?q=a* OR b* OR ... OR z* OR zq<N>`, N different each
  time (every query new to every cache, each matching every paper);
- 20 sign-up previews, `POST /` with action=preview and ten such filters each.

Each request comes from its own client address (X-Real-IP, as the proxy sets it), so the
per-client rate limit is not what is measured. Reported: the web process's RSS before and
after (target: within 20 MB of where it started), and per answer the wall time seen by
the client and the CPU time of the web process (target: each under 100 ms). With
--baseline, the same run against the checkout in DIR (e.g. `git archive` of the previous
commit), in the same run on the same database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bench import common
from bench.load import HOST, production_env
from bench.pipeline import children, start_stack
from tests import servers

ROOT = Path(__file__).resolve().parent.parent
RELEVANCE = ROOT.parent / "shared" / "samples" / "relevance"
PAPERS = 10_000
LETTERS = " OR ".join(f"{letter}*" for letter in "abcdefghijklmnopqrstuvwxyz")


def hostile(n: int) -> str:
    return f"{LETTERS} OR zq{n}"


def real_papers(count: int) -> list[dict]:
    """The first `count` distinct papers of the relevance set (title, abstract, authors)."""
    found, seen = [], set()
    for path in sorted(glob.glob(str(RELEVANCE / "*.jsonl.gz"))):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                record = json.loads(line)
                if record["arxiv_id"] not in seen:
                    seen.add(record["arxiv_id"])
                    found.append(record)
                if len(found) == count:
                    return found
    raise SystemExit(f"the relevance set under {RELEVANCE} has fewer than {count} papers")


def seed(count: int) -> None:
    """The papers, first seen over the last six days (all inside the preview's window)."""
    from django.utils import timezone

    from alerts.models import Paper

    now = timezone.now()
    step = dt.timedelta(days=6) / count
    Paper.objects.bulk_create(
        [
            Paper(
                arxiv_id=p["arxiv_id"],
                version=1,
                title=p["title"],
                abstract=p["abstract"],
                authors=p["authors"],
                categories=p["listings"],
                primary_category=p["listings"][0] if p["listings"] else "",
                abs_url=f"https://arxiv.org/abs/{p['arxiv_id']}",
                source=Paper.Source.ARXIV_RSS,
                first_seen_at=now - dt.timedelta(days=6) + step * i,
            )
            for i, p in enumerate(real_papers(count))
        ],
        batch_size=1000,
    )


def cpu_ms(pid: int) -> float:
    """CPU time of a process's main thread (a sync gunicorn worker's), in ms, to the ns."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Web:
    """gunicorn with one sync worker, from the checkout in `code`."""

    def __init__(self, code: Path, env: dict[str, str], log: Path) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
            cwd=code,
            env=env,
            check=True,
            capture_output=True,
        )
        self.port = servers.free_port()
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "1"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--timeout", "120"]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(command, cwd=code, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            servers.wait_for_port(self.port, timeout=60, proc=self.proc)
            self.worker = self._worker()
        except BaseException:
            self.stop()
            raise
        self.client = 0

    def _worker(self, timeout: float = 60.0) -> int:
        """The worker's pid, once the master has forked it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := children(self.proc.pid):
                return found[0]
            time.sleep(0.05)
        raise SystemExit("gunicorn started no worker")

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None) -> dict:
        """One request from a new client address: status, body, wall and worker CPU in ms."""
        self.client += 1
        address = f"10.{self.client // 65536 % 256}.{self.client // 256 % 256}.{self.client % 256}"
        sent = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Real-IP": address, **(headers or {})}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        cpu, wall = cpu_ms(self.worker), time.perf_counter()
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        text = response.read().decode()
        wall, cpu = time.perf_counter() - wall, cpu_ms(self.worker) - cpu
        conn.close()
        return {"status": response.status, "text": text, "wall_ms": 1000 * wall, "cpu_ms": cpu}

    def preview(self, query: str) -> dict:
        return self.request("GET", "/preview/?" + urlencode({"q": query}))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)

    def csrf(self) -> tuple[str, str]:
        """A form token and its cookie, as a browser gets them from the sign-up page."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request(
            "GET", "/", headers={"Host": HOST, "X-Forwarded-Proto": "https", "X-Real-IP": "10.255.0.1"}
        )
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        cookie = re.search(r"csrftoken=([^;]+)", response.headers["Set-Cookie"]).group(1)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1), cookie

    def sign_up_preview(self, queries: list[str], token: str, cookie: str, action: str = "preview") -> dict:
        """The sign-up form's "preview" button with these filters (or another button's)."""
        fields = {
            "csrfmiddlewaretoken": token,
            "action": action,
            "email": "",
            "filters-TOTAL_FORMS": str(len(queries)),
            "filters-INITIAL_FORMS": "0",
        }
        for i, query in enumerate(queries):
            fields[f"filters-{i}-name"] = f"Filter {i}"
            fields[f"filters-{i}-query"] = query
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
            "Referer": f"https://{HOST}/",
        }
        return self.request("POST", "/", urlencode(fields), headers)


def summary(answers: list[dict]) -> dict:
    wall = sorted(a["wall_ms"] for a in answers)
    cpu = sorted(a["cpu_ms"] for a in answers)
    return {
        "answers": len(answers),
        "statuses": sorted({a["status"] for a in answers}),
        "wall_ms": {
            "median": statistics.median(wall),
            "p90": wall[int(0.9 * (len(wall) - 1))],
            "max": wall[-1],
        },
        "cpu_ms": {"median": statistics.median(cpu), "p90": cpu[int(0.9 * (len(cpu) - 1))], "max": cpu[-1]},
        "over_100_ms_wall": sum(1 for w in wall if w >= 100),
        "over_100_ms_cpu": sum(1 for c in cpu if c >= 100),
    }


def attack(code: Path, env: dict[str, str], *, queries: int, posts: int, work: Path) -> dict:
    """Warm up, then the hostile previews and sign-up previews; RSS before and after."""
    web = Web(code, env, work / f"gunicorn-{code.name}.log")
    try:
        fresh = rss_mb(web.worker)
        warm_up = [web.preview("diffusion models"), web.preview("agent*")]
        assert all(a["status"] == 200 for a in warm_up), [a["text"][:300] for a in warm_up]
        started = rss_mb(web.worker)
        previews = [web.preview(hostile(n)) for n in range(queries)]
        assert "papers matched" in previews[-1]["text"], previews[-1]["text"][:500]
        token, cookie = web.csrf()
        forms = []
        for n in range(posts):
            batch = [hostile(queries + 10 * n + i) for i in range(10)]
            forms.append(web.sign_up_preview(batch, token, cookie))
        assert forms[-1]["text"].count("papers matched") == 10, forms[-1]["text"][:500]
        # The same page without previews ("add another filter", nine rows): what the page costs.
        pages = [web.sign_up_preview([hostile(-n)] * 9, token, cookie, "add_filter") for n in range(posts)]
        return {
            "code": str(code),
            "rss_mb": {"fresh": fresh, "warm": started, "after": rss_mb(web.worker)},
            "warm_up_ms": [{"wall": a["wall_ms"], "cpu": a["cpu_ms"]} for a in warm_up],
            "previews": summary(previews),
            "sign_up_previews": summary(forms),
            "sign_up_page": summary(pages),
        }
    finally:
        web.stop()


def row(name: str, result: dict) -> list[str]:
    rss = result["rss_mb"]
    lines = []
    for kind, label in (
        ("previews", "GET /preview/"),
        ("sign_up_previews", "POST / preview (ten filters)"),
        ("sign_up_page", "POST / add a filter (no preview: the page alone)"),
    ):
        s = result[kind]
        lines.append(
            f"| {name} | {label} | {s['answers']} | {', '.join(map(str, s['statuses']))} "
            f"| {s['wall_ms']['median']:.1f} / {s['wall_ms']['p90']:.1f} / {s['wall_ms']['max']:.1f} "
            f"| {s['cpu_ms']['median']:.1f} / {s['cpu_ms']['p90']:.1f} / {s['cpu_ms']['max']:.1f} "
            f"| {s['over_100_ms_wall']} / {s['over_100_ms_cpu']} "
            f"| {rss['warm']:.0f} -> {rss['after']:.0f} (**{rss['after'] - rss['warm']:+.1f}**) |"
        )
    return lines


def markdown(report: dict, command: str) -> str:
    lines = [
        "# Live preview under hostile queries",
        "",
        f"`{command}` on {common.machine_line(report['machine'])} (the machine is shared:"
        " wall times include other sessions' load; CPU times are the web process's own).",
        "",
        f"gunicorn, one sync worker, production settings, PostgreSQL and Redis on the same machine;"
        f" {report['papers']:,} real papers in the preview's window. Each query is"
        " `a* OR b* OR ... OR z* OR zq<N>` with a new N (it matches every paper); a sign-up"
        " preview posts ten of them; the same form's *add another filter* (the page redrawn,"
        " no preview) is the reference for what the page itself costs. Before the run, a warm-up builds the week's index and"
        " its prefix table (figures below). RSS: the worker's resident memory after the"
        " warm-up and after the run (target: within 20 MB); times per answer (target: each"
        " under 100 ms).",
        "",
        "| code | request | answers | statuses | wall ms median / p90 / max | CPU ms median / p90 / max"
        " | answers over 100 ms (wall / CPU) | RSS MB warm -> after (growth) |",
        "|---|---|---:|---|---|---|---|---|",
    ]
    for name, result in report["runs"].items():
        lines += row(name, result)
    lines += ["", "Warm-up (one-off per web process and change of the week's papers):", ""]
    for name, result in report["runs"].items():
        build, prefixes = result["warm_up_ms"]
        lines.append(
            f"- {name}: RSS {result['rss_mb']['fresh']:.0f} MB fresh, {result['rss_mb']['warm']:.0f} MB warm;"
            f" first preview (builds the index) {build['cpu']:,.0f} ms CPU ({build['wall']:,.0f} ms wall),"
            f" first prefix query (builds the prefix table) {prefixes['cpu']:,.0f} ms CPU"
            f" ({prefixes['wall']:,.0f} ms wall)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to run the same attack against")
    parser.add_argument("--quick", action="store_true", help="40 queries and 4 posts; nothing written")
    args = parser.parse_args()
    queries, posts = (40, 4) if args.quick else (200, 20)
    machine = common.machine()
    stack = start_stack()
    try:
        seed(PAPERS)
        runs = {}
        codes = [("baseline", args.baseline.resolve())] if args.baseline else []
        for name, code in [*codes, ("this checkout", ROOT)]:
            env = production_env(
                dict(os.environ),
                database_url=stack.env["DATABASE_URL"],
                redis_url=stack.env["REDIS_URL"],
                data_dir=stack.workdir / f"data-{len(runs)}",
            )
            env["DJANGO_SECURE_SSL_REDIRECT"] = "false"
            runs[name] = attack(code, env, queries=queries, posts=posts, work=stack.workdir)
            print(
                json.dumps({name: {k: v for k, v in runs[name].items() if k != "code"}}, indent=1), flush=True
            )
    finally:
        stack.stop()
    report = {"machine": machine, "papers": PAPERS, "queries": queries, "posts": posts, "runs": runs}
    command = "python -m bench.preview" + (" --baseline DIR" if args.baseline else "")
    text = markdown(report, command)
    print(text)
    if not args.quick:
        common.write("preview", report, text)


if __name__ == "__main__":
    main()
