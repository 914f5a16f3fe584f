"""Admin pages beyond the models' own lists need their own permission: being staff is not
enough to read a subscriber's next digest or the outbox's confirm and manage links."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from .conftest import subscribe

pytestmark = pytest.mark.django_db

PREVIEW = "/admin/alerts/digest/preview/?email=ada@example.org"


@pytest.fixture
def staff(client, django_user_model):
    """A staff member with no permission at all, logged in."""
    user = django_user_model.objects.create_user(
        "clerk", "clerk@example.org", "pw-for-tests-1", is_staff=True
    )
    client.force_login(user)
    return user


def grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="alerts"))


@pytest.fixture
def one_outbox_message(outbox_dir) -> str:
    message = mail.EmailMessage(
        "Confirm your subscription",
        "confirm here: https://alerts.example.org/confirm/abc123/",
        to=["ana@example.org"],
        connection=mail.get_connection("alerts.outbox.OutboxEmailBackend"),
    )
    message.send()
    return next(outbox_dir.glob("*.eml")).name


def test_staff_without_the_permission_cannot_preview_or_send_a_test_digest(client, staff, papers, mailoutbox):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    response = client.get(PREVIEW)
    assert response.status_code == 403
    assert "ada@example.org" not in response.content.decode()
    assert client.get("/admin/alerts/digest/preview/?email=nobody@example.org").status_code == 403
    response = client.post("/admin/alerts/digest/preview/", {"email": "ada@example.org", "send_test": "1"})
    assert response.status_code == 403
    assert mailoutbox == []


def test_staff_with_the_preview_permission_see_the_preview(client, staff, papers):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    grant(staff, "preview_digest")
    response = client.get(PREVIEW)
    assert response.status_code == 200
    assert "2 new papers for" in response.content.decode()


def test_staff_without_the_permission_cannot_read_the_outbox(client, staff, one_outbox_message):
    assert client.get("/admin/outbox/").status_code == 403
    assert client.get(f"/admin/outbox/{one_outbox_message}/").status_code == 403
    assert "/admin/outbox/" not in client.get("/admin/").content.decode()


def test_staff_with_the_outbox_permission_read_it(client, staff, one_outbox_message):
    grant(staff, "view_outbox")
    page = client.get("/admin/outbox/")
    assert page.status_code == 200
    assert "ana@example.org" in page.content.decode()
    assert client.get(f"/admin/outbox/{one_outbox_message}/").status_code == 200
    assert "/admin/outbox/" in client.get("/admin/").content.decode()


def test_the_test_copy_and_the_preview_carry_no_link_that_acts_for_the_subscriber(
    admin_client, admin_user, papers, mailoutbox
):
    from subscribers.tokens import manage_url, unsubscribe_url

    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    real = [manage_url(subscriber), unsubscribe_url(subscriber)]
    page = admin_client.get(PREVIEW).content.decode()
    assert "2 new papers for" in page
    assert "/manage/" not in page
    assert "/unsubscribe/" not in page
    admin_user.email = "admin@example.org"
    admin_user.save()
    admin_client.post("/admin/alerts/digest/preview/", {"email": "ada@example.org", "send_test": "1"})
    (message,) = mailoutbox
    assert "List-Unsubscribe" not in message.extra_headers
    assert "List-Unsubscribe-Post" not in message.extra_headers
    (html, _), *_ = message.alternatives
    for body in (message.body, html):
        assert "/manage/" not in body
        assert "/unsubscribe/" not in body
        assert not any(link in body for link in real)
