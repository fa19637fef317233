"""The shape of the code: core/ grouped by domain, imports running one way, no cycles, small
modules, settings read once, no Dagster in core (an AST pass, no imports of the code)."""

from __future__ import annotations

import ast
from pathlib import Path

from xdeg_pipeline_tests.helpers.module_graph import (
    PACKAGE,
    RANKS,
    core_links,
    cycles,
    figures,
    imported_modules,
    module_name,
)

REPO = PACKAGE.parent


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def test_every_unit_of_core_has_a_rank() -> None:
    units, _ = core_links()
    assert units - set(RANKS) == set(), "place new units of core/ in module_graph.RANKS"


def test_core_imports_run_one_way() -> None:
    _, links = core_links()
    upward = [f"{link.file}:{link.line} {link.source} imports {link.target}"
              for link in links if RANKS[link.target] >= RANKS[link.source]]
    assert upward == []


def test_no_import_cycles_between_units_or_modules() -> None:
    _, links = core_links()
    assert cycles({(link.source, link.target) for link in links}) == []
    # module level: only top-of-module imports (a lazy import inside a function cannot loop)
    edges = set()
    known = {module_name(p) for p in _sources("xdeg_pipeline")}
    for path in _sources("xdeg_pipeline"):
        me = module_name(path)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom | ast.Import):
                for mod, _ in imported_modules(path):
                    if mod in known and mod != me:
                        edges.add((me, mod))
    assert cycles(edges) == []


def test_core_keeps_at_most_twelve_modules_at_its_top() -> None:
    assert figures()["modules_in_core"] <= 12


def _spans(tree: ast.AST, kinds: tuple) -> list[tuple[str, int]]:
    return [(node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(tree) if isinstance(node, kinds)]


def test_modules_classes_and_functions_stay_small() -> None:
    too_big = []
    for path in _sources("xdeg_pipeline"):
        text = path.read_text()
        tree = ast.parse(text)
        rel = path.relative_to(REPO)
        if len(text.splitlines()) > 450:
            too_big.append(f"{rel}: {len(text.splitlines())} lines")
        too_big += [f"{rel}: class {n} {k}" for n, k in _spans(tree, (ast.ClassDef,)) if k > 250]
        functions = _spans(tree, (ast.FunctionDef, ast.AsyncFunctionDef))
        too_big += [f"{rel}: def {n} {k}" for n, k in functions if k > 80]
        if rel.parts[1] == "assets":
            too_big += [f"{rel}: asset {n} {k}" for n, k in functions if k > 30]
    assert too_big == []


def _environment_reads(tree: ast.AST) -> int:
    reads = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            reads += isinstance(node.value, ast.Name) and node.value.id == "os"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            reads += any(a.name in ("environ", "getenv") for a in node.names)
    return reads


def test_core_reads_the_environment_only_in_settings_and_never_imports_dagster() -> None:
    env, dagster = [], []
    for path in _sources("xdeg_pipeline/core"):
        tree = ast.parse(path.read_text())
        rel = str(path.relative_to(REPO))
        if path.name != "settings.py" and _environment_reads(tree):
            env.append(rel)
        if any(mod.split(".")[0].startswith("dagster") for mod, _ in imported_modules(path)):
            dagster.append(rel)
    assert (env, dagster) == ([], [])


def test_nothing_imports_a_test_module_and_the_package_never_imports_the_tests() -> None:
    """Benchmarks may use the shared test helpers (a local image server), never a test module."""
    def is_test(mod: str) -> bool:
        return any(part.startswith(("test_", "conftest")) for part in mod.split("."))

    found = [f"{p.relative_to(REPO)}:{line} {mod}"
             for p in _sources("xdeg_pipeline", "benchmarks", "xdeg_pipeline_tests")
             for mod, line in imported_modules(p)
             if is_test(mod)
             or (p.is_relative_to(PACKAGE) and mod.startswith("xdeg_pipeline_tests"))]
    assert found == []
