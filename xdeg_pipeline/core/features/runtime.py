"""Which inference runtime runs the model: chosen by measurement, torch as the fallback.

``runtime`` (the user's setting, ``XDEG_RUNTIME``): ``auto`` (default), ``torch``,
``openvino`` or ``onnxruntime``. On CPU, ``auto`` tries :data:`CPU_PREFERENCE` in order, the
fastest first as measured by ``python -m benchmarks.feature_throughput`` on a 2-core AVX2
laptop-class box (figures in :mod:`xdeg_pipeline.core.params`);
any other device runs torch. A runtime needs the exported model (:mod:`.export`), which is
written once into ``model_cache`` (the data folder's model cache); without that folder
``auto`` means torch (exporting anew in every process would cost more than it saves), while
a runtime named explicitly exports into a temporary folder. OpenVINO keeps what it compiled
beside the exported model (:data:`OPENVINO_CACHE`).

A runtime that is not installed, or whose model cannot be exported, loaded or does not
reproduce torch's features on the probe batch, is never fatal: a one-line warning, and the
next candidate (finally torch) runs. A damaged cached model is exported again once first.

Features of every runtime here match torch's to a min cosine of >= 0.999 on real images
(OpenMoji, Tux Paint), so they share torch's feature cache; a runtime whose features
differed more would get a suffix in :data:`KEY_SUFFIX`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from xdeg_pipeline.core import params
from xdeg_pipeline.core.features import export
from xdeg_pipeline.core.features.device import cpu_threads
from xdeg_pipeline.core.features.spec import BackboneSpec

RUNTIMES: tuple[str, ...] = params.INFERENCE_RUNTIMES
CPU_PREFERENCE: tuple[str, ...] = params.CPU_RUNTIME_PREFERENCE  # evidence in params
KEY_SUFFIX: dict[str, str] = {}  # runtime -> cache key suffix (none: all match torch)
OPENVINO_CACHE = "openvino-compiled"  # beside the exported model: OpenVINO's compiled models

log = logging.getLogger("xdeg_pipeline.features")


class RuntimeUnusable(RuntimeError):
    """The runtime's model does not reproduce torch's features on the probe batch."""


def module_available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None
        return False


def check_runtime(name: str | None) -> str:
    name = (name or "auto").strip().lower()
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    return name


def candidates(runtime: str, device: Any, model_cache: Path | None) -> tuple[str, ...]:
    """The runtimes to try, in order (torch, the fallback, is always the last)."""
    runtime = check_runtime(runtime)
    if device.type != "cpu" or runtime == "torch":
        return ("torch",)
    if runtime == "auto":
        return (*CPU_PREFERENCE, "torch") if model_cache is not None else ("torch",)
    return (runtime, "torch")


def _open(name: str, path: Path, threads: int, batch: int) -> Any:
    if name == "openvino":
        from xdeg_pipeline.core.features.openvino_runner import OpenVinoRunner

        return OpenVinoRunner(path, threads, batch=batch, cache_dir=path.parent / OPENVINO_CACHE)
    from xdeg_pipeline.core.features.onnx_runner import OnnxRunner

    return OnnxRunner(path, threads)


def _import(name: str) -> None:
    if name == "openvino":
        from xdeg_pipeline.core.features.openvino_runner import import_openvino

        import_openvino()
    else:
        importlib.import_module(name)


def _verified(name: str, model: export.ModelSource, spec: BackboneSpec, cache: Path,
              threads: int, batch: int) -> Any:
    """The runner of runtime ``name`` on the exported model, checked against the probe."""
    _import(name)  # a missing package fails here, before any export
    path = export.export_onnx(model, spec, cache)
    runner = _open(name, path, threads, batch)
    x, ref = export.read_probe(cache, spec)
    cos = export.min_cosine(runner.run(x), ref)
    if not cos >= export.PROBE_MIN_COSINE:
        raise RuntimeUnusable(f"probe features differ from torch's (min cosine {cos:.6f})")
    return runner


def _drop_cached(cache: Path, spec: BackboneSpec) -> None:
    for f in (export.model_file(cache, spec), export.probe_file(cache, spec)):
        f.unlink(missing_ok=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


class RuntimeChoice:
    """Builds the model runner: the first candidate that works, torch as the last resort."""

    def __init__(self, runtime: str, model_cache: Path | None) -> None:
        self.runtime = check_runtime(runtime)
        self.model_cache = None if model_cache is None else Path(model_cache)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.warnings: list[str] = []

    def _cache(self) -> Path:
        if self.model_cache is not None:
            return self.model_cache
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="xdeg-models-")
        return Path(self._tmp.name)

    def build(self, model: export.ModelSource, spec: BackboneSpec, device: Any,
              batch: int = 1) -> Any:
        """The runner for ``model`` on ``device`` (a :class:`~.runner.ModelRunner`), for
        batches of usually ``batch`` images. ``model`` may be a loader, called only when the
        torch module is needed (an export, or torch itself); with a cached export, torch is
        never imported. ``device``: a ``torch.device`` or :data:`.device.CPU`."""
        names = candidates(self.runtime, device, self.model_cache)
        threads = cpu_threads()
        for name, nxt in zip(names, names[1:]):
            try:
                return self._try(name, model, spec, threads, batch)
            except Exception as exc:  # a missing or broken runtime is never fatal
                self._warn(f"xdeg: the {name} runtime is not usable ({_one_line(exc)}); "
                           f"using {nxt}")
        import torch

        from xdeg_pipeline.core.features.runner import TorchRunner

        module = model if isinstance(model, torch.nn.Module) else model()
        return TorchRunner(module, spec, device)

    def _try(self, name: str, model: export.ModelSource, spec: BackboneSpec, threads: int,
             batch: int) -> Any:
        cache = self._cache()
        had_model = export.model_file(cache, spec).is_file()
        try:
            return _verified(name, model, spec, cache, threads, batch)
        except ImportError:
            raise
        except Exception as exc:
            if not had_model:
                raise
            self._warn(f"xdeg: the cached model {export.model_file(cache, spec).name} is not "
                       f"usable ({_one_line(exc)}); exporting it again")
            _drop_cached(cache, spec)
            return _verified(name, model, spec, cache, threads, batch)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp.name, ignore_errors=True)
            self._tmp = None
