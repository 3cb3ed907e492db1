// luma-mock dashboard: watches and steers the fake through its control API (/__admin/).
// Everything it shows is put in as text (textContent, never innerHTML): a prompt with
// markup in it is shown as the characters it is. Live updates come from /__admin/events
// (server-sent events, read with fetch so that the control token travels as a header).
"use strict";

const TOKEN_KEY = "luma-mock-control-token";
const PAGE = 50; // rows of tasks per page, and journal entries shown
const TIMELINE = 30; // recent tasks drawn on the timeline
const $ = (id) => document.getElementById(id);

const view = {
  clock: { now: 0, manual: true, at: 0 },
  dialects: {}, // name -> error codes
  offset: 0,
  total: 0,
  rows: [], // the tasks on the current page, newest first
  recent: new Map(), // id -> row, for the timeline
  detailId: null,
  journal: [],
  entrySeq: null,
  filters: {},
  chosen: new Map(), // task id -> the error code picked for Fail
};

// -- building elements (text only) ---------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

function pretty(value) {
  return el("pre", {}, value === undefined ? "" : JSON.stringify(value, null, 2));
}

function fakeNow() {
  const c = view.clock;
  return c.manual ? c.now : c.now + (performance.now() - c.at) / 1000;
}

function setClock(now, manual) {
  view.clock = { now, manual, at: performance.now() };
}

function when(t) {
  if (t === null || t === undefined) return "";
  return new Date(t * 1000).toISOString().slice(11, 22);
}

// -- talking to the fake ---------------------------------------------------------------

class Refused extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function headers(extra) {
  const given = token();
  return given ? { ...extra, Authorization: "Bearer " + given } : { ...extra };
}

function messageOf(body, status) {
  if (body && body.error && body.error.message) return body.error.message;
  if (body && typeof body.detail === "string") return body.detail;
  return "the fake answered " + status;
}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const answer = await fetch("/__admin" + path, init);
  const data = await answer.json().catch(() => null);
  if (answer.status === 401) {
    askForToken(token() ? "That control token was refused." : "");
    throw new Refused("the control token is needed");
  }
  if (!answer.ok) throw new Refused(messageOf(data, answer.status));
  return data;
}

// A snapshot (a GET) and the notices (the event stream) travel on different connections,
// so a snapshot can land after a notice newer than itself: drawn as it is, it would undo
// that notice (a failed task shown pending again, a journal entry gone). So each snapshot
// keeps the notices heard while it was on its way, for its loader to replay over it, and
// of two snapshots of one kind only the one asked last is drawn. A reset heard meanwhile
// makes it moot (the reset reloads everything).
const asked = {}; // kind -> the number of its latest snapshot
const heard = new Set(); // the notice logs of the snapshots on their way

async function snapshot(kind, path) {
  const number = (asked[kind] = (asked[kind] || 0) + 1);
  const log = [];
  heard.add(log);
  try {
    const data = await api("GET", path);
    const moot = number !== asked[kind] || log.some(([name]) => name === "reset");
    return moot ? null : { data, notices: log };
  } finally {
    heard.delete(log);
  }
}

function replayed(notices, name) {
  return notices.filter(([heardName]) => heardName === name).map(([, data]) => data);
}

// A field the user is editing is theirs: a reload shows the fake's value in it only while
// it holds the value last shown there and does not have the focus.
function follow(input, value) {
  const untouched = input.value === (input.dataset.shown ?? input.defaultValue);
  if (untouched && document.activeElement !== input) input.value = value;
  if (untouched || input.value === value) input.dataset.shown = value;
}

function reporting(id, work) {
  return async (...args) => {
    $(id).textContent = "";
    try {
      await work(...args);
    } catch (error) {
      $(id).textContent = error.message;
    }
  };
}

// -- the token --------------------------------------------------------------------------

function askForToken(problem) {
  $("panels").hidden = true;
  $("unlock").hidden = false;
  $("unlock-error").textContent = problem || "";
  $("unlock-token").focus();
}

$("unlock").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("unlock-token").value);
  $("unlock-token").value = "";
  start();
});

// -- tasks ------------------------------------------------------------------------------

