"""build_dask's executor: dagster_dask's, imported only when a run uses it."""

from __future__ import annotations

import ast
from pathlib import Path

import xdeg_pipeline
from xdeg_pipeline.dask_executor import dask_executor


def _shape(field) -> dict:
    selector = field.config_type.fields["cluster"].config_type
    return {name: (f.is_required, f.config_type.kind, sorted(getattr(f.config_type, "fields", {})))
            for name, f in selector.fields.items()}


def test_same_name_requirements_and_config_as_dagster_dask() -> None:
    from dagster_dask import dask_executor as real

    assert dask_executor.name == real.name
    assert dask_executor.get_requirements(None) == real.get_requirements(None)
    assert _shape(dask_executor.config_schema.as_field()) == \
        _shape(real.config_schema.as_field())


def test_no_module_imports_dagster_dask_when_loaded() -> None:
    """Only function bodies import it (checked in the source: a fresh interpreter importing
    the code location costs more than this whole file)."""
    found = []
    for path in Path(xdeg_pipeline.__file__).parent.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "dagster_dask"]
    assert found == []
