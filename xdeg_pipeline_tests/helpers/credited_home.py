"""A collection as a museum would give it: a CSV URL manifest whose rows carry a label, an
artist, a year, an object page (``link``, served by the same local server), a credit line and
a rights URI; some attributions are hostile. Built once with the real `xdeg build`."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path

from xdeg_pipeline_tests.helpers.explorer_home import own_environment
from xdeg_pipeline_tests.helpers.image_server import ImageServer, image_bytes

ARTISTS = ("Hilma af Klint", "Paul Klee", "Sonia Delaunay")
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
N = 12
# credits of the first rows: a live script tag (dropped) and an escaped one (shown as text)
CREDITS = {
    0: ("<script>window.__xss=1</script>Gift of <b>Ada</b>", "Gift of Ada"),
    1: ("&lt;script&gt;window.__xss=2&lt;/script&gt; Anonymous gift",
        "<script>window.__xss=2</script> Anonymous gift"),
}
NO_LINK = 2  # its link is javascript: (dropped)


def object_page(server: ImageServer, i: int) -> str:
    """The object page of row ``i``: a small HTML page on the local server."""
    body = f"<!DOCTYPE html><title>Object {i}</title><h1>Painting {i}</h1>".encode()
    return server.image(f"/objects/{i}", body, "text/html; charset=utf-8")


def credited_rows(server: ImageServer) -> list[dict[str, str]]:
    """The manifest's rows; each row's expected record is under the ``expected`` key."""
    rows = []
    for i in range(N):
        link = "javascript:alert(1)" if i == NO_LINK else object_page(server, i)
        raw, shown = CREDITS.get(i, (f"Gift of donor {i}", f"Gift of donor {i}"))
        row = {"ID": f"art{i:02d}", "label": f"Painting {i}", "Artist": ARTISTS[i % 3],
               "Year": str(1900 + i), "Style": "Bauhaus" if i == 4 else "Abstract",
               "Image URL": server.image(f"/i/{i}.png", image_bytes(i, size=96)),
               "link": link, "credit": raw, "rights": CC_BY if i % 2 == 0 else "In copyright"}
        row["expected"] = {  # type: ignore[assignment]
            "label": f"Painting {i}", "creator": ARTISTS[i % 3], "date": str(1900 + i),
            "credit": shown, "rights": row["rights"], "link": None if i == NO_LINK else link,
            "manifest": None}
        rows.append(row)
    return rows


def build_credited_home(root: Path, server: ImageServer) -> dict:
    """Write the manifest, build it into ``root/home``; returns paths, images root, records."""
    from xdeg_pipeline.cli import main
    from xdeg_pipeline.core.settings import Settings

    rows = credited_rows(server)
    manifest, home = root / "art.csv", root / "home"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[k for k in rows[0] if k != "expected"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with own_environment(), contextlib.redirect_stdout(io.StringIO()):
        os.environ["no_proxy"] = "127.0.0.1,localhost"
        assert main(["build", "--manifest", str(manifest), "--home", str(home)]) == 0
        images = Settings.from_env(home=home, manifest=manifest).images_root
    expected = {f"{r['ID']}.png": r["expected"] for r in rows}
    return {"home": home, "images": images, "manifest": manifest, "expected": expected}
