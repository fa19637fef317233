"""Why two images are neighbours: similarity maps over the last feature map.

The feature of an image is the mean of its last feature map ``F`` (``C x h x w``) over the
positions ``p``. Before the kNN, features are L2-normalised, centred on the collection's mean
``mu`` and projected on the PCA axes ``P`` (:mod:`..graph.pca`), so what two neighbours
share is ``s = (fa/|fa| - mu)^T P P^T (fb/|fb| - mu)``, and ``d^2 = |za|^2 + |zb|^2 - 2 s``.
``s`` decomposes exactly over the positions of either image (Stylianou et al., "Visualizing
Deep Similarity Networks", WACV 2019)::

    map_a(p) = (F_a(p)/|fa| - mu)^T P P^T (fb/|fb| - mu) / (h w),   sum_p map_a(p) = s

and likewise ``map_b``. A positive cell pulls the two images together. The maps cost one
forward pass of the two images; they are cached by the pair's hashes and the model's cache
key. A model without a spatial map (an ``onnx:`` file, your own vectors) has none to show.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xdeg_pipeline.core.features.backbones import load_backbone
from xdeg_pipeline.core.features.preprocess import preprocess_file
from xdeg_pipeline.core.features.spec import DEFAULT_FIT, ModelOptions, cache_key
from xdeg_pipeline.core.storage.atomic import write_text

EXPLAIN_VERSION = 1  # bump when the maps' definition changes (their cache is keyed by it)


class NoSpatialMap(ValueError):
    """The embedding has no spatial map to explain (one line, shown to the user)."""


@dataclass
class PairMaps:
    """The two maps (``h x w`` each, summing to ``shared``) and the pixels they cover."""

    map_a: np.ndarray
    map_b: np.ndarray
    shared: float
    pixels_a: np.ndarray | None = None
    pixels_b: np.ndarray | None = None

    def as_dict(self) -> dict:
        return {"grid_a": np.round(self.map_a, 6).tolist(),
                "grid_b": np.round(self.map_b, 6).tolist(), "shared": round(self.shared, 6)}


def decompose(Fa: torch.Tensor, Fb: torch.Tensor, mean: np.ndarray | None = None,
              components: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``(map_a, map_b, s)`` of two ``(C, h, w)`` feature maps (see the module docstring)."""
    Fa, Fb = Fa.double(), Fb.double()
    fa, fb = Fa.mean((1, 2)), Fb.mean((1, 2))
    na, nb = fa.norm().clamp_min(1e-12), fb.norm().clamp_min(1e-12)
    mu = torch.zeros_like(fa) if mean is None else torch.from_numpy(np.asarray(mean, np.float64))
    P = None if components is None else torch.from_numpy(np.asarray(components, np.float64))

    def project(v: torch.Tensor) -> torch.Tensor:  # P P^T v
        return v if P is None else P.T @ (P @ v)

    wa, wb = project(fb / nb - mu), project(fa / na - mu)
    ha, hb = Fa.shape[1] * Fa.shape[2], Fb.shape[1] * Fb.shape[2]
    map_a = (torch.einsum("chw,c->hw", Fa / na - mu[:, None, None], wa) / ha).numpy()
    map_b = (torch.einsum("chw,c->hw", Fb / nb - mu[:, None, None], wb) / hb).numpy()
    return map_a, map_b, float(map_a.sum())


