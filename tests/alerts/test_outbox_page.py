"""The admin's local outbox page: admins only, newest first, each message as sent."""

import time

import pytest
from django.core import mail

OUTBOX_BACKEND = "alerts.outbox.OutboxEmailBackend"

HTML_BODY = """<!DOCTYPE html><html><head><style>.lead { color: rgb(0, 128, 0); }</style></head>
<body><p class="lead" id="lead">Three new papers on speculative decoding</p>
<script>document.body.setAttribute("data-ran", "yes");</script>
<a id="paper" href="https://arxiv.org/abs/2603.02597">GPUTOK</a></body></html>"""


def send(subject: str, to: str, *, html: str | None = None) -> None:
    """Send one message through the outbox backend, as the running service does."""
    message = mail.EmailMultiAlternatives(
        subject=subject,
        body=f"Hello,\n\nconfirm here: https://alerts.example.org/confirm/abc123/\n\n{subject}\n",
        from_email="Paper alerts <alerts@example.org>",
        to=[to],
        headers={"List-Unsubscribe": "<https://alerts.example.org/unsubscribe/abc123/>"},
        connection=mail.get_connection(OUTBOX_BACKEND),
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-for-tests-1")
    client.force_login(admin)
    return client


@pytest.mark.django_db
def test_anonymous_and_non_staff_visitors_are_sent_to_the_admin_login(client, django_user_model, outbox_dir):
    send("Confirm your subscription", "ana@example.org")
    name = next(outbox_dir.glob("*.eml")).name
    for url in ("/admin/outbox/", f"/admin/outbox/{name}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/admin/outbox/")
    user = django_user_model.objects.create_user("reader", "reader@example.org", "pw-for-tests-1")
    client.force_login(user)
    response = client.get("/admin/outbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_the_list_shows_date_recipient_and_subject_newest_first(staff_client, outbox_dir):
    send("Confirm your subscription", "ana@example.org")
    time.sleep(0.002)  # names order by their timestamp, in microseconds
    send("Your papers for 3 March: <b>6 new</b>", "bo@example.org")
    response = staff_client.get("/admin/outbox/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("bo@example.org") < page.index("ana@example.org")
    # Subjects are escaped like any other untrusted text.
    assert "Your papers for 3 March: &lt;b&gt;6 new&lt;/b&gt;" in page
    assert "<b>6 new</b>" not in page
    assert "2 messages" in page
    assert response.context["rows"][0].date is not None


@pytest.mark.django_db
def test_an_empty_outbox_says_so(staff_client, outbox_dir):
    response = staff_client.get("/admin/outbox/")
    assert "The outbox is empty" in response.content.decode()


@pytest.mark.django_db
def test_a_message_shows_its_headers_text_and_html_in_a_sandboxed_frame(staff_client, outbox_dir):
    send("Your papers for 3 March", "ana@example.org", html=HTML_BODY)
    name = next(outbox_dir.glob("*.eml")).name
    response = staff_client.get(f"/admin/outbox/{name}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "List-Unsubscribe" in page
    assert "&lt;https://alerts.example.org/unsubscribe/abc123/&gt;" in page
    # The text part, with its links clickable.
    assert '<a href="https://alerts.example.org/confirm/abc123/"' in page
    # The HTML part only inside the frame's srcdoc (escaped), never as markup of the page.
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert "srcdoc=" in page
    assert "<script>document.body" not in page
    assert "&lt;script&gt;document.body" in page
    # The email's own styles may apply there; scripts stay forbidden.
    csp = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp + ";"


@pytest.mark.django_db
def test_only_the_message_view_relaxes_the_style_policy(staff_client, outbox_dir):
    response = staff_client.get("/admin/outbox/")
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["20260303T000000000000-000000000000.eml", "..%2F..%2Fconfig%2Fsettings%2Fbase.py", "not-a-message.txt"],
)
def test_unknown_or_foreign_names_are_not_found(staff_client, outbox_dir, name):
    send("Confirm your subscription", "ana@example.org")
    assert staff_client.get(f"/admin/outbox/{name}/").status_code == 404


@pytest.mark.django_db
def test_the_admin_index_links_to_the_outbox(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/outbox/"' in page
    assert "Local outbox" in page


@pytest.mark.django_db(transaction=True)
def test_chromium_renders_the_email_styled_and_without_running_its_script(
    browser, live_server, django_user_model, outbox_dir, screenshots
):
    django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-for-tests-1")
    send("Your papers for 3 March", "ana@example.org", html=HTML_BODY)
    page = browser.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/admin/outbox/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("input[type=submit]")
    page.click("text=Your papers for 3 March")
    frame = page.frame_locator("#message-html")
    lead = frame.locator("#lead")
    assert lead.inner_text() == "Three new papers on speculative decoding"
    assert lead.evaluate("el => getComputedStyle(el).color") == "rgb(0, 128, 0)"
    assert frame.locator("body").get_attribute("data-ran") is None
    assert (
        frame.locator("#paper").evaluate("a => a.target || document.querySelector('base').target") == "_blank"
    )
    page.screenshot(path=str(screenshots / "outbox-message.png"), full_page=True)
    assert not [e for e in errors if "style" in e.lower()], errors
    page.close()
