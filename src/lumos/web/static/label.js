// The labelling tool: one canvas for every kind of project, keys for everything, the next
// images fetched and decoded ahead so the next one shows at once. Uses lumos.js's helpers.
"use strict";

const KEYS = "1234567890";
const COLOURS = ["#ff5b5b", "#3fb4ff", "#ffd23f", "#5ee37a", "#c77dff", "#ff9f43", "#2ee6d6", "#ff6bd6", "#a3e635", "#f8fafc"];
const HANDLE = 6; // pixels on screen around a box corner that grab it
const AHEAD = 3; // images fetched and decoded ahead
window.lumosLabelTimings = []; // milliseconds from a key press to the next image drawn

async function labelsPage() {
  const projects = await api("/api/label");
  fillTable($("#label-projects"), projects, (p) => el("tr", {},
    el("td", {}, el("a", { href: `/label/${encodeURIComponent(p.name)}` }, p.name)),
    el("td", {}, p.task), el("td", {}, String(p.progress.images)), el("td", {}, String(p.progress.labelled)),
    el("td", {}, Object.keys(p.progress.annotators).join(", ") || "–"),
    el("td", {}, p.progress.prelabels_accepted === null ? "–" : `${Math.round(100 * p.progress.prelabels_accepted)}%`)),
  "no label projects yet: create one below");
  $("#label-new").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = {
      name: form.get("name"), task: form.get("task"), multi_label: form.get("multi_label") === "on",
      classes: form.get("classes").split(",").map((c) => c.trim()).filter(Boolean),
      images: form.get("images") || null, dataset: form.get("dataset") || null,
    };
    const made = await api("/api/label", { method: "POST", json: body });
    window.location = `/label/${encodeURIComponent(made.name)}`;
  }));
}

// The view of an image on the canvas: scale and offset, zoom about a point, pan.
class View {
  constructor(canvas) {
    this.canvas = canvas;
    this.scale = 1; this.x = 0; this.y = 0;
  }
  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = this.canvas.clientWidth * ratio;
    this.canvas.height = this.canvas.clientHeight * ratio;
  }
  fit(width, height) {
    const { width: w, height: h } = this.canvas;
    this.scale = Math.min(w / width, h / height) * 0.96;
    this.x = (w - width * this.scale) / 2; this.y = (h - height * this.scale) / 2;
  }
  point(event) { // canvas pixels of a mouse event
    const box = this.canvas.getBoundingClientRect();
    const ratio = this.canvas.width / box.width;
    return [(event.clientX - box.left) * ratio, (event.clientY - box.top) * ratio];
  }
  toImage([px, py]) { return [(px - this.x) / this.scale, (py - this.y) / this.scale]; }
  zoom(factor, [px, py]) {
    this.x = px - (px - this.x) * factor; this.y = py - (py - this.y) * factor; this.scale *= factor;
  }
}

// One editor per kind: the value it edits, what keys and the mouse do, how it is drawn.
class ClassEditor {
  constructor(tool) { this.tool = tool; this.value = null; }
  load(value) { this.value = value && value.classes ? { classes: [...value.classes] } : { classes: [] }; }
  choose(name) {
    if (!this.tool.multi) { this.value = { classes: [name] }; return this.tool.commit(true); }
    const chosen = new Set(this.value.classes);
    chosen.has(name) ? chosen.delete(name) : chosen.add(name);
    this.value = { classes: this.tool.classes.filter((c) => chosen.has(c)) };
    this.tool.draw();
  }
  ready() { return this.value.classes.length > 0; }
  undoEdit() { return false; }
  chosen() { return this.value.classes; }
  draw() {}
}

