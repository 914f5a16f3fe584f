"""The scripted web server other tests play the outside world with (tests/fakeweb.py)."""

import requests

from tests.fakeweb import Reply


def test_replies_in_turn_and_repeats_the_last(fakeweb):
    fakeweb.route("/feed", Reply(503, body="busy"), Reply(body="first"), Reply(body="again"))

    statuses = [requests.get(f"{fakeweb.url}/feed", timeout=5) for _ in range(4)]

    assert [(r.status_code, r.text) for r in statuses] == [
        (503, "busy"),
        (200, "first"),
        (200, "again"),
        (200, "again"),
    ]


def test_records_posts_with_their_bodies_and_answers_from_a_callable(fakeweb):
    fakeweb.route(
        "/email",
        lambda request: Reply.json({"MessageID": f"id-{request.json()['To']}"}),
        method="POST",
    )

    answer = requests.post(
        f"{fakeweb.url}/email", json={"To": "ada@example.org"}, headers={"X-Token": "t"}, timeout=5
    )

    assert answer.json() == {"MessageID": "id-ada@example.org"}
    [request] = fakeweb.requests("/email", method="POST")
    assert request.json() == {"To": "ada@example.org"}
    assert request.header("x-token") == "t"
    assert request.header("Content-Type") == "application/json"


def test_routes_on_query_values_and_404s_the_unknown(fakeweb):
    fakeweb.route("/api", Reply(body="any page"))
    fakeweb.route("/api", Reply(body="page two"), query={"start": "10"})

    assert requests.get(f"{fakeweb.url}/api?start=10&max=5", timeout=5).text == "page two"
    assert requests.get(f"{fakeweb.url}/api?start=0", timeout=5).text == "any page"
    missing = requests.get(f"{fakeweb.url}/nothing", timeout=5)
    assert missing.status_code == 404
    assert [r.param("start") for r in fakeweb.requests("/api")] == ["10", "0"]
    assert len(fakeweb.requests()) == 3


def test_delays_are_real(fakeweb):
    fakeweb.route("/slow", Reply(body="late", delay=0.3))

    answer = requests.get(f"{fakeweb.url}/slow", timeout=5)

    assert answer.text == "late"
    assert answer.elapsed.total_seconds() >= 0.3
