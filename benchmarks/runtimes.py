"""Inference runtimes side by side (used by ``benchmarks.feature_throughput``).

Per backbone: the model alone (normalisation included, uint8 batches already in memory, the
extractor's launch/collect pipelining) under torch eager channels-last, ``torch.compile``,
ONNX Runtime and OpenVINO, all at the same batch, timed in interleaved rounds (each round
times every runtime once, so all see the same background load; medians reported), and each
runtime's features against torch eager's on real images (min cosine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xdeg_pipeline.core.features.backbones import BackboneSpec, load_backbone
from xdeg_pipeline.core.features.export import min_cosine
from xdeg_pipeline.core.features.preprocess import DEFAULT_FIT, preprocess_file
from xdeg_pipeline.core.features.runner import TorchRunner
from xdeg_pipeline.core.features.runtime import RuntimeChoice

ALL = ("torch", "torch.compile", "onnxruntime", "openvino")


def random_resnet18_weights(folder: Path) -> Path:
    """A resnet18 state dict with random (seeded) weights: the same speed as ImageNet's."""
    import torchvision

    torch.manual_seed(0)
    path = Path(folder) / "resnet18-random.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def real_images(folders: Sequence[Path], per_folder: int, size: int) -> np.ndarray:
    """``(n, S, S, 3)`` uint8: the first ``per_folder`` images of each folder, preprocessed."""
    exts = {".png", ".jpg", ".jpeg", ".webp"}
    rows = []
    for folder in folders:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in exts)
        step = max(1, len(files) // max(per_folder, 1))
        for p in files[::step][:per_folder]:
            rows.append(preprocess_file(p, size, DEFAULT_FIT))
    return np.stack(rows) if rows else np.zeros((0, size, size, 3), np.uint8)


def _compiled_runner(model: torch.nn.Module, spec: BackboneSpec) -> TorchRunner:
    runner = TorchRunner(model, spec, torch.device("cpu"))
    runner.model = torch.compile(runner.model)
    runner.name = "torch.compile"
    return runner


def make_runners(backbone: str, weights: Path | None, names: Sequence[str], cache: Path,
                 batch: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """One runner per runtime name (those that cannot be built are left out, with a line)."""
    model, spec = load_backbone(backbone, weights)
    out: dict[str, Any] = {}
    warm = torch.randint(0, 256, (batch, 3, spec.image_size, spec.image_size),
                         dtype=torch.uint8)
    for name in names:
        t0 = time.perf_counter()
        try:
            if name == "torch":
                runner = TorchRunner(model, spec, torch.device("cpu"))
            elif name == "torch.compile":
                m2, _ = load_backbone(backbone, weights)
                runner = _compiled_runner(m2, spec)
            else:
                choice = RuntimeChoice(name, cache)
                runner = choice.build(model, spec, torch.device("cpu"), batch)
                if runner.name != name:
                    log(f"  {name}: not available ({'; '.join(choice.warnings)})")
                    continue
            runner.collect(runner.launch(warm, None))  # export / compile / first-run costs
        except Exception as exc:
            log(f"  {name}: failed ({type(exc).__name__}: {exc})")
            continue
        log(f"  {name}: ready in {time.perf_counter() - t0:.1f} s (export/compile, first batch)")
        out[name] = runner
    return out


def pipelined_rate(runner: Any, inputs: list[torch.Tensor], batches: int) -> float:
    """Images/s of ``batches`` batches through ``runner``, launched one ahead of collection."""
    pending = None
    t0 = time.perf_counter()
    for i in range(batches):
        launched = runner.launch(inputs[i % len(inputs)], None)
        if pending is not None:
            runner.collect(pending)
        pending = launched
    runner.collect(pending)
    return batches * inputs[0].shape[0] / (time.perf_counter() - t0)


def model_alone_rounds(runners: dict[str, Any], batch: int, size: int, rounds: int,
                       batches: int) -> dict[str, list[float]]:
    """Interleaved rounds: every runtime once per round, in a rotating order."""
    gen = torch.Generator().manual_seed(0)
    nhwc = [torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, generator=gen)
            for _ in range(3)]
    inputs = [x.permute(0, 3, 1, 2) for x in nhwc]  # the input side's layout
    names = list(runners)
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            rates[name].append(pipelined_rate(runners[name], inputs, batches))
    return rates


def features_vs_torch(runners: dict[str, Any], images: np.ndarray, batch: int
                      ) -> dict[str, float]:
    """Min cosine of each runtime's features to torch eager's on ``images`` (NHWC uint8)."""
    def feats(runner: Any) -> np.ndarray:
        out = []
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2)
            out.append(runner.collect(runner.launch(x, None)))
        return np.concatenate(out)

    ref = feats(runners["torch"])
    return {name: min_cosine(feats(r), ref) for name, r in runners.items()}


def compare(backbone: str, weights: Path | None, names: Sequence[str], cache: Path,
            batch: int, images: np.ndarray, rounds: int, batches: int) -> dict[str, dict]:
    """Per runtime: median and per-round model-alone images/s, and min cosine vs torch."""
    print(f"{backbone}: building runtimes (batch {batch})")
    runners = make_runners(backbone, weights, names, cache, batch)
    size = images.shape[1]
    rates = model_alone_rounds(runners, batch, size, rounds, batches)
    cos = features_vs_torch(runners, images, batch) if len(images) else {}
    base = float(np.median(rates["torch"]))
    out = {}
    for name, r in rates.items():
        med = float(np.median(r))
        out[name] = {"model_alone": round(med, 1), "rounds": [round(v, 1) for v in r],
                     "vs_torch_eager": round(med / base, 3),
                     "min_cosine_vs_torch": None if name not in cos else round(cos[name], 7)}
        print(f"  {name:14s} {med:7.1f} images/s  {med / base:5.2f}x torch eager  "
              f"min cosine {cos.get(name, float('nan')):.7f}  rounds {out[name]['rounds']}")
    for r in runners.values():
        if hasattr(r, "close"):
            r.close()
    return out
