"""The reader's own model: a small linear model per subscriber over the papers' text.

Plain Python (numpy and scipy for the sparse algebra), no Django: the service feeds it
votes and papers, the offline evaluation (`alerts.search.evaluation`) replays a labelled
set through the very same code.

- **Features** (`paper_terms`): the normalised words of title and abstract (the same
  `textnorm` stems the query language uses, English stop words left out), adjacent word
  pairs, the authors (`au:` + folded full name) and, when the service has them, the
  categories (`cat:` + name). Title words count twice. Each feature is hashed
  (CRC-32, 2**20 buckets), so no vocabulary has to be stored or shared.
- **Vectors** (`Corpus`): sublinear tf x idf over the recent papers (document frequencies
  kept per bucket, updated as papers arrive), one L2-normalised block per kind (text,
  authors, categories), the blocks weighted so that the text decides.
- **Learning** (`train`): L2-regularised logistic regression. *More like this* is a positive,
  *less like this* a negative, a paper shown and not voted on a weaker negative, a paper
  the subscriber's filters matched a weak positive, and a sample of the period's other
  papers a weak negative (most papers are not for any one reader: this keeps the model
  calibrated when the reader has only ever seen a handful of papers). The score adds the
  cosine similarity to the centroid of the liked papers, which carries the first few
  votes before the classifier has seen enough of both kinds.
- **Storage** (`PersonalModel.dumps`): the largest weights by magnitude (at most
  `MAX_WEIGHTS`), bucket ids as uint32 and weights as float16, zlib-compressed: well
  under 20 KB.
- **Similar papers** (`similar`): the papers nearest to the centroid of a few seed papers
  (cosine of their vectors), for a topic of kind "similar to"; no training needed. The
  callers leave the categories out of these vectors: a shared category alone would make
  every paper of the seeds' categories pass the threshold.
- **Scoring** (`score_many`): the models of a chunk of subscribers as one sparse matrix
  times the period's paper matrix, one product for all of them.
"""

from __future__ import annotations

import functools
import math
import random
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import optimize
from threadpoolctl import ThreadpoolController

from alerts.search import textnorm

__all__ = [
    "MAX_WEIGHTS",
    "Corpus",
    "PaperText",
    "PersonalModel",
    "Vote",
    "paper_terms",
    "reasons",
    "score_many",
    "similar",
    "train",
]

FEATURE_BITS = 20
DIMENSION = 1 << FEATURE_BITS
_MASK = DIMENSION - 1
# Top weights kept when a model is stored: 2,000 x 6 bytes before compression.
MAX_WEIGHTS = 2000
# Weight of each block of a paper's vector (each block is L2-normalised first).
TEXT_WEIGHT = 1.0
AUTHOR_WEIGHT = 0.35
CATEGORY_WEIGHT = 0.5
TITLE_REPEAT = 2

# English function words (stemmed by textnorm below): they say nothing about a topic.
_STOP_WORDS = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each either few for
from further had has have having he her here hers herself him himself his how however i if in
into is it its itself just may me might more most must my myself no nor not now of off on
once only or other our ours ourselves out over own same shall she should so some such than
that the their theirs them themselves then there these they this those through thus to too
under until up upon us very via was we were what when where whether which while who whom why
will with within without would yet you your yours yourself yourselves
paper propose proposed present show shows using use used based new approach method methods
results work study""".split()  # noqa: SIM905 (a list of 170 strings reads worse)
STOP_STEMS = frozenset(t for w in _STOP_WORDS for t in textnorm.analyse(w)[0])


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the model reads of a paper. `categories` empty when unknown (or withheld)."""

    title: str
    abstract: str
    authors: Sequence[str] = ()
    categories: Sequence[str] = ()

    def __post_init__(self) -> None:
        # Tuples, so that a paper's text can key the cache of its features.
        object.__setattr__(self, "authors", tuple(self.authors))
        object.__setattr__(self, "categories", tuple(self.categories))


