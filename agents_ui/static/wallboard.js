// The supervisors' wallboard: the floor as the console's pushes tell it (callers waiting, offers ringing,
// agents by state, pages, the worklist), and the day's figures from the ledger every few seconds, with
// charts by hour (the vendored Chart.js, loaded before this module as a classic script: `Chart`).
// Nothing here answers calls: the page sends no heartbeats, so it never counts as an agent on duty.

import { duration, node } from "./console/dom.js";
import { feedback, showConnection } from "./console/feedback.js";
import { agentStateLabel, awayReasonLabel } from "./console/labels.js";
import { connect } from "./console/socket.js";

const TICK_EVERY = 1000;
const byId = document.getElementById.bind(document);
const root = byId("wallboard");
const notices = feedback(byId("console-error"), byId("console-notice"));
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

let queue = { waiting: [], total: 0 };
let queueAt = Date.now();
let agents = [];
let agentsAt = Date.now();

function setValue(tileId, value) {
  byId(tileId).querySelector(".value").textContent = value;
}

function percent(share) {
  return share === null || share === undefined ? "–" : Math.round(share * 100) + " %";
}

function seconds(value) {
  return value === null || value === undefined ? "–" : duration(value);
}

// What the queue push says: how many wait, the longest wait (ticking), how many calls ring an agent.
function renderQueue() {
  const waiting = queue.waiting || [];
  const elapsed = (Date.now() - queueAt) / 1000;
  setValue("tile-waiting", String(queue.total || 0));
  const longest = waiting.reduce(function (most, w) { return Math.max(most, w.waiting_seconds || 0); }, -1);
  byId("longest-wait").textContent = longest < 0 ? "–" : duration(longest + elapsed);
  setValue("tile-ringing", String(waiting.filter(function (w) { return w.ringing; }).length));
}

// The floor push: every agent with a known state, longest in their state first.
function renderAgents() {
  const count = function (state) { return agents.filter(function (a) { return a.state === state; }).length; };
  setValue("tile-agents", String(count("available")));
  byId("agents-detail").textContent = count("on_call") + " on a call · " + count("ringing") + " ringing · " +
    count("wrap_up") + " in wrap-up · " + count("away") + " away";
  const body = byId("agents");
  body.textContent = "";
  if (!agents.length) {
    body.appendChild(node("tr", { className: "empty" }, [node("td", { colspan: "3", text: "No agent has a state yet." })]));
    return;
  }
  agents.forEach(function (a) {
    const state = agentStateLabel(a.state) + (a.state === "away" && a.reason ? " (" + awayReasonLabel(a.reason) + ")" : "");
    body.appendChild(node("tr", { "data-agent-id": String(a.id), "data-state": a.state }, [
      node("td", { text: a.name }),
      node("td", { className: "state", text: state }),
      node("td", { className: "since", "data-since": a.since, text: duration((agentsAt - Date.parse(a.since)) / 1000) })
    ]));
  });
}

// Acting on the floor: set an agent away (for a reason), or log them out (never while on a call).
const steerAgent = byId("steer-agent");

function renderSteer() {
  const chosen = steerAgent.value;
  steerAgent.textContent = "";
  agents.forEach(function (a) {
    steerAgent.appendChild(node("option", { value: String(a.id), text: a.name + " (" + agentStateLabel(a.state) + ")" }));
  });
  if (chosen && agents.some(function (a) { return String(a.id) === chosen; })) steerAgent.value = chosen;
  const none = !agents.length;
  byId("steer-away").disabled = none;
  byId("steer-logout").disabled = none;
}

function chosenAgent() {
  return agents.find(function (a) { return String(a.id) === steerAgent.value; });
}

byId("steer-away").addEventListener("click", function () {
  const agent = chosenAgent(), reason = byId("steer-reason");
  if (!agent) return;
  connection.send("set_agent_away", { agent_id: agent.id, reason: reason.value }, function () {
    notices.showNotice(agent.name + " is away (" + reason.options[reason.selectedIndex].text + ").");
  });
});

byId("steer-logout").addEventListener("click", function () {
  const agent = chosenAgent();
  if (!agent || !window.confirm("Log " + agent.name + " out? Their console closes now, in every window.")) return;
  connection.send("log_agent_out", { agent_id: agent.id }, function () {
    notices.showNotice(agent.name + " is logged out.");
  });
});

function tick() {
  renderQueue();
  byId("agents").querySelectorAll("td.since").forEach(function (cell) {
    cell.textContent = duration((Date.now() - Date.parse(cell.getAttribute("data-since"))) / 1000);
  });
}

function renderPages(pages) {
  setValue("tile-pages", String((pages || []).filter(function (p) { return !p.acknowledged_at; }).length));
}

function renderWorklist(items) {
  setValue("tile-worklist", String((items || []).length));
}

// --- The day's figures and their charts ---

