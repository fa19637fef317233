"""Feature extraction throughput: runtimes compared, end to end vs the model alone vs a naive loop.

    python -m benchmarks.feature_throughput [--images DIR] [--n N] [--backbone B]
        [--device D] [--batch-size B] [--workers W] [--threads T] [--gpu-decode]
        [--runtime R] [--compare RUNTIMES|none] [--real DIR ...]

(from the repository root, against the installed ``xdeg_pipeline``).

Without ``--images`` it writes N natural-looking 512 px JPEGs (scikit-image sample photos,
randomly cropped, flipped, tinted and noised) to a temporary folder. It prints:

* on CPU, the runtimes side by side (:mod:`benchmarks.runtimes`) for both backbones
  (efficientnet_lite0 with its embedded weights; resnet18 with random weights unless
  ``--resnet18-weights`` names the ImageNet file: the speed is the same): model alone at the
  same batch in interleaved rounds (medians) and min cosine of features vs torch eager on
  real images (``--real DIR``, repeatable; default: ``--real-n`` images of the demo collection,
  rendered under ``--cache``, default ``<tmp>/xdeg-bench``; the output says which);
* end to end: ``FeatureExtractor.extract`` over the files (decode + preprocess + model) with
  ``--runtime`` (default ``auto``, the extractor's default);
* model alone: the same extractor's runner on uint8 batches of the same shape already in
  memory (normalisation included), and torch eager's, interleaved with the end-to-end rounds;
* their ratio (the goal: >= 0.90 on a CPU box, >= 5,000 images/s on one H100);
* on CPU, this box's ceiling for that ratio: decoding and the model share the cores, so each
  image costs the CPU seconds of the model alone plus those of the input side alone, and end
  to end cannot pass ``cores / (model + input)`` images/s, nor the model alone (CPU time of
  this process, loader workers off, the default on CPU);
* the original recipe's naive loop: PIL open, torchvision Resize/CenterCrop/ToTensor/
  Normalize, one image at a time through the model (on a subset).

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from benchmarks import runtimes as rt
from benchmarks.demo_collection import real_collections
from xdeg_pipeline.core.features.device import as_torch
from xdeg_pipeline.core.features.extractor import FeatureExtractor
from xdeg_pipeline.core.features.runner import TorchRunner

_SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
            "motorcycle_left", "cat", "retina", "colorwheel")


def _synthetic_sources(n: int = 10, side: int = 768) -> list[np.ndarray]:
    """Photo-like sources without scikit-image: smooth colour fields (upsampled noise at a few
    scales), edges and texture, so JPEG sizes and decode costs resemble photographs."""
    from PIL import Image

    rng = np.random.default_rng(12345)
    out = []
    for _ in range(n):
        img = np.zeros((side, side, 3), np.float32)
        for cells, amp in ((4, 90.0), (16, 45.0), (64, 20.0)):
            low = rng.normal(0, amp, (cells, cells, 3)).astype(np.float32)
            up = Image.fromarray(np.clip(low + 128, 0, 255).astype(np.uint8)).resize(
                (side, side), Image.Resampling.BICUBIC)
            img += np.asarray(up, np.float32) - 128
        img += 128 + rng.normal(0, 6, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _sources() -> list[np.ndarray]:
    try:
        import skimage.data as data
    except ImportError:  # e.g. a bare GPU box
        return _synthetic_sources()

    out = []
    for name in _SAMPLES:
        try:
            img = getattr(data, name)()
        except Exception:  # a sample that needs a download (pooch) is skipped
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append(np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    return out


def _write_chunk(args: tuple[str, int, int, int]) -> int:
    folder, start, stop, side = args
    from PIL import Image

    sources = _sources()
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        crop = int(min(h, w) * rng.uniform(0.45, 1.0))
        y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        img = src[y:y + crop, x:x + crop].astype(np.float32)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        img = img * rng.uniform(0.7, 1.2, size=3) + rng.normal(0, rng.uniform(1, 8), img.shape)
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        pil = pil.resize((side, side), Image.Resampling.BILINEAR)
        pil.save(Path(folder) / f"img_{i:06d}.jpg", quality=int(rng.integers(80, 95)))
    return stop - start


def make_images(folder: Path, n: int, side: int = 512) -> list[Path]:
    """Write ``n`` JPEGs of ``side`` px into ``folder`` (in parallel)."""
    folder.mkdir(parents=True, exist_ok=True)
    procs = max(1, os.cpu_count() or 1)
    step = max(1, -(-n // (procs * 4)))
    jobs = [(str(folder), s, min(n, s + step), side) for s in range(0, n, step)]
    if procs == 1 or n < 64:
        for job in jobs:
            _write_chunk(job)
    else:
        with ProcessPoolExecutor(procs) as pool:
            list(pool.map(_write_chunk, jobs))
    return sorted(folder.glob("img_*.jpg"))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_alone(fx: FeatureExtractor, n_images: int, seconds: float, runner=None
                ) -> tuple[int, float]:
    """(images, seconds) of the model (normalisation included) on random uint8 batches, through
    the extractor's runner (or ``runner``), launched one batch ahead of collection as the
    extractor does."""
    runner = runner or fx.runner
    bs, s = fx.batch_size, fx.spec.image_size
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (bs, s, s, 3), dtype=torch.uint8, generator=gen)
              .to(as_torch(fx.device)).permute(0, 3, 1, 2) for _ in range(3)]
    runner.collect(runner.launch(inputs[0], None))
    _sync(fx.device)
    done, i, pending = 0, 0, None
    t0 = time.perf_counter()
    while done < n_images or time.perf_counter() - t0 < seconds:
        launched = runner.launch(inputs[i % len(inputs)], None)
        if pending is not None:
            runner.collect(pending)
        pending = launched
        done += bs
        i += 1
    runner.collect(pending)
    _sync(fx.device)
    return done, time.perf_counter() - t0


def _rate(images: int, seconds: float) -> float:
    return images / seconds


def decode_alone(fx: FeatureExtractor, paths: list[Path]) -> tuple[float, float]:
    """(images/s, CPU seconds per image of this process) of the input side alone: loader
    workers (+ nvJPEG and resizing) to the device."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in fx.input_batches(paths):
        pass
    _sync(fx.device)
    return len(paths) / (time.perf_counter() - t0), (time.process_time() - c0) / len(paths)


