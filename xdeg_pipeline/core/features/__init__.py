"""Feature extraction: decode, preprocess and embed images in a stream that keeps the model busy.

One responsibility per module, in the order the pixels travel:

* :mod:`.preprocess`: the preprocessing plan (decode scale, crop, resize; CPU and torch paths);
* :mod:`.jpeg_header`: which JPEGs nvJPEG may decode;
* :mod:`.ring`: reusable (shared, page-locked) batch slots;
* :mod:`.loading`: batching and loading (inline threads, worker processes, raw JPEG readers);
* :mod:`.nvjpeg`: the GPU JPEG path (CUDA only, its own cache key);
* :mod:`.inputs`: loaded batches -> uint8 images on the device (CUDA streams, ready events);
* :mod:`.runner`: the model runner, i.e. the inference runtime (torch today);
* :mod:`.device`: device policy (device, default batch, workers, threads, autocast);
* :mod:`.extractor`: :class:`FeatureExtractor`, which ties them together.

A broken file never stops a batch: it is reported in ``failures`` as ``"reason: detail"``
and its row is NaN.
"""

from xdeg_pipeline.core.features.device import (
    DEFAULT_BATCH,
    DEVICE_ENV,
    choose_device,
    default_batch_size,
    default_num_workers,
)
from xdeg_pipeline.core.features.extractor import FeatureExtractor
from xdeg_pipeline.core.features.preprocess import (
    crop_resize,
    decode_side,
    preprocess_decoded,
    preprocess_file,
)
from xdeg_pipeline.core.progress import ProgressFn

__all__ = [
    "DEFAULT_BATCH",
    "DEVICE_ENV",
    "FeatureExtractor",
    "ProgressFn",
    "choose_device",
    "crop_resize",
    "decode_side",
    "default_batch_size",
    "default_num_workers",
    "preprocess_decoded",
    "preprocess_file",
]
