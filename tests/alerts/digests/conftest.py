"""Fixtures for the digest pipeline: a day of papers and subscribers with filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import PaperFactory, SubscriberFactory, TopicFilterFactory

SITE = "https://alerts.example.org"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE
    settings.DIGEST_RETRY_BASE = 0.05
    settings.DIGEST_RETRY_MAX = 0.2


PAPERS = [
    # key, title, abstract, categories, upvotes
    (
        "diffusion-protein",
        "Denoising diffusion models for protein backbone design",
        "We train a denoising diffusion model over protein backbones and show that sampled designs fold "
        "in silico. The model conditions on secondary structure.",
        ["q-bio.BM", "cs.LG"],
        None,
    ),
    (
        "diffusion-video",
        "A diffusion transformer for long video generation",
        "Video generation with diffusion transformers scales with context length; we propose a sparse "
        "attention scheme that keeps memory linear.",
        ["cs.CV"],
        120,
    ),
    (
        "sparse-attention",
        "Sparse attention for long-context language models",
        "Long-context language models spend most compute on attention. We learn which keys matter and "
        "attend sparsely, matching dense attention on retrieval benchmarks.",
        ["cs.CL", "cs.LG"],
        35,
    ),
    (
        "weather-gnn",
        "Graph neural networks for medium-range weather forecasting",
        "A graph neural network trained on reanalysis data forecasts ten days ahead with skill comparable "
        "to numerical weather prediction.",
        ["cs.LG", "physics.ao-ph"],
        8,
    ),
    (
        "gpu-trajectory",
        "GPU-accelerated robust trajectory optimization",
        "Robust trajectory optimization under bounded disturbances, solved with CUDA kernels for conic "
        "projections, reaching a speedup of 139.6$\\times$ on quadcopter models.",
        ["cs.RO"],
        None,
    ),
]


def make_papers(seen_at: dt.datetime | None = None, prefix: str = "2611") -> dict[str, object]:
    seen_at = seen_at or timezone.now() - dt.timedelta(hours=2)
    made = {}
    for n, (key, title, abstract, cats, upvotes) in enumerate(PAPERS):
        made[key] = PaperFactory(
            arxiv_id=f"{prefix}.{10000 + n}",
            title=title,
            abstract=abstract,
            categories=cats,
            primary_category=cats[0],
            upvotes=upvotes,
            authors=["Ada Lovelace", "Yann LeCun", "Bernhard Schölkopf"]
            if key == "sparse-attention"
            else ["Jiawei Wang"],
            first_seen_at=seen_at,
        )
    return made


@pytest.fixture
def papers(db):
    return make_papers()


def subscribe(email: str, *filters: tuple[str, str], **fields):
    """An active subscriber with these (name, query) filters."""
    subscriber = SubscriberFactory(email=email, filters=0, **fields)
    for position, (name, query) in enumerate(filters):
        TopicFilterFactory(subscriber=subscriber, name=name, query=query, position=position)
    return subscriber


def messages_by_recipient(outbox) -> dict[str, object]:
    found = {}
    for message in outbox:
        (to,) = message.to
        assert to not in found, f"{to} got two messages"
        found[to] = message
    return found


def html_of(message) -> str:
    (content, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return content


@pytest.fixture
def fake_esp(settings):
    """Anymail's real Postmark backend, pointed at a local stand-in for Postmark's API."""
    from tests.fakeesp import FakeESP

    esp = FakeESP().start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": esp.token,
        "POSTMARK_API_URL": esp.url,
        "REQUESTS_TIMEOUT": (2, 1.0),
    }
    yield esp
    esp.stop()
