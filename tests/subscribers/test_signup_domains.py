"""Sign-up restricted to a lab's or an institute's domains (SIGNUP_ALLOWED_DOMAINS), and
the invitation links an admin creates for everyone else."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.utils import timezone

from subscribers import invitations, tokens
from subscribers.addresses import domain_allowed
from subscribers.models import Invitation, Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db
Status = Subscriber.Status
DOMAIN_MESSAGE = "Subscriptions here are for addresses at uni.edu or *.lab.org."


@pytest.fixture
def restricted(settings):
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu", "*.lab.org"]


def sign_up(client, capture, email, path="/", **fields):
    with capture(execute=True):
        return client.post(path, signup_data(email, **fields), REMOTE_ADDR="203.0.113.9")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("ada@uni.edu", True),
        ("ada@UNI.EDU", False),  # not normalised: addresses are normalised before this check
        ("ada@cs.uni.edu", False),  # a plain entry is that domain only
        ("ada@evil-uni.edu", False),
        ("ada@uni.edu.evil.example", False),
        ("ada@lab.org", False),  # *.lab.org is its subdomains, not lab.org itself
        ("ada@cs.lab.org", True),
        ("ada@a.b.lab.org", True),
        ("ada@evillab.org", False),
        ("ada@lab.org.evil.example", False),
    ],
)
def test_the_domain_rule_matches_whole_labels(address, allowed):
    assert domain_allowed(address, ["uni.edu", "*.lab.org"]) is allowed


def test_an_empty_list_lets_anyone_sign_up(client, outbox, django_capture_on_commit_callbacks):
    response = sign_up(client, django_capture_on_commit_callbacks, "ada@anywhere.example")
    assert "Check your inbox" in response.text
    assert "Sign-up here is for" not in client.get("/").text


def test_the_form_says_who_may_sign_up(client, restricted):
    page = client.get("/")
    assert DOMAIN_MESSAGE in page.text


@pytest.mark.parametrize("address", ["ada@uni.edu", "Ada@UNI.edu", "ada@cs.lab.org", "ada@CS.Lab.ORG."])
def test_an_address_at_an_allowed_domain_signs_up(
    client, outbox, restricted, django_capture_on_commit_callbacks, address
):
    response = sign_up(client, django_capture_on_commit_callbacks, address)
    assert "Check your inbox" in response.text
    assert Subscriber.objects.count() == 1
    assert len(outbox) == 1


@pytest.mark.parametrize(
    "address", ["ada@gmail.example", "ada@lab.org", "ada@evil-uni.edu", "ada@uni.edu.evil.example"]
)
def test_others_are_told_about_the_domain_only(
    client, outbox, restricted, django_capture_on_commit_callbacks, address
):
    response = sign_up(client, django_capture_on_commit_callbacks, address)
    assert response.status_code == 400
    assert f'<p class="error" id="id_email_error">{DOMAIN_MESSAGE}' in response.text
    assert "invitation link" in response.text
    assert Subscriber.objects.count() == 0
    assert outbox == []


def test_the_answer_is_the_same_whether_the_address_is_subscribed(
    client, outbox, restricted, django_capture_on_commit_callbacks
):
    """An address let in by an invitation (or before the restriction) gets the same refusal
    as an unknown one: the message is about the domain, never about the address."""
    SubscriberFactory(email="known@gmail.example")
    known = sign_up(client, django_capture_on_commit_callbacks, "known@gmail.example")
    unknown = sign_up(client, django_capture_on_commit_callbacks, "unknown@gmail.example")
    mask = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|value="(known|unknown)@gmail.example"')
    assert known.status_code == unknown.status_code == 400
    assert mask.sub("", known.text) == mask.sub("", unknown.text)
    assert outbox == []


def test_the_trending_one_box_follows_the_rule_too(
    client, outbox, restricted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", {"action": "trending", "email": "ada@gmail.example"})
    assert response.status_code == 400
    assert "Subscriptions here are for addresses at uni.edu" in response.text
    assert outbox == []


def test_a_bad_entry_in_the_setting_is_a_system_check_error(settings):
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu", "*@lab.org"]
    (error,) = [m for m in checks.run_checks() if m.id == "subscribers.E001"]
    assert "*@lab.org" in error.msg
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu", "*.bücher.de"]
    assert [m for m in checks.run_checks() if m.id == "subscribers.E001"] == []


# Invitations ---------------------------------------------------------------------------


@pytest.fixture
def admin_user():
    return get_user_model().objects.create_superuser("admin", "admin@uni.edu", "pw")


def invite(admin_user, **fields) -> Invitation:
    values = {
        "note": "For Grace, visiting",
        "expires_at": timezone.now() + dt.timedelta(days=3),
        "max_uses": 1,
    }
    return invitations.invitation_create(created_by=admin_user, **{**values, **fields})


def invitation_path(invitation) -> str:
    return tokens.invitation_url(invitation).removeprefix("https://alerts.example.org")


def test_an_invitation_lets_another_domain_sign_up(
    client, outbox, restricted, admin_user, django_capture_on_commit_callbacks
):
    invitation = invite(admin_user)
    path = invitation_path(invitation)
    page = client.get(path)
    assert page.status_code == 200
    assert "You have an invitation" in page.text
    assert "For Grace" not in page.text  # the note is the admins'
    assert f'action="{path}"' in page.text
    response = sign_up(client, django_capture_on_commit_callbacks, "grace@gmail.example", path=path)
    assert "Check your inbox" in response.text
    subscriber = Subscriber.objects.get(email="grace@gmail.example")
    assert subscriber.events.get(kind=SubscriberEvent.Kind.CREATED).detail["invitation"] == invitation.pk
    invitation.refresh_from_db()
    assert invitation.uses == 1
    assert [m.to for m in outbox] == [["grace@gmail.example"]]


def test_a_used_up_invitation_gets_a_clear_page_and_lets_no_one_in(
    client, outbox, restricted, admin_user, django_capture_on_commit_callbacks
):
    invitation = invite(admin_user, max_uses=2)
    path = invitation_path(invitation)
    for email in ("a@gmail.example", "b@gmail.example"):
        assert sign_up(client, django_capture_on_commit_callbacks, email, path=path).status_code == 200
    third = sign_up(client, django_capture_on_commit_callbacks, "c@gmail.example", path=path)
    assert third.status_code == 410
    assert "already been used as many times as it allows" in third.text
    assert client.get(path).status_code == 410
    assert not Subscriber.objects.filter(email="c@gmail.example").exists()
    invitation.refresh_from_db()
    assert invitation.uses == 2


def test_a_use_is_claimed_only_by_a_sign_up_that_succeeds(
    client, restricted, admin_user, django_capture_on_commit_callbacks
):
    invitation = invite(admin_user)
    path = invitation_path(invitation)
    bad = sign_up(
        client, django_capture_on_commit_callbacks, "grace@gmail.example", path=path, filters=[("x", "ti:(")]
    )
    assert bad.status_code == 400
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_the_page_runs_out_between_showing_and_sending(
    client, restricted, admin_user, django_capture_on_commit_callbacks
):
    invitation = invite(admin_user)
    path = invitation_path(invitation)
    assert client.get(path).status_code == 200
    Invitation.objects.filter(pk=invitation.pk).update(uses=1)  # someone else used it meanwhile
    response = sign_up(client, django_capture_on_commit_callbacks, "grace@gmail.example", path=path)
    assert response.status_code == 410
    assert Subscriber.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"expires_at": timezone.now() - dt.timedelta(minutes=1)}, 410, "This invitation expired on"),
        ({"revoked_at": timezone.now()}, 410, "This invitation has been withdrawn"),
    ],
)
def test_expired_and_revoked_invitations_say_so(client, restricted, admin_user, change, status, says):
    invitation = invite(admin_user)
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    page = client.get(invitation_path(invitation))
    assert page.status_code == status
    assert says in page.text
    assert "<h1>This invitation does not work</h1>" in page.text


def test_forged_truncated_and_foreign_invitation_tokens_are_refused(client, restricted, admin_user):
    invitation = invite(admin_user)
    other = invite(admin_user)
    token = tokens.invitation_token(invitation)
    ident, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    foreign_signature = tokens.invitation_token(other).split(".")[1]
    subscriber = SubscriberFactory()
    manage_token = tokens.make_token(subscriber, tokens.MANAGE)
    for forged in (
        f"{ident}.{flipped}",
        token[:-1],
        token + "A",
        f"{ident}.{foreign_signature}",  # another invitation's signature
        manage_token,  # a genuine token of another purpose
        "....",
        "zz",
    ):
        page = client.get(f"/invite/{forged}/")
        assert page.status_code == 404, forged
        assert "This invitation link does not work" in page.text
    # A link dies with its invitation: a newer one that gets the same id is not opened by it.
    Invitation.objects.filter(pk=invitation.pk).update(secret="0" * 32)
    assert client.get(f"/invite/{token}/").status_code == 404


def test_the_admin_creates_an_invitation_and_shows_its_link(client, admin_user, restricted):
    client.force_login(admin_user)
    add = client.get("/admin/subscribers/invitation/add/")
    assert add.status_code == 200
    expires = (timezone.localtime() + dt.timedelta(days=5)).replace(microsecond=0)
    response = client.post(
        "/admin/subscribers/invitation/add/",
        {
            "note": "Visiting <b>students</b>",
            "expires_at_0": expires.strftime("%Y-%m-%d"),
            "expires_at_1": expires.strftime("%H:%M:%S"),
            "max_uses": "5",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    invitation = Invitation.objects.get()
    assert (invitation.created_by, invitation.max_uses, invitation.uses) == (admin_user, 5, 0)
    listing = client.get("/admin/subscribers/invitation/")
    assert tokens.invitation_url(invitation) in listing.text
    assert "0 of 5" in listing.text
    assert "valid" in listing.text
    assert "<b>students</b>" not in listing.text  # the note is escaped
    change = client.get(f"/admin/subscribers/invitation/{invitation.pk}/change/")
    assert f'value="{tokens.invitation_url(invitation)}"' in change.text

    client.post(
        "/admin/subscribers/invitation/",
        {"action": "revoke", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert "revoked" in client.get("/admin/subscribers/invitation/").text
    assert client.get(invitation_path(invitation)).status_code == 410
