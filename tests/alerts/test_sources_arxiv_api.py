"""The arXiv API (Atom search results): every field, old-style ids, paging, the error feed."""

import datetime as dt

import pytest

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import saved, stored, table_snapshot
from tests.alerts.expected_papers import CUNRTO_ABSTRACT, CUNRTO_TITLE, SDC_ABSTRACT, SDC_TITLE
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

PAGES = ["arxiv_api_cs.DC_page1.xml", "arxiv_api_cs.DC_page2.xml", "arxiv_api_cs.DC_page3.xml"]
UTC = dt.UTC

SDC_FROM_API = {
    "arxiv_id": "2403.20135",
    "external_key": None,
    "version": 3,
    "title": SDC_TITLE,
    "abstract": SDC_ABSTRACT,
    "authors": [
        "Philip Freese",
        "Sebastian Götschel",
        "Thibaut Lunet",
        "Daniel Ruprecht",
        "Martin Schreiber",
    ],
    "affiliations": {
        "Philip Freese": ["Hamburg University of Technology"],
        "Daniel Ruprecht": ["Hamburg University of Technology"],
        "Martin Schreiber": ["Université Grenoble Alpes", "Technical University of Munich"],
    },
    "categories": ["cs.DC", "math.NA"],
    "primary_category": "cs.DC",
    "published": dt.datetime(2024, 3, 29, 11, 56, 58, tzinfo=UTC),
    "updated": dt.datetime(2026, 3, 3, 4, 53, 27, tzinfo=UTC),
    "announced_on": None,
    "announce_type": "",
    "abs_url": "https://arxiv.org/abs/2403.20135",
    "pdf_url": "https://arxiv.org/pdf/2403.20135v3",
    "doi": "10.1177/10943420251400406",
    "journal_ref": "The International Journal of High Performance Computing Applications (2026)",
    "comment": "21 pages, 5 figures",
    "upvotes": None,
    "source": "arxiv-api",
    "feed_url": "",
}


def serve_pages(web):
    for number, name in enumerate(PAGES):
        web.route("/api/query", Reply(body=saved(name).read_bytes()), query={"start": str(number * 6)})


def test_api_page_file_stores_every_field(fetch_papers):
    result = fetch_papers("--source", "arxiv-api", "--file", str(saved(PAGES[0])))

    assert result.status == 0, result.err
    assert result.summary == "fetched 6, created 6, updated 0, skipped 0"
    assert stored(Paper.objects.get(arxiv_id="2403.20135")) == SDC_FROM_API
    assert stored(Paper.objects.get(arxiv_id="2603.02642")) == {
        "arxiv_id": "2603.02642",
        "external_key": None,
        "version": 1,
        "title": CUNRTO_TITLE,
        "abstract": CUNRTO_ABSTRACT,
        "authors": ["Jiawei Wang", "Arshiya Taj Abdul", "Evangelos A. Theodorou"],
        "affiliations": {"Evangelos A. Theodorou": ["Georgia Institute of Technology"]},
        "categories": ["cs.RO", "cs.DC", "math.OC"],
        "primary_category": "cs.RO",
        "published": dt.datetime(2026, 3, 3, 6, 17, 8, tzinfo=UTC),
        "updated": dt.datetime(2026, 3, 3, 6, 17, 8, tzinfo=UTC),
        "announced_on": None,
        "announce_type": "",
        "abs_url": "https://arxiv.org/abs/2603.02642",
        "pdf_url": "https://arxiv.org/pdf/2603.02642v1",
        "doi": "",
        "journal_ref": "",
        "comment": "",
        "upvotes": None,
        "source": "arxiv-api",
        "feed_url": "",
    }
    assert Paper.objects.get(arxiv_id="2510.08976").comment == "Will appear in DAC'2026"


def test_old_style_id(fetch_papers):
    result = fetch_papers(
        "--source", "arxiv-api", "--file", str(saved("arxiv_api_id_list_hep-ex_0307015.xml"))
    )

    assert result.status == 0, result.err
    assert stored(Paper.objects.get()) == {
        "arxiv_id": "hep-ex/0307015",
        "external_key": None,
        "version": 1,
        "title": "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA",
        "abstract": (
            "Multi-electron production is studied at high electron transverse momentum in positron- "
            "and electron-proton collisions using the H1 detector at HERA. The data correspond to an "
            "integrated luminosity of 115 pb-1. Di-electron and tri-electron event yields are measured. "
            "Cross sections are derived in a restricted phase space region dominated by photon-photon "
            "collisions. In general good agreement is found with the Standard Model predictions. "
            "However, for electron pair invariant masses above 100 GeV, three di-electron events and "
            "three tri-electron events are observed, compared to Standard Model expectations of "
            "0.30 \\pm 0.04 and 0.23 \\pm 0.04, respectively."
        ),
        "authors": ["H1 Collaboration"],
        "affiliations": {},
        "categories": ["hep-ex"],
        "primary_category": "hep-ex",
        "published": dt.datetime(2003, 7, 7, 13, 46, 39, tzinfo=UTC),
        "updated": dt.datetime(2003, 7, 7, 13, 46, 39, tzinfo=UTC),
        "announced_on": None,
        "announce_type": "",
        "abs_url": "https://arxiv.org/abs/hep-ex/0307015",
        "pdf_url": "https://arxiv.org/pdf/hep-ex/0307015v1",
        "doi": "10.1140/epjc/s2003-01326-x",
        "journal_ref": "Eur.Phys.J. C31 (2003) 17-29",
        "comment": "19 pages, 5 figures, 3 tables, submitted to Eur. Phys. J. C",
        "upvotes": None,
        "source": "arxiv-api",
        "feed_url": "",
    }


