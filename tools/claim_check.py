"""Refuse a claim whose value is a literal: every claim must compute from labkit's engines.

A claim's number is only worth stating if the code the notebook teaches produced it.
This reads each concept's ``claims.py`` (its syntax, not its results) and finds the
claim functions that

* **return a literal**: a number or string written in the source, a module constant
  (``FAILOVER_SECONDS``), or arithmetic on them; or
* **call no engine**: nothing they run - directly or through the module's own helpers
  and other claims - is a function of a labkit concept or computing ground module
  (``from .simulation import ...``, ``from .. import workloads``).  Reading a setting
  or a third-party default is not a measurement.

A claim that passes can still be a design constant in disguise (an engine's field
that is set, not measured); the teaching fact in its ``holds`` is the next line of
defence, and ``tests/test_claims.py`` asserts it.

``tools/build_notebooks.py --check`` runs this.  ``KNOWN_LITERALS`` lists the
offenders still waiting for their notebook's fix: empty it as they are fixed.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (notebook, claim) pairs known to return a literal or to compute from no engine, each
# waiting for its notebook's fix.  The check refuses any other offender, and any entry
# here that no longer offends (remove it).  Empty this list when they are fixed.
KNOWN_LITERALS: frozenset[tuple[str, str]] = frozenset()

# labkit modules whose calls are bookkeeping, not computation: registering a claim,
# memoising it, its errors, a clock to run an engine on, the course map.  (A store, a
# connection or a server the lab starts does count: what a server reports is measured.)
NOT_ENGINES = {"claims", "memo", "errors", "clock", "course"}


@dataclass(frozen=True)
class Offender:
    notebook: str
    claim: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.notebook}/{self.claim} (line {self.line}): {self.why}"


def _claim_name(decorator: ast.expr) -> str | None:
    """The claim's name if ``decorator`` is ``claim("name", ...)``."""
    if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "claim":
        first = decorator.args[0] if decorator.args else None
        return first.value if isinstance(first, ast.Constant) else "<computed name>"
    return None


def _root(node: ast.expr) -> str | None:
    """The name an expression such as ``a.b(c).d`` starts from (``a``)."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Module:
    """One claims.py: its engine imports, its constants and its functions."""

    def __init__(self, path: Path, package: str) -> None:
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.package = package  # "tour" for labkit/tour/claims.py
        self.engines: set[str] = set()  # names bound to a labkit engine (module or function)
        self.constants: set[str] = set()  # module-level names bound to literals
        self.functions: dict[str, ast.FunctionDef] = {}
        for node in ast.walk(self.tree):  # imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.level:
                for alias in node.names:
                    self._note_import(node.level, node.module, alias)
        for node in self.tree.body:
            self._note(node)

    def _note(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value] * len(names)
                for name, value in zip(names, values, strict=False):
                    if isinstance(name, ast.Name) and self.is_literal(value):
                        self.constants.add(name.id)
        elif isinstance(node, ast.FunctionDef):
            self.functions[node.name] = node

    def _note_import(self, level: int, module: str | None, alias: ast.alias) -> None:
        # level 1: the concept's own package; level 2: labkit itself.
        path = ([self.package] if level == 1 else []) + (module.split(".") if module else [])
        top = path[0] if path else alias.name
        if level == 2 and top in NOT_ENGINES:
            return
        bound = alias.asname or alias.name
        self.engines.add(bound)
        if alias.name.isupper():  # FAILOVER_SECONDS: returned as it is, a setting, not a result
            self.constants.add(bound)

    def is_literal(self, node: ast.expr) -> bool:
        """True if ``node`` can only ever have one value: literals and constants, combined."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.constants
        if isinstance(node, ast.UnaryOp):
            return self.is_literal(node.operand)
        if isinstance(node, ast.BinOp):
            return self.is_literal(node.left) and self.is_literal(node.right)
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.is_literal(e) for e in node.elts)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"float", "int", "round", "str"}:
            return all(self.is_literal(a) for a in node.args)
        if isinstance(node, ast.Attribute | ast.Subscript):
            # a setting's field (OUTAGE.start_seconds) or an engine's constant (shards.FAILOVER_SECONDS),
            # as long as nothing is called on the way
            if any(isinstance(n, ast.Call) for n in ast.walk(node)):
                return False
            root = _root(node)
            return root in self.constants or (isinstance(node, ast.Attribute) and node.attr.isupper()
                                              and root in self.engines)
        return False

    def _derived(self, body: ast.AST) -> set[str]:
        """Local names bound to something an engine made (``stock = next(d for d in DATA_SETS ...)``)."""
        pairs = []  # (target, value) for every binding in the body
        for node in ast.walk(body):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                pairs += [(target, node.value) for target in targets]
            elif isinstance(node, ast.For | ast.comprehension):
                pairs.append((node.target, node.iter))
        sources, derived = self.engines | set(self.functions), set()
        while True:
            grown = {n.id for target, value in pairs
                     if any(isinstance(v, ast.Name) and v.id in sources | derived for v in ast.walk(value))
                     for n in ast.walk(target) if isinstance(n, ast.Name)}
            if grown <= derived:
                return derived
            derived |= grown

    def calls_an_engine(self, body: ast.AST, seen: set[str]) -> bool:
        """True if running ``body`` calls a labkit engine, directly or through local helpers."""
        derived = self._derived(body)
        for node in ast.walk(body):
            if not isinstance(node, ast.Call):
                continue
            root = _root(node.func)
            if root in self.engines or root in derived:
                return True
            if root in self.functions and root not in seen:
                seen.add(root)
                if self.calls_an_engine(self.functions[root], seen):
                    return True
        return False


