"""The query language, row by row: (query, the ids of the papers it must match).

The corpus is tests/fixtures/query_corpus.json: real titles and abstracts with authors and
categories added. Each row says why; a reader can check it with a text search of the file.
Every row goes through both ways the matcher evaluates a filter (the chunked fast path of
`match` and the full parser behind `compile`), which must agree.
"""

import json
from pathlib import Path

import pytest

from alerts.search.matcher import PaperDoc, PaperIndex, iter_bits

CORPUS = json.loads((Path(__file__).parent.parent / "fixtures" / "query_corpus.json").read_text())["papers"]

TABLE = [
    # bare word: title or abstract; speculative/speculation share the stem specul
    ("speculative", {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # ti: only titles; 2509.90091's title has it
    ("ti:speculative", {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # abs: only abstracts; 2509.90091's abstract lacks it
    ("abs:speculative", {"2509.90006", "2509.90007", "2509.90008", "2509.90014"}),
    # stemming: diffusion, diffusions
    ("diffusion", {"2509.90015", "2509.90016", "2509.90017", "2509.90018", "2509.90022"}),
    # one paper says quantum
    ("quantum", {"2509.90013"}),
    # case-insensitive
    ("Quantum", {"2509.90013"}),
    # stemming: parallelism, parallelized, parallelization; MMaDA-Parallel's hyphen part counts
    (
        "ti:parallel",
        {
            "2403.20135",
            "2509.90001",
            "2509.90002",
            "2509.90003",
            "2509.90007",
            "2509.90008",
            "2509.90015",
            "2509.90016",
            "2509.90017",
            "2509.90018",
            "2509.90019",
            "2509.90020",
            "2509.90021",
            "2509.90022",
            "2602.22593",
        },
    ),
    # decoding, decode, decoder in titles (Lean Attention's decode-phase too)
    (
        "ti:decoding",
        {
            "2509.90006",
            "2509.90007",
            "2509.90008",
            "2509.90012",
            "2509.90014",
            "2509.90015",
            "2509.90017",
            "2509.90022",
            "2509.90091",
        },
    ),
    # adjacent words mean AND
    ("speculative decoding", {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # phrase: adjacent and in order
    ('"speculative decoding"', {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # phrase in the title
    ('ti:"speculative decoding"', {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # phrase
    ('"reinforcement learning"', {"2509.90002", "2509.90016", "2509.90020"}),
    # explicit AND; here the same papers as the phrase
    ("reinforcement AND learning", {"2509.90002", "2509.90016", "2509.90020"}),
    # agent, agents, agentic (Snowball stems agentic to agent)
    ("agent", {"2509.90001", "2509.90002", "2509.90003", "2509.90005", "2603.02376"}),
    # titles only
    ("ti:agent", {"2509.90001", "2509.90005", "2603.02376"}),
    # accent folding in text: Jülich
    ("julich", {"2403.20135"}),
    # accent folding in the query
    ("Jülich", {"2403.20135"}),
    # lower-case gpus is a different word (Snowball keeps it): only GPUs in capitals is an acronym plural
    ("gpus", set()),
    # acronym plural: GPUs and GPU
    (
        "GPUs",
        {
            "2509.90004",
            "2509.90006",
            "2509.90008",
            "2509.90011",
            "2509.90012",
            "2509.90015",
            "2509.90019",
            "2509.90020",
            "2509.90023",
            "2603.02376",
            "2603.02597",
            "2603.02642",
        },
    ),
    # the word times; 2603.02642 and 2602.22593 only have LaTeX $\times$, which is not a word
    (
        "times",
        {
            "2403.20135",
            "2509.90006",
            "2509.90008",
            "2509.90010",
            "2509.90011",
            "2509.90012",
            "2509.90013",
            "2509.90020",
            "2509.90021",
            "2603.02071",
            "2603.02376",
            "2603.02597",
            "2603.02636",
        },
    ),
    # GPU and GPUs
    (
        "gpu",
        {
            "2509.90004",
            "2509.90006",
            "2509.90008",
            "2509.90011",
            "2509.90012",
            "2509.90015",
            "2509.90019",
            "2509.90020",
            "2509.90023",
            "2603.02376",
            "2603.02597",
            "2603.02642",
        },
    ),
    # a word without vowels is an acronym: llms == LLMs == LLM
    (
        "llms",
        {
            "2509.90001",
            "2509.90002",
            "2509.90005",
            "2509.90006",
            "2509.90007",
            "2509.90008",
            "2509.90017",
            "2509.90021",
            "2602.22593",
            "2603.02376",
        },
    ),
    # OR
    ("quantum OR federated", {"2305.04979", "2509.90013"}),
    # OR of fields
    ("ti:quantum OR ti:federated", {"2305.04979", "2509.90013"}),
    # leading -: every abstract with speculative has it in the title too
    ("speculative -ti:speculative", set()),
    # NOT after a term means AND NOT
    ("diffusion NOT image", {"2509.90015", "2509.90017", "2509.90022"}),
    # arXiv's ANDNOT
    ("diffusion ANDNOT image", {"2509.90015", "2509.90017", "2509.90022"}),
    # AND NOT
    ("diffusion AND NOT image", {"2509.90015", "2509.90017", "2509.90022"}),
    # leading -
    ("diffusion -image", {"2509.90015", "2509.90017", "2509.90022"}),
    # precedence: adjacency (AND) binds tighter than OR: quantum OR (diffusion image)
    ("quantum OR diffusion image", {"2509.90013", "2509.90016", "2509.90018"}),
    # parentheses group; same result here
    ("(quantum OR diffusion) image", {"2509.90013", "2509.90016", "2509.90018"}),
    # AND binds tighter than OR
    ("quantum OR diffusion AND image", {"2509.90013", "2509.90016", "2509.90018"}),
    # a filter can be only a negation: every paper outside cs
    ("NOT cat:cs.*", {"2509.90090"}),
    # the same with -
    ("-cat:cs.*", {"2509.90090"}),
    # exact category
    ("cat:cs.RO", {"2509.90003", "2509.90009", "2509.90019", "2509.90020", "2603.02642"}),
    # category case-insensitive
    ("cat:cs.ro", {"2509.90003", "2509.90009", "2509.90019", "2509.90020", "2603.02642"}),
    # category without subject class
    ("cat:quant-ph", {"2509.90013"}),
    # archive wildcard
    ("cat:physics.*", {"2509.90023", "2509.90090"}),
    # archive wildcard
    ("cat:eess.*", {"2509.90003", "2509.90011"}),
    # an archive alone means the whole archive
    ("cat:eess", {"2509.90003", "2509.90011"}),
    # categories with ANDNOT
    ("cat:cs.CV ANDNOT cat:cs.CL", {"2509.90009", "2509.90011", "2509.90013", "2509.90018"}),
    # category AND group
    ("cat:cs.RO AND (robot OR robotic)", {"2509.90009", "2509.90019"}),
    # prefix on the unstemmed word
    ("specul*", {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # prefix in titles: parallel, parallelism, parallelization, parallelized
    (
        "ti:paral*",
        {
            "2403.20135",
            "2509.90001",
            "2509.90002",
            "2509.90003",
            "2509.90007",
            "2509.90008",
            "2509.90015",
            "2509.90016",
            "2509.90017",
            "2509.90018",
            "2509.90019",
            "2509.90020",
            "2509.90021",
            "2509.90022",
            "2602.22593",
        },
    ),
    # prefix: generation, generative (stem generat would not be a prefix of them)
    (
        "generati*",
        {
            "2305.04979",
            "2509.90005",
            "2509.90006",
            "2509.90007",
            "2509.90009",
            "2509.90011",
            "2509.90012",
            "2509.90014",
            "2509.90016",
            "2509.90017",
            "2509.90018",
            "2509.90019",
            "2509.90021",
            "2509.90022",
            "2603.02597",
        },
    ),
    # three-word phrase (models stems to model)
    ('"diffusion language models"', {"2509.90016"}),
    # phrase order matters
    ('"language diffusion"', set()),
    # phrase with stemming: large language models
    (
        '"large language model"',
        {
            "2509.90001",
            "2509.90002",
            "2509.90005",
            "2509.90008",
            "2509.90015",
            "2509.90021",
            "2509.90022",
            "2602.22593",
            "2603.02597",
        },
    ),
    # hyphen: self-supervised, selfsupervised and self supervised
    ("self-supervised", {"2509.90021", "2509.90090", "2509.90091"}),
    # joined form: self-supervised and selfsupervised, not self supervised
    ("selfsupervised", {"2509.90021", "2509.90090"}),
    # phrase of the parts: self-supervised and self supervised
    ('"self supervised"', {"2509.90021", "2509.90091"}),
    # hyphenated word inside a phrase
    ('"self-supervised bipartite matching"', {"2509.90021"}),
    # joined form inside a phrase matches the hyphenated text
    ('"selfsupervised bipartite"', {"2509.90021"}),
    # multi-part hyphenated word
    (
        "state-of-the-art",
        {"2509.90010", "2509.90012", "2509.90015", "2509.90016", "2509.90019", "2603.02376"},
    ),
    # the same as a phrase
    (
        '"state of the art"',
        {"2509.90010", "2509.90012", "2509.90015", "2509.90016", "2509.90019", "2603.02376"},
    ),
    # hyphenated term
    ("multi-agent", {"2509.90005"}),
    # its joined form
    ("multiagent", {"2509.90005"}),
    # hyphenated term
    ("co-design", {"2603.02376"}),
    # author surname; not LeCunff
    ("au:lecun", {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # author case-insensitive
    ("au:LeCun", {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # full name; Y. LeCun matches (initial)
    ('au:"Yann LeCun"', {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # arXiv's Surname, Initial form
    ('au:"LeCun, Y"', {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # Surname, Given
    ('au:"LeCun, Yann"', {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # initial with a dot
    ('au:"Y. LeCun"', {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # author prefix: LeCun and LeCunff
    ("au:lec*", {"2509.90002", "2509.90005", "2509.90007", "2509.90012", "2509.90021"}),
    # arXiv's underscore form: Del Maestro, Adrian G. Del Maestro and DelMaestro
    ("au:del_maestro", {"2509.90003", "2509.90008", "2509.90013", "2509.90021"}),
    # Surname, Initial with a two-word surname (DelMaestro too)
    ('au:"Del Maestro, A"', {"2509.90003", "2509.90008", "2509.90013", "2509.90021"}),
    # full name; middle initial G. allowed; DelMaestro is one word, so not this form
    ('au:"Adrian Del Maestro"', {"2509.90003", "2509.90013", "2509.90021"}),
    # accent folding: Schölkopf; the transliteration Schoelkopf is another spelling
    ("au:scholkopf", {"2509.90001", "2509.90011", "2509.90016"}),
    # accented query
    ("au:Schölkopf", {"2509.90001", "2509.90011", "2509.90016"}),
    # only the paper that spells it oe
    ("au:schoelkopf", {"2509.90009"}),
    # Surname, Initial with an accent
    ('au:"Schölkopf, B"', {"2509.90001", "2509.90011", "2509.90016"}),
    # particles with underscores
    ("au:van_der_maaten", {"2509.90006"}),
    # full name with particles
    ('au:"Laurens van der Maaten"', {"2509.90006"}),
    # Ł folds to l
    ("au:lukasz", {"2509.90002"}),
    # accented given name
    ("au:Łukasz", {"2509.90002"}),
    # Vietnamese diacritics fold: Nguyễn
    ("au:nguyen", {"2509.90010"}),
    # a short surname matches whole tokens only (Tao Li, Fei-Fei Li, Zechu Li)
    ("au:li", {"2509.90001", "2509.90003", "2509.90020"}),
    # hyphenated given name
    ('au:"Fei-Fei Li"', {"2509.90003"}),
    # joined form of a hyphenated name
    ("au:feifei", {"2509.90003"}),
    # hyphenated surname
    ("au:mallmann-trenn", {"2603.02636"}),
    # underscore form of a hyphenated surname
    ("au:mallmann_trenn", {"2603.02636"}),
    # surname: Jiawei Wang and Feiyi Wang
    ("au:wang", {"2509.90015", "2509.90022", "2602.22593", "2603.02642"}),
    # full name
    ('au:"Jiawei Wang"', {"2509.90015", "2509.90022", "2603.02642"}),
    # initial excludes Feiyi Wang
    ('au:"Wang, J"', {"2509.90015", "2509.90022", "2603.02642"}),
    # two authors
    ("au:lecun AND au:del_maestro", {"2509.90021"}),
    # either author
    (
        "au:lecun OR au:scholkopf",
        {"2509.90001", "2509.90002", "2509.90005", "2509.90011", "2509.90012", "2509.90016", "2509.90021"},
    ),
    # author without a category
    ("au:lecun -cat:cs.CL", {"2509.90005", "2509.90012"}),
    # all: includes authors
    ("all:lecun", {"2509.90002", "2509.90005", "2509.90012", "2509.90021"}),
    # all: includes title and abstract
    ("all:quantum", {"2509.90013"}),
    # all: with a category value includes the category
    ("all:cs.RO", {"2509.90003", "2509.90009", "2509.90019", "2509.90020", "2603.02642"}),
    # all: with a phrase
    ('all:"speculative decoding"', {"2509.90006", "2509.90007", "2509.90008", "2509.90014", "2509.90091"}),
    # fields combined by adjacency
    ("ti:parallel cat:cs.RO", {"2509.90003", "2509.90019", "2509.90020"}),
    # a field applied to a group
    ("ti:(speculative OR diffusion) cat:cs.LG", {"2509.90006", "2509.90014", "2509.90017", "2509.90091"}),
    # field group with a phrase; only abstracts
    ('abs:("self supervised" OR selfsupervised)', {"2509.90021", "2509.90091"}),
    # nested parentheses
    ("((quantum))", {"2509.90013"}),
    # decoding in the abstract only
    ("decoding -ti:decoding", {"2509.90002", "2509.90011"}),
    # double negation
    ("NOT NOT quantum", {"2509.90013"}),
    # three-way OR
    ("robot OR robotic OR robots", {"2509.90004", "2509.90009", "2509.90019"}),
    # stemming: robotic stems to robot
    ("robotic", {"2509.90004", "2509.90009", "2509.90019"}),
    # common word: stemming model, models, modeling
    (
        "model",
        {
            "2305.04979",
            "2403.20135",
            "2509.90001",
            "2509.90002",
            "2509.90005",
            "2509.90006",
            "2509.90007",
            "2509.90008",
            "2509.90009",
            "2509.90010",
            "2509.90011",
            "2509.90012",
            "2509.90013",
            "2509.90014",
            "2509.90015",
            "2509.90016",
            "2509.90018",
            "2509.90021",
            "2509.90022",
            "2509.90023",
            "2509.90091",
            "2602.22593",
            "2603.02597",
            "2603.02636",
            "2603.02642",
        },
    ),
    # titles with model(s)
    ("ti:models", {"2509.90010", "2509.90016", "2509.90021", "2602.22593"}),
    # every title with language models also says large
    ('ti:"language models" ANDNOT ti:large', set()),
]


@pytest.fixture(scope="module")
def index() -> PaperIndex:
    return PaperIndex(
        [PaperDoc(p["title"], p["abstract"], tuple(p["authors"]), tuple(p["categories"])) for p in CORPUS]
    )


def test_the_table_covers_the_language():
    assert len(TABLE) >= 80
    assert len({query for query, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[query for query, _ in TABLE])
def test_query_matches_exactly_these_papers(index, query, expected):
    bits = index.match(query)
    assert {CORPUS[doc]["id"] for doc in iter_bits(bits)} == expected
    assert index.compile(query).bits == bits


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[query for query, _ in TABLE])
def test_the_best_few_are_the_first_of_all_hits(index, query, expected):
    # The live preview's top 5 (and any k) equal the head of the fully scored list, ties included.
    for k in (1, 2, 3, 5, 8):
        assert index.top_hits(query, k) == index.hits(query)[:k]
