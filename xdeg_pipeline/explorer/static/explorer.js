// The explorer page: search, gallery, request (source, target, via, avoid, mode), chains,
// exports and the map. No framework; every piece of collection text goes through textContent.
import { MapView } from "/static/map.js";

const $ = (id) => document.getElementById(id);
const state = { source: null, target: null, via: [], avoid: [], mode: "smooth", steps: 5,
  alternatives: 1, pick: "source", where: [], chain: [] };  // chain: the pinned chain's images
const known = new Map();  // name -> {content_hash, caption}
let requestSeq = 0;
let lastChains = [];
let map;
let attribution = "";  // the collection's credit line (footer): not repeated per image

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function thumbImg(hash, alt) {
  return el("img", { src: `/thumb/${hash}`, alt: alt || "", loading: "lazy", decoding: "async" });
}

// ------------------------------------------------------------------------------- credits
// An http(s) URL as given, else null: nothing else becomes a link.
function webLink(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? value : null;
  } catch { return null; }
}

// `text` linking to `url` in a new tab (an http(s) URL only), else a plain span.
function linked(text, url, cls) {
  const href = webLink(url);
  if (!href) return el("span", { class: cls, text });
  return el("a", { class: cls, href, target: "_blank", rel: "noopener", title: href, text,
    onclick: (e) => e.stopPropagation() });
}

// The credit and the rights of an image, leaving out what the page's footer says.
function creditParts(info) {
  const fresh = (v) => v && !(attribution && attribution.includes(v));
  return { credit: fresh(info.credit) ? info.credit : null,
    rights: fresh(info.rights) ? info.rights : null };
}

function creditLines(info) {
  const { credit, rights } = creditParts(info);
  const out = [];
  if (credit) out.push(el("span", { class: "credit", title: credit, text: credit }));
  if (rights) out.push(linked(info.rights_label || rights, rights, "rights"));
  return out;
}

// The credits of a whole chain, one line per image that has something to say.
function chainCredits(chain) {
  const ol = el("ol", { class: "credits" });
  chain.path.forEach((name, i) => {
    const info = known.get(name) || {};
    const { credit, rights } = creditParts(info);
    if (!credit && !rights && !webLink(info.link) && !info.creator && !info.date) return;
    const li = el("li", { value: String(i + 1), dataset: { name } },
      [linked(info.label || info.caption || name, info.link, "object-link")]);
    const who = [info.creator, info.date].filter(Boolean).join(", ");
    if (who) li.append(el("span", { class: "muted", text: ` \u2014 ${who}` }));
    if (credit) li.append(el("span", { text: `. ${credit}` }));
    if (rights) li.append(el("span", { text: ". " }), linked(info.rights_label || rights, rights,
      "rights"));
    ol.append(li);
  });
  if (!ol.children.length) return null;
  return el("div", { class: "chain-credits" }, [el("h4", { text: "Credits" }), ol]);
}

// ------------------------------------------------------------------------------- URL state
function queryParams() {
  const p = new URLSearchParams();
  if (state.source) p.set("source", state.source);
  if (state.target) p.set("target", state.target);
  if (state.mode !== "smooth") p.set("mode", state.mode);
  if (state.mode === "steps") p.set("steps", String(state.steps));
  if (state.alternatives > 1) p.set("alternatives", String(state.alternatives));
  for (const v of state.via) p.append("via", v);
  for (const a of state.avoid) p.append("avoid", a);
  for (const w of state.where) p.append("where", w);
  for (const c of state.chain) p.append("chain", c);  // a shared link keeps its chain
  return p;
}

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.source = p.get("source");
  state.target = p.get("target");
  state.mode = ["smooth", "steps", "shortest"].includes(p.get("mode")) ? p.get("mode") : "smooth";
  const steps = parseInt(p.get("steps"), 10);
  if (!Number.isNaN(steps)) { state.steps = steps; if (!p.get("mode")) state.mode = "steps"; }
  const alt = parseInt(p.get("alternatives"), 10);
  state.alternatives = Number.isNaN(alt) ? 1 : Math.min(Math.max(alt, 1), 5);
  state.via = p.getAll("via");
  state.avoid = p.getAll("avoid");
  state.where = p.getAll("where").filter((w) => w.trim());
  state.chain = p.getAll("chain").filter((c) => c.trim());
}

function writeUrl() {
  const q = queryParams().toString();
  history.replaceState(null, "", q ? `?${q}` : location.pathname);
}

