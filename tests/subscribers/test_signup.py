"""The sign-up form: every validation message next to its field, repeated sign-ups, the
no-enumeration rule, the per-address email limit, and the form without JavaScript."""

import gc
import re
import time

import pytest
from django.utils.html import escape

from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory
from tests.subscribers.conftest import links_in
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db
Status = Subscriber.Status


def field_error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}_error">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    ("overrides", "field_id", "message"),
    [
        ({"email": ""}, "id_email", "Enter your email address."),
        ({"email": "not-an-address"}, "id_email", "Enter an email address like name@example.org."),
        (
            {"email": "ada@example.org\r\nBcc: everyone@example.org"},
            "id_email",
            "An email address cannot contain line breaks or other control characters.",
        ),
        ({"email": "ada@example.org, bob@example.org"}, "id_email", "Enter one email address only"),
        ({"email": "用户@example.org"}, "id_email", "The part before the @ can only use Latin letters"),
        ({"email": "ada@exa_mple..org"}, "id_email", "The part after the @ is not a valid domain name."),
        (
            {"email": "a" * 65 + "@example.org"},
            "id_email",
            "The part before the @ can be at most 64 characters",
        ),
        (
            {"email": "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org"},
            "id_email",
            "An email address can be at most 254 characters long.",
        ),
        (
            {"email": "a" * 400 + "@example.org"},
            "id_email",
            "An email address can be at most 254 characters long.",
        ),
        ({"frequency": "hourly"}, "id_frequency", "Choose daily or weekly."),
        ({"frequency": None}, "id_frequency", "Choose daily or weekly."),
        ({"send_hour": "24"}, "id_send_hour", "Choose an hour from 0 to 23."),
        ({"timezone": "Mars/Olympus_Mons"}, "id_timezone", "Unknown time zone: choose one from the list"),
        ({"timezone": ""}, "id_timezone", "Choose your time zone."),
        ({"max_papers": "4"}, "id_max_papers", "Choose between 5 and 50 papers per digest."),
        ({"max_papers": "51"}, "id_max_papers", "Choose between 5 and 50 papers per digest."),
        ({"max_papers": "twenty"}, "id_max_papers", "Enter a whole number between 5 and 50."),
        ({"max_papers": ""}, "id_max_papers", "Choose between 5 and 50 papers per digest."),
    ],
)
def test_each_invalid_field_gets_its_message_next_to_it(client, overrides, field_id, message):
    response = client.post("/", signup_data(**overrides))
    assert response.status_code == 400
    assert field_error(response.text, field_id).startswith(escape(message))
    # The input points screen readers at its message, and the summary links to the field.
    assert re.search(rf'aria-describedby="[^"]*{field_id}_error', response.text)
    assert f'href="#{field_id}"' in response.text
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    ("filters", "total", "field_id", "message"),
    [
        (
            [("", ""), ("", "")],
            None,
            None,
            "Add at least one filter: a query that describes papers you want.",
        ),
        ([("My topic", "")], None, "id_filters-0-query", "Write a query for this filter"),
        ([("x" * 101, "ti:graph")], None, "id_filters-0-name", "Keep the name to 100 characters"),
        ([("Long", "a " * 600)], None, "id_filters-0-query", "A query can be at most 1000 characters long"),
        ([("f", "ti:graph")] * 11, None, None, "You can have at most 10 filters."),
        ([("f", "ti:graph")], 1000, None, "You can have at most 10 filters."),
    ],
)
def test_filter_problems_are_explained(client, filters, total, field_id, message):
    data = signup_data(filters=filters)
    if total is not None:
        data["filters-TOTAL_FORMS"] = str(total)
    response = client.post("/", data)
    assert response.status_code == 400
    if field_id:
        assert field_error(response.text, field_id).startswith(escape(message))
    else:
        assert f'<p class="error" role="alert">{escape(message)}</p>' in response.text
    assert not Subscriber.objects.exists()


def test_a_form_without_its_filter_list_is_refused_clearly(client):
    data = {key: value for key, value in signup_data().items() if not key.startswith("filters-")}
    response = client.post("/", data)
    assert response.status_code == 400
    assert "The list of filters was incomplete; please fill in the form again." in response.text


