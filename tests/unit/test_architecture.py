"""The import graph of the whole project: no module imports itself through others.

import-linter's contracts (pyproject.toml, run by ``make lint`` and ``infra/bin/test``) check
the boundaries between packages; this test looks at every module of services/, web/ and the
launcher (infra/glassbox_launch) at
once, so a cycle that crosses packages (``media.actions`` -> ``media.tasks`` -> back) fails too.
"""

from __future__ import annotations

import grimp
import pytest

ROOTS = (
    "glassbox",
    "glassbox_web",
    "accounts",
    "jobs",
    "media",
    "moderation",
    "search",
    "ops",
    "glassbox_launch",
)


def _imported(graph: grimp.ImportGraph, module: str):
    return iter(sorted(graph.find_modules_directly_imported_by(module)))


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, _imported(graph, root))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, _imported(graph, child)))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


@pytest.fixture(scope="module")
def project_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS, include_external_packages=False)


def test_no_module_of_the_project_imports_itself_through_others(project_graph):
    assert len(project_graph.modules) > 100  # every package was found
    assert _cycles(project_graph) == []
