// lumos workbench pages: each page's script loads its data from the REST API under /api/.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return String(+value.toFixed(digits));
}

async function api(path, options = {}) {
  // The marker tells the server this came from its own page (cross-site forms cannot set it).
  const init = { ...options, headers: { "X-Lumos-Request": "1", ...options.headers } };
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  const response = await fetch(path, init);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error || `${response.status} ${response.statusText}`);
  return body;
}

function flash(message, ok = false) {
  const box = $("#flash");
  box.replaceChildren(message);
  box.className = ok ? "flash ok" : "flash";
  box.hidden = false;
}

const guarded = (fn) => async (...args) => {
  try {
    await fn(...args);
  } catch (e) {
    flash(e.message);
  }
};

function fillTable(table, rows, render, empty) {
  const body = $("tbody", table);
  body.replaceChildren(
    ...(rows.length ? rows.map(render) : [el("tr", {}, el("td", { class: "empty", colspan: "9" }, empty))]),
  );
}

const stateBadge = (state) => el("span", { class: `state ${state}` }, state);
const progressBar = (progress) => {
  const share = progress && progress.total ? progress.done / progress.total : 0;
  const bar = el("div", { class: "mini progress" }, el("div"));
  bar.firstChild.style.width = `${(100 * share).toFixed(1)}%`;
  return bar;
};

// ---- home ----------------------------------------------------------------------------

async function homePage() {
  // The jobs table refreshes every 2 s whatever else on the page fails to load.
  const refreshJobs = async () => {
    const jobs = await api("/api/jobs");
    fillTable($("#jobs"), jobs, (j) =>
      el("tr", {}, el("td", {}, el("a", { href: `/jobs/${j.id}` }, j.id)), el("td", {}, j.title),
        el("td", {}, stateBadge(j.state)), el("td", {}, progressBar(j.progress)),
        el("td", {}, j.summary && j.summary.best !== null ? `${j.summary.metric} ${fmt(j.summary.best, 3)}` : ""),
        el("td", {}, j.created.replace("T", " ").slice(0, 19))),
      "no jobs yet");
  };
  setInterval(guarded(refreshJobs), 2000);
  await Promise.all([guarded(refreshJobs)(), guarded(homeEntries)()]);
}

async function homeEntries() {
  const [datasets, models] = await Promise.all([api("/api/datasets"), api("/api/models")]);
  fillTable($("#datasets"), datasets, (d) =>
    el("tr", {}, el("td", {}, el("a", { href: `/datasets/${d.name}` }, d.name)), el("td", {}, d.task),
      el("td", {}, d.records.toLocaleString()), el("td", {}, d.classes)),
    "no datasets yet: create one");
  fillTable($("#models"), models, (m) => {
    const key = Object.keys(m.metrics).find((k) => k.startsWith("val_") && k !== "val_loss");
    return el("tr", {}, el("td", {}, el("a", { href: `/models/${m.name}` }, m.name)), el("td", {}, m.network),
      el("td", {}, m.dataset || ""), el("td", {}, key ? `${key} ${fmt(m.metrics[key], 3)}` : ""));
  }, "no models yet: train one, then save it");
  const sweeps = await api("/api/sweeps");
  $("#sweeps-card").hidden = !sweeps.length;
  sweepRows($("#sweeps"), sweeps);
}

function sweepRows(table, sweeps) {
  fillTable(table, sweeps, (w) => el("tr", {}, el("td", {}, el("a", { href: `/sweeps/${encodeURIComponent(w.name)}` }, w.name)),
    el("td", {}, `${w.finished} / ${w.trials}`), el("td", {}, w.best === null ? "" : `${w.metric} ${fmt(w.best, 3)}`)), "no sweeps yet: start one below");
}

// ---- new dataset ---------------------------------------------------------------------

function importOptions(form) {
  const data = new FormData(form);
  const options = {};
  if (data.get("task")) options.task = data.get("task");
  if (data.get("width") && data.get("height")) options.size = [+data.get("height"), +data.get("width")];
  if (data.get("channels")) options.channels = +data.get("channels");
  options.resize_mode = data.get("resize_mode");
  options.val_percent = +data.get("val_percent");
  options.test_percent = +data.get("test_percent");
  return options;
}

async function datasetNewPage() {
  const form = $("#dataset-form");
  const clone = new URLSearchParams(location.search).get("clone");
  if (clone) {
    const { params } = await api(`/api/jobs/${encodeURIComponent(clone)}/clone`);
    const options = params.options;
    form.name.value = params.name;
    form.source.value = params.source;
    form.task.value = options.task || "";
    if (options.size) [form.height.value, form.width.value] = options.size;
    form.channels.value = options.channels ? String(options.channels) : "";
    form.resize_mode.value = options.resize_mode;
    form.val_percent.value = options.val_percent;
    form.test_percent.value = options.test_percent;
    form.overwrite.checked = true;
    flash(`Form filled from job ${clone}: change what you like and create.`, true);
  }
  $("#sample").addEventListener("change", (event) => {
    form.source.value = event.target.value;
    if (event.target.value && !form.name.value) form.name.value = event.target.value.slice("sample:".length);
  });
  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const data = new FormData();
    data.set("name", form.name.value);
    const archive = form.archive.files[0];
    if (archive) data.set("archive", archive);
    else data.set("source", form.source.value);
    data.set("options", JSON.stringify(importOptions(form)));
    data.set("overwrite", form.overwrite.checked ? "true" : "false");
    const job = await api("/api/datasets", { method: "POST", body: data });
    location.href = `/jobs/${job.id}`;
  }));
  const preview = guarded(async () => {
    const data = new FormData();
    data.set("width", form.width.value || "64");
    data.set("height", form.height.value || "64");
    const image = $("#preview-image").files[0];
    if (image) data.set("image", image);
    else data.set("path", form.source.value);
    const previews = await api("/api/resize-preview", { method: "POST", body: data });
    $("#resize-previews").replaceChildren(
      ...Object.entries(previews).map(([mode, url]) =>
        el("figure", { class: mode === form.resize_mode.value ? "chosen" : "", title: "use this mode", onclick: () => { form.resize_mode.value = mode; preview(); } },
          el("img", { src: url, alt: mode }), el("figcaption", {}, mode))),
    );
  });
  $("#preview-button").addEventListener("click", preview);
  // Once shown, the previews follow the size fields and the chosen image.
  for (const input of [form.width, form.height, form.resize_mode, $("#preview-image")]) {
    input.addEventListener("change", () => $("#resize-previews").childElementCount && preview());
  }
}