function stateOf(row) {
  // Leaving the queue is read off the clock, as the fake itself does.
  if (row.state === "pending" && row.starts_at !== null && fakeNow() >= row.starts_at) return "processing";
  return row.state;
}

function running(row) {
  return row.state === "pending" || row.state === "processing";
}

function progressOf(row) {
  if (!running(row) || row.ends_at === null) return null;
  const span = row.ends_at - row.created_at;
  const done = span <= 0 ? 1 : (fakeNow() - row.created_at) / span;
  return Math.max(0, Math.min(100, Math.round(done * 100)));
}

function progressBar(row) {
  const value = progressOf(row);
  if (value === null) return null;
  const fill = el("div");
  fill.style.width = value + "%";
  return el("div", {
    class: "bar" + (stateOf(row) === "pending" ? " queued" : ""),
    role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": value,
    "aria-label": "progress of " + row.id,
  }, fill);
}

function steering(row) {
  if (!running(row)) return null;
  const codes = view.dialects[row.dialect] || ["api_error"];
  const chosen = view.chosen.get(row.id) || "api_error";
  const choice = el("select", { "aria-label": "error code for " + row.id },
    ...codes.map((code) => el("option", code === chosen ? { selected: "" } : {}, code)));
  // Rows are redrawn as notices arrive: the choice must outlive its element.
  choice.addEventListener("change", () => view.chosen.set(row.id, choice.value));
  const complete = el("button", { type: "button" }, "Complete");
  complete.addEventListener("click", reporting("tasks-error", () => api("POST", `/tasks/${encodeURIComponent(row.id)}/complete`)));
  const fail = el("button", { type: "button" }, "Fail");
  fail.addEventListener("click", reporting("tasks-error", () =>
    api("POST", `/tasks/${encodeURIComponent(row.id)}/fail`, { code: choice.value })));
  return el("span", {}, complete, " ", choice, " ", fail);
}

function taskRow(row) {
  const state = stateOf(row);
  const tr = el("tr", { "data-task-id": row.id, class: view.detailId === row.id ? "open" : null },
    el("td", { class: "id" }, row.id),
    el("td", {}, row.dialect),
    el("td", {}, row.action),
    el("td", { class: "prompt", title: row.prompt || "" }, row.prompt || ""),
    el("td", {}, el("span", { class: "state " + state }, state), row.error ? " " + row.error : ""),
    el("td", {}, when(row.created_at)),
    el("td", {}, when(row.started_at !== null ? row.started_at : state === "processing" ? row.starts_at : null)),
    el("td", {}, when(row.finished_at)),
    el("td", {}, progressBar(row)),
    el("td", {}, steering(row)));
  tr.addEventListener("click", (event) => {
    if (event.target.closest("button, select")) return;
    openDetail(row.id);
  });
  return tr;
}

const drawn = new Map(); // task id -> [the row's data as JSON, its element]

function rowElement(row) {
  // An unchanged row keeps its element (tick moves its bar): redrawn, it would close an
  // open error-code list or take a click meant for its buttons.
  const shape = JSON.stringify([row, view.detailId === row.id]);
  const had = drawn.get(row.id);
  if (had && had[0] === shape) return had[1];
  const tr = taskRow(row);
  drawn.set(row.id, [shape, tr]);
  return tr;
}

function drawTasks() {
  const body = $("tasks-table").tBodies[0];
  const elements = view.rows.map(rowElement);
  const shown = new Set(view.rows.map((r) => r.id));
  for (const id of drawn.keys()) if (!shown.has(id)) drawn.delete(id);
  elements.forEach((tr, at) => {
    if (body.children[at] !== tr) body.insertBefore(tr, body.children[at] || null);
  });
  while (body.children.length > elements.length) body.lastChild.remove();
  const first = view.total ? view.offset + 1 : 0;
  $("tasks-range").textContent = `${first}–${view.offset + view.rows.length} of ${view.total.toLocaleString("en")} tasks`;
  $("tasks-newer").disabled = view.offset === 0;
  $("tasks-older").disabled = view.offset + view.rows.length >= view.total;
  drawTimeline();
}

function tick() {
  // Between notices only the clock moves: states and bars follow it here, in place (a
  // row redrawn would close an open error-code list under the user's pointer).
  const byId = new Map(view.rows.map((r) => [r.id, r]));
  for (const tr of $("tasks-table").tBodies[0].rows) {
    const row = byId.get(tr.dataset.taskId);
    if (!row || !running(row)) continue;
    const state = stateOf(row);
    const badge = tr.querySelector(".state");
    badge.textContent = state;
    badge.className = "state " + state;
    if (row.started_at === null) tr.cells[6].textContent = when(state === "processing" ? row.starts_at : null);
    const bar = tr.querySelector("[role=progressbar]");
    const value = progressOf(row);
    if (bar && value !== null) {
      bar.setAttribute("aria-valuenow", String(value));
      bar.className = "bar" + (state === "pending" ? " queued" : "");
      bar.firstChild.style.width = value + "%";
    }
  }
  $("clock-time").textContent = new Date(fakeNow() * 1000).toISOString().replace("T", " ").slice(0, 21);
  $("clock-now").textContent = "fake time " + when(fakeNow()) + (view.clock.manual ? " (manual)" : "");
  drawTimeline();
}

let tasksOnTheirWay = 0; // the table is aria-busy while a page of tasks is on its way

async function loadTasks() {
  const table = $("tasks-table");
  tasksOnTheirWay += 1;
  table.setAttribute("aria-busy", "true");
  try {
    const got = await snapshot("tasks", `/tasks?offset=${view.offset}&limit=${PAGE}`);
    if (!got) return;
    const page = got.data;
    view.total = page.total;
    view.rows = page.tasks;
    if (view.offset === 0) {
      view.recent = new Map(page.tasks.slice(0, TIMELINE).map((row) => [row.id, row]));
    }
    for (const row of replayed(got.notices, "task")) mergeTask(row);
    drawTasks();
  } finally {
    tasksOnTheirWay -= 1;
    if (!tasksOnTheirWay) table.setAttribute("aria-busy", "false");
  }
}

function taskChanged(row) {
  mergeTask(row);
  drawTasks();
  if (view.detailId === row.id) openDetail(row.id).catch(() => {});
}

function mergeTask(row) {
  const at = view.rows.findIndex((r) => r.id === row.id);
  // A task the first page has not shown is new when it belongs there by its age, not
  // only while it is pending (an instant one is made and ended in one batch of
  // notices); an older task that ends on a later page stays there.
  const last = view.rows[view.rows.length - 1];
  const fresh = at < 0 && view.offset === 0 && !view.recent.has(row.id) &&
    (view.rows.length < PAGE || row.created_at >= last.created_at);
  if (at >= 0) {
    view.rows[at] = row;
  } else if (fresh) {
    const before = view.rows.findIndex((r) => r.created_at <= row.created_at);
    view.rows.splice(before < 0 ? view.rows.length : before, 0, row); // newest first
    view.rows.length = Math.min(view.rows.length, PAGE);
    view.total += 1;
  }
  if (view.recent.has(row.id) || fresh || !row.finished_at) {
    view.recent.set(row.id, row);
    const newest = [...view.recent.values()].sort((a, b) => b.created_at - a.created_at);
    view.recent = new Map(newest.slice(0, TIMELINE).map((r) => [r.id, r]));
  }
}

$("tasks-newer").addEventListener("click", reporting("tasks-error", async () => {
  view.offset = Math.max(0, view.offset - PAGE);
  await loadTasks();
}));
$("tasks-older").addEventListener("click", reporting("tasks-error", async () => {
  view.offset += PAGE;
  await loadTasks();
}));

// -- one task's detail ----------------------------------------------------------------------

function deliveryLog(delivery) {
  return el("div", {},
    el("p", {}, "to ", el("code", {}, delivery.url), " — ", delivery.state),
    el("table", { class: "attempts" },
      el("thead", {}, el("tr", {}, el("th", {}, "Attempt"), el("th", {}, "Time"), el("th", {}, "Status or error"), el("th", {}, "Duration"))),
      el("tbody", {}, ...delivery.attempts.map((a) => el("tr", {},
        el("td", {}, a.number), el("td", {}, when(a.at)),
        el("td", {}, a.status !== null ? a.status : a.error), el("td", {}, a.duration_ms + " ms"))))));
}

