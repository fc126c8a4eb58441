// Waiting callers (and kept-place callbacks) in the order they will be offered, whose console each
// one rings on, and a waiting time that ticks between snapshots. Agents see the list; calls come to
// them as offers. Supervisors can send a caller to a chosen agent (an offer to that agent).

import { duration, node, text } from "./dom.js";
import { reasonLabel } from "./labels.js";

const TICK_EVERY = 1000;

// options: body (the table's tbody), count, connection, supervisor (may assign callers), feedback.
export function queuePanel(options) {
  const body = options.body;
  let receivedAt = Date.now();
  let agents = [];

  function action(item) {
    if (item.ringing) return node("span", { className: "ringing", text: "Ringing " + item.ringing });
    if (!options.supervisor) return null;
    const free = agents.filter(function (a) { return a.state === "available"; });
    if (!free.length) return null;
    const select = node("select", { className: "assign", "aria-label": "Send this caller to an agent" }, [
      node("option", { value: "", text: "Send to…" })
    ].concat(free.map(function (a) { return node("option", { value: String(a.id), text: a.name }); })));
    return select;
  }

  function row(item) {
    const reason = node("td", { className: "reason" }, [
      item.urgent ? node("span", { className: "badge urgent", text: "Urgent" }) : null,
      item.urgent && item.reason === "urgent" ? null : text(" " + reasonLabel(item.reason))
    ]);
    // A caller who kept their place hung up: taking the row makes the app call them back.
    const caller = item.callback
      ? node("td", { className: "caller" }, [
          node("span", { className: "badge callback", text: "Callback" }),
          text(" " + (item.callback_number || "withheld"))
        ])
      : node("td", { className: "caller", text: item.caller });
    const classes = [item.urgent ? "urgent" : "", item.callback ? "callback" : ""].join(" ").trim();
    return node("tr", { "data-call-id": String(item.id), "data-kind": item.callback ? "callback" : "caller",
                        className: classes }, [
      node("td", { className: "position", text: String(item.position) }),
      node("td", { className: "practice", text: item.practice || "Unknown practice" }),
      reason,
      caller,
      node("td", { className: "waiting", "data-base": String(item.waiting_seconds),
                   text: duration(item.waiting_seconds) }),
      node("td", { className: "action" }, [action(item)])
    ]);
  }

  // The agents on the floor (supervisors' consoles only: the `floor` push and the snapshot's floor),
  // whom a supervisor may send a caller to.
  function setAgents(floor) {
    agents = (floor && floor.agents) || [];
  }

  function render(snapshot) {
    const waiting = snapshot.waiting || [];
    receivedAt = Date.now();
    body.textContent = "";
    if (!waiting.length) {
      body.appendChild(node("tr", { className: "empty" }, [
        node("td", { colspan: "6", text: "No one is waiting." })
      ]));
    }
    waiting.forEach(function (item) { body.appendChild(row(item)); });
    const n = snapshot.total || waiting.length;
    const shown = n > waiting.length ? " (first " + waiting.length + " shown)" : "";
    options.count.textContent = n ? n + (n === 1 ? " caller" : " callers") + shown : "";
  }

  function tick() {
    const elapsed = (Date.now() - receivedAt) / 1000;
    body.querySelectorAll("td.waiting").forEach(function (cell) {
      cell.textContent = duration(Number(cell.getAttribute("data-base")) + elapsed);
    });
  }

  body.addEventListener("change", function (event) {
    const select = event.target.closest("select.assign");
    if (!select || !select.value) return;
    const tr = select.closest("tr[data-call-id]");
    select.disabled = true;
    options.connection.send("assign", { call_id: Number(tr.getAttribute("data-call-id")),
                                        agent_id: Number(select.value) }, function () {
      options.feedback.showNotice("The call is ringing on that agent's console.");
    }, function () { select.disabled = false; });
  });

  setInterval(tick, TICK_EVERY);
  return { render: render, setAgents: setAgents };
}