def cpu_ceiling(fx: FeatureExtractor, input_cpu: float, seconds: float = 4.0) -> dict | None:
    """What end to end can reach on this box's cores when decoding and the model share them
    (CPU runtimes, in-process decoding): every image costs the CPU seconds of the model alone
    plus those of the input side alone, so end to end <= cores / (model + input) images/s.
    None on a GPU or when loader worker processes decode (their CPU is not counted here)."""
    if fx.device.type != "cpu" or fx.num_workers:
        return None
    c0 = time.process_time()
    done, secs = model_alone(fx, 0, seconds)
    model_cpu = (time.process_time() - c0) / done
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    alone = done / secs  # nor faster than the model alone (one that leaves cores idle)
    ceiling = min(cores / (model_cpu + input_cpu), alone)
    return {"cores": cores, "model_cpu_ms": round(1000 * model_cpu, 2),
            "input_cpu_ms": round(1000 * input_cpu, 2),
            "model_cores_busy": round(model_cpu * alone, 2),
            "model_alone": round(alone, 1), "end_to_end_ceiling": round(ceiling, 1),
            "ceiling_ratio": round(ceiling / alone, 3)}


def agreement(fx: FeatureExtractor, paths: list[Path], feats: np.ndarray) -> float:
    """Smallest cosine similarity between ``feats`` and features from the CPU extractor."""
    ref_fx = FeatureExtractor(fx.spec.name, device="cpu", batch_size=16,
                              num_workers=min(4, os.cpu_count() or 1))
    ref, _ = ref_fx.extract(paths)
    cos = (ref * feats).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(feats, axis=1)
    return float(np.nanmin(cos))