// ---- dataset explorer ----------------------------------------------------------------

async function datasetPage() {
  const name = $("#dataset-name").dataset.name;
  $("#delete-dataset").addEventListener("click", guarded(async () => {
    if (!confirm(`Delete dataset ${name} and its images? Models trained on it stay.`)) return;
    await api(`/api/datasets/${encodeURIComponent(name)}`, { method: "DELETE" });
    location.href = "/";
  }));
  const info = await api(`/api/datasets/${encodeURIComponent(name)}`);
  const [height, width] = info.size;
  $("#dataset-summary").textContent = `${info.task} · ${info.records.toLocaleString()} images · ${info.classes.length} classes · ${width}×${height}×${info.channels}`;
  const stats = { splits: Object.entries(info.splits).map(([k, v]) => `${k} ${v}`).join(", "),
    mean: info.mean.map((v) => v.toFixed(3)).join(", "), std: info.std.map((v) => v.toFixed(3)).join(", "),
    "resize mode": info.resize_mode, source: info.source };
  $("#dataset-stats").replaceChildren(...Object.entries(stats).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const problems = info.report.problems || [];
  $("#problems").replaceChildren(...(problems.length
    ? problems.slice(0, 200).map((p) => el("li", {}, `${p.kind}: ${p.file ? p.file + ": " : ""}${p.reason}`))
    : [el("li", {}, "none")]));
  Plotly.newPlot("class-chart", Object.entries(info.class_counts || {}).map(([split, counts]) =>
    ({ type: "bar", name: split, x: info.classes, y: info.classes.map((c) => counts[c] ?? 0) })),
  { barmode: "stack", margin: { t: 10, r: 10, b: 60, l: 50 }, legend: { orientation: "h" },
    xaxis: { type: "category", tickmode: "linear", dtick: 1, automargin: true } }, CONFIG); // every class named
  const classFilter = $("#class-filter");
  classFilter.append(...info.classes.map((c) => el("option", {}, c)));
  const params = new URLSearchParams(location.search);
  classFilter.value = params.get("class") || "";
  $("#split-filter").value = params.get("split") || "";
  let page = +(params.get("page") || 0);
  const show = guarded(async () => {
    const query = new URLSearchParams({ page, per_page: 60 });
    if (classFilter.value) query.set("class", classFilter.value);
    if ($("#split-filter").value) query.set("split", $("#split-filter").value);
    const result = await api(`/api/datasets/${encodeURIComponent(name)}/records?${query}`);
    history.replaceState(null, "", `?${query}`);
    $("#page-label").textContent = ` page ${result.page + 1} of ${result.pages} (${result.total.toLocaleString()} images) `;
    $("#prev-page").disabled = result.page === 0;
    $("#next-page").disabled = result.page + 1 >= result.pages;
    $("#gallery").replaceChildren(...result.records.map((r) =>
      el("figure", { "data-class": r.caption }, el("img", { src: `/api/datasets/${encodeURIComponent(name)}/records/${r.index}.png`, alt: r.caption, loading: "lazy" }),
        el("figcaption", {}, `${r.caption} · ${r.split}`))));
  });
  classFilter.addEventListener("change", () => { page = 0; show(); });
  $("#split-filter").addEventListener("change", () => { page = 0; show(); });
  $("#prev-page").addEventListener("click", () => { page -= 1; show(); });
  $("#next-page").addEventListener("click", () => { page += 1; show(); });
  await show();
}

// ---- new model -----------------------------------------------------------------------

function recipeFromFields(form) {
  const recipe = { dataset: form.dataset.value, network: form.network.value };
  for (const input of form.querySelectorAll("[data-kind]")) {
    const kind = input.dataset.kind;
    if (kind === "bool") recipe[input.name] = input.checked;
    else if (input.value === "") continue;
    else if (kind === "number") recipe[input.name] = Number(input.value);
    else if (kind === "tristate") recipe[input.name] = input.value === "true";
    else if (kind === "list") recipe[input.name] = input.value.split(",").map((v) => Number(v.trim()));
    else recipe[input.name] = input.value;
  }
  return recipe;
}

function fillFields(form, recipe) {
  for (const [key, value] of Object.entries(recipe)) {
    const input = form.elements[key];
    if (!input || value === null) continue;
    if (input.type === "checkbox") input.checked = !!value;
    else if (Array.isArray(value)) input.value = value.join(",");
    else input.value = String(value);
    const group = input.closest("details");
    if (group && !isDefault(input)) group.open = true; // a value set is seen
  }
}

function isDefault(input) {
  if (input.type === "checkbox") return input.checked === input.defaultChecked;
  if (input.tagName === "SELECT") return input.value === ([...input.options].find((o) => o.defaultSelected) ?? input.options[0])?.value;
  return input.value === input.defaultValue;
}

async function modelNewPage() {
  const form = $("#train-form");
  const params = new URLSearchParams(location.search);
  const [datasets, networks] = await Promise.all([api("/api/datasets"), api("/api/networks")]);
  const datasetSelect = $("#dataset-select");
  datasetSelect.replaceChildren(...datasets.map((d) => el("option", { value: d.name, "data-task": d.task }, `${d.name} (${d.task})`)));
  if (params.get("dataset")) datasetSelect.value = params.get("dataset");
  const networkSelect = $("#network-select");
  // The network list follows the dataset's task; a new dataset choice selects the network
  // that suits its images (a clone keeps its own).
  const listNetworks = async ({ suggest = true } = {}) => {
    const task = datasetSelect.selectedOptions[0]?.dataset.task || "classification";
    const keep = networkSelect.value;
    networkSelect.replaceChildren(...networks.filter((n) => n.task === task).map((n) => el("option", { value: n.name }, `${n.name} — ${n.family}`)));
    if (suggest && datasetSelect.value) {
      networkSelect.value = (await api(`/api/datasets/${encodeURIComponent(datasetSelect.value)}`)).suggested_network;
    } else if ([...networkSelect.options].some((o) => o.value === keep)) networkSelect.value = keep;
  };
  // The published weights the network can start from (init), as their library states them.
  const initSelect = $("#init-select");
  const listWeights = guarded(async () => {
    const weights = networkSelect.value ? await api(`/api/networks/${encodeURIComponent(networkSelect.value)}/weights`) : [];
    const figures = (w) => [w.reported, w.file_mb && `${w.file_mb.toFixed(1)} MB`, w.parameters && `${w.parameters.toLocaleString()} parameters`].filter(Boolean).join(", ");
    initSelect.replaceChildren(el("option", { value: "" }, "random weights (or Run › init: a saved model)"),
      ...weights.map((w) => el("option", { value: w.spec }, `${w.spec}${figures(w) ? ` — ${figures(w)}` : ""}`)));
    initSelect.value = weights.some((w) => w.spec === form.elements.init.value) ? form.elements.init.value : "";
  });
  initSelect.addEventListener("change", () => { form.elements.init.value = initSelect.value; });
  $("#preset-button").addEventListener("click", guarded(async () => {
    flash("Measuring how fast each network with published weights trains here…", true);
    const preset = await api("/api/preset", { method: "POST", json: { dataset: datasetSelect.value } });
    networkSelect.value = preset.recipe.network;
    fillFields(form, preset.recipe);
    await listWeights();
    describe();
    showPlan();
    flash(preset.said.join(" "), true);
  }));
  const describe = guarded(async () => {
    const network = networks.find((n) => n.name === networkSelect.value);
    $("#network-description").textContent = network ? network.description : "";
    if (!network || !datasetSelect.value) return;
    const summary = await api(`/api/networks/${network.name}/summary?dataset=${encodeURIComponent(datasetSelect.value)}`);
    const table = el("table", {}, el("thead", {}, el("tr", {}, ...["layer", "type", "output", "params", "FLOPs"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...summary.layers.map((l) => el("tr", {}, el("td", {}, l.name), el("td", {}, l.kind), el("td", {}, l.output_shape.join("×")),
        el("td", {}, l.params.toLocaleString()), el("td", {}, l.flops.toLocaleString())))));
    $("#network-summary").replaceChildren(el("p", {}, `${summary.params.toLocaleString()} parameters, ${(summary.flops / 1e6).toFixed(2)} MFLOPs per image`), table);
  });
  // What the recipe needs: memory at its batch size; on a catalogue GPU, the largest batch,
  // an epoch's time and a run's cost (docs/planning.md).
  const gpuSelect = $("#plan-gpu");
  gpuSelect.append(...(await api("/api/gpus")).map((g) => el("option", { value: g.key }, `${g.name} (${g.memory_gb} GB)`)));
  let plansAsked = 0;  // an answer to an earlier question never overwrites a later one
  const showPlan = guarded(async () => {
    if (!networkSelect.value || !datasetSelect.value) return;
    const asked = ++plansAsked;
    const fields = recipeFromFields(form);
    const query = new URLSearchParams({ network: networkSelect.value, dataset: datasetSelect.value, batch: fields.batch_size ?? 64,
      optimizer: fields.optimizer ?? "sgd", precision: fields.precision ?? "auto", epochs: fields.epochs ?? 10 });
    if (gpuSelect.value) query.set("gpu", gpuSelect.value);
    if (fields.input_size) query.set("input_size", fields.input_size.join(","));
    const plan = await api(`/api/plan?${query}`);
    if (asked !== plansAsked) return;
    const m = plan.memory, mb = (bytes) => `${(bytes / 1e6).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`;
    const p = m.training_parts, secs = (s) => `${s.toPrecision(2)} s`;
    const how = m.how === "traced" ? "traced from the network's operators" : `measured: ${m.how} here, as its shapes follow its data`;
    const [height, width] = plan.input.size;
    const kernels = m.kernel_buffers ? `, of which ${mb(m.kernel_buffers)} a convolution kernel's own buffers, measured on this computer` : "";
    const between = m.training_least < m.training ? ` (between ${mb(m.training_least)} and ${mb(m.training)}: the kernels' buffers beyond 8 images are estimated)` : "";
    let text = `Input ${width}x${height}: ${plan.input.reason}. Training at batch ${m.batch} (${m.precision}, ${m.optimizer}) needs ${mb(m.training)} at its peak${between} = weights ${mb(p.weights)} + optimiser state ${mb(p.optimizer_state)} + input batch ${mb(p.inputs)} + activations ${mb(p.activations)} + gradients ${mb(p.gradients)} + working buffers ${mb(p.working)}${kernels} (${how}); inference ${mb(m.inference)}.`;
    if (plan.device) {
      const d = plan.device, cost = d.usd_per_run === null ? "no listed price" : `$${d.usd_per_run.toPrecision(2)} a run of ${fields.epochs ?? 10} epochs`;
      const loading = d.loading_seconds === null ? "" : `; loading ${secs(d.loading_seconds)} (measured: ${Math.round(plan.loader_rate).toLocaleString()} images/s here), overlapping them`;
      text += ` On the ${d.name}: largest batch ${d.largest_batch}; an epoch of ${plan.images.toLocaleString()} images ≈ ${secs(d.epoch_seconds)}, ${cost}: compute ${secs(d.compute_seconds)} (estimated: ${d.arithmetic}, at ${(plan.share * 100).toPrecision(2)}% of peak, the share this network reached on this computer) + step overhead ${secs(d.overhead_seconds)} (measured: ${(plan.step_seconds * 1000).toPrecision(2)} ms a step here)${loading}; + validation ${secs(d.validation_seconds)}.`;
    }
    $("#network-plan").textContent = text;
  });
  gpuSelect.addEventListener("change", showPlan);
  for (const name of ["batch_size", "optimizer", "precision", "epochs", "input_size"]) form.elements[name].addEventListener("change", showPlan);
  const plotSchedule = guarded(async () => {
    const recipe = recipeFromFields(form);
    delete recipe.dataset;
    const curve = await api("/api/schedule", { method: "POST", json: recipe });
    Plotly.react("schedule-chart", [{ x: curve.epoch, y: curve.lr, mode: "lines", line: { color: "#3563e9" } }],
      { margin: { t: 10, r: 10, b: 35, l: 60 }, xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "lr" } } },
      { displayModeBar: false, responsive: true });
  });
  $("#augment-button").addEventListener("click", guarded(async () => {
    const preview = await api("/api/augment-preview", { method: "POST", json: recipeFromFields(form) });
    Object.assign($("#augment-preview"), { src: preview.picture, hidden: false });
  }));
  datasetSelect.addEventListener("change", guarded(async () => { await listNetworks(); describe(); showPlan(); listWeights(); }));
  networkSelect.addEventListener("change", () => { describe(); showPlan(); listWeights(); });
  for (const name of ["lr_policy", "lr", "epochs", "warmup_epochs", "step_size", "milestones", "gamma", "power", "min_lr"]) {
    form.elements[name].addEventListener("change", plotSchedule);
  }
  $("#use-yaml").addEventListener("change", (event) => {
    $("#yaml-panel").hidden = !event.target.checked;
    $("#field-panel").hidden = event.target.checked;
  });
  if (params.get("clone")) {
    const clone = await api(`/api/jobs/${encodeURIComponent(params.get("clone"))}/clone`);
    datasetSelect.value = clone.params.dataset;
    await listNetworks({ suggest: false });
    fillFields(form, clone.params);
    $("#recipe-yaml").value = clone.yaml;
    flash(`Form filled from job ${params.get("clone")}: change what you like and train.`, true);
  } else {
    await listNetworks();
    // A link may preset any recipe field (the transfer page: network, init, strategy).
    const preset = Object.fromEntries([...params].filter(([key]) => key !== "dataset" && form.elements[key]));
    if (Object.keys(preset).length) {
      fillFields(form, preset);
      flash(`Form filled: ${Object.entries(preset).map(([k, v]) => `${k} ${v}`).join(", ")}.`, true);
    }
  }
  describe();
  showPlan();
  plotSchedule();
  listWeights();
  $("#sweep-button").addEventListener("click", () => { // these settings as a sweep's base (JSON is YAML)
    const recipe = Object.entries(recipeFromFields(form)).map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join("\n");
    location.href = `/sweeps?${new URLSearchParams({ recipe: $("#use-yaml").checked ? $("#recipe-yaml").value : recipe })}`;
  });
  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const body = $("#use-yaml").checked ? { yaml: $("#recipe-yaml").value } : { recipe: recipeFromFields(form) };
    if ($("#network-yaml").value.trim()) body.network_yaml = $("#network-yaml").value;
    const job = await api("/api/train", { method: "POST", json: body });
    location.href = `/jobs/${job.id}`;
  }));
}

