"""FeatureExtractor: image files -> pooled CNN features, streamed so the model stays busy."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xdeg_pipeline.core.features.device import (
    choose_device,
    cpu_threads,
    default_batch_size,
    default_num_workers,
    default_reader_threads,
)
from xdeg_pipeline.core.features.inputs import InputSide, PreparedBatch
from xdeg_pipeline.core.features.loading import LoadPlan
from xdeg_pipeline.core.features.preprocess import DEFAULT_FIT, check_fit
from xdeg_pipeline.core.features.runtime import KEY_SUFFIX, RuntimeChoice
from xdeg_pipeline.core.features.spec import (
    ModelOptions,
    cache_key,
    parse_backbone,
    weighted_spec,
)
from xdeg_pipeline.core.images.thumbnail import ThumbnailJob
from xdeg_pipeline.core.progress import ProgressFn

if TYPE_CHECKING:
    import torch
    from torch import nn


# a runner is built once, by whichever thread asks first
_RUNNER_BUILD = threading.RLock()


class FeatureExtractor:
    """Pooled CNN features of image files, streamed onto one device.

    The work is split in three: the input side (:mod:`.loading` + :mod:`.inputs`: decode,
    preprocess, upload), the model runner (:mod:`.runner`) and this class, which holds the
    settings, names the cache key and overlaps batch ``k + 1``'s model step with handing
    back batch ``k``. ``batch_size``, ``num_workers``, ``gpu_decode``, ``reader_threads``,
    ``decode_threads`` and ``inline_threads`` may be changed between calls.

    ``runtime`` (:mod:`.runtime`): the inference runtime, ``auto`` by default (on CPU the
    measured fastest, whose exported model is cached in ``model_cache``; torch without that
    folder or off CPU). The runner is built on first use, so an extractor made only for its
    ``cache_key`` costs no export; on a machine with no GPU and the exported model cached,
    torch is never imported (:mod:`.device`). ``fit``: how a picture goes onto the model's square
    (:data:`.preprocess.FITS`).
    """

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        weights: str | Path | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        num_workers: int | None = None,
        gpu_decode: bool = False,
        runtime: str = "auto",
        model_cache: str | Path | None = None,
        fit: str = DEFAULT_FIT,
        model_options: ModelOptions | None = None,
    ) -> None:
        self.device = choose_device(device)
        self.choice = RuntimeChoice(runtime, None if model_cache is None else Path(model_cache))
        # no model loaded yet (see torch_model); a model's own preprocessing wins over fit
        self.spec = weighted_spec(backbone, weights, model_options, model_cache)
        self.fit = self.spec.fit or check_fit(fit)
        self.onnx_file = (Path(parse_backbone(backbone)[1]).expanduser()
                          if parse_backbone(backbone)[0] == "onnx" else None)
        self._backbone = (backbone, weights, model_options)
        self.dim = self.spec.dim
        kind = self.device.type
        self.batch_size = int(batch_size or default_batch_size(self.device))
        self.num_workers = (
            default_num_workers(self.device) if num_workers is None else int(num_workers)
        )
        self.gpu_decode = bool(gpu_decode) and kind == "cuda" and not self.spec.fit
        self.decode_threads = 2  # nvJPEG: batches decoded concurrently in the main process
        self.reader_threads = default_reader_threads()  # nvJPEG readers / inline decoding
        self.inline_threads = True  # num_workers == 0: decode each batch with reader_threads
        self._torch_model: nn.Module | None = None
        self._runner: Any = None
        self.input_side = InputSide(self.device)

    @property
    def runner(self) -> Any:
        """The model runner (:class:`~.runner.ModelRunner`), built on first use, once (a
        thread may build it ahead: :func:`~xdeg_pipeline.core.stages.shard_task.
        load_in_background`)."""
        with _RUNNER_BUILD:
            if self._runner is None and self.onnx_file is not None:
                from xdeg_pipeline.core.features.onnx_model import OnnxModelRunner

                self._runner = OnnxModelRunner(self.onnx_file, self.spec, cpu_threads())
            if self._runner is None:
                self._runner = self.choice.build(lambda: self.torch_model, self.spec,
                                                 self.device, self.batch_size)
        return self._runner

    @property
    def runtime(self) -> str:
        """The runtime that runs the model (builds the runner)."""
        return self.runner.name

    @property
    def model(self) -> nn.Module:
        """The torch feature module (eval mode; on the device once the runner is torch's)."""
        runner = self.runner
        return runner.model if hasattr(runner, "model") else self.torch_model

    @property
    def torch_model(self) -> nn.Module:
        """The backbone as a torch module (loaded on first use: an inference runtime with a
        cached export never needs it)."""
        if self._torch_model is None:
            from xdeg_pipeline.core.features.backbones import load_backbone

            model, spec = load_backbone(*self._backbone)
            if spec != self.spec:
                raise RuntimeError(f"weights changed while running: {spec} != {self.spec}")
            self._torch_model = model
        return self._torch_model

    @property
    def cache_key(self) -> str:
        """Backbone, weights (content hash), preprocessing version and size, and decoder.

        nvJPEG's pixels differ slightly from libjpeg's (IDCT, chroma upsampling; cosine
        ~0.996 between the two paths' features), so its features get a key of their own.
        """
        suffix = KEY_SUFFIX.get(self.runtime, "") if KEY_SUFFIX else ""
        return cache_key(self.spec, self.fit, self.gpu_decode, suffix)

    def features_from_uint8(self, x: Any) -> torch.Tensor:
        """(N, 3, S, S) uint8 on the device (or (N, S, S, 3) numpy on the CPU) -> (N, dim)
        features (device tensor, async)."""
        return self.runner.features_from_uint8(x)

    def load_plan(self) -> LoadPlan:
        """How the next call loads its batches (from the current settings)."""
        return LoadPlan(
            batch_size=self.batch_size, image_size=self.spec.image_size,
            num_workers=self.num_workers, raw_jpeg=self.gpu_decode,
            reader_threads=self.reader_threads, inline_threads=self.inline_threads,
            fit=self.fit,
        )

    def overlaps_decoding(self) -> bool:
        """Whether the CPU input side decodes batch ``k + 1`` while the model runs batch ``k``:
        yes with an inference runtime (its ``launch`` returns at once, its threads compute
        without the GIL); no with torch on CPU, whose ``launch`` computes the batch itself, so
        decoding runs between model steps and never fights torch's threads for the cores."""
        return self.device.type == "cpu" and self.runtime != "torch"

    def input_batches(self, paths: Sequence[Path], thumbs: ThumbnailJob | None = None
                      ) -> Iterator[PreparedBatch]:
        """The input side alone: prepared batches of ``paths`` on the device, in order."""
        return self.input_side.batches(paths, self.load_plan(), self.decode_threads, thumbs)

    def iter_batches(
        self, paths: Sequence[Path], progress: ProgressFn | None = None,
        thumbs: ThumbnailJob | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[int, str]]]:
        """Yield ``(indices, features (n, dim) float32, failures {index: reason})`` per batch.

        Batches may arrive in any order; every index of ``paths`` appears exactly once, in
        ``indices`` or in ``failures``. ``progress(done, total)`` follows each batch.
        ``thumbs``: thumbnails of ``paths`` written from the same decode (CPU decoders).
        """
        paths = [Path(p) for p in paths]
        total = len(paths)
        if total == 0:
            return
        done = 0
        pending: tuple[list[int], Any, dict[int, str]] | None = None
        for idx, x, fails, ready in self.input_batches(paths, thumbs):
            launched = self.runner.launch(x, ready) if x is not None else None
            if pending is not None:  # the device works on this batch while we hand back the last
                out = self._finish(pending)
                done += len(out[0]) + len(out[2])
                yield out
                if progress is not None:
                    progress(done, total)
            pending = (idx, launched, fails)
        if pending is not None:
            out = self._finish(pending)
            done += len(out[0]) + len(out[2])
            yield out
            if progress is not None:
                progress(done, total)

    def _finish(self, pending: tuple[list[int], Any, dict[int, str]]
                ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """A launched batch -> ``(indices, features, failures)``."""
        idx, launched, fails = pending
        arr = (self.runner.collect(launched) if launched is not None
               else np.empty((0, self.dim), np.float32))
        return np.asarray(idx, dtype=np.int64), arr.astype(np.float32, copy=False), fails

    def extract(
        self, paths: Sequence[Path], progress: ProgressFn | None = None,
        thumbs: ThumbnailJob | None = None,
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Features of all ``paths``: ``(len(paths), dim)`` float32 (NaN rows for failures);
        ``thumbs`` as in :meth:`iter_batches`."""
        out = np.full((len(paths), self.dim), np.nan, dtype=np.float32)
        failures: dict[int, str] = {}
        for idx, feats, fails in self.iter_batches(paths, progress, thumbs):
            if len(idx):
                out[idx] = feats
            failures.update(fails)
        return out, failures

    def __del__(self) -> None:
        side = getattr(self, "input_side", None)
        if side is not None:
            side.close()
        runner = getattr(self, "_runner", None)
        if runner is not None and hasattr(runner, "close"):
            runner.close()
        choice = getattr(self, "choice", None)
        if choice is not None:
            choice.close()
