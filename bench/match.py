"""Matching benchmark: ours against SQLite FTS5, tantivy and a naive Python loop.

    python -m bench.match            # the full run (a few minutes); writes bench/results/
    python -m bench.match --quick    # a smoke run: small sizes, 2 runs, nothing written

What is timed, on one core (process CPU time; wall time is reported beside it):

- ours: building the index of the day's papers, then `PaperIndex.match` once per distinct
  filter of every subscriber (parsing, de-duplication and evaluation included); the union
  of each subscriber's filters is timed separately;
- SQLite FTS5 and tantivy: loading the day's papers, then one query per filter, as a
  developer would write it (the translation of our language into theirs is done
  beforehand and not timed); the baselines also get a second figure with the same
  de-duplication as ours (one query per distinct filter);
- the naive loop: each filter checked against each paper in Python.

Baselines run on the 10,000-subscriber workload (the naive loop on a sample of its
filters) and are extrapolated linearly to larger workloads from their measured cost per
filter: the table says which figures are measured and which extrapolated.

Correctness gate: on every distinct filter of the 10,000-subscriber workload, each engine
must give exactly our (filter, paper) pairs for the filters it can express; the filters it
cannot express are counted with the reason.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alerts.search import textnorm
from alerts.search.matcher import PaperIndex
from alerts.search.query import QueryError
from bench import common, workload
from bench.baselines import Fts5, NaiveLoop, Tantivy, Unsupported, analysed, compounds, portable
from bench.common import machine

RESULTS = common.RESULTS
NAIVE_SAMPLE = 300  # distinct filters the naive loop is timed on


def _cold_caches() -> None:
    """Each run starts like a fresh worker process: the normaliser's word caches empty."""
    for cache in (textnorm._stems, textnorm._words, textnorm._plain, textnorm._chunks):
        cache.clear()
    gc.collect()


def measure(function: Callable[[], object], runs: int) -> dict:
    cpu, wall = [], []
    for _ in range(runs):
        _cold_caches()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    return {
        "cpu_s": statistics.median(cpu),
        "wall_s": statistics.median(wall),
        "runs": runs,
        "all_cpu_s": cpu,
    }


