"""Retraining a reader's model after a vote, as the service's task does it.

    python -m bench.reader_training             # writes bench/results/reader_training.{md,json}
    python -m bench.reader_training --quick     # fewer runs; nothing written

On the shared relevance set: the recent papers are the set's last 14 days (the digest's
lookback); a reader of the `RL` topic has been shown 200 papers (the evidence of their
recent digests) and has voted 10, 50 or 300 times. Measured, per training (median CPU
time of the runs): `subscribers.reader_models.model_from_evidence` (vectors of the voted
papers and of a background sample, `alerts.search.model.train`) and `PersonalModel.dumps`,

- ours: with the recent papers' corpus and their vectors built once per process
  (`training_corpus` keeps them; a training slices its rows);
- baseline: the corpus and vectors rebuilt for each training, which is what each training
  would cost without them.

The task's few database reads (the votes, the voted papers' text) are not included.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from bench import common
from bench.ranking import DEFAULT_SET

RECENT_DAYS = 14
SHOWN = 100


def timed(fn, runs: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        began = time.process_time()
        result = fn()
        timings.append(time.process_time() - began)
    return statistics.median(timings), result


def measure(runs: int) -> dict:
    from alerts.search import model as reader_model
    from alerts.search.evaluation import load_set
    from subscribers.reader_models import TrainingCorpus, model_from_evidence

    papers = load_set(DEFAULT_SET)
    days = sorted({p.day for p in papers})[-RECENT_DAYS:]
    recent = [p for p in papers if p.day in days]
    ids = list(range(len(recent)))
    texts: dict = {}  # every voted paper is a recent one

    def corpus() -> TrainingCorpus:
        return TrainingCorpus.of(ids, [p.text for p in recent])

    cached = corpus()
    rng = random.Random(3)
    rows = []
    for votes in (10, 50, 300):
        chosen = rng.sample(ids, SHOWN + votes)
        evidence = {i: reader_model.MATCHED for i in chosen[:SHOWN]}
        for i in chosen[SHOWN:]:
            evidence[i] = reader_model.MORE if "RL" in recent[i].topics else reader_model.LESS
        if reader_model.MORE not in evidence.values():  # a reader who liked nothing has no model
            evidence[chosen[-1]] = reader_model.MORE
        ours, fitted = timed(lambda ev=evidence: model_from_evidence(ev, texts, cached).dumps(), runs)
        baseline, _ = timed(lambda ev=evidence: model_from_evidence(ev, texts, corpus()).dumps(), runs)
        rows.append(
            {"votes": votes, "ours_ms": 1000 * ours, "baseline_ms": 1000 * baseline, "bytes": len(fitted)}
        )
        print(rows[-1], flush=True)
    return {"machine": common.machine(), "recent_papers": len(recent), "runs": runs, "rows": rows}


def markdown(report: dict) -> str:
    lines = [
        "# Retraining a reader's model after a vote",
        "",
        f"`python -m bench.reader_training` on {common.machine_line(report['machine'])};"
        f" {dt.date.today().isoformat()}.",
        "",
        f"{report['recent_papers']:,} recent papers (the shared set's last {RECENT_DAYS} days); a reader shown"
        f" {SHOWN} papers who voted the number of times below (*more* on `RL` papers, *less* on the"
        f" others). Median CPU time of {report['runs']} trainings: `model_from_evidence` and `dumps`,"
        " the database reads left out.",
        "",
        "| votes | ours (corpus kept per process) | baseline (corpus rebuilt) | stored model |",
        "|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['votes']} | **{row['ours_ms']:.1f} ms** | {row['baseline_ms']:.1f} ms | {row['bytes']:,} bytes |"
        )
    worst = max(row["ours_ms"] for row in report["rows"])
    lines += ["", f"Target: under 50 ms per training: {'met' if worst < 50 else '**missed**'}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 runs each; nothing written")
    args = parser.parse_args()
    common.django_setup(REDIS_URL=common.UNUSED_REDIS_URL)
    report = measure(3 if args.quick else 9)
    text = markdown(report)
    print(text)
    if not args.quick:
        common.write("reader_training", report, text)


if __name__ == "__main__":
    main()