// ------------------------------------------------------------------------------- request UI
function chip(name, onRemove) {
  const info = known.get(name);
  const c = el("span", { class: "chip", title: name });
  if (info) c.append(thumbImg(info.content_hash, ""));
  c.append(el("span", { class: "label", text: info ? info.caption : name }));
  if (onRemove) c.append(el("button", { type: "button", title: "remove", "aria-label": "remove",
    text: "\u00d7", onclick: onRemove }));
  return c;
}

function renderRequest() {
  for (const end of ["source", "target"]) {
    const slot = $(end);
    if (state[end]) {
      const c = chip(state[end], () => { state[end] = null; changed(); });
      c.id = end;
      c.dataset.name = state[end];
      slot.replaceWith(c);
    } else {
      slot.replaceWith(el("span", { id: end, class: "chip empty", text: "click an image" }));
    }
  }
  for (const list of ["via", "avoid"]) {
    const box = $(list);
    box.replaceChildren();
    state[list].forEach((name, i) => box.append(chip(name, () => {
      state[list].splice(i, 1); changed();
    })));
    if (!state[list].length) box.append(el("span", { class: "muted", text: "none" }));
  }
  document.querySelector(`#mode input[value="${state.mode}"]`).checked = true;
  document.querySelector(`#pick input[value="${state.pick}"]`).checked = true;
  $("steps").value = String(state.steps);
  $("steps-value").textContent = String(state.steps);
  $("steps").closest("label").classList.toggle("off", state.mode !== "steps");
  $("alternatives").value = String(state.alternatives);
  const ready = Boolean(state.source && state.target);
  for (const fmt of ["png", "html", "gif", "webp"]) {
    const a = $(`export-${fmt}`);
    a.classList.toggle("disabled", !ready);
    if (ready) {
      const p = queryParams();
      p.set("format", fmt);
      a.href = `/api/export?${p}`;
    } else a.removeAttribute("href");
  }
  $("copy-link").disabled = !ready;
}

function use(name, info) {
  if (info) known.set(name, info);
  if (state.pick === "via") {
    if (!state.via.includes(name)) state.via.push(name);
  } else {
    state[state.pick] = name;
    if (state.pick === "source") state.pick = "target";
    else if (state.pick === "target") state.pick = "source";
  }
  state.avoid = state.avoid.filter((a) => a !== name);
  changed();
}

function changed(keepChain = false) {
  if (!keepChain) state.chain = [];  // a new request: the chain found for it is pinned once shown
  writeUrl();
  renderRequest();
  if (state.source && state.target) findPath();
  else { showChains([]); message(""); }
}

function message(text, isError = false, closest = [], parameter = null, name = null) {
  const m = $("message");
  const shown = closest.length ? text.split("; closest:")[0] : text;
  m.replaceChildren(el("span", { text: shown }));
  m.classList.toggle("error", isError);
  if (closest.length) {
    m.append(el("span", { class: "muted", text: parameter ? " \u2014 use instead: " : " closest: " }));
    for (const c of closest) m.append(el("button", { type: "button", text: c, onclick: () => {
      if (parameter === "source" || parameter === "target") state[parameter] = c;
      else if (parameter === "avoid" || parameter === "via") {
        state[parameter] = state[parameter].map((x) => (x === name ? c : x));
      } else { $("search").value = c; search(c); return; }
      changed();
    } }));
  }
}

// ------------------------------------------------------------------------------- chains
async function findPath() {
  const seq = ++requestSeq;
  message("finding a chain\u2026");
  let res, body;
  try {
    res = await fetch(`/api/path?${queryParams()}`);
    body = await res.json();
  } catch (err) {
    if (seq === requestSeq) message(`the server did not answer (${err})`, true);
    return;
  }
  if (seq !== requestSeq) return;  // a newer request is on its way
  if (!res.ok) {
    showChains([]);
    message(body.error || `error ${res.status}`, true, body.closest || [], body.parameter,
      body.name);
    return;
  }
  for (const [name, info] of Object.entries(body.images || {})) known.set(name, info);
  const first = body.chains[0];  // the names as resolved (a stem in the URL becomes the name)
  if (first && first.path.length > 1) {
    state.source = first.path[0];
    state.target = first.path[first.path.length - 1];
    state.chain = state.alternatives === 1 ? first.path.slice() : [];  // the link pins it
    writeUrl();
  }
  renderRequest();
  showChains(body.chains);
  const c = body.chains[0];
  message(`${c.path.length} images, ${c.hops} steps, largest step ${c.largest_step.toFixed(3)}` +
    (body.chains.length > 1 ? `; ${body.chains.length} alternatives` : ""));
  pinNote(c.pin);
  earlierNote(c.earlier);
}