function mediaOf(item) {
  if (!item.url.startsWith("/")) return null; // the fake's own files only
  if (item.type.startsWith("video/")) {
    return el("video", { src: item.url, controls: "", muted: "", preload: "auto", "aria-label": "video" });
  }
  if (item.type.startsWith("image/")) return el("img", { src: item.url, alt: "thumbnail" });
  return el("a", { href: item.url }, item.url);
}

async function openDetail(id) {
  view.detailId = id;
  const got = await snapshot("detail", `/tasks/${encodeURIComponent(id)}/detail`);
  if (!got || view.detailId !== id) return;
  const detail = got.data;
  const body = $("detail-body");
  const media = detail.media.map(mediaOf);
  const shown = body.querySelectorAll("video");
  // A task that changes again must not restart a video that is playing.
  const keep = shown.length && detail.media.length && body.dataset.task === id ? [...body.querySelectorAll("video, img")] : null;
  body.dataset.task = id;
  body.replaceChildren(
    el("p", {}, el("code", {}, id), ` — ${detail.row.dialect}, ${detail.row.action}, `, el("span", { class: "state " + detail.row.state }, detail.row.state)),
    el("h3", {}, "Media"), ...(keep || (media.length ? media : [el("p", { class: "muted" }, "none yet")])),
    el("h3", {}, "Record"), pretty(detail.record),
    el("h3", {}, "Request"), pretty(detail.request),
    el("h3", {}, "Answer"), pretty(detail.answer),
    el("h3", {}, "Callback deliveries"),
    ...(detail.callbacks.length ? detail.callbacks.map(deliveryLog) : [el("p", { class: "muted" }, "no callback")]));
  $("detail-title").textContent = "Task " + id;
  $("detail").hidden = false;
  drawTasks();
}

$("detail-close").addEventListener("click", () => {
  view.detailId = null;
  $("detail").hidden = true;
  drawTasks();
});

// -- the clock ----------------------------------------------------------------------------

$("advance").addEventListener("submit", (event) => {
  event.preventDefault();
  reporting("clock-error", async () => {
    const moved = await api("POST", "/clock/advance", { seconds: Number($("advance-seconds").value) });
    setClock(moved.now, true);
    tick();
  })();
});

function drawClock() {
  $("advance").hidden = !view.clock.manual;
  $("clock-kind").textContent = view.clock.manual ? "(manual clock)" : "(real clock)";
  tick();
}

// -- the timeline -----------------------------------------------------------------------------

function drawTimeline() {
  const chart = $("timeline-chart");
  const rows = [...view.recent.values()].sort((a, b) => a.created_at - b.created_at);
  const width = chart.clientWidth || 800;
  const lane = 14;
  chart.setAttribute("height", String(Math.max(40, rows.length * lane + 24)));
  chart.replaceChildren();
  if (!rows.length) return;
  const now = fakeNow();
  const start = rows[0].created_at;
  const end = Math.max(now, ...rows.map((r) => r.finished_at || r.ends_at || now)) || start + 1;
  const x = (t) => 110 + ((t - start) / Math.max(end - start, 1e-9)) * (width - 130);
  rows.forEach((row, i) => {
    const y = 4 + i * lane;
    const group = svg("g", { "data-task-id": row.id, class: "lane" });
    const title = svg("title");
    title.textContent = `${row.id} ${row.prompt || ""} — ${row.state}`;
    group.append(title);
    const label = svg("text", { x: 0, y: y + 10 });
    label.textContent = row.id.slice(0, 8) + " " + row.dialect.slice(0, 5);
    group.append(label);
    const started = row.started_at !== null ? row.started_at : Math.min(row.starts_at ?? now, now);
    const finished = row.finished_at;
    const segments = [["pending", row.created_at, Math.min(started, finished ?? now)]];
    if (finished !== null) {
      segments.push([row.state, started, finished]);
    } else if (row.starts_at !== null && now >= row.starts_at) {
      segments.push(["processing", started, now]);
    }
    for (const [kind, from, to] of segments) {
      group.append(svg("rect", { class: kind, x: x(from), y, height: lane - 4, width: Math.max(2, x(to) - x(from)) }));
    }
    for (const attempt of row.callback ? row.callback.attempts : []) {
      const mark = svg("circle", { class: "callback" + (attempt.ok ? "" : " missed"), cx: x(attempt.at), cy: y + (lane - 4) / 2, r: 4 });
      const tip = svg("title");
      tip.textContent = `callback attempt ${attempt.number}: ${attempt.status ?? attempt.error}`;
      mark.append(tip);
      group.append(mark);
    }
    chart.append(group);
  });
  chart.append(svg("line", { class: "now", x1: x(now), x2: x(now), y1: 0, y2: rows.length * lane + 8 }));
}

