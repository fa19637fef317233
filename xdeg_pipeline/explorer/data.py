"""What the explorer serves, loaded from a built data folder through core, and reloaded after a
build (the server answers from the new graph without a restart)."""

from __future__ import annotations

import bisect
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from xdeg_pipeline.core.images.files import FilesByHash
from xdeg_pipeline.core.images.filters import search_text
from xdeg_pipeline.core.images.provenance import rights_label
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore
from xdeg_pipeline.core.pictures.visuals import thumbnail_store
from xdeg_pipeline.core.query import ChainResult, Collection, PathRequest
from xdeg_pipeline.core.resolve import AmbiguousName, NameNotFound
from xdeg_pipeline.core.storage.integrity import stat_signature
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.tables import read_rejected
from xdeg_pipeline.explorer.answers import AnsweredChains
from xdeg_pipeline.explorer.points import MapPoints, load_points

log = logging.getLogger("xdeg.explorer")
_SEPARATORS = str.maketrans({c: " " for c in "_-/.,;:()[]"})


def _fold(text: str) -> str:
    """Lower case, separators as spaces, one space between words (what search compares)."""
    return " ".join(str(text).lower().translate(_SEPARATORS).split())


@dataclass(frozen=True)
class ImageEntry:
    """One name of the collection, as the page shows it."""

    name: str
    content_hash: str
    caption: str
    point: int | None  # its point on the map (None: not on the map)
    haystack: str

    def as_dict(self) -> dict:
        return {"name": self.name, "content_hash": self.content_hash, "caption": self.caption,
                "point": self.point}


class UnknownImage(LookupError):
    """A name that leads to no image: ``closest`` names, and ``rejected`` when the build
    skipped a file of that name (with its reason)."""

    def __init__(self, message: str, closest: list[str], rejected: dict | None = None,
                 name: str | None = None):
        super().__init__(message)
        self.closest = closest
        self.rejected = rejected
        self.name = name
        self.parameter: str | None = None  # which request parameter held the name


