"""The CLI's builds: every build asset (with its checks) materialised on the data folder's own
Dagster instance (``<home>/dagster``, telemetry off), and their summary."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import yaml

from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.storage.layout import Layout

# What xdeg sets in the data folder's ``dagster.yaml`` where the file does not: no telemetry,
# runs a sensor or the UI queue are launched within a second (Dagster's queue looks every 5 s;
# xdeg runs one project on one machine, so the extra look at the run table costs nothing), and
# (instance_defaults) Dagster's SQLite storage in that folder with its connections kept open.
INSTANCE_DEFAULTS = {"telemetry": {"enabled": False},
                     "run_queue": {"dequeue_interval_seconds": 1}}
# A file naming any of these chose its storage: xdeg adds none.
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


def instance_defaults(folder: Path) -> dict:
    """:data:`INSTANCE_DEFAULTS` and xdeg's storage in ``folder``
    (:mod:`xdeg_pipeline.instance_storage`)."""
    from xdeg_pipeline.instance_storage import storage_config

    return {**INSTANCE_DEFAULTS, "storage": storage_config(str(Path(folder).absolute()))}


class BuildFailed(RuntimeError):
    """A build step raised (no usable image, missing folder...); ``step`` names it. A fault of
    the data folder (disk full, read-only...) is its own sentence."""

    def __init__(self, step: str, message: str, fault: bool = False) -> None:
        super().__init__(message if fault else f"build failed in {step}: {message}")
        self.step = step
        self.fault = fault


def instance_config(layout: Layout) -> Path:
    """The data folder's instance folder (``<home>/dagster``, :func:`instance_folder`)."""
    return instance_folder(layout.dagster_config.parent)


def instance_folder(folder: Path) -> Path:
    """``folder`` with a ``dagster.yaml`` holding :func:`instance_defaults` (a setting already
    there is kept; no run queue setting where the file names a run coordinator, no storage
    where it names one); xdeg's storage is pointed at ``folder`` again when the folder has
    moved. Returns it."""
    from xdeg_pipeline.core.storage.atomic import write_text
    from xdeg_pipeline.instance_storage import is_ours

    path = Path(folder) / "dagster.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    config = yaml.safe_load(text) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a mapping of Dagster instance settings")
    defaults = instance_defaults(path.parent)
    missing = {key: value for key, value in defaults.items() if key not in config
               and not (key == "run_queue" and "run_coordinator" in config)
               and not (key == "storage" and any(k in config for k in STORAGE_KEYS))}
    if is_ours(config) and config["storage"] != defaults["storage"]:  # moved, or older
        write_text(yaml.safe_dump({**config, **missing, "storage": defaults["storage"]},
                                  default_flow_style=False), path)
    elif missing:
        addition = yaml.safe_dump(missing, default_flow_style=False)
        write_text((text.rstrip() + "\n" if text.strip() else "") + addition, path)
    return path.parent


def open_instance(layout: Layout):
    """The Dagster instance of the data folder (runs of the CLI show in ``dagster dev`` started
    with ``DAGSTER_HOME=<home>/dagster``)."""
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(instance_config(layout)))


def import_pipeline() -> None:
    """Import what a build runs with Python's collector off, and leave what the imports made
    out of later collections (:mod:`xdeg_pipeline.core.collector`): for a process that ends
    after its build, as the CLI's does. :func:`run_build` itself, which a notebook may call,
    does not do this (loading ``definitions.py`` does, once per process)."""
    from xdeg_pipeline.core.collector import importing

    with importing():
        import dagster  # noqa: F401

        import xdeg_pipeline.assets  # noqa: F401
        import xdeg_pipeline.checks  # noqa: F401
        import xdeg_pipeline.instance_storage  # noqa: F401
        import xdeg_pipeline.resources  # noqa: F401