def mass_inside(grid: np.ndarray, box: tuple[int, int, int, int], size: int) -> float:
    """Share of a map's positive mass inside ``box`` (left, top, right, bottom) of the
    ``size`` square, each cell's mass spread evenly over the pixels it covers."""
    g = np.clip(np.asarray(grid, np.float64), 0, None)
    if g.sum() <= 0:
        return 0.0
    ys = np.minimum(np.arange(size) * g.shape[0] // size, g.shape[0] - 1)
    xs = np.minimum(np.arange(size) * g.shape[1] // size, g.shape[1] - 1)
    counts_y, counts_x = np.bincount(ys), np.bincount(xs)
    per_pixel = g / np.outer(counts_y, counts_x)
    up = per_pixel[ys][:, xs]
    x0, y0, x1, y1 = box
    return float(up[y0:y1, x0:x1].sum() / up.sum())


class Explainer:
    """A backbone loaded once to explain pairs; maps cached under ``cache_dir``."""

    def __init__(self, backbone: str, weights: str | None = None,
                 options: ModelOptions | None = None, cache_dir: Path | None = None,
                 pca: tuple[np.ndarray, np.ndarray | None] | None = None,
                 pca_id: str = "") -> None:
        try:
            self.model, self.spec = load_backbone(backbone, weights, options)
        except ValueError as exc:
            raise NoSpatialMap(f"{backbone} has no spatial feature map to explain "
                               f"({exc})") from None
        self.fit = self.spec.fit or DEFAULT_FIT
        self.key = f"{cache_key(self.spec, self.fit)}-e{EXPLAIN_VERSION}"
        # the maps depend on the PCA too: a refitted one gets a cache folder of its own
        folder = self.key + (f"-p{pca_id}" if pca_id else "")
        self.cache_dir = None if cache_dir is None else Path(cache_dir) / folder
        self.pca = pca
        mean = torch.tensor(self.spec.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.spec.std).view(1, 3, 1, 1)
        self._scale, self._shift = 1.0 / (255.0 * std), -mean / std
        self.exact = self._pooled_is_the_mean()

    def _pooled_is_the_mean(self) -> bool:
        """Whether the embedding is the mean of the spatial map (then the maps decompose it
        exactly; a class token, attention pooling or a layer after the pooling: approximate)."""
        x = torch.linspace(-1, 1, 3 * self.spec.image_size ** 2).view(
            1, 3, self.spec.image_size, self.spec.image_size)
        with torch.inference_mode():
            fmap, pooled = self.model.spatial(x), self.model(x)
        if fmap is None or fmap.ndim != 4 or fmap.shape[1] != pooled.shape[-1]:
            return False
        return bool(torch.allclose(fmap.mean((2, 3)), pooled, rtol=1e-3, atol=1e-5))

    def pixels(self, path: Path) -> np.ndarray:
        """What the model sees of an image: ``(S, S, 3)`` uint8."""
        return preprocess_file(Path(path), self.spec.image_size, self.fit)

    def feature_maps(self, arrays: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            fmap = self.model.spatial(x * self._scale + self._shift)
        if fmap is None or fmap.ndim != 4:
            raise NoSpatialMap(f"{self.spec.name} has no spatial feature map to explain")
        return fmap

    def maps(self, a: np.ndarray, b: np.ndarray) -> PairMaps:
        """The maps of two preprocessed images."""
        F = self.feature_maps([a, b])
        mean, comps = self.pca if self.pca is not None else (None, None)
        ma, mb, s = decompose(F[0], F[1], mean, comps)
        return PairMaps(ma, mb, s, a, b)

    def explain(self, path_a: Path, hash_a: str, path_b: Path, hash_b: str,
                with_pixels: bool = False) -> PairMaps:
        """The pair's maps, from the cache when there (pixels read only when asked)."""
        where = None if self.cache_dir is None else self.cache_dir / f"{hash_a}-{hash_b}.json"
        pa = self.pixels(path_a) if with_pixels or where is None or not where.is_file() else None
        pb = self.pixels(path_b) if pa is not None else None
        if where is not None and where.is_file():
            saved = json.loads(where.read_text())
            return PairMaps(np.asarray(saved["grid_a"]), np.asarray(saved["grid_b"]),
                            saved["shared"], pa, pb)
        assert pa is not None and pb is not None
        out = self.maps(pa, pb)
        if where is not None:
            write_text(json.dumps(out.as_dict()), where)
        return out


def heat_png(maps: PairMaps, min_side: int = 224) -> bytes:
    """The two images side by side, each with its map over it (positive part: red, the
    brighter the more it pulls the pair together)."""
    from PIL import Image

    panels = []
    top = max(float(np.clip(maps.map_a, 0, None).max()),
              float(np.clip(maps.map_b, 0, None).max()), 1e-12)
    for pix, grid in ((maps.pixels_a, maps.map_a), (maps.pixels_b, maps.map_b)):
        assert pix is not None
        side = max(min_side, pix.shape[0])
        img = Image.fromarray(pix).resize((side, side), Image.Resampling.BILINEAR)
        heat = Image.fromarray(np.clip(grid, 0, None).astype(np.float32) / top, mode="F")
        h = np.asarray(heat.resize((side, side), Image.Resampling.BILINEAR))[..., None]
        base = np.asarray(img, np.float32) * (1 - 0.6 * h) * 0.75 + 0.25 * 80
        red = np.concatenate([255 * h, 40 * h, 0 * h], axis=2) * 0.6
        panels.append(np.clip(base + red, 0, 255).astype(np.uint8))
    gap = np.full((panels[0].shape[0], 8, 3), 255, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.concatenate([panels[0], gap, panels[1]], axis=1)).save(buf, "PNG")
    return buf.getvalue()
