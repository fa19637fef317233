"""What the ``xdeg`` command prints for a person: the build's summary table, the rejected
images, chains; names with control characters are shown escaped."""

from __future__ import annotations

from collections.abc import Callable

from xdeg_pipeline.core.images.provenance import credits_line

Meta = dict

STAGES = ("raw_images", "image_features", "pca_features", "knn_edges", "thumbnails",
          "image_outlines", "similarity_graph", "near_duplicates", "collection_map")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _raw(m: Meta) -> str:
    text = f"{m.get('rejected', 0)} rejected"
    if "downloaded" in m:
        text += (f"; {m['downloaded']} downloaded, {m['cached']} cached, "
                 f"{m['download_failed']} failed to download")
    if "iiif_manifests" in m:
        text += (f"; IIIF: {m['iiif_manifests']} manifests, {m['iiif_canvases']} canvases, "
                 f"{m['iiif_problems']} problems (stage iiif)")
    return text


def _features(m: Meta) -> str:
    text = f"{m.get('run_images_computed', 0)} computed, {m.get('run_images_reused', 0)} reused"
    if m.get("run_images_failed"):
        text += f", {m['run_images_failed']} failed"
    if m.get("run_images_per_second"):
        text += f" ({m['run_images_per_second']:.1f} images/s)"
    return text


def _pca(m: Meta) -> str:
    axes, dim = m.get("axes", m.get("dim")), m.get("dim")
    shape = f"{axes} axes and the residual" if axes != dim else f"{dim} dimensions"
    text = f"{shape}, {m.get('explained_variance', 0):.1%} of the variance"
    return text + (", refitted" if m.get("refit") else "")


def _graph(m: Meta) -> str:
    recoloured = (f" ({m['recoloured_edges']} recoloured)" if "recoloured_edges" in m else "")
    return (f"{_plural(m.get('edges', 0), 'edge')}{recoloured}, "
            f"{_plural(m.get('components', 0), 'component')}")


def _outlines(m: Meta) -> str:
    if "made" not in m:
        return "unchanged"
    missing = m.get("without_outline", 0)
    return (f"{m['made']} made, {m.get('reused', 0)} reused"
            + (f", {missing} without a thumbnail" if missing else ""))


def _near(m: Meta) -> str:
    return (f"{_plural(m.get('groups', 0), 'group')} of near-duplicates (largest "
            f"{m.get('largest_group', 0)}), distance {m.get('near_duplicate_distance', 0):.3f}")


def _thumbnails(m: Meta) -> str:
    if "made" not in m:
        return "unchanged"
    by_features = m.get("made_by_features", 0)
    made = f"{m['made']} made" + (f" ({by_features} by the feature step)" if by_features else "")
    return (f"{made}, {m.get('reused', 0)} reused, "
            f"{_plural(m.get('sheets_drawn', 0), 'atlas sheet')} drawn")


def _map(m: Meta) -> str:
    mode = m.get("mode")
    if mode == "fit":
        return f"laid out (t-SNE {m.get('layout_seconds', 0):.1f} s)"
    if mode == "place":
        return f"{m.get('placed', 0)} placed into the map, {m.get('kept', 0)} kept in place"
    return "unchanged"


FIGURES: dict[str, tuple[str, Callable[[Meta], str]]] = {
    # stage: (the metadata key of its image count, its key figure)
    "raw_images": ("images", _raw),
    "image_features": ("images", _features),
    "pca_features": ("images", _pca),
    "knn_edges": ("images", lambda m: f"{m.get('edges', 0)} edges, k={m.get('k')}"),
    "image_outlines": ("images", _outlines),
    "similarity_graph": ("vertices", _graph),
    "near_duplicates": ("images_in_groups", _near),
    "thumbnails": ("images", _thumbnails),
    "collection_map": ("images", _map),
}


def summary_table(summary: dict) -> list[str]:
    """An aligned table: stage, images, seconds and its key figure; then the checks."""
    rows = [("stage", "images", "seconds", "result")]
    for stage in STAGES:
        if stage not in summary:
            continue
        meta = summary[stage]
        count_key, figure = FIGURES[stage]
        rows.append((stage, str(meta.get(count_key, "")), f"{meta.get('seconds', 0):.2f}",
                     figure(meta)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}"
             for r in rows]
    checks = summary.get("checks", {})
    failed = sorted(name for name, c in checks.items() if not c["passed"])
    passed = len(checks) - len(failed)
    line = f"checks: {passed} of {len(checks)} passed"
    lines.append(line + (f"; failed: {', '.join(failed)}" if failed else ""))
    if "seconds" in summary:
        lines.append(f"total: {summary['seconds']:.2f} s (run {summary.get('run_id', '?')})")
    return lines


def repaired_lines(summary: dict) -> list[str]:
    """One line per damaged output or cache file this build set aside and recomputed."""
    return [f"repaired: {show(line)}" for line in summary.get("repaired", [])]


def rejected_lines(rejected: dict) -> list[str]:
    """The count per reason, then one line per rejected image."""
    lines = [f"rejected_images: {rejected['count']} {rejected['by_reason'] or ''}".rstrip()]
    for row in rejected["rows"]:
        detail = show(row["detail"])
        lines.append(f"  {show(row['name'])}: {row['stage']} {row['reason']} ({detail})")
    return lines


def chain_lines(result) -> list[str]:
    """A chain found for a request, one image per line with its step."""
    request = result.request
    via = f" via {', '.join(show(v) for v in result.via)}" if result.via else ""
    lines = [f"{show(request.source)} -> {show(request.target)}{via} ({request.mode}):"]
    for i, name in enumerate(result.path):
        step = f"  (+{result.steps[i - 1]:.4f})" if i else ""
        lines.append(f"  {i}. {show(name)}{step}")
    lines.append(f"  largest step {result.largest_step:.4f}, {len(result.path) - 1} steps")
    earlier = getattr(result, "earlier", None)  # the chain answered before for this request
    if earlier is not None:
        lines.append("  the chain answered before" if earlier["kept"] else
                     f"  the chain answered before changed: {show(earlier['reason'])}")
    records = getattr(result, "images", None) or {}
    credits = credits_line([records.get(n) for n in result.path]) if records else None
    if credits:
        lines.append(f"  {show(credits)}")
    return lines


def show(text: object) -> str:
    """Text for the terminal: control characters (newline, escape, ...) written as escapes."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )
