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


now = timezone.now  # the factory below has a field called timezone


class SubscriberFactory(factory.django.DjangoModelFactory):
    """A confirmed subscriber with one filter (pass `filters=0` for none, `status=` for others)."""

    class Meta:
        model = "subscribers.Subscriber"
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    status = "active"
    timezone = "UTC"
    send_hour = 7
    frequency = "daily"
    max_papers = 20
    confirmed_at = factory.LazyFunction(now)
    status_changed_at = factory.LazyFunction(now)

    @factory.post_generation
    def filters(self, create, extracted, **kwargs):
        if not create:
            return
        for position in range(1 if extracted is None else extracted):
            TopicFilterFactory(subscriber=self, position=position)


class TopicFilterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "subscribers.TopicFilter"

    subscriber = factory.SubFactory(SubscriberFactory, filters=0)
    name = factory.Sequence(lambda n: f"Sparse attention {n}")
    query = 'abs:"sparse attention" AND cat:cs.LG'
    position = 0
