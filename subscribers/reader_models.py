"""The reader's model in the service: retrained from a subscriber's votes, stored compactly
(`ReaderModel`), read by the digest (alerts.digests.composing).

A vote (or taking one back) asks for a retraining (`reader_model_queue`): the first request
marks the model row queued and queues `subscribers.tasks.train_reader_model` after
`READER_MODEL_TRAIN_DELAY` seconds; the requests that arrive while it waits queue nothing,
so a flood of votes trains once or a few times. The task clears the mark before it reads the
votes: a vote that lands during training queues the next one, and none is missed.

The model's vectors use the document frequencies of the recent papers (`TrainingCorpus`:
those of the lookback before the subscriber's latest digest, the papers they have been
shown of late; built once per process and hour, rebuilt when papers arrive); training reads the
subscriber's votes (*save* counts as *more*), the unvoted papers of their recent digests
(filter matches as weak positives, "you may also like" papers as weak negatives) and a
sample of recent papers as background (alerts.search.model.train).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from alerts.core.jobs import enqueue_on_commit
from alerts.models import Digest, DigestItem, Paper
from alerts.search import model as reader_model
from subscribers.models import ReaderModel, Subscriber, Vote

TRAIN_TASK = "subscribers.tasks.train_reader_model"
# What each vote says to the model. Saving a paper is liking it.
VOTE_KIND = {
    Vote.Action.MORE: reader_model.MORE,
    Vote.Action.LESS: reader_model.LESS,
    Vote.Action.SAVE: reader_model.MORE,
}
# The unvoted papers of the latest digests read as weak evidence (filter matches a weak
# positive, "you may also like" papers a weak negative); the rest is older news.
SHOWN_ITEMS = 100
# Seconds after which a queued retraining that has not started counts as lost.
QUEUED_STALE = 600
TEXT_FIELDS = ("id", "title", "abstract", "authors", "categories")


def paper_text(title: str, abstract: str, authors, categories) -> reader_model.PaperText:
    return reader_model.PaperText(title or "", abstract or "", tuple(authors or ()), tuple(categories or ()))


# Queueing -------------------------------------------------------------------------------


def reader_model_queue(*, subscriber: Subscriber) -> bool:
    """Ask for `subscriber`'s model to be retrained (after a vote). True when this queued
    the task; False when one is queued already (it will read this vote too)."""
    now = timezone.now()
    ReaderModel.objects.get_or_create(subscriber=subscriber)
    # A mark older than QUEUED_STALE is a task that never ran (a broker outage, a lost
    # message): the vote queues another rather than waiting for it forever.
    stale = now - dt.timedelta(seconds=settings.READER_MODEL_TRAIN_DELAY + QUEUED_STALE)
    claimed = (
        ReaderModel.objects.filter(subscriber=subscriber)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
        .update(queued_at=now)
    )
    if claimed:
        enqueue_on_commit(TRAIN_TASK, subscriber.pk, countdown=settings.READER_MODEL_TRAIN_DELAY)
    return bool(claimed)


# Training -------------------------------------------------------------------------------


@dataclass
class TrainingCorpus:
    """The recent papers' document frequencies and their vectors (one row per paper of
    `ids`): a training slices the rows it needs (votes, background) instead of computing them."""

    corpus: reader_model.Corpus
    ids: list[int]
    matrix: sp.csr_matrix
    row_of: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.row_of = {pid: row for row, pid in enumerate(self.ids)}

    @classmethod
    def of(cls, ids: list[int], texts: list[reader_model.PaperText]) -> TrainingCorpus:
        corpus = reader_model.Corpus()
        corpus.add(texts)
        return cls(corpus, ids, corpus.vectors(texts))


_corpora: dict[tuple, TrainingCorpus] = {}
_corpora_lock = threading.Lock()


def _recent(now: dt.datetime):
    since = now - dt.timedelta(days=settings.DIGEST_MAX_LOOKBACK_DAYS)
    return Paper.objects.filter(first_seen_at__gt=since, first_seen_at__lte=now)


# Corpora kept per process: digests of a day end at a few hours (send hours, timezones).
CORPORA_KEPT = 4


def training_corpus(now: dt.datetime) -> TrainingCorpus:
    """The corpus of the papers in the lookback before `now` (to the hour), built once per
    process (and again when papers arrive): a training after a vote then costs the votes'
    rows, not a read of every paper."""
    end = now.replace(minute=0, second=0, microsecond=0)
    stamp = _recent(end).aggregate(n=Count("id"), top=Max("id"))
    key = (end, stamp["n"], stamp["top"])
    with _corpora_lock:
        found = _corpora.get(key)
    if found is not None:
        return found
    ids, texts = [], []
    for pid, *fields in _recent(end).order_by("id").values_list(*TEXT_FIELDS).iterator(chunk_size=2000):
        ids.append(pid)
        texts.append(paper_text(*fields))
    built = TrainingCorpus.of(ids, texts)
    with _corpora_lock:
        _corpora[key] = built
        for old in sorted(_corpora, key=lambda k: k[0])[:-CORPORA_KEPT]:
            del _corpora[old]
    return built


def _evidence(subscriber_id: int) -> tuple[dict[int, str], int]:
    """{paper id: kind of evidence}, oldest first so the latest wins; and the votes counted."""
    evidence: dict[int, str] = {}
    shown = (
        DigestItem.objects.filter(
            digest__subscriber_id=subscriber_id,
            digest__status=Digest.Status.SENT,
            section__in=(DigestItem.Section.MATCHED, DigestItem.Section.SIMILAR),
        )
        .order_by("-digest__window_end", "rank")
        .values_list("paper_id", "section")[:SHOWN_ITEMS]
    )
    for paper_id, section in reversed(list(shown)):
        matched = section == DigestItem.Section.MATCHED
        evidence[paper_id] = reader_model.MATCHED if matched else reader_model.SHOWN
    votes = Vote.objects.filter(subscriber_id=subscriber_id).order_by("created_at", "id")
    count = 0
    for paper_id, action in votes.values_list("paper_id", "action"):
        count += 1
        if action == Vote.Action.SAVE and evidence.get(paper_id) == reader_model.LESS:
            continue  # saved for later but "less like this": the vote says more
        evidence[paper_id] = VOTE_KIND[action]
    return evidence, count


def model_from_evidence(
    evidence: dict[int, str],
    texts: dict[int, reader_model.PaperText],
    training: TrainingCorpus,
    *,
    seed: int = 0,
) -> reader_model.PersonalModel:
    """The model of one subscriber's evidence ({paper id: kind}) against the recent papers
    of `training`; `texts` has the text of the evidence's older papers (not in `training`).
    Plain Python: the benchmark times it."""
    row_of = training.row_of
    recent = [pid for pid in evidence if pid in row_of]
    older = [pid for pid in evidence if pid not in row_of and pid in texts]
    rng = random.Random(seed)
    pool = [row for row, pid in enumerate(training.ids) if pid not in evidence]
    background = rng.sample(pool, min(reader_model.BACKGROUND_SAMPLE, len(pool)))
    # Rows: the recent voted papers, the older ones, then the background sample.
    parts = [training.matrix[[row_of[pid] for pid in recent]]]
    if older:
        parts.append(training.corpus.vectors([texts[pid] for pid in older]))
    parts.append(training.matrix[background])
    vectors = sp.vstack(parts, format="csr")
    voted = recent + older
    votes = [reader_model.Vote(row, evidence[pid]) for row, pid in enumerate(voted)]
    return reader_model.train(
        vectors, votes, background=range(len(voted), len(voted) + len(background)), seed=seed
    )


def reader_model_train(*, subscriber_id: int, now: dt.datetime | None = None) -> ReaderModel | None:
    """Retrain one subscriber's model from their votes and store it. None when the
    subscriber is gone (erased since the task was queued)."""
    now = now or timezone.now()
    # Cleared first: a vote stored from here on queues another training, which reads it.
    if not ReaderModel.objects.filter(subscriber_id=subscriber_id).update(queued_at=None):
        return None
    evidence, votes = _evidence(subscriber_id)
    latest = Digest.objects.filter(subscriber_id=subscriber_id, status=Digest.Status.SENT).aggregate(
        end=Max("window_end")
    )["end"]
    training = training_corpus(min(latest or now, now))
    older = [pid for pid in evidence if pid not in training.row_of]
    texts = {
        pid: paper_text(*fields)
        for pid, *fields in Paper.objects.filter(pk__in=older).values_list(*TEXT_FIELDS)
    }
    fitted = model_from_evidence(evidence, texts, training, seed=subscriber_id)
    blob = fitted.dumps() if fitted.weights else b""
    with transaction.atomic():
        row = ReaderModel.objects.select_for_update().filter(subscriber_id=subscriber_id).first()
        if row is None:
            return None
        row.weights, row.trained_at, row.votes_used = blob, now, votes
        row.save(update_fields=["weights", "trained_at", "votes_used"])
    return row


# Reading --------------------------------------------------------------------------------


def models_of(subscriber_ids: Iterable[int]) -> dict[int, reader_model.PersonalModel]:
    """The stored models of these subscribers (one query); those without one are absent."""
    rows = ReaderModel.objects.filter(subscriber_id__in=list(subscriber_ids), trained_at__isnull=False)
    return {
        sub_id: reader_model.PersonalModel.loads(bytes(blob))
        for sub_id, blob in rows.values_list("subscriber_id", "weights")
        if blob
    }


def model_summary(*, subscriber: Subscriber) -> dict | None:
    """What the subscriber's data export says of their model."""
    row = ReaderModel.objects.filter(subscriber=subscriber).first()
    if row is None or not row.trained_at:
        return None
    return {"trained_at": row.trained_at.isoformat(), "votes_used": row.votes_used, "bytes": len(row.weights)}
