// The vqdb dashboard: plain browser JavaScript over the server's HTTP API (Qdrant's routes and
// vqdb's /vqdb/ ones); Chart.js draws the plots from the advisor's JSON.
"use strict";

const $ = (id) => document.getElementById(id);
const charts = {};
let lastAdvice = null;

// ---- the API ------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  const key = $("api-key").value || localStorage.getItem("vqdb-api-key");
  if (key) headers["api-key"] = key;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (answer.status && answer.status.error) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return answer.result;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

async function guarded(work) {
  showError(null);
  try { await work(); } catch (e) { showError(e); }
}

// ---- pages --------------------------------------------------------------------------------

function showPage(name) {
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("active", b.dataset.page === name);
  }
  for (const p of document.querySelectorAll(".page")) p.hidden = p.id !== `page-${name}`;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function describeVectors(params) {
  const vectors = params.vectors || {};
  const one = (v) => `${v.size}d ${v.distance}`;
  if ("size" in vectors) return one(vectors);
  return Object.entries(vectors).map(([n, v]) => `${n}: ${one(v)}`).join(", ");
}

function perVector(memory, where) {
  // RAM or disk bytes of one vector, every part of the first vector name, plus its payload
  const first = Object.values(memory.vectors)[0];
  if (!first) return 0;
  const parts = Object.values(first.bytes_per_vector).reduce((s, p) => s + p[where], 0);
  return parts + memory.payloads.bytes_per_point[where];
}

async function loadCollections() {
  const names = (await api("GET", "/collections")).collections.map((c) => c.name).sort();
  const body = $("collections").tBodies[0];
  body.replaceChildren();
  const memories = {};
  for (const name of names) {
    const [info, state] = await Promise.all([
      api("GET", `/collections/${encodeURIComponent(name)}`),
      api("GET", `/vqdb/collections/${encodeURIComponent(name)}`),
    ]);
    memories[name] = state.memory;
    const row = body.insertRow();
    row.dataset.collection = name;
    cell(row, name);
    cell(row, info.status, `status-${info.status}`);
    cell(row, info.points_count, "num");
    cell(row, info.segments_count, "num");
    cell(row, describeVectors(info.config.params));
    cell(row, JSON.stringify(info.config.quantization_config || "none"));
    cell(row, perVector(state.memory, "ram").toFixed(0), "num");
    cell(row, perVector(state.memory, "disk").toFixed(0), "num");
  }
  for (const select of document.querySelectorAll(".collection-select")) {
    const kept = select.value;
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(kept)) select.value = kept;
  }
  drawMemory(memories);
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
}

function drawMemory(memories) {
  // one stacked bar per collection and place (RAM, disk), a stack segment per part
  const labels = [];
  const parts = ["codes", "graph", "originals", "payloads"];
  const data = Object.fromEntries(parts.map((p) => [p, []]));
  for (const [name, memory] of Object.entries(memories)) {
    const first = Object.values(memory.vectors)[0];
    for (const where of ["ram", "disk"]) {
      labels.push(`${name} ${where === "ram" ? "RAM" : "disk"}`);
      for (const part of parts) {
        const bytes = part === "payloads"
          ? memory.payloads.bytes_per_point[where]
          : first ? first.bytes_per_vector[part][where] : 0;
        data[part].push(bytes);
      }
    }
  }
  draw("memory-chart", {
    type: "bar",
    data: {
      labels,
      datasets: parts.map((p, i) => ({ label: p, data: data[p], backgroundColor: PALETTE[i] })),
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "bytes per vector" } } },
    },
  });
}

// ---- search console -----------------------------------------------------------------------

async function runQuery() {
  const name = $("console-collection").value;
  const body = JSON.parse($("console-body").value);
  const result = await api("POST", `/collections/${encodeURIComponent(name)}/points/query`, body);
  const rows = $("console-results").tBodies[0];
  rows.replaceChildren();
  for (const point of result.points) {
    const row = rows.insertRow();
    cell(row, point.id);
    cell(row, point.score.toFixed(4), "num");
    cell(row, JSON.stringify(point.payload || {}));
  }
}

async function fillConsoleQuery() {
  // a real vector of the collection, so that the first search finds something
  const name = $("console-collection").value;
  if (!name) return;
  const page = await api("POST", `/collections/${encodeURIComponent(name)}/points/scroll`,
    { limit: 1, with_vector: true });
  const point = page.points[0];
  if (!point || !Array.isArray(point.vector)) return;
  const query = point.vector.map((v) => Number(v.toFixed(4)));
  $("console-body").value = JSON.stringify({ query, limit: 5, with_payload: true });
}

