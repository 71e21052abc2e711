"""`pip install .` gives a labkit whose every module imports: each third-party module
labkit imports is a declared dependency of the distribution (pyproject.toml).

The walk reads every labkit module's imports (ast), so a new concept package is
covered without touching this test.  Imports guarded by ``try: ... except
ImportError`` and ``if TYPE_CHECKING:`` blocks are optional and skipped.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normal(re.match(r"[A-Za-z0-9_.-]+", spec).group(0)) for spec in project["dependencies"]}


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
            or isinstance(h.type, ast.Tuple) and any(getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                      for e in h.type.elts)
            for h in node.handlers
        ):
            return True
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def third_party_imports(package: Path = ROOT / "labkit") -> dict[str, set[str]]:
    """Top-level module -> the labkit files that import it (required imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("labkit", "__future__") or _optional(node, parents):
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(package.parent)))
    return found


def undeclared(imports: dict[str, set[str]], declared: set[str]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, files in sorted(imports.items()):
        dists = {_normal(d) for d in providers.get(module, [])}
        where = ", ".join(sorted(files)[:3])
        if not dists:
            problems.append(f"{module} (imported in {where}) is not installed: add its distribution to "
                            "pyproject.toml's dependencies and to requirements.txt / binder/requirements.txt")
        elif not dists & declared:
            problems.append(f"{module} (imported in {where}) comes from {'/'.join(sorted(dists))}: add it to "
                            "pyproject.toml's dependencies (and pin it in binder/requirements.txt)")
    return problems


def test_every_third_party_import_is_a_declared_dependency():
    imports = third_party_imports()
    assert {"numpy", "redis", "fakeredis", "IPython", "hishel"} <= set(imports), "the walk missed known imports"
    problems = undeclared(imports, declared_distributions())
    assert problems == [], "\n".join(problems)


def test_the_check_names_what_to_add(tmp_path):
    package = tmp_path / "labkit"
    package.mkdir()
    (package / "views.py").write_text(
        "import numpy as np\nfrom IPython.display import HTML\nimport yaml_not_installed_anywhere\n"
        "try:\n    import libcachesim\nexcept ImportError:\n    libcachesim = None\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas\n"
    )
    imports = third_party_imports(package)
    assert set(imports) == {"numpy", "IPython", "yaml_not_installed_anywhere"}
    problems = undeclared(imports, {"numpy"})
    assert problems[0].startswith("IPython (imported in ") and "comes from ipython: add it" in problems[0]
    assert problems[1].startswith("yaml_not_installed_anywhere") and "is not installed" in problems[1]
    assert len(problems) == 2


def test_binder_installs_every_declared_dependency():
    """binder/postBuild installs labkit with --no-deps, so Binder's own pinned list
    must name every dependency pyproject.toml declares."""
    binder = {_normal(re.match(r"[A-Za-z0-9_.-]+", line).group(0))
              for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    missing = sorted(declared_distributions() - binder - {"traitlets", "ipython"})  # both come with ipykernel
    assert missing == [], f"binder/requirements.txt lacks {missing}"
