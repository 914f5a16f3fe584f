"""The README's query examples do what the README says they do, and the README and docs/
name files, modules and pages that exist."""

import importlib
import importlib.util
import re
from pathlib import Path

from django.apps import apps

from alerts.search.matcher import PaperDoc, PaperIndex, iter_bits

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
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


# Pointers to the code in the README and docs/: files, modules and links that must exist.
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_DIRS = {".venv", ".git", "node_modules", "data"}


def _project_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if not SKIP_DIRS & set(path.relative_to(ROOT).parts)
    }


def _resolves(dotted: str) -> bool:
    """`dotted` names a module, or an attribute of one, or an app's model (`alerts.Paper`)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            continue
        thing = importlib.import_module(module) if end < len(parts) else None
        for name in parts[end:]:
            thing = getattr(thing, name, None)
        if thing is not None or end == len(parts):
            return True
        break
    try:
        apps.get_model(dotted)
    except (LookupError, ValueError):
        return False
    return True


def test_the_files_and_modules_the_docs_name_exist():
    files = _project_files()
    missing = []
    for doc in DOC_FILES:
        text = doc.read_text()
        # From the repository's root: a bare name (`tasks.py`) may be any of several files.
        for path in re.findall(r"`([\w./-]+\.py)`", text):
            if path not in files:
                missing.append(f"{doc.name}: {path}")
        for dotted in re.findall(r"`((?:alerts|subscribers|config)\.[\w.]+)`", text):
            if not _resolves(dotted):
                missing.append(f"{doc.name}: {dotted}")
        for link in re.findall(r"\]\(([\w./-]+\.md)\)", text):
            if not (doc.parent / link).exists():
                missing.append(f"{doc.name}: link {link}")
    assert missing == []


def test_the_readme_layout_names_every_package_and_links_every_doc():
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([\w/]+/)` \|", layout, re.M))
    packages = {
        path.parent.relative_to(ROOT).as_posix() + "/"
        for path in (ROOT / "alerts").glob("*/__init__.py")
        if path.parent.name not in {"migrations", "management", "fixtures"}
    }
    assert packages
    assert packages <= rows
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", README))
    assert {path.name for path in (ROOT / "docs").glob("*.md")} <= linked