def _bucket(term: str) -> int:
    return zlib.crc32(term.encode("utf-8")) & _MASK


def _text_terms(text: str, repeat: int, counts: Counter[str]) -> None:
    tokens = textnorm.analyse(text)[0]
    previous = None
    for token in tokens:
        if token in STOP_STEMS or token.isdigit() or len(token) < 2:
            previous = None
            continue
        for _ in range(repeat):
            counts[token] += 1
            if previous is not None:
                counts[previous + " " + token] += 1
        previous = token


def paper_terms(paper: PaperText) -> tuple[Counter[str], list[str], list[str]]:
    """(term counts of title and abstract, author features, category features)."""
    counts: Counter[str] = Counter()
    _text_terms(paper.title, TITLE_REPEAT, counts)
    _text_terms(paper.abstract, 1, counts)
    authors = ["au:" + " ".join(textnorm.name_tokens(name)) for name in paper.authors if name.strip()]
    categories = ["cat:" + c.strip().lower() for c in paper.categories if c.strip()]
    return counts, authors, categories


@dataclass(slots=True)
class _Hashed:
    text: dict[int, float]
    authors: list[int]
    categories: list[int]

    def buckets(self) -> set[int]:
        return set(self.text) | set(self.authors) | set(self.categories)


# A period's papers are read once however many subscribers vote on them.
@functools.lru_cache(maxsize=20_000)
def _hashed(paper: PaperText) -> _Hashed:
    counts, authors, categories = paper_terms(paper)
    text: dict[int, float] = {}
    for term, n in counts.items():
        b = _bucket(term)
        text[b] = text.get(b, 0.0) + n
    return _Hashed(text, [_bucket(a) for a in authors], [_bucket(c) for c in categories])


@dataclass
class Corpus:
    """Document frequencies of the feature buckets over the papers seen (e.g. recent days).

    `vectors` turns papers into rows of a sparse matrix (L2-normalised tf-idf blocks);
    a term seen in fewer than `min_df` papers is left out (it cannot generalise).
    """

    min_df: int = 2
    n_docs: int = 0
    df: Counter[int] = field(default_factory=Counter)

    def add(self, papers: Iterable[PaperText]) -> None:
        for paper in papers:
            self.n_docs += 1
            self.df.update(_hashed(paper).buckets())

    def idf(self, bucket: int) -> float:
        return math.log((1 + self.n_docs) / (1 + self.df.get(bucket, 0))) + 1.0

    def _row(self, hashed: _Hashed) -> dict[int, float]:
        row: dict[int, float] = {}
        min_df, df = self.min_df, self.df
        block = {
            b: (1.0 + math.log(n)) * self.idf(b) for b, n in hashed.text.items() if df.get(b, 0) >= min_df
        }
        for blocks, weight in (
            (block, TEXT_WEIGHT),
            ({b: self.idf(b) for b in hashed.authors if df.get(b, 0) >= min_df}, AUTHOR_WEIGHT),
            ({b: self.idf(b) for b in hashed.categories}, CATEGORY_WEIGHT),
        ):
            norm = math.sqrt(sum(v * v for v in blocks.values()))
            if norm:
                scale = weight / norm
                for b, v in blocks.items():
                    row[b] = row.get(b, 0.0) + v * scale
        return row

    def vectors(self, papers: Sequence[PaperText]) -> sp.csr_matrix:
        """One row per paper (CSR, float32, DIMENSION columns)."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for paper in papers:
            row = self._row(_hashed(paper))
            indices.extend(row)
            data.extend(row.values())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(papers), DIMENSION),
        )


# Kinds of evidence and the weight of each in training (a vote counts most).
MORE = "more"
LESS = "less"
SHOWN = "shown"  # shown in a digest, no vote: weak negative
MATCHED = "matched"  # a filter of the subscriber matched it: weak positive
EVIDENCE = {MORE: (1, 1.0), LESS: (0, 1.0), SHOWN: (0, 0.5), MATCHED: (1, 0.3)}
# Papers of the period nobody voted on, sampled as weak negatives, and their total weight
# relative to one vote.
BACKGROUND_SAMPLE = 200
BACKGROUND_WEIGHT = 0.02
# Liked and other papers weigh the same in total (as the baseline's balanced class weights).
BALANCED = 1
# Inverse regularisation strength of the logistic regression.
C = 4.0
# Weight of the cosine similarity to the liked papers' centroid in the score.
CENTROID_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class Vote:
    """One piece of evidence: a paper's row (index in a matrix) and its kind (MORE, ...)."""

    row: int
    kind: str


