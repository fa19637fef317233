// The collection map: every image as a point at once (one binary download, one pixel pass),
// its thumbnail where the view is zoomed in enough to see it (only the atlas sheets of what is
// on screen are fetched); zoom with the wheel, pan by dragging, click to use an image; a chain
// drawn over it. A grid over the map finds what is on screen and under the pointer.
// Text from the collection only ever goes into textContent.

const CHAIN = "#d6285a", SOURCE = "#148c46", TARGET = "#2850c8";
const THUMB_MIN = 10;  // px: below this thumbnails are too small to see; points instead
const THUMB_MAX = 64;
const MAX_SHEETS = 24;  // decoded atlas sheets kept (~21 MB each; least recently drawn dropped first)
const MAX_LOADING = 6;  // atlas sheets fetched at once
const MAX_SINGLE = 300;  // images on screen drawn from their own thumbnails (sheets too many)
const RAMP = [[150, 170, 200], [70, 100, 160], [30, 50, 110], [10, 20, 60]];

export class MapView {
  constructor(canvas, tip, onPick) {
    this.canvas = canvas;
    this.tip = tip;
    this.onPick = onPick;
    this.ctx = canvas.getContext("2d");
    this.points = null;
    this.sheets = new Map();  // sheet -> {img, levels (cell px -> image), used}
    this.loading = new Set();
    this.failed = new Set();  // sheets that did not load: their images stay points
    this.singles = new Map();  // point -> {img, used}: thumbnails asked one by one
    this.names = new Map();  // point -> {name, hash} (asked one at a time)
    this.chain = [];
    this.chainPoints = [];
    this.inside = null;  // Uint8Array: 1 inside the active filter (null: no filter)
    this.view = { scale: 1, x: 0, y: 0 };
    this.frame = 0;
    this.pending = false;
    this.waiting = [];
    this._bind();
    new ResizeObserver(() => this._resize()).observe(canvas);
  }

  async load() {
    const t0 = performance.now();
    const meta = await (await fetch("/api/map")).json();
    const buf = await (await fetch(meta.points)).arrayBuffer();
    const n = meta.n;
    this.u = new Float32Array(buf, 0, n);
    this.v = new Float32Array(buf, 4 * n, n);
    this.sheet = new Int32Array(buf, 8 * n, n);
    this.slot = new Int32Array(buf, 12 * n, n);
    this.cell = meta.cell || 64;
    this.side = meta.side || 32;
    this.urls = new Map(meta.atlases.map((a) => [a.sheet, a.url]));
    this._grid(n);
    this.points = { n };
    this.canvas.dataset.points = String(n);
    this.setChain(this.chainPoints);
    this._resize();
    this.fit();
    this.draw();
    const ms = performance.now() - t0;
    this.canvas.dataset.painted = "1";
    this.canvas.dataset.paintMs = ms.toFixed(0);
    performance.mark("xdeg-map-painted");
    window.xdegMapPaint = { fromLoadStart: ms, fromNavigation: performance.now() };
  }

