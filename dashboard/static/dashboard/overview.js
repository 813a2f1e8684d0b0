// The overview keeps itself current over the status websocket (/ws/status/): mapping figures,
// state, controls, job progress, the activity feed, the workers and the charts. The server
// renders the same page first, so everything is readable before (and without) this script.
(function () {
  "use strict";

  const RANGE_LABELS = { "15m": "15 min", "1h": "1 h", "24h": "24 h" };
  const RANGE_MS = { "15m": 15 * 60 * 1000, "1h": 60 * 60 * 1000, "24h": 24 * 60 * 60 * 1000 };
  // The sampler's interval: a span drawn in wider buckets is fetched again, not extended live.
  const SAMPLE_MS = 10 * 1000;
  const DIRECTIONS = { sf_to_mongo: "Salesforce → MongoDB", mongo_to_sf: "MongoDB → Salesforce" };
  const STATE_BADGE = { failing: "badge-failing", paused: "badge-paused", running: "badge-ok", idle: "badge-warning" };
  const live = document.getElementById("live");
  // Where a change came from, as the page first rendered it (salesforce -> "Salesforce").
  const labelsNode = document.getElementById("source-labels");
  const SOURCE_LABELS = labelsNode ? JSON.parse(labelsNode.textContent) : {};

  const text = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));
  // UTC on a 24-hour clock, like the server-rendered page.
  const utcFormat = (options) => new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", hourCycle: "h23", ...options });
  const TIME = utcFormat({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const HOUR_MINUTE = utcFormat({ hour: "2-digit", minute: "2-digit" });
  const clock = (iso) => (iso ? TIME.format(new Date(iso)) : "—");
  const stamp = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "—");
  // "12 s ago", "5 min ago", "3 h ago", "2 d ago": the largest whole unit, as the server says it.
  function ago(iso) {
    const seconds = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 1) return "just now";
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
      if (seconds >= 2 * size || (unit === "min" && seconds >= size)) return `${Math.floor(seconds / size)} ${unit} ago`;
    }
    return `${seconds} s ago`;
  }
  // A checkpoint's moment: "2026-11-30 19:03:28 UTC (12 s ago)", as dashboard/_moment.html.
  function moment(iso) {
    if (!iso) return [document.createTextNode("—")];
    return [el("time", `${stamp(iso)} UTC`, { datetime: iso }), document.createTextNode(" "), el("span", `(${ago(iso)})`, { class: "ago" })];
  }
  function refreshAgo() {
    for (const node of document.querySelectorAll("time[datetime] + .ago")) {
      node.textContent = `(${ago(node.previousElementSibling.getAttribute("datetime"))})`;
    }
  }
  function el(tag, content, attrs) {
    const node = document.createElement(tag);
    if (content !== undefined) node.textContent = content;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  // -- mappings -----------------------------------------------------------------------------
  function figure(m, name) {
    switch (name) {
      case "sf_to_mongo_behind_seconds": case "mongo_to_sf_behind_seconds":
        return m[name] === null || m[name] === undefined ? "—" : `${m[name].toFixed(1)} s`;
      case "api_usage": return m.api_limit ? `${m.api_used} / ${m.api_limit}` : "—";
      case "open_drift": return String(m.open_drift || 0);
      default: return text(m[name]);
    }
  }

  function renderJob(job, mapping) {
    const row = el("div", undefined, { class: "job", id: `job-${job.id}`, "data-state": job.state });
    const title = el("span", `${job.kind[0].toUpperCase()}${job.kind.slice(1)} #${job.id}: `);
    title.appendChild(el("strong", job.state, { "data-field": "job-state" }));
    const percent = job.percent === null ? 0 : job.percent;
    const bar = el("div", undefined, { class: "progress", role: "progressbar", "aria-label": `${job.kind} of ${mapping}`,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(percent) });
    const fill = el("span");
    fill.style.width = `${percent}%`;
    bar.appendChild(fill);
    const count = job.progress_total === null ? String(job.progress_done) : `${job.progress_done} / ${job.progress_total}`;
    row.append(title, bar, el("span", count, { class: "muted", "data-field": "job-count" }),
      el("span", job.message, { class: "muted", "data-field": "job-message" }));
    return row;
  }

  function renderMapping(m) {
    const card = document.getElementById(`mapping-${m.name}`);
    if (!card) return;
    for (const node of card.querySelectorAll("[data-field]")) {
      if (node.closest(".jobs")) continue;
      const name = node.dataset.field;
      if (name === "drift") node.hidden = !m.open_drift;
      else if (node.dataset.format === "moment") node.replaceChildren(...moment(m[name]));
      else node.textContent = figure(m, name);
    }
    const badge = card.querySelector('[data-field="state"]');
    badge.className = `badge ${STATE_BADGE[m.state] || "badge-warning"}`;
    card.querySelector('[data-control="pause"]').hidden = m.paused;
    card.querySelector('[data-control="resume"]').hidden = !m.paused;
    const jobs = document.getElementById(`jobs-${m.name}`);
    jobs.replaceChildren(...m.jobs.map((job) => renderJob(job, m.name)));
  }

  // -- activity and workers -----------------------------------------------------------------
  function renderActivity(lines) {
    const body = document.querySelector("#activity-feed tbody");
    if (!lines.length) return;
    body.replaceChildren(...lines.map((a) => {
      const row = el("tr", undefined, { "data-id": String(a.id) });
      const record = el("td");
      if (a.timeline_url) record.appendChild(el("a", a.record_key, { href: a.timeline_url }));
      else record.textContent = text(a.record_key);
      row.append(el("td", clock(a.created_at)), el("td", a.mapping), record, el("td", SOURCE_LABELS[a.source] || a.source), el("td", a.outcome_label));
      return row;
    }));
  }

  function renderWorkers(workers) {
    const body = document.getElementById("workers");
    if (!workers.length) {
      const row = el("tr");
      row.appendChild(el("td", "No worker is running: start python manage.py runconsumers.", { colspan: "5" }));
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(...workers.map((w) => {
      const row = el("tr");
      const counters = el("td");
      (w.labelled_counters || []).forEach((c, i) => {
        if (i) counters.append(", ");
        counters.append(el("span", c.label, { title: c.name }), `: ${c.value}`);
      });
      row.append(el("td", w.name), el("td", `${w.host} / ${w.pid}`), el("td", w.state), counters, el("td", w.last_error));
      return row;
    }));
  }

  // -- platform event relays ----------------------------------------------------------------
  function renderRelays(relays) {
    if (relays === undefined) return;  // a server without relays in its status
    document.getElementById("relays-empty").hidden = relays.length > 0;
    document.getElementById("relays-table").hidden = relays.length === 0;
    document.querySelector("#relays tbody").replaceChildren(...relays.map((r) => {
      const row = el("tr", undefined, { id: `relay-${r.name}`, "data-relay": r.name });
      const name = el("td", r.name);
      if (!r.enabled) name.append(" ", el("span", "disabled", { class: "badge badge-paused" }));
      const route = el("td", undefined, { class: "route" });
      route.append(el("code", r.channel), " → ", el("code", r.topic), " → ", el("code", r.collection));
      row.append(name, route,
        el("td", String(r.events_relayed), { class: "num", "data-field": "events_relayed" }),
        el("td", String(r.events_stored), { class: "num", "data-field": "events_stored" }),
        el("td", stamp(r.last_event_at), { class: "when", "data-field": "last_event_at" }));
      return row;
    }));
  }

  // -- charts -------------------------------------------------------------------------------
  const PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#4338ca"];
  const charts = {};
  const seen = {};  // mapping -> time (ms) of the newest sample drawn

  function makeChart(id, unit) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return null;
    return new Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 2, tension: 0.2 } },
        scales: {
          x: { type: "linear", ticks: { maxTicksLimit: 7, callback: (v) => HOUR_MINUTE.format(new Date(v)) } },
          y: { beginAtZero: true, title: { display: true, text: unit } },
        },
        plugins: { tooltip: { callbacks: { title: (items) => items.length ? `${stamp(new Date(items[0].parsed.x).toISOString())} UTC` : "" } } },
      },
    });
  }

  function dataset(chart, label) {
    let set = chart.data.datasets.find((d) => d.label === label);
    if (!set) {
      const color = PALETTE[chart.data.datasets.length % PALETTE.length];
      set = { label, data: [], borderColor: color, backgroundColor: color, spanGaps: false };
      chart.data.datasets.push(set);
    }
    return set;
  }

  const chartsNode = document.getElementById("charts");
  let range = chartsNode ? chartsNode.dataset.range : "1h";
  let bucketMs = chartsNode ? Number(chartsNode.dataset.bucketSeconds) * 1000 : SAMPLE_MS;
  let refetch = null;

  function addSamples(samples) {
    if (!charts.throughput && !charts.lag) return;
    for (const s of samples) {
      const t = Date.parse(s.taken_at);
      if (seen[s.mapping] !== undefined && t <= seen[s.mapping]) continue;
      seen[s.mapping] = t;
      for (const [direction, label] of Object.entries(DIRECTIONS)) {
        const rate = s[`${direction}_rate`], lag = s[`${direction}_lag`];
        if (charts.throughput && (rate !== null || lag !== null)) {
          dataset(charts.throughput, `${s.mapping} ${label}`).data.push({ x: t, y: rate });
        }
        if (charts.lag && lag !== null) dataset(charts.lag, `${s.mapping} ${label}`).data.push({ x: t, y: lag });
      }
    }
    const horizon = Date.now() - RANGE_MS[range];
    for (const chart of Object.values(charts)) {
      if (!chart) continue;
      for (const set of chart.data.datasets) set.data = set.data.filter((p) => p.x >= horizon);
      chart.options.scales.x.min = horizon;
      chart.options.scales.x.max = Date.now();
      chart.update("none");
      const note = document.querySelector(`[data-no-data="${chart.canvas.id}"]`);
      if (note) note.hidden = chart.data.datasets.some((set) => set.data.length > 0);
    }
  }

  function resetCharts(samples) {
    for (const chart of Object.values(charts)) if (chart) chart.data.datasets = [];
    for (const key of Object.keys(seen)) delete seen[key];
    addSamples(samples);
  }

  // The range control: links that work without this script (?range=), here fetched in place.
  async function showRange(name) {
    const response = await fetch(`/charts/data?range=${encodeURIComponent(name)}`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    range = data.range;
    chartsNode.dataset.range = range;
    for (const link of document.querySelectorAll(".chart-ranges a")) {
      if (link.dataset.range === range) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    const label = document.querySelector('[data-field="chart-range"]');
    if (label) label.textContent = RANGE_LABELS[range];
    bucketMs = data.bucket_seconds * 1000;
    window.history.replaceState(null, "", `?range=${range}${location.hash}`);
    resetCharts(data.samples);
    // Points wider than a sample are re-read, so that each stays one bucket of the server's.
    clearTimeout(refetch);
    if (!liveSamples()) refetch = setTimeout(() => showRange(range), bucketMs);
  }

  const liveSamples = () => bucketMs <= SAMPLE_MS;

  // -- the socket ---------------------------------------------------------------------------
  function render(status) {
    for (const m of status.mappings) renderMapping(m);
    renderActivity(status.activity);
    renderWorkers(status.workers);
    renderRelays(status.relays);
    if (liveSamples()) addSamples(status.samples);
    refreshAgo();
    live.textContent = `Live · updated ${TIME.format(new Date())} UTC`;
  }

  function connect() {
    const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/status/");
    socket.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "status") render(data.status);
      else if (data.type === "history") {
        if (range === "1h") resetCharts(data.samples);  // the socket sends the default span
        else showRange(range);
      }
    };
    socket.onclose = () => { live.textContent = "Live updates paused; reconnecting…"; setTimeout(connect, 3000); };
  }

  function start() {
    charts.throughput = makeChart("chart-throughput", "events/s");
    charts.lag = makeChart("chart-lag", "messages");
    const history = document.getElementById("metrics-history");
    resetCharts(history ? JSON.parse(history.textContent) : []);
    for (const link of document.querySelectorAll(".chart-ranges a")) {
      link.addEventListener("click", (event) => { event.preventDefault(); showRange(link.dataset.range); });
    }
    if (!liveSamples()) refetch = setTimeout(() => showRange(range), bucketMs);
    setInterval(refreshAgo, 1000);
    connect();
  }

  // Both scripts are deferred: Chart.js has run by the time the document is parsed.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
