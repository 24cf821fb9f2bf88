"""Every package the code imports is declared in pyproject.toml: the app's and the data
layer's as dependencies, the tests' and benchmarks' there or in the dev group. A package that
only arrives as someone else's dependency can vanish with their next release."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ["app", "tenants", "main.py"]
DEVELOPMENT = ["tests", "bench", "scripts"]
OWN = {"app", "tenants", "tests", "bench", "scripts", "main"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> set[str]:
    return {normalized(re.match(r"[A-Za-z0-9._-]+", r)[0]) for r in requirements}


def imported(paths: list[str]) -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere under `paths`, with where."""
    found: dict[str, set[str]] = {}
    for path in paths:
        root = ROOT / path
        for file in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, set()).add(str(file.relative_to(ROOT)))
    return found


def undeclared(paths: list[str], allowed: set[str]) -> dict[str, list[str]]:
    distributions = packages_distributions()
    return {
        module: sorted(files)[:3]
        for module, files in imported(paths).items()
        if not {normalized(d) for d in distributions.get(module, [module])} & allowed
    }


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = declared(project["project"]["dependencies"])
    development = runtime | declared(project["dependency-groups"]["dev"])
    assert undeclared(RUNTIME, runtime) == {}, "add these with `uv add`"
    assert undeclared(DEVELOPMENT, development) == {}, "add these with `uv add --dev`"


def test_the_check_sees_an_undeclared_import():
    assert "yaml" in undeclared(["app"], {"python-fasthtml"})