// ---- transfer ------------------------------------------------------------------------

const STRATEGIES = { full: {}, "linear-probe": { finetune: "linear-probe" }, "lp-ft": { finetune: "lp-ft" }, discriminative: { body_lr: 0.005 } };

function fineTuneLink(target, row, strategy) {
  const query = new URLSearchParams({ dataset: target, network: row.network, init: row.source, ...STRATEGIES[strategy] });
  return el("a", { class: "button", href: `/models/new?${query}` }, "Fine-tune from this one");
}

// Where each row stands among the rows for one estimator: "1 of 3" (best first).
function standing(rows, key) {
  const known = rows.map((r) => r.scores[key]).filter((v) => v !== null && Number.isFinite(v));
  return (row) => {
    const value = row.scores[key];
    if (value === null || !Number.isFinite(value)) return "–";
    return `${1 + known.filter((v) => v > value).length} of ${known.length}`;
  };
}

// A rank interval over resamples of the images: "1" when settled, "1–3" when not.
const interval = ([low, high]) => (low === high ? String(low) : `${low}–${high}`);

function showRanking(target, ranked) {
  const table = $("#transfer-table");
  const heads = ["#", "model", "network", "rank interval", "vs from scratch", ...ranked.estimators, "seconds", ""];
  $("thead", table).replaceChildren(el("tr", {}, ...heads.map((h) => el("th", {}, h))));
  const places = ranked.estimators.map((key) => standing(ranked.sources, key));
  const render = () => fillTable(table, ranked.sources, (row, i) => el("tr", { class: row.hurts ? "hurts" : "" },
    el("td", {}, String(i + 1)), el("td", {}, el("a", { href: `/models/${encodeURIComponent(row.source)}` }, row.source)),
    el("td", {}, row.network), el("td", {}, interval(row.interval)),
    el("td", {}, row.control ? (row.hurts ? "worse or no better" : "better") : "–"),
    ...ranked.estimators.map((key, k) => el("td", { title: `${key} ${fmt(row.scores[key], 4)}` }, places[k](row))),
    el("td", {}, fmt(row.seconds, 2)), el("td", {}, fineTuneLink(target, row, $("#strategy").value))), "No saved classifier to rank.");
  render();
  $("#strategy").onchange = render; // the links follow the strategy chosen now
  const first = ranked.sources[0];
  $("#transfer-warnings").replaceChildren(
    ...(ranked.overrun ? [el("li", {}, `The ranking ${ranked.overrun}.`)] : []),
    ...(ranked.stable ? [] : [el("li", {}, `Not yet stable: ${first.source} ranks ${interval(first.interval)} over resamples of the images; a larger budget scores more of them.`)]),
    ...ranked.sources.filter((row) => row.hurts).map((row) =>
      el("li", {}, `${row.source} does no better than ${row.control.source}: starting from it may be worse than starting from nothing.`)),
    ...ranked.sources.filter((row) => row.note).map((row) => el("li", {}, `${row.source}: ${row.note}.`)));
  const count = ranked.sources.length;
  $("#transfer-status").textContent = `${count} model${count === 1 ? "" : "s"} ranked, best first, by the mean place on ${ranked.default.join(" and ")}: ` +
    `${ranked.images} training images scored (at least ${ranked.per_class} a class) in ${fmt(ranked.seconds, 1)} s, budget ${ranked.budget}` +
    `${ranked.probed ? ", with the trainability probe" : ""}.`;
}