def ours(
    docs, filters: list[str], subscribers: list[tuple[str, ...]], runs: int
) -> tuple[dict, dict[str, int]]:
    state = {}

    def match() -> None:
        index = PaperIndex(docs)
        matches: dict[str, int] = {}
        errors: dict[str, QueryError] = {}
        for text in filters:
            if text not in matches and text not in errors:
                try:
                    matches[text] = index.match(text)
                except QueryError as exc:
                    errors[text] = exc
        state["matches"], state["errors"] = matches, errors

    result = measure(match, runs)
    matches = state["matches"]

    def union() -> None:
        get = matches.__getitem__
        for subscriber_filters in subscribers:
            bits = 0
            for bitset in map(get, subscriber_filters):
                bits |= bitset

    result["union_cpu_s"] = measure(union, max(1, runs // 2))["cpu_s"]
    result["distinct_filters"] = len(matches)
    result["invalid_filters"] = len(state["errors"])
    return result, matches


def _engine_run(engine, translated: dict[str, object], filters: list[str]) -> Callable[[], None]:
    def run() -> None:
        for text in filters:
            query = translated.get(text)
            if query is not None:
                engine.run(query)

    return run


def baseline(
    make: Callable[[], object], docs, filters: list[str], distinct: list[str], runs: int, known
) -> tuple[dict, dict[str, object], Counter, object]:
    """Times loading + one query per filter (and per distinct filter) for one engine."""
    load = measure(make, runs)
    engine = make()
    translated: dict[str, object] = {}
    excluded: Counter = Counter()
    for text in distinct:
        try:
            translated[text] = (
                engine.translate(text)
                if isinstance(engine, NaiveLoop)
                else engine.translate(portable(_parse(text), known))
            )
        except Unsupported as exc:
            excluded[str(exc)] += 1
    expressible = [t for t in filters if t in translated]
    per_filter = measure(_engine_run(engine, translated, expressible), runs)
    per_distinct = measure(_engine_run(engine, translated, [t for t in distinct if t in translated]), runs)
    return (
        {
            "load_cpu_s": load["cpu_s"],
            "queries": len(expressible),
            "queries_cpu_s": per_filter["cpu_s"],
            "queries_wall_s": per_filter["wall_s"],
            "us_per_query": per_filter["cpu_s"] / max(1, len(expressible)) * 1e6,
            "distinct_queries": len(translated),
            "distinct_cpu_s": per_distinct["cpu_s"],
            "us_per_distinct_query": per_distinct["cpu_s"] / max(1, len(translated)) * 1e6,
        },
        translated,
        excluded,
        engine,
    )


def _parse(text: str):
    from alerts.search.query import parse

    return parse(text)


def gate(index: PaperIndex, engine, translated: dict[str, object]) -> dict:
    """Every expressible filter: the engine's papers must be exactly ours."""
    mismatches = [text for text, query in translated.items() if engine.run(query) != index.match(text)]
    return {"compared": len(translated), "mismatches": len(mismatches), "examples": mismatches[:5]}


def run(args) -> dict:
    runs = args.runs
    sizes = [int(s) for s in args.subscribers.split(",")]
    paper_counts = [int(p) for p in args.papers.split(",")]
    vocabulary = workload.vocabulary()
    report = {"machine": machine(), "runs": runs, "workloads": [], "baselines": {}, "gate": {}, "issue_3": {}}
    days = {count: workload.papers(count) for count in paper_counts}
    docs_by_count = {count: [p.doc() for p in day] for count, day in days.items()}

    for size in sizes:
        started = time.perf_counter()
        subscribers = [filters for _, filters in workload.subscribers(size, vocabulary)]
        filters = [f for fs in subscribers for f in fs]
        print(
            f"{size:>9,} subscribers: {len(filters):,} filters generated in {time.perf_counter() - started:.1f}s"
        )
        for count in paper_counts:
            docs = docs_by_count[count]
            result, matched = ours(docs, filters, subscribers, runs)
            sizes_matched = sorted(b.bit_count() for b in matched.values())
            entry = {
                "subscribers": size,
                "papers": count,
                "filters": len(filters),
                "filters_per_subscriber": len(filters) / size,
                "ours": result,
                "median_papers_per_filter": statistics.median(sizes_matched),
                "share_of_filters_matching_nothing": sum(1 for s in sizes_matched if s == 0)
                / len(sizes_matched),
            }
            report["workloads"].append(entry)
            print(
                f"   {count:>5,} papers: ours {result['cpu_s']:.2f}s cpu ({result['wall_s']:.2f}s wall), "
                f"{result['distinct_filters']:,} distinct; union per subscriber {result['union_cpu_s']:.2f}s"
            )
        if size == sizes[0]:
            report["baselines"], report["gate"] = baselines(docs_by_count[paper_counts[0]], filters, runs)
        del subscribers, filters
        gc.collect()

    # Issue 3: 100,000 filters x 1,000 papers in under 2 seconds.
    point = [f for _, fs in workload.subscribers(40_000, vocabulary) for f in fs][:100_000]
    docs = docs_by_count[paper_counts[0]]
    issue, _ = ours(docs, point, [], runs)
    report["issue_3"] = {"filters": len(point), "papers": len(docs), **issue}
    print(f"issue 3: {len(point):,} filters x {len(docs):,} papers: {issue['cpu_s']:.2f}s cpu")
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def baselines(docs, filters: list[str], runs: int) -> tuple[dict, dict]:
    distinct = list(dict.fromkeys(filters))
    known = compounds(analysed(docs))
    index = PaperIndex(docs)
    results, gates = {}, {}
    # Loading includes the text analysis (with cold caches, as for ours): they need it too.
    for name, make in (("fts5", lambda: Fts5(analysed(docs))), ("tantivy", lambda: Tantivy(analysed(docs)))):
        numbers, translated, excluded, engine = baseline(make, docs, filters, distinct, runs, known)
        numbers["excluded"] = dict(excluded)
        results[name] = numbers
        gates[name] = {**gate(index, engine, translated), "excluded": dict(excluded)}
        print(f"   {engine.name}: {numbers['us_per_query']:.0f} us per filter; gate {gates[name]}")
    # The naive loop on a sample of distinct filters (each one scans every paper).
    sample = random.Random(7).sample(distinct, min(NAIVE_SAMPLE, len(distinct)))
    naive = NaiveLoop(docs)
    translated = {t: naive.translate(t) for t in sample}
    timing = measure(_engine_run(naive, translated, sample), max(1, runs // 2))
    results["naive"] = {
        "sample": len(sample),
        "sample_cpu_s": timing["cpu_s"],
        "us_per_query": timing["cpu_s"] / len(sample) * 1e6,
    }
    gates["naive"] = {**gate(index, naive, translated), "excluded": {}}
    print(f"   naive loop: {results['naive']['us_per_query']:.0f} us per filter; gate {gates['naive']}")
    return results, gates


def extrapolated(report: dict) -> list[dict]:
    """One row per workload: ours measured, baselines measured (first) or extrapolated."""
    rows = []
    first = report["workloads"][0]
    for entry in report["workloads"]:
        ours_s = entry["ours"]["cpu_s"]
        row = {
            "subscribers": entry["subscribers"],
            "papers": entry["papers"],
            "filters": entry["filters"],
            "distinct": entry["ours"]["distinct_filters"],
            "ours_s": ours_s,
            "union_s": entry["ours"]["union_cpu_s"],
        }
        scale = entry["papers"] / first["papers"]  # the baselines' cost grows with the papers
        for name in ("fts5", "tantivy"):
            b = report["baselines"][name]
            measured = entry is first
            per_filter = (
                b["queries_cpu_s"] if measured else b["us_per_query"] * entry["filters"] * scale / 1e6
            )
            per_distinct = (
                b["distinct_cpu_s"]
                if measured
                else b["us_per_distinct_query"] * row["distinct"] * scale / 1e6
            )
            row[f"{name}_s"] = b["load_cpu_s"] * scale + per_filter
            row[f"{name}_dedup_s"] = b["load_cpu_s"] * scale + per_distinct
            row[f"{name}_measured"] = measured
        row["naive_s"] = report["baselines"]["naive"]["us_per_query"] * entry["filters"] * scale / 1e6
        rows.append(row)
    return rows


def markdown(report: dict) -> str:
    m = report["machine"]
    rows = extrapolated(report)
    lines = [
        "# Matching benchmark",
        "",
        f"`python -m bench.match` on {m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB, Python {m['python']};"
        f" load average at start {m['load_average_at_start'][0]:.2f} (the machine is shared: CPU time is"
        " reported, the median of "
        f"{report['runs']} runs).",
        "",
        "Times in seconds of CPU on one core. *ours*: index build + parse + evaluate every filter of every"
        " subscriber; *union*: OR of each subscriber's filters (after matching). Baselines: load + one query"
        " per filter (*dedup*: one per distinct filter). Figures in *italics* are extrapolated from the"
        " 10,000-subscriber run (cost per query x queries x papers/1,000); the naive loop is always"
        f" extrapolated from {report['baselines']['naive']['sample']} filters.",
        "",
        "| subscribers | papers | filters | distinct | ours | union | FTS5 | FTS5 dedup | tantivy | tantivy dedup"
        " | naive loop | ours vs FTS5 | ours vs tantivy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(value: float, measured: bool) -> str:
        text = f"{value:,.2f}"
        return text if measured else f"*{text}*"

    for r in rows:
        lines.append(
            f"| {r['subscribers']:,} | {r['papers']:,} | {r['filters']:,} | {r['distinct']:,} | {r['ours_s']:.2f}"
            f" | {r['union_s']:.2f} | {cell(r['fts5_s'], r['fts5_measured'])}"
            f" | {cell(r['fts5_dedup_s'], r['fts5_measured'])} | {cell(r['tantivy_s'], r['tantivy_measured'])}"
            f" | {cell(r['tantivy_dedup_s'], r['tantivy_measured'])} | {cell(r['naive_s'], False)}"
            f" | {r['fts5_s'] / r['ours_s']:.0f}x | {r['tantivy_s'] / r['ours_s']:.0f}x |"
        )
    issue = report["issue_3"]
    lines += [
        "",
        f"Issue 3: {issue['filters']:,} filters x {issue['papers']:,} papers: **{issue['cpu_s']:.2f} s** CPU"
        f" ({issue['wall_s']:.2f} s wall), index build included (target: under 2 s).",
        "",
        "## Correctness gate",
        "",
        "Every distinct filter of the 10,000-subscriber workload, on 1,000 papers: the engine's papers must be"
        " exactly ours.",
        "",
        "| engine | filters compared | mismatches | left out (cannot express) |",
        "|---|---:|---:|---|",
    ]
    for name, g in report["gate"].items():
        excluded = "; ".join(f"{n} {reason}" for reason, n in g["excluded"].items()) or "none"
        lines.append(f"| {name} | {g['compared']:,} | {g['mismatches']} | {excluded} |")
    b = report["baselines"]
    lines += [
        "",
        "## Per query",
        "",
        f"FTS5 {b['fts5']['us_per_query']:.0f} us, tantivy {b['tantivy']['us_per_query']:.0f} us, naive loop"
        f" {b['naive']['us_per_query']:.0f} us per filter on 1,000 papers (execution only).",
        "",
        f"Peak memory of the benchmark process: {report['max_rss_mb']:.0f} MB (it holds every subscriber's"
        " filters of the largest workload as a list).",
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    for count in sorted({w["papers"] for w in report["workloads"]}):
        points = [(w["subscribers"], w["ours"]["cpu_s"]) for w in report["workloads"] if w["papers"] == count]
        axes.plot(*zip(*points, strict=True), marker="o", label=f"{count:,} papers")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("subscribers (5 filters each)")
    axes.set_ylabel("CPU seconds, one core")
    axes.set_title("Matching every filter against a day's papers")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 runs, nothing written")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subscribers", default="10000,100000,1000000")
    parser.add_argument("--papers", default="1000,3000")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.subscribers, args.papers = 2, "2000,10000", "1000"
    report = run(args)
    text = markdown(report)
    print(text)
    if args.quick:
        return
    common.write("match", report, text)
    plot(report, RESULTS / "match.png")


if __name__ == "__main__":
    main()
