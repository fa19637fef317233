"""A museum's IIIF collection, generated on a :class:`IIIFServer`: Presentation 2.1 and 3.0
manifests mixed, collections nested two levels, a v2.1 paged collection, the irregularities of
real publishers (v2 image services in v3 manifests, missing sizes, language maps, ``@id`` and
``id`` mixed, HTML attributions) and about 5 % broken (404 and invalid manifests, canvases whose
image server answers 500 with no usable fallback, a canvas without image)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdeg_pipeline_tests.helpers.collections import make_image
from xdeg_pipeline_tests.helpers.iiif_server import IIIFServer

V2 = "http://iiif.io/api/presentation/2/context.json"
V3 = "http://iiif.io/api/presentation/3/context.json"
SIDE = 64


@dataclass
class Published:
    """What was published: ``url`` of the top collection; ``valid`` canvas id -> identifier of
    its image; ``broken`` (name or URL, reason); the identifiers of each manifest."""

    url: str
    valid: dict[str, str] = field(default_factory=dict)
    broken: list[tuple[str, str]] = field(default_factory=list)
    images_of: dict[str, list[str]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # canvas id -> the object's page
    count: int = 0  # manifests made (numbers the next ones)


class Publisher:
    """Makes images and manifests on ``server`` (images in ``server.image_dir``)."""

    def __init__(self, server: IIIFServer) -> None:
        self.server = server
        self.pub = Published(server.doc_url("museum.json"))
        self.next_image = 0

    def _image(self) -> str:
        identifier = f"img{self.next_image:04d}"
        make_image(self.server.image_dir / f"{identifier}.png", seed=self.next_image, size=SIDE)
        self.next_image += 1
        return identifier

    def manifest(self, m: int, canvases: int, *, failing: int = 0, empty: bool = False) -> dict:
        """Manifest ``m`` (v3 when odd) with ``canvases`` images; the first ``failing`` answer
        500; ``empty``: one more canvas that paints nothing. Published at docs/m<m>.json."""
        url = self.server.doc_url(f"m{m}.json")
        ids = [self._image() for _ in range(canvases)]
        self.pub.images_of[url] = ids
        self.server.failing.update(ids[:failing])
        link = f"https://museum.example/objects/{m}"
        if m % 2:
            doc = self._v3(m, url, ids, link, empty)
        else:
            doc = self._v2(m, url, ids, link)
        for i, identifier in enumerate(ids):
            canvas = f"{url}/canvas/{i}"
            if i < failing:
                self.pub.broken.append((canvas, "http_500"))
            else:
                self.pub.valid[canvas] = identifier
                self.pub.links[canvas] = link
        if empty:
            self.pub.broken.append((f"{url}/canvas/empty", "no_image"))
        self.server.docs[f"m{m}.json"] = doc
        self.pub.count = max(self.pub.count, m + 1)
        return {"id": url, "type": "Manifest"} if m % 2 else {"@id": url, "@type": "sc:Manifest"}

    def _v2(self, m: int, url: str, ids: list[str], link: str) -> dict:
        canvases = []
        for i, identifier in enumerate(ids):
            service = self.server.service(identifier, "2.1")
            canvases.append({
                "@id": f"{url}/canvas/{i}", "@type": "sc:Canvas", "label": f"f. {i + 1}r",
                "width": SIDE, "height": SIDE,
                "images": [{"@type": "oa:Annotation", "motivation": "sc:painting",
                            "on": f"{url}/canvas/{i}",
                            "resource": {"@id": f"{service}/full/full/0/default.jpg",
                                         "@type": "dctypes:Image", "format": "image/jpeg",
                                         "width": SIDE, "height": SIDE,
                                         "service": {"@context": "http://iiif.io/api/image/2/"
                                                     "context.json", "@id": service,
                                                     "profile": "http://iiif.io/api/image/2/"
                                                     "level1.json"}}}]})
        return {"@context": V2, "@id": url, "@type": "sc:Manifest", "label": f"Print {m}",
                "metadata": [{"label": "Author", "value": f"Engraver {m % 7}"},
                             {"label": "Date", "value": str(1700 + m)},
                             {"label": "Technique", "value": "etching"}],
                "attribution": f"<span>Museum of Tests, <b>print room</b> {m}</span>",
                "license": "http://creativecommons.org/licenses/by/4.0/",
                "related": {"@id": link, "format": "text/html"},
                "sequences": [{"@type": "sc:Sequence", "canvases": canvases}]}

    def _v3(self, m: int, url: str, ids: list[str], link: str, empty: bool) -> dict:
        items = []
        for i, identifier in enumerate(ids):
            body: dict = {"id": f"{self.server.service(identifier, '3.0')}/full/max/0/default.jpg",
                          "type": "Image", "format": "image/jpeg"}
            if m % 5 != 0:  # some publishers leave the size out
                body.update(width=SIDE, height=SIDE)
            if m % 4 == 1:  # a v2 image service inside a v3 manifest
                body["service"] = [{"@id": self.server.service(identifier, "2.1"),
                                    "@type": "ImageService2", "profile": "level2"}]
            else:
                body["service"] = [{"id": self.server.service(identifier, "3.0"),
                                    "type": "ImageService3", "profile": "level1"}]
            key = "@id" if m % 7 == 0 else "id"  # ids spelled both ways
            items.append({key: f"{url}/canvas/{i}", "type": "Canvas", "width": SIDE,
                          "height": SIDE, "label": {"none": [f"view {i + 1}"]},
                          "items": [{"id": f"{url}/page/{i}", "type": "AnnotationPage",
                                     "items": [{"id": f"{url}/anno/{i}", "type": "Annotation",
                                                "motivation": "painting", "body": body,
                                                "target": f"{url}/canvas/{i}"}]}]})
        if empty:
            items.append({"id": f"{url}/canvas/empty", "type": "Canvas", "items": []})
        label = ({"en": [f"Painting {m}"], "fr": [f"Tableau {m}"]} if m % 3 == 0
                 else {"none": [f"Painting {m}"]})
        return {"@context": V3, "id": url, "type": "Manifest", "label": label,
                "metadata": [{"label": {"en": ["Artist"]}, "value": {"none": [f"Painter {m % 5}"]}},
                             {"label": {"en": ["Date"]}, "value": {"none": [str(1800 + m)]}}],
                "requiredStatement": {"label": {"en": ["Attribution"]},
                                      "value": {"en": [f"Gallery of Tests {m}"]}},
                "rights": ("https" if m % 3 else "http") + "://creativecommons.org/publicdomain/"
                          "zero/1.0/",
                "homepage": [{"id": link, "type": "Text", "format": "text/html"}],
                "items": items}

    def broken_manifest(self, m: int, kind: str) -> dict:
        """A manifest reference that answers 404 (``kind`` "404") or is not JSON."""
        url = self.server.doc_url(f"m{m}.json")
        if kind == "404":
            self.pub.broken.append((url, "http_404"))
        else:
            self.server.docs[f"m{m}.json"] = b'{"@context": "' + V2.encode() + b'", "label": '
            self.pub.broken.append((url, "invalid_json"))
        self.pub.count = max(self.pub.count, m + 1)
        return {"@id": url, "@type": "sc:Manifest"}


def canvases_of(m: int) -> int:
    """Canvases of manifest ``m``: 5 to 13."""
    return 5 + (m * 7) % 9


def publish(server: IIIFServer) -> tuple[Publisher, Published]:
    """The museum: 64 manifests (61 readable) under a v3 top collection with a v3 sub-collection
    holding a v2 one (two levels), a v2 collection, a v2.1 paged collection and direct
    manifests; 20 canvases answer 500, one paints nothing, one image is in two manifests."""
    pub = Publisher(server)
    refs = [pub.manifest(m, canvases_of(m), failing=2 if m % 6 == 0 and m < 60 else 0,
                         empty=m == 7) for m in range(61)]
    refs += [pub.broken_manifest(61, "404"), pub.broken_manifest(62, "404"),
             pub.broken_manifest(63, "json")]
    shared = pub.pub.images_of[server.doc_url("m1.json")][-1]  # one picture, two objects
    twin = server.docs["m3.json"]["items"][0]["items"][0]["items"][0]
    twin["body"] = server.docs["m1.json"]["items"][-1]["items"][0]["items"][0]["body"]
    pub.pub.valid[f"{server.doc_url('m3.json')}/canvas/0"] = shared
    doc = server.docs
    doc["dutch.json"] = {"@context": V2, "@id": server.doc_url("dutch.json"),
                         "@type": "sc:Collection", "label": "Dutch", "manifests": refs[40:50]}
    doc["paintings.json"] = {"@context": V3, "id": server.doc_url("paintings.json"),
                             "type": "Collection", "label": {"en": ["Paintings"]},
                             "items": [*refs[:20], {"id": server.doc_url("dutch.json"),
                                                    "type": "Collection"}]}
    doc["prints.json"] = {"@context": V2, "@id": server.doc_url("prints.json"),
                          "@type": "sc:Collection", "label": "Prints", "manifests": refs[20:34]}
    pages = [refs[34:40], [*refs[50:56], refs[61]], [*refs[56:58], refs[62], refs[63]]]
    for p, members in enumerate(pages):
        nxt = {"next": server.doc_url(f"books-{p + 2}.json")} if p + 1 < len(pages) else {}
        doc[f"books-{p + 1}.json"] = {"@context": V2, "@id": server.doc_url(f"books-{p + 1}.json"),
                                      "@type": "sc:Collection", "manifests": members, **nxt}
    doc["books.json"] = {"@context": V2, "@id": server.doc_url("books.json"),
                         "@type": "sc:Collection", "label": "Books", "total": 20,
                         "first": server.doc_url("books-1.json")}
    doc["museum.json"] = {"@context": V3, "id": pub.pub.url, "type": "Collection",
                          "label": {"en": ["Museum"]},
                          "items": [{"id": server.doc_url(f"{n}.json"), "type": "Collection"}
                                    for n in ("paintings", "prints", "books")] + refs[58:61]}
    return pub, pub.pub


def add_manifests(pub: Publisher, n: int = 10) -> list[str]:
    """``n`` new manifests, half in the v3 paintings collection, half in the v2 prints one;
    the identifiers of their images."""
    first = pub.pub.count
    new = [pub.manifest(m, canvases_of(m)) for m in range(first, first + n)]
    pub.server.docs["paintings.json"]["items"][:0] = new[: n // 2]
    pub.server.docs["prints.json"]["manifests"].extend(new[n // 2:])
    return [i for ref in new for i in pub.pub.images_of[ref.get("id", ref.get("@id"))]]
