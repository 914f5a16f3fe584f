"""Matching benchmark: ours against SQLite FTS5, tantivy and a naive Python loop.

    python -m bench.match            # the full run (a quarter of an hour); writes bench/results/
    python -m bench.match --quick    # a smoke run: small sizes, 2 runs, nothing written

What is timed, on one core (process CPU time; wall time is reported beside it):

- ours, cold: building the index of the day's papers, then `PaperIndex.match_many` on the
  distinct filters of every subscriber (de-duplicated beforehand, untimed, as for the
  baselines), with an empty store of compiled filters (every filter parsed and compiled:
  what the baselines do too);
- ours, warm: the same, the compiled filters read from the file an earlier run saved
  (`alerts.search.compiled.FilterStore.load`, timed): a day's work is the index and the
  evaluation. Both start with the normaliser's caches empty, like a fresh worker process;
- the union of each subscriber's filters, timed separately;
- SQLite FTS5 and tantivy: loading the day's papers (their text analysis included), then
  one query per distinct filter (*dedup*, the fair comparison: ours runs each distinct
  filter once too), and, for context, one query per filter, as a developer would write it
  (the translation of our language into theirs is done beforehand and not timed);
- the naive loop: each filter checked against each paper in Python.

Baselines are measured at 10,000 and 100,000 subscribers (`--baselines`) on 1,000 papers
(the naive loop on a sample of filters); other rows are extrapolated linearly from the
nearest measured size and marked so.

Correctness gate: at each measured size, on every distinct filter, each engine must give
exactly our (filter, paper) pairs for the filters it can express; the filters it cannot
express are counted with the reason.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alerts.search import textnorm
from alerts.search.compiled import FilterStore
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
    docs, filters: list[str], subscribers: list[tuple[str, ...]], runs: int, store_path: Path
) -> tuple[dict, dict[str, int]]:
    """Cold runs (empty compiled-filter store), then warm ones (the store read from disk)."""
    state = {}
    # De-duplicated beforehand, untimed, as for the baselines: each engine gets the distinct filters.
    distinct = list(dict.fromkeys(filters))

    def match(store: Callable[[], FilterStore]) -> Callable[[], None]:
        def run() -> None:
            index = PaperIndex(docs, filters=store())
            state["matches"], state["store"] = index.match_many(distinct), index.filters

        return run

    result = measure(match(FilterStore), runs)
    store_path.unlink(missing_ok=True)
    state["store"].save(store_path)
    warm = measure(match(lambda: FilterStore.load(store_path)), runs)
    result["warm_cpu_s"], result["warm_wall_s"], result["warm_all_cpu_s"] = (
        warm["cpu_s"],
        warm["wall_s"],
        warm["all_cpu_s"],
    )
    result["store_bytes"] = store_path.stat().st_size
    matches = state["matches"]

    def union() -> None:
        get = matches.__getitem__
        for subscriber_filters in subscribers:
            bits = 0
            for bitset in map(get, subscriber_filters):
                bits |= bitset

    result["union_cpu_s"] = measure(union, max(1, runs // 2))["cpu_s"]
    result["distinct_filters"] = len(matches)
    result["invalid_filters"] = len(distinct) - len(matches)
    return result, matches


def _engine_run(engine, translated: dict[str, object], filters: list[str]) -> Callable[[], None]:
    def run() -> None:
        for text in filters:
            query = translated.get(text)
            if query is not None:
                engine.run(query)

    return run


def baseline(
    make: Callable[[], object], filters: list[str], distinct: list[str], runs: int, context_runs: int, known
) -> tuple[dict, dict[str, object], Counter, object]:
    """Times loading + one query per distinct filter (and, for context, per filter) for one engine."""
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
    per_filter = measure(_engine_run(engine, translated, expressible), context_runs)
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


def _valid(index: PaperIndex, text: str) -> bool:
    try:
        index.match(text)
    except QueryError:
        return False
    return True


def _parse(text: str):
    from alerts.search.query import parse

    return parse(text)


def gate(ours: dict[str, int], engine, translated: dict[str, object]) -> dict:
    """Every expressible filter: the engine's papers must be exactly ours."""
    mismatches = [text for text, query in translated.items() if engine.run(query) != ours[text]]
    return {"compared": len(translated), "mismatches": len(mismatches), "examples": mismatches[:5]}


