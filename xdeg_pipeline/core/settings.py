"""Every user setting of xdeg, read once: the only module of ``core`` that reads the environment.

:class:`Settings` is a frozen value. It is built at the edge (the Dagster resource, the CLI)
with :meth:`Settings.from_env` from ``XDEG_*`` variables and explicit overrides (resource
fields, CLI flags), and handed to core functions as plain arguments. :data:`SETTINGS` is the
one table of field, environment variable, default and meaning; the resource's field
descriptions and the README's *Configuration* table say the same.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdeg_pipeline.core import params
from xdeg_pipeline.core.features.spec import INTERPOLATIONS, ModelOptions, parse_backbone
from xdeg_pipeline.core.sources.remote.failures import RETRY_FAILED_AFTER
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline.core.storage.layout import Layout

DEFAULT_BACKBONE = "efficientnet_lite0"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROGRESS_MODES = ("auto", "bar", "lines", "off")
IIIF_CANVASES = ("all", "first")
SOURCE_FIELDS = ("images_dir", "manifest", "iiif")  # one given explicitly: the others' variables
                                                    # do not apply
_FETCH = FetchOptions()  # the downloader's defaults


class SettingsError(ValueError):
    """A setting with a value xdeg cannot use (the message names the variable or field)."""


def _path(value: str | Path) -> Path:
    return Path(value).expanduser().resolve()


def _flag(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0 (or true/false), got {value!r}")


def _iiif_source(value: str) -> str:
    """A IIIF source: an http(s) URL as given, else a file path made absolute."""
    text = str(value).strip()
    if text.lower().startswith(("http://", "https://")):
        return text
    return str(_path(text))


def _canvases(value: str) -> str:
    text = str(value).strip().lower()
    if text not in IIIF_CANVASES:
        raise ValueError(f"expected one of {', '.join(IIIF_CANVASES)}, got {value!r}")
    return text


def _runtime(value: str) -> str:
    text = str(value).strip().lower()
    if text not in params.INFERENCE_RUNTIMES:
        raise ValueError(f"expected one of {', '.join(params.INFERENCE_RUNTIMES)}, got {value!r}")
    return text


def _triple(value: str) -> str:
    """Three numbers ``"0.5,0.5,0.5"`` (a model's mean or std), kept as text."""
    parts = [float(v) for v in str(value).replace(" ", "").split(",")]
    if len(parts) != 3:
        raise ValueError(f"expected three numbers a,b,c, got {value!r}")
    return ",".join(f"{v:g}" for v in parts)


def _interpolation(value: str) -> str:
    text = str(value).strip().lower()
    if text not in INTERPOLATIONS:
        raise ValueError(f"expected one of {', '.join(INTERPOLATIONS)}, got {value!r}")
    return text


def _progress(value: str) -> str:
    text = {"1": "bar", "0": "off", "": "auto"}.get(str(value).strip(), str(value).strip())
    if text not in PROGRESS_MODES:
        raise ValueError(f"expected one of {', '.join(PROGRESS_MODES)} (or 1/0), got {value!r}")
    return text


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    field: str
    env: str
    parse: Callable[[Any], Any]
    default: str  # as the README shows it
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("images_dir", "XDEG_IMAGES", _path,
            "the OpenMoji set in `<home>/openmoji/images` (`path`, `serve`: the folder the "
            "data folder was built from)",
            "collection folder (searched recursively)"),
    Setting("manifest", "XDEG_MANIFEST", _path, "—",
            "CSV/TSV of image URLs (+ metadata columns) downloaded into `<home>/downloads`; "
            "wins over XDEG_IMAGES, but an explicit images_dir wins over XDEG_MANIFEST"),
    Setting("iiif", "XDEG_IIIF", _iiif_source, "—",
            "IIIF collection or manifest (Presentation 2.1/3.0; URL or file): one image per "
            "canvas downloaded into `<home>/downloads`, with label, credit, rights and link; "
            "like XDEG_MANIFEST (not both)"),
    Setting("iiif_canvases", "XDEG_IIIF_CANVASES", _canvases, "`all`",
            "`all` canvases of each IIIF manifest, or the `first` only (a book gives one image)"),
    Setting("iiif_size", "XDEG_IIIF_SIZE", int, "512",
            "longest side (px) asked of a IIIF Image API service (`!512,512`)"),
    Setting("language", "XDEG_LANGUAGE", str, "`en`",
            "language of IIIF labels and values (then values without language, then any)"),
    Setting("url_column", "XDEG_URL_COLUMN", str, "`url` or `Image URL` (any case)",
            "the manifest's URL column"),
    Setting("home", "XDEG_HOME", _path, "`data/`",
            "data folder: every output, and the Dagster instance of the CLI (`<home>/dagster`)"),
    Setting("backbone", "XDEG_BACKBONE", str, f"`{DEFAULT_BACKBONE}`",
            "`efficientnet_lite0` (embedded weights), `resnet18`, `timm:<architecture>` "
            "(keyword arguments after `?`: `timm:vit_tiny_patch16_224?img_size=64`), "
            "`torchvision:<name>` or `onnx:<file>`"),
    Setting("weights", "XDEG_WEIGHTS", str, "—",
            "weights file of the backbone (`resnet18`: else the torch hub cache; `timm:`: "
            "else the Hugging Face cache; `torchvision:`: else the torch hub cache)"),
    Setting("pretrained_download", "XDEG_PRETRAINED_DOWNLOAD", _flag, "0",
            "let timm or torchvision download a model's pretrained weights (else nothing is "
            "downloaded)"),
    Setting("input_size", "XDEG_INPUT_SIZE", int, "the model's",
            "input side (px) of a `timm:`/`torchvision:`/`onnx:` model"),
    Setting("mean", "XDEG_MEAN", _triple, "the model's (ONNX: metadata, else ImageNet's)",
            "normalisation mean of a `timm:`/`torchvision:`/`onnx:` model (`r,g,b`)"),
    Setting("std", "XDEG_STD", _triple, "the model's (ONNX: metadata, else ImageNet's)",
            "normalisation std of a `timm:`/`torchvision:`/`onnx:` model (`r,g,b`)"),
    Setting("crop_pct", "XDEG_CROP_PCT", float, "the model's (ONNX: 1)",
            "centre crop fraction of a `timm:`/`torchvision:`/`onnx:` model"),
    Setting("interpolation", "XDEG_INTERPOLATION", _interpolation, "the model's",
            "resize interpolation of a `timm:`/`torchvision:`/`onnx:` model (`bilinear`, "
            "`bicubic`, `nearest`, `lanczos`)"),
    Setting("vectors", "XDEG_VECTORS", _path, "—",
            "parquet table of your own vectors (`name` or `content_hash` column + a float "
            "list column): the features stage reads them instead of running a model"),
    Setting("vectors_column", "XDEG_VECTORS_COLUMN", str, "`vector`",
            "the vectors table's vector column"),
    Setting("device", "XDEG_DEVICE", str, "auto: cuda → mps → cpu",
            "where features are computed (`cuda`, `cuda:1`, `mps`, `cpu`)"),
    Setting("runtime", "XDEG_RUNTIME", _runtime, "auto (CPU: OpenVINO, else torch)",
            "inference runtime of the feature model: `auto`, `torch`, `openvino`, "
            "`onnxruntime` (one that is missing or broken falls back to torch, with a warning)"),
    Setting("batch_size", "XDEG_BATCH_SIZE", int, "auto (8 on CPU, 256 on CUDA)",
            "feature batch size"),
    Setting("num_workers", "XDEG_NUM_WORKERS", int,
            "auto (CPU: 0, decoding between model steps; CUDA: one per core, up to 16)",
            "image-decoding worker processes"),
    Setting("pca_components", "XDEG_PCA_COMPONENTS", int, str(params.PCA_COMPONENTS),
            "PCA dimensions (0: no PCA)"),
    Setting("k", "XDEG_K", int, str(params.KNN_K), "neighbours per image in the kNN graph"),
    Setting("knn_partition_above", "XDEG_KNN_PARTITION_ABOVE", int,
            f"{params.KNN_PARTITION_ABOVE:,}",
            "images above which the kNN graph is computed in k-means partitions, as Dask tasks "
            "under `build_dask` (0: never)"),
    Setting("checkpoint_every", "XDEG_CHECKPOINT_EVERY", int, "512",
            "images per feature-cache chunk (a killed build loses at most this many)"),
    Setting("combined_features", "XDEG_COMBINED_FEATURES", _flag, "1",
            "also write all shards as one `image_features.parquet` (0: skip, for huge "
            "collections)"),
    Setting("download_workers", "XDEG_DOWNLOAD_WORKERS", int, "8", "parallel downloads"),
    Setting("download_timeout", "XDEG_DOWNLOAD_TIMEOUT", float, f"{_FETCH.timeout:g}",
            "seconds for connect and for each read"),
    Setting("download_total_timeout", "XDEG_DOWNLOAD_TOTAL_TIMEOUT", float,
            f"{_FETCH.total_timeout:g}",
            "seconds for one transfer"),
    Setting("download_retries", "XDEG_DOWNLOAD_RETRIES", int, str(_FETCH.retries),
            "extra attempts for retryable failures (backoff 0.5 s, 1 s, 2 s)"),
    Setting("download_max_mb", "XDEG_DOWNLOAD_MAX_MB", float, f"{_FETCH.max_bytes / 2**20:g}",
            "size cap per file (MB)"),
    Setting("download_retry_hours", "XDEG_DOWNLOAD_RETRY_HOURS", float,
            f"{RETRY_FAILED_AFTER / 3600:g}",
            "hours before a URL that failed for good is requested again"),
    Setting("refresh_cron", "XDEG_REFRESH_CRON", str, "`0 3 * * *`",
            "cron of the `refresh_schedule` (read when the code location loads)"),
    Setting("progress", "XDEG_PROGRESS_BAR", _progress, "auto",
            "progress display: `bar` (1), `lines`, `off` (0); auto: a bar on a terminal, "
            "else lines (CLI) or none (Dagster runs, which log progress)"),
    Setting("allowed_hosts", "XDEG_ALLOWED_HOSTS", str, "the loopback names and the bound address",
            "more `Host` names the explorer answers (comma-separated; `.example.org`: a domain "
            "and its subdomains; `*`: any); others get 421 (a guard against DNS rebinding)"),
)
BY_FIELD: dict[str, Setting] = {s.field: s for s in SETTINGS}