async function transferPage() {
  const target = $("#transfer-target").dataset.name;
  const url = () => `/api/datasets/${encodeURIComponent(target)}/transfer?${new URLSearchParams({ hub: $("#hub").value, budget: $("#budget").value })}`;
  const kept = await api(url());
  if (kept.ranking) showRanking(target, kept.ranking);
  $("#transfer-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    $("#rank-button").disabled = true;
    try {
      let answer = await api(url(), { method: "POST" });
      if (!answer.ranking) {
        $("#transfer-status").textContent = "Ranking: one forward pass of a sample of the training images through each model…";
        const job = await followJob(answer.job.id, (p) => {
          $("#transfer-status").textContent = `Ranking: ${p.stage}, ${p.done} of ${p.total}…`;
        });
        if (job.state !== "done") throw new Error(`ranking ${job.state}: ${job.error}`);
        answer = await api(url());
      }
      showRanking(target, answer.ranking);
    } finally {
      $("#rank-button").disabled = false;
    }
  }));
}

// ---- sweep ---------------------------------------------------------------------------

async function sweepsPage() {
  sweepRows($("#sweep-list"), await api("/api/sweeps"));
  const form = $("#sweep-form");
  const given = new URLSearchParams(location.search);
  if (given.get("recipe")) form.recipe.value = given.get("recipe"); // from the new-model form
  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const params = form.params.value.split("\n").map((line) => line.trim()).filter(Boolean);
    const body = { name: form.name.value, yaml: form.recipe.value, params, trials: +form.trials.value,
      sampler: form.sampler.value, prune: form.prune.value };
    const started = await api("/api/sweeps", { method: "POST", json: body });
    location.href = `/sweeps/${encodeURIComponent(started.sweep)}`;
  }));
}

