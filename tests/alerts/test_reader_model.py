"""The reader's model (alerts.search.model): it learns from a few votes, stays small, trains fast."""

import random
import statistics
import time

from alerts.search import model, textnorm
from alerts.search.model import LESS, MORE, SHOWN, Corpus, PaperText, PersonalModel, Vote, score_many, train

GRAPHS = [
    "graph",
    "neural",
    "networks",
    "message",
    "passing",
    "node",
    "classification",
    "link",
    "prediction",
    "heterophily",
]
SPEECH = [
    "speech",
    "recognition",
    "acoustic",
    "model",
    "phoneme",
    "audio",
    "transcription",
    "speaker",
    "diarization",
]
COMMON = [
    "we",
    "study",
    "a",
    "method",
    "and",
    "evaluate",
    "it",
    "on",
    "benchmarks",
    "with",
    "strong",
    "results",
    "across",
    "settings",
]


def _paper(rng: random.Random, topic: list[str], n: int) -> PaperText:
    title = " ".join(rng.sample(topic, 3))
    abstract = " ".join(rng.choice(topic + COMMON) for _ in range(n))
    return PaperText(title=title, abstract=abstract, authors=[f"Author {rng.randint(1, 50)}"])


def _papers(seed: int = 1) -> list[PaperText]:
    rng = random.Random(seed)
    return [_paper(rng, GRAPHS if i % 2 == 0 else SPEECH, 40) for i in range(60)]


def test_a_paper_like_the_liked_ones_ranks_above_unlike_ones_after_a_few_votes():
    papers = _papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    # Three more-like-this on graph papers, two less-like-this on speech papers.
    votes = [Vote(0, MORE), Vote(2, MORE), Vote(4, MORE), Vote(1, LESS), Vote(3, LESS)]
    fitted = train(vectors, votes, background=list(range(5, 40)))

    scores = fitted.score(vectors[40:])
    graph_scores = scores[0::2]  # rows 40, 42, ...: graph papers
    speech_scores = scores[1::2]
    assert min(graph_scores) > max(speech_scores)


def test_the_reasons_for_a_paper_are_its_words_that_the_model_likes():
    papers = _papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    fitted = train(vectors, [Vote(0, MORE), Vote(2, MORE), Vote(1, LESS), Vote(3, LESS)])
    graph_stems = {t for word in GRAPHS for t in textnorm.analyse(word)[0]}
    found = model.reasons(fitted, papers[40], n=3)
    assert len(found) == 3
    for reason in found:
        assert set(reason.split()) <= graph_stems, reason
    assert model.reasons(PersonalModel(), papers[40]) == []


def test_no_liked_paper_means_no_model_and_the_order_is_left_alone():
    papers = _papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    fitted = train(vectors, [Vote(1, LESS), Vote(3, SHOWN)])
    assert fitted.weights == {}
    assert not fitted.score(vectors).any()


def _many_papers(n: int = 400) -> list[PaperText]:
    """Papers with as many distinct words as real abstracts: each has its topic's words
    (graphs or speech) among many words of its own."""
    rng = random.Random(7)
    vocabulary = [f"w{rng.randrange(10**6):06d}x" for _ in range(6000)]
    papers = []
    for i in range(n):
        topic = GRAPHS if i % 2 == 0 else SPEECH
        words = [rng.choice(topic) if j % 5 == 0 else rng.choice(vocabulary) for j in range(150)]
        papers.append(
            PaperText(
                title=" ".join(rng.sample(topic, 3) + rng.sample(vocabulary, 4)),
                abstract=" ".join(words),
                authors=[f"Writer {rng.randrange(3000)}" for _ in range(5)],
                categories=["cs.LG"] if i % 2 == 0 else ["eess.AS"],
            )
        )
    return papers


def _big_model() -> tuple[PersonalModel, object]:
    papers = _many_papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    votes = [Vote(i, MORE if i % 2 == 0 else LESS) for i in range(300)]
    return train(vectors, votes, background=list(range(300, 340))), vectors


def test_a_stored_model_stays_under_20_kb_and_ranks_as_before():
    fitted, vectors = _big_model()
    assert len(fitted.weights) > model.MAX_WEIGHTS  # the stored model keeps the largest weights only
    blob = fitted.dumps()
    assert len(blob) < 20_000
    loaded = PersonalModel.loads(blob)
    assert len(loaded.weights) == model.MAX_WEIGHTS
    # Papers no vote touched (rows 340-399): graph papers still rank above speech papers.
    for kept in (fitted, loaded):
        scores = kept.score(vectors[340:])
        assert min(scores[0::2]) > max(scores[1::2])
    assert PersonalModel.loads(loaded.dumps()) == loaded


def test_training_after_a_vote_is_fast():
    # A subscriber a month in: 300 votes, 200 background papers (as bench/ranking.py).
    papers = _many_papers(520)
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    votes = [Vote(i, MORE if i % 4 == 0 else LESS) for i in range(299)]
    timings = []
    for extra in range(5):
        began = time.process_time()
        train(vectors, [*votes, Vote(299, MORE if extra % 2 else LESS)], background=list(range(300, 500)))
        timings.append(time.process_time() - began)
    # CPU time, so that other work on the machine does not count; the target is 50 ms
    # (bench/results/ranking.md has the figure), the bound is generous.
    assert statistics.median(timings) < 0.25


def test_many_subscribers_are_scored_in_one_product():
    papers = _papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    likes_graphs = train(vectors, [Vote(0, MORE), Vote(1, LESS)])
    likes_speech = train(vectors, [Vote(1, MORE), Vote(0, LESS)])
    scores = score_many([likes_graphs, likes_speech, PersonalModel()], vectors[40:44])
    assert scores.shape == (3, 4)
    assert list(scores[0]) == list(likes_graphs.score(vectors[40:44]))
    assert scores[0][0] > scores[0][1]
    assert scores[1][1] > scores[1][0]
    assert not scores[2].any()


def test_the_reasons_are_the_largest_positive_weights_of_the_papers_terms_ties_by_term():
    """Against the definition, on stored models (float16 weights: ties are common) and on
    trained ones, including weights that are zero or negative and a model that has none of
    the paper's terms."""
    papers = _papers()
    corpus = Corpus()
    corpus.add(papers)
    vectors = corpus.vectors(papers)
    rng = random.Random(3)
    fitted = [train(vectors, [Vote(i, MORE if i % 4 == 0 else LESS) for i in rng.sample(range(40), 12)])]
    fitted += [PersonalModel.loads(m.dumps()) for m in fitted]
    for paper in papers[40:]:
        terms = dict(model._term_buckets(paper))
        tied = {b: rng.choice([-0.5, 0.0, 0.25, 0.25, 1.0]) for b in terms.values()}
        for candidate in [*fitted, PersonalModel(tied), PersonalModel({1 << 21: 1.0})]:
            for n in (1, 3, 5):
                weight = {term: candidate.weights.get(b, 0.0) for term, b in terms.items()}
                expected = sorted((t for t in weight if weight[t] > 0), key=lambda t: (-weight[t], t))[:n]
                assert model.reasons(candidate, paper, n=n) == expected
