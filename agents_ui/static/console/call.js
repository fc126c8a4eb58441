// The agent's current call: who and why, the practice's instructions, earlier calls from the
// number, Hang up, and the wrap-up form.

import { duration, node, phone, readAloud, sameNumber, text, when } from "./dom.js";
import { dispositionLabel, reasonLabel } from "./labels.js";

const CALLING_EVERY = 3000;  // while a callback rings, look more often: an unanswered call frees the desk

// options: panel (#current-call), hangup, wrapup (the form), submit (its button), connection,
// feedback ({showNotice}).
export function callPanel(options) {
  const panel = options.panel, hangup = options.hangup, wrapup = options.wrapup, submit = options.submit;
  const transfer = options.transfer, hold = options.hold, consult = options.consult;
  const putThrough = options.putThrough;
  const connection = options.connection;
  const body = panel.querySelector(".call-body");
  const afterCallLimit = Number(options.afterCallLimit) || 120;
  let call = null;

  function callingBack() {
    return !!call && !!call.callback && call.state === "connecting";
  }

  // "Connected" only once the agent can hear the patient: with browser audio, once its leg is open.
  function lineState(c) {
    const audio = options.voice.audio;
    if (c.state === "connecting" && c.callback) return "Calling the patient back…";
    if (c.state === "connecting" && audio.kind === "phone") {
      return "Your phone " + audio.phoneHint + " is ringing. Answer and press 1 to take the call.";
    }
    if (c.state === "connecting") return "Connecting you to the caller…";
    if (c.state === "connected" && audio.kind && audio.kind !== "phone" && !(audio.connected && audio.callId === c.id)) {
      return "Connecting your audio…";
    }
    if (c.state === "connected" && c.consult && c.consult.status === "talking") {
      return "Talking to " + c.consult.clinician + ". The caller is on hold.";
    }
    if (c.state === "connected" && c.consult) return "Calling " + c.consult.clinician + "… The caller is on hold.";
    if (c.state === "connected" && c.on_hold) return "On hold. The caller hears hold music.";
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

  // Talking since the caller was connected; after-call work since they left, against the site's limit.
  function timer() {
    const el = body.querySelector(".call-timer");
    if (!call) return;
    const since = function (iso) { return (Date.now() - new Date(iso).getTime()) / 1000; };
    if (call.state === "connected" && call.answered_at) {
      el.textContent = "Talking " + duration(since(call.answered_at));
      el.classList.remove("over");
    } else if (call.state === "completed" && call.ended_at) {
      const acw = since(call.ended_at);
      el.textContent = "After-call work " + duration(acw) + " of " + duration(afterCallLimit);
      el.classList.toggle("over", acw > afterCallLimit);
    } else {
      el.textContent = "";
    }
  }

  // The callback number as the agent reads it back, and whether it is the number the caller rang from.
  function readback() {
    const f = wrapup.elements;
    const out = wrapup.querySelector(".readback");
    const number = f.callback_number.value.trim();
    out.textContent = "";
    out.classList.remove("differs");
    if (!number) return;
    out.textContent = "Read back: " + readAloud(number);
    if (call && call.caller && !sameNumber(number, call.caller)) {
      out.textContent += " — not the number they called from, " + phone(call.caller);
      out.classList.add("differs");
    }
  }

  function renderCase(c) {
    const box = body.querySelector(".open-case");
    box.hidden = !c;
    box.textContent = "";
    if (!c) return;
    const what = c.kind === "callback" ? "A callback is owed to this number (" + (c.reason || "callback").replace(/_/g, " ") + ")"
      : "A voicemail from this number is waiting for review";
    box.appendChild(node("strong", { text: "Repeat caller. " }));
    box.appendChild(text(what + " since " + when(c.since) + "."));
    if (c.kind === "callback") box.appendChild(text(" Serving this call closes it."));
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
    const onCall = call.on_call_now;
    body.querySelector(".on-call-now").textContent = onCall ? onCall.name + " (until " + when(onCall.until) + ")"
      : "Nobody on call now";
    const live = call.state === "connected";
    transfer.hidden = !onCall || !!call.consult;
    transfer.disabled = !live || call.on_hold;
    transfer.textContent = onCall ? "Transfer to " + onCall.name : "Transfer to on-call";
    // Hold and the warm transfer need the agent's own leg (browser audio): can_hold says it is there.
    hold.hidden = !call.can_hold;
    hold.disabled = !live;
    hold.textContent = call.on_hold ? (call.consult ? "Back to caller" : "Resume") : "Hold";
    consult.hidden = !onCall || !call.can_hold || !!call.consult;
    consult.disabled = !live;
    consult.textContent = onCall ? "Consult " + onCall.name : "Consult on-call";
    const talking = !!call.consult && call.consult.status === "talking";
    putThrough.hidden = !talking;
    putThrough.disabled = !live;
    putThrough.textContent = talking ? "Put " + call.consult.clinician + " through" : "Put through";
    // While we call the patient back nothing can be wrapped up yet: they may still answer.
    const ringing = callingBack();
    submit.disabled = ringing;
    submit.title = ringing ? "Wait until the patient answers or the call ends" : "";
    renderHistory(body.querySelector(".history"), call.history || []);
    renderCase(call.open_case);
    timer();
    if (!previous || previous.id !== call.id) {
      // A new call: start a clean wrap-up with the number the caller rang from (or asked to be called at).
      wrapup.reset();
      wrapup.elements.callback_number.value = calling || call.caller || "";
      wrapup.elements.urgency.value = call.urgent ? "urgent" : "routine";
      readback();
    }
  }

  // The call as a snapshot has it: a callback that was ringing and is gone went unanswered; a consult
  // that is gone while the caller still holds ended on the clinician's side.
  function update(next) {
    const wasCallingBack = callingBack();
    const consulting = call && call.consult ? { callId: call.id, clinician: call.consult.clinician,
      status: call.consult.status } : null;
    render(next);
    if (wasCallingBack && !next) {
      options.feedback.showNotice("The patient did not answer. Their callback is on the list of callbacks to make.");
    }
    if (consulting && next && next.id === consulting.callId && !next.consult && next.on_hold) {
      options.feedback.showNotice(consulting.status === "talking"
        ? consulting.clinician + " hung up. The caller is still on hold."
        : consulting.clinician + " did not answer. The caller is still on hold.");
    }
  }

  hangup.addEventListener("click", function () {
    if (!call) return;
    hangup.disabled = true;
    connection.send("hangup", { call_id: call.id }, function () {
      options.feedback.showNotice("Ending the call…");
    }, function () { hangup.disabled = !call || call.state !== "connected"; });
  });

  transfer.addEventListener("click", function () {
    if (!call || !call.on_call_now) return;
    if (!window.confirm("Transfer this caller to " + call.on_call_now.name + ", the clinician on call?")) return;
    transfer.disabled = true;
    connection.send("transfer", { call_id: call.id }, function (answer) {
      options.feedback.showNotice("Putting the caller through to " + answer.clinician + ". Wrap up as Transferred.");
      wrapup.elements.disposition.value = "transferred";
    }, function () { transfer.disabled = !call || call.state !== "connected"; });
  });

  hold.addEventListener("click", function () {
    if (!call) return;
    hold.disabled = true;
    connection.send("hold", { call_id: call.id, hold: !call.on_hold }, function () {
      connection.requestSnapshot();
    }, function () { hold.disabled = !call || call.state !== "connected"; });
  });

  // Warm transfer: the caller holds while the clinician rings; once they answer, the agent briefs them
  // and puts them through (or goes back to the caller, which ends the clinician's call).
  consult.addEventListener("click", function () {
    if (!call || !call.on_call_now) return;
    consult.disabled = true;
    connection.send("consult", { call_id: call.id }, function (answer) {
      options.feedback.showNotice("Calling " + answer.clinician + ". The caller is on hold.");
      connection.requestSnapshot();
    }, function () { consult.disabled = !call || call.state !== "connected"; });
  });

  putThrough.addEventListener("click", function () {
    if (!call || !call.consult) return;
    putThrough.disabled = true;
    connection.send("complete_transfer", { call_id: call.id }, function (answer) {
      options.feedback.showNotice(answer.clinician + " is through to the caller. Wrap up as Transferred.");
      wrapup.elements.disposition.value = "transferred";
      connection.requestSnapshot();
    }, function () { putThrough.disabled = !call || call.state !== "connected"; });
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
      callback_confirmed: f.callback_confirmed.checked,
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
  setInterval(timer, 1000);
  wrapup.elements.callback_number.addEventListener("input", function () {
    wrapup.elements.callback_confirmed.checked = false;  // a changed number must be read back again
    readback();
  });
  // Keyboard: Alt+H hangs up, Ctrl+Enter (or Cmd+Enter) saves the wrap-up.
  document.addEventListener("keydown", function (event) {
    if (!call) return;
    if (event.altKey && event.key.toLowerCase() === "o" && !hold.hidden && !hold.disabled) {
      event.preventDefault();
      hold.click();
    }
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