def _returns(fn: ast.FunctionDef | ast.Lambda) -> list[ast.expr]:
    if isinstance(fn, ast.Lambda):
        return [fn.body]
    return [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]


def _judge(module: _Module, fn: ast.FunctionDef | ast.Lambda) -> str | None:
    returns = _returns(fn)
    if not returns:
        return "returns nothing"
    if all(module.is_literal(r) for r in returns):
        return "returns a literal (a number or constant written in the source)"
    if not module.calls_an_engine(fn, set()):
        return "calls no labkit engine (a setting or a default is not a measurement)"
    return None


def _claim_functions(module: _Module) -> list[tuple[str, ast.FunctionDef | ast.Lambda]]:
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef):
            found += [(name, node) for d in node.decorator_list if (name := _claim_name(d))]
        # claim("name", ...)(lambda: ...), as a loop registers several claims at once
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Call) and node.args:
            name = _claim_name(node.func)
            if name and isinstance(node.args[0], ast.Lambda):
                found.append((name if name != "<computed name>" else f"<registered at line {node.lineno}>",
                              node.args[0]))
    return found


def offenders_in(path: Path, notebook: str, package: str) -> list[Offender]:
    """The claims in one ``claims.py`` whose value is a literal or computes from no engine."""
    module = _Module(path, package)
    found = []
    for name, fn in _claim_functions(module):
        why = _judge(module, fn)
        if why:
            found.append(Offender(notebook, name, fn.lineno, why))
    return found


def all_offenders() -> list[Offender]:
    """Every offending claim of every notebook in the course map."""
    course = importlib.import_module("labkit.course")
    found = []
    for lesson in course.NOTEBOOKS:
        path = ROOT.joinpath(*lesson.claims_module.split(".")).with_suffix(".py")
        if path.exists():
            found += offenders_in(path, lesson.number, lesson.package)
    return found


def problems(offenders: list[Offender], known: frozenset[tuple[str, str]] = KNOWN_LITERALS) -> list[str]:
    """One sentence per new offender and per known one that no longer offends."""
    keys = {(o.notebook, o.claim) for o in offenders}
    new = [f"claim {o} - compute it from the engine the notebook teaches" for o in offenders
           if (o.notebook, o.claim) not in known]
    fixed = [f"claim {nb}/{name} no longer returns a literal: remove it from KNOWN_LITERALS in tools/claim_check.py"
             for nb, name in sorted(known - keys)]
    return new + fixed