class ExplorerData:
    """One loaded build: the collection (graph, names, path finder), map, thumbnails, rejects."""

    def __init__(self, home: Path, images_root: Path, openmoji: bool = False,
                 points: MapPoints | None = None, answers: AnsweredChains | None = None
                 ) -> None:
        self.points = load_points(Path(home)) if points is None else points
        self.collection = Collection(Path(home), Path(images_root), openmoji=openmoji)
        if self.collection.without_vectors:
            log.warning("explorer: %s", self.collection.without_vectors)
        self.layout = self.collection.layout
        self.answers = answers or AnsweredChains(self.layout.answered_chains,
                                                 self.layout.explorer_chains)
        graph = self.collection.graph
        hashes = graph.vs["content_hash"]
        self.hash_of_name = {n: hashes[v] for n, v in self.collection.vertex_of_name.items()}
        first: dict[str, str] = {}
        for name in self.collection.names:
            first.setdefault(self.hash_of_name[name], name)
        self.file_of_hash = FilesByHash(first, self.collection.image_path)
        self.thumbs: ThumbnailStore = thumbnail_store(self.layout)
        rejected = read_rejected(self.layout.rejected_images)
        self.rejected = {str(r["name"]): {k: str(r[k]) for k in ("name", "stage", "reason",
                         "detail")} for r in rejected.to_dict("records")}
        self._entries: list[ImageEntry] | None = None  # made on first use (search, filters)
        self._entries_lock = threading.Lock()
        self.lock = threading.Lock()  # the path finder keeps scratch buffers: one query at once

    def _entry(self, name: str, searchable: bool = True) -> ImageEntry:
        h = self.hash_of_name[name]
        caption = self.collection.label(name)
        text = ""
        if searchable:
            meta = search_text(self.collection.fields[name])  # every metadata value, JSON too
            text = _fold(f"{caption} {meta}")
        return ImageEntry(name, h, caption, self.points.index_of(h), text)

    @property
    def entries(self) -> list[ImageEntry]:
        """Every name's entry with its search text (made once, on first use: a path request
        needs only its chain's)."""
        with self._entries_lock:
            if self._entries is None:
                self._entries = [self._entry(n) for n in self.collection.names]
            return self._entries

    def entry(self, name: str) -> ImageEntry | None:
        """The entry of one collection name (None for another name)."""
        if name not in self.collection.vertex_of_name:
            return None
        return self._entry(name, False) if self._entries is None else self._entries[
            bisect.bisect_left(self.collection.names, name)]

    @property
    def attribution(self) -> str | None:
        return self.collection.attribution

    # ------------------------------------------------------------------ names
    def resolve(self, query: str) -> str:
        """The collection name meant by ``query``; UnknownImage (with closest names) if none."""
        try:
            return self.collection.resolve(query)
        except AmbiguousName as exc:
            raise UnknownImage(str(exc), exc.candidates[:10], name=query) from None
        except NameNotFound as exc:
            rejected = self._rejected(query)
            if rejected is not None:
                detail = f", {rejected['detail']}" if rejected["detail"] else ""
                message = (
                    f"{query!r} was rejected by the build ({rejected['stage']}: "
                    f"{rejected['reason']}{detail})"
                )
                raise UnknownImage(" ".join(message.split()), [], rejected, query) from None
            raise UnknownImage(str(exc), exc.suggestions, name=query) from None

    def _rejected(self, query: str) -> dict | None:
        if query in self.rejected:
            return self.rejected[query]
        stem = query.rsplit("/", 1)[-1]
        hits = [r for n, r in self.rejected.items()
                if n.rsplit("/", 1)[-1] == stem or n.rsplit("/", 1)[-1].rsplit(".", 1)[0] == stem]
        return hits[0] if len(hits) == 1 else None

    def filtered(self, where: tuple[str, ...] = ()) -> list[ImageEntry]:
        """The entries a filter lets through (all without one; FilterError if unreadable)."""
        if not where:
            return self.entries
        inside = self.collection.matching(where)
        return [e for e in self.entries if e.name in inside]

    @property
    def searchable(self) -> bool:
        """True once every name's search text is made."""
        return self._entries is not None

    def search(self, q: str, limit: int, where: tuple[str, ...] = ()) -> list[ImageEntry]:
        """Images inside the filter ``where`` whose name, caption or metadata hold every word
        of ``q`` (best first)."""
        words = _fold(q).split()
        if not words and not where and not self.searchable:  # the page's first gallery
            return [self._entry(n, False) for n in self.collection.names[:limit]]
        entries = self.filtered(where)
        if not words:
            return entries[:limit]
        phrase = " ".join(words)
        starts = [" " + w for w in words]
        scored = []
        for i, e in enumerate(entries):
            if not all(w in e.haystack for w in words):
                continue
            cap = _fold(e.caption)
            if cap == phrase:
                rank = 0
            elif cap.startswith(phrase):
                rank = 1
            elif all(w in " " + e.haystack for w in starts):  # every word starts a word
                rank = 2 if " " + phrase in " " + e.haystack else 3
            else:
                rank = 4
            scored.append((rank, len(e.caption), i))
        scored.sort()
        return [entries[i] for _, _, i in scored[:limit]]

    # ------------------------------------------------------------------ chains
    def find(self, request: PathRequest) -> tuple[list[ChainResult], float, float]:
        """The chains, the ms spent waiting for the finder and the ms of the search itself."""
        t0 = time.perf_counter()
        with self.lock:
            t1 = time.perf_counter()
            chains = self.collection.find(request, () if request.chain
                                          else self.answers.earlier(request))
            self.answers.record(request, chains[0].path)  # asked again: answered the same
        t2 = time.perf_counter()
        return chains, (t1 - t0) * 1000, (t2 - t1) * 1000

    def chain_images(self, results: list[ChainResult]) -> dict[str, dict]:
        """name -> what the page shows, for every image of the chains: its entry, its
        provenance record (label, creator, date, credit, rights, link, manifest) and the
        rights' short name."""
        out = {}
        for r in results:
            for n in r.path:
                entry = self.entry(n) if n not in out else None
                if entry is not None:
                    record = r.images.get(n) or self.collection.provenance(n)
                    out[n] = {**entry.as_dict(), **record,
                              "rights_label": rights_label(record.get("rights"))}
        return out


