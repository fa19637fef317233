"""A chain as one self-contained HTML page: every picture with its label, credit and rights,
the picture and label linking to the object's page.

Every piece of text (labels, title, metadata, credits) is escaped; links are ``http``/``https``
only (:func:`xdeg_pipeline.core.images.provenance.web_link`) and open in a new tab; a
Content-Security-Policy forbids scripts and any outside resource.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from xdeg_pipeline.core.images.provenance import rights_label, web_link
from xdeg_pipeline.core.pictures.render import (
    check_inputs,
    clean_text,
    format_step,
    letterbox,
    load_thumb,
    png_bytes,
)
from xdeg_pipeline.core.storage.atomic import write_bytes

Record = Mapping[str, str | None]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1e1e1e;
background:#fff}
h1{font-size:1.4em;margin:0 0 4px}
.summary{color:#666;margin:0 0 16px}
ol.chain{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;align-items:center;
gap:8px}
figure{margin:0;display:flex;flex-direction:column;align-items:center}
figure img{background:#eee;border-radius:4px;display:block}
figcaption{max-width:100%;margin-top:4px;font-size:.9em;text-align:center;
overflow-wrap:anywhere}
dl{margin:4px 0 0;font-size:.75em;color:#555;display:grid;grid-template-columns:auto 1fr;
gap:0 6px}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.step{color:#888;font-size:.9em;text-align:center;min-width:3.5em}
footer{margin-top:24px;font-size:.8em;color:#666}
.credit,.rights{margin:2px 0 0;font-size:.75em;color:#555;text-align:center;overflow-wrap:anywhere}
figure a{color:inherit}
"""


def _esc(text: object) -> str:
    return html.escape(clean_text(text), quote=True)


def _linked(inner: str, url: str | None) -> str:
    """``inner`` inside a link to ``url`` (new tab) when it is http/https, else as it is."""
    link = web_link(url)
    if link is None:
        return inner
    return f'<a href="{_esc(link)}" target="_blank" rel="noopener">{inner}</a>'


def _credits(record: Record | None, attribution: str | None) -> str:
    """The credit and rights lines under a picture (what the page's footer says left out)."""
    if not record:
        return ""
    out = ""
    credit, rights = record.get("credit"), record.get("rights")
    if credit and not (attribution and credit in attribution):
        out += f'<p class="credit">{_esc(credit)}</p>'
    if rights and not (attribution and rights in attribution):
        out += f'<p class="rights">{_linked(_esc(rights_label(rights)), rights)}</p>'
    return out


def _item(path: Path, label: str, thumb: int, meta: Mapping[str, str] | None,
          record: Record | None, attribution: str | None) -> str:
    """One picture: the image and its label (linked to the object page), credit, rights and
    the metadata list."""
    cell = letterbox(load_thumb(Path(path), thumb), thumb)
    data = base64.b64encode(png_bytes(cell)).decode("ascii")
    text = _esc(label)
    link = (record or {}).get("link")
    img = (f'<img src="data:image/png;base64,{data}" width="{thumb}" height="{thumb}" '
           f'alt="{text}" title="{text}">')
    dl = ""
    if meta:
        rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in meta.items())
        dl = f"<dl>{rows}</dl>"
    return (
        f'<li class="item"><figure style="width:{thumb}px">{_linked(img, link)}'
        f"<figcaption>{_linked(text, link)}</figcaption>{_credits(record, attribution)}{dl}"
        "</figure></li>"
    )


def path_html(
    images: Sequence[Path],
    labels: Sequence[str],
    out: Path,
    *,
    title: str,
    steps: Sequence[float] | None = None,
    attribution: str | None = None,
    meta: Sequence[dict[str, str]] | None = None,
    provenance: Sequence[Record | None] | None = None,
    thumb: int = 256,
) -> Path:
    """Write the chain as one self-contained HTML page (inline CSS and PNG data URIs, no JS).

    ``provenance``: one record per image (:mod:`xdeg_pipeline.core.images.provenance`): its
    credit and rights are written under the picture, its ``link`` makes the picture and label
    open the object page in a new tab. Every piece of text is HTML-escaped and a
    Content-Security-Policy forbids scripts and any outside resource.
    """
    check_inputs(images, labels, steps, provenance)
    if meta is not None and len(meta) != len(images):
        raise ValueError(f"{len(images)} images but {len(meta)} meta entries")
    n = len(images)
    items: list[str] = []
    for i, path in enumerate(images):
        if steps is not None and i > 0:
            items.append(
                f'<li class="step" title="step distance">&rarr;<br>'
                f"{_esc(format_step(steps[i - 1]))}</li>"
            )
        items.append(_item(path, labels[i], thumb, meta[i] if meta else None,
                           provenance[i] if provenance else None, attribution))
    summary = f"{n} image{'s' if n != 1 else ''}, {n - 1} step{'s' if n != 2 else ''}"
    if steps:
        total = sum(float(s) for s in steps)
        summary += f", total distance {format_step(total)}"
    footer = f"<footer>{_esc(attribution)}</footer>" if attribution else ""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<h1>{_esc(title)}</h1>\n<p class="summary">{_esc(summary)}</p>\n'
        '<ol class="chain">\n' + "\n".join(items) + f"\n</ol>\n{footer}\n</body>\n</html>\n"
    )
    return write_bytes(page.encode("utf-8"), Path(out))