def test_a_filter_without_a_name_is_named_after_its_query(client):
    response = client.post("/", signup_data(filters=[("", "  ti:diffusion   AND cat:cs.CV ")]))
    assert response.status_code == 200
    (topic,) = Subscriber.objects.get().filters.all()
    assert (topic.name, topic.query) == ("ti:diffusion AND cat:cs.CV", "ti:diffusion   AND cat:cs.CV")


def test_empty_rows_are_skipped_and_order_is_kept(client):
    filters = [("A", "ti:alpha"), ("", ""), ("C", "ti:gamma")]
    assert client.post("/", signup_data(filters=filters)).status_code == 200
    names = list(Subscriber.objects.get().filters.values_list("name", "position"))
    assert names == [("A", 0), ("C", 1)]


def test_add_another_filter_works_without_javascript(client):
    data = signup_data("ada@example.org", [("First", "ti:graph")], action="add_filter")
    response = client.post("/", data)
    assert response.status_code == 200
    assert 'name="filters-TOTAL_FORMS" value="2"' in response.text
    assert 'name="filters-0-query" value="ti:graph"' in response.text
    assert 'name="filters-1-query"' in response.text
    assert 'value="ada@example.org"' in response.text
    assert 'value="Europe/Berlin" selected' in response.text
    assert 'class="error"' not in response.text  # nothing was validated yet
    assert not Subscriber.objects.exists()


def test_the_add_button_stops_at_ten_filters(client):
    data = signup_data(filters=[("f", f"ti:t{i}") for i in range(10)], action="add_filter")
    response = client.post("/", data)
    assert 'name="filters-TOTAL_FORMS" value="10"' in response.text
    assert re.search(r'value="add_filter"[^>]*disabled', response.text)


def test_internationalised_domains_are_stored_once_whatever_their_spelling(client):
    assert client.post("/", signup_data("Jürgen@BÜCHER.example")).status_code == 400  # non-ASCII local part
    assert client.post("/", signup_data("juergen@BÜCHER.example")).status_code == 200
    assert client.post("/", signup_data("JUERGEN@xn--bcher-kva.example")).status_code == 200
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["juergen@bücher.example"]


