// Waiting callers (and kept-place callbacks) with a Take / Call back button on each row, and a
// waiting time that ticks between snapshots.

import { duration, node, text } from "./dom.js";
import { reasonLabel } from "./labels.js";

const TICK_EVERY = 1000;

// options: body (the table's tbody), count, connection, onCall() (is the agent on a call?),
// onTaken(call) (the server gave the agent the call).
export function queuePanel(options) {
  const body = options.body;
  let receivedAt = Date.now();

  function takeLabel(callback) {
    return callback ? "Call back" : "Take";
  }

  function row(item, onCall) {
    const take = node("button", { type: "button", className: "take primary", text: takeLabel(item.callback) });
    if (item.callback) take.title = "Taking this calls the patient at the number they gave";
    if (onCall) {
      take.disabled = true;
      take.title = "Finish your current call first";
    }
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
      node("td", { className: "action" }, [take])
    ]);
  }

  function render(snapshot) {
    const waiting = snapshot.waiting || [];
    receivedAt = Date.now();
    const onCall = options.onCall();
    body.textContent = "";
    if (!waiting.length) {
      body.appendChild(node("tr", { className: "empty" }, [
        node("td", { colspan: "6", text: "No one is waiting." })
      ]));
    }
    waiting.forEach(function (item) { body.appendChild(row(item, onCall)); });
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

  body.addEventListener("click", function (event) {
    const button = event.target.closest("button.take");
    if (!button) return;
    const tr = button.closest("tr[data-call-id]");
    button.disabled = true;
    button.textContent = "Taking…";
    options.connection.send("take", { call_id: Number(tr.getAttribute("data-call-id")) }, function (answer) {
      options.onTaken(answer.call);
    }, function () {
      button.disabled = false;
      button.textContent = takeLabel(tr.getAttribute("data-kind") === "callback");
    });
  });

  setInterval(tick, TICK_EVERY);
  return { render: render };
}
