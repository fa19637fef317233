"""Inputs for the picture tests: hostile labels and a few images of every awkward kind."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

HOSTILE = [
    "<script>alert(1)</script>",
    'it\'s "quoted" & <b>bold</b>',
    "emoji \U0001f600\U0001f3f3\ufe0f\u200d\U0001f308 \u65e5\u672c\u8a9e",
    os.fsdecode(b"caf\xe9-not-utf8.png"),  # undecodable byte -> lone surrogate
    "\u202eevil rtl override\x00\x07\n\tnew line",
    "x" * 2000,
    "",
]


def sample_images(src: Path) -> list[Path]:
    """Red wide PNG, blue tall JPEG, transparent green PNG, corrupt file, missing file."""
    src.mkdir(parents=True, exist_ok=True)
    rgba = Image.new("RGBA", (30, 30), (0, 200, 0, 0))
    rgba.paste((0, 200, 0, 255), (10, 10, 20, 20))
    Image.new("RGB", (60, 30), (255, 0, 0)).save(src / "red.png")
    Image.new("RGB", (30, 60), (0, 0, 255)).save(src / "blue.jpg", quality=95)
    rgba.save(src / "green.png")
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return [src / n for n in ("red.png", "blue.jpg", "green.png", "corrupt.png",
                              "does-not-exist.png")]
