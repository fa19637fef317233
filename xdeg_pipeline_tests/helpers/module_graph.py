"""The import graph of ``xdeg_pipeline/core`` and the size figures of the code, by an AST pass.

A *unit* is a top-level module or package of ``core/``; a *link* is an import from one unit into
another (every import statement, also those inside functions: a lazy import is a dependency
too). ``python -m xdeg_pipeline_tests.helpers.module_graph`` prints the figures; its last line
is one JSON object.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "xdeg_pipeline"
CORE = "xdeg_pipeline.core"

# Each unit of core/ and its rank: a unit imports only units of a lower rank (or itself).
RANKS: dict[str, int] = {
    "params": 0, "progress": 0, "dask_worker": 0, "arrays": 0, "allocator": 0, "collector": 0,
    "storage": 1,
    "images": 2, "graph": 2, "stage": 2,
    "features": 3, "paths": 3, "pictures": 3,
    "sources": 4, "resolve": 4,
    "settings": 5, "query": 5,
    "stages": 6,
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """Dotted module name of a file under the package root."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> Iterator[tuple[str, int]]:
    """Every module (or ``package.name``) a file imports, with the line, relative ones resolved."""
    me = module_name(path, root)
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - (node.level - 1)]
                mod = ".".join(parent + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:  # ``from pkg import module`` names a module
                yield f"{mod}.{alias.name}", node.lineno


def unit_of(module: str) -> str | None:
    """The unit of core/ a dotted name belongs to (None outside core/ or for core itself)."""
    if not module.startswith(CORE + "."):
        return None
    return module[len(CORE) + 1:].split(".")[0]


@dataclass(frozen=True)
class Link:
    """One import of ``target`` (a unit) from a file of ``source`` (a unit)."""

    source: str
    target: str
    file: str
    line: int


def core_links(root: Path = PACKAGE) -> tuple[set[str], list[Link]]:
    """The units of core/ and every import between two different units."""
    core = root / "core"
    units = {p.stem if p.is_file() else p.name for p in core.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and (p / "__init__.py").exists())}
    links = []
    for path in sorted(core.rglob("*.py")):
        src = unit_of(module_name(path, root))
        if src is None:
            continue
        for mod, line in imported_modules(path, root):
            dst = unit_of(mod)
            if dst is not None and dst != src and dst in units:
                links.append(Link(src, dst, str(path.relative_to(root.parent)), line))
    return units, links


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def figures(root: Path = PACKAGE) -> dict:
    """Modules directly in core/, units, links (distinct unit pairs) and cycles."""
    units, links = core_links(root)
    pairs = {(link.source, link.target) for link in links}
    top_modules = [p for p in (root / "core").glob("*.py") if p.name != "__init__.py"]
    return {"modules_in_core": len(top_modules), "units": len(units), "links": len(pairs),
            "cycles": cycles(pairs)}


if __name__ == "__main__":
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE
    result = figures(root)
    _, links = core_links(root)
    for a, b in sorted({(link.source, link.target) for link in links}):
        print(f"{a} -> {b}")
    print(json.dumps(result))