const charts = {};

function chart(id, config) {
  if (!window.Chart) return null;  // the figures still show as numbers
  if (!charts[id]) charts[id] = new window.Chart(byId(id), config);
  return charts[id];
}

function renderCharts(byHour, target) {
  const hours = byHour.map(function (row) { return String(row.hour).padStart(2, "0") + ":00"; });
  const callers = chart("chart-callers", {
    data: { labels: hours, datasets: [
      { type: "bar", label: "Callers arriving", data: [], backgroundColor: "#7aa6c2" },
      { type: "line", label: "Most waiting at once", data: [], borderColor: "#c0504d", backgroundColor: "#c0504d" }
    ] },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  const level = chart("chart-service-level", {
    type: "line",
    data: { labels: hours, datasets: [
      { label: "Service level", data: [], borderColor: "#1f4e79", backgroundColor: "#1f4e79", spanGaps: false },
      { label: "Target", data: [], borderColor: "#9bbb59", borderDash: [6, 4], pointRadius: 0 }
    ] },
    options: { animation: false, maintainAspectRatio: false,
               scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } } }
  });
  if (callers) {
    callers.data.labels = hours;
    callers.data.datasets[0].data = byHour.map(function (row) { return row.arrivals; });
    callers.data.datasets[1].data = byHour.map(function (row) { return row.peak_waiting; });
    callers.update();
  }
  if (level) {
    level.data.labels = hours;
    level.data.datasets[0].data = byHour.map(function (row) {
      return row.service_level === null ? null : Math.round(row.service_level * 100);
    });
    level.data.datasets[1].data = byHour.map(function () { return Math.round(target * 100); });
    level.update();
  }
}

function renderFigures(board) {
  const today = board.today, hour = board.last_hour;
  setValue("tile-service-level", percent(today.service_level));
  byId("service-level-hour").textContent = percent(hour.service_level);
  byId("service-level-target").textContent = percent(today.service_level_target) + " in " +
    today.service_level_seconds + " s";
  byId("tile-service-level").setAttribute("data-below-target",
    String(today.service_level !== null && today.service_level < today.service_level_target));
  setValue("tile-answer-speed", seconds(today.average_speed_of_answer));
  byId("answer-speed-hour").textContent = seconds(hour.average_speed_of_answer);
  setValue("tile-abandoned", percent(today.abandonment_rate));
  byId("abandoned-detail").textContent = today.abandoned + " of " + today.offered + " calls";
  const gaps = byId("gaps");
  gaps.textContent = "";
  setValue("tile-gaps", String(board.gaps_tonight.length));
  board.gaps_tonight.forEach(function (gap) {
    const from = new Date(gap.starts_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    const to = new Date(gap.ends_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    gaps.appendChild(node("li", { text: gap.practice + ": " + from + " – " + to }));
  });
  byId("figures-at").textContent = "Today’s figures (" + board.timezone + "), as of " +
    new Date(board.at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" });
  renderCharts(today.by_hour, today.service_level_target);
}

function loadFigures() {
  const url = root.getAttribute("data-figures-url") + "?tz=" + encodeURIComponent(timeZone);
  return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (response.status === 401 || response.redirected) window.location.assign(root.getAttribute("data-login-url"));
      return response.json();
    })
    .then(function (board) {
      if (board.ok) {
        renderFigures(board);
        notices.clearError();
      } else {
        notices.showError(board.error);
      }
    }, function () { notices.showError("The day’s figures could not be read. Retrying…"); });
}

const connection = connect({
  namespace: "/console",
  keepaliveUrl: root.getAttribute("data-keepalive-url"),
  loginUrl: root.getAttribute("data-login-url"),
  heartbeatEvery: 0,
  auth: { view: "wallboard" },  // not an agent's console: it never counts as someone on duty
  feedback: notices,
  onConnection: function (live) { showConnection(byId("connection"), live); },
  onSnapshot: function (snapshot) {
    queue = snapshot.queue || queue;
    queueAt = Date.now();
    if (snapshot.floor) {
      agents = snapshot.floor.agents || [];
      agentsAt = Date.now();
    }
    renderQueue();
    renderAgents();
    renderSteer();
    renderPages(snapshot.pages);
    renderWorklist(snapshot.worklist);
  }
});
connection.on("queue", function (data) { queue = data; queueAt = Date.now(); renderQueue(); });
connection.on("floor", function (data) { agents = data.agents || []; agentsAt = Date.now(); renderAgents(); renderSteer(); });
connection.on("pages", function (data) { renderPages(data.pages); });
connection.on("worklist", function (data) { renderWorklist(data.worklist); });
connection.on("supervisor_notice", function (data) { notices.showNotice(data.text); });

setInterval(tick, TICK_EVERY);
loadFigures();
setInterval(loadFigures, Number(root.getAttribute("data-figures-every-ms")) || 30000);