  // a grid of cells over the map (-0.5..0.5), points sorted by cell (row by row)
  _grid(n) {
    const g = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n / 4))));
    const cellOf = new Uint32Array(n), start = new Uint32Array(g * g + 1);
    for (let i = 0; i < n; i++) {
      const c = this._cellY(this.v[i], g) * g + this._cellX(this.u[i], g);
      cellOf[i] = c; start[c + 1]++;
    }
    for (let c = 0; c < g * g; c++) start[c + 1] += start[c];
    const fill = start.slice(0, g * g), order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;
    this.grid = { g, start, order };
  }

  _cellX(u, g) { return Math.min(g - 1, Math.max(0, Math.floor((u + 0.5) * g))); }
  _cellY(v, g) { return this._cellX(v, g); }

  // the grid rows and columns a screen rectangle covers, and how many points they hold
  _cells(x0, y0, x1, y1) {
    const { g, start } = this.grid, k = this.view.scale;
    const cx0 = this._cellX((x0 - this.view.x) / k, g), cx1 = this._cellX((x1 - this.view.x) / k, g);
    const cy0 = this._cellY((y0 - this.view.y) / k, g), cy1 = this._cellY((y1 - this.view.y) / k, g);
    let count = 0;
    for (let cy = cy0; cy <= cy1; cy++) count += start[cy * g + cx1 + 1] - start[cy * g + cx0];
    return { cx0, cx1, cy0, cy1, count };
  }

  // every point of those cells, a row of cells at a time (one contiguous run of `order`)
  _each(cells, fn) {
    const { g, start, order } = this.grid;
    for (let cy = cells.cy0; cy <= cells.cy1; cy++) {
      const end = start[cy * g + cells.cx1 + 1];
      for (let k = start[cy * g + cells.cx0]; k < end; k++) fn(order[k]);
    }
  }

  // the sheet at the smallest of its own cell size, 32 and 16 px cells that is at least
  // `need` px: small thumbnails are cut from a small copy (thousands of draws from a 2048 px
  // sheet are slow without a GPU), made the first time a frame needs that size
  _level(entry, need) {
    let cell = this.cell;
    for (const c of [32, 16]) if (c < this.cell && c >= need) cell = c;
    let src = entry.levels.get(cell);
    if (!src) {
      src = document.createElement("canvas");
      const k = cell / this.cell;
      src.width = Math.round(entry.img.width * k); src.height = Math.round(entry.img.height * k);
      const g = src.getContext("2d");
      g.imageSmoothingQuality = "high";
      g.drawImage(entry.img, 0, 0, src.width, src.height);
      entry.levels.set(cell, src);
    }
    return { cell, src };
  }

  // fetch an atlas sheet (a few at once); the map is drawn again when it arrives
  _want(sheet) {
    if (this.sheets.has(sheet) || this.loading.has(sheet) || !this.urls.has(sheet)) return;
    if (this.failed.has(sheet)) return;
    if (this.loading.size >= MAX_LOADING) return;  // asked again by the next frame
    this.loading.add(sheet);
    const img = new Image();
    const done = () => { this.loading.delete(sheet); this.request(); };
    img.onload = () => {
      this.sheets.set(sheet, { img, levels: new Map([[this.cell, img]]), used: this.frame });
      this._evict();
      done();
    };
    img.onerror = () => { this.failed.add(sheet); done(); };
    img.src = this.urls.get(sheet);
  }

  _evict() {
    if (this.sheets.size <= MAX_SHEETS) return;
    const old = [...this.sheets.entries()].filter(([, s]) => s.used < this.frame)
      .sort((a, b) => a[1].used - b[1].used);
    for (const [sheet] of old.slice(0, this.sheets.size - MAX_SHEETS)) this.sheets.delete(sheet);
  }

  _resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = r.width; this.h = r.height; this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.pixels = null;
    this.request();
  }

  fit(indices) {
    if (!this.points) return;
    let minU = -0.5, maxU = 0.5, minV = -0.5, maxV = 0.5;
    if (indices && indices.length) {
      minU = minV = Infinity; maxU = maxV = -Infinity;
      for (const i of indices) {
        minU = Math.min(minU, this.u[i]); maxU = Math.max(maxU, this.u[i]);
        minV = Math.min(minV, this.v[i]); maxV = Math.max(maxV, this.v[i]);
      }
    }
    const spanU = Math.max(maxU - minU, 0.05), spanV = Math.max(maxV - minV, 0.05);
    const pad = 60;
    this.view.scale = Math.max(1, Math.min((this.w - 2 * pad) / spanU, (this.h - 2 * pad) / spanV));
    this.view.x = this.w / 2 - ((minU + maxU) / 2) * this.view.scale;
    this.view.y = this.h / 2 - ((minV + maxV) / 2) * this.view.scale;
    this.request();
  }

  // look at (u, v) with `scale` px per map unit (the benchmark's zoom)
  zoomTo(u, v, scale) {
    this.view.scale = scale;
    this.view.x = this.w / 2 - u * scale;
    this.view.y = this.h / 2 - v * scale;
    this.request();
  }

  // the chain by map points (indices of the point arrays)
  setChain(points) {
    this.chainPoints = (points || []).filter((i) => Number.isInteger(i));
    this.chain = this.points ? this.chainPoints.filter((i) => i >= 0 && i < this.points.n) : [];
    this.canvas.dataset.chain = String(this.chain.length);
    this.request();
  }

  fitChain() { if (this.chain.length) this.fit(this.chain); }

  // dim the images outside a filter (the points inside; null: none); they cannot be picked
  setFilter(points) {
    if (points && this.points) {
      this.inside = new Uint8Array(this.points.n);
      for (const i of points) this.inside[i] = 1;
    } else this.inside = null;
    this.canvas.dataset.inside = points ? String(points.length) : "all";
    this.request();
  }

  _out(i) { return this.inside !== null && !this.inside[i]; }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  // resolves at the first frame whose thumbnails are all drawn (or that has none to draw)
  settled() { return new Promise((resolve) => { this.waiting.push(resolve); this.request(); }); }

  _screen(i) { return [this.u[i] * this.view.scale + this.view.x, this.v[i] * this.view.scale + this.view.y]; }

  draw() {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.w, this.h);
    if (!this.points) return;
    this.frame++;
    const cells = this._cells(0, 0, this.w, this.h);
    const s = Math.min(THUMB_MAX, 0.8 * Math.sqrt((this.w * this.h) / Math.max(cells.count, 1)));
    this.size = s;
    const fewSheets = this.urls.size > 0 && this._sheetsOf(cells) <= MAX_SHEETS;
    this.single = !fewSheets && cells.count <= MAX_SINGLE;  // each from its own thumbnail
    this.thumbs = s >= THUMB_MIN && (fewSheets || this.single);
    let missing = 0;
    if (this.thumbs) {
      let drawn = 0;
      this._each(cells, (i) => {
        const [x, y] = this._screen(i);
        if (x < -s || y < -s || x > this.w + s || y > this.h + s) return;
        const out = this._out(i);
        if (out) ctx.globalAlpha = 0.12;
        if (this._drawThumb(i, x, y, s)) drawn++; else missing++;
        if (out) ctx.globalAlpha = 1;
      });
      this.canvas.dataset.thumbs = String(drawn);
    } else {
      this._drawPoints();
      this.canvas.dataset.thumbs = "0";
    }
    this.canvas.dataset.mode = this.thumbs ? "thumbnails" : "points";
    this.canvas.dataset.missing = String(missing);
    if (this.chain.length) {
      ctx.fillStyle = "rgba(255,255,255,0.6)";
      ctx.fillRect(0, 0, this.w, this.h);
      missing += this._drawChain(this._big(s));
    }
    if (!missing && this.waiting.length) this.waiting.splice(0).forEach((r) => r());
  }

  // how many atlas sheets the points of these cells are cut from (stops counting past
  // MAX_SHEETS: sheets packed in another order than the map's stay points until closer)
  _sheetsOf(cells) {
    const seen = new Set();
    const { g, start, order } = this.grid;
    for (let cy = cells.cy0; cy <= cells.cy1 && seen.size <= MAX_SHEETS; cy++) {
      const end = start[cy * g + cells.cx1 + 1];
      for (let k = start[cy * g + cells.cx0]; k < end; k++) seen.add(this.sheet[order[k]]);
    }
    return seen.size;
  }

  // every point in one pass over a pixel buffer: darker where more images share a pixel
  _drawPoints() {
    const W = this.canvas.width, H = this.canvas.height, dpr = this.dpr;
    if (!this.pixels || this.pixels.width !== W || this.pixels.height !== H) {
      this.pixels = this.ctx.createImageData(W, H);
      this.count = new Uint16Array(W * H);
    }
    const count = this.count, out = new Uint8Array(this.inside ? W * H : 0);
    count.fill(0);
    const k = this.view.scale * dpr, ox = this.view.x * dpr, oy = this.view.y * dpr;
    const r = this.size >= 5 ? 2 : 1;
    let drawn = 0;
    for (let i = 0, n = this.points.n; i < n; i++) {
      const px = (this.u[i] * k + ox) | 0, py = (this.v[i] * k + oy) | 0;
      if (px < 0 || py < 0 || px > W - r || py > H - r) continue;
      drawn++;
      const dim = this._out(i);
      for (let dy = 0; dy < r; dy++) {
        for (let dx = 0; dx < r; dx++) {
          const p = (py + dy) * W + px + dx;
          if (dim) out[p] = 1; else if (count[p] < 65535) count[p]++;
        }
      }
    }
    const data = new Uint32Array(this.pixels.data.buffer);
    for (let p = 0; p < W * H; p++) {
      const c = count[p];
      if (c) {
        const [R, G, B] = RAMP[c < 2 ? 0 : c < 5 ? 1 : c < 20 ? 2 : 3];
        data[p] = 0xff000000 | (B << 16) | (G << 8) | R;
      } else data[p] = out.length && out[p] ? 0xffdcdce0 : 0;
    }
    this.ctx.putImageData(this.pixels, 0, 0);
    this.canvas.dataset.drawn = String(drawn);  // points inside the canvas, all drawn
  }

  // point i's own thumbnail (true), or a grey square while it is fetched (false)
  _drawSingle(i, x, y, s) {
    const got = this.singles.get(i);
    if (got && got.img.complete) {
      got.used = this.frame;
      if (!got.img.naturalWidth) {  // no thumbnail: a point stays a point
        this.ctx.fillStyle = "#a0a0aa";
        this.ctx.fillRect(x - 2, y - 2, 4, 4);
        return true;
      }
      const k = s / Math.max(got.img.naturalWidth, got.img.naturalHeight);
      const w = got.img.naturalWidth * k, h = got.img.naturalHeight * k;
      this.ctx.drawImage(got.img, x - w / 2, y - h / 2, w, h);
      return true;
    }
    this.ctx.fillStyle = "#a0a0aa";
    this.ctx.fillRect(x - 2, y - 2, 4, 4);
    if (!got) {
      const img = new Image();
      img.onload = img.onerror = () => this.request();
      img.src = `/api/map/thumb?i=${i}`;
      this.singles.set(i, { img, used: this.frame });
      if (this.singles.size > 2 * MAX_SINGLE) {
        for (const [k, v] of this.singles) if (v.used < this.frame) this.singles.delete(k);
      }
    }
    return false;
  }

  // a thumbnail (true), or a grey square while its sheet is fetched (false)
  _drawThumb(i, x, y, s) {
    if (this.single) return this._drawSingle(i, x, y, s);
    const ctx = this.ctx;
    const entry = this.sheets.get(this.sheet[i]);
    if (!entry) {
      ctx.fillStyle = "#a0a0aa";
      ctx.fillRect(x - 2, y - 2, 4, 4);
      if (this.sheet[i] < 0 || this.failed.has(this.sheet[i])) return true;  // none to wait for
      this._want(this.sheet[i]);
      return false;
    }
    entry.used = this.frame;
    const level = this._level(entry, s * this.dpr);
    const slot = this.slot[i], c = level.cell;
    ctx.drawImage(level.src, (slot % this.side) * c, Math.floor(slot / this.side) * c, c, c,
      x - s / 2, y - s / 2, s, s);
    return true;
  }

  _drawChain(big) {
    const ctx = this.ctx;
    const pts = this.chain.map((i) => this._screen(i));
    let missing = 0;
    ctx.lineJoin = "round";
    for (const [width, colour] of [[7, "#fff"], [3, CHAIN]]) {
      ctx.beginPath();
      pts.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.lineWidth = width; ctx.strokeStyle = colour; ctx.stroke();
    }
    ctx.font = "bold 11px system-ui, sans-serif";
    this.chain.forEach((i, k) => {
      const [x, y] = pts[k];
      const colour = k === 0 ? SOURCE : k === pts.length - 1 ? TARGET : CHAIN;
      ctx.fillStyle = "#fff";
      ctx.fillRect(x - big / 2 - 2, y - big / 2 - 2, big + 4, big + 4);
      if (!this._drawThumb(i, x, y, big)) missing++;
      ctx.lineWidth = 2; ctx.strokeStyle = colour;
      ctx.strokeRect(x - big / 2 - 2, y - big / 2 - 2, big + 4, big + 4);
      const tag = String(k + 1), tw = ctx.measureText(tag).width + 6;
      ctx.fillStyle = colour;
      ctx.fillRect(x - big / 2 - 2, y - big / 2 - 16, tw, 14);
      ctx.fillStyle = "#fff";
      ctx.fillText(tag, x - big / 2 + 1, y - big / 2 - 5);
    });
    return missing;
  }

  _big(s) { return Math.min(Math.max(28, s * 1.6), 64); }

  // the point under (mx, my): a chain's image first, then the nearest within reach (grid)
  hit(mx, my) {
    if (!this.points) return -1;
    const s = this.thumbs ? this.size : 4;
    const big = this._big(this.size || 8);
    for (const i of [...this.chain].reverse()) {
      const [x, y] = this._screen(i);
      if (Math.abs(mx - x) <= big / 2 + 2 && Math.abs(my - y) <= big / 2 + 2) return i;
    }
    const reach = s / 2 + 2;
    let best = -1, bestD = reach * reach;
    this._each(this._cells(mx - reach, my - reach, mx + reach, my + reach), (i) => {
      if (this._out(i)) return;
      const [x, y] = this._screen(i);
      const d = (mx - x) ** 2 + (my - y) ** 2;
      if (d <= bestD) { best = i; bestD = d; }
    });
    return best;
  }

  // a point's name and content hash (asked from the server once)
  async about(i) {
    if (!this.names.has(i)) {
      const res = await fetch(`/api/map/point?i=${i}`);
      if (!res.ok) return null;
      this.names.set(i, await res.json());
    }
    return this.names.get(i);
  }

  _bind() {
    const c = this.canvas;
    let drag = null, hovered = -1;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015);
      const scale = Math.min(Math.max(this.view.scale * f, 50), 4e6);
      const k = scale / this.view.scale;
      this.view.x = mx - (mx - this.view.x) * k;
      this.view.y = my - (my - this.view.y) * k;
      this.view.scale = scale;
      this.request();
    }, { passive: false });
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y, moved: false };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", async (e) => {
      const r = c.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; c.classList.add("dragging"); }
        if (drag.moved) {
          this.view.x = drag.vx + dx; this.view.y = drag.vy + dy; this.request();
          this.tip.hidden = true;
          return;
        }
      }
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      hovered = i;
      if (i < 0) { this.tip.hidden = true; return; }
      const about = await this.about(i);
      if (hovered !== i || !about) return;
      this.tip.textContent = about.name;
      this.tip.style.left = `${e.clientX - r.left + 14}px`;
      this.tip.style.top = `${e.clientY - r.top + 10}px`;
      this.tip.hidden = false;
    });
    c.addEventListener("pointerleave", () => { hovered = -1; this.tip.hidden = true; });
    c.addEventListener("pointerup", async (e) => {
      const r = c.getBoundingClientRect();
      const wasDrag = drag && drag.moved;
      drag = null;
      c.classList.remove("dragging");
      if (wasDrag) return;
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      const about = i >= 0 ? await this.about(i) : null;
      if (about) this.onPick(about.name, about.hash, i);
    });
  }

  // screen position of a map point (tests click it)
  screenOf(i) { return this.points && i >= 0 && i < this.points.n ? this._screen(i) : null; }
}