class ShapeEditor { // boxes and polygons share selection, undo, copy and drawing of labels
  constructor(tool, key) { this.tool = tool; this.key = key; this.items = []; this.edits = []; this.selected = -1; this.current = tool.classes[0]; }
  load(value) { this.items = value && value[this.key] ? structuredClone(value[this.key]) : []; this.edits = []; this.selected = -1; }
  get value() { return { [this.key]: this.items }; }
  remember() { this.edits.push(structuredClone(this.items)); }
  undoEdit() {
    if (!this.edits.length) return false;
    this.items = this.edits.pop(); this.selected = -1; this.tool.draw(); return true;
  }
  copy(items) { this.remember(); this.items = structuredClone(items); this.tool.draw(); }
  choose(name) {
    this.current = name;
    if (this.selected >= 0) { this.remember(); this.items[this.selected].class = name; }
    this.tool.draw();
  }
  remove() {
    if (this.selected < 0) return;
    this.remember(); this.items.splice(this.selected, 1); this.selected = -1; this.tool.draw();
  }
  ready() { return true; }
  chosen() { return this.selected >= 0 ? [this.items[this.selected].class] : [this.current]; }
  colour(name) { return COLOURS[this.tool.classes.indexOf(name) % COLOURS.length]; }
}

class BoxEditor extends ShapeEditor {
  constructor(tool) { super(tool, "boxes"); this.drag = null; }
  hit([x, y]) { // [index, corner or null]; topmost first
    const grab = HANDLE / this.tool.view.scale;
    if (this.selected >= 0) {
      const b = this.items[this.selected];
      const corners = [[b.x1, b.y1], [b.x2, b.y1], [b.x2, b.y2], [b.x1, b.y2]];
      const corner = corners.findIndex(([cx, cy]) => Math.abs(cx - x) <= grab && Math.abs(cy - y) <= grab);
      if (corner >= 0) return [this.selected, corner];
    }
    for (let i = this.items.length - 1; i >= 0; i--) {
      const b = this.items[i];
      if (x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2) return [i, null];
    }
    return [-1, null];
  }
  down(at) {
    const [index, corner] = this.hit(at);
    this.remember();
    if (index < 0) {
      this.items.push({ x1: at[0], y1: at[1], x2: at[0], y2: at[1], class: this.current });
      this.selected = this.items.length - 1;
      this.drag = { kind: "corner", corner: 2 };
    } else {
      this.selected = index;
      this.drag = corner === null ? { kind: "move", from: at } : { kind: "corner", corner };
    }
    this.tool.draw();
  }
  move(at) {
    if (!this.drag) return;
    const b = this.items[this.selected];
    if (this.drag.kind === "move") {
      const dx = at[0] - this.drag.from[0], dy = at[1] - this.drag.from[1];
      b.x1 += dx; b.x2 += dx; b.y1 += dy; b.y2 += dy; this.drag.from = at;
    } else {
      const c = this.drag.corner;
      if (c === 0 || c === 3) b.x1 = at[0]; else b.x2 = at[0];
      if (c === 0 || c === 1) b.y1 = at[1]; else b.y2 = at[1];
    }
    this.tool.draw();
  }
  up() {
    if (!this.drag) return;
    this.drag = null;
    const b = this.items[this.selected];
    [b.x1, b.x2] = [Math.min(b.x1, b.x2), Math.max(b.x1, b.x2)];
    [b.y1, b.y2] = [Math.min(b.y1, b.y2), Math.max(b.y1, b.y2)];
    if (b.x2 - b.x1 < 2 || b.y2 - b.y1 < 2) { // a click, not a box
      this.items.splice(this.selected, 1); this.edits.pop(); this.selected = -1;
    }
    this.tool.draw();
  }
  draw(context, view, items = this.items, dashed = false) {
    context.lineWidth = 2;
    context.setLineDash(dashed ? [6, 4] : []);
    context.font = "12px system-ui";
    items.forEach((b, i) => {
      const [x, y] = [view.x + b.x1 * view.scale, view.y + b.y1 * view.scale];
      const [w, h] = [(b.x2 - b.x1) * view.scale, (b.y2 - b.y1) * view.scale];
      context.strokeStyle = this.colour(b.class);
      context.strokeRect(x, y, w, h);
      if (items.length < 100 || i === this.selected) {
        context.fillStyle = this.colour(b.class);
        context.fillText(b.class, x + 2, y - 3);
      }
      if (!dashed && i === this.selected) {
        context.fillStyle = "#fff";
        for (const [cx, cy] of [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) context.fillRect(cx - 4, cy - 4, 8, 8);
      }
    });
    context.setLineDash([]);
  }
}

class PolygonEditor extends ShapeEditor {
  constructor(tool) { super(tool, "polygons"); this.open = null; }
  inside([x, y], points) {
    let hit = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i], [xj, yj] = points[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }
  down(at) {
    if (this.open) { this.open.push(at); this.tool.draw(); return; }
    const index = this.items.map((p, i) => [p, i]).reverse().find(([p]) => this.inside(at, p.points));
    if (index) { this.selected = index[1]; this.tool.draw(); return; }
    this.selected = -1; this.open = [at]; this.tool.draw();
  }
  move() {}
  up() {}
  close() { // Enter: the open polygon is done (true), or there is none (false)
    if (!this.open) return false;
    if (this.open.length >= 3) { this.remember(); this.items.push({ class: this.current, points: this.open }); }
    this.open = null; this.tool.draw(); return true;
  }
  cancel() { this.open = null; this.tool.draw(); }
  draw(context, view, items = this.items, dashed = false) {
    const path = (points) => {
      context.beginPath();
      points.forEach(([x, y], i) => context[i ? "lineTo" : "moveTo"](view.x + x * view.scale, view.y + y * view.scale));
    };
    context.lineWidth = 2;
    context.setLineDash(dashed ? [6, 4] : []);
    items.forEach((p, i) => {
      path(p.points); context.closePath();
      context.strokeStyle = this.colour(p.class);
      context.globalAlpha = i === this.selected ? 0.5 : 0.3; context.fillStyle = this.colour(p.class); context.fill();
      context.globalAlpha = 1; context.stroke();
    });
    if (this.open && !dashed) { path(this.open); context.strokeStyle = "#fff"; context.stroke(); }
    context.setLineDash([]);
  }
}

const EDITORS = { classification: ClassEditor, detection: BoxEditor, segmentation: PolygonEditor };

class LabelTool {
  constructor(root) {
    this.name = root.dataset.name;
    this.classes = JSON.parse(root.dataset.classes);
    this.multi = root.dataset.multi === "true";
    this.base = `/api/label/${encodeURIComponent(this.name)}`;
    this.canvas = $("#label-canvas");
    this.view = new View(this.canvas);
    this.editor = new EDITORS[root.dataset.task](this);
    this.ids = []; this.position = 0; this.current = null;
    this.cache = new Map(); // image id -> {image: Promise<Image>, label: Promise<json>}
    this.saves = []; // what undo takes back: {id, before, revision}
    this.previous = null; // the last image's labels, for "copy previous"
    this.overlay = null; // another annotator's labels shown (review)
  }
  get annotator() { return $("#annotator").value.trim(); }
  async start() {
    $("#annotator").value = localStorage.getItem("lumos-annotator") || "";
    $("#annotator").addEventListener("change", guarded(() => { localStorage.setItem("lumos-annotator", this.annotator); return this.reload(); }));
    const show = $("#label-show");
    show.append(el("option", { value: "all" }, "all images"), el("option", { value: "unlabelled" }, "not labelled by me"),
      ...this.classes.map((c) => el("option", { value: `class:${c}` }, `class ${c}`)));
    for (const select of [show, $("#label-order")]) select.addEventListener("change", guarded(() => this.reload()));
    $("#label-review").addEventListener("change", guarded(() => this.showOthers()));
    this.buttons();
    this.keys();
    this.mouse();
    window.addEventListener("resize", () => { this.view.resize(); this.fit(); });
    this.view.resize();
    await this.reload();
  }
  buttons() {
    $("#label-classes").replaceChildren(...this.classes.map((c, i) => el("button", { "data-class": c, onclick: guarded(() => this.choose(c)) },
      el("kbd", {}, KEYS[i] || ""), c)));
    const actions = { "#label-prev": () => this.go(-1), "#label-next": () => this.go(1), "#label-skip": () => this.skip(),
      "#label-undo": () => this.undo(), "#label-copy": () => this.copyPrevious(), "#label-save": () => this.commit(true) };
    for (const [selector, action] of Object.entries(actions)) $(selector).addEventListener("click", guarded(action));
    $("#label-copy").hidden = !(this.editor instanceof ShapeEditor);
    $("#label-keys").replaceChildren(...["1-9, 0 class", "← → move", "s skip", "z undo", "Enter save and next",
      ...(this.editor instanceof ShapeEditor ? ["c copy previous", "Del delete", "wheel zoom", "right-drag pan", "f fit"] : [])]
      .map((t) => el("span", { class: "label-keys" }, el("kbd", {}, t.split(" ")[0]), t.split(" ").slice(1).join(" "), " ")));
  }
  keys() {
    document.addEventListener("keydown", guarded(async (event) => {
      if (event.target.closest("input, select, textarea")) return;
      const key = event.key;
      const index = KEYS.indexOf(key);
      if (index >= 0 && index < this.classes.length) { window.lumosKeyAt = performance.now(); await this.choose(this.classes[index]); }
      else if (key === "ArrowRight") await this.go(1);
      else if (key === "ArrowLeft") await this.go(-1);
      else if (key === "s") { window.lumosKeyAt = performance.now(); await this.skip(); }
      else if (key === "z") await this.undo();
      else if (key === "c" && this.editor.copy) this.copyPrevious();
      else if ((key === "Delete" || key === "Backspace") && this.editor.remove) this.editor.remove();
      else if (key === "Escape" && this.editor.cancel) this.editor.cancel();
      else if (key === "f") this.fit();
      else if (key === "Enter") { if (!(this.editor.close && this.editor.close())) await this.commit(true); }
      else return;
      event.preventDefault();
    }));
  }
  mouse() {
    let pan = null;
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    this.canvas.addEventListener("mousedown", (e) => {
      if (!this.current || !this.editor.down) return;
      if (e.button !== 0) { pan = this.view.point(e); return; }
      this.editor.down(this.view.toImage(this.view.point(e)));
    });
    window.addEventListener("mousemove", (e) => {
      if (pan) { const at = this.view.point(e); this.view.x += at[0] - pan[0]; this.view.y += at[1] - pan[1]; pan = at; this.draw(); }
      else if (this.editor.move) this.editor.move(this.view.toImage(this.view.point(e)));
    });
    window.addEventListener("mouseup", () => { pan = null; if (this.editor.up) this.editor.up(); });
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.view.zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2, this.view.point(e)); this.draw();
    }, { passive: false });
  }
  async reload() {
    const query = new URLSearchParams({ annotator: this.annotator, show: $("#label-show").value, order: $("#label-order").value });
    this.ids = (await api(`${this.base}/queue?${query}`)).images;
    this.cache.clear();
    this.position = 0;
    $("#label-empty").hidden = this.ids.length > 0;
    await this.show();
    await this.summary();
  }
  fetch(id) { // the image decoded and its label, once, kept for the images around
    if (!this.cache.has(id)) {
      const image = new Image();
      image.src = `${this.base}/images/${id}/file`;
      const query = new URLSearchParams({ annotator: this.annotator });
      const entry = { image: image.decode().then(() => image), label: api(`${this.base}/images/${id}?${query}`), ready: false };
      Promise.all([entry.image, entry.label]).then(() => { entry.ready = true; }, () => {});
      this.cache.set(id, entry);
    }
    return this.cache.get(id);
  }
  ahead() {
    for (let i = 1; i <= AHEAD && this.position + i < this.ids.length; i++) this.fetch(this.ids[this.position + i]);
    const keep = new Set(this.ids.slice(Math.max(0, this.position - 2), this.position + AHEAD + 1));
    for (const id of this.cache.keys()) if (!keep.has(id)) this.cache.delete(id);
  }
  async show() {
    if (!this.ids.length) { this.current = null; this.draw(); return; }
    const id = this.ids[this.position];
    const entry = this.fetch(id);
    const [image, label] = await Promise.all([entry.image, entry.label]);
    if (this.ids[this.position] !== id) return; // moved on meanwhile
    this.current = { ...label, id, image };
    this.overlay = null;
    this.editor.load(label.value || (label.prelabel && label.prelabel.value));
    this.fit();
    if (window.lumosKeyAt) { window.lumosLabelTimings.push(performance.now() - window.lumosKeyAt); window.lumosKeyAt = null; }
    $("#label-position").textContent = `image ${this.position + 1} of ${this.ids.length} · ${label.image.file}`;
    $("#label-position").dataset.image = String(id);
    this.status(label.value ? `saved (revision ${label.revision})` : label.prelabel ? `pre-label by ${label.prelabel.model}` : "not labelled yet");
    this.showOthers();
    this.ahead();
  }
  fit() { if (this.current) { this.view.fit(this.current.image.width, this.current.image.height); this.draw(); } }
  draw() {
    const context = this.canvas.getContext("2d");
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = "#20242c";
    context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.current) return;
    const { image } = this.current;
    context.imageSmoothingEnabled = this.view.scale < 4;
    context.drawImage(image, this.view.x, this.view.y, image.width * this.view.scale, image.height * this.view.scale);
    if (this.overlay && this.editor.draw) this.editor.draw(context, this.view, this.overlay, true);
    this.editor.draw(context, this.view);
    const chosen = new Set(this.editor.chosen());
    for (const button of $("#label-classes").children) button.classList.toggle("chosen", chosen.has(button.dataset.class));
  }
  status(text) { $("#label-status").textContent = text; }
  async choose(name) { if (this.needName()) return; await this.editor.choose(name); }
  needName() {
    if (this.annotator) return false;
    flash("name yourself first (You are …): labels are kept per annotator");
    $("#annotator").focus();
    return true;
  }
  async skip() { if (!this.needName()) await this.save({ skip: true }, true); }
  async commit(advance) {
    if (this.needName() || !this.current) return;
    if (!this.editor.ready()) { flash("choose a class first"); return; }
    await this.save(this.editor.value, advance);
  }
  async save(value, advance) {
    const { id, revision } = this.current;
    const before = this.current.value;
    this.previous = structuredClone(value);
    const request = api(`${this.base}/images/${id}`, { method: "PUT", json: { annotator: this.annotator, value, base: revision } });
    const saved = request.then(({ revision: next }) => {
      this.saves.push({ id, before, revision: next });
      const known = this.fetch(id);
      known.label = known.label.then((label) => ({ ...label, value, revision: next }));
      if (this.current.id === id) { this.current.value = value; this.current.revision = next; this.status(`saved (revision ${next})`); }
      this.summary();
    }).catch((e) => { flash(e.message); this.status(`not saved: ${e.message}`); });
    if (advance && this.position + 1 < this.ids.length) { this.position += 1; await this.show(); }
    await saved;
  }
  async go(step) {
    const next = this.position + step;
    if (next < 0 || next >= this.ids.length) return;
    this.position = next;
    await this.show();
  }
  async undo() {
    if (this.editor.undoEdit()) return;
    const last = this.saves.pop();
    if (!last) { flash("nothing to undo"); return; }
    const { id, before, revision } = last;
    const query = new URLSearchParams({ annotator: this.annotator, base: revision });
    const answer = before === null
      ? await api(`${this.base}/images/${id}?${query}`, { method: "DELETE" })
      : await api(`${this.base}/images/${id}`, { method: "PUT", json: { annotator: this.annotator, value: before, base: revision } });
    this.cache.delete(id);
    const at = this.ids.indexOf(id);
    if (at >= 0) this.position = at;
    await this.show();
    this.status(`undone (revision ${answer.revision})`);
    await this.summary();
  }
  copyPrevious() {
    if (!this.previous || !this.editor.copy) { flash("no previous image labelled in this session"); return; }
    this.editor.copy(this.previous[this.editor.key] || []);
  }
  showOthers() {
    const others = this.current && $("#label-review").checked ? this.current.others : [];
    $("#label-others").replaceChildren(...others.map((o) => el("div", { class: "label-other" },
      el("strong", {}, o.annotator), ` ${this.describe(o.value)} `,
      this.editor.copy ? el("button", { onclick: () => { this.overlay = o.value[this.editor.key] || []; this.draw(); } }, "show") : null,
      el("button", { onclick: guarded(() => this.review(o.annotator, "accepted")) }, "accept"),
      el("button", { onclick: guarded(() => this.review(o.annotator, "rejected")) }, "reject"))));
  }
  describe(value) {
    if (value.skip) return "skipped";
    if (value.classes) return value.classes.join(", ");
    const items = value[this.editor.key] || [];
    return `${items.length} ${this.editor.key}`;
  }
  async review(annotator, verdict) {
    if (this.needName()) return;
    await api(`${this.base}/images/${this.current.id}/review`, { method: "POST", json: { annotator, reviewer: this.annotator, verdict } });
    flash(`${annotator}'s label ${verdict}`, true);
  }
  async summary() {
    const project = await api(this.base);
    const p = project.progress;
    const kept = p.prelabels_accepted === null ? "" : ` · pre-labels kept unchanged: ${Math.round(100 * p.prelabels_accepted)}% of ${p.prelabels_judged}`;
    $("#label-progress").textContent = `${p.labelled} of ${p.images} labelled${kept}`;
  }
}