class PersonalModel:
    """A subscriber's weights over the feature buckets (sparse), and an intercept.

    A model is never changed once built (training builds a new one): a stored model is read
    to score and propose papers. `loads` keeps its weights as arrays only, as scoring and
    `reasons` use them; the dict form (`weights`) is built on first use.
    """

    __slots__ = ("_arrays", "_weights", "intercept")

    def __init__(self, weights: dict[int, float] | None = None, intercept: float = 0.0) -> None:
        self._weights: dict[int, float] | None = weights if weights is not None else {}
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.intercept = intercept

    @classmethod
    def _of_arrays(cls, ids: np.ndarray, values: np.ndarray, intercept: float) -> PersonalModel:
        """A model whose weights are `values` at the ascending bucket ids `ids`."""
        model = cls(None, intercept)
        model._weights, model._arrays = None, (ids, values)
        return model

    @property
    def weights(self) -> dict[int, float]:
        """{bucket: weight}; a loaded model's in ascending bucket order."""
        if self._weights is None:
            ids, values = self._arrays
            self._weights = dict(zip(ids.tolist(), values.tolist(), strict=True))
        return self._weights

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PersonalModel):
            return NotImplemented
        return self.intercept == other.intercept and self.weights == other.weights

    __hash__ = None  # compared by value, as the dataclass it replaces was

    def __repr__(self) -> str:
        return f"PersonalModel({len(self.weights)} weights, intercept={self.intercept:.4g})"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket ids in ascending order, their weights)."""
        if self._arrays is None:
            weights = self.weights
            ids = np.fromiter(sorted(weights), dtype=np.int64, count=len(weights))
            values = np.fromiter((weights[i] for i in ids.tolist()), dtype=np.float64, count=len(ids))
            self._arrays = (ids, values)
        return self._arrays

    def _entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket ids, weights) in the order of `weights` (a loaded model's: ascending),
        which fixes the order in which `score_many` sums a paper's terms."""
        if self._weights is None:
            return self._arrays
        weights = self._weights
        return (
            np.fromiter(weights.keys(), dtype=np.int64, count=len(weights)),
            np.fromiter(weights.values(), dtype=np.float64, count=len(weights)),
        )

    def score(self, vectors: sp.csr_matrix) -> np.ndarray:
        return score_many([self], vectors)[0]

    def dumps(self) -> bytes:
        """Compact bytes: the MAX_WEIGHTS largest weights, uint32 ids and float16 values, zlib."""
        all_ids, all_values = self._entries()
        # The largest by magnitude (ties in insertion order), then by id: numpy, as a model
        # has tens of thousands of weights and is stored after every training.
        keep = np.argsort(-np.abs(all_values), kind="stable")[:MAX_WEIGHTS]
        keep = keep[np.argsort(all_ids[keep], kind="stable")]
        ids = all_ids[keep].astype("<u4")
        # Delta-encoded ids compress far better than raw ones.
        deltas = np.diff(ids, prepend=np.uint32(0)).astype("<u4")
        values = all_values[keep].astype("<f2")
        header = struct.pack("<BfI", 1, self.intercept, len(keep))
        return zlib.compress(header + deltas.tobytes() + values.tobytes(), 9)

    @classmethod
    def loads(cls, blob: bytes) -> PersonalModel:
        raw = zlib.decompress(blob)
        version, intercept, n = struct.unpack_from("<BfI", raw)
        if version != 1:
            raise ValueError(f"unknown model format {version}")
        offset = struct.calcsize("<BfI")
        ids = np.cumsum(np.frombuffer(raw, dtype="<u4", count=n, offset=offset), dtype=np.uint64)
        values = np.frombuffer(raw, dtype="<f2", count=n, offset=offset + 4 * n).astype(np.float64)
        # Delta-encoded: the ids come out ascending, as `arrays` gives them.
        return cls._of_arrays(ids.astype(np.int64), values, float(intercept))


