"""`manage.py refresh_arxiv_taxonomy`: arXiv's taxonomy page, served by the fake web, written to a file."""

import io
import json

import pytest
from django.core.management import call_command

from alerts.search import taxonomy
from tests.alerts.conftest import saved
from tests.fakeweb import Reply

PAGE = "arxiv_category_taxonomy.html"


def refresh(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("refresh_arxiv_taxonomy", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()


def test_the_page_gives_the_taxonomy_kept_in_the_repository(fakeweb, settings, tmp_path):
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    fakeweb.route("/category_taxonomy", Reply(body=saved(PAGE).read_bytes(), content_type="text/html"))
    output = tmp_path / "taxonomy.json"
    output.write_text(taxonomy.PATH.read_text())

    status, out, err = refresh("--url", f"{fakeweb.url}/category_taxonomy", "--output", str(output))

    assert (status, err) == (0, "")
    assert out == "155 categories in 20 archives; added: none; removed: none; renamed: none\n"
    assert output.read_text() == taxonomy.PATH.read_text()
    [request] = fakeweb.requests()
    assert request.header("User-Agent") == settings.FETCH_USER_AGENT


def test_a_changed_page_is_written_with_what_changed(fakeweb, settings, tmp_path):
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    page = saved(PAGE).read_text()
    page = page.replace("<h4>cs.GL <span>(General Literature)</span></h4>", "")
    page = page.replace("(Sound)</span>", "(Sound and Music)</span>")
    page = page.replace(
        '<h2 class="accordion-head">Economics</h2>',
        '<h2 class="accordion-head">Economics</h2><div class="columns divided"><div class="column">'
        "<h4>econ.XX <span>(Experimental &amp; Behavioural Economics)</span></h4></div></div>",
    )
    settings.ARXIV_TAXONOMY_URL = f"{fakeweb.url}/category_taxonomy"
    fakeweb.route("/category_taxonomy", Reply(body=page, content_type="text/html"))
    output = tmp_path / "taxonomy.json"
    output.write_text(taxonomy.PATH.read_text())

    status, out, _ = refresh("--output", str(output))

    assert status == 0
    assert out == "155 categories in 20 archives; added: econ.XX; removed: cs.GL; renamed: cs.SD\n"
    written = json.loads(output.read_text())
    assert written["categories"]["econ.XX"] == "Experimental & Behavioural Economics"
    assert written["categories"]["cs.SD"] == "Sound and Music"
    assert written["archives"]["hep-th"] == "High Energy Physics - Theory"
    assert written["archives"]["cs"] == "Computer Science"
    assert written["legacy"]["solv-int"] == "nlin.SI"  # kept: the page does not list old names


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(body="<html><h1>Down for maintenance</h1></html>", content_type="text/html"),
            "found 0 categories",
        ),
        (Reply(404, body="not found"), "HTTP 404 Not Found"),
    ],
)
def test_a_page_that_is_not_the_taxonomy_changes_nothing(fakeweb, settings, tmp_path, reply, message):
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    fakeweb.route("/category_taxonomy", reply)
    output = tmp_path / "taxonomy.json"
    output.write_text('{"kept": true}')

    status, out, err = refresh("--url", f"{fakeweb.url}/category_taxonomy", "--output", str(output))

    assert (status, out) == (1, "")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert output.read_text() == '{"kept": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["taxonomy.json"]


def test_a_saved_copy_of_the_page_is_read_offline(tmp_path):
    output = tmp_path / "taxonomy.json"

    status, out, _ = refresh("--file", str(saved(PAGE)), "--output", str(output))

    assert status == 0
    assert out.startswith("155 categories in 20 archives; added: astro-ph.CO, astro-ph.EP")
    assert json.loads(output.read_text())["categories"] == taxonomy.taxonomy().categories