def naive_loop(fx: FeatureExtractor, paths: list[Path]) -> float:
    """The original recipe: PIL open, torchvision transforms, one image at a time."""
    from PIL import Image
    from torchvision import transforms

    s = fx.spec.image_size
    tf = transforms.Compose([
        transforms.Resize(s), transforms.CenterCrop(s), transforms.ToTensor(),
        transforms.Normalize(fx.spec.mean, fx.spec.std),
    ])
    model = fx.model
    with torch.inference_mode():  # warm-up (cudnn autotuning for batch 1) is not timed
        for p in paths[:3]:
            model(tf(Image.open(p).convert("RGB")).unsqueeze(0).to(as_torch(fx.device))).cpu()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for p in paths:
            x = tf(Image.open(p).convert("RGB")).unsqueeze(0).to(as_torch(fx.device))
            model(x).cpu()
    return len(paths) / (time.perf_counter() - t0)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.feature_throughput",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=Path, help="folder of images (default: generate)")
    ap.add_argument("--n", type=int, default=None, help="images (default 600 cpu, 20000 cuda)")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None, help="loader worker processes")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--gpu-decode", action="store_true")
    ap.add_argument("--readers", type=int, default=None, help="nvJPEG path: reader threads")
    ap.add_argument("--decode-threads", type=int, default=None,
                    help="nvJPEG path: batches decoded concurrently")
    ap.add_argument("--naive-n", type=int, default=None, help="images for the naive loop")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleave model-alone and end-to-end timing in R rounds "
                         "(default 10 on CPU, 1 on CUDA)")
    ap.add_argument("--check-n", type=int, default=0,
                    help="compare the first N features with the CPU extractor's")
    ap.add_argument("--runtime", default="auto", help="end-to-end runtime (default auto)")
    ap.add_argument("--model-cache", type=Path, default=None,
                    help="folder of exported models (default: a temporary one)")
    ap.add_argument("--compare", default="all",
                    help="runtimes compared on CPU: all, none, or a comma list of "
                         f"{','.join(rt.ALL)}")
    ap.add_argument("--compare-rounds", type=int, default=7)
    ap.add_argument("--compare-batches", type=int, default=6, help="batches per round")
    ap.add_argument("--real", type=Path, action="append", default=None,
                    help="folder of real images for the feature agreement (repeatable; "
                         "default: the demo collection)")
    ap.add_argument("--real-n", type=int, default=96, help="real images per folder")
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder for the rendered demo collection (default <tmp>/xdeg-bench)")
    ap.add_argument("--resnet18-weights", type=Path, default=None)
    ap.add_argument("--ceiling-seconds", type=float, default=4.0,
                    help="model-alone seconds timed for the CPU ceiling")
    return ap.parse_args(argv)


def _image_paths(folder: Path | None, n: int
                 ) -> tuple[list[Path], tempfile.TemporaryDirectory | None]:
    """The benchmark's images: ``folder`` (generated there when empty), else a temporary
    folder of generated JPEGs (returned, for clean-up)."""
    if folder is not None:
        if not any(folder.glob("*")):
            t0 = time.perf_counter()
            paths = make_images(folder, n)
            print(f"generated {len(paths)} 512 px JPEGs in {folder} in "
                  f"{time.perf_counter() - t0:.1f} s")
        exts = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in exts)[:n], None
    tmp = tempfile.TemporaryDirectory(prefix="xdeg-bench-")
    t0 = time.perf_counter()
    paths = make_images(Path(tmp.name), n)
    print(f"generated {len(paths)} 512 px JPEGs in {time.perf_counter() - t0:.1f} s")
    return paths, tmp


def _before_after(fx: FeatureExtractor, paths: list[Path], alone_s: float) -> dict:
    """End to end between two model-alone timings (one round)."""
    alone1 = _rate(*model_alone(fx, 0, alone_s))
    print(f"model alone (before): {alone1:,.1f} images/s")
    t0 = time.perf_counter()
    feats, failures = fx.extract(paths)
    e2e_s = time.perf_counter() - t0
    alone2 = _rate(*model_alone(fx, 0, alone_s))
    print(f"model alone (after): {alone2:,.1f} images/s")
    return {"feats": feats, "failures": failures, "e2e_s": e2e_s, "alone": (alone1 + alone2) / 2,
            "alone1": alone1, "alone2": alone2}


