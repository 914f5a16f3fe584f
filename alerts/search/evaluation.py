"""Offline evaluation of the reader's model on a labelled set, day by day (no database).

The set's format is described in `shared/samples/relevance/README.md`: JSON lines (gzip or
not), one paper a line with `arxiv_id`, `day`, `title`, `authors`, `abstract`, and the
labels `listings` and `topics`. Simulated readers like the papers that carry a label; the
model sees title, abstract and authors and the readers' votes, never the labels.

Protocol, the same for our model and for the baseline (arxiv-sanity-lite's method):

- days 1-5 (the reader has just signed up): 40 of the day's papers, drawn at random with a
  fixed seed, are shown; the reader votes *more like this* on each liked one, the others
  were shown and not liked;
- from day 6 on: the model ranks all of the day's papers; the reader sees the top 10 and
  votes *more* on the liked ones and *less* on the others; the model learns from those votes
  before the next day;
- the day's score is (liked papers in the top 10) / min(10, liked papers that day); a
  reader's figure is the mean over days 6 to the last, days with no liked paper left out;
  the headline is the mean over readers.

What this leaves out of the service's model: the papers' categories (the set's `listings`
are the answers of some readers) and Hugging Face upvotes (not in the set), and the weak
evidence of filter matches (the simulated readers have no filters).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from alerts.search import model as reader_model

SIGNUP_DAYS = 5
SIGNUP_SHOWN = 40
DIGEST_SIZE = 10
SEED = 20251011


@dataclass(frozen=True, slots=True)
class LabelledPaper:
    arxiv_id: str
    day: str
    text: reader_model.PaperText
    listings: tuple[str, ...]
    topics: tuple[str, ...]


READERS: dict[str, Callable[[LabelledPaper], bool]] = {
    "cs.IR": lambda p: "cs.IR" in p.listings,
    "RAG": lambda p: "RAG" in p.topics,
    "RL": lambda p: "RL" in p.topics,
    "LongContext": lambda p: "LongContext" in p.topics,
    "cs.CL only": lambda p: p.listings == ("cs.CL",),
    "RL and cs.CL": lambda p: "RL" in p.topics and "cs.CL" in p.listings,
}


class SetError(ValueError):
    """The labelled set cannot be read; the message says where and why."""


def _strings(value: object, what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SetError(f"{where}: {what} must be a list of strings")
    return tuple(value)


def _lines(path: Path) -> Iterator[str]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            yield from lines
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SetError(f"{path}: cannot read it ({exc})") from None


def load_set(path: str | Path) -> list[LabelledPaper]:
    """The papers of a labelled set, in file order. Raises SetError on malformed input."""
    path = Path(path)
    if not path.is_file():
        raise SetError(f"{path}: no such file")
    papers: list[LabelledPaper] = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SetError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise SetError(f"{where}: expected a JSON object")
        for key in ("arxiv_id", "day", "title", "abstract"):
            if not isinstance(row.get(key), str):
                raise SetError(f"{where}: missing or non-text {key!r}")
        day = row["day"]
        if len(day) != 10 or day[4] != "-" or day[7] != "-" or not day.replace("-", "").isdigit():
            raise SetError(f"{where}: 'day' must be an ISO date (YYYY-MM-DD), got {day!r}")
        papers.append(
            LabelledPaper(
                arxiv_id=row["arxiv_id"],
                day=day,
                text=reader_model.PaperText(
                    title=row["title"],
                    abstract=row["abstract"],
                    authors=_strings(row.get("authors", []), "'authors'", where),
                ),
                listings=_strings(row.get("listings", []), "'listings'", where),
                topics=_strings(row.get("topics", []), "'topics'", where),
            )
        )
    if not papers:
        raise SetError(f"{path}: no papers")
    days = {p.day for p in papers}
    if len(days) <= SIGNUP_DAYS:
        raise SetError(f"{path}: {len(days)} days; the protocol needs more than {SIGNUP_DAYS}")
    return papers


# --- the two methods, behind one small interface -------------------------------------------


class _Method:
    """Ranks a day's papers from the votes so far. `votes`: (paper index, kind)."""

    def start_day(self, seen: Sequence[int], today: Sequence[int]) -> None: ...

    def scores(self, votes: Sequence[tuple[int, str]], today: Sequence[int]) -> np.ndarray | None: ...