def run(args) -> dict:
    runs = args.runs
    sizes = [int(s) for s in args.subscribers.split(",")]
    measured_sizes = {int(s) for s in args.baselines.split(",")}
    paper_counts = [int(p) for p in args.papers.split(",")]
    vocabulary = workload.vocabulary()
    report = {"machine": machine(), "runs": runs, "workloads": [], "baselines": {}, "gate": {}, "issue_3": {}}
    days = {count: workload.papers(count) for count in paper_counts}
    docs_by_count = {count: [p.doc() for p in day] for count, day in days.items()}
    with tempfile.TemporaryDirectory() as directory:
        store_path = Path(directory) / "compiled-filters"
        for size in sizes:
            started = time.perf_counter()
            subscribers = [filters for _, filters in workload.subscribers(size, vocabulary)]
            filters = [f for fs in subscribers for f in fs]
            print(
                f"{size:>9,} subscribers: {len(filters):,} filters generated in"
                f" {time.perf_counter() - started:.1f}s"
            )
            reference: dict[str, int] = {}
            for count in paper_counts:
                docs = docs_by_count[count]
                result, matched = ours(docs, filters, subscribers, runs, store_path)
                if count == paper_counts[0]:
                    reference = matched
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
                    f"   {count:>5,} papers: ours cold {result['cpu_s']:.2f}s cpu ({result['wall_s']:.2f}s wall),"
                    f" warm {result['warm_cpu_s']:.2f}s, {result['distinct_filters']:,} distinct;"
                    f" union per subscriber {result['union_cpu_s']:.2f}s"
                )
            if size in measured_sizes:
                numbers, gates = baselines(
                    docs_by_count[paper_counts[0]],
                    filters,
                    runs,
                    naive=not report["baselines"],
                    ours=reference,
                )
                report["baselines"][str(size)], report["gate"][str(size)] = numbers, gates
            del subscribers, filters, reference
            gc.collect()

        # Issue 3: 100,000 filters x 1,000 papers in under 2 seconds.
        point = [f for _, fs in workload.subscribers(40_000, vocabulary) for f in fs][:100_000]
        docs = docs_by_count[paper_counts[0]]
        issue, _ = ours(docs, point, [], runs, store_path)
    report["issue_3"] = {"filters": len(point), "papers": len(docs), **issue}
    print(f"issue 3: {len(point):,} filters x {len(docs):,} papers: {issue['cpu_s']:.2f}s cpu")
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["load_average_at_end"] = os.getloadavg()
    return report