function earlierNote(earlier) {  // this pair's chain answered before (explorer/answers.py)
  if (!earlier || earlier.kept) return;
  $("message").append(el("div", { id: "earlier-note", class: "muted",
    text: `The chain shown before for this pair changed: ${earlier.reason}.` }));
}

function pinNote(pin) {  // a shared (pinned) chain: kept, no longer possible, or bettered today
  if (!pin) return;
  const m = $("message");
  const note = el("div", { id: "pin-note", class: "muted" });
  if (!pin.kept) {
    note.textContent = `The shared chain is no longer possible (${pin.reason}); this is today's chain.`;
  } else if (pin.better) {
    note.append(el("span", { text: "This is the shared chain. A better one exists today " +
      `(${pin.better.hops} steps, largest ${pin.better.largest_step.toFixed(3)}). ` }));
    note.append(el("button", { id: "pin-better", type: "button", text: "Show it",
      onclick: () => { state.chain = []; findPath(); } }));
  } else {
    note.textContent = "This is the shared chain; it still holds.";
  }
  m.append(note);
}

function showChains(chains) {
  lastChains = chains;
  const box = $("chains");
  box.replaceChildren();
  chains.forEach((chain, k) => {
    const ol = el("ol", { class: "chain", dataset: { alternative: String(k) } });
    chain.path.forEach((name, i) => {
      if (i > 0) {
        const step = el("li", { class: "step", title: "step distance: click to see why these two are neighbours",
          text: `\u2192 ${chain.steps[i - 1].toFixed(3)}` });
        const prev = chain.path[i - 1];
        step.addEventListener("click", () => explainStep(prev, name));
        ol.append(step);
      }
      const info = known.get(name) || {};
      const last = i === chain.path.length - 1;
      const cls = i === 0 ? "item first" : last ? "item last" : "item inner";
      const li = el("li", { class: cls, title: i === 0 || last ? name : `${name}\nclick: avoid it and find another chain`,
        dataset: { name } });
      if (info.content_hash) li.append(thumbImg(info.content_hash, info.caption || name));
      li.append(linked(info.caption || name, info.link, "caption"), ...creditLines(info));
      if (!(i === 0 || last)) li.addEventListener("click", () => {
        if (!state.avoid.includes(name)) state.avoid.push(name);
        changed();
      });
      ol.append(li);
    });
    const title = chains.length > 1 ? `Alternative ${k + 1}: ` : "";
    const credits = chainCredits(chain);
    box.append(el("div", { class: "chain-block" }, [
      el("h3", { text: `${title}${chain.hops} steps, largest ${chain.largest_step.toFixed(3)}` }),
      ol, ...(credits ? [credits] : [])]));
  });
  const first = chains[0];
  map && map.setChain(first ? first.path.map((n) => (known.get(n) || {}).point) : []);
  $("map-chain").disabled = !first;
}

// ------------------------------------------------------------------------------- explain
async function explainStep(a, b) {
  const dlg = $("explain");
  const text = $("explain-text");
  const img = $("explain-img");
  const p = new URLSearchParams({ a, b });
  text.textContent = "\u2026";
  img.removeAttribute("src");
  img.hidden = true;
  if (!dlg.open) dlg.showModal();
  const res = await fetch(`/api/explain?${p}&format=json`);
  const body = await res.json();
  if (!res.ok) { text.textContent = body.error || `error ${res.status}`; return; }
  text.textContent = body.message ? `${body.sentence} ${body.message}` : body.sentence;
  if (body.spatial) {
    img.src = `/api/explain?${p}`;
    img.hidden = false;
  }
}

// ------------------------------------------------------------------------------- gallery
let searchTimer = null;
async function search(q) {
  const p = new URLSearchParams({ q, limit: "120" });
  for (const w of state.where) p.append("where", w);
  const res = await fetch(`/api/images?${p}`);
  const body = await res.json();
  if (!res.ok) { message(body.error, true); return; }
  const g = $("gallery");
  g.replaceChildren();
  for (const img of body.images) {
    known.set(img.name, img);
    g.append(el("button", { type: "button", title: img.name, dataset: { name: img.name },
      onclick: () => use(img.name, img) },
    [thumbImg(img.content_hash, img.caption), el("span", { class: "caption", text: img.caption })]));
  }
  const inside = state.where.length ? " inside the filter" : "";
  $("gallery-note").textContent = q ? `${body.images.length} found for \u201c${q}\u201d${inside}`
    : `${body.total} images${inside}; the first ${body.images.length}`;
}

