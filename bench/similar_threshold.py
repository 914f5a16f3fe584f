"""How `alerts.search.model.similar` behaves at several thresholds, on the shared labelled set.

For each reader of the offline evaluation (a label: cs.IR, RAG, RL, ...) and each of 20
draws (fixed seed), 3 papers carrying the label from the set's first 10 days are the seeds;
every later day's papers are compared with their centroid. Printed per threshold: how many
papers a day reach it (before the top-k cut), the share of them carrying the seeds' label
(precision) and the label's base rate among all papers of those days (what a random pick
gets). The labels are coarse (arXiv listings, keyword-rule topics), so read the figures as
orders of magnitude.

Then the cost of the digest's way (`similarities`: a chunk's centroids x the run's papers,
one sparse product) beside its baseline, one product a subscriber, for
200 subscribers of 3 seeds over 3,000 papers, in the same run.

    .venv/bin/python -m bench.similar_threshold [PATH]
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict

import numpy as np

from alerts.search import model
from alerts.search.evaluation import READERS, load_set

DEFAULT_SET = "../shared/samples/relevance/arxiv-cs-ai-cl-ir-2025-10-11.jsonl.gz"
THRESHOLDS = (0.04, 0.06, 0.08, 0.1, 0.12, 0.15)
DRAWS = 20
SEEDS = 3


def main(path: str = DEFAULT_SET) -> None:
    papers = load_set(path)
    days = sorted({p.day for p in papers})
    early, late = set(days[:10]), days[10:]
    texts = [p.text for p in papers]
    corpus = model.Corpus()
    corpus.add(texts)
    vectors = corpus.vectors(texts)
    by_day = defaultdict(list)
    for i, p in enumerate(papers):
        by_day[p.day].append(i)
    rng = random.Random(0)
    print(f"{len(papers)} papers, {len(late)} days compared, {DRAWS} draws of {SEEDS} seeds per reader")
    print("reader         base rate  " + "  ".join(f"@{t:<4} n/day prec" for t in THRESHOLDS))
    for name, likes in READERS.items():
        pool = [i for i, p in enumerate(papers) if p.day in early and likes(p)]
        later = [i for d in late for i in by_day[d]]
        base = float(np.mean([likes(papers[i]) for i in later]))
        counts = {t: [] for t in THRESHOLDS}
        hits = {t: [] for t in THRESHOLDS}
        for _ in range(DRAWS):
            seeds = vectors[rng.sample(pool, SEEDS)]
            for day in late[:5]:
                rows = by_day[day]
                found = model.similar(vectors[rows], seeds, threshold=min(THRESHOLDS), limit=len(rows))
                for t in THRESHOLDS:
                    chosen = [rows[r] for r, c in found if c >= t]
                    counts[t].append(len(chosen))
                    hits[t].extend(likes(papers[i]) for i in chosen)
        cells = "  ".join(
            f"{np.mean(counts[t]):9.1f} {np.mean(hits[t]) if hits[t] else float('nan'):4.2f}"
            for t in THRESHOLDS
        )
        print(f"{name:14} {base:9.2f}  {cells}")


def cost(path: str = DEFAULT_SET, subscribers: int = 200, papers_n: int = 3000) -> None:
    texts = [p.text for p in load_set(path)[:papers_n]]
    corpus = model.Corpus()
    corpus.add(texts)
    vectors = corpus.vectors(texts)
    groups = [corpus.vectors(texts[i : i + SEEDS]) for i in range(subscribers)]
    vectors_t = model.unit_rows(vectors).T.tocsr()  # once per run in both ways
    started = time.perf_counter()
    for group in groups:
        model.most_similar(model.similarities(vectors_t, [group])[0])
    one_by_one = (time.perf_counter() - started) / subscribers
    started = time.perf_counter()
    for row in model.similarities(vectors_t, groups):
        model.most_similar(row)
    batched = (time.perf_counter() - started) / subscribers
    print(
        f"{subscribers} subscribers x {papers_n} papers: one product for all {batched * 1000:.2f} ms "
        f"a subscriber; baseline, one product a subscriber {one_by_one * 1000:.2f} ms"
    )


if __name__ == "__main__":
    cost(*sys.argv[1:2])
    main(*sys.argv[1:])
