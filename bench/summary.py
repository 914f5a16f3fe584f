"""The benchmarks' headline figures, from bench/results/*.json, into the README.

    python -m bench.summary     # rewrites the README's performance section (make bench runs it last)

Every figure in that section comes from the results the benchmarks wrote, so the README
says what `make bench` measured and nothing else.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from bench import common
from bench import pipeline as pipeline_bench

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _match_rows(match: dict) -> list[str]:
    """The fair figures first: ours against each engine running each distinct filter once,
    measured at every size where the baselines ran; the largest workload; the gate."""
    from bench.match import extrapolated, headline

    out = []
    load = match["machine"]["load_average_at_start"][0]
    for r in headline(match):
        fts5, tantivy = r["fts5_dedup_s"], r["tantivy_dedup_s"]
        warm, cold = r["ours_warm_s"], r["ours_s"]
        target = 3 if r["subscribers"] <= 10_000 else 5
        out.append(
            f"| Matching {r['subscribers']:,} subscribers' filters ({r['distinct']:,} distinct) against"
            f" {r['papers']:,} papers, index build included, against SQLite FTS5 and tantivy running each distinct"
            f" filter once (measured; load average {load:.1f} at the start) | compiled filters kept: {warm:.2f} s, **{fts5 / warm:.1f}x FTS5,"
            f" {tantivy / warm:.1f}x tantivy**; from scratch: {cold:.2f} s, {fts5 / cold:.1f}x, {tantivy / cold:.1f}x"
            f" | {target}x tantivy | {_verdict(tantivy / warm >= target)} |"
        )
    table = extrapolated(match)
    largest = max(table, key=lambda r: (r["subscribers"], -r["papers"]))
    seconds = largest["ours_s"]
    out.append(
        f"| Matching every filter of {largest['subscribers']:,} subscribers ({largest['filters']:,} filters)"
        f" against {largest['papers']:,} papers, one core, from scratch | {seconds:.1f} s CPU"
        f" ({largest['ours_warm_s']:.1f} s with compiled filters kept) | under 15 s | {_verdict(seconds < 15)} |"
    )
    first = min(headline(match), key=lambda r: r["subscribers"])
    out.append(
        f"| ... for context, against one query per filter (identical queries repeated), {first['subscribers']:,}"
        f" subscribers | {first['fts5_s'] / first['ours_warm_s']:,.0f}x SQLite FTS5,"
        f" {first['tantivy_s'] / first['ours_warm_s']:,.0f}x tantivy | | |"
    )
    gates = [g for by_engine in match["gate"].values() for g in by_engine.values()]
    mismatches = sum(g["mismatches"] for g in gates)
    compared = sum(g["compared"] for g in gates)
    out.append(
        f"| Correctness gate: the same (filter, paper) pairs from every engine | {mismatches} mismatches in"
        f" {compared:,} comparisons | 0 | {_verdict(mismatches == 0)} |"
    )
    return out


def rows() -> list[str]:
    out = []
    match = common.load("match")
    if match:
        out += _match_rows(match)
    render = common.load("render")
    if render:
        per_s = render["per_second"]
        out.append(
            f"| Rendering personalised 20-paper digests (HTML and text, links signed), one core | "
            f"{per_s['ours_cold']:,.0f}/s over a run of {render['digests']:,} from empty caches,"
            f" {per_s['ours_warm']:,.0f}/s once the run's blocks exist; {per_s['ours_cold'] / per_s['direct']:,.0f}x"
            f" rendering from scratch | 5,000/s (run), 10,000/s (steady) | {_verdict(per_s['ours_cold'] >= 5_000)}"
            f" (run), {_verdict(per_s['ours_warm'] >= 10_000)} (steady) |"
        )
    pipeline = common.load("pipeline")
    if pipeline:
        configs = pipeline["configurations"]
        for c in configs:
            if (c["backend"], c["subscribers"], c["papers"]) == ("test", 100_000, 1000):
                out.append(
                    f"| Whole pipeline, 100,000 subscribers, two workers, anymail's test backend |"
                    f" {c['per_second']:,.0f} digests/s (dispatch {c['dispatch_s']:.0f} s, send {c['send_s']:.0f} s) |"
                    f" 1,000/s | {_verdict(c['per_second'] >= 1000)} |"
                )
        smtp = [c for c in configs if c["backend"] == "smtp"]
        if smtp and "smtp_ceiling" in pipeline:
            share = smtp[0]["per_second"] / pipeline["smtp_ceiling"]["per_second"]
            out.append(
                f"| ... over SMTP to a local sink, against the sink's ceiling (smtplib, one connection) |"
                f" {smtp[0]['per_second']:,.0f} of {pipeline['smtp_ceiling']['per_second']:,.0f} messages/s ="
                f" {share:.0%} | 80% | {_verdict(share >= 0.8)} |"
            )
    million = common.load("pipeline_million")
    if million:
        run = million["run"]
        done = (
            run["complete"] and run["status"].get("pending", 0) == 0 and run["status"].get("sending", 0) == 0
        )
        out.append(
            f"| A million subscribers x 5 filters x 1,000 papers, dispatch and send to the last digest"
            f" ([run](bench/results/pipeline_million.md)) | {run['total_s'] / 60:.0f} min ({run['sent']:,} sent,"
            f" {run['per_second']:,.0f} digests/s); peak worker {run['peak_worker_mb']:.0f} MB; database"
            f" {million['database_after']['bytes'] / 1024**3:.1f} GB after | completes, under 500 MB |"
            f" {_verdict(done and run['peak_worker_mb'] < 500)} |"
        )
    if pipeline:
        peak = max(c["peak_worker_mb"] for c in pipeline["configurations"])
        largest = max(pipeline["configurations"], key=lambda c: c["subscribers"])
        boxed = "" if largest["complete"] else f", {largest['sent']:,} of its digests sent in a time box"
        out.append(
            f"| Peak memory of a worker, [pipeline](bench/results/pipeline.md) runs up to"
            f" {largest['subscribers']:,} subscribers{boxed} | {peak:.0f} MB | under 500 MB | {_verdict(peak < 500)} |"
        )
    workers = common.load("pipeline_workers")
    if workers:
        one, two = (statistics.median(workers[n]["per_second"]) for n in ("1", "2"))
        out.append(
            f"| ... one worker process against two, {workers['subscribers']:,} subscribers"
            f" ([scaling](docs/scaling.md)) | {one:,.0f} and {two:,.0f} digests/s = {workers['ratio']:.2f}x | | |"
        )
    chunks = common.load("pipeline_chunks")
    if chunks:
        cost = {
            size: statistics.median(chunks[str(size)]["worker_cpu_ms"])
            + statistics.median(chunks[str(size)]["postgres_cpu_ms"])
            for size in chunks["sizes"]
        }
        out.append(
            "| ... digests per send task ([chunks](bench/results/pipeline_chunks.md)), workers' and"
            " PostgreSQL's CPU per digest | "
            + ", ".join(f"{cost[size]:.2f} ms in chunks of {size}" for size in chunks["sizes"])
            + " | | |"
        )
    models = common.load("pipeline_models")
    if models:
        out.append(
            f"| ... with a reader's model for {models['share']:.0%} of {models['subscribers']:,} subscribers"
            f' (re-ranking and "You may also like"), workers\' CPU per digest against none |'
            f" {models['ratio_cpu_ms_per_digest']:.2f}x | at most 1.25x |"
            f" {_verdict(models['ratio_cpu_ms_per_digest'] <= 1.25)} |"
        )
        rate = pipeline_bench.models_rate(models)
        out.append(
            f"| ... the whole pipeline with those models on, {models['subscribers']:,} subscribers |"
            f" {rate:,.0f} digests/s | {pipeline_bench.TARGET_PER_SECOND:,}/s |"
            f" {_verdict(rate >= pipeline_bench.TARGET_PER_SECOND)} |"
        )
    ranking = common.load("ranking")
    if ranking and "evaluation" in ranking:
        mean, costs = ranking["evaluation"]["mean"], ranking["costs"]
        ratio = mean["ours"] / mean["baseline"]
        behind = [
            name
            for name, r in ranking["evaluation"]["readers"].items()
            if r["baseline"] - r["ours"] > r["baseline_stderr"]
        ]
        out.append(
            f"| Reader's model, offline replay of {ranking['set']} (6 simulated readers; coarse labels) |"
            f" {mean['ours']:.3f} against arxiv-sanity-lite's {mean['baseline']:.3f} = {ratio:.2f}x;"
            f" {len(behind)} readers behind by more than one standard error | 1.1x, none behind |"
            f" {_verdict(ratio >= 1.1 and not behind)} |"
        )
        ceiling = common.load("ranking_ceiling")
        if ceiling and ceiling.get("set") == ranking["set"]:
            taught = ceiling["informed"]["mean"]
            out.append(
                "| ... both taught every earlier paper's label instead of the votes"
                " ([a ceiling](bench/results/ranking_ceiling.md)) |"
                f" {taught['ours']:.3f} against {taught['baseline']:.3f} ="
                f" {taught['ours'] / taught['baseline']:.2f}x | | |"
            )
        out.append(
            f"| ... training after a vote; stored model | {costs['train_ms']:.0f} ms; {costs['model_bytes'] / 1000:.1f} KB |"
            f" under 50 ms; under 20 KB | {_verdict(costs['train_ms'] < 50 and costs['model_bytes'] < 20_000)} |"
        )
    return out


def section() -> str:
    ran = [r for r in map(common.load, ("match", "render", "pipeline", "ranking")) if r]
    machines = [r["machine"] for r in ran]
    where = common.machine_line(machines[-1]).split(";")[0] if machines else "this machine"
    walls = [r.get("wall_s") for r in ran]
    took = (
        f"its last run took {sum(walls) / 60:.0f} minutes"
        if walls and None not in walls
        else "its run time is recorded once every benchmark has been run again"
    )
    return "\n".join(
        [
            START,
            f"`make bench` ({took}; `make bench BENCH_QUICK=1` for a smoke run that writes nothing)"
            f" runs the benchmarks under `bench/` and writes Markdown and JSON to `bench/results/`. Last run"
            f" on {where}, a machine shared with other work (figures are CPU time where one process is"
            " measured, wall time for the whole pipeline):",
            "",
            "| what | result | target | |",
            "|---|---|---|---|",
            *rows(),
            "",
            "Details, methods and what limits each figure: [matching](bench/results/match.md),"
            " [rendering](bench/results/render.md), [whole pipeline](bench/results/pipeline.md),"
            " [a million subscribers](bench/results/pipeline_million.md),"
            " [the reader's model](bench/results/ranking.md).",
            END,
        ]
    )


def main() -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START} ... {END} section to fill")
    README.write_text(pattern.sub(lambda _: section(), text))
    print(f"wrote the performance section of {README}")


if __name__ == "__main__":
    main()
