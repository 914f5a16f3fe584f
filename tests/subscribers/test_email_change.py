"""A subscriber moves their subscription to another address from the manage page: a link
goes to the new address, pressing its button moves it, the old address is told."""

import re
import time

import pytest
from django.test import Client

from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory
from tests.subscribers.conftest import links_in

pytestmark = pytest.mark.django_db
Status = Subscriber.Status
Kind = SubscriberEvent.Kind
SITE = "https://alerts.example.org"
CHANGE_LINK = re.compile(r"https://alerts\.example\.org(/email/[^/\s]+/)")


@pytest.fixture
def subscriber():
    return SubscriberFactory(email="ada@uni.edu")


def manage_path(subscriber) -> str:
    return tokens.manage_url(subscriber).removeprefix(SITE)


def ask(client, capture, subscriber, new_email, ip="203.0.113.9"):
    with capture(execute=True):
        return client.post(
            manage_path(subscriber), {"action": "change_email", "new_email": new_email}, REMOTE_ADDR=ip
        )


def change_link(message) -> str:
    return CHANGE_LINK.search(message.body).group(1)


def test_the_new_address_confirms_and_the_old_one_is_told(
    client, outbox, subscriber, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    old_manage, old_unsubscribe = (
        manage_path(subscriber),
        tokens.unsubscribe_url(subscriber).removeprefix(SITE),
    )
    answer = ask(client, capture, subscriber, "Ada.Lovelace@NEW.example")
    assert answer.status_code == 200
    assert "Check the new inbox" in answer.text
    assert "Ada.Lovelace@new.example" in answer.text
    subscriber.refresh_from_db()
    assert subscriber.email == "ada@uni.edu"  # nothing changes until the link is pressed

    (message,) = outbox
    assert message.to == ["Ada.Lovelace@new.example"]
    assert message.subject == "Confirm your new address for Paper alerts"
    assert "ada@uni.edu" not in message.body  # nothing of the subscription in it
    link = change_link(message)

    # Opening shows a button (mail scanners open links); only pressing it changes anything.
    page = client.get(link)
    assert "Use this address" in page.text
    subscriber.refresh_from_db()
    assert subscriber.email == "ada@uni.edu"
    with capture(execute=True):
        done = client.post(link)
    assert done.status_code == 200
    assert "Your address is changed" in done.text
    subscriber.refresh_from_db()
    assert subscriber.email == "Ada.Lovelace@new.example"
    assert subscriber.pending_email == ""
    assert tokens.manage_url(subscriber) in done.text

    notice = outbox[1]
    assert notice.to == ["ada@uni.edu"]
    assert "has moved to another address" in notice.body
    assert "new.example" not in notice.body  # the old mailbox is not told where
    assert not re.search(r"/(manage|unsubscribe|email|confirm)/", notice.body + notice.alternatives[0][0])

    # Links that went to the old address no longer open the preferences; unsubscribe works.
    assert client.get(old_manage).status_code == 404
    assert client.get(old_unsubscribe).status_code == 200
    event = subscriber.events.get(kind=Kind.EMAIL_CHANGED)
    assert event.detail == {"from": "ada@uni.edu", "to": "Ada.Lovelace@new.example"}


def test_a_used_link_does_not_work_again(client, outbox, subscriber, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ask(client, capture, subscriber, "ada@new.example")
    link = change_link(outbox[0])
    with capture(execute=True):
        assert client.post(link).status_code == 200
    again = client.post(link)
    assert again.status_code == 404
    assert "This link does not work" in again.text
    assert len(outbox) == 2  # one notice to the old address, not two


def test_a_newer_request_voids_the_older_link(client, outbox, subscriber, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ask(client, capture, subscriber, "first@new.example")
    ask(client, capture, subscriber, "second@new.example")
    first, second = change_link(outbox[0]), change_link(outbox[1])
    assert client.post(first).status_code == 404
    with capture(execute=True):
        assert client.post(second).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.email == "second@new.example"


def test_expired_forged_and_revoked_links_are_refused(
    client, outbox, subscriber, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    ask(client, capture, subscriber, "ada@new.example")
    subscriber.refresh_from_db()
    token = change_link(outbox[0]).split("/")[2]
    week = tokens.EMAIL_CHANGE_MAX_AGE
    expired = tokens.email_change_token(subscriber, timestamp=time.time() - week - 60)
    fresh_enough = tokens.email_change_token(subscriber, timestamp=time.time() - week + 60)
    ident, signature = token.rsplit(".", 1)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other = SubscriberFactory(email="eve@uni.edu")
    for bad in (
        expired,
        f"{ident}.{flipped}",
        token[:-1],
        tokens.make_token(subscriber, tokens.CONFIRM),  # a genuine token of another purpose
        tokens.make_token(other, tokens.MANAGE),
        "....",
    ):
        assert client.post(f"/email/{bad}/").status_code == 404, bad
    assert client.get(f"/email/{fresh_enough}/").status_code == 200
    # The same signature over another subscriber's id opens nothing.
    other.pending_email = "ada@new.example"
    other.save()
    parts = token.split(".")
    assert (
        client.post(f"/email/{tokens.signing.b62_encode(other.pk)}.{parts[1]}.{parts[2]}/").status_code == 404
    )
    # "Sign out everywhere" revokes a pending change's link too.
    with capture(execute=True):
        client.post(manage_path(subscriber), {"action": "sign_out"})
    assert client.post(f"/email/{token}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.email == "ada@uni.edu"


def test_an_address_that_is_taken_gets_the_same_answer_and_its_owner_is_told(
    client, outbox, subscriber, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    owner = SubscriberFactory(email="grace@new.example")
    free = ask(client, capture, subscriber, "free@new.example")
    taken = ask(client, capture, subscriber, "Grace@New.example")
    mask = re.compile(r"free@new\.example|Grace@new\.example")
    assert free.status_code == taken.status_code == 200
    assert mask.sub("", free.text) == mask.sub("", taken.text)

    assert [m.to for m in outbox] == [["free@new.example"], ["grace@new.example"]]
    told = outbox[1]
    assert "already has a subscription of its own" in told.body
    assert set(links_in(told)) == {"manage", "unsubscribe"}
    assert tokens.manage_url(owner) in told.body
    assert not CHANGE_LINK.search(told.body)
    # The earlier request's link is void too: the latest request is the one that counts.
    assert client.post(change_link(outbox[0])).status_code == 404
    subscriber.refresh_from_db()
    owner.refresh_from_db()
    assert (subscriber.email, owner.email) == ("ada@uni.edu", "grace@new.example")


def test_a_complained_owner_is_never_mailed(client, outbox, subscriber, django_capture_on_commit_callbacks):
    SubscriberFactory(email="grace@new.example", status=Status.COMPLAINED)
    answer = ask(client, django_capture_on_commit_callbacks, subscriber, "grace@new.example")
    assert "Check the new inbox" in answer.text
    assert outbox == []


def test_an_address_taken_after_the_request_is_not_overwritten(
    client, outbox, subscriber, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    ask(client, capture, subscriber, "grace@new.example")
    SubscriberFactory(email="GRACE@new.example")  # signed up meanwhile
    refused = client.post(change_link(outbox[0]))
    assert refused.status_code == 409
    assert "has a subscription of its own" in refused.text
    subscriber.refresh_from_db()
    assert subscriber.email == "ada@uni.edu"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("=?utf-8?b?ZXZlQGV2aWwuZXhhbXBsZQ==?=@new.example", "cannot be an encoded word"),
        ("eve@evil.example\r\nBcc: victim@example.org", "line breaks"),
        ("a@new.example, b@new.example", "one email address only"),
        ("Eve <eve@new.example>", "one email address only"),
        ("ada@uni.edu", "already the address of this subscription"),
        ("ADA@UNI.EDU", "already the address of this subscription"),
        ("", "Enter the new address."),
    ],
)
def test_hostile_and_pointless_addresses_are_refused_clearly(
    client, outbox, subscriber, django_capture_on_commit_callbacks, typed, says
):
    answer = ask(client, django_capture_on_commit_callbacks, subscriber, typed)
    assert answer.status_code == 400
    assert says in answer.text
    assert 'id="id_new_email_error"' in answer.text
    assert outbox == []
    subscriber.refresh_from_db()
    assert subscriber.pending_email == ""


def test_the_domain_rule_applies_to_the_new_address(
    client, outbox, subscriber, settings, django_capture_on_commit_callbacks
):
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu"]
    assert "An address at uni.edu." in client.get(manage_path(subscriber)).text
    refused = ask(client, django_capture_on_commit_callbacks, subscriber, "ada@gmail.example")
    assert refused.status_code == 400
    assert "Subscriptions here are for addresses at uni.edu. Choose an address there." in refused.text
    assert "invitation" not in refused.text  # invitations open the sign-up form only
    assert outbox == []
    ask(client, django_capture_on_commit_callbacks, subscriber, "lovelace@uni.edu")
    # The rule is checked again when the link is pressed: it may have changed since.
    settings.SIGNUP_ALLOWED_DOMAINS = ["lab.org"]
    refused = client.post(change_link(outbox[0]))
    assert refused.status_code == 409
    assert "Subscriptions here are for addresses at lab.org" in refused.text


def test_requests_are_limited_per_subscriber_and_per_client(
    client, outbox, subscriber, settings, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    SubscriberFactory(email="taken@new.example")
    answers = [ask(client, capture, subscriber, f"n{i}@new.example") for i in range(2)]
    answers.append(ask(client, capture, subscriber, "taken@new.example"))  # counts the same
    answers.append(ask(client, capture, subscriber, "n9@new.example"))
    assert "already sent several address-change links" in answers[-1].text
    assert all("already sent several" not in a.text for a in answers[:-1])
    assert len(outbox) == 3  # two links and the owner's notice; nothing for n9
    assert subscriber.events.filter(kind=Kind.EMAIL_CHANGE_REQUESTED).count() == 3

    settings.RATE_LIMIT_RESEND = "2/h"
    other = SubscriberFactory(email="bob@uni.edu")
    for i in range(2):
        assert ask(client, capture, other, f"b{i}@new.example", ip="198.51.100.7").status_code == 200
    limited = ask(client, capture, other, "b9@new.example", ip="198.51.100.7")
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


def test_only_an_active_subscription_moves(client, outbox, django_capture_on_commit_callbacks):
    pending = SubscriberFactory(email="p@uni.edu", status=Status.PENDING)
    page = client.get(manage_path(pending))
    assert "Change your email address" not in page.text
    answer = ask(client, django_capture_on_commit_callbacks, pending, "p@new.example")
    assert answer.status_code == 302
    assert outbox == []


def test_the_form_needs_the_csrf_token(subscriber):
    client = Client(enforce_csrf_checks=True)
    answer = client.post(manage_path(subscriber), {"action": "change_email", "new_email": "x@new.example"})
    assert answer.status_code == 403


def test_free_and_taken_addresses_are_answered_after_the_same_fixed_time(
    client, subscriber, settings, django_capture_on_commit_callbacks
):
    settings.SIGNUP_ANSWER_SECONDS = 0.2
    SubscriberFactory(email="taken@new.example")
    for new_email in ("free@new.example", "taken@new.example"):
        started = time.monotonic()
        assert ask(client, django_capture_on_commit_callbacks, subscriber, new_email).status_code == 200
        assert time.monotonic() - started >= 0.2, new_email
