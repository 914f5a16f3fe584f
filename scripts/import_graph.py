"""The project's import graph: cycles and imports of a higher layer.

Every `import` and `from ... import` in the apps and `config/` counts, at the top of a module
or inside a function (an import inside a function to dodge a cycle is still a cycle).
Run `python scripts/import_graph.py` for a report; exit status 1 when anything is wrong.
The layers, lowest first (docs/architecture.md says the same):

    core        alerts/core/        small helpers every layer may use
    search      alerts/search/      query language, normalisation, matcher, ranking (no Django)
    models      alerts/models.py, subscribers/models.py
    papers      alerts/papers/      sources, HTTP client, fetch, ingest, paper selectors
    subscribers subscribers/        sign-up, tokens, rules, filter preview (services)
    digests     alerts/digests/     periods, dispatch, compose, render, send, recover, webhooks
    edges       admin, views, urls, forms, tasks, signals, commands, config/

A module may import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("alerts", "subscribers", "config")
LAYERS = ("core", "search", "models", "papers", "subscribers", "digests", "edges")
EDGE_NAMES = {
    "admin", "apps", "views", "urls", "forms", "tasks", "signals", "outbox", "outbox_views",
    "feedback_views",
    "health", "context_processors", "templatetags", "management",
}  # fmt: skip
NO_DJANGO = ("alerts.search",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and "fixtures" not in path.parts:
                found[module_name(path)] = path
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "config" or any(part in EDGE_NAMES for part in parts[1:]):
        return "edges"
    if parts[:2] == ["alerts", "core"]:
        return "core"
    if parts[:2] == ["alerts", "search"]:
        return "search"
    if parts[1:] == ["models"]:
        return "models"
    if parts[:2] == ["alerts", "papers"]:
        return "papers"
    if parts[:2] == ["alerts", "digests"]:
        return "digests"
    if parts[0] == "subscribers":
        return "subscribers"
    return "edges"  # alerts/__init__ and anything else at the app's top level


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules imported by `module`, each resolved to the deepest existing module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[: len(package) - node.level + 1]
                base = ".".join([*prefix, *([base] if base else [])])
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def django_imports(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "django" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "django":
            return True
    return False


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of nodes that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


SUBPACKAGES = ("core", "search", "papers", "digests")


def package_of(module: str) -> str:
    """The unit of the package graph: a sub-package of alerts, an app's models, or the rest
    of an app (its services and edges), or config."""
    parts = module.split(".")
    if len(parts) > 1 and (parts[1] in SUBPACKAGES or parts[1] == "models"):
        return ".".join(parts[:2])
    return parts[0]


def problems() -> list[str]:
    edges = graph()
    found = [f"module cycle: {' <-> '.join(group)}" for group in _strongly_connected(edges)]
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in edges.items():
        for target in targets:
            if package_of(target) != package_of(module):
                packages[package_of(module)].add(package_of(target))
    found += [f"package cycle: {' <-> '.join(group)}" for group in _strongly_connected(packages)]
    rank = {name: i for i, name in enumerate(LAYERS)}
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            if rank[layer_of(target)] > rank[layer_of(module)]:
                above = f"{target} ({layer_of(target)})"
                found.append(f"layer: {module} ({layer_of(module)}) imports {above}, a higher layer")
    modules = project_modules()
    for module, path in sorted(modules.items()):
        if module.startswith(NO_DJANGO) and django_imports(path):
            found.append(f"plain Python: {module} imports Django")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    edges = graph()
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