// ------------------------------------------------------------------------------- filter
// conditions FIELD OP VALUE (= != ~ < <= > >=) joined by AND: the gallery, the map and every
// chain asked for stay inside them (the server checks and applies them)
async function setFilter(text, keepChain = false) {
  const where = text.trim() ? [text.trim()] : [];
  const note = $("filter-note");
  if (where.length) {
    const p = new URLSearchParams();
    p.append("where", where[0]);
    let res, body;
    try {
      res = await fetch(`/api/filter?${p}`);
      body = await res.json();
    } catch (err) {
      note.textContent = `the server did not answer (${err})`;
      note.classList.add("error");
      return;
    }
    if (!res.ok) {
      note.textContent = body.error || `error ${res.status}`;
      note.classList.add("error");
      return;
    }
    note.textContent = `${body.images} of ${body.total} images match ${body.filter}`;
    note.title = `fields: ${body.fields.join(", ")}`;
    map && map.setFilter(body.points);
  } else {
    note.textContent = "";
    map && map.setFilter(null);
  }
  note.classList.remove("error");
  state.where = where;
  $("filter").value = where.join(" AND ");
  $("filter").closest(".row").classList.toggle("active", where.length > 0);
  $("filter-clear").disabled = !where.length;
  search($("search").value);
  changed(keepChain);
}

async function randomPair() {  // two images of the map (inside the filter, if one is active)
  if (!map || !map.points) return;
  const n = map.points.n;
  const inside = map.inside ? map.inside.reduce((a, b) => a + b, 0) : n;
  if (inside < 2) return;
  const draw = () => {  // a random point inside the filter
    for (;;) { const i = Math.floor(Math.random() * n); if (!map._out(i)) return i; }
  };
  const k = draw();
  let l = draw();
  while (l === k) l = draw();
  const [a, b] = await Promise.all([map.about(k), map.about(l)]);
  if (!a || !b) return;
  Object.assign(state, { source: a.name, target: b.name, via: [], avoid: [], pick: "source" });
  known.set(a.name, known.get(a.name) || { content_hash: a.hash, caption: a.name, point: k });
  known.set(b.name, known.get(b.name) || { content_hash: b.hash, caption: b.name, point: l });
  changed();
}

// ------------------------------------------------------------------------------- wiring
function wire() {
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(e.target.value), 180);
  });
  $("random").addEventListener("click", randomPair);
  document.querySelectorAll("#pick input").forEach((r) => r.addEventListener("change", () => {
    state.pick = r.value;
  }));
  document.querySelectorAll("#mode input").forEach((r) => r.addEventListener("change", () => {
    state.mode = r.value; changed();
  }));
  let stepsTimer = null;
  $("steps").addEventListener("input", (e) => {
    state.steps = parseInt(e.target.value, 10);
    $("steps-value").textContent = String(state.steps);
    if (state.mode !== "steps") { state.mode = "steps"; }
    clearTimeout(stepsTimer);
    stepsTimer = setTimeout(changed, 150);
  });
  $("alternatives").addEventListener("change", (e) => {
    state.alternatives = parseInt(e.target.value, 10); changed();
  });
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); message("link copied"); }
    catch { message(location.href); }
  });
  $("clear").addEventListener("click", () => {
    Object.assign(state, { source: null, target: null, via: [], avoid: [], pick: "source" });
    changed();
  });
  $("filter-apply").addEventListener("click", () => setFilter($("filter").value));
  $("filter").addEventListener("keydown", (e) => {
    if (e.key === "Enter") setFilter($("filter").value);
  });
  $("filter-clear").addEventListener("click", () => setFilter(""));
  $("map-fit").addEventListener("click", () => map.fit());
  $("map-chain").addEventListener("click", () => map.fitChain());
}

async function status() {
  const res = await fetch("/api/status");
  const s = await res.json();
  $("status").textContent = s.counts;
  if (s.loading) setTimeout(status, 1000);  // the path finder is still loading
  attribution = s.attribution || "";
  $("attribution").textContent = attribution;
}

async function main() {
  wire();
  readUrl();
  renderRequest();
  map = new MapView($("map"), $("map-tip"), (name, hash, point) => use(name, {
    content_hash: hash, caption: (known.get(name) || {}).caption || name, point }));
  window.xdegMap = map;
  status();
  const mapLoaded = map.load();
  const shared = state.where.join(" AND ");  // a shared link's filter
  state.where = [];
  if (shared) {
    $("filter").value = shared;
    await setFilter(shared, true);  // a shared link keeps its pinned chain
    if (state.where.length) return;  // applied: it searched and asked for the chain
  }
  search("");
  if (state.source && state.target) {
    await mapLoaded.catch(() => {});
    findPath();
  }
}

main();