// -- the journal ------------------------------------------------------------------------------

function matchesFilters(entry) {
  for (const [key, wanted] of Object.entries(view.filters)) {
    const have = entry[key];
    if (key === "status" ? have !== Number(wanted) : String(have ?? "") !== wanted) return false;
  }
  return true;
}

function journalRow(entry) {
  const verdict = entry.verdict;
  const schema = !verdict ? "" : verdict.ok ? (verdict.unknown_fields.length ? "valid; unknown: " + verdict.unknown_fields.join(", ") : "valid") : "refused";
  const tr = el("tr", { "data-seq": entry.seq, class: view.entrySeq === entry.seq ? "open" : null },
    el("td", {}, entry.seq), el("td", {}, entry.kind), el("td", {}, entry.kind === "callback" ? "POST" : entry.method),
    el("td", {}, entry.path), el("td", {}, entry.status ?? (entry.error ? "error" : "held")),
    el("td", {}, entry.duration_ms === null || entry.duration_ms === undefined ? "" : entry.duration_ms + " ms"),
    el("td", {}, entry.rule || ""), el("td", {}, entry.fault || ""), el("td", {}, schema),
    el("td", {}, paymentText(entry.payment)));
  tr.addEventListener("click", () => openEntry(entry.seq));
  return tr;
}

// A paid call's payment (serve --x402): amount, outcome, payer, e.g.
// "0.5 USDC settled by 0xAbC…1234 on eip155:8453".
function paymentText(payment) {
  if (!payment) return "";
  const payer = payment.payer ? String(payment.payer) : "";
  const short = payer.length > 12 ? payer.slice(0, 6) + "\u2026" + payer.slice(-4) : payer;
  const amount = payment.amount === null || payment.amount === undefined ? "" : payment.amount + " USDC ";
  return `${amount}${payment.outcome}${short ? " by " + short : ""}${payment.network ? " on " + payment.network : ""}`;
}

function drawJournal() {
  $("journal-table").tBodies[0].replaceChildren(...view.journal.map(journalRow));
}

async function loadJournal() {
  const query = new URLSearchParams({ limit: PAGE, ...view.filters });
  const got = await snapshot("journal", "/journal/latest?" + query);
  if (!got) return;
  view.journal = got.data.entries;
  for (const entry of replayed(got.notices, "journal")) mergeEntry(entry);
  drawJournal();
}

function mergeEntry(entry) {
  if (!matchesFilters(entry)) return false;
  const at = view.journal.findIndex((e) => e.seq === entry.seq);
  if (at >= 0) view.journal[at] = entry;
  else {
    view.journal.push(entry);
    view.journal.sort((a, b) => b.seq - a.seq); // newest first, whatever the order heard
  }
  view.journal.length = Math.min(view.journal.length, PAGE);
  return true;
}

function journalChanged(entry) {
  if (!mergeEntry(entry)) return;
  drawJournal();
  if (view.entrySeq === entry.seq) openEntry(entry.seq);
}