def test_the_confirmation_email_goes_to_the_punycode_domain(
    client, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/", signup_data("juergen@bücher.example"))
    (message,) = outbox
    assert message.message()["To"] == "juergen@xn--bcher-kva.example"


# Repeated sign-ups --------------------------------------------------------------------


def sign_up(client, capture, email="ada@example.org", **fields):
    with capture(execute=True):
        return client.post("/", signup_data(email, **fields), REMOTE_ADDR="203.0.113.9")


def test_no_enumeration_new_pending_and_active_addresses_get_the_same_answer(
    client, outbox, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sign_up(client, capture, "warm-up@example.org")  # templates and caches warm
    outbox.clear()

    timings, responses = [], []
    # Timed as timeit times: a collection of the whole test process's garbage (a hundred
    # milliseconds and more once the suite has run a while) is no part of the answer.
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            started = time.perf_counter()
            responses.append(sign_up(client, capture, "Ada@example.org"))
            timings.append(time.perf_counter() - started)
            subscriber = Subscriber.objects.get(email="Ada@example.org")
            if subscriber.status == Status.PENDING and len(responses) == 2:
                subscriber.status = Status.ACTIVE  # as if they had confirmed
                subscriber.save()
    finally:
        gc.enable()
    new, pending, active = responses
    for response in (pending, active):
        assert response.status_code == new.status_code == 200
        assert response.content == new.content
        # The same headers, but for Expires: the clock's, whichever second each answer left in.
        assert {**response.headers, "Expires": ""} == {**new.headers, "Expires": ""}
    assert max(timings) < 10 * min(timings) + 0.05

    # Behind the identical pages: a confirmation, a second one, then the manage link.
    assert [m.subject for m in outbox] == [
        "Confirm your subscription to Paper alerts",
        "Confirm your subscription to Paper alerts",
        "Your Paper alerts subscription",
    ]
    assert set(links_in(outbox[2])) == {"manage", "unsubscribe"}


def test_every_sign_up_and_link_request_is_answered_after_the_same_fixed_time(
    client, settings, django_capture_on_commit_callbacks
):
    """A new address costs more work than a known one; every answer waits for the same
    fixed time, so that timing does not tell them apart (bench/signup_timing.py measures
    the medians)."""
    settings.SIGNUP_ANSWER_SECONDS = 0.2
    SubscriberFactory(email="active@example.org", status=Status.ACTIVE)
    SubscriberFactory(email="pending@example.org", status=Status.PENDING)
    for email in ("new@example.org", "active@example.org", "pending@example.org"):
        for path, data in (("/", signup_data(email)), ("/resend/", {"email": email})):
            started = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True):
                assert client.post(path, data, REMOTE_ADDR="203.0.113.9").status_code == 200
            assert time.monotonic() - started >= 0.2, (path, email)


def test_signing_up_an_active_address_changes_nothing(client, outbox, django_capture_on_commit_callbacks):
    subscriber = SubscriberFactory(email="ada@example.org", max_papers=10)
    before = list(subscriber.filters.values_list("name", "query"))
    response = sign_up(
        client, django_capture_on_commit_callbacks, "ADA@EXAMPLE.ORG", filters=[("Spam", "ti:casino")]
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.max_papers == 10
    assert list(subscriber.filters.values_list("name", "query")) == before
    (message,) = outbox
    assert message.to == ["ada@example.org"]
    assert "already subscribed" in message.body


def test_a_pending_address_gets_at_most_three_emails_a_day(
    client, outbox, django_capture_on_commit_callbacks
):
    responses = [sign_up(client, django_capture_on_commit_callbacks) for _ in range(5)]
    assert len(outbox) == 3
    assert {r.content for r in responses} == {responses[0].content}
    subscriber = Subscriber.objects.get()
    assert subscriber.events.filter(kind=SubscriberEvent.Kind.CONFIRMATION_SENT).count() == 3
    # The newest preferences win; every link sent so far confirms the same subscriber.
    assert client.post(links_in(outbox[0])["confirm"]).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Status.ACTIVE


def test_the_limit_is_per_day(client, outbox, django_capture_on_commit_callbacks):
    for _ in range(3):
        sign_up(client, django_capture_on_commit_callbacks)
    SubscriberEvent.objects.update(created_at=SubscriberEvent.objects.first().created_at.replace(year=2020))
    sign_up(client, django_capture_on_commit_callbacks)
    assert len(outbox) == 4


@pytest.mark.parametrize("status", [Status.UNSUBSCRIBED, Status.BOUNCED])
def test_a_stopped_address_needs_a_fresh_confirmation(
    client, outbox, django_capture_on_commit_callbacks, status
):
    subscriber = SubscriberFactory(email="ada@example.org", status=status)
    response = sign_up(client, django_capture_on_commit_callbacks, filters=[("New", "ti:new")])
    assert "Check your inbox" in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == status  # never silently reactivated
    before = list(subscriber.filters.values_list("query", flat=True))
    assert before != ["ti:new"]  # nor changed before the owner confirms
    (message,) = outbox
    page = client.get(links_in(message)["confirm"]).text
    assert "ti:new" in page
    pending = re.search(r'name="pending" value="([^"]+)"', page).group(1)
    client.post(links_in(message)["confirm"], {"pending": pending})
    subscriber.refresh_from_db()
    assert subscriber.status == Status.ACTIVE
    assert list(subscriber.filters.values_list("query", flat=True)) == ["ti:new"]


def test_a_complained_address_is_never_mailed_again(client, outbox, django_capture_on_commit_callbacks):
    new = sign_up(client, django_capture_on_commit_callbacks, "someone-else@example.org")
    SubscriberFactory(email="ada@example.org", status=Status.COMPLAINED)
    outbox.clear()
    response = sign_up(client, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response.content == new.content.replace(b"someone-else@example.org", b"ada@example.org")
    assert outbox == []
    subscriber = Subscriber.objects.get(email="ada@example.org")
    assert subscriber.status == Status.COMPLAINED
    assert subscriber.events.filter(kind=SubscriberEvent.Kind.SIGNUP_BLOCKED).count() == 1


# "Email me my link again" --------------------------------------------------------------


def test_resend_gives_the_same_answer_for_every_address(client, outbox, django_capture_on_commit_callbacks):
    SubscriberFactory(email="pending@example.org", status=Status.PENDING)
    SubscriberFactory(email="active@example.org")
    answers = []
    for email in ("nobody@example.org", "pending@example.org", "active@example.org", "not an address"):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(client.post("/resend/", {"email": email}))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert [(m.to, sorted(links_in(m))) for m in outbox] == [
        (["pending@example.org"], ["confirm"]),
        (["active@example.org"], ["manage", "unsubscribe"]),
    ]