// Every finished trial as a line across the fields varied and the metric (SVG: no WebGL),
// each axis scaled from its lowest value (bottom) to its highest (top), logarithmic where
// the values span more than a hundredfold; the metric's colour runs from red to green.
function axisOf(label, values) {
  if (!values.every((v) => typeof v === "number")) {
    const kinds = [...new Set(values.map(String))];
    return { label, at: values.map((v) => kinds.length > 1 ? kinds.indexOf(String(v)) / (kinds.length - 1) : 0.5), low: kinds[0], high: kinds[kinds.length - 1] };
  }
  const log = Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 100;
  const scaled = values.map((v) => (log ? Math.log(v) : v));
  const [low, high] = [Math.min(...scaled), Math.max(...scaled)];
  return { label, at: scaled.map((v) => (high > low ? (v - low) / (high - low) : 0.5)), low: fmt(Math.min(...values), 3), high: fmt(Math.max(...values), 3) };
}

function parallelPlot(sweep, names) {
  const done = sweep.trials.filter((t) => t.value !== null);
  const axes = [...names.map((n) => axisOf(n, done.map((t) => t.params[n]))), axisOf(sweep.metric, done.map((t) => t.value))];
  const score = axes[axes.length - 1].at;
  const traces = done.map((t, i) => ({ type: "scatter", mode: "lines+markers", x: axes.map((_, k) => k), y: axes.map((a) => a.at[i]),
    name: `trial ${t.number}`, line: { color: `hsl(${Math.round(120 * score[i])}, 70%, 45%)` }, hovertext: `trial ${t.number}`, hoverinfo: "text" }));
  const labels = axes.flatMap((a, k) => [{ x: k, y: 1.06, text: String(a.high), showarrow: false }, { x: k, y: -0.06, text: String(a.low), showarrow: false }]);
  Plotly.react("sweep-parallel", traces, { showlegend: false, margin: { t: 30, r: 30, b: 40, l: 30 }, annotations: labels,
    xaxis: { tickvals: axes.map((_, k) => k), ticktext: axes.map((a) => a.label), zeroline: false, showgrid: true },
    yaxis: { visible: false, range: [-0.12, 1.12] } }, CONFIG);
}