def _interleaved(fx: FeatureExtractor, paths: list[Path], rounds: int, eager=None) -> dict:
    """Model alone (and torch eager's, when ``eager`` is given) and end to end in ``rounds``
    alternating rounds, so all see the same background load on a shared box."""
    n = len(paths)
    feats = np.full((n, fx.dim), np.nan, np.float32)
    failures: dict[int, str] = {}
    e2e_s = alone_t = 0.0
    alone_n = 0
    alone1 = alone2 = 0.0
    per_round: list[dict] = []
    for r, chunk in enumerate(np.array_split(np.arange(n), rounds)):
        done, secs = model_alone(fx, len(chunk), 0.0)
        alone_n += done
        alone_t += secs
        rate = done / secs
        eager_rate = _rate(*model_alone(fx, len(chunk) // 2, 0.0, eager)) if eager else None
        t0 = time.perf_counter()
        f, fails = fx.extract([paths[i] for i in chunk])
        dt = time.perf_counter() - t0
        e2e_s += dt
        feats[chunk] = f
        failures.update({int(chunk[i]): m for i, m in fails.items()})
        extra = f", torch eager {eager_rate:,.1f}" if eager_rate else ""
        print(f"round {r + 1}/{rounds}: model alone {rate:,.1f} images/s{extra}, end to end "
              f"{len(chunk) / dt:,.1f} images/s, ratio {len(chunk) / dt / rate:.3f}")
        per_round.append({"model_alone": rate, "end_to_end": len(chunk) / dt,
                          "torch_eager": eager_rate})
        alone1 = alone1 or rate
        alone2 = rate
    return {"feats": feats, "failures": failures, "e2e_s": e2e_s, "alone": alone_n / alone_t,
            "alone1": alone1, "alone2": alone2, "per_round": per_round}


def _compare_runtimes(args: argparse.Namespace, batch: int) -> dict:
    """The runtimes side by side for both backbones (CPU only)."""
    names = rt.ALL if args.compare == "all" else tuple(args.compare.split(","))
    real, which = real_collections(args.real, args.real_n, args.cache)
    out: dict = {"real_images": which}
    with tempfile.TemporaryDirectory(prefix="xdeg-rt-") as tmp:
        cache = args.model_cache or Path(tmp)
        weights = {"efficientnet_lite0": None,
                   "resnet18": args.resnet18_weights or rt.random_resnet18_weights(Path(tmp))}
        images = rt.real_images(real, args.real_n, 224)
        print(f"runtimes compared on {len(images)} real images from {which}"
              f" (resnet18: {'ImageNet' if args.resnet18_weights else 'random'} weights)")
        for backbone, w in weights.items():
            out[backbone] = rt.compare(backbone, w, names, cache, batch, images,
                                       args.compare_rounds, args.compare_batches)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = tempfile.TemporaryDirectory(prefix="xdeg-models-")
    args.model_cache = args.model_cache or Path(models.name)
    t0 = time.perf_counter()
    fx = FeatureExtractor(args.backbone, device=args.device, batch_size=args.batch_size,
                          num_workers=args.workers, gpu_decode=args.gpu_decode,
                          runtime=args.runtime, model_cache=args.model_cache)
    runtime = fx.runtime  # builds the runner: export + compile on the first run
    print(f"runtime {runtime} ready in {time.perf_counter() - t0:.1f} s "
          f"(model load, export, compile){''.join(' [' + w + ']' for w in fx.choice.warnings)}")
    if args.readers:
        fx.reader_threads = args.readers
    if args.decode_threads:
        fx.decode_threads = args.decode_threads
    on_gpu = fx.device.type == "cuda"
    compared = (_compare_runtimes(args, fx.batch_size)
                if fx.device.type == "cpu" and args.compare != "none" else {})
    paths, tmp = _image_paths(args.images, args.n or (20000 if on_gpu else 600))
    n = len(paths)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"device={fx.device} backbone={fx.spec.name} runtime={runtime} batch={fx.batch_size} "
          f"workers={fx.num_workers} threads={torch.get_num_threads()} "
          f"overlapped={fx.overlaps_decoding()} gpu_decode={fx.gpu_decode} "
          f"readers={fx.reader_threads} decode_threads={fx.decode_threads} images={n} "
          f"({mb:.0f} MB) cpus={os.cpu_count()}")

    fx.extract(paths[: min(n, 2 * fx.batch_size)])  # warm-up: workers, cudnn autotune
    dec, dec_cpu = decode_alone(fx, paths[: min(n, 4000 if on_gpu else 200)])
    print(f"input side alone (decode + preprocess + upload): {dec:,.1f} images/s "
          f"({1000 * dec_cpu:.2f} CPU ms per image)")
    ceiling = cpu_ceiling(fx, dec_cpu, args.ceiling_seconds)
    if ceiling is not None:
        print(f"this box's ceiling: {ceiling['cores']} cores, {ceiling['model_cpu_ms']} CPU ms "
              f"per image for the model alone ({ceiling['model_alone']:,.1f} images/s, "
              f"{ceiling['model_cores_busy']} cores busy) + {ceiling['input_cpu_ms']} for the "
              f"input side -> end to end at most {ceiling['end_to_end_ceiling']:,.1f} images/s"
              f" = {ceiling['ceiling_ratio']:.3f} of the model alone")
    rounds = args.rounds or (1 if on_gpu else 10)
    eager = (TorchRunner(fx.model, fx.spec, fx.device)
             if not on_gpu and runtime != "torch" else None)
    t = (_before_after(fx, paths, 3.0 if on_gpu else 8.0) if rounds == 1
         else _interleaved(fx, paths, rounds, eager))
    feats, failures, alone = t["feats"], t["failures"], t["alone"]
    e2e = n / t["e2e_s"]
    print(f"end to end: {e2e:,.1f} images/s ({n} images in {t['e2e_s']:.2f} s, "
          f"{len(failures)} failures, finite rows {int(np.isfinite(feats).all(1).sum())})")
    print(f"model alone ({runtime}): {alone:,.1f} images/s")
    ratio_total = e2e / alone
    per_round = [r["end_to_end"] / r["model_alone"] for r in t.get("per_round", [])]
    ratio = float(np.median(per_round)) if per_round else ratio_total
    print(f"ratio end-to-end / model alone: {ratio:.3f} (median of the rounds; "
          f"{ratio_total:.3f} of the totals)")
    if ceiling is not None:
        print(f"ratio to this box's ceiling ({ceiling['ceiling_ratio']:.3f}): "
              f"{ratio / ceiling['ceiling_ratio']:.3f}")
    rows = [r for r in t.get("per_round", []) if r["torch_eager"]]
    eager_ips = float(np.median([r["torch_eager"] for r in rows])) if rows else (
        alone if runtime == "torch" else None)
    if rows:
        vs = float(np.median([r["model_alone"] / r["torch_eager"] for r in rows]))
        print(f"torch eager channels-last model alone (same rounds): {eager_ips:,.1f} images/s;"
              f" {runtime} is {vs:.2f}x (median of the rounds)")
    naive_n = min(n, args.naive_n or (1000 if on_gpu else 100))
    naive = naive_loop(fx, paths[:naive_n])
    print(f"naive loop (PIL + torchvision, 1 image at a time, {naive_n} images): "
          f"{naive:,.1f} images/s; end to end is {e2e / naive:.1f}x faster")
    cos = agreement(fx, paths[: args.check_n], feats[: args.check_n]) if args.check_n else None
    if cos is not None:
        print(f"agreement with the CPU extractor on {args.check_n} images: min cosine {cos:.5f}")
    which = compared.pop("real_images", None)
    own = compared.get(fx.spec.name, {})
    result = {"real_images": which,
              "images_compared": str(args.images) if args.images else "generated JPEGs",
        "runtime": runtime, "model_alone": round(alone, 1),
        "torch_eager_model_alone": None if eager_ips is None else round(eager_ips, 1),
        "end_to_end": round(e2e, 1), "ratio": round(ratio, 3),
        "ratio_of_totals": round(ratio_total, 3),
        "min_cosine_vs_torch": (own.get(runtime) or {}).get("min_cosine_vs_torch"),
        "runtimes": {b: {k: {"model_alone": v["model_alone"], "vs_torch_eager":
                             v["vs_torch_eager"], "min_cosine_vs_torch":
                             v["min_cosine_vs_torch"]} for k, v in c.items()}
                     for b, c in compared.items()},
        "device": str(fx.device),
        "device_name": torch.cuda.get_device_name(fx.device) if on_gpu else "cpu",
        "backbone": fx.spec.name, "batch_size": fx.batch_size, "workers": fx.num_workers,
        "threads": torch.get_num_threads(), "gpu_decode": fx.gpu_decode,
        "readers": fx.reader_threads, "decode_threads": fx.decode_threads, "images": n,
        "rounds": rounds, "cpus": os.cpu_count(),
        "model_alone_before_ips": round(t["alone1"], 1),
        "model_alone_after_ips": round(t["alone2"], 1),
        "naive_ips": round(naive, 1), "speedup_vs_naive": round(e2e / naive, 2),
        "failures": len(failures), "input_side_ips": round(dec, 1),
        "min_cosine_vs_cpu": None if cos is None else round(cos, 5),
        "input_side_cpu_ms": round(1000 * dec_cpu, 2), "cpu_ceiling": ceiling,
        "ratio_to_ceiling": (None if ceiling is None
                             else round(ratio / ceiling["ceiling_ratio"], 3)),
    }
    if tmp is not None:
        tmp.cleanup()
    del fx
    models.cleanup()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