def train(
    vectors: sp.csr_matrix,
    votes: Sequence[Vote],
    *,
    background: Sequence[int] = (),
    seed: int = 0,
) -> PersonalModel:
    """A model from `votes` on rows of `vectors` (and unvoted `background` rows).

    Without a positive, the model is empty (scores 0: the digest stays as the filters made it).
    """
    rows: list[int] = []
    labels: list[int] = []
    weights: list[float] = []
    seen: dict[int, int] = {}
    for vote in votes:
        label, weight = EVIDENCE[vote.kind]
        if vote.row in seen:  # the latest evidence about a paper wins
            at = seen[vote.row]
            labels[at], weights[at] = label, weight
            continue
        seen[vote.row] = len(rows)
        rows.append(vote.row)
        labels.append(label)
        weights.append(weight)
    if 1 not in labels:
        return PersonalModel()
    pool = [r for r in background if r not in seen]
    if len(pool) > BACKGROUND_SAMPLE:
        pool = random.Random(seed).sample(pool, BACKGROUND_SAMPLE)
    if pool:
        each = BACKGROUND_WEIGHT * len(rows) / len(pool)
        rows.extend(pool)
        labels.extend([0] * len(pool))
        weights.extend([each] * len(pool))

    x, columns = _compact(vectors[rows])
    y = np.asarray(labels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if BALANCED and 0 < y.sum() < len(y):
        # The liked papers weigh as much in total as the others: a reader likes few papers.
        w[y == 1] *= w[y == 0].sum() / w[y == 1].sum()
    total = np.zeros(len(columns))
    intercept = 0.0
    if y.sum() < len(y):
        coef, intercept = _logistic(x, y, w, C)
        total += coef
    if CENTROID_WEIGHT:
        centroid = np.asarray(x[: len(seen)][np.asarray(labels[: len(seen)]) == 1].mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid))
        if norm:  # liked papers with no known term add nothing
            total += CENTROID_WEIGHT * centroid / norm
    kept = np.flatnonzero(total)
    model = dict(zip(columns[kept].tolist(), total[kept].tolist(), strict=True))
    return PersonalModel(model, float(intercept))


_THREADS = ThreadpoolController()


