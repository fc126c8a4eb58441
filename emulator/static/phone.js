// Softphone: polls the emulator's /phone/api endpoints; no external scripts.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 400;
  let callSid = null;
  let ringingSid = null;
  let shownLines = -1;
  let shownInbox = -1;

  function randomNumber() {
    let digits = "";
    for (let i = 0; i < 7; i++) digits += Math.floor(Math.random() * 10);
    return "+1555" + digits;
  }

  // Each tab keeps its own caller number, so several softphones can run at once.
  const fromInput = $("dial-from");
  fromInput.value = sessionStorage.getItem("softphone-number") || randomNumber();
  sessionStorage.setItem("softphone-number", fromInput.value);
  fromInput.addEventListener("change", () => sessionStorage.setItem("softphone-number", fromInput.value.trim()));

  async function api(method, path, body) {
    const options = { method, headers: { "Content-Type": "application/json" } };
    if (body !== undefined) options.body = JSON.stringify(body);
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    const hours = Math.floor(s / 3600);
    const rest = String(Math.floor((s % 3600) / 60)).padStart(hours ? 2 : 1, "0") + ":" + String(s % 60).padStart(2, "0");
    return hours ? hours + ":" + rest : rest;
  }

  function render(call) {
    $("call-status").textContent = call.display;
    $("call-timer").hidden = !(call.status === "in-progress" || (call.ended && call.talk_seconds > 0));
    $("call-timer").textContent = clock(call.talk_seconds);
    $("hold").hidden = !call.on_hold || call.ended;
    $("hold-position").textContent = call.position ? " · position " + call.position
      : (call.conference ? " · waiting for the conference" : "");
    $("hold-time").textContent = clock(call.hold_seconds);
    const waiting = { "dtmf": "waiting for keys", "speech": "listening", "dtmf speech": "waiting for keys or speech",
                      "record": "recording: say your message" }[call.awaiting_input] || "";
    $("awaiting").textContent = waiting;
    if (call.transcript.length !== shownLines) {
      const list = $("transcript");
      list.replaceChildren(...call.transcript.map((line) => {
        const item = document.createElement("li");
        item.className = line.who;
        item.textContent = line.text;
        return item;
      }));
      list.scrollTop = list.scrollHeight;
      shownLines = call.transcript.length;
    }
    const live = !call.ended;
    $("hangup").disabled = !live;
    $("dial").disabled = live;
    if (!live) callSid = null;
  }

  async function poll() {
    try {
      if (callSid) render(await api("GET", "/phone/api/calls/" + callSid));
      const number = encodeURIComponent(fromInput.value.trim());
      if (!callSid) {
        const ringing = (await api("GET", "/phone/api/incoming?number=" + number)).calls;
        ringingSid = ringing.length ? ringing[0].sid : null;
        $("incoming").hidden = !ringingSid;
        if (ringingSid) $("incoming-from").textContent = ringing[0].from;
      } else {
        $("incoming").hidden = true;
      }
      const messages = (await api("GET", "/phone/api/inbox?number=" + number)).messages;
      if (messages.length !== shownInbox) {
        $("inbox").replaceChildren(...messages.slice().reverse().map((m) => {
          const item = document.createElement("li");
          const meta = document.createElement("span");
          meta.className = "meta";
          meta.textContent = "from " + m.from;
          item.append(meta, document.createTextNode(m.body));
          return item;
        }));
        if (shownInbox >= 0 && messages.length > shownInbox) {
          $("inbox-count").classList.remove("fresh");
          void $("inbox-count").offsetWidth;  // restart the highlight animation
          $("inbox-count").classList.add("fresh");
        }
        $("inbox-count").textContent = messages.length;
        $("inbox-count").hidden = messages.length === 0;
        shownInbox = messages.length;
      }
    } catch (error) {
      $("call-status").textContent = "emulator unreachable";
    }
    setTimeout(poll, POLL_MS);
  }

  function startShowing(sid) {
    callSid = sid;
    shownLines = -1;
    $("dial").disabled = true;
    $("hangup").disabled = false;
  }

  $("dial").addEventListener("click", async () => {
    const to = $("dial-to").value.trim();
    if (!to) { $("dial-to").focus(); return; }
    try {
      const call = await api("POST", "/phone/api/calls", { from: fromInput.value.trim(), to });
      startShowing(call.sid);
      render(call);
    } catch (error) {
      $("call-status").textContent = "could not dial: " + error.message;
    }
  });
  $("hangup").addEventListener("click", () => callSid && api("POST", "/phone/api/calls/" + callSid + "/hangup"));
  $("answer").addEventListener("click", async () => {
    if (!ringingSid) return;
    const call = await api("POST", "/phone/api/calls/" + ringingSid + "/answer");
    $("incoming").hidden = true;
    startShowing(call.sid);
  });
  $("decline").addEventListener("click", () => ringingSid && api("POST", "/phone/api/calls/" + ringingSid + "/decline"));
  document.querySelectorAll(".key").forEach((button) => button.addEventListener("click", () => {
    if (callSid) api("POST", "/phone/api/calls/" + callSid + "/digits", { digits: button.dataset.key });
  }));
  document.querySelectorAll(".suggestion").forEach((button) => button.addEventListener("click", () => {
    $("dial-to").value = button.dataset.number;
  }));
  function say() {
    const text = $("speech").value.trim();
    if (!text || !callSid) return;
    api("POST", "/phone/api/calls/" + callSid + "/speech", { text });
    $("speech").value = "";
  }
  $("say").addEventListener("click", say);
  $("speech").addEventListener("keydown", (event) => { if (event.key === "Enter") say(); });
  $("sms-send").addEventListener("click", async () => {
    const body = $("sms-body").value.trim();
    const to = $("dial-to").value.trim();
    if (!body || !to) return;
    await api("POST", "/phone/api/messages", { from: fromInput.value.trim(), to, body });
    $("sms-body").value = "";
  });
  poll();
})();
