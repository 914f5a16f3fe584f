"""Rendering: the compiled path gives what the templates give directly, and stays safe."""

from __future__ import annotations

import datetime as dt
import re

import pytest
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
