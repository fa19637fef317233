"""Answer path requests by image name: resolve names, search the graph, draw the chains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.images.files import image_file, recorded_files
from xdeg_pipeline.core.images.provenance import Record, empty_record, provenance
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.resolve import resolve_name
from xdeg_pipeline.core.sources.remote import caption, display_meta, read_metadata
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import fingerprint


@dataclass(frozen=True)
class PathRequest:
    """One pair asked for, with its options."""

    source: str
    target: str
    mode: str = "smooth"
    steps: int | None = None
    alternatives: int = 1
    avoid: tuple[str, ...] = ()
    via: tuple[str, ...] = ()  # waypoints, in order


@dataclass
class ChainResult:
    """One chain found for a request, by image name."""

    request: PathRequest
    rank: int
    path: list[str]
    steps: list[float]
    largest_step: float
    total: float
    png: Path | None = None
    html: Path | None = None
    meta: dict = field(default_factory=dict)
    via: list[str] = field(default_factory=list)  # the waypoints passed, by name
    images: dict[str, Record] = field(default_factory=dict)  # name -> provenance record

    @property
    def chain_id(self) -> str:
        r = self.request
        extra = [list(r.via)] if r.via else []  # requests without waypoints keep their ids
        fp = fingerprint(r.source, r.target, r.mode, r.steps, list(r.avoid), r.alternatives,
                         *extra)
        return f"{fp[:10]}-{self.rank}"

    def as_dict(self) -> dict:
        r = self.request
        return {
            "chain_id": self.chain_id,
            "source": r.source,
            "target": r.target,
            "mode": r.mode,
            "requested_steps": r.steps,
            "via": list(self.via),
            "alternative": self.rank,
            "path": self.path,
            "hops": len(self.path) - 1,
            "steps": [round(float(s), 6) for s in self.steps],
            "largest_step": round(float(self.largest_step), 6),
            "total": round(float(self.total), 6),
            "png": str(self.png) if self.png else None,
            "html": str(self.html) if self.html else None,
            "images": {n: dict(self.images[n]) for n in self.path if n in self.images},
        }


class Collection:
    """The built graph of a data folder plus the names that lead to its vertices."""

    def __init__(self, home: Path, images_root: Path, *, openmoji: bool = False):
        """``openmoji``: the folder is the rendered OpenMoji set (emoji names as captions, the
        licence's credit line on every picture)."""
        self.layout = Layout(home)
        self.images_root = images_root
        if not self.layout.similarity_graph.exists():
            raise FileNotFoundError(
                f"no graph in {home}: build it first (`xdeg build` or materialise the assets)"
            )
        self.graph = load_graph(self.layout.similarity_graph, allowed_root=home)
        manifest = pd.read_parquet(self.layout.raw_images)
        vertex_of_hash = {h: i for i, h in enumerate(self.graph.vs["content_hash"])}
        self.vertex_of_name = {
            n: vertex_of_hash[h]
            for n, h in zip(manifest["name"], manifest["content_hash"])
            if h in vertex_of_hash
        }
        self.names = sorted(self.vertex_of_name)
        self.finder = PathFinder(self.graph)
        # a URL-manifest collection records each image's file and metadata (core.sources.remote)
        self.from_manifest = "url" in manifest.columns
        self.file_of_name = recorded_files(manifest, images_root)
        self.metadata = (
            read_metadata(self.layout.image_metadata, self.names) if self.from_manifest else {}
        )
        self.openmoji = openmoji and not self.from_manifest

    @property
    def attribution(self) -> str | None:
        """The credit line pictures of this collection must carry (OpenMoji's licence)."""
        if not self.openmoji:
            return None
        from xdeg_pipeline.core.sources.openmoji import OPENMOJI_ATTRIBUTION

        return OPENMOJI_ATTRIBUTION

    def image_path(self, name: str) -> Path:
        """The image file of a collection name."""
        return image_file(name, self.file_of_name, self.images_root)

    def label(self, name: str) -> str:
        """The caption of an image: ``title — artist`` from a manifest, else :func:`label_for`."""
        if self.from_manifest:
            return caption(self.metadata.get(name, {})) or Path(name).stem
        return label_for(name, self.openmoji)

    def provenance(self, name: str) -> Record:
        """Where an image comes from (:mod:`xdeg_pipeline.core.images.provenance`): from its
        manifest's metadata, OpenMoji's credit for an emoji, else only its label."""
        if self.from_manifest:
            record = provenance(self.metadata.get(name, {}))
            record["label"] = record["label"] or self.label(name)
            return record
        if self.openmoji:
            from xdeg_pipeline.core.sources.openmoji import emoji_provenance

            return emoji_provenance(name)
        return empty_record(self.label(name))

    def resolve(self, query: str) -> str:
        """A collection name for a relative name or unambiguous stem (raises LookupError)."""
        return resolve_name(query, self.names)

    def vertex_name(self, v: int) -> str:
        return self.graph.vs[v]["name"]

    def find(self, request: PathRequest) -> list[ChainResult]:
        """All chains for one request (resolving its names first)."""
        src_name, dst_name = self.resolve(request.source), self.resolve(request.target)
        src, dst = self.vertex_of_name[src_name], self.vertex_of_name[dst_name]
        avoid = [self.vertex_of_name[self.resolve(a)] for a in request.avoid]
        via_names = [self.resolve(v) for v in request.via]
        chains = self.finder.find(
            src,
            dst,
            mode=request.mode,
            steps=request.steps,
            alternatives=request.alternatives,
            avoid=avoid,
            via=[self.vertex_of_name[v] for v in via_names],
        )
        results = []
        for i, c in enumerate(chains):
            path = self._chain_names(c.vertices, src_name, dst_name)
            for name in via_names:  # a waypoint keeps the name asked for (duplicates share)
                path[c.vertices.index(self.vertex_of_name[name])] = name
            results.append(ChainResult(request=request, rank=i, path=path, steps=list(c.steps),
                                       largest_step=c.largest_step, total=c.total,
                                       via=via_names,
                                       images={n: self.provenance(n) for n in path}))
        return results

    def _chain_names(self, vertices: Sequence[int], source: str, target: str) -> list[str]:
        """Names along a chain; its ends keep the names asked for (duplicates share a vertex)."""
        names = [self.vertex_name(v) for v in vertices]
        names[0] = source
        if len(names) > 1:
            names[-1] = target
        return names

    def render(self, result: ChainResult, out_dir: Path, attribution: str | None = None) -> None:
        """Write the chain's PNG strip and HTML page into ``out_dir``."""
        from xdeg_pipeline.core.pictures.page import path_html
        from xdeg_pipeline.core.pictures.render import path_strip_png

        images = [self.image_path(n) for n in result.path]
        labels = [self.label(n) for n in result.path]
        records = [result.images.get(n) or self.provenance(n) for n in result.path]
        r = result.request
        via = f" via {', '.join(r.via)}" if r.via else ""
        title = f"{r.source} → {r.target}{via} ({r.mode}, {len(result.path) - 1} steps)"
        result.png = path_strip_png(
            images,
            labels,
            out_dir / f"{result.chain_id}.png",
            steps=result.steps,
            title=title,
            attribution=attribution,
            provenance=records,
        )
        result.html = path_html(
            images,
            labels,
            out_dir / f"{result.chain_id}.html",
            title=title,
            steps=result.steps,
            attribution=attribution,
            meta=[{"name": n, **display_meta(self.metadata.get(n, {}))} for n in result.path],
            provenance=records,
        )

    def animate(self, result: ChainResult, out: Path, attribution: str | None = None) -> Path:
        """Write the chain as an animated GIF or WebP (by ``out``'s suffix), each frame with
        its image's label and credit."""
        from xdeg_pipeline.core.pictures.chain_animation import chain_animation

        return chain_animation(
            [self.image_path(n) for n in result.path],
            [self.label(n) for n in result.path],
            out,
            steps=result.steps,
            attribution=attribution,
            provenance=[result.images.get(n) or self.provenance(n) for n in result.path],
        )


def label_for(name: str, openmoji: bool = False) -> str:
    """The caption under an image: an emoji's name in the OpenMoji set, else the file stem."""
    if openmoji:
        from xdeg_pipeline.core.sources.openmoji import emoji_label

        return emoji_label(name)
    return Path(name).stem


def results_table(results: Sequence[ChainResult]) -> pd.DataFrame:
    """One row per chain (the requested_paths table; provenance stays with the metadata)."""
    rows = [{k: v for k, v in r.as_dict().items() if k != "images"} for r in results]
    df = pd.DataFrame(rows)
    if not df.empty:
        df["path"] = df["path"].apply(list)
    return df
