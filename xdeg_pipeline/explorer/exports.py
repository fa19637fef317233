"""A chain as a downloadable file: the PNG strip, the HTML page, an animated GIF or WebP."""

from __future__ import annotations

import tempfile
from pathlib import Path

from xdeg_pipeline.core.query import ChainResult
from xdeg_pipeline.explorer.data import ExplorerData

EXPORTS = {
    "png": "image/png",
    "html": "text/html; charset=utf-8",
    "gif": "image/gif",
    "webp": "image/webp",
}


def export_chain(data: ExplorerData, chain: ChainResult, fmt: str) -> tuple[bytes, str, str]:
    """(file bytes, media type, download file name) of one chain in format ``fmt``."""
    if fmt not in EXPORTS:
        raise ValueError(f"format must be one of {', '.join(EXPORTS)}")
    collection = data.collection
    with tempfile.TemporaryDirectory(prefix="xdeg-export-") as tmp:
        out_dir = Path(tmp)
        if fmt in ("png", "html"):
            collection.render(chain, out_dir, attribution=data.attribution)
            produced = chain.png if fmt == "png" else chain.html
            chain.png = chain.html = None  # temporary files: not part of the answer
        else:
            produced = collection.animate(chain, out_dir / f"{chain.chain_id}.{fmt}",
                                          attribution=data.attribution)
        body = Path(produced).read_bytes()
    return body, EXPORTS[fmt], f"xdeg-chain-{chain.chain_id}.{fmt}"
