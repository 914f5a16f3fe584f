"""The reader's model: offline quality against arxiv-sanity-lite's method, and its costs.

    python -m bench.ranking                 # the full run (10-30 minutes); writes bench/results/ranking.{md,json}
    python -m bench.ranking --quick         # costs only, on fewer papers; nothing written
    python -m bench.ranking --set PATH      # another labelled set (default: the shared sample)
    python -m bench.ranking --ceiling       # both methods taught every earlier paper's label, not
                                            # the votes; writes bench/results/ranking_ceiling.{md,json}

Quality: `alerts.search.evaluation.evaluate`, the same replay as
`manage.py evaluate_ranking` (protocol in that module's docstring), both methods in one run.

Costs, on the set's papers (a subscriber a month in: 300 votes, 200 background papers):

- training after one more vote: our Newton-CG logistic regression (numpy/scipy), against
  scikit-learn's `LogisticRegression(solver="liblinear")` on the same rows and weights;
- the stored size of a model (`PersonalModel.dumps`);
- scoring a chunk of 1,000 subscribers' models against a day's papers: one sparse product
  (`score_many`), against a plain-Python loop of dict lookups per subscriber and paper.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from pathlib import Path

import numpy as np

from bench import common

DEFAULT_SET = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "samples"
    / "relevance"
    / "arxiv-cs-ai-cl-ir-2025-10-11.jsonl.gz"
)


def _timed(fn, runs: int) -> tuple[float, object]:
    timings = []
    result = None
    for _ in range(runs):
        began = time.process_time()
        result = fn()
        timings.append(time.process_time() - began)
    return statistics.median(timings), result


def costs(papers, *, votes: int = 300, background: int = 200, chunk: int = 1000, runs: int = 7) -> dict:
    from alerts.search import model

    rng = random.Random(1)
    texts = [p.text for p in papers]
    corpus = model.Corpus()
    corpus.add(texts)
    chosen = rng.sample(range(len(texts)), votes + background + 300)
    vectors = corpus.vectors([texts[i] for i in chosen])
    liked = [i for i in range(votes) if "RL" in papers[chosen[i]].topics]
    kinds = [model.MORE if i in set(liked) else (model.LESS if i % 2 else model.SHOWN) for i in range(votes)]
    ballot = [model.Vote(i, k) for i, k in enumerate(kinds)]
    back = list(range(votes, votes + background))

    ours_s, fitted = _timed(
        lambda: model.train(vectors, [*ballot, model.Vote(votes - 1, model.MORE)], background=back), runs
    )

    from scipy import optimize  # noqa: F401  (imported by the model already; timing excludes imports)
    from sklearn.linear_model import LogisticRegression

    def sklearn_train():
        rows = list(range(votes + background))
        x, _ = model._compact(vectors[rows])
        y = np.asarray([1 if k == model.MORE else 0 for k in kinds] + [0] * background)
        w = np.asarray([model.EVIDENCE[k][1] for k in kinds] + [model.BACKGROUND_WEIGHT] * background)
        w[y == 1] *= w[y == 0].sum() / w[y == 1].sum()
        return LogisticRegression(C=model.C, solver="liblinear").fit(x, y, sample_weight=w)

    sklearn_s, _ = _timed(sklearn_train, runs)
    blob = fitted.dumps()

    day = vectors[votes + background :]
    models = [model.PersonalModel.loads(blob)] * chunk
    product_s, scores = _timed(lambda: model.score_many(models, day), 3)

    rows = [
        dict(zip(day[i].indices.tolist(), day[i].data.tolist(), strict=True)) for i in range(day.shape[0])
    ]

    def loop(n: int):
        out = []
        for m in models[:n]:
            weights = m.weights
            out.append([sum(weights.get(b, 0.0) * v for b, v in row.items()) + m.intercept for row in rows])
        return out

    sample = 50
    loop_s, looped = _timed(lambda: loop(sample), 3)
    assert np.allclose(np.asarray(looped), scores[:sample], atol=1e-3)
    return {
        "votes": votes,
        "background": background,
        "train_ms": 1000 * ours_s,
        "train_sklearn_ms": 1000 * sklearn_s,
        "model_bytes": len(blob),
        "model_weights": len(model.PersonalModel.loads(blob).weights),
        "chunk": chunk,
        "day_papers": day.shape[0],
        "score_product_us_per_subscriber": 1e6 * product_s / chunk,
        "score_loop_us_per_subscriber": 1e6 * loop_s / sample,
    }


def reader_table(e: dict, ours: str, baseline: str) -> list[str]:
    """The replay's figures `e` as a table: a row per reader (± its standard error), then the mean."""
    lines = [f"| reader | base rate | {ours} | {baseline} | ours - baseline |", "|---|---:|---:|---:|---:|"]
    for name, r in e["readers"].items():
        lines.append(
            f"| {name} | {r['base_rate']:.3f} | {r['ours']:.3f} ± {r['ours_stderr']:.3f} | "
            f"{r['baseline']:.3f} ± {r['baseline_stderr']:.3f} | {r['ours'] - r['baseline']:+.3f} |"
        )
    mean = e["mean"]
    lines.append(
        f"| **mean** | | **{mean['ours']:.3f}** | **{mean['baseline']:.3f}** | {mean['ours'] - mean['baseline']:+.3f} |"
    )
    return lines