async function sweepPage() {
  const name = $("#sweep-name").dataset.name;
  const sweep = await api(`/api/sweeps/${encodeURIComponent(name)}`);
  const names = sweep.params.map((p) => p.split("=")[0]);
  const finished = sweep.trials.filter((t) => t.state !== "running").length;
  $("#sweep-summary").textContent = `${finished} of ${sweep.trials_wanted} trials finished; trying ${sweep.params.join(", ")}; each trial is a training job.`;
  $("#sweep-best").textContent = sweep.best
    ? `Best: trial ${sweep.best.number}, ${sweep.metric} ${fmt(sweep.best.value, 4)} with ${Object.entries(sweep.best.params).map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v, 4) : v}`).join(", ")}.`
    : "No trial has finished yet.";
  const table = $("#sweep-trials");
  $("thead", table).replaceChildren(el("tr", {}, ...["trial", "state", sweep.metric, ...names, "epochs", "job"].map((h) => el("th", {}, h))));
  fillTable(table, sweep.trials, (t) => el("tr", {}, el("td", {}, String(t.number)), el("td", {}, stateBadge(t.state)),
    el("td", {}, t.value === null ? "" : fmt(t.value, 4)), ...names.map((n) => el("td", {}, typeof t.params[n] === "number" ? fmt(t.params[n], 4) : String(t.params[n] ?? ""))),
    el("td", {}, String(t.epochs ?? "")), el("td", {}, t.job ? el("a", { href: `/jobs/${t.job}` }, t.job) : "")), "no trials yet");
  $("#sweep-pictures").replaceChildren(...sweep.pictures.filter((src) => !src.endsWith("parallel.png"))
    .map((src) => el("img", { src: `${src}?${finished}`, alt: src.split("/").pop(), class: "plot" })));
  parallelPlot(sweep, names);
  if (finished < sweep.trials_wanted) setTimeout(guarded(sweepPage), 2000); // followed until done
}

// ---- job -----------------------------------------------------------------------------

const LAYOUT = { margin: { t: 10, r: 10, b: 40, l: 55 }, xaxis: { title: { text: "epoch" } }, legend: { orientation: "h", y: -0.25 } };
const CONFIG = { displayModeBar: false, responsive: true };

class TrainingCharts {
  constructor() {
    this.steps = [];
    this.epochs = [];
    this.metric = null;
  }

  add(records) {
    for (const r of records) (r.kind === "epoch" ? this.epochs : this.steps).push(r);
    this.draw();
  }

  draw() {
    const stepX = this.steps.map((r) => r.epoch);
    const epochX = this.epochs.map((r) => r.epoch);
    Plotly.react("loss-chart", [
      { x: stepX, y: this.steps.map((r) => r.train_loss), name: "train loss", mode: "lines", line: { color: "#3563e9" } },
      { x: epochX, y: this.epochs.map((r) => r.val_loss ?? null), name: "val loss", mode: "lines+markers", line: { color: "#d64545" } },
    ], LAYOUT, CONFIG);
    const keys = [...new Set(this.epochs.flatMap((r) => Object.keys(r)))].filter((k) => (k.startsWith("val_") && k !== "val_loss") || k === "train_accuracy");
    Plotly.react("score-chart", keys.map((k) => ({ x: epochX, y: this.epochs.map((r) => r[k] ?? null), name: k, mode: "lines+markers" })),
      { ...LAYOUT, yaxis: { rangemode: "tozero" } }, CONFIG);
    Plotly.react("lr-chart", [{ x: stepX, y: this.steps.map((r) => r.lr), name: "lr", mode: "lines", line: { color: "#1f9d55" } }],
      { ...LAYOUT, showlegend: false }, CONFIG);
    const columns = ["epoch", "train_loss", ...keys.filter((k) => k !== "train_accuracy"), "val_loss", "elapsed"];
    $("#epochs-table thead").replaceChildren(el("tr", {}, ...columns.map((c) => el("th", {}, c))));
    $("#epochs-table tbody").replaceChildren(...this.epochs.slice().reverse().map((r) =>
      el("tr", { class: r.best ? "best" : "" }, ...columns.map((c) => el("td", {}, fmt(r[c]))))));
    const last = this.steps[this.steps.length - 1];
    if (last) $("#job-rate").textContent = `${Math.round(last.images_per_s).toLocaleString()} images/s`;
  }
}

async function jobPage() {
  const jobId = $("#job-title").dataset.job;
  const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
  $("#job-title").textContent = job.title;
  document.title = `${job.title} · lumos`;
  const isTraining = job.kind === "train";
  $("#train-charts").hidden = !isTraining;
  $("#clone-job").hidden = !["train", "import"].includes(job.kind);
  const charts = isTraining ? new TrainingCharts() : null;
  let firstSeen = null; // the first progress this page saw: the ETA is measured from it
  const setState = (state, error) => {
    job.state = state;
    $("#job-state").replaceWith(Object.assign(stateBadge(state), { id: "job-state" }));
    $("#abort-job").disabled = !["queued", "running"].includes(state);
    $("#delete-job").disabled = ["queued", "running"].includes(state);
    $("#save-model").hidden = !(isTraining && state !== "queued");
    $("#job-error").hidden = !error;
    $("#job-error").textContent = error || "";
    if (state === "done" && job.kind === "evaluate") showReport(jobId);
    if (state === "done" && job.kind === "import") flash(`Dataset ${job.params.name} is ready.`, true);
    if (state === "done") api(`/api/jobs/${encodeURIComponent(jobId)}`).then((j) => showResult(j.result));
  };
  const setProgress = (progress) => {
    if (!progress) return;
    const share = progress.total ? progress.done / progress.total : 0;
    $("#job-progress-bar").style.width = `${(100 * share).toFixed(1)}%`;
    $("#job-progress-text").textContent = `${progress.stage}: ${progress.done.toLocaleString()} / ${progress.total.toLocaleString()}`;
    const now = Date.now();
    if (!firstSeen || share < firstSeen.share) firstSeen = { time: now, share };
    const rate = (share - firstSeen.share) / ((now - firstSeen.time) / 1000);
    $("#job-eta").textContent = share < 1 && rate > 0 ? `ETA ${Math.round((1 - share) / rate)} s` : "";
  };
  setState(job.state, job.error);
  setProgress(job.progress);
  const events = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
  events.addEventListener("state", (e) => {
    const data = JSON.parse(e.data);
    setState(data.state, data.error);
    if (["done", "failed", "aborted"].includes(data.state)) events.close();
  });
  events.addEventListener("metrics", (e) => charts && charts.add(JSON.parse(e.data)));
  events.addEventListener("progress", (e) => setProgress(JSON.parse(e.data)));
  events.addEventListener("log", (e) => {
    const log = $("#job-log");
    log.textContent += JSON.parse(e.data).join("\n") + "\n";
    log.scrollTop = log.scrollHeight;
  });
  $("#abort-job").addEventListener("click", guarded(async () => {
    await api(`/api/jobs/${jobId}/abort`, { method: "POST" });
    flash("Abort requested: the job saves a checkpoint and stops.", true);
  }));
  $("#clone-job").addEventListener("click", () => {
    location.href = job.kind === "train" ? `/models/new?clone=${jobId}` : `/datasets/new?clone=${jobId}`;
  });
  $("#delete-job").addEventListener("click", guarded(async () => {
    if (!confirm(`Delete job ${jobId} and its files?`)) return;
    await api(`/api/jobs/${jobId}`, { method: "DELETE" });
    location.href = "/";
  }));
  $("#save-model").addEventListener("click", guarded(async () => {
    const name = prompt("Model name", `${job.params.network}-${job.params.dataset}`.replace(/[^A-Za-z0-9._-]/g, "-"));
    if (!name) return;
    $("#save-model").disabled = true;
    try {
      const saving = await api("/api/models", { method: "POST", json: { job: jobId, name } });
      flash(`Saving model ${name}…`, true);
      const saved = await followJob(saving.id, (p) => flash(`Saving model ${name}: ${p.stage}…`, true));
      if (saved.state !== "done") throw new Error(`saving ${name} ${saved.state}: ${saved.error}`);
      flash(el("span", {}, "Model saved: ", el("a", { href: `/models/${encodeURIComponent(name)}` }, name)), true);
    } finally {
      $("#save-model").disabled = false;
    }
  }));
}

// A queued job followed until it ends (its row then), ``onProgress`` told as it goes.
async function followJob(jobId, onProgress) {
  for (;;) {
    const row = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
    if (["done", "failed", "aborted"].includes(row.state)) return row;
    if (row.progress) onProgress(row.progress);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

// What a finished job made (its result.json): names link to the pages of what they name.
const RESULT_LINKS = {
  sweep: (r) => `/sweeps/${encodeURIComponent(r.sweep)}`,
  dataset: (r) => `/datasets/${encodeURIComponent(r.dataset)}`,
  model: (r) => `/models/${encodeURIComponent(r.model)}`,
  artefact: (r) => `/api/models/${encodeURIComponent(r.model)}/artefacts/${encodeURIComponent(r.artefact)}`,
};

function showResult(result) {
  if (!result) return;
  $("#job-result").hidden = false;
  $("#result-list").replaceChildren(...Object.entries(result).flatMap(([key, value]) => {
    const link = RESULT_LINKS[key];
    const shown = typeof value === "number" ? fmt(value) : String(value);
    return [el("dt", {}, key.replaceAll("_", " ")), el("dd", {}, link ? el("a", { href: link(result) }, shown) : shown)];
  }));
}

async function showReport(jobId) {
  const files = (await api(`/api/jobs/${jobId}/report`)).files;
  $("#job-files").hidden = !files.length;
  $("#report-files").replaceChildren(...files.map((f) => (f.endsWith(".png")
    ? el("img", { src: `/api/jobs/${jobId}/files/${f}`, alt: f })
    : el("a", { href: `/api/jobs/${jobId}/files/${f}` }, f))));
}

// ---- model ---------------------------------------------------------------------------

// Every task's answer carries `display`: a label and a value in 0-1 per row, and a note
// (a box's corners) where it has one.
function answerView(answer) {
  if (!answer.display.length) return el("p", { class: "muted" }, "nothing found");
  return el("div", { class: "top" }, ...answer.display.map((r) => {
    const bar = el("div", { class: "bar" });
    bar.style.width = `${(100 * r.value).toFixed(1)}%`;
    return el("div", { class: "bar-row" }, el("span", {}, r.label), el("div", {}, bar),
      el("span", {}, `${(100 * r.value).toFixed(1)}%`), r.note ? el("span", { class: "muted" }, r.note) : null);
  }));
}

function tensorView(title, view) {
  if (!view) return null;
  const counts = view.histogram.counts;
  const peak = Math.max(...counts, 1);
  const bars = el("div", { class: "histogram", title: `${view.histogram.edges[0].toFixed(3)} … ${view.histogram.edges.at(-1).toFixed(3)}` },
    ...counts.map((c) => { const bar = el("span"); bar.style.height = `${(100 * c) / peak}%`; return bar; }));
  return el("div", { class: "tensor" }, el("h4", {}, title), el("img", { src: view.picture, alt: title }), bars,
    el("p", { class: "muted" }, `mean ${fmt(view.mean)} · std ${fmt(view.std)}`));
}

function layerView(layer) {
  return el("div", { class: "layer" }, el("h3", {}, `${layer.name} `, el("span", { class: "muted" }, `${layer.kind} → ${layer.output_shape.join("×")}`)),
    el("div", { class: "tensors" }, tensorView("activations", layer.activations), tensorView("weights", layer.weights)));
}

async function modelPage() {
  const name = $("#model-name").dataset.name;
  const detail = await api(`/api/models/${encodeURIComponent(name)}`);
  const meta = detail.meta;
  $("#model-summary").textContent = `${meta.task} · ${meta.network.name} · trained on ${meta.provenance?.dataset ?? "?"} · ${meta.labels.length} labels`;
  const shown = Object.entries(meta.metrics || {}).filter(([k]) => k === "epoch" || k.startsWith("val_") || k.startsWith("train_"));
  $("#model-metrics").replaceChildren(...shown.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))]));
  const pre = meta.preprocessing;
  $("#model-pre").replaceChildren(...Object.entries({ size: pre.size.join("×"), channels: pre.channels, "resize mode": pre.resize_mode, normalize: pre.normalize })
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  $("#evaluations").replaceChildren(...(detail.evaluations.length ? detail.evaluations.map((e) =>
    el("div", {}, el("h3", {}, el("a", { href: `/jobs/${e.id}` }, `${e.params?.split ?? ""} ${e.title}`)),
      el("div", { class: "files" }, ...e.files.filter((f) => f.endsWith(".png")).map((f) => el("img", { src: `/api/jobs/${e.id}/files/${f}`, alt: f })))))
    : [el("p", { class: "muted" }, "not evaluated yet")]));
  const artefacts = Object.entries(meta.artefacts || {});
  $("#artefacts").replaceChildren(artefacts.length
    ? el("table", { id: "artefact-table" }, el("thead", {}, el("tr", {}, ...["artefact", "layers (PyTorch → ONNX → fused)", "size", "score", "vs fp32", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...artefacts.map(([key, a]) => el("tr", {}, el("td", {}, key),
        el("td", {}, `${a.layers.pytorch} → ${a.layers.onnx} → ${a.layers.fused}`), el("td", {}, `${(a.size_bytes / 1e6).toFixed(2)} MB`),
        el("td", {}, `${a.metric} ${fmt(a.score)}`), el("td", {}, `${a.delta >= 0 ? "+" : ""}${(100 * a.delta).toFixed(2)} points`),
        el("td", {}, el("a", { href: `/api/models/${encodeURIComponent(name)}/artefacts/${encodeURIComponent(key)}` }, "download"))))))
    : el("p", { class: "muted" }, "no optimised files yet"));
  for (const field of document.querySelectorAll("#optimize-form .prunes")) field.hidden = !detail.prunable;
  $("#optimize-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const form = event.target;
    const job = await api("/api/optimize", { method: "POST", json: { model: name, precision: form.precision.value,
      prune: Number(form.prune.value), pruning: form.pruning.value, finetune: Number(form.finetune.value) } });
    location.href = `/jobs/${job.id}`;
  }));
  $("#predict-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const file = $("#predict-image").files[0];
    if (!file) throw new Error("choose an image first");
    const data = new FormData();
    data.set("image", file);
    const answer = await api(`/api/models/${encodeURIComponent(name)}/predict`, { method: "POST", body: data });
    $("#answer-picture").src = answer.picture;
    $("#answer-picture").hidden = false;
    $("#answer").replaceChildren(answerView(answer));
    $("#show-layers").disabled = false;
  }));
  $("#many-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const data = new FormData();
    const form = event.target;
    if (form.path.value) data.set("path", form.path.value);
    for (const file of form.images.files) data.append("images", file);
    const result = await api(`/api/models/${encodeURIComponent(name)}/classify-many`, { method: "POST", body: data });
    const perClass = Object.entries(result.per_class);
    $("#many-result").replaceChildren(
      el("p", {}, result.accuracy === null ? `${result.images.length} images` : `${result.images.length} images, accuracy ${(100 * result.accuracy).toFixed(1)}%`),
      // replaceChildren shows a null as the text "null": leave the table out instead.
      ...(perClass.length ? [el("table", { id: "per-class" }, el("thead", {}, el("tr", {}, ...["class", "images", "correct", "accuracy"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...perClass.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v.images), el("td", {}, v.correct), el("td", {}, `${(100 * v.accuracy).toFixed(1)}%`)))))] : []),
      el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, ...["image", "true", "top-1", "probability"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...result.images.map((r) => el("tr", {}, el("td", {}, r.file), el("td", {}, r.truth ?? ""),
          el("td", {}, r.error ? `error: ${r.error}` : r.top[0].label), el("td", {}, r.error ? "" : `${(100 * r.top[0].probability).toFixed(1)}%`)))))));
  }));
  $("#show-layers").addEventListener("click", guarded(async () => {
    const data = new FormData();
    data.set("image", $("#predict-image").files[0]);
    const layers = await api(`/api/models/${encodeURIComponent(name)}/layers`, { method: "POST", body: data });
    $("#layers").replaceChildren(...layers.map(layerView));
  }));
  $("#evaluate-model").addEventListener("click", guarded(async () => {
    const job = await api("/api/evaluate", { method: "POST", json: { model: name, dataset: meta.provenance.dataset, split: "test" } });
    location.href = `/jobs/${job.id}`;
  }));
}

// A message answers the action before it: the next one (a button, a form sent, a choice
// made in a list) takes it away.
for (const type of ["click", "submit", "change"]) {
  document.addEventListener(type, (event) => {
    const acting = type === "submit" || event.target.closest(type === "click" ? "button, a.button" : "select");
    if (acting) $("#flash").hidden = true;
  }, true);
}
// A chart drawn in a folded section takes its size when the section opens.
document.addEventListener("toggle", () => window.dispatchEvent(new Event("resize")), true);

const PAGES = { home: homePage, "dataset-new": datasetNewPage, dataset: datasetPage, "model-new": modelNewPage, job: jobPage, model: modelPage, transfer: transferPage, sweeps: sweepsPage, sweep: sweepPage };
document.addEventListener("DOMContentLoaded", guarded(() => PAGES[document.body.dataset.page]?.()));