class Ours(_Method):
    """The service's model (`alerts.search.model`), through its public functions: trained,
    stored (`dumps`) and read back (`loads`) as the service does before scoring."""

    def __init__(self, papers: Sequence[LabelledPaper], seed: int = SEED) -> None:
        self.papers = papers
        self.corpus = reader_model.Corpus()
        self.earlier: list[int] = []
        self.seed = seed
        self.train_seconds: list[float] = []
        # The day's vectors, computed once for all readers: {paper index: row of `matrix`}.
        self.row_of: dict[int, int] = {}
        self.matrix = None

    def start_day(self, seen: Sequence[int], today: Sequence[int]) -> None:
        self.corpus.add(self.papers[i].text for i in seen[self.corpus.n_docs :])
        self.earlier = list(seen[: len(seen) - len(today)])
        self.row_of = {}
        self.matrix = self.corpus.vectors([])

    def _vectors(self, order: Sequence[int]):
        missing = [i for i in dict.fromkeys(order) if i not in self.row_of]
        if missing:
            for i in missing:
                self.row_of[i] = len(self.row_of)
            added = self.corpus.vectors([self.papers[i].text for i in missing])
            self.matrix = sp.vstack([self.matrix, added], format="csr")
        return self.matrix[[self.row_of[i] for i in order]]

    def scores(self, votes: Sequence[tuple[int, str]], today: Sequence[int]) -> np.ndarray | None:
        if not any(kind == reader_model.MORE for _, kind in votes):
            return None
        voted = {i for i, _ in votes}
        pool = [i for i in self.earlier if i not in voted]
        rng = random.Random(f"{self.seed}:{len(votes)}")
        background = rng.sample(pool, min(reader_model.BACKGROUND_SAMPLE, len(pool)))
        # Rows: the voted papers, the background sample, today's papers.
        order = list(dict.fromkeys(i for i, _ in votes)) + background + list(today)
        row_of = {paper: row for row, paper in enumerate(order)}
        vectors = self._vectors(order)
        began = time.process_time()
        fitted = reader_model.train(
            vectors,
            [reader_model.Vote(row_of[i], kind) for i, kind in votes],
            background=[row_of[i] for i in background],
        )
        stored = fitted.dumps()
        self.train_seconds.append(time.process_time() - began)
        # Scored as the service scores: with the stored model (its largest weights, float16).
        return reader_model.PersonalModel.loads(stored).score(vectors[len(order) - len(today) :])


class Baseline(_Method):
    """arxiv-sanity-lite's method: tf-idf of title and abstract (bigrams, sublinear tf,
    English stop words) and a linear SVM (C=0.1, balanced class weights) whose positives are
    the *more* votes and negatives every other paper shown, retrained each day."""

    def __init__(self, papers: Sequence[LabelledPaper]) -> None:
        self.papers = papers
        self.x = None
        self.row_of: dict[int, int] = {}

    def start_day(self, seen: Sequence[int], today: Sequence[int]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",  # noqa: S106 (not a password)
            ngram_range=(1, 2),
            max_features=10000,
            norm="l2",
            use_idf=True,
            smooth_idf=True,
            sublinear_tf=True,
            max_df=0.5,
            min_df=min(5, len(seen)),
        )
        self.x = vectoriser.fit_transform(
            f"{self.papers[i].text.title} {self.papers[i].text.abstract}" for i in seen
        )
        self.row_of = {paper: row for row, paper in enumerate(seen)}

    def scores(self, votes: Sequence[tuple[int, str]], today: Sequence[int]) -> np.ndarray | None:
        from sklearn.svm import LinearSVC

        latest = dict(votes)
        y = np.asarray([1 if kind == reader_model.MORE else 0 for kind in latest.values()])
        if not 0 < y.sum() < len(y):
            return None
        clf = LinearSVC(C=0.1, class_weight="balanced", max_iter=10000, tol=1e-6)
        clf.fit(self.x[[self.row_of[i] for i in latest]], y)
        return clf.decision_function(self.x[[self.row_of[i] for i in today]])


# --- the replay ----------------------------------------------------------------------------


@dataclass
class ReaderResult:
    name: str
    base_rate: float
    daily: dict[str, list[float]] = field(default_factory=dict)  # method -> daily scores

    def mean(self, method: str) -> float:
        scores = self.daily[method]
        return statistics.fmean(scores) if scores else 0.0

    def stderr(self, method: str) -> float:
        scores = self.daily[method]
        return statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0


@dataclass
class Evaluation:
    readers: list[ReaderResult]
    days: int
    papers: int
    train_ms_median: float
    train_ms_p95: float

    def mean(self, method: str) -> float:
        return statistics.fmean(r.mean(method) for r in self.readers)

    def as_json(self) -> dict:
        return {
            "readers": {
                r.name: {
                    "ours": round(r.mean("ours"), 4),
                    "baseline": round(r.mean("baseline"), 4),
                    "base_rate": round(r.base_rate, 4),
                }
                for r in self.readers
            },
            "mean": {"ours": round(self.mean("ours"), 4), "baseline": round(self.mean("baseline"), 4)},
        }


def _ranked(scores: np.ndarray | None, today: Sequence[int], rng: random.Random) -> list[int]:
    """Today's papers best first; ties (and an untrained model) in a seeded random order."""
    order = list(range(len(today)))
    rng.shuffle(order)
    if scores is not None:
        order.sort(key=lambda k: -float(scores[k]))
    return [today[k] for k in order]