def baselines(docs, filters: list[str], runs: int, *, naive: bool, ours: dict[str, int]) -> tuple[dict, dict]:
    """`ours`: what the timed runs of ours found, the reference of the correctness gate."""
    distinct = list(dict.fromkeys(filters))
    known = compounds(analysed(docs))
    # Our two ways in, one filter at a time and all at once, must agree before anything else does.
    index = PaperIndex(docs)
    differ = [text for text, bits in ours.items() if index.match(text) != bits]
    if differ or any(text not in ours for text in distinct if _valid(index, text)):
        raise SystemExit(f"match and match_many disagree on {len(differ)} filters, e.g. {differ[:3]}")
    results, gates = {}, {}
    # One query per filter repeats identical queries: context only, so fewer runs past 100,000.
    context_runs = runs if len(filters) <= 100_000 else max(1, runs // 3)
    # Loading includes the text analysis (with cold caches, as for ours): they need it too.
    for name, make in (("fts5", lambda: Fts5(analysed(docs))), ("tantivy", lambda: Tantivy(analysed(docs)))):
        numbers, translated, excluded, engine = baseline(make, filters, distinct, runs, context_runs, known)
        numbers["excluded"] = dict(excluded)
        numbers["context_runs"] = context_runs
        results[name] = numbers
        gates[name] = {**gate(ours, engine, translated), "excluded": dict(excluded)}
        print(
            f"   {engine.name}: dedup {numbers['load_cpu_s'] + numbers['distinct_cpu_s']:.2f}s,"
            f" {numbers['us_per_query']:.0f} us per filter; gate {gates[name]['mismatches']} mismatches"
        )
    if not naive:
        return results, gates
    # The naive loop on a sample of distinct filters (each one scans every paper).
    sample = random.Random(7).sample(distinct, min(NAIVE_SAMPLE, len(distinct)))
    loop = NaiveLoop(docs)
    translated = {t: loop.translate(t) for t in sample}
    timing = measure(_engine_run(loop, translated, sample), max(1, runs // 2))
    results["naive"] = {
        "sample": len(sample),
        "sample_cpu_s": timing["cpu_s"],
        "us_per_query": timing["cpu_s"] / len(sample) * 1e6,
    }
    gates["naive"] = {**gate(ours, loop, translated), "excluded": {}}
    print(f"   naive loop: {results['naive']['us_per_query']:.0f} us per filter; gate {gates['naive']}")
    return results, gates


def extrapolated(report: dict) -> list[dict]:
    """One row per workload: ours measured; the baselines measured at their sizes on the first
    day's papers, elsewhere extrapolated from the nearest measured size (marked)."""
    rows = []
    measured = {int(size): b for size, b in report["baselines"].items()}
    first_papers = report["workloads"][0]["papers"]
    filters_at = {
        w["subscribers"]: (w["filters"], w["ours"]["distinct_filters"]) for w in report["workloads"]
    }
    naive = next(b["naive"] for b in measured.values() if "naive" in b)
    for entry in report["workloads"]:
        size = entry["subscribers"]
        ours_s = entry["ours"]["cpu_s"]
        row = {
            "subscribers": size,
            "papers": entry["papers"],
            "filters": entry["filters"],
            "distinct": entry["ours"]["distinct_filters"],
            "ours_s": ours_s,
            "ours_warm_s": entry["ours"]["warm_cpu_s"],
            "union_s": entry["ours"]["union_cpu_s"],
        }
        basis = min(measured, key=lambda s: (abs(s - size), -s))  # the nearest measured size
        exact = basis == size and entry["papers"] == first_papers
        scale = entry["papers"] / first_papers  # the baselines' cost grows with the papers
        basis_filters, basis_distinct = filters_at[basis]
        for name in ("fts5", "tantivy"):
            b = measured[basis][name]
            per_filter = b["queries_cpu_s"] * entry["filters"] / basis_filters * scale
            per_distinct = b["distinct_cpu_s"] * row["distinct"] / basis_distinct * scale
            row[f"{name}_s"] = b["load_cpu_s"] * scale + per_filter
            row[f"{name}_dedup_s"] = b["load_cpu_s"] * scale + per_distinct
            row[f"{name}_measured"] = exact
        row["naive_s"] = naive["us_per_query"] * entry["filters"] * scale / 1e6
        rows.append(row)
    return rows


def headline(report: dict) -> list[dict]:
    """The fair figures: ours (cold and warm) against each engine running each distinct
    filter once, at the sizes where the baselines were measured."""
    return [r for r in extrapolated(report) if r["fts5_measured"]]


def _ratio(baseline_s: float, ours_s: float) -> str:
    return f"{baseline_s / ours_s:.1f}x"


def markdown(report: dict) -> str:  # long because it is one document, section by section
    m = report["machine"]
    rows = extrapolated(report)
    end_load = report.get("load_average_at_end", [float("nan")])[0]
    lines = [
        "# Matching benchmark",
        "",
        f"`python -m bench.match` on {m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB, Python {m['python']};"
        f" load average {m['load_average_at_start'][0]:.2f} at start, {end_load:.2f} at the end (the machine is"
        f" shared: CPU time is reported, the median of {report['runs']} runs).",
        "",
        "## Against the fair baselines",
        "",
        "Each engine runs each distinct filter once (*dedup*), as ours does (the de-duplication itself is done"
        " beforehand for every engine, untimed); the day's index build (their text analysis included) is in"
        " every figure. *Cold*: our store of compiled filters empty, every filter"
        " parsed, as the baselines run; *warm*: the compiled filters read from the file the previous run"
        " saved (the read is timed). Measured, not extrapolated:",
        "",
        "| subscribers | papers | distinct filters | ours cold | ours warm | FTS5 dedup | tantivy dedup"
        " | warm vs FTS5 dedup | warm vs tantivy dedup | cold vs FTS5 dedup | cold vs tantivy dedup |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in headline(report):
        lines.append(
            f"| {r['subscribers']:,} | {r['papers']:,} | {r['distinct']:,} | {r['ours_s']:.3f} | {r['ours_warm_s']:.3f}"
            f" | {r['fts5_dedup_s']:.3f} | {r['tantivy_dedup_s']:.3f}"
            f" | **{_ratio(r['fts5_dedup_s'], r['ours_warm_s'])}** | **{_ratio(r['tantivy_dedup_s'], r['ours_warm_s'])}**"
            f" | {_ratio(r['fts5_dedup_s'], r['ours_s'])} | {_ratio(r['tantivy_dedup_s'], r['ours_s'])} |"
        )
    lines += [
        "",
        "## Every workload",
        "",
        "Times in seconds of CPU on one core. *ours*: index build + evaluate every distinct filter (cold:"
        " parse and compile them too); *union*: OR of each subscriber's filters (after matching). Baselines:"
        " load + one query per distinct filter (*dedup*) or, for context, one per filter, repeating identical"
        " queries. Figures in *italics* are extrapolated from the nearest measured size (cost x filters x"
        " papers/1,000); the naive loop is always extrapolated from"
        f" {next(b['naive']['sample'] for b in report['baselines'].values() if 'naive' in b)} filters.",
        "",
        "| subscribers | papers | filters | distinct | ours cold | ours warm | union | FTS5 dedup | tantivy dedup"
        " | FTS5 | tantivy | naive loop | warm vs FTS5 dedup | warm vs tantivy dedup |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(value: float, measured: bool) -> str:
        text = f"{value:,.2f}"
        return text if measured else f"*{text}*"

    def ratio(value: float, measured: bool) -> str:
        text = f"{value:,.1f}x"
        return text if measured else f"*{text}*"

    for r in rows:
        ok = r["fts5_measured"]
        lines.append(
            f"| {r['subscribers']:,} | {r['papers']:,} | {r['filters']:,} | {r['distinct']:,} | {r['ours_s']:.2f}"
            f" | {r['ours_warm_s']:.2f} | {r['union_s']:.2f} | {cell(r['fts5_dedup_s'], ok)}"
            f" | {cell(r['tantivy_dedup_s'], ok)} | {cell(r['fts5_s'], ok)} | {cell(r['tantivy_s'], ok)}"
            f" | {cell(r['naive_s'], False)} | {ratio(r['fts5_dedup_s'] / r['ours_warm_s'], ok)}"
            f" | {ratio(r['tantivy_dedup_s'] / r['ours_warm_s'], ok)} |"
        )
    issue = report["issue_3"]
    lines += [
        "",
        f"Issue 3: {issue['filters']:,} filters x {issue['papers']:,} papers: **{issue['cpu_s']:.2f} s** CPU cold"
        f" ({issue['wall_s']:.2f} s wall), {issue['warm_cpu_s']:.2f} s warm, index build included (target:"
        " under 2 s).",
        "",
        "## Correctness gate",
        "",
        "At each measured size, every distinct filter on 1,000 papers: the engine's papers must be exactly ours.",
        "",
        "| subscribers | engine | filters compared | mismatches | left out (cannot express) |",
        "|---:|---|---:|---:|---|",
    ]
    for size, gates in report["gate"].items():
        for name, g in gates.items():
            excluded = "; ".join(f"{n} {reason}" for reason, n in g["excluded"].items()) or "none"
            lines.append(f"| {int(size):,} | {name} | {g['compared']:,} | {g['mismatches']} | {excluded} |")
    first = report["baselines"][min(report["baselines"], key=int)]
    store = report["workloads"][-1]["ours"]["store_bytes"]
    lines += [
        "",
        "## Per query",
        "",
        f"FTS5 {first['fts5']['us_per_distinct_query']:.0f} us, tantivy {first['tantivy']['us_per_distinct_query']:.0f}"
        f" us, naive loop {first['naive']['us_per_query']:.0f} us per distinct filter on 1,000 papers (execution"
        " only), at the first measured size.",
        "",
        f"The store of compiled filters of the largest workload: {store / 1e6:,.1f} MB on disk. Peak memory of"
        f" the benchmark process: {report['max_rss_mb']:.0f} MB (it holds every subscriber's filters of the"
        " largest workload as a list).",
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
    parser.add_argument(
        "--baselines", default="10000,100000", help="sizes at which the baselines are measured"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.subscribers, args.papers, args.baselines = 2, "2000,10000", "1000", "2000,10000"
    report = run(args)
    text = markdown(report)
    print(text)
    if args.quick:
        return
    common.write("match", report, text)
    plot(report, RESULTS / "match.png")


if __name__ == "__main__":
    main()
