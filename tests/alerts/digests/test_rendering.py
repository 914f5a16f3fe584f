"""Rendering: the compiled path gives what the templates give directly, and stays safe."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager

import pytest
from django.test.signals import template_rendered
from django.utils import timezone

from alerts.digests import composing
from alerts.digests.composing import FilterSpec
from alerts.digests.rendering import LABELS, Links, render_digest, render_digest_direct, rendering_of
from tests.factories import PaperFactory

from .conftest import make_papers

pytestmark = pytest.mark.django_db

LINKS = Links(
    manage_url="https://alerts.example.org/manage/abc.def/",
    unsubscribe_url="https://alerts.example.org/unsubscribe/abc.def/",
    view_url="https://alerts.example.org/digest/xyz.uvw/",
)


def compose_and_render(filters, pidx=None, **kwargs):
    now = pidx.window_end if pidx else timezone.now()
    pidx = pidx or composing.build_period_index(now)
    composition = composing.compose(
        pidx=pidx,
        filters=[FilterSpec(n, q) for n, q in filters],
        window_start=now - dt.timedelta(days=1),
        excluded=0,
        max_papers=20,
        include_trending=kwargs.pop("include_trending", True),
    )
    args = dict(
        composition=composition,
        email=kwargs.pop("email", "ada@example.org"),
        filter_names=[n for n, _ in filters],
        period=now.date(),
        weekly=False,
        links=LINKS,
    )
    return composition, render_digest(pidx=pidx, **args), render_digest_direct(**args)


def test_compiled_rendering_is_exactly_the_templates_rendered_directly():
    make_papers()
    composition, fast, direct = compose_and_render([("Attention", "attention"), ("Diffusion", "diffusion")])
    assert composition.items
    assert composition.trending
    assert fast.subject == direct.subject
    assert fast.text == direct.text
    assert fast.html == direct.html


def test_hostile_paper_text_and_filter_names_are_escaped_in_html_and_kept_as_text():
    PaperFactory(
        title='<script>alert("t")</script> Attention <img src=x onerror=alert(1)>',
        abstract='Attention \u202eevil\u202c <b>bold</b> & "quotes" javascript:alert(1)',
        abs_url="javascript:alert(1)",
        pdf_url="https://arxiv.org/pdf/2611.00001",
        authors=["<i>Mallory</i>"],
    )
    name = '<b onmouseover="x">Attention</b>\r\nBcc: victim@example.org'
    _composition, fast, direct = compose_and_render([(name, "attention")], email="ada@example.org")
    assert fast.html == direct.html
    html = fast.html
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;i&gt;Mallory&lt;/i&gt;" in html
    assert 'href="javascript:' not in html  # a feed's javascript: link is dropped
    assert re.search(r'href="https://arxiv.org/pdf/2611.00001"', html)
    # The filter name reaches the subject line on one line, without a header break.
    assert "\r" not in fast.subject
    assert "\n" not in fast.subject
    assert "Bcc: victim@example.org" in fast.subject  # as text, harmless inside the subject
    # The text part keeps the text as it is (it is not HTML).
    assert '<script>alert("t")</script>' in fast.text


def test_a_paper_block_is_rendered_once_per_run_and_reused():
    make_papers()
    now = timezone.now()
    pidx = composing.build_period_index(now)
    spec = [FilterSpec("Attention", "attention")]
    comps = [
        composing.compose(
            pidx=pidx,
            filters=spec,
            window_start=now - dt.timedelta(days=1),
            excluded=0,
            max_papers=20,
            include_trending=False,
        )
        for _ in range(3)
    ]
    for n, comp in enumerate(comps):
        render_digest(
            pidx=pidx,
            composition=comp,
            email=f"r{n}@example.org",
            filter_names=["Attention"],
            period=now.date(),
            weekly=False,
            links=LINKS,
        )
    # Three digests with the same papers: one block per paper, not three.
    assert len(rendering_of(pidx).blocks) == len(comps[0].items)


def test_shared_blocks_mark_each_subscribers_own_terms_exactly_as_the_templates_do():
    make_papers()
    pidx = composing.build_period_index(timezone.now())
    subscribers = [
        [("Diffusion", "diffus*")],  # a prefix: marks "diffusion" in titles and abstracts
        [("GPUs", "gpu-accelerated")],  # a compound: the whole hyphenated word
        [("Attention", "ti:attention"), ("Categories", "cat:cs.LG")],  # a title term; no terms
        [("Diffusion", "diffusion"), ("Attention", "attention")],
    ]
    rendered, shown = [], set()
    for n, filters in enumerate(subscribers):
        composition, fast, direct = compose_and_render(filters, pidx, email=f"r{n}@example.org")
        assert (fast.subject, fast.text, fast.html) == (direct.subject, direct.text, direct.html)
        rendered.append(fast.html)
        shown |= {(item.doc, LABELS[item.section]) for item in composition.all_items}
    marked = [re.findall(r"<mark[^>]*>([^<]*)</mark>", html) for html in rendered]
    assert set(marked[0]) == {"diffusion"}
    assert set(marked[1]) == {"GPU-accelerated"}
    assert set(marked[2]) == {"attention"}  # the cs.LG papers without it are shown unmarked
    assert set(marked[3]) == {"diffusion", "attention"}
    # One block per paper and section shown, whoever reads it: only the marks differ.
    assert set(rendering_of(pidx).blocks) == shown


@contextmanager
def templates_rendered():
    """The names of the templates rendered inside the block."""
    names: list[str] = []

    def record(sender, template, **kwargs):
        names.append(template.name)

    template_rendered.connect(record, weak=False, dispatch_uid="test_rendering")
    try:
        yield names
    finally:
        template_rendered.disconnect(dispatch_uid="test_rendering")


def _args(pidx, filters, links, email="ada@example.org"):
    """A digest of `pidx`'s run: its composition and the arguments that render it."""
    composition = composing.compose(
        pidx=pidx,
        filters=[FilterSpec(n, q) for n, q in filters],
        window_start=pidx.window_end - dt.timedelta(days=1),
        excluded=0,
        max_papers=20,
        include_trending=False,
    )
    args = dict(
        composition=composition,
        email=email,
        filter_names=[n for n, _ in filters],
        period=pidx.window_end.date(),
        weekly=False,
        links=links,
    )
    return composition, args


