"""The one Dagster resource: the settings of an xdeg deployment (:mod:`core.settings`).

Each field is a setting of the launchpad's ``resources.xdeg.config``; a field left unset falls
back to its ``XDEG_*`` variable when the run starts, then to the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from xdeg_pipeline.core.allocator import tune_malloc
from xdeg_pipeline.core.collector import freeze_at_exit
from xdeg_pipeline.core.settings import BY_FIELD, Settings, malloc_set_by_environment


def _doc(field: str) -> str:
    s = BY_FIELD[field]
    return f"{s.meaning}. Default: {s.default.replace('`', '')}. Environment: {s.env}."


def _field(field: str) -> Any:
    return Field(default=None, description=_doc(field))


class XdegResource(ConfigurableResource):
    """Settings of an xdeg deployment. Unset fields fall back to the environment variables."""

    images_dir: str | None = _field("images_dir")
    manifest: str | None = _field("manifest")
    iiif: str | None = _field("iiif")
    iiif_canvases: str | None = _field("iiif_canvases")
    iiif_size: int | None = _field("iiif_size")
    language: str | None = _field("language")
    url_column: str | None = _field("url_column")
    home: str | None = _field("home")
    backbone: str | None = _field("backbone")
    weights: str | None = _field("weights")
    pretrained_download: bool | None = _field("pretrained_download")
    input_size: int | None = _field("input_size")
    mean: str | None = _field("mean")
    std: str | None = _field("std")
    crop_pct: float | None = _field("crop_pct")
    interpolation: str | None = _field("interpolation")
    vectors: str | None = _field("vectors")
    vectors_column: str | None = _field("vectors_column")
    device: str | None = _field("device")
    runtime: str | None = _field("runtime")
    batch_size: int | None = _field("batch_size")
    num_workers: int | None = _field("num_workers")
    pca_components: int | None = _field("pca_components")
    k: int | None = _field("k")
    knn_partition_above: int | None = _field("knn_partition_above")
    checkpoint_every: int | None = _field("checkpoint_every")
    combined_features: bool | None = _field("combined_features")
    download_workers: int | None = _field("download_workers")
    download_timeout: float | None = _field("download_timeout")
    download_total_timeout: float | None = _field("download_total_timeout")
    download_retries: int | None = _field("download_retries")
    download_max_mb: float | None = _field("download_max_mb")
    download_retry_hours: float | None = _field("download_retry_hours")
    progress: str | None = _field("progress")
    allowed_hosts: str | None = _field("allowed_hosts")
    read_environment: bool = Field(
        default=True, description="Unset fields fall back to their XDEG_* variables (off: to "
        "the defaults; the CLI hands over settings it already read).",
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """A run starts in this process: its malloc is tuned for a build
        (:mod:`xdeg_pipeline.core.allocator`), unless glibc's own variables are set, and it will
        exit without Python's last garbage collections (:mod:`xdeg_pipeline.core.collector`). A
        sensor (no run: the code server's process) leaves both alone. (No teardown hook: it
        would make Dagster take the resource for a generator, which a sensor context built
        outside a ``with`` block refuses.)"""
        if context.dagster_run is not None:
            tune_malloc(malloc_set_by_environment())
            freeze_at_exit()

    def settings(self) -> Settings:
        """The settings: the fields that are set, else the environment, else the defaults."""
        environ = None if self.read_environment else {}
        return Settings.from_env(environ, **{name: getattr(self, name) for name in fields()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> XdegResource:
        """A resource bound to the ``XDEG_*`` variables that are set, so the launchpad shows
        where each value comes from: text and integer fields as :class:`dagster.EnvVar`
        (read when a run starts), numbers and flags as their value now."""
        parsed = Settings.from_env(environ)  # fails early, naming the variable, on a bad value
        set_vars = Settings.variables(environ)
        values: dict[str, Any] = {}
        for name, annotation in fields().items():
            if name not in set_vars:
                continue
            if annotation is str:
                values[name] = EnvVar(set_vars[name])
            elif annotation is int:
                values[name] = EnvVar.int(set_vars[name])
            else:
                values[name] = getattr(parsed, name)
        return cls(**values)

    @classmethod
    def from_settings(cls, settings: Settings) -> XdegResource:
        """A resource holding ``settings`` (the CLI's flags and environment): the run reads no
        variable of its own."""
        values: dict[str, Any] = {"read_environment": False}
        for name in fields():
            value = getattr(settings, name)
            values[name] = str(value) if isinstance(value, Path) else value
        return cls(**values)


def fields() -> dict[str, type]:
    """The resource's settings: field name -> its type without None."""
    out = {}
    for name, info in XdegResource.model_fields.items():
        if name not in BY_FIELD:
            continue
        args = [a for a in getattr(info.annotation, "__args__", (info.annotation,))
                if a is not type(None)]
        out[name] = args[0]
    return out