def _compact(x: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """`x` restricted to the columns it uses, and those columns (a few thousand of 2**20)."""
    columns, inverse = np.unique(x.indices, return_inverse=True)
    return sp.csr_matrix(
        (x.data, inverse.astype(np.int32), x.indptr), shape=(x.shape[0], len(columns))
    ), columns


def _logistic(x: sp.csr_matrix, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression (Newton-CG): (coefficients, intercept).

    Minimises sum_i w_i log(1 + exp(-s_i (x_i.beta + b))) + |beta|^2 / (2c), s_i = +-1.
    Newton's method with conjugate-gradient steps needs a handful of iterations, each a few
    sparse products with the Hessian (X^T D X + I/c, never formed); L-BFGS reaches the same
    minimum in about 35 iterations whose bookkeeping costs more than the products
    (bench/reader_training.py: 4x the time at 300 votes).
    """
    sign = 2.0 * y - 1.0
    xt = x.T.tocsr()
    n_features = x.shape[1]
    curvature: list = [None, None]  # (theta, the Hessian's diagonal weights at theta)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b = theta[:n_features], theta[n_features]
        margin = sign * (x @ beta + b)
        # log(1 + exp(-m)) and its derivative, stable for large |m|.
        value = float(w @ np.logaddexp(0.0, -margin)) + float(beta @ beta) / (2 * c)
        slope = -w * sign * np.exp(-np.logaddexp(0.0, margin))
        grad = np.empty_like(theta)
        grad[:n_features] = xt @ slope + beta / c
        grad[n_features] = slope.sum()
        return value, grad

    def hessian_times(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        # Newton-CG asks for several products at one theta (an array it then updates in
        # place): the weights are computed once per theta.
        if curvature[0] is None or not np.array_equal(curvature[0], theta):
            p = np.exp(-np.logaddexp(0.0, -(x @ theta[:n_features] + theta[n_features])))
            curvature[:] = [theta.copy(), w * p * (1.0 - p)]
        z = curvature[1] * (x @ v[:n_features] + v[n_features])
        out = np.empty_like(v)
        out[:n_features] = xt @ z + v[:n_features] / c
        out[n_features] = z.sum()
        return out

    # One BLAS thread: the problem is small, and on a busy machine OpenBLAS's threads spend
    # their time waiting for each other (a worker process runs one task at a time anyway).
    with _THREADS.limit(limits=1, user_api="blas"):
        result = optimize.minimize(
            loss,
            np.zeros(n_features + 1),
            jac=True,
            hessp=hessian_times,
            method="Newton-CG",
            options={"xtol": 1e-4, "maxiter": 50},
        )
    return result.x[:n_features], float(result.x[n_features])


def score_many(models: Sequence[PersonalModel], vectors: sp.csr_matrix) -> np.ndarray:
    """Scores of every paper (rows of `vectors`) for every model: (len(models), papers).

    One sparse product for the whole chunk, not a loop over subscribers or papers.
    """
    entries = [model._entries() for model in models]
    indptr = np.cumsum([0, *(len(ids) for ids, _ in entries)])
    indices = np.concatenate([ids for ids, _ in entries]) if entries else np.zeros(0, dtype=np.int64)
    data = np.concatenate([values for _, values in entries]) if entries else np.zeros(0)
    w = sp.csr_matrix(
        (data.astype(np.float32), indices, indptr),
        shape=(len(models), DIMENSION),
    )
    scores = (w @ vectors.T).toarray()
    return scores + np.asarray([[m.intercept] for m in models], dtype=np.float32)


def reasons(model: PersonalModel, paper: PaperText, n: int = 3) -> list[str]:
    """The paper's features that weigh most for `model`, best first: normalised words (as
    `textnorm` gives them, so `textnorm.highlight_spans` can mark them), word pairs
    (`"retriev augment"`) and authors (`"au:yann lecun"`). What makes the paper similar."""
    ids, values = model.arrays()
    terms, buckets = _term_arrays(paper)
    if not len(ids) or not terms:
        return []
    # Each of the paper's buckets looked up among the model's (ascending) in one call.
    at = np.minimum(np.searchsorted(ids, buckets), len(ids) - 1)
    weights = np.where(ids[at] == buckets, values[at], 0.0)
    liked = np.flatnonzero(weights > 0)
    if len(liked) > n:
        # Only the n largest (and any tied with the n-th) can be named.
        nth = np.partition(weights[liked], -n)[-n]
        liked = liked[weights[liked] >= nth]
    # Largest first, ties in the order of the terms.
    return [term for _, term in sorted((-weights[i], terms[i]) for i in liked.tolist())[:n]]


@functools.lru_cache(maxsize=20_000)
def _term_arrays(paper: PaperText) -> tuple[tuple[str, ...], np.ndarray]:
    """`_term_buckets` as (the terms, their buckets as an array)."""
    pairs = _term_buckets(paper)
    return tuple(term for term, _ in pairs), np.fromiter(
        (b for _, b in pairs), dtype=np.int64, count=len(pairs)
    )


# A digest run proposes the same papers to many readers: each paper is read once.
@functools.lru_cache(maxsize=20_000)
def _term_buckets(paper: PaperText) -> tuple[tuple[str, int], ...]:
    """The paper's words, word pairs and authors (what `reasons` can name), with their buckets."""
    counts, authors, _ = paper_terms(paper)
    return tuple((term, _bucket(term)) for term in [*counts, *authors])


# "Similar to these papers": a paper is similar when the cosine of its vector with the
# centroid of the seed papers' vectors reaches SIMILAR_THRESHOLD; at most SIMILAR_TOP_K
# of a period, best first. On the shared relevance sample (bench/similar_threshold.py,
# bench/results/similar_threshold.md) 0.08 lets 1-8 of a day's ~270 papers through for 3
# seeds, 30-64% of them sharing the seeds' label where a random pick gets 2-18%.
SIMILAR_THRESHOLD = 0.08
SIMILAR_TOP_K = 10


def unit_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """`x` with every row scaled to length 1 (rows of zeros stay zeros)."""
    x = sp.csr_matrix(x, copy=True)
    counts = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), counts)
    norms = np.sqrt(np.bincount(rows, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
    norms[norms == 0] = 1.0
    x.data = (x.data / norms[rows]).astype(x.dtype)
    return x


def centroid_rows(groups: Sequence[sp.csr_matrix]) -> sp.csr_matrix:
    """One row per group of seed rows: the mean of its rows (each scaled to length 1),
    scaled to length 1; a row of zeros for a group with no known term."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for group in groups:
        unit = unit_rows(group)
        columns, inverse = np.unique(unit.indices, return_inverse=True)
        sums = np.bincount(inverse, weights=unit.data, minlength=len(columns))
        norm = math.sqrt(float(sums @ sums))
        if norm:
            indices.extend(columns.tolist())
            data.extend((sums / norm).tolist())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(groups), DIMENSION),
    )


def similarities(vectors_t: sp.csr_matrix, groups: Sequence[sp.csr_matrix]) -> np.ndarray:
    """The cosine of every paper with each group's centroid, (groups, papers), as one
    sparse product for all the groups (a chunk's subscribers). `vectors_t`: the papers'
    rows of length 1 (`unit_rows`), transposed to CSR once (`.T.tocsr()`)."""
    return (centroid_rows(groups) @ vectors_t).toarray()


def most_similar(
    cosine: np.ndarray,
    *,
    threshold: float = SIMILAR_THRESHOLD,
    limit: int = SIMILAR_TOP_K,
    allowed: Callable[[int], bool] | None = None,
) -> list[tuple[int, float]]:
    """`(paper, cosine)` for the papers at `threshold` or above (and `allowed`, when
    given), best first, at most `limit`."""
    rows = np.flatnonzero(cosine >= threshold).tolist()
    if allowed is not None:
        rows = [r for r in rows if allowed(r)]
    ranked = sorted(rows, key=lambda r: (-cosine[r], r))[:limit]
    return [(r, float(cosine[r])) for r in ranked]


def similar(
    vectors: sp.csr_matrix,
    seeds: sp.csr_matrix,
    *,
    threshold: float = SIMILAR_THRESHOLD,
    limit: int = SIMILAR_TOP_K,
) -> list[tuple[int, float]]:
    """Rows of `vectors` most similar to the `seeds` (rows of the same `Corpus`):
    `(row, cosine with the seeds' centroid)` for those at `threshold` or above, best first,
    at most `limit`. No seeds, or seeds with no known term: nothing."""
    if seeds.shape[0] == 0 or vectors.shape[0] == 0:
        return []
    cosine = similarities(unit_rows(vectors).T.tocsr(), [seeds])[0]
    return most_similar(cosine, threshold=threshold, limit=limit)
