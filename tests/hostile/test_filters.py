"""Topic filters past the limits (inputs/filters.json): 10,000 characters, 1,000 nested
parentheses, control characters, and 1,000 filters for one subscriber. Refused with a
message next to the field by the sign-up form, the preferences page, the live preview and
the service; nothing stored; every answer quick.
"""

from __future__ import annotations

import re
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from subscribers import services, tokens
from subscribers.models import Subscriber, TopicFilter
from subscribers.rules import FilterInput
from tests.factories import SubscriberFactory
from tests.subscribers.helpers import preferences_data, signup_data

from .conftest import case_ids, cases, local

pytestmark = pytest.mark.django_db

FILTERS = cases("filters.json")


@pytest.fixture
def subscriber():
    return SubscriberFactory(email="ada@example.org")


def quickly(call):
    started = time.perf_counter()
    result = call()
    assert time.perf_counter() - started < 2
    return result


@pytest.mark.parametrize("case", FILTERS, ids=case_ids(FILTERS))
def test_filter(case, client, subscriber):
    row = (case.get("filter_name", "Mine"), case["query"])
    shown = escape(case.get("form_message", case["message"]))
    before = list(TopicFilter.objects.values_list("name", "query"))

    signup = quickly(lambda: client.post("/", signup_data(email="bob@example.org", filters=[row])))
    assert signup.status_code == 400
    assert shown in signup.text
    save = quickly(lambda: client.post(local(tokens.manage_url(subscriber)), preferences_data([row])))
    assert save.status_code == 400
    assert shown in save.text
    if case["field"] == "query":
        preview = quickly(lambda: client.get("/preview/", {"q": case["query"]}))
        assert escape(case["message"]) in preview.text  # the preview has no form: the rule's own words
    with pytest.raises(ValidationError) as info:
        services.subscription_update(subscriber=subscriber, filters=[FilterInput(*row)])
    assert info.value.messages == [case["message"]]

    assert list(Subscriber.objects.values_list("email", flat=True)) == ["ada@example.org"]
    assert list(TopicFilter.objects.values_list("name", "query")) == before


def test_a_thousand_filters_are_refused_by_both_forms_and_the_service(client, subscriber):
    rows = [(f"Filter {n}", f"ti:topic{n}") for n in range(1000)]
    before = list(TopicFilter.objects.values_list("name", "query"))

    # 2,000 fields are more than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS): refused unread.
    for response in (
        quickly(lambda: client.post("/", signup_data(email="bob@example.org", filters=rows))),
        quickly(lambda: client.post(local(tokens.manage_url(subscriber)), preferences_data(rows))),
        quickly(lambda: client.post("/", signup_data(filters=rows, action="preview"))),
    ):
        assert response.status_code == 400
        assert "It sent more than this site accepts (a sign-up has at most 10 filters)" in response.text
    # Within what Django reads, the form's own limit says it (a thousand rows announced, eleven sent).
    signup = client.post("/", {**signup_data(filters=rows[:11]), "filters-TOTAL_FORMS": "1000"})
    assert signup.status_code == 400
    assert "You can have at most 10 filters." in signup.text
    more = client.post(
        "/", {**signup_data(filters=rows[:11], action="add_filter"), "filters-TOTAL_FORMS": "1000"}
    )
    assert set(re.findall(r'name="filters-(\d+)-query"', more.text)) == {str(n) for n in range(10)}
    with pytest.raises(ValidationError, match="at most 10 filters"):
        services.subscription_update(subscriber=subscriber, filters=[FilterInput(*row) for row in rows])

    assert list(TopicFilter.objects.values_list("name", "query")) == before
    assert Subscriber.objects.count() == 1


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_are_dropped_from_filter_names_everywhere(client, subscriber, mailoutbox):
    """A right-to-left override in a name would reverse what a page or an email shows
    after it; the name is kept without them (they are not text)."""
    name = "\u202eGraphs\u202c and \u2067agents\u2069"
    client.post("/", signup_data("bidi@example.org", [(name, "ti:graph")]))
    assert Subscriber.objects.get(email="bidi@example.org").filters.get().name == "Graphs and agents"
    path = tokens.manage_url(subscriber).removeprefix("https://alerts.example.org")
    client.post(path, preferences_data([(name, "ti:graph")]))
    stored = TopicFilter.objects.get(subscriber=subscriber).name
    assert stored == "Graphs and agents"
    assert not any(ch in stored for ch in BIDI)
