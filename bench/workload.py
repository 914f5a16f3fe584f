"""Deterministic benchmark workloads: a day of papers and the subscribers' topic filters.

Everything comes from a fixed seed and from real vocabulary (the sample titles and
abstracts in tests/fixtures/sample_papers.json), so every run and every machine sees the
same workload:

- `papers(count)`: one day of papers: recombined real titles, ~1,200-character abstracts
  made of real sentences (with a few words swapped for others of the vocabulary, and a
  named method as real abstracts have), 2-7 authors from a pool with accents and
  particles, 1-3 arXiv categories in realistic proportions.
- `subscribers(count, vocabulary)`: streamed `(subscriber, filters)`; 1-10 filters each,
  mean 5, in the mix people write (single terms, AND, phrases, OR/NOT, ti:, au:, cat:,
  prefixes); most filters come from a pool of popular ones many subscribers share, the
  rest are written afresh; each filter aims at one of two selectivity tiers, about 0.1%
  and about 3% of a day's papers.
- `upvotes(count)` and `wants_trending(index)`: for digests, which papers of the day are
  on Hugging Face's trending list (and their upvotes), and which subscribers asked for
  the trending section.

Other benchmarks import this module; it has no Django imports.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from alerts.search import textnorm
from alerts.search.matcher import PaperDoc

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "sample_papers.json"

PAPER_SEED = 20260303
FILTER_SEED = 20260304
POPULAR_POOL = 2_000  # distinct popular filters
POPULAR_SHARE = 0.6  # share of filters taken from the popular pool
# Filters per subscriber, 1 to 10: these weights give a mean of 5.01.
FILTER_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
FILTER_COUNT_WEIGHTS = (9, 11, 12, 13, 13, 12, 10, 9, 7, 4)
# Selectivity tiers, as document frequencies on a day of 1,000 papers.
RARE = (1, 2)  # about 0.1%
COMMON = (20, 45)  # about 3%


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _split(
    "Yann Bernhard Adrian Yoshua Geoffrey Fei-Fei Jiawei Chao Jun Wei Xiang Li Ming Yifan Zhang Hao "
    "Andrew Ilya Sebastian Daniel Martin Thomas Anna Maria Sofia Elena Laura Julia Clara Chiara "
    "Léa Zoé Chloé Hélène Jérôme François Søren Åsa Björn Jürgen Łukasz Paweł Małgorzata "
    "Dmitry Olga Sergey Ivan Natalia Priya Rahul Aditya Ananya Saurabh Kenji Yuki Haruto Sakura "
    "Minyoung Jiwon Seung-Hoon Ji-Woo Ahmed Fatima Omar Leila Mehmet Ayşe Diego Lucía José Camila "
    "João Gonçalo Pedro Ngozi Chinedu Kwame Amara Timothy Roger Colin Paul Philip Felix Minxian"
)
SURNAMES = _split(
    "LeCun Schölkopf Bengio Hinton Wang Yang Chen Li Liu Zhang Zhao Huang Wu Zhou Xu Sun Ng Kim Park "
    "Lee Choi Nguyen Tran Pham Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann "
    "Dupont Martin Bernard Moreau Laurent García Rodríguez Martínez López González Pérez Sánchez "
    "Rossi Russo Ferrari Esposito Bianchi Romano Kowalski Nowak Wiśniewski Ivanov Smirnov Petrov "
    "Kuznetsov Sato Suzuki Takahashi Tanaka Watanabe Sharma Gupta Patel Singh Kumar Reddy Agarwal "
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson "
    "Øksendal Ångström Çelik Y\u0131lmaz Öztürk Šimić Dvořák Novák Hospedales Wattenhofer Theodorou "
    "Mallmann-Trenn Radzik Ruprecht Götschel Altinbüken Buyya Haffari Akella Kao Hacid"
)
# Surnames written with a particle; arXiv's API finds them as au:del_maestro, au:van_der_maaten.
PARTICLE_SURNAMES = ("Del Maestro", "van der Maaten", "de Freitas", "Van Gool", "von Luxburg", "da Silva")
# (category, weight): roughly the shares of a day's listing that subscribers of this
# service follow; the first one listed for a paper is its primary category.
CATEGORIES = (
    ("cs.LG", 30),
    ("cs.CV", 22),
    ("cs.CL", 20),
    ("cs.AI", 18),
    ("stat.ML", 8),
    ("cs.RO", 6),
    ("cs.CR", 4),
    ("cs.DC", 4),
    ("cs.IR", 3),
    ("cs.NE", 2),
    ("eess.IV", 3),
    ("eess.SP", 2),
    ("math.OC", 3),
    ("math.PR", 1),
    ("quant-ph", 3),
    ("cond-mat.str-el", 1),
    ("hep-th", 1),
    ("astro-ph.CO", 1),
    ("q-bio.NC", 1),
    ("physics.comp-ph", 1),
)
METHOD_HEADS = _split(
    "Flash Neuro Graph Hyper Quant Diff Mamba Meta Omni Sparse Deep Fast Light Auto Cross Vision"
)
METHOD_TAILS = _split("Former Net Flow Searcher Agent Diffusion Mixer Bench Tune Align Fusion Scope Gen Seg")

# Words nobody makes a filter of.
STOPWORDS = frozenset(
    _split(
        """a about above across after again against all also although among an and any are as at be
    because been before being below between both but by can could did do does doing done during
    each either enable enables even every few for from further had has have having here however how
    if in into is it its itself just less made make makes many may might more most much must
    neither no nor not now of off often on once one only onto or other our ours out over own per
    rather same several should show shows since so some such than that the their them then there
    these they this those through thus to too under until up upon us use used uses using very via
    was we well were what when where whether which while who whom whose why will with within
    without would yet"""
    )
)

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Paper:
    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]

    def doc(self) -> PaperDoc:
        return PaperDoc(self.title, self.abstract, self.authors, self.categories)


def _samples() -> list[tuple[str, str]]:
    data = json.loads(SAMPLES.read_text())
    return [(p["title"], p["abstract"]) for p in data["arxiv"] + data["hugging_face"]]


def _authors_pool(rng: random.Random, size: int) -> list[str]:
    names = set()
    while len(names) < size:
        surname = rng.choice(PARTICLE_SURNAMES) if rng.random() < 0.03 else rng.choice(SURNAMES)
        first = rng.choice(FIRST_NAMES)
        middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if rng.random() < 0.15 else ""
        names.add(f"{first}{middle} {surname}")
    pool = sorted(names)
    rng.shuffle(pool)
    return ["Yann LeCun", "Bernhard Schölkopf", "Adrian Del Maestro", *pool]


def _zipf_weights(size: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, size + 1)))


def papers(count: int, seed: int = PAPER_SEED) -> list[Paper]:
    """One day of `count` papers, the same for the same count and seed."""
    rng = random.Random(seed)
    samples = _samples()
    sentences = [s for _, abstract in samples for s in _SENTENCE_SPLIT.split(abstract) if len(s) > 40]
    vocabulary = sorted(
        {w for _, abstract in samples for w in abstract.split() if w.isalpha() and len(w) > 3}
    )
    titles = [title for title, _ in samples]
    heads = [t.split(": ", 1)[0] for t in titles if ": " in t]
    tails = [t.split(": ", 1)[1] for t in titles if ": " in t]
    authors = _authors_pool(rng, 20_000)
    author_weights = _zipf_weights(len(authors), 0.9)
    methods = [f"{h}{t}" for h in METHOD_HEADS for t in METHOD_TAILS]
    method_weights = _zipf_weights(len(methods), 0.8)
    categories = [c for c, _ in CATEGORIES]
    category_weights = list(itertools.accumulate(w for _, w in CATEGORIES))
    out = []
    for i in range(count):
        method = rng.choices(methods, cum_weights=method_weights)[0]
        if rng.random() < 0.5:
            method += f"-{rng.randint(1, 9)}"
        if rng.random() < 0.6 and heads:
            title = (
                f"{method}: {rng.choice(tails)}"
                if rng.random() < 0.5
                else f"{rng.choice(heads)}: {rng.choice(tails)}"
            )
        else:
            title = rng.choice(titles)
        parts = [f"We introduce {method}."]
        length = len(parts[0])
        while length < 1150:
            sentence = rng.choice(sentences)
            # A few words swapped for others: real abstracts share phrasing, not whole sentences.
            words = [rng.choice(vocabulary) if rng.random() < 0.03 else w for w in sentence.split()]
            sentence = " ".join(words)
            parts.append(sentence)
            length += len(sentence) + 1
        picked_authors: list[str] = []
        for _ in range(rng.randint(2, 7)):
            name = rng.choices(authors, cum_weights=author_weights)[0]
            if name not in picked_authors:
                picked_authors.append(name)
        picked_categories: list[str] = []
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            category = rng.choices(categories, cum_weights=category_weights)[0]
            if category not in picked_categories:
                picked_categories.append(category)
        out.append(
            Paper(
                arxiv_id=f"2603.{i:05d}",
                title=title,
                abstract=" ".join(parts),
                authors=tuple(picked_authors),
                categories=tuple(picked_categories),
            )
        )
    return out


@dataclass
class Vocabulary:
    """What filter writers draw from: words, phrases, authors and categories by frequency.

    Frequencies are document frequencies on a reference day (`papers(1000)`), so filters
    can aim at the selectivity tiers.
    """

    words: dict[str, int]  # surface word as people type it -> document frequency (title or abstract)
    title_words: dict[str, int]
    phrases: dict[str, int]  # "word word" -> document frequency
    surnames: dict[str, int]
    full_names: dict[str, int]
    categories: dict[str, int]

    def pick(self, table: dict[str, int], low: int, high: int, rng: random.Random) -> str:
        """A random entry whose frequency is within [low, high] (the nearest when none is)."""
        key = (id(table), low, high)
        choices = self._ranges.get(key)
        if choices is None:
            choices = sorted(k for k, df in table.items() if low <= df <= high)
            if not choices:
                by_distance = sorted(table, key=lambda k: (min(abs(table[k] - low), abs(table[k] - high)), k))
                choices = by_distance[:20]
            self._ranges[key] = choices
        return rng.choice(choices)

    def __post_init__(self) -> None:
        self._ranges: dict[tuple[int, int, int], list[str]] = {}


def vocabulary(day: Sequence[Paper] | None = None) -> Vocabulary:
    """Frequencies on `day` (default: the reference day of 1,000 papers)."""
    day = papers(1000) if day is None else day
    words: Counter[str] = Counter()
    title_words: Counter[str] = Counter()
    phrases: Counter[str] = Counter()
    surnames: Counter[str] = Counter()
    full_names: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    surface_of: dict[str, str] = {}  # stem -> the first plain word seen for it
    for paper in day:
        seen: set[str] = set()
        seen_phrases: set[str] = set()
        for text in (paper.title, paper.abstract):
            previous = None
            for raw in re.findall(r"[A-Za-z]+", text):
                stem = textnorm.stem(raw.lower())
                surface = surface_of.setdefault(stem, raw.lower())
                seen.add(surface)
                if previous is not None:
                    seen_phrases.add(f"{previous} {surface}")
                previous = surface
        words.update(seen)
        title_words.update(
            {surface_of[textnorm.stem(w.lower())] for w in re.findall(r"[A-Za-z]+", paper.title)}
        )
        phrases.update(seen_phrases)
        surnames.update({_surname(name) for name in paper.authors})
        full_names.update(set(paper.authors))
        categories.update(set(paper.categories))
    short = {w for w in words if len(w) < 4 or w in STOPWORDS}
    return Vocabulary(
        words={w: df for w, df in words.items() if w not in short},
        title_words={w: df for w, df in title_words.items() if w not in short},
        phrases={p: df for p, df in phrases.items() if not any(w in short for w in p.split())},
        surnames=dict(surnames),
        full_names=dict(full_names),
        categories=dict(categories),
    )


def _surname(name: str) -> str:
    for particle in PARTICLE_SURNAMES:
        if name.endswith(" " + particle):
            return particle
    return name.rsplit(" ", 1)[-1]


def _tier(rng: random.Random) -> tuple[int, int]:
    return RARE if rng.random() < 0.5 else COMMON


def _single(v: Vocabulary, rng: random.Random) -> str:
    return v.pick(v.words, *_tier(rng), rng)


def _conjunction(v: Vocabulary, rng: random.Random) -> str:
    if _tier(rng) == RARE:
        return f"{v.pick(v.words, *RARE, rng)} {v.pick(v.words, 100, 400, rng)}"
    first, second = v.pick(v.words, 120, 300, rng), v.pick(v.words, 120, 300, rng)
    return f"{first} AND {second}" if rng.random() < 0.5 else f"{first} {second}"


def _phrase(v: Vocabulary, rng: random.Random) -> str:
    return f'"{v.pick(v.phrases, *_tier(rng), rng)}"'


def _or_not(v: Vocabulary, rng: random.Random) -> str:
    low, high = (1, 1) if _tier(rng) == RARE else (10, 22)
    first, second = v.pick(v.words, low, high, rng), v.pick(v.words, low, high, rng)
    excluded = v.pick(v.words, 50, 150, rng)
    if rng.random() < 0.5:
        return f"({first} OR {second}) -{excluded}"
    return f"{first} OR {second} ANDNOT {excluded}"


def _title(v: Vocabulary, rng: random.Random) -> str:
    low, high = _tier(rng)
    return f"ti:{v.pick(v.title_words, low, high, rng)}"


def _author(v: Vocabulary, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        surname = v.pick(v.surnames, 1, 3, rng)
        return f"au:{textnorm.fold(surname).replace(' ', '_').replace('-', '_')}"
    name = v.pick(v.full_names, 1, 3, rng)
    if roll < 0.85:
        return f'au:"{name}"'
    surname = _surname(name)
    return f'au:"{surname}, {name[0]}"'


def _category(v: Vocabulary, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return f"cat:{v.pick(v.categories, 15, 60, rng)}"
    if roll < 0.7:
        return f"cat:{v.pick(v.categories, 150, 400, rng)} AND {v.pick(v.words, 80, 200, rng)}"
    return f"cat:cs.* {v.pick(v.words, 20, 60, rng)} -cat:{v.pick(v.categories, 150, 400, rng)}"


def _prefix(v: Vocabulary, rng: random.Random) -> str:
    word = v.pick(v.words, 10, 40, rng)
    return f"{word[: max(4, len(word) - 3)]}*"


# (writer, share of the filters people write)
FILTER_KINDS = (
    (_single, 22),
    (_conjunction, 18),
    (_phrase, 15),
    (_or_not, 10),
    (_title, 10),
    (_author, 12),
    (_category, 10),
    (_prefix, 3),
)


def _fresh_filter(v: Vocabulary, rng: random.Random, cum_weights: list[int]) -> str:
    writer = rng.choices([w for w, _ in FILTER_KINDS], cum_weights=cum_weights)[0]
    text = writer(v, rng)
    roll = rng.random()
    if roll < 0.05:  # the same filter typed differently
        text = text.title().replace("Ti:", "ti:").replace("Au:", "au:").replace("Cat:", "cat:")
        text = text.replace(" And ", " AND ").replace(" Or ", " OR ").replace(" Andnot ", " ANDNOT ")
    elif roll < 0.08:
        text = text.replace(" ", "  ")
    return text


def popular_filters(v: Vocabulary, size: int = POPULAR_POOL, seed: int = FILTER_SEED) -> list[str]:
    rng = random.Random(seed)
    cum_weights = list(itertools.accumulate(w for _, w in FILTER_KINDS))
    return [_fresh_filter(v, rng, cum_weights) for _ in range(size)]


def subscribers(count: int, v: Vocabulary, seed: int = FILTER_SEED) -> Iterator[tuple[int, tuple[str, ...]]]:
    """`(subscriber index, filters)` for `count` subscribers, generated as they are read."""
    rng = random.Random(seed + 1)
    popular = popular_filters(v, seed=seed)
    popular_weights = _zipf_weights(len(popular), 1.0)
    cum_weights = list(itertools.accumulate(w for _, w in FILTER_KINDS))
    counts_cum = list(itertools.accumulate(FILTER_COUNT_WEIGHTS))
    total_popular = popular_weights[-1]
    for index in range(count):
        n = FILTER_COUNTS[bisect.bisect(counts_cum, rng.random() * counts_cum[-1])]
        filters = []
        for _ in range(n):
            if rng.random() < POPULAR_SHARE:
                filters.append(popular[bisect.bisect(popular_weights, rng.random() * total_popular)])
            else:
                filters.append(_fresh_filter(v, rng, cum_weights))
        yield index, tuple(filters)


UPVOTED_SHARE = 0.05  # papers of a day on Hugging Face's daily list
TRENDING_SUBSCRIBERS = 30  # per cent of subscribers who asked for the trending section


def upvotes(count: int, seed: int = PAPER_SEED) -> list[int | None]:
    """Hugging Face upvotes of the day's papers (None: not on the list); a few papers
    collect most of them."""
    rng = random.Random(seed + 1)
    return [
        max(1, int(300 / rng.randint(1, 60))) if rng.random() < UPVOTED_SHARE else None for _ in range(count)
    ]


def wants_trending(index: int) -> bool:
    """Whether subscriber `index` asked for the trending section (a fixed share, spread out)."""
    return (index * 2654435761) % 100 < TRENDING_SUBSCRIBERS
