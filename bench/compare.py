"""Before and after: the same benchmarks run in two checkouts, interleaved.

    python -m bench.compare --before ../old-checkout [--runs 5] [--only match,render,pipeline]
                            [--only pipeline-smtp] [--out bench/results/FILE.md]

Each benchmark runs in its `--quick` form (full sizes take most of an hour a run; the
pipeline runs its 10,000-subscriber, 1,000-paper configuration alone), first in
the `--before` checkout, then in this one, `--runs` times (A B A B ...), so a change in the
machine's load falls on both sides alike. The figures each benchmark prints (CPU seconds,
digests per second) are read from its output; the table gives each side's median and its
spread (min-max), and whether the median after lies within the spread before. Nothing is
written to bench/results/ unless `--out FILE` names where the table goes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench import common

ROOT = Path(__file__).resolve().parent.parent

# benchmark -> [(figure, pattern whose first group is the number)]
FIGURES = {
    "match": [
        ("match 10,000 subscribers, CPU s", r"10,000 subscribers:.*\n\s+1,000 papers: ours ([\d.]+)s cpu"),
        ("match 100,000 filters, CPU s", r"issue 3: 100,000 filters x 1,000 papers: ([\d.]+)s cpu"),
    ],
    "render": [
        (
            "render from empty caches, digests/s",
            r"\| ours, each run from empty caches.*\| \*\*([\d,]+)\*\* \|",
        ),
        ("render blocks rendered, digests/s", r"\| ours, the same digests again.*\| ([\d,]+) \|"),
    ],
    "pipeline": [
        (
            "pipeline 10,000 subscribers, digests/s",
            r"test\s+10,000 subscribers x 1,000 papers: .*?\(([\d,]+) digests/s\)",
        ),
        (
            "pipeline 10,000 subscribers, worker CPU s",
            r"test\s+10,000 subscribers x 1,000 papers: .*?cpu workers (\d+) s",
        ),
        (
            "pipeline 10,000 subscribers, PostgreSQL CPU s",
            r"test\s+10,000 subscribers x 1,000 papers: .*?cpu workers \d+ s, postgres (\d+) s",
        ),
    ],
    "pipeline-smtp": [
        (
            "smtp 10,000 subscribers, digests/s",
            r"smtp\s+10,000 subscribers x 1,000 papers: .*?\(([\d,]+) digests/s\)",
        ),
        (
            "smtp, the sink's ceiling, messages/s",
            r"smtplib over one connection to the sink: ([\d,]+) messages/s",
        ),
        (
            "smtp, worker CPU ms per digest",
            r"- smtp, 10,000 subscribers: per digest ([\d.]+) ms of worker CPU",
        ),
        (
            "smtp, PostgreSQL CPU ms per digest",
            r"- smtp, 10,000 subscribers: per digest .*?([\d.]+) ms of PostgreSQL",
        ),
        (
            "smtp, sink CPU ms per digest",
            r"- smtp, 10,000 subscribers: per digest .*?([\d.]+) ms of the sink",
        ),
    ],
}


# The pipeline's quick plan also runs SMTP and a 3,000-paper day (minutes a run); the
# comparison needs one configuration, chosen the same way in both checkouts.
PIPELINE_10K = """
import sys
import bench.pipeline as pipeline
pipeline.plan_of = lambda args: {
    "sizes": [(10_000, [(1000, pipeline.TEST_BACKEND, 1, None)])],
    "ceiling_messages": 0, "ceiling_runs": 0, "profile_at": None,
}
sys.argv = ["bench.pipeline", "--quick"]
pipeline.main()
"""


# Over SMTP: 10,000 subscribers sent for two minutes, and the sink's ceiling measured in the
# same run (plain smtplib over one connection replaying 1,000 of the messages, 3 times).
PIPELINE_SMTP = """
import sys
import bench.pipeline as pipeline
pipeline.plan_of = lambda args: {
    "sizes": [(10_000, [(1000, pipeline.SMTP_BACKEND, 1, 120)])],
    "ceiling_messages": 1000, "ceiling_runs": 3, "profile_at": None,
}
sys.argv = ["bench.pipeline", "--quick"]
pipeline.main()
"""


def run_once(checkout: Path, bench: str) -> str:
    command = [sys.executable, "-m", f"bench.{bench}", "--quick"]
    if bench == "pipeline":
        command = [sys.executable, "-c", PIPELINE_10K]
    if bench == "pipeline-smtp":
        command = [sys.executable, "-c", PIPELINE_SMTP]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{bench} failed in {checkout}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def figures_of(bench: str, output: str) -> dict[str, float]:
    found = {}
    for name, pattern in FIGURES[bench]:
        match = re.search(pattern, output)
        if match is None:
            raise SystemExit(f"{bench}: no figure for {name!r} in its output:\n{output[-3000:]}")
        found[name] = float(match.group(1).replace(",", ""))
    return found


def compare(before: Path, benches: list[str], runs: int) -> list[str]:
    rows = [
        "| figure | before: median (min-max) | after: median (min-max) | after / before | within spread |",
        "|---|---:|---:|---:|---|",
    ]
    for bench in benches:
        samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for i in range(runs):
            for side, checkout in (("before", before), ("after", ROOT)):
                for name, value in figures_of(bench, run_once(checkout, bench)).items():
                    samples[side].setdefault(name, []).append(value)
                print(f"{bench} run {i + 1}/{runs} {side}: done", file=sys.stderr)
        for name, _ in FIGURES[bench]:
            old, new = samples["before"][name], samples["after"][name]
            old_median, new_median = statistics.median(old), statistics.median(new)
            within = min(old) <= new_median <= max(old)
            rows.append(
                f"| {name} | {old_median:,.2f} ({min(old):,.2f}-{max(old):,.2f}) "
                f"| {new_median:,.2f} ({min(new):,.2f}-{max(new):,.2f}) "
                f"| {new_median / old_median:.2f} | {'yes' if within else 'no'} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (its own bench/)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="match,render,pipeline")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) to this file")
    args = parser.parse_args()
    benches = [name for name in args.only.split(",") if name]
    unknown = set(benches) - set(FIGURES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    # The machine is shared: its load around the runs says how far wall times can be trusted
    # (the CPU-second figures depend far less on it).
    load_before = os.getloadavg()
    rows = compare(args.before.resolve(), benches, args.runs)
    load_after = os.getloadavg()
    rows.append("")
    rows.append(
        f"{args.runs} runs a side, interleaved; before: {args.before.name}; machine:"
        f" {common.machine_line(common.machine()).split(';')[0]}; load average (1, 5, 15 min) at the start"
        f" {', '.join(f'{x:.2f}' for x in load_before)}, at the end {', '.join(f'{x:.2f}' for x in load_after)}."
    )
    text = "\n".join(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
