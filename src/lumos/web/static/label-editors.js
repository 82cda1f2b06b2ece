// The labelling tool's editors: the view of an image on the canvas, and one editor per
// kind of label (classes, boxes, polygons). label.js drives them.
"use strict";

const COLOURS = ["#ff5b5b", "#3fb4ff", "#ffd23f", "#5ee37a", "#c77dff", "#ff9f43", "#2ee6d6", "#ff6bd6", "#a3e635", "#f8fafc"];
const HANDLE = 6; // pixels on screen around a box corner that grab it

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

class ShapeEditor { // boxes and polygons share selection, undo, copy, the object list and drawing
  constructor(tool, key, nouns) {
    this.tool = tool; this.key = key; this.nouns = nouns; this.items = []; this.edits = []; this.selected = -1;
    this.current = tool.classes[0]; this.hidden = new Set(); this.listed = null;
  }
  load(value) { this.replace(value && value[this.key] ? structuredClone(value[this.key]) : []); this.edits = []; }
  replace(items) { this.items = items; this.selected = -1; this.hidden.clear(); this.listed = null; } // new objects: listed anew
  get value() { return { [this.key]: this.items }; }
  count(n) { return `${n} ${n === 1 ? this.nouns[0] : this.nouns[1]}`; }
  remember() { this.edits.push(structuredClone(this.items)); }
  undoEdit() {
    if (!this.edits.length) return false;
    this.replace(this.edits.pop()); this.tool.draw(); return true;
  }
  copy(items) { this.remember(); this.replace(structuredClone(items)); this.tool.draw(); }
  choose(name) {
    this.current = name;
    if (this.selected >= 0) { this.remember(); this.items[this.selected].class = name; }
    this.tool.draw();
  }
  remove(index = this.selected) {
    if (index < 0) return;
    this.remember(); this.items.splice(index, 1); this.selected = -1; this.tool.draw();
  }
  shown(item) { return !this.hidden.has(item); }
  ready() { return true; }
  chosen() { return this.selected >= 0 ? [this.items[this.selected].class] : [this.current]; }
  colour(name) { return COLOURS[this.tool.classes.indexOf(name) % COLOURS.length]; }
  inside(x, y) { // a point kept within the image
    const { width, height } = this.tool.current.image;
    return [Math.min(Math.max(x, 0), width), Math.min(Math.max(y, 0), height)];
  }
  list(container) { // the objects beside the canvas: select, relabel, hide, delete
    const signature = JSON.stringify([this.items.map((o) => o.class), this.selected, this.items.map((o) => this.hidden.has(o))]);
    if (signature === this.listed) return;
    this.listed = signature;
    const heading = el("p", { class: "muted" }, this.items.length ? this.count(this.items.length) : `no ${this.nouns[1]} yet`);
    container.replaceChildren(heading, ...this.items.map((item, i) => {
      const relabel = el("select", { "aria-label": `class of ${this.nouns[0]} ${i + 1}`,
        onchange: (e) => { this.remember(); item.class = e.target.value; e.target.blur(); this.tool.draw(); } },
      ...this.tool.classes.map((c) => el("option", { value: c }, c)));
      relabel.value = item.class;
      const hide = el("input", { type: "checkbox", title: "hide", "aria-label": `hide ${this.nouns[0]} ${i + 1}`,
        onchange: (e) => { e.target.checked ? this.hidden.add(item) : this.hidden.delete(item); e.target.blur(); this.tool.draw(); } });
      hide.checked = this.hidden.has(item);
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = this.colour(item.class);
      return el("div", { class: `label-object${i === this.selected ? " selected" : ""}` },
        el("button", { class: "link", onclick: () => { this.selected = i; this.tool.draw(); } }, swatch, `${this.nouns[0]} ${i + 1}`),
        relabel, el("label", { class: "check" }, hide, "hide"),
        el("button", { title: "delete", "aria-label": `delete ${this.nouns[0]} ${i + 1}`, onclick: () => this.remove(i) }, "✕"));
    }));
  }
}

class BoxEditor extends ShapeEditor {
  constructor(tool) { super(tool, "boxes", ["box", "boxes"]); this.drag = null; this.drawing = false; }
  toggleDraw() { this.drawing = !this.drawing; this.tool.mode(this.drawing ? "draw mode: every drag makes a new box (b to leave)" : ""); }
  hit([x, y]) { // [index, corner or null]; topmost first, hidden boxes left out
    const grab = HANDLE / this.tool.view.scale;
    if (this.selected >= 0 && this.shown(this.items[this.selected])) {
      const b = this.items[this.selected];
      const corners = [[b.x1, b.y1], [b.x2, b.y1], [b.x2, b.y2], [b.x1, b.y2]];
      const corner = corners.findIndex(([cx, cy]) => Math.abs(cx - x) <= grab && Math.abs(cy - y) <= grab);
      if (corner >= 0) return [this.selected, corner];
    }
    for (let i = this.items.length - 1; i >= 0; i--) {
      const b = this.items[i];
      if (this.shown(b) && x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2) return [i, null];
    }
    return [-1, null];
  }
  down(at, fresh = false) { // fresh (draw mode, Shift): a new box wherever the drag starts
    at = this.inside(...at);
    const [index, corner] = this.drawing || fresh ? [-1, null] : this.hit(at);
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
    if (this.drag.kind === "move") { // the whole box stays inside the image
      const { width, height } = this.tool.current.image;
      const dx = Math.min(Math.max(at[0] - this.drag.from[0], -b.x1), width - b.x2);
      const dy = Math.min(Math.max(at[1] - this.drag.from[1], -b.y1), height - b.y2);
      b.x1 += dx; b.x2 += dx; b.y1 += dy; b.y2 += dy; this.drag.from = at;
    } else {
      at = this.inside(...at);
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
      if (!dashed && !this.shown(b)) return;
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
  constructor(tool) { super(tool, "polygons", ["polygon", "polygons"]); this.open = null; }
  contains([x, y], points) {
    let hit = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i], [xj, yj] = points[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }
  down(at) {
    at = this.inside(...at);
    if (this.open) { this.open.push(at); this.tool.draw(); return; }
    const index = this.items.map((p, i) => [p, i]).reverse().find(([p]) => this.shown(p) && this.contains(at, p.points));
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
      if (!dashed && !this.shown(p)) return;
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