def evaluate(
    papers: Sequence[LabelledPaper],
    *,
    readers: dict[str, Callable[[LabelledPaper], bool]] | None = None,
    seed: int = SEED,
    progress: Callable[[str], None] | None = None,
    methods: Sequence[str] = ("ours", "baseline"),
    informed: bool = False,
) -> Evaluation:
    """Replays `papers` day by day for every reader, with our model and the baseline.

    `informed`: from day 6 on, each method learns from the label of every earlier paper
    (*more* when the reader likes it, *less* otherwise) instead of the reader's votes: what
    it makes of complete feedback, a ceiling for what votes can teach it under this protocol."""
    readers = READERS if readers is None else readers
    by_day: dict[str, list[int]] = {}
    for index, paper in enumerate(papers):
        by_day.setdefault(paper.day, []).append(index)
    days = sorted(by_day)
    liked = {name: [like(p) for p in papers] for name, like in readers.items()}
    results = {
        name: ReaderResult(name, sum(flags) / len(flags), {m: [] for m in ("ours", "baseline")})
        for name, flags in liked.items()
    }
    makers = {"ours": lambda: Ours(papers, seed), "baseline": lambda: Baseline(papers)}
    replayed: dict[str, _Method] = {name: makers[name]() for name in methods}
    votes = {(m, name): [] for m in methods for name in readers}
    seen: list[int] = []
    for number, day in enumerate(days, start=1):
        today = by_day[day]
        seen.extend(today)
        if progress:
            progress(f"day {number}/{len(days)} ({day}, {len(today)} papers)")
        if number <= SIGNUP_DAYS:
            shown = random.Random(f"{seed}:{day}").sample(today, min(SIGNUP_SHOWN, len(today)))
            for (_, name), got in votes.items():
                got.extend((i, reader_model.MORE if liked[name][i] else reader_model.SHOWN) for i in shown)
            continue
        for method_name, method in replayed.items():
            method.start_day(seen, today)
            earlier = seen[: len(seen) - len(today)]
            for name in readers:
                got = votes[(method_name, name)] if not informed else _every_label(liked[name], earlier)
                ranked = _ranked(method.scores(got, today), today, random.Random(f"{seed}:{day}:{name}"))
                top = ranked[:DIGEST_SIZE]
                total = sum(liked[name][i] for i in today)
                if total:
                    hits = sum(liked[name][i] for i in top)
                    results[name].daily[method_name].append(hits / min(DIGEST_SIZE, total))
                got.extend((i, reader_model.MORE if liked[name][i] else reader_model.LESS) for i in top)
    median, p95 = _training_ms(replayed.get("ours"))
    return Evaluation(list(results.values()), len(days), len(papers), median, p95)


def _every_label(liked: Sequence[bool], earlier: Sequence[int]) -> list[tuple[int, str]]:
    """The informed replay's votes: *more* on every earlier paper the reader likes, *less*
    on every other one."""
    return [(i, reader_model.MORE if liked[i] else reader_model.LESS) for i in earlier]


def _training_ms(ours: _Method | None) -> tuple[float, float]:
    """(median, p95) of our model's training times during the replay, in milliseconds."""
    train_ms = (
        sorted(1000 * s for s in ours.train_seconds)
        if isinstance(ours, Ours) and ours.train_seconds
        else [0.0]
    )
    return train_ms[len(train_ms) // 2], train_ms[min(len(train_ms) - 1, int(0.95 * len(train_ms)))]


def report_lines(evaluation: Evaluation) -> list[str]:
    """The figures as a table for a terminal."""
    lines = [
        f"{evaluation.papers} papers, {evaluation.days} days; days 1-{SIGNUP_DAYS}: "
        f"{SIGNUP_SHOWN} random papers shown, then the top {DIGEST_SIZE}.",
        f"Score: liked in the top {DIGEST_SIZE} / min({DIGEST_SIZE}, liked that day).",
        "The labels are coarse (arXiv listings and keyword-rule topics), not readers' judgements.",
        "",
        f"{'reader':<14} {'base rate':>9} {'ours':>14} {'baseline':>14} {'days':>5}",
    ]
    for r in evaluation.readers:
        lines.append(
            f"{r.name:<14} {r.base_rate:>9.3f} {r.mean('ours'):>7.3f} ±{r.stderr('ours'):.3f}"
            f" {r.mean('baseline'):>7.3f} ±{r.stderr('baseline'):.3f} {len(r.daily['ours']):>5}"
        )
    ours, baseline = evaluation.mean("ours"), evaluation.mean("baseline")
    ratio = f"{ours / baseline:.2f}x" if baseline else "n/a"
    lines += [
        f"{'mean':<14} {'':>9} {ours:>7.3f}        {baseline:>7.3f}",
        f"ours / baseline: {ratio} (± is the standard error of the reader's daily scores)",
        f"training after a day's votes: median {evaluation.train_ms_median:.1f} ms,"
        f" p95 {evaluation.train_ms_p95:.1f} ms",
    ]
    return lines
