"""`cat:` names a real arXiv category or archive, or the filter is refused with the nearest one."""

import pytest

from alerts.search import taxonomy
from alerts.search.query import QueryError, categories_of, parse, unknown_categories

ACCEPTED = [
    # (written, the category or archive it stands for)
    ("cat:cs.CL", "cs.CL"),
    ("cat:cs.cl", "cs.CL"),
    ("cat:CS.CL", "cs.CL"),
    ("cat:cs", "cs"),
    ("cat:cs.*", "cs"),
    ("cat:hep-th", "hep-th"),
    ("cat:gr-qc.*", "gr-qc"),
    ("cat:astro-ph", "astro-ph"),
    ("cat:astro-ph.co", "astro-ph.CO"),
    ("cat:cond-mat.mes-hall", "cond-mat.mes-hall"),
    ("cat:physics.optics", "physics.optics"),
    ("cat:q-fin.ST", "q-fin.ST"),
    ("cat:econ.EM", "econ.EM"),
    ("cat:eess.*", "eess"),
    ("cat:math.MP", "math.MP"),  # an alias arXiv lists beside math-ph
    ("cat:solv-int", "nlin.SI"),  # an old archive, now a category
    ("cat:cmp-lg", "cs.CL"),
]


@pytest.mark.parametrize(("query", "name"), ACCEPTED)
def test_real_categories_and_archives_are_accepted(query, name):
    assert categories_of(query) == {name}


REFUSED = [
    # (query, message, column)
    ("cat:cs.CLL", "'cs.CLL' is not an arXiv category: did you mean cat:cs.CL?", 5),
    (
        "ti:x OR cat:cond-mat.mes-hal",
        "'cond-mat.mes-hal' is not an arXiv category: did you mean cat:cond-mat.mes-hall?",
        13,
    ),
    ("cat:qant-ph", "'qant-ph' is not an arXiv category: did you mean cat:quant-ph?", 5),
    ("cat:cs.XYZ", "'cs.XYZ' is not an arXiv category: did you mean cat:cs.*?", 5),
    ("cat:robotics", "'robotics' is not an arXiv category: did you mean cat:cs.RO?", 5),
    (
        'cat:"machine learning"',
        "'machine learning' is not an arXiv category: did you mean cat:cs.LG or cat:stat.ML?",
        5,
    ),
    ("cat:mathh.*", "'mathh.*' is not an arXiv category: did you mean cat:math.*?", 5),
    (
        "cat:aaaa cat:aaab",
        "'aaaa' is not an arXiv category or archive: see https://arxiv.org/category_taxonomy for the list",
        5,
    ),
    (
        "cat:(cs.LG OR node.JS)",
        "'node.JS' is not an arXiv category or archive: see https://arxiv.org/category_taxonomy for the list",
        15,
    ),
]


@pytest.mark.parametrize(("query", "message", "column"), REFUSED, ids=[r[0] for r in REFUSED])
def test_anything_else_is_refused_with_the_nearest_real_one(query, message, column):
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert (raised.value.message, raised.value.column) == (message, column)


def test_the_finding_a_filter_of_a_hundred_made_up_categories_is_refused():
    # As in the report: `cat:aaaa cat:aaab ...`, valid before categories were checked.
    query = " ".join(f"cat:aa{b}{c}" for b in "abcdefghij" for c in "abcdefghij")
    assert len(query) < 1000
    with pytest.raises(QueryError, match="is not an arXiv category"):
        categories_of(query)


def test_all_field_is_a_category_only_when_arxiv_has_it():
    assert categories_of("all:stat.ML") == {"stat.ML"}
    assert categories_of("all:foo.bar") == set()  # still a title, abstract or author search


def test_unknown_categories_of_a_stored_filter_with_suggestions():
    assert unknown_categories("cat:cs.CLL OR cat:(aaaa OR cs.LG) all:foo.bar") == [
        ("cs.CLL", "cs.CL"),
        ("aaaa", None),
    ]
    assert unknown_categories("cat:cs.LG diffusion") == []
    assert unknown_categories("(cat:aaaa") == []  # wrong in another way


def test_the_taxonomy_is_complete():
    tax = taxonomy.taxonomy()
    assert set(tax.archives) == {
        *("astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th"),
        *("math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin", "quant-ph", "stat"),
    }
    per_archive = {}
    for name in tax.categories:
        per_archive[name.partition(".")[0]] = per_archive.get(name.partition(".")[0], 0) + 1
    assert per_archive == {
        **dict.fromkeys(("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex"), 1),
        **{"nucl-th": 1, "quant-ph": 1, "cs": 40, "math": 32, "physics": 22, "q-bio": 10, "q-fin": 9},
        **{"cond-mat": 9, "astro-ph": 6, "stat": 6, "nlin": 5, "eess": 4, "econ": 3},
    }
    assert tax.categories["cs.CL"] == "Computation and Language"
    assert taxonomy.title("cond-mat") == "Condensed Matter"
    assert all(new in tax.categories for new in tax.legacy.values())
