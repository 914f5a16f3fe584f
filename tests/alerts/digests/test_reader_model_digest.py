"""The reader's model in the digest: votes pressed in a digest's feedback pages retrain the
subscriber's model in a real Celery worker, and the next digest shows the filters' papers
in the model's order and a "You may also like" section of papers no filter matched; a
subscriber with no votes gets the digest the filters alone make."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from alerts.digests import composing
from alerts.digests.rendering import Links, render_digest, render_digest_direct
from alerts.digests.runner import digests_run
from alerts.models import DigestItem
from alerts.search.matcher import PaperDoc, PaperIndex
from subscribers.models import ReaderModel, Vote
from subscribers.reader_models import reader_model_queue, reader_model_train
from subscribers.tokens import feed_url
from tests.factories import PaperFactory
from tests.servers import wait_until
from tests.subscribers.conftest import html_part

from .conftest import SITE, make_papers, subscribe

DAY1 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)
FEEDBACK = re.compile(r"https://alerts\.example\.org(/feedback/[^/\s\"<>]+/(\d+)/(more|less|save)/)")

FIRST_DAY = [
    (
        "Tactile sensing for robot grasping",
        "A robot hand with tactile sensors learns dexterous grasping of soft objects.",
    ),
    (
        "Dexterous grasping with tactile feedback",
        "We train a robot hand to grasp soft objects from tactile feedback.",
    ),
    (
        "Legged robot navigation on rough terrain",
        "A legged robot learns navigation over rough terrain from a height map.",
    ),
    (
        "Robot navigation among crowds",
        "A mobile robot plans navigation paths among walking crowds on rough terrain.",
    ),
]
SECOND_DAY = [
    (
        "Robot navigation for legged robots in forests",
        "A legged robot keeps navigation maps of rough terrain.",
    ),
    (
        "Robot navigation with a quadruped robot",
        "Navigation of a legged robot over rough terrain and stairs.",
    ),
    ("Robot exploration of caves", "A robot explores caves and builds maps from lidar."),
    ("Learning to grasp soft objects", "A robot hand with tactile sensors grasps soft objects dexterously."),
]
PROPOSED = (
    "Tactile skins for dexterous grasping",
    "A hand with tactile skins learns grasping of soft objects.",
)


def papers_of(day: dt.datetime, rows, prefix: str) -> dict[str, object]:
    made = {}
    for n, (title, abstract) in enumerate(rows):
        made[title] = PaperFactory(
            arxiv_id=f"{prefix}.{20000 + n}",
            title=title,
            abstract=abstract,
            categories=["cs.RO"],
            primary_category="cs.RO",
            first_seen_at=day - dt.timedelta(hours=3, seconds=n),
        )
    make_papers(seen_at=day - dt.timedelta(hours=4), prefix=prefix)  # other topics around them
    return made


def order_of(subscriber) -> list[str]:
    items = DigestItem.objects.filter(
        digest__subscriber=subscriber, digest__period=DAY2.date(), section=DigestItem.Section.MATCHED
    )
    return list(items.order_by("rank").values_list("paper__title", flat=True))


def trained(subscriber, votes: int):
    return ReaderModel.objects.filter(
        subscriber=subscriber, votes_used=votes, queued_at__isnull=True, trained_at__isnull=False
    ).first()


def vote_in_the_digest(client, message, wanted: dict[int, str]) -> None:
    """Press the digest's feedback buttons: {paper id: action}."""
    for path, paper_id, action in FEEDBACK.findall(html_part(message)):
        if wanted.get(int(paper_id)) == action:
            assert client.post(path, {"do": "record"}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_votes_retrain_the_model_and_the_next_digest_reranks_and_proposes(
    client, celery_workers, mailoutbox, settings
):
    settings.SITE_URL = SITE
    settings.READER_MODEL_TRAIN_DELAY = 0
    worker = celery_workers("worker1")
    first = papers_of(DAY1, FIRST_DAY, "2611")
    ada = subscribe("ada@example.org", ("Robots", "robot"), max_papers=10)
    bob = subscribe("bob@example.org", ("Robots", "robot"), max_papers=10)
    assert digests_run(now=DAY1, day=DAY1.date()).sent == 2
    (message,) = [m for m in mailoutbox if m.to == [ada.email]]
    liked, disliked = FIRST_DAY[0][0], FIRST_DAY[2][0]
    vote_in_the_digest(
        client,
        message,
        {
            first[liked].pk: "more",
            first[FIRST_DAY[1][0]].pk: "more",
            first[disliked].pk: "less",
            first[FIRST_DAY[3][0]].pk: "less",
        },
    )
    model = wait_until(lambda: trained(ada, 4), what="trained on the four votes")
    assert 0 < len(model.weights) < 20_000
    assert "train_reader_model" in worker.output()
    assert not ReaderModel.objects.filter(subscriber=bob).exists()

    second = papers_of(DAY2, [*SECOND_DAY, PROPOSED], "2612")
    mailoutbox.clear()
    assert digests_run(now=DAY2, day=DAY2.date()).sent == 2
    by_email = {m.to[0]: m for m in mailoutbox}

    # Bob (no votes) gets the filters' order, the one compose makes without a model.
    pidx = composing.build_period_index(DAY2)
    plain = composing.compose(
        pidx=pidx,
        filters=[composing.FilterSpec("Robots", "robot")],
        window_start=DAY1,
        excluded=0,
        max_papers=10,
        include_trending=False,
    )
    today = "\n".join(item.paper.title for item in plain.items).encode()
    assert "\n".join(order_of(bob)).encode() == today
    assert "You may also like" not in by_email[bob.email].body
    assert not DigestItem.objects.filter(digest__subscriber=bob, section=DigestItem.Section.SIMILAR).exists()

    # Ada's model moves the grasping paper up, the filters' papers being the same.
    grasp = SECOND_DAY[3][0]
    assert sorted(order_of(ada)) == sorted(order_of(bob))
    assert order_of(ada).index(grasp) < order_of(bob).index(grasp)

    # And proposes the tactile paper, which no filter matches, saying why.
    proposed = list(
        DigestItem.objects.filter(digest__subscriber=ada, section=DigestItem.Section.SIMILAR)
        .select_related("paper")
        .order_by("rank")
    )
    assert proposed[0].paper.title == PROPOSED[0]
    for item in proposed:
        doc = PaperDoc(item.paper.title, item.paper.abstract, item.paper.authors, item.paper.categories)
        assert PaperIndex([doc]).match("robot") == 0
    paper = second[PROPOSED[0]]
    reasons = proposed[0].filters
    assert reasons
    assert set(reasons) <= {
        "tactile",
        "grasping",
        "soft",
        "objects",
        "hand",
        "dexterous",
        "skins",
    }
    text, html = by_email[ada.email].body, html_part(by_email[ada.email])
    for part in (text, re.sub(r"<[^>]+>", "", html)):  # the reasons are marked in the HTML
        assert "You may also like" in part
        assert PROPOSED[0] in part
        assert "Similar to what you liked: " + ", ".join(reasons) in part
    # Its feedback links work like every other paper's.
    links = {(int(pid), action): path for path, pid, action in FEEDBACK.findall(html)}
    assert client.post(links[(paper.pk, "more")], {"do": "record"}).status_code == 302
    assert Vote.objects.filter(subscriber=ada, paper=paper, action="more").exists()
    wait_until(lambda: trained(ada, 5), what="trained on the fifth vote")

    # The browser view and the feed show the section too.
    view = re.search(r"View in your browser: (\S+)", text).group(1)
    page = client.get(view.removeprefix(SITE))
    assert "You may also like" in page.text
    assert PROPOSED[0] in re.sub(r"<[^>]+>", "", page.text)
    feed = client.get(feed_url(ada).removeprefix(SITE))
    assert "You may also like: similar to what you liked" in feed.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_votes_trains_once(client, celery_workers, mailoutbox, settings):
    settings.SITE_URL = SITE
    settings.READER_MODEL_TRAIN_DELAY = 4
    worker = celery_workers("worker1")
    papers_of(DAY1, FIRST_DAY + SECOND_DAY, "2611")
    ada = subscribe("ada@example.org", ("Robots", "robot"), max_papers=10)
    assert digests_run(now=DAY1, day=DAY1.date()).sent == 1
    (message,) = mailoutbox
    presses = [(path, action) for path, _, action in FEEDBACK.findall(html_part(message)) if action != "less"]
    assert len(presses) == 16  # more and save on eight papers
    for path, _ in presses:
        assert client.post(path, {"do": "record"}).status_code == 302
    wait_until(lambda: trained(ada, 16), what="trained on the sixteen votes")
    runs = re.findall(r"train_reader_model\[[^\]]+\] succeeded", worker.output())
    assert 1 <= len(runs) <= 2, worker.output()


@pytest.mark.django_db
def test_the_compiled_digest_with_proposed_papers_is_the_templates_rendered_directly():
    papers = papers_of(DAY1, [*FIRST_DAY, PROPOSED], "2611")
    PaperFactory(
        title="<b>Tactile</b> & grasping",
        abstract="Soft objects <script>x</script> tactile hand.",
        first_seen_at=DAY1 - dt.timedelta(hours=1),
    )
    ada = subscribe("ada@example.org", ("Robots", "robot"))
    for title in FIRST_DAY[:2]:
        Vote.objects.create(subscriber=ada, paper=papers[title[0]], action=Vote.Action.MORE)
    ReaderModel.objects.create(subscriber=ada)
    assert reader_model_train(subscriber_id=ada.pk, now=DAY1).weights
    pidx = composing.build_period_index(DAY1)
    personal = composing.personal_of(pidx, [ada.pk])[ada.pk]
    composition = composing.compose(
        pidx=pidx,
        filters=[composing.FilterSpec("Robots", "robot")],
        window_start=DAY1 - dt.timedelta(days=1),
        excluded=0,
        max_papers=20,
        include_trending=False,
        personal=personal,
    )
    assert {item.paper.title for item in composition.similar} >= {PROPOSED[0], "<b>Tactile</b> & grasping"}
    args = dict(
        composition=composition,
        email=ada.email,
        filter_names=["Robots"],
        period=DAY1.date(),
        weekly=False,
        links=Links(manage_url=SITE, unsubscribe_url=SITE, view_url=SITE, feedback_url=f"{SITE}/feedback/t"),
    )
    fast, direct = render_digest(pidx=pidx, **args), render_digest_direct(**args)
    assert (fast.subject, fast.text, fast.html) == (direct.subject, direct.text, direct.html)
    assert "&lt;b&gt;Tactile&lt;/b&gt; &amp; grasping" in re.sub(r"</?mark[^>]*>", "", fast.html)
    assert "<script>" not in fast.html


@pytest.mark.django_db
def test_a_digest_of_proposed_papers_alone_says_so_in_its_subject():
    papers = papers_of(DAY1, [*FIRST_DAY, PROPOSED], "2611")
    ada = subscribe("ada@example.org", ("Plants", "ti:photosynthesis"))
    for title in FIRST_DAY[:2]:
        Vote.objects.create(subscriber=ada, paper=papers[title[0]], action=Vote.Action.MORE)
    ReaderModel.objects.create(subscriber=ada)
    assert reader_model_train(subscriber_id=ada.pk, now=DAY1).weights
    pidx = composing.build_period_index(DAY1)
    composition = composing.compose(
        pidx=pidx,
        filters=[composing.FilterSpec("Plants", "ti:photosynthesis")],
        window_start=DAY1 - dt.timedelta(days=1),
        excluded=0,
        max_papers=20,
        include_trending=False,
        personal=composing.personal_of(pidx, [ada.pk])[ada.pk],
    )
    assert not composition.items
    assert composition.similar
    assert not composition.is_empty
    rendered = render_digest(
        pidx=pidx,
        composition=composition,
        email=ada.email,
        filter_names=["Plants"],
        period=DAY1.date(),
        weekly=False,
        links=Links(manage_url=SITE, unsubscribe_url=SITE, view_url=SITE, feedback_url=f"{SITE}/feedback/t"),
    )
    n = len(composition.similar)
    assert rendered.subject.startswith(f"No new matches; {n} paper{'s' if n != 1 else ''} you may like")


@pytest.mark.django_db
def test_a_retraining_lost_on_the_way_does_not_stop_the_next_ones(django_capture_on_commit_callbacks):
    ada = subscribe("ada@example.org", ("Robots", "robot"))
    with django_capture_on_commit_callbacks() as queued:
        assert reader_model_queue(subscriber=ada)
        assert not reader_model_queue(subscriber=ada)  # the queued one will read this vote too
    assert len(queued) == 1
    # Its message never reached a worker: an hour on, a vote queues another.
    ReaderModel.objects.filter(subscriber=ada).update(queued_at=DAY1 - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks() as queued:
        assert reader_model_queue(subscriber=ada)
    assert len(queued) == 1
