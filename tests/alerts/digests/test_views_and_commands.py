"""The digest in the browser, the subscriber's feed, the commands and the admin pages."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers.models import Subscriber
from subscribers.tokens import digest_view_url, feed_url

from .conftest import SITE, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(papers, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"), include_trending=True)
    digests_run()
    return Digest.objects.get(subscriber=subscriber)


def path_of(url: str) -> str:
    assert url.startswith(SITE)
    return url.removeprefix(SITE)


def test_the_view_in_browser_link_shows_the_digest_as_sent(client, sent, mailoutbox):
    (message,) = mailoutbox
    link = re.search(r"View in your browser: (\S+)", message.body).group(1)
    response = client.get(path_of(link))
    assert response.status_code == 200
    page = re.sub(r"<[^>]+>", "", response.content.decode())  # text, without the highlights
    for item in sent.items.select_related("paper"):
        assert item.paper.title in page
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-3], lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "1.x"]
)
def test_a_forged_or_truncated_digest_link_gets_a_helpful_404(client, sent, mangle):
    token = path_of(digest_view_url(sent, sent.subscriber)).split("/")[2]
    response = client.get(f"/digest/{mangle(token)}/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_another_subscribers_token_does_not_open_a_digest(client, sent):
    other = subscribe("eve@example.org", ("x", "x"))
    forged = digest_view_url(sent, other)  # signed with Eve's secret for Ada's digest
    assert client.get(path_of(forged)).status_code == 404


def test_preview_digest_prints_the_next_digest_and_writes_the_html(papers, tmp_path):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    out = StringIO()
    call_command(
        "preview_digest", "ADA@example.org", "--html", str(tmp_path / "d.html"), stdout=out, stderr=StringIO()
    )
    text = out.getvalue()
    assert text.startswith("Subject: 2 new papers for 'Diffusion'")
    assert papers["diffusion-video"].title in text
    assert "<mark" in (tmp_path / "d.html").read_text()
    assert Digest.objects.count() == 0  # a preview writes nothing


def test_preview_digest_of_an_unknown_address_is_a_clear_error(db):
    with pytest.raises(CommandError, match=r"no subscriber with the address 'nobody@example\.org'"):
        call_command("preview_digest", "nobody@example.org")


def test_send_digests_dry_run_reports_and_sends_nothing(papers, mailoutbox):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    subscribe("bob@example.org", ("Nothing", "ti:photosynthesis"))
    out = StringIO()
    call_command("send_digests", "--dry-run", stdout=out)
    assert out.getvalue().startswith("dry run: 2 subscribers, 1 digests would be sent, 1 empty")
    assert mailoutbox == []
    assert Digest.objects.count() == 0


def test_send_digests_prints_a_summary_and_can_target_one_address(papers, mailoutbox):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    subscribe("bob@example.org", ("Attention", "attention"))
    out = StringIO()
    call_command("send_digests", "--email", "bob@example.org", stdout=out)
    assert out.getvalue().startswith("dispatched 1, sent 1, skipped 0, failed 0, pending 0")
    assert [m.to for m in mailoutbox] == [["bob@example.org"]]
    with pytest.raises(CommandError, match="no receiving subscriber has that address"):
        call_command("send_digests", "--email", "nobody@example.org", stdout=StringIO())
    with pytest.raises(CommandError, match="--date must look like 2026-11-24"):
        call_command("send_digests", "--date", "24/11/2026", stdout=StringIO())


def test_admin_lists_digests_with_their_failure_reasons_and_can_send_them_again(
    admin_client, papers, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    digest = Digest.objects.get()
    Digest.objects.filter(pk=digest.pk).update(
        status=Digest.Status.FAILED, last_error="ESP answered 422: bad address"
    )
    page = admin_client.get("/admin/alerts/digest/?status__exact=failed").content.decode()
    assert "ESP answered 422: bad address" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/alerts/digest/", {"action": "retry_digests", "_selected_action": [digest.pk]}, follow=True
        )
    assert "1 failed digest(s) queued to be sent again" in response.content.decode()
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT  # tasks run in-process here
    assert len(mailoutbox) == 2
    assert subscriber.email in admin_client.get(f"/admin/alerts/digest/{digest.pk}/change/").content.decode()


def test_admin_previews_any_subscribers_next_digest_and_sends_a_test_copy(
    admin_client, admin_user, papers, mailoutbox
):
    subscribe("ada@example.org", ("Diffusion <b>", "diffusion"))
    page = admin_client.get("/admin/alerts/digest/preview/?email=ada@example.org")
    assert page.status_code == 200
    body = page.content.decode()
    assert "2 new papers for" in body
    assert "Diffusion &lt;b&gt;" in body  # escaped on the admin page too
    assert "srcdoc=" in body
    assert 'sandbox=""' in body
    assert (
        "unknown@example.org."
        in admin_client.get("/admin/alerts/digest/preview/?email=unknown@example.org").content.decode()
    )
    admin_user.email = "admin@example.org"
    admin_user.save()
    admin_client.post("/admin/alerts/digest/preview/", {"email": "ada@example.org", "send_test": "1"})
    (message,) = mailoutbox
    assert message.to == ["admin@example.org"]
    assert message.subject.startswith("[Test] 2 new papers for")
    assert Digest.objects.count() == 0
    assert Subscriber.objects.get().status == Subscriber.Status.ACTIVE


def test_the_manage_page_links_the_subscribers_feed(client, sent):
    from subscribers.tokens import manage_url

    page = client.get(path_of(manage_url(sent.subscriber))).content.decode()
    assert feed_url(sent.subscriber) in page


def test_send_when_empty_is_a_preference_of_the_sign_up_and_manage_pages(client, db, mailoutbox):
    from subscribers.tokens import manage_url

    form = {
        "email": "quiet@example.org",
        "filters-TOTAL_FORMS": "1",
        "filters-INITIAL_FORMS": "0",
        "filters-0-name": "Photosynthesis",
        "filters-0-query": "ti:photosynthesis",
        "frequency": "daily",
        "send_hour": "7",
        "timezone": "UTC",
        "max_papers": "20",
        "send_when_empty": "on",
    }
    assert client.post("/", form).status_code == 200
    subscriber = Subscriber.objects.get(email="quiet@example.org")
    assert subscriber.send_when_empty is True
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.ACTIVE)
    form.pop("email")
    form.pop("send_when_empty")
    form["filters-INITIAL_FORMS"] = "1"
    response = client.post(path_of(manage_url(subscriber)), {**form, "action": "save"})
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.send_when_empty is False