// ---- advisor ------------------------------------------------------------------------------

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
  "#db2777", "#4b5563", "#65a30d", "#7c3aed", "#0d9488", "#b45309", "#be123c", "#1d4ed8",
  "#15803d"];

function byLabel(rows) {
  const groups = new Map();
  for (const r of rows) {
    if (!groups.has(r.label)) groups.set(r.label, []);
    groups.get(r.label).push(r);
  }
  return [...groups.entries()];
}

function scatter(id, rows, x, xTitle, logX) {
  const datasets = byLabel(rows).map(([label, group], i) => ({
    label, data: group.map((r) => ({ x: r[x], y: r.recall })),
    backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length],
  }));
  draw(id, {
    type: "scatter", data: { datasets },
    options: {
      maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: false }, title: { display: true, text: `recall vs ${xTitle}` } },
      scales: {
        x: { type: logX ? "logarithmic" : "linear", title: { display: true, text: xTitle } },
        y: { title: { display: true, text: "recall" }, max: 1 },
      },
    },
  });
}

function drawAdvice(advice) {
  const rows = advice.candidates;
  const oversampling = [...new Set(rows.map((r) => r.oversampling))].sort((a, b) => a - b);
  draw("chart-oversampling", {
    type: "line",
    data: {
      labels: oversampling,
      datasets: byLabel(rows).map(([label, group], i) => ({
        label, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
        data: oversampling.map((o) => (group.find((r) => r.oversampling === o) || {}).recall ?? null),
      })),
    },
    options: {
      maintainAspectRatio: false, animation: false,
      plugins: { title: { display: true, text: "recall vs oversampling, per method" },
        legend: { position: "right", labels: { boxWidth: 10, font: { size: 10 } } } },
      scales: { x: { title: { display: true, text: "oversampling" } },
        y: { title: { display: true, text: `recall@${advice.sample.limit}` }, max: 1 } },
    },
  });
  scatter("chart-memory", rows, "bytes_per_vector_ram", "bytes per vector in RAM", false);
  scatter("chart-qps", rows, "qps", "queries per second", true);
}

async function runAdvisor() {
  const name = $("advisor-collection").value;
  $("advisor-status").textContent = "measuring every quantization on a sample…";
  $("advisor-run").disabled = true;
  try {
    const advice = await api("POST", `/vqdb/collections/${encodeURIComponent(name)}/advise`, {
      target_recall: Number($("advisor-target").value),
      objective: $("advisor-objective").value,
    });
    lastAdvice = { name, advice };
    $("advisor-result").hidden = false;
    $("advisor-summary").textContent = advice.summary;
    const rec = advice.recommendation;
    $("advisor-config").textContent = JSON.stringify(
      { quantization_config: rec.quantization_config, search_params: rec.search_params }, null, 1);
    $("advisor-apply").disabled = !rec.met;
    $("rebuild-status").textContent = "";
    drawAdvice(advice);
    $("advisor-status").textContent = `done in ${advice.seconds.toFixed(1)} s`;
  } finally {
    $("advisor-run").disabled = false;
  }
}

async function applyAdvice() {
  const { name, advice } = lastAdvice;
  const path = `/vqdb/collections/${encodeURIComponent(name)}`;
  await api("POST", `${path}/advice/apply`, advice.recommendation);
  const bar = $("rebuild-progress");
  bar.hidden = false;
  for (;;) {
    const { rebuild } = await api("GET", path);
    bar.value = rebuild.fraction;
    $("rebuild-status").textContent = rebuild.error
      ? `rebuild failed: ${rebuild.error}`
      : `${rebuild.rebuilt_points} of ${rebuild.points} points rebuilt${rebuild.done ? " — done" : ""}`;
    if (rebuild.done || rebuild.error) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await loadCollections();
}

// ---- wiring -------------------------------------------------------------------------------

window.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = localStorage.getItem("vqdb-api-key") || "";
  $("api-key").addEventListener("change", () => {
    if ($("api-key").value === localStorage.getItem("vqdb-api-key")) return;
    localStorage.setItem("vqdb-api-key", $("api-key").value);
    guarded(loadCollections);
  });
  for (const b of document.querySelectorAll("nav button")) {
    b.addEventListener("click", () => {
      showPage(b.dataset.page);
      if (b.dataset.page === "collections") guarded(loadCollections);
    });
  }
  $("console-collection").addEventListener("change", () => guarded(fillConsoleQuery));
  $("console-run").addEventListener("click", () => guarded(runQuery));
  $("advisor-run").addEventListener("click", () => guarded(runAdvisor));
  $("advisor-apply").addEventListener("click", () => guarded(applyAdvice));
  guarded(async () => { await loadCollections(); await fillConsoleQuery(); });
});