def test_papers_that_share_a_block_shape_are_filled_in_without_a_template_and_each_shows_its_own_text():
    # Four papers whose blocks have the same shape (the same values empty or not, abstract
    # cut or not, no upvotes), with text that needs escaping in every value a block shows.
    for n, word in enumerate(["alpha", "beta", "gamma", "delta"]):
        PaperFactory(
            title=f'<b onclick="x">{word}</b> & <i>co</i>\u00a0{n}',
            abstract=f"A {word} study <script>alert({n})</script> & more",
            authors=[f"<em>{word.title()}</em> O'Hara\r", f"Ann & {n}"],
            categories=[f"cs.<{word}>", "cs.LG\u00a0x"],
            abs_url=f'https://example.org/abs?{word}=1&n={n}&q="{word}"',
            pdf_url=f"https://example.org/pdf/{word}<{n}>",
        )
    pidx = composing.build_period_index(timezone.now())
    # The first digest makes the shape (unless an earlier digest of this process did).
    _composition, args = _args(pidx, [("Alpha", "alpha")], LINKS)
    assert render_digest(pidx=pidx, **args).html == render_digest_direct(**args).html
    composition, args = _args(pidx, [("Others", "beta OR gamma OR delta")], LINKS, "bo@example.org")
    assert len(composition.items) == 3
    with templates_rendered() as rendered:
        fast = render_digest(pidx=pidx, **args)
    # Three new blocks, filled in from that shape: no template rendered for them.
    assert rendered == []
    with templates_rendered() as rendered:
        direct = render_digest_direct(**args)
    assert "emails/_digest_paper.html" in rendered  # (what rendering them would have shown)
    assert (fast.subject, fast.text, fast.html) == (direct.subject, direct.text, direct.html)
    html = fast.html
    for n, word in enumerate(["beta", "gamma", "delta"], start=1):
        # Each block shows its own values, escaped: nothing of another paper leaks in.
        assert html.count(f"{word}</mark>&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt; {n}</a>") == 1
        assert html.count(f"&lt;em&gt;{word.title()}&lt;/em&gt; O'Hara\n, Ann &amp; {n}<") == 1
        assert html.count(f'href="https://example.org/abs?{word}=1&amp;n={n}&amp;q=&quot;{word}&quot;"') == 1
        assert html.count(f"&lt;script&gt;alert({n})&lt;/script&gt;") == 1
        assert html.count(f"cs.&lt;{word}&gt;, cs.LG&nbsp;x") == 1
        assert fast.text.count(f"<em>{word.title()}</em> O'Hara\r, Ann & {n}") == 1
    assert "<script" not in html
    assert "<em>" not in html
    assert "alpha" not in html.lower()


def test_two_readers_of_one_run_get_their_own_links_in_the_shared_blocks():
    make_papers()
    pidx = composing.build_period_index(timezone.now())
    filters = [("Attention", "attention"), ("Diffusion", "diffusion")]
    links = [
        Links(
            manage_url=f"https://alerts.example.org/manage/m{n}.sig{n}/",
            unsubscribe_url=f"https://alerts.example.org/unsubscribe/u{n}.sig{n}/",
            view_url=f"https://alerts.example.org/digest/v{n}.sig{n}/",
            feedback_url=f"https://alerts.example.org/feedback/f{n}.sig{n}",
        )
        for n in (1, 2)
    ]
    digests = []
    for n, link in enumerate(links, start=1):
        composition, args = _args(pidx, filters, link, f"reader{n}@example.org")
        digests.append((composition, render_digest(pidx=pidx, **args), render_digest_direct(**args)))
    # The same papers, so the same blocks: only the links and the address differ.
    assert [item.doc for item in digests[0][0].items] == [item.doc for item in digests[1][0].items]
    for (composition, fast, direct), own, other in zip(digests, links, reversed(links), strict=True):
        assert (fast.subject, fast.text, fast.html) == (direct.subject, direct.text, direct.html)
        # Three feedback links under every paper (and the saved papers' link), all this digest's.
        assert fast.html.count(f'href="{own.feedback_url}/') == 3 * len(composition.items) + 1
        assert fast.text.count(f"{own.feedback_url}/") == 3 * len(composition.items)
        for paper in (item.paper for item in composition.items):
            for action in ("more", "less", "save"):
                assert f'href="{own.feedback_url}/{paper.id}/{action}/"' in fast.html
        for url in (own.manage_url, own.unsubscribe_url, own.view_url):
            assert f'href="{url}"' in fast.html
            assert url in fast.text
        for url in (other.manage_url, other.unsubscribe_url, other.view_url, other.feedback_url):
            assert url not in fast.html
            assert url not in fast.text
