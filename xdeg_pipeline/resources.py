"""The one Dagster resource: where the collection is, where outputs go, and how to compute."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from xdeg_pipeline.core import settings


class XdegResource(ConfigurableResource):
    """Settings of an xdeg deployment. Unset fields fall back to the environment variables."""

    images_dir: str | None = Field(
        default=None, description="Collection folder. Default: $XDEG_IMAGES, else OpenMoji."
    )
    manifest: str | None = Field(
        default=None,
        description="CSV/TSV of image URLs (+ metadata columns), downloaded into "
        "<home>/downloads; takes precedence over images_dir. Default: $XDEG_MANIFEST "
        "(unless images_dir is set).",
    )
    url_column: str | None = Field(
        default=None,
        description="Manifest column of the image URLs. Default: $XDEG_URL_COLUMN, else "
        "'url' or 'Image URL' (any case).",
    )
    home: str | None = Field(
        default=None, description="Data folder for every output. Default: $XDEG_HOME or data/."
    )
    backbone: str | None = Field(
        default=None, description="efficientnet_lite0 (embedded) or resnet18. $XDEG_BACKBONE."
    )
    weights: str | None = Field(
        default=None, description="Weights file for the backbone (resnet18). $XDEG_WEIGHTS."
    )
    device: str | None = Field(default=None, description="cuda, mps or cpu. Default: auto.")
    batch_size: int | None = Field(
        default=None, description="Feature batch size. Default: $XDEG_BATCH_SIZE, else auto."
    )
    num_workers: int | None = Field(default=None, description="Image decoding worker processes.")
    pca_components: int | None = Field(
        default=None, description="PCA dimensions (0 = no PCA). Default: measured default."
    )
    k: int | None = Field(default=None, description="Neighbours per image in the kNN graph.")

    def home_path(self) -> Path:
        if self.home:
            path = Path(self.home).expanduser().resolve()
            path.mkdir(parents=True, exist_ok=True)
            return path
        return settings.xdeg_home()

    def manifest_path(self) -> Path | None:
        """The URL manifest, when the collection comes from one: the ``manifest`` field, else
        ``$XDEG_MANIFEST`` unless the ``images_dir`` field names a folder."""
        value = self.manifest or (None if self.images_dir else os.environ.get("XDEG_MANIFEST"))
        return Path(value).expanduser().resolve() if value else None

    def url_column_name(self) -> str | None:
        return self.url_column or os.environ.get("XDEG_URL_COLUMN") or None

    def images_path(self) -> Path:
        if self.manifest_path() is not None:
            return self.home_path() / "downloads" / "images"
        if self.images_dir:
            return Path(self.images_dir).expanduser().resolve()
        return settings.images_root()

    def backbone_name(self) -> str:
        return self.backbone or settings.backbone_name()

    def batch_size_value(self) -> int | None:
        env = os.environ.get("XDEG_BATCH_SIZE")
        return self.batch_size or (int(env) if env else None)

    def weights_path(self) -> str | None:
        return self.weights or os.environ.get("XDEG_WEIGHTS") or None
