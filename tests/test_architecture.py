"""The layers of docs/architecture.md, read from the code: every labkit module's imports (ast).

Which imports count: every ``import`` and ``from ... import`` in a module, at its top
*and inside functions* (a function-level import is a dependency too: it runs the first
time the function does).  Only ``if TYPE_CHECKING:`` blocks are skipped (they never run).
Importing a submodule ``labkit.a.b`` counts as a dependency on ``labkit.a.b``, not on the
package ``labkit.a``'s ``__init__``.

* no import circle among labkit's modules;
* rule 1: an engine module (a concept package's module that is not its ``__init__``,
  ``claims`` or a lesson view) never imports ``charts``, ``widgets``, ipywidgets,
  matplotlib's pyplot or IPython;
* claims import engines only: a ``claims.py`` never imports a lesson view, ``charts``,
  ``widgets`` or ``exercises``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LABKIT = Path(__file__).resolve().parent.parent / "labkit"
GROUND_PACKAGES = {"room"}  # the facilitator's room: above every lesson, not a concept
DISPLAY = ("labkit.charts", "labkit.widgets", "labkit.ahead", "ipywidgets", "IPython", "matplotlib.pyplot")
# Lesson views: the modules that draw (lesson.py, lesson_*.py) and their view helpers.
VIEW_NAMES = ("lesson", "views")


def _modules() -> dict[str, Path]:
    found = {}
    for path in LABKIT.rglob("*.py"):
        parts = list(path.relative_to(LABKIT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for branch in node.orelse for n in _import_nodes_of(branch))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _import_nodes(node)


def _import_nodes_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _import_nodes(node)


def _owner(name: str) -> str:
    """The labkit module a dotted name lives in (a module, or the module defining the name)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports(module: str) -> set[str]:
    """Every module ``module`` imports (labkit modules resolved; others by their full name)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base_name = ".".join(base + ([node.module] if node.module else []))
        else:
            base_name = node.module or ""
        for alias in node.names:
            full = f"{base_name}.{alias.name}"
            found.add(full if full in MODULES else base_name)
    return {_owner(n) if n.startswith("labkit") else n for n in found} - {module}


GRAPH = {module: {n for n in imports(module) if n in MODULES} for module in MODULES}


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _concept(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 3 or parts[1] in GROUND_PACKAGES:
        return None
    return parts[1]


def _is_view(module: str) -> bool:
    return any(part == name or part.startswith(name + "_") for part in module.split(".")[2:] for name in VIEW_NAMES)


def _is_engine(module: str) -> bool:
    return (_concept(module) is not None and MODULES[module].name != "__init__.py"
            and not module.endswith(".claims") and not _is_view(module))


def _uses(names: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == b or n.startswith(b + ".") for b in banned))


def test_no_import_circle():
    found = [sorted(c) for c in circles(GRAPH)]
    assert not found, f"import circles (break each by moving the shared piece down a layer): {found}"


def test_the_circle_finder_finds_a_circle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    # function-level imports count: charts.show's nudge import is found inside the function
    assert "labkit.predictions" in imports("labkit.charts")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_engine(m)))
def test_engines_never_import_display_code(module):
    assert not _uses(imports(module), DISPLAY), f"{module} is an engine: draw in its lesson instead"


# Claims that still import their lesson, each with what must move; strict: a fix makes it fail until removed.
CLAIMS_WAITING: dict[str, str] = {}


@pytest.mark.parametrize("module", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=CLAIMS_WAITING[m])) if m in CLAIMS_WAITING else m
    for m in sorted(m for m in MODULES if m.endswith(".claims"))])
def test_claims_import_engines_only(module):
    names = imports(module)
    views = sorted(n for n in names if n in MODULES and _is_view(n))
    display = _uses(names, (*DISPLAY, "labkit.exercises"))
    assert not views and not display, f"{module} imports {views + display}: compute the claim in an engine"
