// The collection map: every image as a thumbnail (cut from the atlases) at its 2-D position,
// zoom with the wheel, pan by dragging, click to use an image; a chain drawn over it.
// Text from the collection only ever goes into textContent.

const CHAIN = "#d6285a", SOURCE = "#148c46", TARGET = "#2850c8";

export class MapView {
  constructor(canvas, tip, onPick) {
    this.canvas = canvas;
    this.tip = tip;
    this.onPick = onPick;
    this.ctx = canvas.getContext("2d");
    this.points = null;
    this.sheets = new Map();
    this.chain = [];
    this.inside = null;  // content hashes inside the active filter (null: no filter)
    this.view = { scale: 1, x: 0, y: 0 };
    this.painted = false;
    this.pending = false;
    this._bind();
    new ResizeObserver(() => this._resize()).observe(canvas);
  }

  async load() {
    const t0 = performance.now();
    const res = await fetch("/api/map");
    const data = await res.json();
    const p = data.points;
    const n = p.hash.length;
    this.cell = data.cell || 64;
    this.side = data.side || 32;
    const xs = Float64Array.from(p.x), ys = Float64Array.from(p.y);
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, xs[i]); maxX = Math.max(maxX, xs[i]);
      minY = Math.min(minY, ys[i]); maxY = Math.max(maxY, ys[i]);
    }
    const span = Math.max(maxX - minX, maxY - minY, 1e-9);
    const u = new Float32Array(n), v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      u[i] = (xs[i] - (minX + maxX) / 2) / span;
      v[i] = (ys[i] - (minY + maxY) / 2) / span;
    }
    this.points = { n, u, v, hash: p.hash, name: p.name, sheet: p.sheet, slot: p.slot };
    this.index = new Map(p.hash.map((h, i) => [h, i]));
    this.canvas.dataset.points = String(n);
    if (this.chainHashes) this.setChain(this.chainHashes);
    this._resize();
    this.fit();
    const loads = data.atlases.map((a) => new Promise((resolve) => {
      const img = new Image();
      img.onload = () => { this.sheets.set(a.sheet, this._levels(img)); this.request(); resolve(); };
      img.onerror = () => resolve();
      img.src = a.url;
    }));
    await Promise.all(loads);
    await new Promise((r) => requestAnimationFrame(r));
    this.draw();
    const ms = performance.now() - t0;
    this.canvas.dataset.painted = "1";
    this.canvas.dataset.paintMs = ms.toFixed(0);
    performance.mark("xdeg-map-painted");
    window.xdegMapPaint = { fromLoadStart: ms, fromNavigation: performance.now() };
  }

  // the sheet at its own cell size and at 32 and 16 px cells: small thumbnails are cut from a
  // small sheet (10,000 draws from a 2048 px sheet are slow without a GPU)
  _levels(img) {
    const levels = [{ cell: this.cell, src: img }];
    for (const cell of [32, 16]) {
      if (cell >= this.cell) continue;
      const k = cell / this.cell;
      const c = document.createElement("canvas");
      c.width = Math.round(img.width * k); c.height = Math.round(img.height * k);
      const g = c.getContext("2d");
      g.imageSmoothingQuality = "high";
      g.drawImage(img, 0, 0, c.width, c.height);
      levels.push({ cell, src: c });
    }
    return levels;
  }

  _resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = r.width; this.h = r.height;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.request();
  }

  fit(indices) {
    if (!this.points) return;
    let ids = indices && indices.length ? indices : null;
    let minU = -0.5, maxU = 0.5, minV = -0.5, maxV = 0.5;
    if (ids) {
      minU = Math.min(...ids.map((i) => this.points.u[i])); maxU = Math.max(...ids.map((i) => this.points.u[i]));
      minV = Math.min(...ids.map((i) => this.points.v[i])); maxV = Math.max(...ids.map((i) => this.points.v[i]));
    }
    const spanU = Math.max(maxU - minU, 0.05), spanV = Math.max(maxV - minV, 0.05);
    const pad = 60;
    this.view.scale = Math.min((this.w - 2 * pad) / spanU, (this.h - 2 * pad) / spanV);
    this.view.x = this.w / 2 - ((minU + maxU) / 2) * this.view.scale;
    this.view.y = this.h / 2 - ((minV + maxV) / 2) * this.view.scale;
    this.request();
  }

  setChain(hashes) {
    this.chainHashes = hashes || [];
    this.chain = this.chainHashes.map((h) => this.index ? this.index.get(h) : undefined)
      .filter((i) => i !== undefined);
    this.canvas.dataset.chain = String(this.chain.length);
    this.request();
  }

  fitChain() { if (this.chain.length) this.fit(this.chain); }

  // dim the images outside a filter (a Set of content hashes; null: none); they cannot be picked
  setFilter(hashes) {
    this.inside = hashes;
    this.canvas.dataset.inside = hashes ? String(hashes.size) : "all";
    this.request();
  }

  _out(i) { return this.inside !== null && !this.inside.has(this.points.hash[i]); }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  _screen(i) {
    return [this.points.u[i] * this.view.scale + this.view.x, this.points.v[i] * this.view.scale + this.view.y];
  }

  _size() {
    const z = this.view.scale / Math.min(this.w, this.h);
    return Math.max(6, Math.min(48, 18 * Math.sqrt(z) * Math.sqrt(4000 / Math.max(this.points.n, 1))));
  }

  _drawThumb(i, x, y, s) {
    const sheet = this.sheets.get(this.points.sheet[i]);
    const ctx = this.ctx;
    if (!sheet) {
      ctx.fillStyle = "#a0a0aa";
      ctx.fillRect(x - 2, y - 2, 4, 4);
      return;
    }
    const need = s * (window.devicePixelRatio || 1);
    let level = sheet[0];
    for (const l of sheet) if (l.cell >= need) level = l;
    const slot = this.points.slot[i], c = level.cell;
    ctx.drawImage(level.src, (slot % this.side) * c, Math.floor(slot / this.side) * c, c, c,
      x - s / 2, y - s / 2, s, s);
  }

  draw() {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.w, this.h);
    if (!this.points) return;
    const s = this._size();
    const n = this.points.n;
    const dim = this.chain.length > 0;
    for (let i = 0; i < n; i++) {
      const [x, y] = this._screen(i);
      if (x < -s || y < -s || x > this.w + s || y > this.h + s) continue;
      const out = this._out(i);
      if (out) ctx.globalAlpha = 0.12;
      this._drawThumb(i, x, y, s);
      if (out) ctx.globalAlpha = 1;
    }
    if (dim) {
      ctx.fillStyle = "rgba(255,255,255,0.6)";
      ctx.fillRect(0, 0, this.w, this.h);
      this._drawChain(this._big(s));
    }
  }

  _drawChain(big) {
    const ctx = this.ctx;
    const pts = this.chain.map((i) => this._screen(i));
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
      this._drawThumb(i, x, y, big);
      ctx.lineWidth = 2; ctx.strokeStyle = colour;
      ctx.strokeRect(x - big / 2 - 2, y - big / 2 - 2, big + 4, big + 4);
      const tag = String(k + 1), tw = ctx.measureText(tag).width + 6;
      ctx.fillStyle = colour;
      ctx.fillRect(x - big / 2 - 2, y - big / 2 - 16, tw, 14);
      ctx.fillStyle = "#fff";
      ctx.fillText(tag, x - big / 2 + 1, y - big / 2 - 5);
    });
  }

  _big(s) { return Math.min(Math.max(28, s * 1.6), 64); }

  hit(mx, my) {
    if (!this.points) return -1;
    const s = this._size();
    const candidates = this.chain.length ? [...this.chain].reverse() : [];
    const big = this._big(s);
    for (const i of candidates) {
      const [x, y] = this._screen(i);
      if (Math.abs(mx - x) <= big / 2 + 2 && Math.abs(my - y) <= big / 2 + 2) return i;
    }
    let best = -1, bestD = (s / 2 + 2) ** 2;
    for (let i = 0; i < this.points.n; i++) {
      if (this._out(i)) continue;
      const [x, y] = this._screen(i);
      const d = (mx - x) ** 2 + (my - y) ** 2;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  }

  _bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015);
      const scale = Math.min(Math.max(this.view.scale * f, 50), 400000);
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
    c.addEventListener("pointermove", (e) => {
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
      if (i < 0) { this.tip.hidden = true; return; }
      this.tip.textContent = this.points.name[i];
      this.tip.style.left = `${e.clientX - r.left + 14}px`;
      this.tip.style.top = `${e.clientY - r.top + 10}px`;
      this.tip.hidden = false;
    });
    c.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    c.addEventListener("pointerup", (e) => {
      const r = c.getBoundingClientRect();
      const wasDrag = drag && drag.moved;
      drag = null;
      c.classList.remove("dragging");
      if (wasDrag) return;
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      if (i >= 0) this.onPick(this.points.name[i], this.points.hash[i]);
    });
  }

  // screen position of an image (tests click it)
  screenOf(name) {
    const i = this.points ? this.points.name.indexOf(name) : -1;
    return i < 0 ? null : this._screen(i);
  }
}
