"""Email addresses with line breaks and other header injection, lookalikes and
internationalised domains (inputs/addresses.json), through every way one comes in: the
sign-up form, the "send my link again" form and the service itself.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory
from tests.subscribers.helpers import signup_data

from .conftest import case_ids, cases, subscribe_by_service

pytestmark = pytest.mark.django_db

ADDRESSES = cases("addresses.json")


@pytest.mark.parametrize("case", ADDRESSES, ids=case_ids(ADDRESSES))
def test_sign_up(case, client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", signup_data(email=case["address"]))
    if "refused" in case:
        assert response.status_code == 400
        assert escape(case.get("form_message", case["refused"])) in response.text
        assert (Subscriber.objects.count(), SubscriberEvent.objects.count(), mailoutbox) == (0, 0, [])
        return
    assert response.status_code == 200
    assert Subscriber.objects.get().email == case["stored"]
    (message,) = mailoutbox
    headers = message.message()
    assert headers["To"] == case["mailed_to"]
    assert (headers.get_all("Bcc"), headers.get_all("Cc")) == (None, None)


@pytest.mark.parametrize("case", ADDRESSES, ids=case_ids(ADDRESSES))
def test_the_service_applies_the_same_rule(case):
    if "refused" in case:
        with pytest.raises(ValidationError) as info:
            subscribe_by_service(case["address"])
        assert info.value.messages == [case["refused"]]
        assert not Subscriber.objects.exists()
    else:
        assert subscribe_by_service(case["address"]).subscriber.email == case["stored"]


def test_the_resend_form_answers_every_address_alike_and_mails_none_of_them(client, mailoutbox):
    SubscriberFactory(email="ada@example.org", status=Subscriber.Status.PENDING)
    answers = {case["name"]: client.post("/resend/", {"email": case["address"]}) for case in ADDRESSES[:9]}
    assert {answer.status_code for answer in answers.values()} == {200}
    assert len({answer.content for answer in answers.values()}) == 1, "the answer depends on the input"
    assert mailoutbox == []  # "ada@example.org\r\nBcc: ..." is not ada@example.org