def run_build(quiet: bool = False, settings: Settings | None = None,
              verbose: bool = False) -> dict:
    """Materialise every build asset (with its checks); returns the summary (one entry per
    asset: its metadata; ``checks``, ``rejected_images``, ``run_id``, ``seconds``)."""
    from xdeg_pipeline.assets import BUILD_ASSETS
    from xdeg_pipeline.checks import BUILD_CHECKS
    from xdeg_pipeline.core.storage.atomic import build_lock
    from xdeg_pipeline.core.storage.integrity import repairs_since
    from xdeg_pipeline.partitions import all_shards_tags
    from xdeg_pipeline.resources import XdegResource

    settings = settings or Settings.from_env()
    level = "INFO" if verbose and not quiet else "WARNING"
    t0, started = time.perf_counter(), time.time()
    with build_lock(settings.home, wait=False), open_instance(settings.layout) as instance:
        result = materialize_plainly(
            [*BUILD_ASSETS, *BUILD_CHECKS],
            instance=instance,
            resources={"xdeg": XdegResource.from_settings(settings)},
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            tags={"xdeg/source": "cli", **all_shards_tags()},  # every shard, one run
            plain=not verbose,
        )
    if not result.success:
        raise build_failure(result)
    summary = summarise(result)
    summary["rejected_images"] = rejected_summary(settings.layout)
    summary["repaired"] = repairs_since(settings.home, started)
    summary["run_id"] = result.run_id
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def plain_console_logger():
    """A console logger that prints what the stages say (warnings: ``xdeg: <step>: ...``) and
    none of Dagster's own events (step failures with tracebacks, skipped dependencies): the
    CLI says a failure once, in one line."""
    import logging
    import sys

    from dagster import Field, logger

    from xdeg_pipeline.core.storage.integrity import DAMAGED

    class OwnLines(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            meta = getattr(record, "dagster_meta", {}) or {}
            text = str(meta.get("orig_message", ""))
            return (getattr(record, "dagster_event", None) is None
                    and not text.startswith("Dependencies for step")
                    and DAMAGED not in text)  # repairs: said once, in the summary

    class Plain(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            meta = getattr(record, "dagster_meta", {}) or {}
            step = meta.get("step_key")
            text = " ".join(str(meta.get("orig_message", record.getMessage())).split())
            return f"xdeg: {step}: {text}" if step else f"xdeg: {text}"

    @logger({"log_level": Field(str, is_required=False, default_value="WARNING")})
    def plain_console(init_context):
        log = logging.Logger("xdeg", level=init_context.logger_config["log_level"])
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(OwnLines())
        handler.setFormatter(Plain())
        log.addHandler(handler)
        return log

    return plain_console


def materialize_plainly(assets, *, instance, resources, run_config, tags, plain: bool):
    """``dagster.materialize`` (raise_on_error=False) with the plain console logger when
    ``plain`` (Dagster's own console logger otherwise, e.g. with ``-v``)."""
    from dagster import Definitions, define_asset_job, materialize

    if not plain:
        return materialize(assets, instance=instance, resources=resources,
                           run_config=run_config, tags=tags, raise_on_error=False)
    name = "__ephemeral_asset_job__"
    defs = Definitions(jobs=[define_asset_job(name=name)], assets=assets, resources=resources,
                       loggers={"console": plain_console_logger()})
    with contextlib.redirect_stderr(WithoutInstanceNoise(sys.stderr)):
        return defs.resolve_job_def(name).execute_in_process(
            run_config=run_config, instance=instance, tags=tags, raise_on_error=False)


class WithoutInstanceNoise:
    """stderr without the lines Dagster writes there itself when its instance's database
    fails (once per log call: the failure is said once, by the CLI)."""

    NOISE = ("Exception while writing logger call to event log",)

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text.startswith(self.NOISE):
            return len(text)
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def run_paths(settings: Settings, pairs: list[tuple[str, str]], options: dict | None = None):
    """Materialise requested_paths for ``pairs`` (the find_paths job's config) on the data
    folder's instance, so the Dagster UI shows the chains; returns the run's result."""
    from dagster import materialize

    from xdeg_pipeline.assets import ALL_ASSETS
    from xdeg_pipeline.checks import requested_endpoints_exist
    from xdeg_pipeline.resources import XdegResource

    config = {"pairs": [{"source": s, "target": t} for s, t in pairs], **(options or {})}
    with open_instance(settings.layout) as instance:
        result = materialize(  # with its check, so the UI shows it evaluated (not "Not evaluated")
            [*ALL_ASSETS, requested_endpoints_exist], selection=["requested_paths"],
            instance=instance,
            resources={"xdeg": XdegResource.from_settings(settings)},
            run_config={"ops": {"requested_paths": {"config": config}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={"xdeg/source": "cli"}, raise_on_error=False,
        )
    if not result.success:
        raise build_failure(result)
    return result


def summarise(result) -> dict:
    """One entry per asset: its materialisation metadata (numbers and short strings; of a
    partitioned asset, what its partitions share), and the checks' outcomes."""
    out: dict = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {}
        for key, value in mat.metadata.items():
            raw = getattr(value, "value", value)
            if isinstance(raw, (int, float, bool)) or (isinstance(raw, str) and len(raw) < 300):
                meta[key] = raw
        asset = mat.asset_key.to_user_string()
        if asset in out:  # another partition: only what the run's partitions share
            meta = {k: v for k, v in meta.items() if out[asset].get(k, v) == v and k in out[asset]}
        out[asset] = meta
    checks = {}
    for event in result.get_asset_check_evaluations():
        checks[event.check_name] = {
            "passed": event.passed,
            "asset": event.asset_key.to_user_string(),
        }
    if checks:
        out["checks"] = checks
    return out


def build_failure(result) -> BuildFailed:
    """The first failed step of a run and its innermost error message."""
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        message = error.message.strip() if error is not None else "unknown error"
        fault = error is not None and error.cls_name == "DataFolderFault"
        if fault:
            message = message.split(": ", 1)[-1]
        return BuildFailed(event.step_key or "?", message, fault)
    return BuildFailed("run", "the run did not succeed")


def rejected_summary(layout: Layout) -> dict:
    """The rejected_images table of the data folder: count, count per reason, every row."""
    from xdeg_pipeline.core.storage.tables import REJECTED_COLUMNS, read_rejected

    table = read_rejected(layout.rejected_images)
    counts = table["reason"].value_counts().sort_index()
    return {
        "count": len(table),
        "by_reason": {str(k): int(v) for k, v in counts.items()},
        "rows": table[REJECTED_COLUMNS].astype(str).to_dict("records"),
    }
