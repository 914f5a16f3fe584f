"""The import graph stays a layered graph: no cycles, nothing imports a layer above its own.

scripts/import_graph.py does the reading; these tests make a regression fail the suite and
check that the checker itself sees the problems it exists for.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.servers import ROOT


@pytest.fixture(scope="module")
def import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("import_graph", None)


def test_no_cycles_and_no_upward_imports(import_graph):
    assert import_graph.problems() == []


def test_the_checker_reads_imports_inside_functions(import_graph):
    edges = import_graph.graph()
    # alerts.tasks imports services at the top; a service may not import it back anywhere.
    assert "alerts.digests.sending" in edges["alerts.tasks"]
    importers = {name for name, targets in edges.items() if "alerts.tasks" in targets}
    assert "alerts.admin" in importers
    assert {import_graph.layer_of(name) for name in importers} == {"edges"}


def test_the_checker_finds_a_cycle_and_an_upward_import(import_graph, monkeypatch):
    real = import_graph.graph()

    def with_bad_imports():
        edges = {name: set(targets) for name, targets in real.items()}
        edges["alerts.search.query"].add("alerts.search.matcher")  # matcher imports query
        edges["subscribers.services"].add("alerts.tasks")
        return edges

    monkeypatch.setattr(import_graph, "graph", with_bad_imports)
    found = import_graph.problems()
    assert any(line.startswith("module cycle:") and "alerts.search.query" in line for line in found)
    assert "layer: subscribers.services (subscribers) imports alerts.tasks (edges), a higher layer" in found
    assert any(line.startswith("package cycle:") for line in found)


def test_search_is_plain_python(import_graph):
    searched = [name for name in import_graph.project_modules() if name.startswith("alerts.search")]
    assert len(searched) >= 4
    assert not [line for line in import_graph.problems() if line.startswith("plain Python")]