def _default_home() -> Path:
    """``data/`` of a source checkout, else ``./data``."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "data"
    return Path.cwd() / "data"


@dataclass(frozen=True)
class Settings:
    """The settings of one xdeg deployment (see :data:`SETTINGS` for each field)."""

    home: Path = dataclasses.field(default_factory=lambda: _default_home().resolve())
    images_dir: Path | None = None
    manifest: Path | None = None
    iiif: str | None = None
    iiif_canvases: str = "all"
    iiif_size: int = 512
    language: str = "en"
    url_column: str | None = None
    backbone: str = DEFAULT_BACKBONE
    weights: str | None = None
    pretrained_download: bool = False
    input_size: int | None = None
    mean: str | None = None
    std: str | None = None
    crop_pct: float | None = None
    interpolation: str | None = None
    vectors: Path | None = None
    vectors_column: str = "vector"
    device: str | None = None
    runtime: str = "auto"
    batch_size: int | None = None
    num_workers: int | None = None
    pca_components: int = params.PCA_COMPONENTS or 0
    k: int = params.KNN_K
    knn_partition_above: int = params.KNN_PARTITION_ABOVE
    checkpoint_every: int = 512
    combined_features: bool = True
    download_workers: int = 8
    download_timeout: float = _FETCH.timeout
    download_total_timeout: float = _FETCH.total_timeout
    download_retries: int = _FETCH.retries
    download_max_mb: float = _FETCH.max_bytes / 2**20
    download_retry_hours: float = RETRY_FAILED_AFTER / 3600
    refresh_cron: str = "0 3 * * *"
    progress: str = "auto"
    allowed_hosts: str | None = None

    def __post_init__(self) -> None:
        for name in ("k", "checkpoint_every", "download_workers", "iiif_size"):
            _at_least(name, getattr(self, name), 1)
        for name in ("batch_size", "num_workers", "pca_components", "download_retries",
                     "input_size", "knn_partition_above"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1 if name == "batch_size" else 0)
        for name in ("download_timeout", "download_total_timeout", "download_max_mb"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{_name(name)} must be > 0, got {getattr(self, name)!r}")
        if self.manifest is not None and self.iiif is not None:
            raise SettingsError("set one source: a URL manifest (XDEG_MANIFEST) or a IIIF "
                                "collection (XDEG_IIIF), not both")
        for name, check in (("progress", _progress), ("runtime", _runtime),
                            ("iiif_canvases", _canvases), ("backbone", parse_backbone)):
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise SettingsError(f"{_name(name)}: {exc}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``XDEG_*`` variables (``os.environ`` by default); ``overrides`` (None
        = not given) win. A source given explicitly (``images_dir``, ``manifest``, ``iiif``)
        keeps the variables of the other two sources (``XDEG_MANIFEST``, ``XDEG_IIIF``) from
        applying."""
        env = os.environ if environ is None else environ
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - set(BY_FIELD)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for s in SETTINGS:
            if s.field in given:
                values[s.field] = _parse(s, given[s.field], explicit=True)
            elif env.get(s.env, "").strip():
                if s.field in ("manifest", "iiif") and set(SOURCE_FIELDS) & set(given):
                    continue
                values[s.field] = _parse(s, env[s.env], explicit=False)
        return cls(**values)

    @staticmethod
    def variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Field -> its variable's name, for the ``XDEG_*`` variables that are set."""
        env = os.environ if environ is None else environ
        return {s.field: s.env for s in SETTINGS if env.get(s.env, "").strip()}

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def layout(self) -> Layout:
        """Every path of the data folder."""
        return Layout(self.home)

    @property
    def images_root(self) -> Path:
        """The collection folder: the downloaded images of a manifest or a IIIF source, else
        ``images_dir``, else the rendered OpenMoji set in the data folder."""
        if self.manifest is not None or self.iiif is not None:
            return self.layout.downloaded_images
        return self.images_dir or self.layout.openmoji_images

    def with_built_collection(self) -> Settings:
        """These settings, naming the folder the data folder was last built from when no
        collection is set: a data folder built from another folder is never taken for the
        OpenMoji set (whose captions and credit line would then be shown on its images)."""
        if self.images_dir is not None or self.manifest is not None or self.iiif is not None:
            return self
        from xdeg_pipeline.core.storage.state import read_state

        built = read_state(self.home, "raw_images")
        root = built.get("root")
        if not root or not Path(root).is_dir():  # none recorded, or gone (a moved data folder)
            return self
        if built.get("openmoji") or Path(root).resolve() == self.layout.openmoji_images.resolve():
            return self  # built as the OpenMoji set (here, or in the folder this was copied from)
        return self.replace(images_dir=Path(root))

    @property
    def openmoji(self) -> bool:
        """The collection is the embedded OpenMoji set (emoji captions, its licence's credit)."""
        return (self.manifest is None and self.iiif is None
                and self.images_root == self.layout.openmoji_images)

    @property
    def pca_dims(self) -> int | None:
        """Components of the PCA, None for none."""
        return self.pca_components or None

    def extractor_options(self) -> dict[str, Any]:
        """``FeatureExtractor`` keyword arguments (exported models go to the data folder)."""
        return {"backbone": self.backbone, "weights": self.weights, "device": self.device,
                "batch_size": self.batch_size, "num_workers": self.num_workers,
                "runtime": self.runtime, "model_cache": str(self.layout.model_cache),
                "model_options": self.model_options()}

    def model_options(self) -> ModelOptions:
        """The preprocessing and download settings of a ``timm:``/``torchvision:``/``onnx:``
        model (unset: the model's own)."""
        def triple(text: str | None) -> tuple[float, float, float] | None:
            return None if text is None else tuple(float(v) for v in text.split(","))  # type: ignore[return-value]

        return ModelOptions(self.input_size, triple(self.mean), triple(self.std),
                            self.crop_pct, self.interpolation, self.pretrained_download)

    def download_options(self) -> dict[str, Any]:
        """``remote.download_all`` keyword arguments."""
        return {
            "workers": self.download_workers,
            "timeout": self.download_timeout,
            "total_timeout": self.download_total_timeout,
            "retries": self.download_retries,
            "max_bytes": int(self.download_max_mb * 2**20),
            "retry_failed_after": self.download_retry_hours * 3600.0,
        }

    def iiif_options(self) -> dict[str, Any]:
        """``iiif.download_iiif`` keyword arguments (with the downloader's)."""
        return {"size": self.iiif_size, "first_only": self.iiif_canvases == "first",
                "language": self.language, **self.download_options()}

    def progress_mode(self, terminal: bool, fallback: str = "off") -> str:
        """``bar``, ``lines`` or ``off``: ``auto`` is a bar on a terminal, else ``fallback``."""
        if self.progress != "auto":
            return self.progress
        return "bar" if terminal else fallback


