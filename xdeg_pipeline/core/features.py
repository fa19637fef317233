"""FeatureExtractor: decode, preprocess and embed images in a stream that keeps the model busy.

Preprocessing (``backbones.PREPROCESS_VERSION``; ``S`` = the backbone's image size, an image of
``W x H`` with short side ``s`` and long side ``L``):

1. decode at a reduced scale: :func:`images.load_rgb` with ``max_side = m = ceil(S*L/s)``, i.e.
   JPEG DCT scaling by the largest ``k`` in 1, 2, 4, 8 with ``min(W//m, H//m) >= k`` (Pillow's
   ``draft`` rule), then Pillow's ``thumbnail`` to fit ``m x m`` (bicubic, ``reducing_gap`` 2),
   so the short side stays ``>= S``;
2. centre-crop a square of the short side, resize it to ``S x S`` (bilinear, antialiased; most
   often the identity), round to uint8;
3. on the device: scale to [0, 1], normalise with the backbone's mean/std.

The optional GPU JPEG path (``gpu_decode=True``, CUDA only) decodes with nvJPEG at full size
and emulates step 1 with torch ops (``k x k`` box average for the DCT scaling, antialiased
bicubic for the thumbnail) and step 2 the same way: pixels match the CPU path to within about
one grey level on average, features to a cosine of ~0.996 or better. That is close, not
identical, so nvJPEG features get their own ``cache_key`` (suffix ``-nvjpeg``). Files are read
by threads there; JPEGs that nvJPEG should not see (EXIF-rotated, progressive, CMYK, ...) and
every other format are decoded on the CPU, and so is a file nvJPEG fails on.

Streaming: with CPU inference each batch is decoded by a small thread pool between two model
steps (no worker processes competing with torch's threads for the cores); elsewhere CPU
decoding runs in DataLoader worker processes that write into a ring of reusable shared-memory
batch slots (page-locked on CUDA). On CUDA the input side and the
model run on their own streams and features come back through asynchronous copies, so the
model never waits for a batch it could overlap with. A broken file never stops a batch: it is
reported in ``failures`` as ``"reason: detail"`` and its row is NaN.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from xdeg_pipeline.core.backbones import BackboneSpec, load_backbone

ProgressFn = Callable[[int, int], None]
DEVICE_ENV = "XDEG_DEVICE"  # named in messages; read by core.settings
# CPU: 4-8 measured fastest on 2 cores (~105 images/s; 16: 87, 32: 70: activations leave cache)
DEFAULT_BATCH = {"cuda": 256, "mps": 64, "cpu": 8}
_PREFETCH = 2  # batches in flight per loader worker
_BYTES_PER_JPEG = 128 * 1024  # ring space per image for raw JPEG bytes (larger ones overflow)


def choose_device(override: str | None = None) -> torch.device:
    """``override`` (the user's device setting), else the first of cuda, mps, cpu available.

    Reads no environment: ``$XDEG_DEVICE`` reaches here through the caller's settings.
    """
    name = override or ""
    if not name or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested (the device setting, ${DEVICE_ENV}) "
                           "but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {name!r} requested (the device setting, ${DEVICE_ENV}) "
                           "but MPS is not available here")
    return device


def default_num_workers(device: torch.device) -> int:
    """Loader worker processes for CPU decoding.

    CUDA: one per core up to 16 (measured on a 16-core H100 box: 16 workers beat 14 and 8).
    CPU inference: none. Each batch is decoded by a thread pool between two model steps, so
    decoding never competes with torch's threads for the cores (on 2 cores: 79 images/s and
    0.89x the model alone, vs 68 images/s and 0.77x with one worker process beside them).
    """
    cpus = os.cpu_count() or 1
    if device.type == "cuda":
        return min(cpus, 16)
    if device.type == "cpu":
        return 0
    return min(cpus, 8)


# --------------------------------------------------------------------------- preprocessing plan


def _pil_thumbnail_size(w: int, h: int, box: int) -> tuple[int, int] | None:
    """Pillow's ``thumbnail`` target for ``(box, box)``; ``None`` when the image already fits."""
    if box >= w and box >= h:
        return None
    aspect = w / h
    x = y = box
    if x / y >= aspect:
        x = max(min(math.floor(y * aspect), math.ceil(y * aspect),
                    key=lambda n: abs(aspect - n / y)), 1)
    else:
        y = max(min(math.floor(x / aspect), math.ceil(x / aspect),
                    key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)
    return x, y


def decode_side(w: int, h: int, size: int) -> int:
    """``m = ceil(size * long / short)``: the ``max_side`` that keeps the short side ``>= size``."""
    short, long = min(w, h), max(w, h)
    return -(-size * long // max(short, 1))


@lru_cache(maxsize=4096)
def _plan(w: int, h: int, size: int) -> dict[str, Any]:
    """Every step of the preprocessing of a stored ``w x h`` JPEG (see module docstring)."""
    m = decode_side(w, h, size)
    scale = min(w // m, h // m)
    k = next((f for f in (8, 4, 2, 1) if scale >= f), 1)
    dw, dh = -(-w // k), -(-h // k)
    thumb = _pil_thumbnail_size(dw, dh, m)
    tw, th = thumb if thumb else (dw, dh)
    reduce = (1, 1)
    if thumb:
        reduce = (max(int(dh / th / 2.0), 1), max(int(dw / tw / 2.0), 1))
    side = min(tw, th)
    return {
        "k": k, "thumb": thumb, "reduce": reduce, "side": side,
        "top": (th - side) // 2, "left": (tw - side) // 2,
    }


def crop_resize(img: Image.Image, size: int) -> np.ndarray:
    """Centre square crop of the short side, bilinear (antialiased) resize to ``size``."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (w, h) != (side, side):
        img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8)


def preprocess_file(path: Path, size: int) -> np.ndarray:
    """The CPU path: ``(size, size, 3)`` uint8 of one file; raises ``images.ImageRejected``."""
    from xdeg_pipeline.core.images import load_rgb

    img = load_rgb(path, max_side=lambda w, h: decode_side(w, h, size))
    return crop_resize(img, size)


def _failure_text(exc: BaseException) -> str:
    from xdeg_pipeline.core.images import ImageRejected

    if isinstance(exc, ImageRejected):
        return f"{exc.reason}: {exc.detail}"
    return f"corrupt: {type(exc).__name__}: {exc}"


def preprocess_decoded(images: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """The torch path: full-size decoded ``(3, H, W)`` uint8 tensors -> ``(n, 3, S, S)`` uint8.

    Emulates :func:`preprocess_file` on any device; images of one shape are done as a batch.
    """
    n = len(images)
    device = images[0].device if n else torch.device("cpu")
    out = torch.empty((n, 3, size, size), dtype=torch.uint8, device=device)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
    for (h, w), members in groups.items():
        p = _plan(w, h, size)
        x = torch.stack([images[i] for i in members]).float()
        if p["k"] > 1:  # JPEG DCT scaling ~ k x k box average
            x = F.avg_pool2d(x, p["k"], ceil_mode=True, count_include_pad=False).round_()
        if p["thumb"]:
            if p["reduce"] != (1, 1):
                x = F.avg_pool2d(x, p["reduce"], ceil_mode=True, count_include_pad=False)
            tw, th = p["thumb"]
            x = F.interpolate(x, size=(th, tw), mode="bicubic", antialias=True,
                              align_corners=False).round_().clamp_(0, 255)
        side, top, left = p["side"], p["top"], p["left"]
        x = x[:, :, top:top + side, left:left + side]
        if side != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False).round_().clamp_(0, 255)
        out[members] = x.to(torch.uint8)
    return out


_SOF_BASELINE = (0xC0, 0xC1)  # baseline / extended sequential Huffman: what nvJPEG decodes
_SOF_OTHER = frozenset(range(0xC2, 0xD0)) - {0xC4, 0xC8, 0xCC}  # progressive, lossless, ...


def _exif_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of an EXIF TIFF block; 1 when absent, 0 when unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 0
    order = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 0
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for e in range(count):
        at = ifd + 2 + 12 * e
        if at + 12 > len(tiff):
            return 0
        if int.from_bytes(tiff[at:at + 2], order) == 0x0112:
            return int.from_bytes(tiff[at + 8:at + 10], order)
    return 1


def _nvjpeg_candidate(data: bytes | bytearray) -> bool:
    """A JPEG nvJPEG decodes like load_rgb: baseline, 8-bit YCbCr or grey, upright, not huge.

    Parses the markers up to the scan by hand (cheap: this runs for every file); anything
    unusual (progressive, CMYK, Adobe RGB transform, EXIF rotation, bad markers) says no.
    """
    from xdeg_pipeline.core.images import MAX_PIXELS

    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    i, sof, orientation = 2, None, 1
    while i + 4 <= n:
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        seg = int.from_bytes(data[i + 2:i + 4], "big")
        body = data[i + 4:i + 2 + seg]
        if marker in _SOF_BASELINE:
            if len(body) < 6:
                return False
            sof = (body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big"),
                   body[5])
        elif marker in _SOF_OTHER:
            return False
        elif marker == 0xE1 and body[:6] == b"Exif\0\0":
            orientation = _exif_orientation(bytes(body[6:]))
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12 and body[11] == 0:
            return False  # stored as RGB/CMYK, not YCbCr
        elif marker == 0xDA:
            break
        i += 2 + seg
    else:
        return False
    if sof is None or orientation != 1:
        return False
    precision, h, w, comps = sof
    return precision == 8 and comps in (1, 3) and 0 < w * h <= MAX_PIXELS


# --------------------------------------------------------------------------- loader


class _Ring:
    """Reusable batch slots in shared memory: workers write decoded pixels (and raw JPEG
    bytes) straight into slot ``b % K``, so no batch allocates, faults in and frees fresh
    shared memory. On CUDA the slots are page-locked (``cudaHostRegister``) for async copies.

    Safety: the loader returns batches in order and keeps at most ``workers * prefetch``
    batches in flight, so slot ``b % K`` is rewritten only ``K`` batches later, when the
    consumer is done with batch ``b`` (``K = workers * prefetch + 3``).
    """

    def __init__(self, slots: int, batch: int, size: int, byte_cap: int, shared: bool,
                 pin: bool) -> None:
        self.shape = (slots, batch, size, size, byte_cap)
        self.images = torch.empty((slots, batch, size, size, 3), dtype=torch.uint8)
        self.bytes = torch.empty((slots, max(byte_cap, 1)), dtype=torch.uint8)
        if shared:
            self.images.share_memory_()
            self.bytes.share_memory_()
        self._registered: list[int] = []
        if pin:
            cudart = torch.cuda.cudart()
            for t in (self.images, self.bytes):
                nbytes = t.numel() * t.element_size()
                if int(cudart.cudaHostRegister(t.data_ptr(), nbytes, 0)) == 0:
                    self._registered.append(t.data_ptr())
        self.pinned = len(self._registered) == 2

    def close(self) -> None:
        if self._registered:
            cudart = torch.cuda.cudart()
            for ptr in self._registered:
                cudart.cudaHostUnregister(ptr)
            self._registered = []


class _Batches(Dataset):
    """Item ``b`` = batch ``b`` of paths, decoded in a worker process into ring slot ``b % K``.

    Returns the slot, ``idx`` of the images preprocessed on the CPU (rows of the slot), the
    indices ``jidx`` and byte ranges ``joff`` of raw JPEGs left to nvJPEG (in the slot's byte
    buffer, or in ``jextra`` when they do not fit), and ``failures``.
    """

    def __init__(self, paths: Sequence[Path], batches: list[list[int]], size: int,
                 ring: _Ring, raw_jpeg: bool, threads: int = 0) -> None:
        self.paths = paths
        self.batches = batches
        self.size = size
        self.ring = ring
        self.raw_jpeg = raw_jpeg
        self.threads = threads  # > 1: decode one batch with that many threads (no workers)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> dict[str, Any]:
        if self.threads > 1 and not self.raw_jpeg:
            return self._decode_threaded(b)
        members = self.batches[b]
        slot = b % self.ring.images.shape[0]
        arr = self.ring.images[slot].numpy()
        buf = self.ring.bytes[slot].numpy()
        ok: list[int] = []
        jidx: list[int] = []
        offsets = [0]
        extra: list[bytes] = []
        failures: list[tuple[int, str]] = []
        for i in members:
            path = self.paths[i]
            try:
                if self.raw_jpeg:
                    data = _read_regular(path)
                    if data is not None and _nvjpeg_candidate(data):
                        end = offsets[-1] + len(data)
                        if not extra and end <= len(buf):
                            buf[offsets[-1]:end] = np.frombuffer(data, dtype=np.uint8)
                            offsets.append(end)
                        else:
                            extra.append(data)
                        jidx.append(i)
                        continue
                arr[len(ok)] = preprocess_file(path, self.size)
                ok.append(i)
            except Exception as exc:  # one bad file never kills a batch
                failures.append((i, _failure_text(exc)))
        return {"slot": slot, "idx": ok, "jidx": jidx, "joff": offsets, "jextra": extra,
                "failures": failures}

    def _decode_threaded(self, b: int) -> dict[str, Any]:
        """CPU path for one batch with a thread pool (Pillow decodes and resizes without the
        GIL): on a small CPU-only box, all cores decode between two model steps."""
        from concurrent.futures import ThreadPoolExecutor

        members = self.batches[b]
        slot = b % self.ring.images.shape[0]
        arr = self.ring.images[slot].numpy()

        def one(pos: int) -> str | None:
            try:
                arr[pos] = preprocess_file(self.paths[members[pos]], self.size)
            except Exception as exc:  # one bad file never kills a batch
                return _failure_text(exc)
            return None

        if getattr(self, "_pool", None) is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="xdeg-decode")
        errors = list(self._pool.map(one, range(len(members))))
        ok = [pos for pos, err in enumerate(errors) if err is None]
        for row, pos in enumerate(ok):  # compact: good rows first, in order
            if row != pos:
                arr[row] = arr[pos]
        return {"slot": slot, "idx": [members[p] for p in ok], "jidx": [], "joff": [0],
                "jextra": [], "failures": [(members[p], e) for p, e in enumerate(errors)
                                           if e is not None]}

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
            self._pool = None


def _read_regular(path: Path) -> bytearray | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        return bytearray(Path(path).read_bytes())
    except OSError:
        return None


def _threaded(ds: _Batches, threads: int, window: int) -> Iterator[dict[str, Any]]:
    """``ds[0], ds[1], ...`` computed by a thread pool, at most ``window`` batches ahead."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="xdeg-read") as pool:
        queue: deque = deque()
        nxt = 0
        while nxt < len(ds) and len(queue) < window:
            queue.append(pool.submit(ds.__getitem__, nxt))
            nxt += 1
        while queue:
            item = queue.popleft().result()
            if nxt < len(ds):
                queue.append(pool.submit(ds.__getitem__, nxt))
                nxt += 1
            yield item


def _inline(ds: _Batches) -> Iterator[dict[str, Any]]:
    """``ds[0], ds[1], ...`` in the calling thread (between model steps)."""
    try:
        for b in range(len(ds)):
            yield ds[b]
    finally:
        ds.close()


def _identity(x: Any) -> Any:
    return x


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- extractor


class FeatureExtractor:
    """Pooled CNN features of image files, streamed through a DataLoader onto one device."""

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        weights: str | Path | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        num_workers: int | None = None,
        gpu_decode: bool = False,
    ) -> None:
        self.device = choose_device(device)
        model, self.spec = load_backbone(backbone, weights)
        self.dim = self.spec.dim
        spec: BackboneSpec = self.spec
        kind = self.device.type
        self.batch_size = int(batch_size or DEFAULT_BATCH.get(kind, 32))
        self.num_workers = (
            default_num_workers(self.device) if num_workers is None else int(num_workers)
        )
        self.gpu_decode = bool(gpu_decode) and kind == "cuda"
        self.decode_threads = 2  # nvJPEG: batches decoded concurrently in the main process
        self.reader_threads = max(1, min(8, os.cpu_count() or 1))  # nvJPEG / inline decode
        self.inline_threads = True  # num_workers == 0: decode each batch with reader_threads
        self._ring: _Ring | None = None
        self._local = threading.local()  # per-thread CUDA stream of the input side
        self._stream = torch.cuda.Stream(self.device) if kind == "cuda" else None
        self.amp_dtype = torch.float16 if kind == "cuda" else None
        if kind == "cuda":
            torch.backends.cudnn.benchmark = True
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = (1.0 / (255.0 * std)).to(self.device)
        self._shift = (-mean / std).to(self.device)

    @property
    def cache_key(self) -> str:
        """Backbone, weights (content hash), preprocessing version and size, and decoder.

        nvJPEG's pixels differ slightly from libjpeg's (IDCT, chroma upsampling; cosine
        ~0.996 between the two paths' features), so its features get a key of their own.
        """
        spec = self.spec
        key = f"{spec.name}-w{spec.weights_id}-{spec.preprocess_version}-s{spec.image_size}"
        return key + ("-nvjpeg" if self.gpu_decode else "")

    # ------------------------------------------------------------------ model
    def features_from_uint8(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 on the device -> (N, dim) features (device tensor, async)."""
        with torch.inference_mode():
            x = x.contiguous(memory_format=torch.channels_last).float()
            x = torch.addcmul(self._shift, x, self._scale)
            if self.amp_dtype is not None:
                with torch.autocast(self.device.type, dtype=self.amp_dtype):
                    return self.model(x)
            return self.model(x)

    # ------------------------------------------------------------------ streaming
    def _ring_for(self, workers: int, extra_slots: int = 0) -> _Ring:
        slots = workers * _PREFETCH + 3 + extra_slots
        bs, size = self.batch_size, self.spec.image_size
        cap = bs * _BYTES_PER_JPEG if self.gpu_decode else 0
        shape = (slots, bs, size, size, cap)
        if self._ring is None or self._ring.shape != shape:
            if self._ring is not None:
                self._ring.close()
            self._ring = _Ring(slots, bs, size, cap, shared=workers > 0,
                               pin=self.device.type == "cuda")
        return self._ring

    def _items(self, paths: Sequence[Path], extra_slots: int = 0
               ) -> tuple[Iterator[dict[str, Any]], _Ring]:
        """Loader items in batch order, and the ring their pixels / bytes are in.

        CPU decoding runs in DataLoader worker processes. With nvJPEG the per-file work is
        only reading bytes and parsing the header, so threads do it (no worker start-up, no
        inter-process copies); a non-JPEG there is decoded on the CPU by the same thread.
        """
        bs = self.batch_size
        batches = [list(range(i, min(i + bs, len(paths)))) for i in range(0, len(paths), bs)]
        if self.gpu_decode:
            window = 2 * self.reader_threads
            ring = self._ring_for(0, window + extra_slots)
            ds = _Batches(paths, batches, self.spec.image_size, ring, raw_jpeg=True)
            return _threaded(ds, self.reader_threads, window), ring
        workers = min(self.num_workers, len(batches))
        ring = self._ring_for(workers, extra_slots)
        if workers == 0:
            threads = self.reader_threads if self.inline_threads else 0
            ds = _Batches(paths, batches, self.spec.image_size, ring, raw_jpeg=False,
                          threads=threads)
            return _inline(ds), ring
        ds = _Batches(paths, batches, self.spec.image_size, ring, raw_jpeg=False)
        extra: dict[str, Any] = {}
        if workers > 0:
            extra = {"prefetch_factor": _PREFETCH, "worker_init_fn": _worker_init,
                     "in_order": True, "persistent_workers": False}
        loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=workers,
                            collate_fn=_identity, pin_memory=False, **extra)
        return iter(loader), ring

    def __del__(self) -> None:
        ring = getattr(self, "_ring", None)
        if ring is not None:
            ring.close()

    def _gpu_decode(self, item: dict[str, Any], ring: _Ring, paths: Sequence[Path],
                    failures: dict[int, str]) -> tuple[list[int], torch.Tensor | None]:
        """nvJPEG-decode and preprocess the raw JPEGs of a batch.

        A file nvJPEG fails on is decoded on the CPU instead (or reported in ``failures``).
        Returns the indices and their ``(n, 3, S, S)`` uint8 images on the device.
        """
        from torchvision.io import ImageReadMode, decode_jpeg

        jidx: list[int] = item["jidx"]
        if not jidx:
            return [], None
        size = self.spec.image_size
        off = item["joff"]
        buf = ring.bytes[item["slot"]]
        blobs = [buf[off[j]:off[j + 1]] for j in range(len(off) - 1)]
        blobs += [torch.frombuffer(bytearray(e), dtype=torch.uint8) for e in item["jextra"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision >= 0.29 deprecates its decoders
            try:
                decoded = decode_jpeg(blobs, mode=ImageReadMode.RGB, device=self.device)
                with torch.inference_mode():
                    return jidx, preprocess_decoded(decoded, size)
            except Exception:
                pass
            good_idx, good, cpu_idx, cpu = [], [], [], []
            for i, blob in zip(jidx, blobs, strict=True):
                try:
                    good.append(decode_jpeg(blob, mode=ImageReadMode.RGB, device=self.device))
                    good_idx.append(i)
                except Exception:
                    try:
                        cpu.append(torch.from_numpy(preprocess_file(paths[i], size)))
                        cpu_idx.append(i)
                    except Exception as exc:
                        failures[i] = _failure_text(exc)
        with torch.inference_mode():
            parts = [preprocess_decoded(good, size)] if good else []
            if cpu:
                parts.append(torch.stack(cpu).to(self.device).permute(0, 3, 1, 2))
            if not parts:
                return [], None
            return good_idx + cpu_idx, torch.cat(parts)

    def _prepare(self, item: dict[str, Any], ring: _Ring, paths: Sequence[Path]
                 ) -> tuple[list[int], torch.Tensor | None, dict[int, str]]:
        """A loader item -> (indices, (n, 3, S, S) uint8 on the device, failures)."""
        failures = {int(i): str(msg) for i, msg in item["failures"]}
        idx = list(item["idx"])
        parts: list[torch.Tensor] = []
        if idx:
            cpu = ring.images[item["slot"]][: len(idx)]
            with torch.inference_mode():
                parts.append(cpu.to(self.device, non_blocking=ring.pinned).permute(0, 3, 1, 2))
        if self.gpu_decode:
            jidx, decoded = self._gpu_decode(item, ring, paths, failures)
            if decoded is not None:
                idx += jidx
                parts.append(decoded)
        if not idx:
            return [], None, failures
        with torch.inference_mode():
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
        return idx, x, failures

    def _prepare_async(self, item: dict[str, Any], ring: _Ring, paths: Sequence[Path]
                       ) -> tuple[list[int], torch.Tensor | None, dict[int, str], Any]:
        """:meth:`_prepare` plus a CUDA event marking when its images are ready.

        On CUDA each thread works on its own stream, never on the legacy default stream:
        that one synchronises with every other stream and would serialise nvJPEG, the
        uploads and the model.
        """
        if self._stream is None:
            return (*self._prepare(item, ring, paths), None)
        stream = getattr(self._local, "stream", None)
        if stream is None:
            stream = self._local.stream = torch.cuda.Stream(self.device)
        with torch.cuda.stream(stream):
            idx, x, fails = self._prepare(item, ring, paths)
            ready = torch.cuda.Event()
            ready.record(stream)
        return idx, x, fails, ready

    def _inputs(self, paths: Sequence[Path]
                ) -> Iterator[tuple[list[int], torch.Tensor | None, dict[int, str], Any]]:
        """Prepared batches ``(indices, uint8 images on the device, failures, ready event)``.

        With nvJPEG, ``decode_threads`` threads decode batches concurrently.
        """
        threads = self.decode_threads if self.gpu_decode else 0
        loader, ring = self._items(paths, extra_slots=threads)
        if threads <= 1:
            for item in loader:
                yield self._prepare_async(item, ring, paths)
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="xdeg-nvjpeg") as pool:
            queue: deque = deque()
            for item in loader:
                queue.append(pool.submit(self._prepare_async, item, ring, paths))
                if len(queue) >= threads:
                    yield queue.popleft().result()
            while queue:
                yield queue.popleft().result()

    def _launch(self, x: torch.Tensor, ready: Any) -> Any:
        """Start the model on a batch; returns what :meth:`_collect` turns into features.

        On CUDA the model runs on the extractor's stream and the features are copied
        asynchronously into page-locked memory, so waiting for batch ``k`` never waits for
        the batch ``k + 1`` queued behind it.
        """
        if self._stream is None:
            return self.features_from_uint8(x)
        with torch.cuda.stream(self._stream), torch.inference_mode():
            self._stream.wait_event(ready)
            x.record_stream(self._stream)
            feats = self.features_from_uint8(x).float()
            host = torch.empty(feats.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(feats, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self._stream)
        return host, done

    def _collect(self, launched: Any) -> np.ndarray:
        if self._stream is None:
            return launched.float().cpu().numpy()
        host, done = launched
        done.synchronize()
        return host.numpy().copy()

    def iter_batches(
        self, paths: Sequence[Path], progress: ProgressFn | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[int, str]]]:
        """Yield ``(indices, features (n, dim) float32, failures {index: reason})`` per batch.

        Batches may arrive in any order; every index of ``paths`` appears exactly once, in
        ``indices`` or in ``failures``. ``progress(done, total)`` follows each batch.
        """
        paths = [Path(p) for p in paths]
        total = len(paths)
        if total == 0:
            return
        done = 0
        pending: tuple[list[int], Any, dict[int, str]] | None = None

        def finish(p: tuple[list[int], Any, dict[int, str]]):
            idx, launched, fails = p
            arr = (self._collect(launched) if launched is not None
                   else np.empty((0, self.dim), np.float32))
            return np.asarray(idx, dtype=np.int64), arr.astype(np.float32, copy=False), fails

        for idx, x, fails, ready in self._inputs(paths):
            feats = self._launch(x, ready) if x is not None else None
            if pending is not None:  # the device works on this batch while we hand back the last
                out = finish(pending)
                done += len(out[0]) + len(out[2])
                yield out
                if progress is not None:
                    progress(done, total)
            pending = (idx, feats, fails)
        if pending is not None:
            out = finish(pending)
            done += len(out[0]) + len(out[2])
            yield out
            if progress is not None:
                progress(done, total)

    def extract(
        self, paths: Sequence[Path], progress: ProgressFn | None = None
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Features of all ``paths``: ``(len(paths), dim)`` float32 (NaN rows for failures)."""
        out = np.full((len(paths), self.dim), np.nan, dtype=np.float32)
        failures: dict[int, str] = {}
        for idx, feats, fails in self.iter_batches(paths, progress):
            if len(idx):
                out[idx] = feats
            failures.update(fails)
        return out, failures