def test_api_fills_in_a_listed_paper_without_moving_its_announcement(fetch_papers):
    fetch_papers("--source", "arxiv-rss", "--file", str(saved("arxiv_rss_cs.DC_2026-03-04.xml")))
    listed = Paper.objects.get(arxiv_id="2403.20135")

    result = fetch_papers("--source", "arxiv-api", "--file", str(saved(PAGES[0])))

    assert result.status == 0, result.err
    # All 6 papers of the page were in the listing; the API adds dates, comments, affiliations.
    assert result.summary == "fetched 6, created 0, updated 6, skipped 0"
    row = Paper.objects.get(arxiv_id="2403.20135")
    assert row.pk == listed.pk
    assert stored(row) == SDC_FROM_API | {
        "announced_on": dt.date(2026, 3, 4),
        "announce_type": "replace",
        "source": "arxiv-rss",
    }
    assert fetch_papers("--source", "arxiv-api", "--file", str(saved(PAGES[0]))).summary == (
        "fetched 6, created 0, updated 0, skipped 6"
    )


def test_back_fill_pages_through_all_results_over_http(fetch_papers, arxiv_on, settings):
    settings.ARXIV_API_PAGE_SIZE = 6
    serve_pages(arxiv_on)

    result = fetch_papers("--source", "arxiv-api", "--category", "cs.DC", "--date", "2026-03-03")

    assert result.status == 0, result.err
    assert result.summary == "fetched 15, created 15, updated 0, skipped 0"
    requests = arxiv_on.requests("/api/query")
    assert [(r.param("start"), r.param("max_results")) for r in requests] == [
        ("0", "6"),
        ("6", "6"),
        ("12", "6"),
    ]
    assert {r.param("search_query") for r in requests} == {
        "cat:cs.DC AND submittedDate:[202603030000 TO 202603032359]"
    }
    assert {(r.param("sortBy"), r.param("sortOrder")) for r in requests} == {("submittedDate", "ascending")}
    assert Paper.objects.filter(source="arxiv-api").count() == 15
    assert stored(Paper.objects.get(arxiv_id="2403.20135")) == SDC_FROM_API
    run = FetchRun.objects.get()
    assert (run.status, run.requests, run.fetched) == ("ok", 3, 15)

    again = fetch_papers("--source", "arxiv-api", "--category", "cs.DC", "--date", "2026-03-03")
    assert again.summary == "fetched 15, created 0, updated 0, skipped 15"


def test_requests_to_arxiv_keep_the_minimum_spacing(fetch_papers, arxiv_on, settings):
    settings.ARXIV_API_PAGE_SIZE = 6
    settings.ARXIV_REQUEST_INTERVAL = 0.3
    serve_pages(arxiv_on)

    assert fetch_papers("--source", "arxiv-api", "--category", "cs.DC", "--date", "2026-03-03").status == 0

    gaps = arxiv_on.gaps()
    assert len(gaps) == 2
    # Measured at the server: a few milliseconds of thread scheduling either way.
    assert all(gap >= 0.28 for gap in gaps), gaps
    assert all(gap < 2.0 for gap in gaps), gaps  # spaced, not stalled


def test_an_empty_page_before_the_end_stores_nothing(fetch_papers, arxiv_on, settings):
    settings.ARXIV_API_PAGE_SIZE = 6
    settings.FETCH_RETRIES = 0
    arxiv_on.route("/api/query", Reply(body=saved(PAGES[0]).read_bytes()), query={"start": "0"})
    empty = saved(PAGES[2]).read_bytes().split(b"  <entry>")[0] + b"</feed>\n"
    arxiv_on.route("/api/query", Reply(body=empty), query={"start": "6"})

    result = fetch_papers("--source", "arxiv-api", "--category", "cs.DC", "--date", "2026-03-03")

    assert result.status == 1
    assert "arXiv API returned an empty page at start=6 of 15 results" in result.err
    assert table_snapshot() == []


def test_error_feed_over_http_is_an_error_not_a_paper(fetch_papers, arxiv_on):
    arxiv_on.route("/api/query", Reply(body=saved("arxiv_api_error.xml").read_bytes()))

    result = fetch_papers("--source", "arxiv-api", "--url", f"{arxiv_on.url}/api/query?id_list=1234.12345")

    assert result.status == 1
    assert result.err.startswith(
        f"arxiv-api ({arxiv_on.url}/api/query?id_list=1234.12345&start=0&max_results="
    )
    assert result.err.endswith("): arXiv answered with an error: incorrect id format for 1234.12345\n")
    assert not Paper.objects.exists()
    [request] = arxiv_on.requests()
    assert request.param("id_list") == "1234.12345"