def _name(field: str) -> str:
    return f"{field} ({BY_FIELD[field].env})" if field in BY_FIELD else field


def _at_least(field: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SettingsError(f"{_name(field)} must be an integer >= {low}, got {value!r}")


def _parse(s: Setting, value: Any, explicit: bool) -> Any:
    """A value of a setting, parsed from its variable's text (or checked when given typed)."""
    if explicit and not isinstance(value, str) and s.parse in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{s.field}: expected a number, got {value!r}")
        if s.parse is int and value != int(value):
            raise SettingsError(f"{s.field}: expected an integer, got {value!r}")
        return s.parse(value)
    try:
        return s.parse(value.strip() if isinstance(value, str) else value)
    except ValueError as exc:
        where = s.field if explicit else s.env
        raise SettingsError(f"{where}: cannot read {value!r} ({exc})") from None


def xdeg_home() -> Path:
    """The data folder of the environment's settings (a shorthand for scripts)."""
    return Settings.from_env().home


def default_collection() -> Path:
    """The rendered OpenMoji set in that data folder (a shorthand for scripts)."""
    return Settings.from_env().layout.openmoji_images


def malloc_set_by_environment() -> bool:
    """Whether glibc's own malloc variables are set (``MALLOC_*``, ``GLIBC_TUNABLES``; Dask's
    nanny sets one for its workers): a run's tuning (:mod:`.allocator`) then leaves malloc as
    they say."""
    return "GLIBC_TUNABLES" in os.environ or any(k.startswith("MALLOC_") for k in os.environ)
