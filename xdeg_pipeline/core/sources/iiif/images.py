"""The image of a canvas and the URLs to fetch it: through its Image API service at a bounded
size (the service's version and profile respected), else the annotation body's own URL.

v2: ``canvas.images[].resource`` (an ``oa:Choice`` gives its ``default``); v3:
``canvas.items[] (AnnotationPage) .items[] (painting Annotation) .body`` (a ``Choice`` gives its
first item). A body's ``service`` may be one object or a list, v2 inside v3 and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xdeg_pipeline.core.sources.iiif.values import as_list, ident, kind

IMAGE_SERVICE_TYPES = frozenset({"imageservice1", "imageservice2", "imageservice3"})
NOT_IMAGES = frozenset({"sound", "video", "text", "textualbody", "dataset", "model"})


@dataclass(frozen=True)
class CanvasImage:
    """Where a canvas's picture can be had: ``service`` (an Image API request at a bounded
    size), ``direct`` (the body's own URL); either may be None, not both."""

    service: str | None
    direct: str | None

    @property
    def urls(self) -> tuple[str, ...]:
        """The URLs to try, best first, without repeats."""
        return tuple(dict.fromkeys(u for u in (self.service, self.direct) if u))


def _bodies(canvas: dict) -> list[dict]:
    """The image bodies painted on a canvas (v2 and v3 shapes), in order."""
    found: list[Any] = []
    for anno in as_list(canvas.get("images")):  # v2
        if isinstance(anno, dict):
            found.extend(as_list(anno.get("resource")))
    for page in as_list(canvas.get("items")):  # v3
        for anno in as_list(page.get("items")) if isinstance(page, dict) else []:
            if not isinstance(anno, dict):
                continue
            motivation = [str(m).lower() for m in as_list(anno.get("motivation"))]
            if motivation and not any(m.endswith("painting") for m in motivation):
                continue
            found.extend(as_list(anno.get("body")))
    out = []
    for body in found:
        if isinstance(body, str):  # a bare URL where an object was due
            body = {"id": body}
        if isinstance(body, dict) and kind(body) in ("choice", "oa:choice"):
            body = body.get("default") or next(iter(as_list(body.get("items", body.get("item")))),
                                               None)
        if isinstance(body, dict) and kind(body) not in NOT_IMAGES:
            out.append(body)
    return out


def _is_image_service(service: dict) -> bool:
    contexts = " ".join(str(c) for c in as_list(service.get("@context")))
    profiles = " ".join(str(p) for p in as_list(service.get("profile")) if isinstance(p, str))
    return (kind(service) in IMAGE_SERVICE_TYPES or "/image/" in contexts
            or "/image/" in profiles or "level" in profiles or "stanford.edu/iiif" in profiles)


def service_version(service: dict) -> int:
    """1, 2 or 3: from the service's type, else its context, else its profile (default 2)."""
    name = kind(service)
    if name in IMAGE_SERVICE_TYPES:
        return int(name[-1])
    hints = " ".join(str(x) for x in (*as_list(service.get("@context")),
                                      *as_list(service.get("profile"))))
    for version in (3, 1):
        if f"/image/{version}" in hints or (version == 1 and "stanford.edu/iiif" in hints):
            return version
    return 2


def _level0(service: dict) -> bool:
    profile = next((p for p in as_list(service.get("profile")) if isinstance(p, str)), "")
    return profile.removesuffix(".json").endswith("level0") or profile.endswith("#level0")


def _listed_size(service: dict, size: int) -> tuple[int, int] | None:
    """The smallest listed size that covers ``size`` px, else the largest one listed."""
    sizes = []
    for entry in as_list(service.get("sizes")):
        try:
            sizes.append((int(entry["width"]), int(entry["height"])))
        except (KeyError, TypeError, ValueError):
            continue
    if not sizes:
        return None
    covering = [s for s in sizes if max(s) >= size]
    return min(covering, key=max) if covering else max(sizes, key=max)


def _dims(*objects: dict) -> tuple[int, int] | None:
    """The first ``width``/``height`` pair given (None when missing or not numbers)."""
    for obj in objects:
        try:
            w, h = int(obj["width"]), int(obj["height"])
        except (KeyError, TypeError, ValueError):
            continue
        if w > 0 and h > 0:
            return w, h
    return None


def service_url(service: dict, size: int, dims: tuple[int, int] | None = None) -> str | None:
    """The Image API request of the whole image fitted in ``size`` px for this service
    (level 0: a listed size, else the full image; an image known to fit already: the full
    image, as some v3 servers refuse ``!w,h`` larger than the image)."""
    base = ident(service)
    if not base:
        return None
    base = base.rstrip("/")
    if base.endswith("/info.json"):
        base = base[: -len("/info.json")]
    version = service_version(service)
    quality = "native" if version == 1 else "default"
    dims = dims or _dims(service)
    if dims is not None and max(dims) <= size:
        spec = "max" if version == 3 else "full"
    elif _level0(service):
        listed = _listed_size(service, size)
        if listed is not None:
            w, h = listed
            spec = f"{w},{h}" if version == 3 else f"{w},"
        else:
            spec = "max" if version == 3 else "full"
    else:
        spec = f"!{size},{size}"
    return f"{base}/full/{spec}/0/{quality}.jpg"


def canvas_image(canvas: dict, size: int) -> CanvasImage | None:
    """The first image of a canvas (None when it paints none)."""
    for body in _bodies(canvas):
        services = [s for s in as_list(body.get("service")) if isinstance(s, dict)]
        service = next((s for s in services if _is_image_service(s)), None)
        url = service_url(service, size, _dims(body)) if service is not None else None
        direct = ident(body)
        if direct and not direct.lower().startswith(("http://", "https://")):
            direct = None
        if url or direct:
            return CanvasImage(url, direct)
    return None
