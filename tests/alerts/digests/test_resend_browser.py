"""An admin sends a digest again from the admin, in real Chromium: the digest's page, the
confirmation, the second message at the ESP (anymail's test backend) with its own
Message-ID, and the audit entry on the digest's page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from alerts.digests.runner import digests_run
from alerts.models import Digest, DigestResend

from .conftest import subscribe

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-admin-password"


def test_an_admin_sends_a_digest_again_and_the_esp_gets_a_second_message_with_a_new_message_id(
    browser, live_server, screenshots, papers, mailoutbox, settings
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    assert digests_run().sent == 1
    digest = Digest.objects.get()
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/alerts/digest/{digest.pk}/change/")
        page.fill("#id_username", "root")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.click("a:has-text('Send this digest again')")
        page.wait_for_url(f"**/admin/alerts/digest/{digest.pk}/resend/")
        facts = page.locator("#resend-digest").inner_text()
        assert "ada@example.org (Active)" in facts
        assert (
            f"Daily from {digest.period:%a} {digest.period.day} {digest.period:%b} {digest.period.year}"
            in facts
        )
        assert "with a new Message-ID" in page.locator("#resend-effect").inner_text()
        assert len(mailoutbox) == 1  # the confirmation page alone sends nothing
        page.screenshot(path=str(screenshots / "resend-confirm.png"), full_page=True)
        page.click("#resend-confirm")
        page.wait_for_url(f"**/admin/alerts/digest/{digest.pk}/change/")
        assert (
            "is on its way again to ada@example.org" in page.locator("ul.messagelist li.success").inner_text()
        )
        audit = page.locator("#resends-group").inner_text()
        assert "root" in audit
        assert "Sent" in audit
    finally:
        context.close()
    first, second = mailoutbox
    assert second.to == first.to == ["ada@example.org"]
    assert second.extra_headers["Message-ID"] != first.extra_headers["Message-ID"]
    assert second.anymail_status.message_id != first.anymail_status.message_id
    resend = DigestResend.objects.get()
    assert resend.message_id == second.extra_headers["Message-ID"]
    assert resend.esp_message_id == str(second.anymail_status.message_id)
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT
    assert digest.esp_message_id == first.extra_headers["Message-ID"].strip("<>")  # as first recorded
