// The labelling tool: one canvas for every kind of project, keys for everything, the next
// images fetched and decoded ahead so the next one shows at once. Uses lumos.js's helpers
// and label-editors.js's editors.
"use strict";

const KEYS = "1234567890";
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
    $("#annotator").addEventListener("change", guarded(() => {
      localStorage.setItem("lumos-annotator", this.annotator);
      setTimeout(() => $("#label-stage").focus()); // named: the keys go to the image, not the next field
      return this.reload();
    }));
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
      "#label-undo": () => this.undo(), "#label-copy": () => this.copyPrevious(), "#label-save": () => this.commit(true),
      "#label-none": () => this.nothing(), "#label-draw": () => this.editor.toggleDraw() };
    for (const [selector, action] of Object.entries(actions)) $(selector).addEventListener("click", guarded(action));
    const shapes = this.editor instanceof ShapeEditor;
    for (const button of ["#label-copy", "#label-none", "#label-objects"]) $(button).hidden = !shapes;
    $("#label-draw").hidden = !this.editor.toggleDraw;
    $("#label-keys").replaceChildren(...["1-9/0 class", "←/→ move", "s skip", "z undo", "Enter save and next",
      ...(shapes ? ["n no objects", "c copy previous", "Del delete", "wheel zoom", "right-drag pan", "f fit"] : []),
      ...(this.editor.toggleDraw ? ["b draw mode", "Shift-drag new box"] : [])]
      .map((t) => el("span", { class: "label-keys" }, el("kbd", {}, t.split(" ")[0]), t.split(" ").slice(1).join(" "), " ")));
  }
  keys() {
    document.addEventListener("keydown", guarded(async (event) => {
      const key = event.key;
      if (event.target.closest("input, select, textarea")) return; // typing or choosing: not a shortcut
      if (event.target.closest("button") && (key === "Enter" || key === " ")) return; // the button's own
      const index = KEYS.indexOf(key);
      if (index >= 0 && index < this.classes.length) { window.lumosKeyAt = performance.now(); await this.choose(this.classes[index]); }
      else if (key === "ArrowRight") await this.go(1);
      else if (key === "ArrowLeft") await this.go(-1);
      else if (key === "s") { window.lumosKeyAt = performance.now(); await this.skip(); }
      else if (key === "z") await this.undo();
      else if (key === "c" && this.editor.copy) this.copyPrevious();
      else if (key === "n" && this.editor.copy) await this.nothing();
      else if (key === "b" && this.editor.toggleDraw) this.editor.toggleDraw();
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
      this.editor.down(this.view.toImage(this.view.point(e)), e.shiftKey);
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
    if (this.editor.list) this.editor.list($("#label-objects"));
  }
  status(text) { $("#label-status").textContent = text; }
  mode(text) { $("#label-mode").textContent = text; $("#label-mode").hidden = !text; }
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
    const empty = this.editor.items && !this.editor.items.length;
    if (empty && !confirm(`No ${this.editor.nouns[1]} on this image. Save it as an image with no objects?`)) return;
    await this.save(this.editor.value, advance);
  }
  async nothing() { // marked explicitly: an image with no objects, saved without asking
    if (this.needName() || !this.current) return;
    this.editor.load(null);
    await this.save(this.editor.value, true);
  }
  async save(value, advance) {
    const { id, revision } = this.current;
    const before = this.current.value;
    this.previous = structuredClone(value);
    const request = api(`${this.base}/images/${id}`, { method: "PUT", json: { annotator: this.annotator, value, base: revision } });
    // Undo takes saves back in the order they were made, not the order the server answered.
    this.saves.push({ id, before, revision: request.then(({ revision: next }) => next) });
    const saved = request.then(({ revision: next }) => {
      const known = this.fetch(id);
      known.label = known.label.then((label) => ({ ...label, value, revision: next }));
      if (this.current.id === id) { this.current.value = value; this.current.revision = next; this.status(`saved (revision ${next})`); }
      this.summary();
    }).catch((e) => { flash(e.message); this.status(`not saved: ${e.message}`); });
    if (advance && this.position + 1 < this.ids.length) { this.position += 1; await this.show(); }
    else if (advance) saved.then(() => flash(`All done: that was the last of the ${this.ids.length} images shown.`, true));
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
    const { id, before } = last;
    const revision = await last.revision.catch(() => null);
    if (revision === null) { flash("that save failed: nothing to undo for it"); return; }
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
    return this.editor.count((value[this.editor.key] || []).length);
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
    const show = $("#label-show");
    for (const name of Object.keys(p.annotators)) {
      if (!show.querySelector(`option[value="annotator:${CSS.escape(name)}"]`)) show.append(el("option", { value: `annotator:${name}` }, `labelled by ${name}`));
    }
  }
}

async function labelForms(tool) {
  const task = $("#label-tool").dataset.task;
  const models = (await api("/api/models")).filter((m) => m.task === task); // only those that can pre-label it
  $("#label-models").replaceChildren(...models.map((m) => el("option", { value: m.name }, m.name)));
  $("#label-prelabel button").disabled = !models.length;
  $("#label-prelabel-state").textContent = models.length ? "" : `no saved ${task} model yet`;
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
    const { rule, conflicts } = await api(`${tool.base}/conflicts`);
    if (conflicts.length) {
      const listed = conflicts.slice(0, 12).map((c) => `${c.image}: ${c.chosen}'s label (${c.rule}), not ${c.overruled.join(", ")}'s`);
      const more = conflicts.length > 12 ? [`… and ${conflicts.length - 12} more`] : [];
      const asked = `Annotators disagree on ${conflicts.length} image${conflicts.length === 1 ? "" : "s"}. The rule: ${rule}.\n\n${[...listed, ...more].join("\n")}\n\nMake the dataset with these labels?`;
      if (!confirm(asked)) return;
    }
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
