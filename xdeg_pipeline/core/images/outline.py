"""Outlines: where an image's edges lie, whatever their colours, to tell a recoloured drawing.

One drawing in other colours (an emoji's skin tones, a sprite's palette swaps, an icon in twenty
colours) is a new picture to a feature space: OpenMoji's skin-tone variants lie 0.2-0.5 apart in
the CNN space (chord), as far apart as two distinct drawings, so chains stepped from one to the
next (issue 21: 5 % of ``smooth``'s steps on OpenMoji, 14 % of ``steps 7``'s). To a viewer such
a step shows the same picture again. Their outlines do not move. An outline is the gradient
magnitude of the greyscale picture (Sobel) on a ``SIDE`` square, capped at ``SATURATION`` (so
the edge between a black outline and a dark skin tone counts as much as the one against a light
tone: uncapped, the darkest tone of a drawn face lay 0.13 from the lightest), summed over
``POOL`` x ``POOL`` cells and scaled to 0-255: 576 bytes an image. Two outlines are compared by
cosine distance (:func:`xdeg_pipeline.core.graph.recolours.outline_distances`; 0: the same
edges in the same places).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 48  # the square the picture is drawn into (aspect ratio not kept: both are drawn alike)
POOL = 2  # cells of POOL x POOL pixels: 24 x 24 = 576 values
CELLS = (SIDE // POOL) ** 2
SATURATION = 0.5  # of the Sobel magnitude (a black-to-white step: 4): any clear edge counts fully


def outline(img: Image.Image) -> np.ndarray:
    """The outline of a picture (see the module docstring): ``CELLS`` uint8 values, all zero
    for a picture without edges (a blank canvas)."""
    from scipy import ndimage  # 0.12 s to import: only where outlines are drawn

    grey = img.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    a = np.asarray(grey, dtype=np.float32) / 255.0
    m = np.minimum(np.hypot(ndimage.sobel(a, axis=1), ndimage.sobel(a, axis=0)), SATURATION)
    m = m.reshape(SIDE // POOL, POOL, SIDE // POOL, POOL).sum(axis=(1, 3)).ravel()
    top = float(m.max())
    if top <= 0:
        return np.zeros(CELLS, dtype=np.uint8)
    return np.rint(m / top * 255.0).astype(np.uint8)