async function labelForms(tool) {
  const models = await api("/api/models");
  $("#label-models").replaceChildren(...models.map((m) => el("option", { value: m.name }, m.name)));
  $("#label-upload").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const answer = await api(`${tool.base}/images`, { method: "POST", body: new FormData(event.target) });
    flash(answer.problems.length ? `added, except: ${answer.problems.join("; ")}` : "images added", !answer.problems.length);
    await tool.reload();
  }));
  $("#label-prelabel").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const job = await api(`${tool.base}/prelabel`, { method: "POST", json: { model: $("#label-models").value } });
    $("#label-prelabel-state").replaceChildren("pre-labelling: ", el("a", { href: `/jobs/${job.id}` }, `job ${job.id}`));
  }));
  $("#label-finish").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const made = await api(`${tool.base}/dataset`, { method: "POST", json: { dataset: form.get("dataset"), new_version: form.get("new_version") === "on" } });
    flash(`created dataset ${made.dataset}`, true);
    $("#flash").append(" ", el("a", { href: `/datasets/${encodeURIComponent(made.dataset)}` }, "open it"));
  }));
  const agreement = await api(`${tool.base}/agreement`);
  fillTable($("#label-agreement"), agreement.pairs, (p) => el("tr", {},
    el("td", {}, p.annotators.join(" and ")), el("td", {}, String(p.images)),
    el("td", {}, Object.entries(p).filter(([, v]) => typeof v === "number" && !Number.isInteger(v)).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", "))),
  "two annotators on the same images give an agreement");
}

async function labelPage() {
  const tool = new LabelTool($("#label-tool"));
  window.lumosLabelTool = tool;
  await tool.start();
  await labelForms(tool);
}

Object.assign(PAGES, { labels: labelsPage, label: labelPage });
