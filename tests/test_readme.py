"""The README's query examples do what the README says they do."""

import re
from pathlib import Path

from alerts.search.matcher import PaperDoc, PaperIndex, iter_bits

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
SECTION = README.split("## Topic filters in five examples", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"^\| `([^`]+)` \|", SECTION, re.M)

DOCS = {
    "diffusion": PaperDoc("Diffusions on graphs", "A model of heat.", ("A B",), ("math.PR",)),
    "llm-cl": PaperDoc("A large language model for law", "We train it.", ("A B",), ("cs.LG", "cs.CL")),
    "llm-lg": PaperDoc("A large language model for code", "We train it.", ("A B",), ("cs.LG",)),
    "lecun": PaperDoc("Energy-based models", "Text.", ("Yann LeCun",), ("cs.LG",)),
    "scholkopf": PaperDoc("Causal models", "Text.", ("Bernhard Schölkopf",), ("stat.ML",)),
    "agents": PaperDoc("Agentic workflows", "Agents that plan.", ("A B",), ("cs.AI",)),
    "robots": PaperDoc("Robot agents", "Agents that move.", ("A B",), ("cs.RO",)),
    "tools": PaperDoc("Learning tool use", "Models and tool use.", ("A B",), ("cs.CL",)),
    "ssl": PaperDoc("Contrastive pretraining", "A self-supervised method.", ("A B",), ("cs.CV",)),
    "survey": PaperDoc("A survey of pretraining", "Self-supervised methods, surveyed.", ("A B",), ("cs.CV",)),
    "ssl-bio": PaperDoc("Protein pretraining", "A self-supervised method.", ("A B",), ("q-bio.BM",)),
}
EXPECTED = [
    {"diffusion"},
    {"llm-cl"},
    {"lecun", "scholkopf"},
    {"agents", "tools"},
    {"ssl"},
]


def test_the_readme_shows_five_examples_and_each_finds_what_it_says():
    assert len(EXAMPLES) == 5
    keys = list(DOCS)
    index = PaperIndex(list(DOCS.values()))
    for query, expected in zip(EXAMPLES, EXPECTED, strict=True):
        found = {keys[i] for i in iter_bits(index.match(query))}
        assert found == expected, query
    for query in ("au:scholkopf", 'au:"Scholkopf, B"'):
        assert {keys[i] for i in iter_bits(index.match(query))} == {"scholkopf"}