def markdown(report: dict) -> str:
    m, c = report["machine"], report["costs"]
    lines = [
        "# The reader's model: offline ranking quality and costs",
        "",
        f"`python -m bench.ranking` on {common.machine_line(m)}; {report['date']}.",
        "",
    ]
    if "evaluation" in report:
        e = report["evaluation"]
        lines += [
            f"## Quality: `manage.py evaluate_ranking --set {report['set']}`",
            "",
            f"{e['papers']:,} papers over {e['days']} days. Protocol (alerts/search/evaluation.py): days 1-5, "
            "40 random papers shown, *more like this* on the liked ones; from day 6 the model ranks all the "
            "day's papers, the reader sees the top 10 and votes *more* / *less*, the model learns before the "
            "next day. Daily score: liked in the top 10 / min(10, liked that day); a reader's figure is the mean "
            "over days 6 to the last (days without a liked paper left out); ± is the standard error of the "
            "daily scores. Baseline, in the same run: arxiv-sanity-lite's method (tf-idf with bigrams, "
            "sublinear tf, English stop words; LinearSVC C=0.1, balanced; positives the *more* votes, "
            "negatives every other paper shown; retrained each day).",
            "",
            "**The labels are coarse**: arXiv listings and keyword-rule topics, not readers' judgements.",
            "",
            *reader_table(e, "ours", "baseline"),
            "",
        ]
        ours, base = e["mean"]["ours"], e["mean"]["baseline"]
        lines += [
            f"Ours / baseline: **{ours / base:.2f}x** (target 1.1x). Training after each day's votes during the "
            f"replay: median {e['train_ms_median']:.1f} ms, p95 {e['train_ms_p95']:.1f} ms.",
            "",
            "The model sees title, abstract, authors and the votes. Left out here, to be measured "
            "on the service's own data once it has votes: the papers' categories (the set's listings are the answers of some "
            "readers), Hugging Face upvotes (not in the set) and the weak evidence of filter matches (the "
            "simulated readers have no filters).",
            "",
        ]
    lines += [
        "## Costs",
        "",
        f"A subscriber with {c['votes']} votes and {c['background']} background papers, retrained after one more vote; "
        f"the model scored in a chunk of {c['chunk']:,} subscribers against {c['day_papers']} papers (median of runs).",
        "",
        "| what | ours | alternative |",
        "|---|---:|---:|",
        f"| training after a vote (target under 50 ms) | **{c['train_ms']:.1f} ms** (Newton-CG, numpy/scipy) | "
        f"{c['train_sklearn_ms']:.1f} ms (scikit-learn liblinear, same rows) |",
        f"| stored model (target under 20 KB) | **{c['model_bytes']:,} bytes** ({c['model_weights']:,} weights) | |",
        f"| scoring, per subscriber | **{c['score_product_us_per_subscriber']:.1f} us** (one sparse product per chunk) | "
        f"{c['score_loop_us_per_subscriber']:.1f} us (plain-Python dict loop) |",
        "",
    ]
    return "\n".join(lines)


def _figures(evaluation) -> dict:
    figures = evaluation.as_json()
    for r in evaluation.readers:
        figures["readers"][r.name].update(ours_stderr=r.stderr("ours"), baseline_stderr=r.stderr("baseline"))
    figures.update(papers=evaluation.papers, days=evaluation.days)
    figures.update(train_ms_median=evaluation.train_ms_median, train_ms_p95=evaluation.train_ms_p95)
    return figures


def ceiling_markdown(report: dict) -> str:
    e = report["informed"]
    lines = [
        "# The reader's model: what complete feedback would give (a ceiling)",
        "",
        f"`python -m bench.ranking --ceiling` on {common.machine_line(report['machine'])}; {report['date']}.",
        "",
        f"The replay of `manage.py evaluate_ranking --set {report['set']}` ({e['papers']:,} papers, {e['days']} "
        "days, the same readers, days and scoring), except that from day 6 on each method learns from the "
        "label of every earlier paper (*more* when the reader likes it, *less* otherwise) instead of the "
        "votes on the papers it showed (40 a day for five days, then 10 a day): by the last day "
        f"{e['papers']:,} labels less the last day's, where a reader has given a few hundred votes. Both "
        "methods in one run; ± is the standard error of the reader's daily scores.",
        "",
        *reader_table(e, "ours, every label", "baseline's method, every label"),
        "",
    ]
    ours, base = e["mean"]["ours"], e["mean"]["baseline"]
    lines += [
        f"With every label, ours / the baseline's method: **{ours / base:.2f}x**.",
    ]
    voted = common.load("ranking")
    if voted and "evaluation" in voted and voted.get("set") == report["set"]:
        v = voted["evaluation"]["mean"]
        lines += [
            "",
            f"Trained on the votes (bench/results/ranking.md, {voted['date']}): ours {v['ours']:.3f}, "
            f"baseline {v['baseline']:.3f} ({v['ours'] / v['baseline']:.2f}x; target 1.1x). Against the "
            f"baseline trained on the votes, complete feedback takes ours to {ours / v['baseline']:.2f}x.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="costs only, on 3,000 papers; nothing written")
    parser.add_argument(
        "--set", type=Path, default=DEFAULT_SET, help="labelled set (JSON lines, gzip or not)"
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="both methods taught every earlier paper's label instead of the votes; writes ranking_ceiling",
    )
    args = parser.parse_args()

    from alerts.search.evaluation import evaluate, load_set, report_lines

    papers = load_set(args.set)
    report: dict = {"machine": common.machine(), "date": dt.date.today().isoformat(), "set": args.set.name}
    if args.ceiling:
        evaluation = evaluate(papers, informed=True)
        print("\n".join(report_lines(evaluation)))
        report["informed"] = _figures(evaluation)
        common.write("ranking_ceiling", report, ceiling_markdown(report))
        return
    if args.quick:
        report["costs"] = costs(papers[:3000], runs=3)
        print(markdown(report))
        return
    report["costs"] = costs(papers)
    evaluation = evaluate(papers)
    print("\n".join(report_lines(evaluation)))
    report["evaluation"] = _figures(evaluation)
    common.write("ranking", report, markdown(report))


if __name__ == "__main__":
    main()
