// The agent's current call: who and why, the practice's instructions, earlier calls from the
// number, Hang up, and the wrap-up form.

import { node, phone, text, when } from "./dom.js";
import { dispositionLabel, reasonLabel } from "./labels.js";

const CALLING_EVERY = 3000;  // while a callback rings, look more often: an unanswered call frees the desk

// options: panel (#current-call), hangup, wrapup (the form), submit (its button), connection,
// feedback ({showNotice}).
export function callPanel(options) {
  const panel = options.panel, hangup = options.hangup, wrapup = options.wrapup, submit = options.submit;
  const connection = options.connection;
  const body = panel.querySelector(".call-body");
  let call = null;

  function callingBack() {
    return !!call && !!call.callback && call.state === "connecting";
  }

  // "Connected" only once the agent can hear the patient: with browser audio, once its leg is open.
  function lineState(c) {
    const audio = options.voice.audio;
    if (c.state === "connecting" && c.callback) return "Calling the patient back…";
    if (c.state === "connecting") return "Connecting you to the caller…";
    if (c.state === "connected" && audio.kind && !(audio.connected && audio.callId === c.id)) {
      return "Connecting your audio…";
    }
    if (c.state === "connected") return "Connected";
    return "The caller has hung up. Please finish the wrap-up.";
  }

  function renderHistory(list, history) {
    list.textContent = "";
    if (!history.length) {
      list.appendChild(node("li", { className: "muted", text: "No earlier calls from this number." }));
      return;
    }
    history.forEach(function (h) {
      const facts = [reasonLabel(h.reason)];
      if (h.disposition) facts.push(dispositionLabel(h.disposition));
      const item = node("li", {}, [
        node("div", {}, [
          node("strong", { text: when(h.at) }),
          node("span", { className: "muted", text: " · " + facts.join(" · ") })
        ])
      ]);
      if (h.notes) item.appendChild(node("p", { className: "note", text: h.notes }));
      (h.messages || []).forEach(function (m) {
        item.appendChild(node("blockquote", { className: m.urgency === "urgent" ? "urgent" : "" }, [
          text(m.body),
          m.caller_name ? node("span", { className: "muted", text: " — " + m.caller_name }) : null
        ]));
      });
      list.appendChild(item);
    });
  }

  function render(next) {
    const previous = call;
    call = next;
    options.voice.deskCall(call);
    panel.querySelector(".idle").hidden = !!call;
    body.hidden = !call;
    wrapup.hidden = !call;
    panel.setAttribute("data-call-id", call ? String(call.id) : "");
    panel.classList.toggle("urgent", !!(call && call.urgent));
    if (!call) return;
    body.querySelector(".practice-name").textContent = call.practice ? call.practice.name : "Unknown practice";
    body.querySelector(".line-state").textContent = lineState(call);
    const instructions = call.practice && call.practice.instructions;
    body.querySelector(".instructions-text").textContent = instructions || "No special instructions.";
    body.querySelector(".caller-number").textContent = phone(call.caller);
    const calling = call.callback ? call.callback.number : null;
    body.querySelector(".callback-fact").hidden = !call.callback;
    body.querySelector(".callback-number").hidden = !call.callback;
    body.querySelector(".callback-number").textContent = call.callback ? phone(calling) : "";
    body.querySelector(".call-reason").textContent = reasonLabel(call.reason);
    hangup.disabled = call.state !== "connected";
    // While we call the patient back nothing can be wrapped up yet: they may still answer.
    const ringing = callingBack();
    submit.disabled = ringing;
    submit.title = ringing ? "Wait until the patient answers or the call ends" : "";
    renderHistory(body.querySelector(".history"), call.history || []);
    if (!previous || previous.id !== call.id) {
      // A new call: start a clean wrap-up with the number the caller rang from (or asked to be called at).
      wrapup.reset();
      wrapup.elements.callback_number.value = calling || call.caller || "";
      wrapup.elements.urgency.value = call.urgent ? "urgent" : "routine";
    }
  }

  // The call as a snapshot has it: a callback that was ringing and is gone went unanswered.
  function update(next) {
    const wasCallingBack = callingBack();
    render(next);
    if (wasCallingBack && !next) {
      options.feedback.showNotice("The patient did not answer. Their callback is on the list of callbacks to make.");
    }
  }

  hangup.addEventListener("click", function () {
    if (!call) return;
    hangup.disabled = true;
    connection.send("hangup", { call_id: call.id }, function () {
      options.feedback.showNotice("Ending the call…");
    }, function () { hangup.disabled = !call || call.state !== "connected"; });
  });

  wrapup.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!call) return;
    const f = wrapup.elements;
    const payload = {
      call_id: call.id,
      disposition: f.disposition.value,
      notes: f.notes.value,
      message: f.message.value,
      caller_name: f.caller_name.value,
      callback_number: f.callback_number.value,
      urgency: f.urgency.value
    };
    submit.disabled = true;
    connection.send("wrap_up", payload, function () {
      wrapup.reset();
      render(null);
      options.feedback.showNotice("Wrap-up saved.");
      connection.requestSnapshot();
    }, function () { submit.disabled = false; });
  });

  setInterval(function () { if (callingBack()) connection.requestSnapshot(); }, CALLING_EVERY);
  // Keyboard: Alt+H hangs up, Ctrl+Enter (or Cmd+Enter) saves the wrap-up.
  document.addEventListener("keydown", function (event) {
    if (!call) return;
    if (event.altKey && event.key.toLowerCase() === "h" && !hangup.disabled) {
      event.preventDefault();
      hangup.click();
    }
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && !submit.disabled) {
      event.preventDefault();
      wrapup.requestSubmit();
    }
  });

  return {
    render: render,
    update: update,
    audioChanged: function () {
      if (call) body.querySelector(".line-state").textContent = lineState(call);
    },
    onCall: function () { return !!call; }
  };
}
