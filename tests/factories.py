"""factory_boy factories for the project's models."""

import datetime as dt

import factory
from django.utils import timezone

from alerts.models import Paper


class PaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Paper

    arxiv_id = factory.Sequence(lambda n: f"2611.{n:05d}")
    version = 1
    title = factory.Sequence(lambda n: f"A study of sparse attention, part {n}")
    abstract = "We study sparse attention for long-context language models and report results."
    authors = factory.LazyFunction(lambda: ["Ada Lovelace", "Alan Turing"])
    categories = factory.LazyFunction(lambda: ["cs.LG"])
    primary_category = "cs.LG"
    published = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    updated = factory.LazyAttribute(lambda o: o.published)
    announced_on = factory.LazyFunction(lambda: timezone.now().date())
    abs_url = factory.LazyAttribute(lambda o: f"https://arxiv.org/abs/{o.arxiv_id}")
    pdf_url = factory.LazyAttribute(lambda o: f"https://arxiv.org/pdf/{o.arxiv_id}")
    source = Paper.Source.ARXIV_RSS
