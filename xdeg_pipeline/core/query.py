"""Answer path requests by image name: resolve names, search the graph, draw the chains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.graph.build import load_graph_lean
from xdeg_pipeline.core.graph.lean import graph_metric
from xdeg_pipeline.core.graph.vectors import graph_vectors
from xdeg_pipeline.core.images.files import ImageFiles
from xdeg_pipeline.core.images.filters import Filter, FilterError, fields_of, parse_filter
from xdeg_pipeline.core.images.provenance import PROVENANCE_KEYS, Record, empty_record, provenance
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.pinned import better_than, check_pinned
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
    where: tuple[str, ...] = ()  # filter conditions every image of the chain satisfies
    chain: tuple[str, ...] = ()  # a pinned chain (its images): kept while it still exists


class OutsideFilter(PathError):
    """An image the request names (``parameter``: source, target or via) that the filter
    leaves out."""

    def __init__(self, message: str, parameter: str, name: str):
        super().__init__(message)
        self.parameter, self.name = parameter, name


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
    pin: dict | None = None  # a pinned request: kept, why not, and a better chain found today
    earlier: dict | None = None  # the chain answered before for this request: kept, or why not

    @property
    def chain_id(self) -> str:
        return chain_id(self.request, self.rank)

    def as_dict(self) -> dict:
        r = self.request
        return {
            "chain_id": self.chain_id,
            "source": r.source,
            "target": r.target,
            "mode": r.mode,
            "requested_steps": r.steps,
            "via": list(self.via),
            "where": list(r.where),
            "alternative": self.rank,
            "path": self.path,
            "hops": len(self.path) - 1,
            "steps": [round(float(s), 6) for s in self.steps],
            "largest_step": round(float(self.largest_step), 6),
            "total": round(float(self.total), 6),
            "png": str(self.png) if self.png else None,
            "html": str(self.html) if self.html else None,
            "images": {n: dict(self.images[n]) for n in self.path if n in self.images},
            **({"pin": self.pin} if self.pin is not None else {}),
            **({"earlier": self.earlier} if self.earlier is not None else {}),
        }


def chain_id(request: PathRequest, rank: int = 0) -> str:
    """The id of the ``rank``-th chain answering ``request`` (the same for the same request)."""
    r = request
    extra = [list(r.via)] if r.via or r.where else []  # older requests keep their ids
    extra += [list(r.where)] if r.where else []
    extra += [["chain", *r.chain]] if r.chain else []
    fp = fingerprint(r.source, r.target, r.mode, r.steps, list(r.avoid), r.alternatives, *extra)
    return f"{fp[:10]}-{rank}"


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
        # arrays, no igraph object (core.graph.lean): seconds of held GIL and a Python object
        # per edge and attribute at a million images
        self.graph = load_graph_lean(self.layout.similarity_graph, allowed_root=home)
        manifest = pd.read_parquet(self.layout.raw_images)
        vertex_of_hash = {h: i for i, h in enumerate(self.graph.vs["content_hash"])}
        self.vertex_of_name = {
            n: vertex_of_hash[h]
            for n, h in zip(manifest["name"], manifest["content_hash"])
            if h in vertex_of_hash
        }
        self.names = sorted(self.vertex_of_name)
        g = self.graph
        vectors, why = graph_vectors(self.layout.pca_features, g.vs["content_hash"], g.eu,
                                     g.ev, g.edge_arrays["weight"], graph_metric(g))
        self.finder = PathFinder(g, vectors=vectors)  # vectors: skipped and lost steps
        # said by whoever serves the collection: smooth chains then keep their series steps
        self.without_vectors = (f"{why}: chains do not skip series steps, and a pinned chain "
                                "whose step is no longer an edge counts as changed") if why else ""
        # a URL-manifest collection records each image's file and metadata (core.sources.remote)
        self.from_manifest = "url" in manifest.columns
        self.files = ImageFiles(manifest, images_root)
        self.metadata = (
            read_metadata(self.layout.image_metadata, self.names) if self.from_manifest else {}
        )
        self.openmoji = openmoji and not self.from_manifest
        self._fields: dict[str, dict[str, str]] | None = None
        self._matching: dict[str, frozenset[str]] = {}
        self._field_names: list[str] | None = None

    @property
    def attribution(self) -> str | None:
        """The credit line pictures of this collection must carry (OpenMoji's licence)."""
        if not self.openmoji:
            return None
        from xdeg_pipeline.core.sources.openmoji import OPENMOJI_ATTRIBUTION

        return OPENMOJI_ATTRIBUTION

    def image_path(self, name: str) -> Path:
        """The image file of a collection name."""
        return self.files.of(name)

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
        return resolve_name(query, self.names, known=self.vertex_of_name)

    def vertex_name(self, v: int) -> str:
        return self.graph.vs[v]["name"]

    # ------------------------------------------------------------------ filters
    @property
    def fields(self) -> dict[str, dict[str, str]]:
        """name -> what filters compare (:func:`~.images.filters.fields_of`), made on first use."""
        if self._fields is None:
            self._fields = {n: fields_of(n, self.metadata.get(n, {})) for n in self.names}
        return self._fields

    def filter(self, where: Sequence[str] | str | None) -> Filter:
        """The parsed filter; FilterError when it cannot be read or names a field no image
        has (and that is no provenance key)."""
        parsed = parse_filter(where)
        known = set(self.filter_fields)
        for c in parsed.conditions:
            if c.field not in known and c.key not in known and c.key not in PROVENANCE_KEYS:
                fields = ", ".join(self.filter_fields[:30])
                raise FilterError(f"no image has the field {c.field!r} (filter {c.text!r}); "
                                  f"fields: {fields}")
        return parsed

    @property
    def filter_fields(self) -> list[str]:
        """The fields images have, ``name`` and the provenance keys first."""
        if self._field_names is None:
            have = {k for record in self.fields.values() for k in record}
            first = ["name", *(k for k in PROVENANCE_KEYS if k in have)]
            self._field_names = first + sorted(have - set(first))
        return self._field_names

    def matching(self, where: Sequence[str] | str | Filter | None) -> frozenset[str]:
        """The names an image filter lets through (all names for an empty filter)."""
        parsed = where if isinstance(where, Filter) else self.filter(where)
        if parsed.text not in self._matching:
            if len(self._matching) >= 64:
                self._matching.clear()
            self._matching[parsed.text] = frozenset(
                n for n, record in self.fields.items() if parsed.matches(record))
        return self._matching[parsed.text]

    def _inside(self, where: Sequence[str], ends: dict[str, Sequence[str]]):
        """(filter, vertices outside it, name of each vertex inside); OutsideFilter when a
        named image of the request (``ends``: parameter -> names) is outside."""
        parsed = self.filter(where)
        inside = self.matching(parsed)
        for parameter, names in ends.items():
            for name in names:
                if name not in inside:
                    raise OutsideFilter(f"{parameter} {name!r} is outside the filter "
                                        f"{parsed.text}", parameter, name)
        name_of: dict[int, str] = {}
        for name in sorted(inside):
            name_of.setdefault(self.vertex_of_name[name], name)
        outside = [v for v in range(self.graph.vcount()) if v not in name_of]
        return parsed, outside, name_of

    # ------------------------------------------------------------------ chains
    def find(self, request: PathRequest, earlier: Sequence[str] = ()) -> list[ChainResult]:
        """All chains for one request (resolving its names first); with ``where`` every image
        of a chain satisfies the filter (PathError when no chain stays inside it).
        ``earlier``: the chain answered before for this request (by image names); it is
        answered again while it still holds and today's chain is not truly better (issue 21:
        a refresh after unrelated images arrive does not move a chain people have seen)."""
        src_name, dst_name = self.resolve(request.source), self.resolve(request.target)
        src, dst = self.vertex_of_name[src_name], self.vertex_of_name[dst_name]
        avoid = [self.vertex_of_name[self.resolve(a)] for a in request.avoid]
        via_names = [self.resolve(v) for v in request.via]
        name_of: dict[int, str] = {}
        if request.where:
            parsed, outside, name_of = self._inside(
                request.where, {"source": [src_name], "target": [dst_name], "via": via_names})
            avoid += outside
        try:
            chains = self.finder.find(
                src,
                dst,
                mode=request.mode,
                steps=request.steps,
                alternatives=request.alternatives,
                avoid=avoid,
                via=[self.vertex_of_name[v] for v in via_names],
            )
        except PathError as exc:
            if not (request.where and str(exc).startswith("no chain")):
                raise
            raise PathError(f"no chain from {src_name!r} to {dst_name!r} inside the filter "
                            f"{parsed.text} ({len(name_of)} images match it; inside a filter "
                            f"the graph may be disconnected): {exc}") from None
        pin = earlier_note = None
        if request.chain:
            chains[0], pin = pinned_chain(self, request, request.chain, chains[0], set(avoid),
                                          name_of)
        elif earlier:
            chains[0], earlier_note = earlier_chain(self, request, earlier, chains[0],
                                                    set(avoid), name_of)
        results = []
        for i, c in enumerate(chains):
            path = self.chain_names(c.vertices, src_name, dst_name, name_of)
            for name in via_names:  # a waypoint keeps the name asked for (duplicates share)
                path[c.vertices.index(self.vertex_of_name[name])] = name
            results.append(ChainResult(request=request, rank=i, path=path, steps=list(c.steps),
                                       largest_step=c.largest_step, total=c.total,
                                       via=via_names, pin=pin if i == 0 else None,
                                       earlier=earlier_note if i == 0 else None,
                                       images={n: self.provenance(n) for n in path}))
        return results

    def chain_names(self, vertices: Sequence[int], source: str, target: str,
                    name_of: dict[int, str] | None = None) -> list[str]:
        """Names along a chain (``name_of``: the name of a vertex inside a filter); its ends keep
        the names asked for (duplicates share a vertex)."""
        names = [(name_of or {}).get(v) or self.vertex_name(v) for v in vertices]
        names[0] = source
        if len(names) > 1:
            names[-1] = target
        return names

    def render(self, result: ChainResult, out_dir: Path, attribution: str | None = None) -> None:
        """Write the chain's PNG strip and HTML page into ``out_dir``."""
        from xdeg_pipeline.core.pictures.page import path_html
        from xdeg_pipeline.core.pictures.render import path_strip_png

        images, labels, records, title = self._strip_parts(result)
        common = {"steps": result.steps, "title": title, "attribution": attribution,
                  "provenance": records}
        result.png = path_strip_png(images, labels, out_dir / f"{result.chain_id}.png", **common)
        meta = [{"name": n, **display_meta(self.metadata.get(n, {}))} for n in result.path]
        result.html = path_html(images, labels, out_dir / f"{result.chain_id}.html", meta=meta,
                                **common)

    def fitted_strip(self, result: ChainResult, max_width: int, max_height: int,
                     attribution: str | None = None) -> bytes:
        """The chain's strip as PNG bytes, wrapped into rows to fit ``max_width`` x
        ``max_height`` px (the Dagster UI's metadata view shows it whole)."""
        from xdeg_pipeline.core.pictures.render import fit_strip_png

        images, labels, records, title = self._strip_parts(result)
        return fit_strip_png(images, labels, max_width, max_height, steps=result.steps,
                             title=title, attribution=attribution, provenance=records)

    def _strip_parts(self, result: ChainResult) -> tuple[list[Path], list[str], list, str]:
        """A chain's image files, labels, provenance records and title."""
        images = [self.image_path(n) for n in result.path]
        labels = [self.label(n) for n in result.path]
        records = [result.images.get(n) or self.provenance(n) for n in result.path]
        r = result.request
        via = f" via {', '.join(r.via)}" if r.via else ""
        via += f" where {' AND '.join(r.where)}" if r.where else ""
        title = f"{r.source} → {r.target}{via} ({r.mode}, {len(result.path) - 1} steps)"
        return images, labels, records, title

    def animate(self, result: ChainResult, out: Path, attribution: str | None = None) -> Path:
        """Write the chain as an animated GIF or WebP (by ``out``'s suffix), each frame with
        its image's label and credit."""
        from xdeg_pipeline.core.pictures.chain_animation import chain_animation

        images, labels, records, _ = self._strip_parts(result)
        return chain_animation(images, labels, out, steps=result.steps, attribution=attribution,
                               provenance=records)


def earlier_chain(collection: Collection, request: PathRequest, names: Sequence[str],
                  fresh: Chain, avoid: set[int], name_of: dict[int, str]) -> tuple[Chain, dict]:
    """The chain answered before (``names``) while it holds and ``fresh`` is not truly
    better, else ``fresh``; with {"kept": bool, "reason": why not}."""
    chain, note = pinned_chain(collection, request, names, fresh, avoid, name_of)
    if note["kept"] and note["better"] is None:
        return chain, {"kept": True, "reason": None}
    if note["kept"]:
        return fresh, {"kept": False, "reason": "a truly better chain was found"}
    return fresh, {"kept": False, "reason": note["reason"].replace("pinned", "earlier")}


def pinned_chain(collection: Collection, request: PathRequest, names: Sequence[str],
                 fresh: Chain, avoid: set[int], name_of: dict[int, str]) -> tuple[Chain, dict]:
    """The pinned chain ``names`` while it still exists (else today's chain ``fresh``), and
    what the page says: kept or why not, and a better chain if today's is."""
    space = collection.finder.space
    try:
        vertices = [collection.vertex_of_name[collection.resolve(n)] for n in names]
    except (LookupError, ValueError):
        return fresh, {"kept": False, "reason": "an image of the pinned chain is no longer "
                                                "in the collection"}
    chain, why = check_pinned(space, vertices, fresh.vertices[0], fresh.vertices[-1],
                              request.mode, request.steps)  # lost steps: the finder's vectors
    if chain is not None and avoid & set(chain.vertices[1:-1]):
        chain, why = None, "the pinned chain passes an image the request avoids or filters out"
    if chain is not None and request.via and not set(fresh.via) <= set(chain.vertices):
        chain, why = None, "the pinned chain does not pass the waypoints"
    if chain is None:
        return fresh, {"kept": False, "reason": why}
    better = None
    if better_than(space, fresh, chain, request.mode):
        better = {"path": collection.chain_names(fresh.vertices, request.source, request.target,
                                                  name_of),
                  "hops": fresh.hops, "largest_step": round(float(fresh.largest_step), 6)}
    chain.via = fresh.via
    return chain, {"kept": True, "better": better}


def label_for(name: str, openmoji: bool = False) -> str:
    """The caption under an image: an emoji's name in the OpenMoji set, else the file stem."""
    if openmoji:
        from xdeg_pipeline.core.sources.openmoji import emoji_label

        return emoji_label(name)
    base = name.rstrip("/").rsplit("/", 1)[-1]  # Path(name).stem without a Path (1M names)
    dot = base.rfind(".")
    return base[:dot] if 0 < dot < len(base) - 1 else base


def results_table(results: Sequence[ChainResult]) -> pd.DataFrame:
    """One row per chain (the requested_paths table; provenance stays with the metadata)."""
    rows = [{k: v for k, v in r.as_dict().items() if k != "images"} for r in results]
    df = pd.DataFrame(rows)
    if not df.empty:
        df["path"] = df["path"].apply(list)
    return df