def _signature(home: Path) -> tuple:
    """What changes when a build writes new outputs (size, mtime and inode of each file)."""
    layout = Layout(home)
    files = [layout.similarity_graph, layout.raw_images, layout.collection_map,
             layout.rejected_images, layout.atlas_sheets]
    return tuple(stat_signature(f) for f in files)


class LiveData:
    """The current :class:`ExplorerData`; a build's new files are loaded in the background once
    they have stopped changing for ``settle`` seconds, then swapped in (requests never wait)."""

    def __init__(self, home: Path, images_root: Path, check_every: float = 1.0,
                 settle: float = 1.0, openmoji: bool = False) -> None:
        self.home, self.images_root, self.openmoji = Path(home), Path(images_root), openmoji
        self.check_every, self.settle = check_every, settle
        if not Layout(self.home).similarity_graph.exists():
            raise FileNotFoundError(
                f"no graph in {home}: build it first (`xdeg build` or materialise the assets)")
        self._sig = _signature(self.home)
        self._points = load_points(self.home)  # the map draws from these at once
        layout = Layout(self.home)
        self.answers = AnsweredChains(layout.answered_chains, layout.explorer_chains)
        self._data: ExplorerData | None = None
        self._failed: BaseException | None = None
        self._ready = threading.Event()
        self.generation = 1
        self._checked = time.monotonic()
        self._seen: tuple | None = None
        self._seen_at = 0.0
        self._loading = False
        self._mutex = threading.Lock()
        self.last_error: str | None = None
        threading.Thread(target=self._first_load, daemon=True).start()

    def _first_load(self) -> None:
        """The collection (graph, path finder, search text) loaded behind the map's points."""
        try:
            self._data = ExplorerData(self.home, self.images_root, self.openmoji, self._points,
                                      self.answers)
        except BaseException as exc:  # noqa: BLE001 - every request then says why
            self._failed = exc
        self._ready.set()
        if self._data is not None:
            _ = self._data.entries  # search's text, made while the paths are answered

    @property
    def loaded(self) -> bool:
        """True once the collection is loaded (the path finder answers)."""
        return self._ready.is_set()

    def points(self) -> MapPoints:
        """The map's points (ready from the start, without the graph)."""
        data = self._data
        return self._points if data is None else data.points

    def get(self) -> ExplorerData:
        """The current build (waits for the first load; its error if it failed)."""
        if not self._ready.is_set():
            self._ready.wait()
        if self._data is None:
            raise RuntimeError(f"the explorer could not load the build: {self._failed}")
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            self._maybe_reload(now)
        return self._data

    def _maybe_reload(self, now: float) -> None:
        sig = _signature(self.home)
        with self._mutex:
            if sig == self._sig or self._loading:
                return
            if sig != self._seen:
                self._seen, self._seen_at = sig, now
                return
            if now - self._seen_at < self.settle:
                return
            self._loading = True
        threading.Thread(target=self._reload, args=(sig,), daemon=True).start()

    def _reload(self, sig: tuple) -> None:
        try:
            data = ExplorerData(self.home, self.images_root, self.openmoji,
                                answers=self.answers)
        except Exception as exc:  # noqa: BLE001 - keep serving the previous build
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("explorer: could not load the new build (%s); serving the previous one",
                        self.last_error)
            with self._mutex:
                self._sig, self._loading = sig, False
            return
        with self._mutex:
            self._data, self._sig, self._loading = data, sig, False
            self.generation += 1
            self.last_error = None
        log.info("explorer: loaded the new build (generation %d)", self.generation)

    def reload_now(self) -> None:
        """Load the data folder again at once (tests, and a page's explicit request)."""
        self._reload(_signature(self.home))

