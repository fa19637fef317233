"""Feature extraction: decode, preprocess and embed images in a stream that keeps the model busy.

One responsibility per module, in the order the pixels travel:

* :mod:`.preprocess`: the preprocessing plan (decode scale, crop, resize; CPU and torch paths);
* :mod:`.jpeg_header`: which JPEGs nvJPEG may decode;
* :mod:`.ring`: reusable (shared, page-locked) batch slots;
* :mod:`.loading`: batching and loading (inline threads, worker processes, raw JPEG readers);
* :mod:`.nvjpeg`: the GPU JPEG path (CUDA only, its own cache key);
* :mod:`.inputs`: loaded batches -> uint8 images on the device (CUDA streams, ready events);
* :mod:`.runner`: the model runner seam and torch's runner; :mod:`.runtime` picks the
  inference runtime (:mod:`.openvino_runner`, :mod:`.onnx_runner`) and :mod:`.export` its
  cached model (:mod:`.uint8_model`: the torch half, needed only to export);
* :mod:`.device`: device policy (device, default batch, workers, threads, autocast);
* :mod:`.extractor`: :class:`FeatureExtractor`, which ties them together.

A broken file never stops a batch: it is reported in ``failures`` as ``"reason: detail"``
and its row is NaN. Import from the modules: importing the package loads no torch
(:mod:`.spec` decides whether features must be computed without it).
"""
