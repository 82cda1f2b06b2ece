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
