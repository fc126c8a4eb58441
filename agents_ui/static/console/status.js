// The agent's own state: the Available/Away toggle, why they are away, and how long they have been
// in their state (available, ringing, on a call, wrap-up, away).

import { duration } from "./dom.js";
import { agentStateLabel, awayReasonLabel } from "./labels.js";

const TICK_EVERY = 1000;

// toggle: the Available/Away button; reason: the select of away reasons; line: the status line.
export function statusPanel(toggle, reason, line, connection) {
  let me = null, since = 0;

  function describe() {
    if (!me) return "";
    const state = me.state || me.status;
    const held = " · " + duration((Date.now() - since) / 1000);
    if (state === "on_call" || state === "wrap_up") {
      return agentStateLabel(state) + held + ". After wrap-up you will be " + (me.available ? "available." : "away.");
    }
    if (state === "ringing") return "A call is ringing for you" + held;
    if (state === "available") return "Available for calls" + held;
    const why = me.reason ? " (" + awayReasonLabel(me.reason) + ")" : "";
    if (me.reason === "missed_offers") {
      return "Away" + why + held + ": three offered calls went unanswered. Press Available when you are back.";
    }
    if (me.reason === "offline") {
      return "Away" + why + held + ": your console lost its connection. Press Available when you are back.";
    }
    return "Away" + why + held + ". You will not be offered calls.";
  }

  function render(next) {
    me = next;
    since = me.since ? new Date(me.since).getTime() : Date.now();
    toggle.disabled = false;
    toggle.textContent = me.available ? "Available" : "Away";
    toggle.setAttribute("aria-pressed", me.available ? "true" : "false");
    toggle.classList.toggle("is-available", !!me.available);
    toggle.setAttribute("data-state", me.state || me.status);
    if (me.reason && !me.available) reason.value = me.reason;
    line.textContent = describe();
  }

  toggle.addEventListener("click", function () {
    if (!me) return;
    toggle.disabled = true;
    connection.send("available", { available: !me.available, reason: reason.value }, function (answer) {
      render(answer.me);
    }, function () { toggle.disabled = false; });
  });
  reason.addEventListener("change", function () {
    if (!me || me.available) return;  // the reason is said when stepping away; changing it while away says it again
    connection.send("available", { available: false, reason: reason.value }, function (answer) {
      render(answer.me);
    });
  });
  setInterval(function () { if (me) line.textContent = describe(); }, TICK_EVERY);

  return { render: render };
}
