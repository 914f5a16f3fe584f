"""Links by purpose: the feed and a digest's browser view only show; "sign out everywhere"
and an unsubscribe revoke every link that gives control, and never the unsubscribe link of
a digest already sent; an old confirmation link gives nothing away."""

from __future__ import annotations

import pytest

from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from tests.alerts.digests.conftest import make_papers, subscribe
from tests.subscribers.conftest import links_in

pytestmark = pytest.mark.django_db
SITE = "https://alerts.example.org"
Status = Subscriber.Status


def path_of(url: str) -> str:
    assert url.startswith(SITE), url
    return url.removeprefix(SITE)


@pytest.fixture
def sent(mailoutbox):
    make_papers()
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    mailoutbox.clear()
    return Digest.objects.get(subscriber=subscriber, status=Digest.Status.SENT)


def links_of(digest: Digest) -> dict[str, str]:
    """Every link of a subscriber's, made now (as in the digest sent)."""
    subscriber = digest.subscriber
    return {
        "manage": path_of(tokens.manage_url(subscriber)),
        "unsubscribe": path_of(tokens.unsubscribe_url(subscriber)),
        "confirm": path_of(tokens.confirm_url(subscriber)),
        "view": path_of(tokens.digest_view_url(digest, subscriber)),
        "feed": path_of(tokens.feed_url(subscriber)),
    }


def test_the_feed_and_the_browser_view_show_no_address_and_no_link_that_acts(client, sent):
    feed = client.get(links_of(sent)["feed"])
    assert feed.status_code == 200
    xml = feed.content.decode()
    assert "ada@example.org" not in xml
    assert "/manage/" not in xml
    assert "/unsubscribe/" not in xml
    page = client.get(links_of(sent)["view"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "ada@example.org" not in html
    assert "/manage/" not in html
    assert "/unsubscribe/" not in html
    assert f'href="{SITE}/resend/"' in html  # a manage link is sent by email on request
    assert "Diffusion" in html


def test_sign_out_everywhere_revokes_every_link_but_the_unsubscribe_link(
    client, sent, mailoutbox, django_capture_on_commit_callbacks
):
    before = links_of(sent)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(before["manage"], {"action": "sign_out"})
    assert page.status_code == 200
    assert "Every link is revoked" in page.text
    for purpose in ("manage", "confirm", "view", "feed"):
        assert client.get(before[purpose]).status_code == 404, purpose
    assert SubscriberEvent.objects.filter(kind="links_revoked").count() == 1
    # The new manage link by email works.
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"]
    assert client.get(links_in(message)["manage"]).status_code == 200
    # The unsubscribe link and the one-click of the digest sent before still work.
    assert client.get(before["unsubscribe"]).status_code == 200
    one_click = client.post(before["unsubscribe"], {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert Subscriber.objects.get().status == Status.UNSUBSCRIBED


def test_unsubscribing_revokes_the_manage_feed_and_view_links_and_keeps_the_unsubscribe_link(client, sent):
    before = links_of(sent)
    page = client.post(before["manage"], {"action": "unsubscribe"})
    assert page.status_code == 200
    assert "You are unsubscribed" in page.text
    for purpose in ("manage", "confirm", "view", "feed"):
        assert client.get(before[purpose]).status_code == 404, purpose
    assert client.get(before["unsubscribe"]).status_code == 200
    assert client.post(before["unsubscribe"], {"List-Unsubscribe": "One-Click"}).status_code == 200
    # "Subscribe again" from the unsubscribed page still works: a fresh confirmation.
    again = client.post(f"{before['unsubscribe']}resubscribe/")
    assert again.status_code == 200
    assert "Check your inbox" in again.text


def test_an_old_confirmation_link_of_an_active_subscriber_gives_no_manage_link(client, sent):
    confirm = links_of(sent)["confirm"]
    for response in (client.get(confirm), client.post(confirm)):
        assert response.status_code == 200
        assert "/manage/" not in response.text
        assert "Already confirmed" in response.text
        assert 'href="/resend/"' in response.text
