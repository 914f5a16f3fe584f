"""Rendering benchmark: personalised digests from the run's paper blocks, against the same
templates rendered from scratch for every digest.

    python -m bench.render            # the full run (about a minute); writes bench/results/
    python -m bench.render --quick    # a smoke run: small sizes, 2 runs, nothing written

The workload: one day of papers (bench.workload, with Hugging Face upvotes) and as many
subscribers as it takes to collect the digests asked for that show 20 papers (the
default `max_papers`); 30% of subscribers also get the trending section. Composition
(matching and ranking) is done beforehand and timed on its own, for reference.

What is timed, on one core (process CPU time), per digest: the four signed links every
digest carries (manage, unsubscribe, view in the browser, and the base of its feedback
links) and the subject, text and HTML of the digest; each digest is dropped once made, as
a worker drops it once sent:

- ours: `alerts.digests.rendering.render_digest`, starting each run with empty caches (no
  compiled template, no block shape, no paper block): the run makes each paper's block
  when a digest first shows it, and each highlighting of it when a digest first needs it,
  as a worker does on a new day. The same digests rendered once more with the caches
  filled give the steady state;
- from scratch: `render_digest_direct`, the same templates rendered with each digest's
  values and the stylesheet inlined into each whole email, on a sample of the digests
  (it is about a hundred times slower).

Correctness gate: on the sample, both give the same subject, text and HTML, byte for byte.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import time
from collections.abc import Iterator

from bench import common, workload

# Issue 16: once the run's blocks exist, and over a whole run from empty caches.
TARGET_PER_SECOND = 10_000
TARGET_COLD_PER_SECOND = 5_000


def paper_rows(papers: list[workload.Paper], window_end: dt.datetime, upvotes: list | None = None) -> list:
    """The papers as a run reads them (`PaperRow`s, in the order first seen): first seen one
    after another over the day before `window_end`."""
    from alerts.digests.composing import PaperRow

    step = dt.timedelta(days=1) / max(len(papers), 1)
    return [
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
            upvotes=upvotes[i] if upvotes else None,
            first_seen_at=window_end - dt.timedelta(days=1) + step * (i + 1),
            published=None,
        )
        for i, p in enumerate(papers)
    ]


def build(papers: int, digests: int) -> dict:
    """The day's period index, and the compositions of the first `digests` subscribers
    whose digest shows 20 papers (composition timed, once)."""
    from alerts.digests.composing import FilterSpec, PeriodIndex, compose
    from alerts.models import Digest
    from subscribers.models import Subscriber

    window_end = dt.datetime(2026, 3, 4, 6, tzinfo=dt.UTC)
    rows = paper_rows(workload.papers(papers), window_end, workload.upvotes(papers))
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


def render_each(pidx, digests, direct: bool = False) -> Iterator:
    """The digests rendered one by one, each dropped by the caller once it is used, as a
    worker drops a digest once it is sent (a list of 10,000 rendered digests would put
    hundreds of megabytes of strings on the timed path)."""
    from alerts.digests.messages import digest_links
    from alerts.digests.rendering import render_digest, render_digest_direct

    for subscriber, digest, names, composition in digests:
        args = dict(
            composition=composition,
            email=subscriber.email,
            filter_names=names,
            period=digest.period,
            weekly=False,
            links=digest_links(digest, subscriber),
        )
        yield render_digest_direct(**args) if direct else render_digest(pidx=pidx, **args)


def render_all(pidx, digests, direct: bool = False) -> list:
    return list(render_each(pidx, digests, direct))


def drain(rendered: Iterator) -> None:
    for _ in rendered:
        pass


def empty_caches(pidx) -> None:
    from alerts.digests import rendering

    state = rendering.rendering_of(pidx)
    state.blocks.clear()
    state.clear_highlights()
    rendering._compiled.cache_clear()
    rendering._wrappers.cache_clear()
    rendering._block_shape.cache_clear()


def block_costs(pidx, digests) -> dict:
    """Making the run's paper blocks from empty caches: ours (a few shapes rendered through
    the templates and the inliner, every block filled in from its shape) against rendering
    each block's two templates with its paper's values and inlining its HTML."""
    from django.template.loader import render_to_string

    from alerts.digests import rendering

    shown = {}
    for *_, composition in digests:
        for item in composition.all_items:
            shown.setdefault((item.doc, rendering.LABELS[item.section]), item.paper)
    empty_caches(pidx)
    ours = timed(lambda: [rendering.Block(paper, label=label) for (_doc, label), paper in shown.items()])
    shapes = rendering._block_shape.cache_info().currsize
    site = rendering.site_context()

    def templates() -> None:
        for (_doc, label), paper in shown.items():
            context = {
                **site,
                **rendering.paper_context(paper, (), label=label),
                "slots": {"matched": "", "feedback": ""},
            }
            html = render_to_string(rendering.paper_template(label, "html"), context)
            rendering.inline_css(html, "fragment")
            render_to_string(rendering.paper_template(label, "txt"), context)

    return {"blocks": len(shown), "shapes": shapes, "ours_s": ours, "templates_s": timed(templates)}


def timed(function) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def run(args) -> dict:
    machine = common.machine()  # the load average at the start
    built = build(args.papers, args.digests)
    pidx, digests = built["pidx"], built["digests"]
    sample = digests[: args.sample]
    cold, warm, direct = [], [], []
    for n in range(args.runs):
        empty_caches(pidx)
        # Rendered digests are dropped as they are made, as a worker does once it has sent them.
        cold.append(timed(lambda: drain(render_each(pidx, digests))))
        warm.append(timed(lambda: drain(render_each(pidx, digests))))
        direct.append(timed(lambda: drain(render_each(pidx, sample, direct=True))))
        print(
            f"run {n + 1}: ours {len(digests) / cold[-1]:,.0f} digests/s (caches filled: "
            f"{len(digests) / warm[-1]:,.0f}/s), from scratch {len(sample) / direct[-1]:,.0f}/s"
        )
    from alerts.digests.rendering import rendering_of

    blocks, highlights = len(rendering_of(pidx).blocks), len(rendering_of(pidx).highlights)
    making = block_costs(pidx, digests)
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
        "machine": machine,
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
        "making_blocks": making,
        "target_per_second": TARGET_PER_SECOND,
        "target_cold_per_second": TARGET_COLD_PER_SECOND,
        "load_average_at_end": os.getloadavg(),
    }


def markdown(report: dict) -> str:
    per_s, per_us = report["per_second"], report["per_digest"]
    ratio = per_s["ours_cold"] / per_s["direct"]
    gate = report["gate"]
    first_time_s = (per_us["ours_cold_us"] - per_us["ours_warm_us"]) * report["digests"] / 1e6

    making = report["making_blocks"]

    def verdict(rate: float, target: int) -> str:
        return f"{rate:,.0f}/s against {target:,}/s, " + ("met" if rate >= target else "**missed**")

    return "\n".join(
        [
            "# Rendering benchmark",
            "",
            f"`python -m bench.render` on {common.machine_line(report['machine'])}, at the end"
            f" {report['load_average_at_end'][0]:.2f} (the machine is shared: CPU time of this one process,"
            f" the median of {report['runs']} runs).",
            "",
            f"{report['digests']:,} personalised digests of 20 papers each (HTML and text) on a day of"
            f" {report['papers']:,} papers, {report['with_trending']:,} of them with the trending section"
            f" too; each digest includes signing its four links (manage, unsubscribe, view, feedback)."
            f" Mean size {report['mean_html_bytes'] / 1024:.0f} KB of HTML and"
            f" {report['mean_text_bytes'] / 1024:.0f} KB of text.",
            "",
            "| renderer | per digest | digests per second, one core |",
            "|---|---:|---:|",
            f"| ours, each run from empty caches (blocks made as first shown) | {per_us['ours_cold_us']:,.0f} us"
            f" | **{per_s['ours_cold']:,.0f}** |",
            f"| ours, the same digests again (blocks already rendered) | {per_us['ours_warm_us']:,.0f} us"
            f" | {per_s['ours_warm']:,.0f} |",
            f"| from scratch: the same templates per digest ({report['sample']} digests) |"
            f" {per_us['direct_us']:,.0f} us | {per_s['direct']:,.0f} |",
            "",
            f"Ours is **{ratio:,.0f}x** faster than rendering from scratch (both from empty caches)."
            f" Targets, per core: once the run's blocks exist {verdict(per_s['ours_warm'], TARGET_PER_SECOND)};"
            f" a whole run of {report['digests']:,} digests from empty caches"
            f" {verdict(per_s['ours_cold'], TARGET_COLD_PER_SECOND)}. The difference is the run's first-time"
            f" work, {first_time_s:.1f} s: each paper's block made, each highlighting of it marked, once per"
            " run whatever the number of subscribers.",
            "",
            f"Making the run's {making['blocks']:,} paper blocks from empty caches: {making['ours_s']:.2f} s"
            f" ({making['shapes']} block shapes rendered through the templates and the CSS inliner, every"
            f" block filled in from its shape), against {making['templates_s']:.2f} s rendering each block's"
            " templates with its paper's values and inlining its HTML.",
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