function quote(text) {
  return "'" + String(text).replace(/'/g, "'\\''") + "'";
}

function curlLine(entry) {
  const url = entry.kind === "callback" ? entry.url : location.origin + entry.path;
  const parts = ["curl", "-X", entry.kind === "callback" ? "POST" : entry.method, quote(url)];
  const skip = new Set(["host", "content-length", "connection", "accept-encoding", "user-agent", "accept"]);
  for (const [name, value] of Object.entries(entry.headers || {})) {
    if (skip.has(name.toLowerCase())) continue;
    const secret = name.toLowerCase() === "authorization";
    parts.push("-H", secret ? `"${name}: Bearer $TOKEN"` : quote(`${name}: ${value}`));
  }
  if (entry.kind === "callback") parts.push("-H", quote("content-type: application/json"));
  if (entry.body !== undefined && entry.body !== null) {
    parts.push("-d", quote(typeof entry.body === "string" ? entry.body : JSON.stringify(entry.body)));
  }
  return parts.join(" ");
}

async function openEntry(seq) {
  view.entrySeq = seq;
  const entry = await api("GET", "/journal/" + seq);
  const line = curlLine(entry);
  const copy = el("button", { type: "button" }, "Copy curl");
  copy.addEventListener("click", async () => {
    await navigator.clipboard.writeText(line).then(() => (copy.textContent = "Copied"), () => (copy.textContent = "Select and copy"));
  });
  $("entry").replaceChildren(
    el("h3", {}, `Entry ${entry.seq}: ${entry.kind === "callback" ? "callback to " + entry.url : entry.method + " " + entry.path}`),
    el("p", {}, el("code", { id: "curl-line" }, line), " ", copy),
    el("h3", {}, "Headers"), pretty(entry.headers),
    el("h3", {}, "Body"), pretty(entry.body),
    el("h3", {}, "Answer"), pretty(entry.answer),
    el("h3", {}, "Schema verdict"), pretty(entry.verdict),
    ...(entry.payment ? [el("h3", {}, "Payment"), pretty(entry.payment)] : []));
  $("entry").hidden = false;
  drawJournal();
}

$("journal-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  view.filters = Object.fromEntries([...form.entries()].filter(([, v]) => v !== ""));
  reporting("journal-error", loadJournal)();
});

// -- scenarios, credits, rate limit, reset ------------------------------------------------------

async function loadRules() {
  const got = await snapshot("rules", "/scenarios");
  if (!got) return;
  $("rules").replaceChildren(...got.data.rules.map((rule) => {
    const remove = el("button", { type: "button", "aria-label": "Remove " + rule.name }, "Remove");
    remove.addEventListener("click", reporting("rule-error", () => api("DELETE", "/scenarios/" + rule.id)));
    const { id, name, matched, spent, ...shape } = rule;
    const dialect = rule.match && rule.match.dialect ? rule.match.dialect : "any dialect";
    return el("li", { "data-rule": rule.name }, el("strong", {}, name), " ", el("span", { class: "dialect" }, dialect),
      ` (matched ${matched}${spent ? ", spent" : ""}) `,
      el("code", {}, JSON.stringify(shape)), " ", remove);
  }));
}

$("add-rule").addEventListener("submit", (event) => {
  event.preventDefault();
  reporting("rule-error", async () => {
    let rule;
    try {
      rule = JSON.parse($("rule-text").value);
    } catch (error) {
      throw new Refused("the rule is not JSON: " + error.message);
    }
    await api("POST", "/scenarios", rule);
  })();
});

async function loadState() {
  const got = await snapshot("state", "/state");
  if (!got) return;
  const state = got.data;
  setClock(state.now, state.manual);
  for (const moved of replayed(got.notices, "clock")) setClock(moved.now, moved.manual);
  view.dialects = Object.fromEntries(state.dialects.map((d) => [d.name, d.error_codes]));
  const unlimited = state.default_credits === null ? "unlimited" : state.default_credits;
  $("balances").tBodies[0].replaceChildren(
    el("tr", {}, el("td", { class: "muted" }, "any other token"), el("td", {}, unlimited)),
    ...state.balances.map((b) => el("tr", {}, el("td", {}, b.token), el("td", {}, b.credits === null ? "unlimited" : b.credits))));
  follow($("rate-limit"), state.rate_limit || "");
  drawClock();
}

$("set-credits").addEventListener("submit", (event) => {
  event.preventDefault();
  reporting("accounts-error", async () => {
    const raw = $("credits-value").value;
    await api("POST", "/balances", { token: $("credits-token").value, credits: raw === "" ? null : Number(raw) });
    await loadState();
  })();
});

