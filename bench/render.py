"""Rendering benchmark: personalised digests from the run's paper blocks, against the same
templates rendered from scratch for every digest.

    python -m bench.render            # the full run (about a minute); writes bench/results/
    python -m bench.render --quick    # a smoke run: small sizes, 2 runs, nothing written

The workload: one day of papers (bench.workload, with Hugging Face upvotes) and as many
subscribers as it takes to collect the digests asked for that show 20 papers (the
default `max_papers`); 30% of subscribers also get the trending section. Composition
(matching and ranking) is done beforehand and timed on its own, for reference.

What is timed, on one core (process CPU time), per digest: the three signed links every
digest carries (manage, unsubscribe, view in the browser) and the subject, text and HTML
of the digest:

- ours: `alerts.digests.rendering.render_digest`, starting each run with empty caches (no
  compiled template, no paper block): the run renders each paper's block when a digest
  first shows it, and each highlighting of it when a digest first needs it, as a worker
  does on a new day. The same digests rendered once more with the caches filled give the
  steady state;
- from scratch: `render_digest_direct`, the same templates rendered with each digest's
  values and the stylesheet inlined into each whole email, on a sample of the digests
  (it is about a hundred times slower).

Correctness gate: on the sample, both give the same subject, text and HTML, byte for byte.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import time

from bench import common, workload

TARGET_PER_SECOND = 10_000


def build(papers: int, digests: int) -> dict:
    """The day's period index, and the compositions of the first `digests` subscribers
    whose digest shows 20 papers (composition timed, once)."""
    from alerts.digests.composing import FilterSpec, PaperRow, PeriodIndex, compose
    from alerts.models import Digest
    from subscribers.models import Subscriber

    window_end = dt.datetime(2026, 3, 4, 6, tzinfo=dt.UTC)
    day = workload.papers(papers)
    votes = workload.upvotes(papers)
    step = dt.timedelta(days=1) / papers
    rows = [
        PaperRow(
            id=i + 1,
            arxiv_id=p.arxiv_id,
            external_key=None,
            title=p.title,
            abstract=p.abstract,
            authors=p.authors,
            categories=p.categories,
            primary_category=p.categories[0],
            abs_url=f"https://arxiv.org/abs/{p.arxiv_id}",
            pdf_url=f"https://arxiv.org/pdf/{p.arxiv_id}",
            upvotes=votes[i],
            first_seen_at=window_end - dt.timedelta(days=1) + step * (i + 1),
            published=None,
        )
        for i, p in enumerate(day)
    ]
    started = time.process_time()
    pidx = PeriodIndex(window_end, rows)
    index_s = time.process_time() - started
    vocabulary = workload.vocabulary()
    chosen, composed, compose_s = [], 0, 0.0
    for index, filters in workload.subscribers(digests * 3, vocabulary):
        specs = [FilterSpec(query[:100], query) for query in filters]
        started = time.process_time()
        composition = compose(
            pidx=pidx,
            filters=specs,
            window_start=window_end - dt.timedelta(days=1),
            excluded=0,
            max_papers=20,
            include_trending=workload.wants_trending(index),
        )
        compose_s += time.process_time() - started
        composed += 1
        if len(composition.items) == 20:
            subscriber = Subscriber(
                pk=index + 1, email=f"reader{index}@example.org", token_secret=f"{index:032x}"
            )
            digest = Digest(pk=index + 1, subscriber=subscriber, period=window_end.date())
            chosen.append((subscriber, digest, [s.name for s in specs], composition))
            if len(chosen) == digests:
                break
    return {
        "pidx": pidx,
        "digests": chosen,
        "composed": composed,
        "compose_us": compose_s / composed * 1e6,
        "index_s": index_s,
    }


def render_all(pidx, digests, direct: bool = False) -> list:
    from alerts.digests.messages import digest_links
    from alerts.digests.rendering import render_digest, render_digest_direct

    out = []
    for subscriber, digest, names, composition in digests:
        args = dict(
            composition=composition,
            email=subscriber.email,
            filter_names=names,
            period=digest.period,
            weekly=False,
            links=digest_links(digest, subscriber),
        )
        out.append(render_digest_direct(**args) if direct else render_digest(pidx=pidx, **args))
    return out


def empty_caches(pidx) -> None:
    from alerts.digests import rendering

    state = rendering.rendering_of(pidx)
    state.blocks.clear()
    state.highlights.clear()
    state.highlight_terms.clear()
    rendering._compiled.cache_clear()


def timed(function) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def run(args) -> dict:
    built = build(args.papers, args.digests)
    pidx, digests = built["pidx"], built["digests"]
    sample = digests[: args.sample]
    cold, warm, direct = [], [], []
    for n in range(args.runs):
        empty_caches(pidx)
        # Rendered digests are dropped as they are made, as a worker does once it has sent them.
        cold.append(timed(lambda: [None for _ in render_all(pidx, digests)]))
        warm.append(timed(lambda: [None for _ in render_all(pidx, digests)]))
        direct.append(timed(lambda: [None for _ in render_all(pidx, sample, direct=True)]))
        print(
            f"run {n + 1}: ours {len(digests) / cold[-1]:,.0f} digests/s (caches filled: "
            f"{len(digests) / warm[-1]:,.0f}/s), from scratch {len(sample) / direct[-1]:,.0f}/s"
        )
    from alerts.digests.rendering import rendering_of

    blocks, highlights = len(rendering_of(pidx).blocks), len(rendering_of(pidx).highlights)
    ours_sample = render_all(pidx, sample)
    scratch_sample = render_all(pidx, sample, direct=True)
    mismatches = sum(
        1
        for a, b in zip(ours_sample, scratch_sample, strict=True)
        if (a.subject, a.text, a.html) != (b.subject, b.text, b.html)
    )
    rendered = render_all(pidx, digests[:1000])
    per_digest = {
        "ours_cold_us": statistics.median(cold) / len(digests) * 1e6,
        "ours_warm_us": statistics.median(warm) / len(digests) * 1e6,
        "direct_us": statistics.median(direct) / len(sample) * 1e6,
    }
    return {
        "machine": common.machine(),
        "runs": args.runs,
        "papers": args.papers,
        "digests": len(digests),
        "subscribers_composed": built["composed"],
        "sample": len(sample),
        "with_trending": sum(1 for *_, c in digests if c.trending),
        "index_build_s": built["index_s"],
        "compose_us": built["compose_us"],
        "per_digest": per_digest,
        "per_second": {key.removesuffix("_us"): 1e6 / value for key, value in per_digest.items()},
        "all_cpu_s": {"ours_cold": cold, "ours_warm": warm, "direct": direct},
        "blocks": blocks,
        "highlight_cache_entries": highlights,
        "gate": {"compared": len(sample), "mismatches": mismatches},
        "mean_html_bytes": statistics.mean(len(r.html.encode()) for r in rendered),
        "mean_text_bytes": statistics.mean(len(r.text.encode()) for r in rendered),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "target_per_second": TARGET_PER_SECOND,
    }


def markdown(report: dict) -> str:
    per_s, per_us = report["per_second"], report["per_digest"]
    ratio = per_s["ours_cold"] / per_s["direct"]
    gate = report["gate"]
    first_time_s = (per_us["ours_cold_us"] - per_us["ours_warm_us"]) * report["digests"] / 1e6

    def verdict(rate: float) -> str:
        return f"{rate:,.0f}/s, " + ("met" if rate >= TARGET_PER_SECOND else "**missed**")

    return "\n".join(
        [
            "# Rendering benchmark",
            "",
            f"`python -m bench.render` on {common.machine_line(report['machine'])} (the machine is"
            f" shared: CPU time of this one process, the median of {report['runs']} runs).",
            "",
            f"{report['digests']:,} personalised digests of 20 papers each (HTML and text) on a day of"
            f" {report['papers']:,} papers, {report['with_trending']:,} of them with the trending section"
            f" too; each digest includes signing its three links (manage, unsubscribe, view)."
            f" Mean size {report['mean_html_bytes'] / 1024:.0f} KB of HTML and"
            f" {report['mean_text_bytes'] / 1024:.0f} KB of text.",
            "",
            "| renderer | per digest | digests per second, one core |",
            "|---|---:|---:|",
            f"| ours, each run from empty caches (blocks rendered as first shown) | {per_us['ours_cold_us']:,.0f} us"
            f" | **{per_s['ours_cold']:,.0f}** |",
            f"| ours, the same digests again (blocks already rendered) | {per_us['ours_warm_us']:,.0f} us"
            f" | {per_s['ours_warm']:,.0f} |",
            f"| from scratch: the same templates per digest ({report['sample']} digests) |"
            f" {per_us['direct_us']:,.0f} us | {per_s['direct']:,.0f} |",
            "",
            f"Ours is **{ratio:,.0f}x** faster than rendering from scratch (both from empty caches)."
            f" Target: at least {TARGET_PER_SECOND:,} digests per second per core: a whole run of"
            f" {report['digests']:,} digests {verdict(per_s['ours_cold'])}; once the run's blocks exist"
            f" {verdict(per_s['ours_warm'])}. The difference is the run's first-time work,"
            f" {first_time_s:.1f} s: each paper's block rendered through the templates and the CSS inliner,"
            " each highlighting of it marked, once per run whatever the number of subscribers.",
            "",
            f"Correctness gate: {gate['compared']} digests rendered both ways, {gate['mismatches']} differ"
            " (subject, text and HTML compared byte for byte).",
            "",
            f"One run keeps {report['blocks']:,} paper blocks and {report['highlight_cache_entries']:,}"
            f" highlighted variants. For reference, composing (matching and ranking) cost"
            f" {report['compose_us']:,.0f} us per subscriber over the {report['subscribers_composed']:,}"
            f" subscribers composed (first pass over a fresh index, each filter compiled once), after"
            f" {report['index_build_s']:.2f} s to index the day's papers.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 runs, nothing written")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--digests", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300, help="digests rendered from scratch per run")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.digests, args.sample = 2, 1000, 30
    common.django_setup(REDIS_URL=common.UNUSED_REDIS_URL)
    report = run(args)
    text = markdown(report)
    print(text)
    if not args.quick:
        common.write("render", report, text)


if __name__ == "__main__":
    main()
