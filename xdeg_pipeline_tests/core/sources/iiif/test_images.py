"""The image of a canvas: Image API requests at a bounded size by version and profile, the
body's own URL as the fallback, v2 and v3 shapes."""

from __future__ import annotations

from xdeg_pipeline.core.sources.iiif.images import canvas_image, service_url, service_version

V2 = {"@context": "http://iiif.io/api/image/2/context.json", "@id": "https://i/2/a",
      "profile": "http://iiif.io/api/image/2/level1.json"}
V3 = {"id": "https://i/3/a", "type": "ImageService3", "profile": "level2"}


def test_service_urls_by_version_and_profile() -> None:
    assert service_url(V2, 512) == "https://i/2/a/full/!512,512/0/default.jpg"
    assert service_url(V3, 300) == "https://i/3/a/full/!300,300/0/default.jpg"
    assert service_url({**V3, "id": "https://i/3/a/info.json"}, 512).startswith("https://i/3/a/f")
    v1 = {"@context": "http://library.stanford.edu/iiif/image-api/1.1/context.json",
          "@id": "https://i/1/a", "profile": "http://library.stanford.edu/iiif/image-api/1.1/"
          "compliance.html#level1"}
    assert service_version(v1) == 1
    assert service_url(v1, 512) == "https://i/1/a/full/!512,512/0/native.jpg"
    # an image known to fit: the whole image (some v3 servers refuse !w,h above its size)
    assert service_url(V3, 512, (400, 300)) == "https://i/3/a/full/max/0/default.jpg"
    assert service_url(V2, 512, (400, 300)) == "https://i/2/a/full/full/0/default.jpg"
    # level 0: a listed size (the smallest that covers the bound), else the full image
    sizes = [{"width": 250, "height": 200}, {"width": 1000, "height": 800},
             {"width": 4000, "height": 3200}]
    level0 = {**V2, "profile": ["http://iiif.io/api/image/2/level0.json"], "sizes": sizes}
    assert service_url(level0, 512) == "https://i/2/a/full/1000,/0/default.jpg"
    assert service_url({**V3, "profile": "level0", "sizes": sizes}, 512) == \
        "https://i/3/a/full/1000,800/0/default.jpg"
    assert service_url({**V3, "profile": "level0"}, 512) == "https://i/3/a/full/max/0/default.jpg"
    assert service_url({"profile": "level1"}, 512) is None


def test_canvas_images_v2_v3_choice_and_fallback() -> None:
    v2 = {"images": [{"resource": {"@type": "oa:Choice",
                                   "default": {"@id": "https://i/x.jpg", "service": V2},
                                   "item": [{"@id": "https://i/ir.jpg"}]}}]}
    image = canvas_image(v2, 512)
    assert image.urls == ("https://i/2/a/full/!512,512/0/default.jpg", "https://i/x.jpg")
    v3 = {"items": [{"type": "AnnotationPage", "items": [
        {"type": "Annotation", "motivation": "commenting", "body": {"id": "https://i/no.jpg"}},
        {"type": "Annotation", "motivation": "painting",
         "body": [{"type": "Sound", "id": "https://i/a.mp3"},
                  {"type": "Image", "id": "https://i/y.jpg", "width": 90, "height": 60,
                   "service": [{"@id": "https://i/2/b", "@type": "ImageService2",
                                "profile": "level2"}]}]}]}]}
    assert canvas_image(v3, 512).urls == ("https://i/2/b/full/full/0/default.jpg",
                                          "https://i/y.jpg")
    no_service = {"items": [{"items": [{"body": {"id": "https://i/z.png", "type": "Image"}}]}]}
    assert canvas_image(no_service, 512).urls == ("https://i/z.png",)
    assert canvas_image({"items": []}, 512) is None
    assert canvas_image({"images": [{"resource": {"@id": "file:///etc/passwd"}}]}, 512) is None