$("set-rate-limit").addEventListener("submit", (event) => {
  event.preventDefault();
  reporting("accounts-error", async () => {
    const limit = $("rate-limit").value.trim();
    await api("POST", "/rate-limit", { limit: limit === "" || limit === "off" ? null : limit });
    $("rate-limit").dataset.shown = $("rate-limit").value; // the fake's value now
    await loadState();
  })();
});

$("reset").addEventListener("click", reporting("accounts-error", () => api("POST", "/reset")));

// -- live -------------------------------------------------------------------------------------

let refreshing = null;

function refreshSoon() {
  // Many notices at once (a burst of tasks) ask for one reload, not one each.
  if (refreshing) return;
  refreshing = setTimeout(() => {
    refreshing = null;
    loadAll().catch(() => {});
  }, 250);
}

const handlers = {
  hello: (data) => { setClock(data.now, data.manual); refreshSoon(); },
  task: (data) => { taskChanged(data); healthSoon(); },
  journal: (data) => { journalChanged(data); healthSoon(); },
  clock: (data) => { setClock(data.now, data.manual); tick(); },
  rules: () => loadRules().catch(() => {}),
  reset: () => { view.offset = 0; view.detailId = null; view.entrySeq = null; $("detail").hidden = true; $("entry").hidden = true; refreshSoon(); },
  refresh: refreshSoon,
  closed: () => { stopped = true; },
};

let stopped = false;

function dispatch(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length || !handlers[name]) return;
  const parsed = JSON.parse(data.join("\n"));
  for (const log of heard) log.push([name, parsed]);
  handlers[name](parsed);
}

function setLive(text, ok) {
  $("live-state").textContent = text;
  $("live-state").className = ok ? "live" : "down";
}

async function listen() {
  while (!stopped) {
    try {
      const answer = await fetch("/__admin/events", { headers: headers({}), cache: "no-store" });
      if (answer.status === 401) return askForToken("");
      if (!answer.ok) throw new Error("the event stream answered " + answer.status);
      setLive("live", true);
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      // Reconnect below.
    }
    setLive(stopped ? "the fake has stopped" : "reconnecting…", false);
    if (!stopped) await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// -- health -----------------------------------------------------------------------------------

// /health's gauges change with no notice (a connection opened, a call held), so they are
// read every few seconds, after a change told, and with every reload: from /__admin/gauges, the same numbers
// kept out of the journal (a poll of /health would fill it).
const HEALTH_EVERY = 2000;

function duration(seconds) {
  const s = Math.floor(seconds);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${s % 60} s` : `${s % 60} s`;
}

function counted(n, one, many) {
  return n.toLocaleString("en") + " " + (n === 1 ? one : many);
}

async function loadHealth() {
  const health = await api("GET", "/gauges");
  $("health-uptime").textContent = "up " + duration(health.uptime);
  $("health-held").textContent = counted(health.held_calls, "call held", "calls held");
  $("health-callbacks").textContent = counted(health.callbacks_under_way, "callback", "callbacks") + " under way";
  // In process there is no server, so no connections to count (null).
  const open = health.connections === null ? "" : counted(health.connections, "connection", "connections");
  const cap = health.max_connections === null ? "" : " of " + health.max_connections.toLocaleString("en");
  $("health-connections").textContent = open && open + cap;
}

let healthDue = null;

function healthSoon() {
  // A task or a call changed: the gauges likely did too (one read for a burst).
  if (healthDue) return;
  healthDue = setTimeout(() => {
    healthDue = null;
    loadHealth().catch(() => {});
  }, 250);
}

async function loadAll() {
  loadHealth().catch(() => {});
  await loadState();
  await Promise.all([loadTasks(), loadJournal(), loadRules()]);
  if (view.detailId) await openDetail(view.detailId).catch(() => {});
}

let listening = false;

async function start() {
  try {
    await loadAll();
  } catch (error) {
    if (!(error instanceof Refused) || $("unlock").hidden) setLive(error.message, false);
    return;
  }
  $("unlock").hidden = true;
  $("panels").hidden = false;
  drawTimeline();
  if (!listening) {
    listening = true;
    listen().finally(() => { listening = false; });
  }
}

setInterval(() => { if (!view.clock.manual) tick(); }, 500);
setInterval(() => { if (!$("panels").hidden) loadHealth().catch(() => {}); }, HEALTH_EVERY);
start();
