"""Which JPEGs nvJPEG may decode: a hand-written marker scan, cheap enough for every file."""

from __future__ import annotations

_SOF_BASELINE = (0xC0, 0xC1)  # baseline / extended sequential Huffman: what nvJPEG decodes
_SOF_OTHER = frozenset(range(0xC2, 0xD0)) - {0xC4, 0xC8, 0xCC}  # progressive, lossless, ...


def _exif_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of an EXIF TIFF block; 1 when absent, 0 when unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 0
    order = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 0
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for e in range(count):
        at = ifd + 2 + 12 * e
        if at + 12 > len(tiff):
            return 0
        if int.from_bytes(tiff[at:at + 2], order) == 0x0112:
            return int.from_bytes(tiff[at + 8:at + 10], order)
    return 1


def nvjpeg_candidate(data: bytes | bytearray) -> bool:
    """A JPEG nvJPEG decodes like load_rgb: baseline, 8-bit YCbCr or grey, upright, not huge.

    Parses the markers up to the scan by hand (cheap: this runs for every file); anything
    unusual (progressive, CMYK, Adobe RGB transform, EXIF rotation, bad markers) says no.
    """
    from xdeg_pipeline.core.images.scan import MAX_PIXELS

    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    i, sof, orientation = 2, None, 1
    while i + 4 <= n:
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        seg = int.from_bytes(data[i + 2:i + 4], "big")
        body = data[i + 4:i + 2 + seg]
        if marker in _SOF_BASELINE:
            if len(body) < 6:
                return False
            sof = (body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big"),
                   body[5])
        elif marker in _SOF_OTHER:
            return False
        elif marker == 0xE1 and body[:6] == b"Exif\0\0":
            orientation = _exif_orientation(bytes(body[6:]))
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12 and body[11] == 0:
            return False  # stored as RGB/CMYK, not YCbCr
        elif marker == 0xDA:
            break
        i += 2 + seg
    else:
        return False
    if sof is None or orientation != 1:
        return False
    precision, h, w, comps = sof
    return precision == 8 and comps in (1, 3) and 0 < w * h <= MAX_PIXELS
