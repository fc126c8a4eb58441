/* The agents' live console. Server pushes are hints; a full snapshot is asked for on every
   (re)connect and every SNAPSHOT_EVERY ms, so a lost message never leaves the page wrong for long. */
(function () {
  "use strict";

  var SNAPSHOT_EVERY = 15000;
  var ACK_TIMEOUT = 10000;
  var KEEPALIVE_EVERY = 60000;
  var CALLING_EVERY = 3000;  // while a callback rings, look more often: an unanswered call frees the desk
  var REASONS = { urgent: "Urgent", message: "Message", operator: "Operator", abandoned: "Hung up while waiting",
                  keep_place: "Asked to be called back; did not answer" };
  var PAGE_STATUS = { sent: "Sent", no_one_on_call: "No one on call", failed: "Not sent" };

  var root = document.getElementById("console");
  var el = {
    toggle: document.getElementById("available-toggle"),
    status: document.getElementById("my-status"),
    connection: document.getElementById("connection"),
    error: document.getElementById("console-error"),
    notice: document.getElementById("console-notice"),
    queueBody: document.querySelector("#queue tbody"),
    queueCount: document.getElementById("queue-count"),
    callbacks: document.getElementById("callbacks"),
    callbacksCount: document.getElementById("callbacks-count"),
    voicemails: document.getElementById("voicemails"),
    voicemailsCount: document.getElementById("voicemails-count"),
    pages: document.getElementById("pages"),
    call: document.getElementById("current-call"),
    hangup: document.getElementById("hangup"),
    wrapup: document.getElementById("wrapup"),
    wrapupSubmit: document.getElementById("wrapup-submit")
  };
  var state = { me: null, call: null, queue: [], queueReceivedAt: Date.now() };
  var socket = io("/console");

  // ---- small helpers ------------------------------------------------------------------------

  function node(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") n.textContent = attrs[key];
      else if (key === "className") n.className = attrs[key];
      else n.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) n.appendChild(child); });
    return n;
  }

  function phone(number) {
    if (!number) return "Withheld";
    var m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number);
    return m ? "(" + m[1] + ") " + m[2] + "-" + m[3] : number;
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function minutesFrom(iso) {
    return Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  }

  function reasonLabel(reason) {
    return REASONS[reason] || (reason ? reason.replace(/_/g, " ") : "—");
  }

  function dispositionLabel(value) {
    var option = el.wrapup.querySelector('select[name="disposition"] option[value="' + value + '"]');
    return option ? option.textContent : (value || "").replace(/_/g, " ");
  }

  function showError(message) {
    el.error.querySelector(".text").textContent = message;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
  }

  var noticeTimer = null;
  function showNotice(message) {
    el.notice.textContent = message;
    el.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { el.notice.hidden = true; }, 4000);
  }

  // Send an event; `done` runs with the ack when it says ok, errors are shown to the agent.
  function send(event, payload, done, always) {
    socket.timeout(ACK_TIMEOUT).emit(event, payload, function (err, answer) {
      if (always) always();
      if (err) {
        showError("The server did not answer. Check your connection and try again.");
        return;
      }
      if (!answer || !answer.ok) {
        showError((answer && answer.error) || "That did not work. Please try again.");
        return;
      }
      clearError();
      if (done) done(answer);
    });
  }

  // ---- rendering ------------------------------------------------------------------------------

  function renderMe(me) {
    state.me = me;
    el.toggle.disabled = false;
    el.toggle.textContent = me.available ? "Available" : "Away";
    el.toggle.setAttribute("aria-pressed", me.available ? "true" : "false");
    el.toggle.classList.toggle("is-available", !!me.available);
    if (me.status === "on_call") {
      el.status.textContent = "On a call. After wrap-up you will be " + (me.available ? "available." : "away.");
    } else if (me.available) {
      el.status.textContent = "You are available for calls.";
    } else {
      el.status.textContent = "You are away and will not be offered calls.";
    }
  }

  function renderQueue(snapshot) {
    state.queue = snapshot.waiting || [];
    state.queueReceivedAt = Date.now();
    var onCall = !!state.call;
    el.queueBody.textContent = "";
    if (!state.queue.length) {
      el.queueBody.appendChild(node("tr", { className: "empty" }, [
        node("td", { colspan: "6", text: "No one is waiting." })
      ]));
    }
    state.queue.forEach(function (item) {
      var take = node("button", { type: "button", className: "take primary", text: item.callback ? "Call back" : "Take" });
      if (item.callback) take.title = "Taking this calls the patient at the number they gave";
      if (onCall) {
        take.disabled = true;
        take.title = "Finish your current call first";
      }
      var reason = node("td", { className: "reason" }, [
        item.urgent ? node("span", { className: "badge urgent", text: "Urgent" }) : null,
        item.urgent && item.reason === "urgent" ? null : document.createTextNode(" " + reasonLabel(item.reason))
      ]);
      // A caller who kept their place hung up: taking the row makes the app call them back.
      var caller = item.callback
        ? node("td", { className: "caller" }, [
            node("span", { className: "badge callback", text: "Callback" }),
            document.createTextNode(" " + (item.callback_number || "withheld"))
          ])
        : node("td", { className: "caller", text: item.caller });
      var classes = [item.urgent ? "urgent" : "", item.callback ? "callback" : ""].join(" ").trim();
      var row = node("tr", { "data-call-id": String(item.id), "data-kind": item.callback ? "callback" : "caller",
                             className: classes }, [
        node("td", { className: "position", text: String(item.position) }),
        node("td", { className: "practice", text: item.practice || "Unknown practice" }),
        reason,
        caller,
        node("td", { className: "waiting", "data-base": String(item.waiting_seconds),
                     text: duration(item.waiting_seconds) }),
        node("td", { className: "action" }, [take])
      ]);
      el.queueBody.appendChild(row);
    });
    var n = snapshot.total || state.queue.length;
    var shown = n > state.queue.length ? " (first " + state.queue.length + " shown)" : "";
    el.queueCount.textContent = n ? n + (n === 1 ? " caller" : " callers") + shown : "";
  }

  function tickWaiting() {
    var elapsed = (Date.now() - state.queueReceivedAt) / 1000;
    el.queueBody.querySelectorAll("td.waiting").forEach(function (cell) {
      cell.textContent = duration(Number(cell.getAttribute("data-base")) + elapsed);
    });
  }

  function renderCallbacks(tasks) {
    el.callbacks.textContent = "";
    if (!tasks.length) el.callbacks.appendChild(node("li", { className: "empty", text: "No callbacks waiting." }));
    tasks.forEach(function (task) {
      var minutes = minutesFrom(task.due_at);
      var due = minutes < 0 ? "Overdue by " + (-minutes) + " min" : minutes === 0 ? "Due now" : "Due in " + minutes + " min";
      var number = task.number
        ? node("a", { href: "tel:" + task.number, className: "number", text: phone(task.number) })
        : node("span", { className: "number", text: "Withheld" });
      el.callbacks.appendChild(node("li", { "data-task-id": String(task.id), className: minutes < 0 ? "overdue" : "" }, [
        node("div", { className: "cb-main" }, [
          node("strong", { text: task.practice }),
          node("span", { className: "muted", text: " · " + reasonLabel(task.reason) }),
          node("div", {}, [number, node("span", { className: "due", text: " · " + due })])
        ]),
        node("button", { type: "button", className: "complete", text: "Mark done" })
      ]));
    });
    el.callbacksCount.textContent = tasks.length ? String(tasks.length) : "";
  }

  function renderVoicemails(items) {
    el.voicemails.textContent = "";
    if (!items.length) el.voicemails.appendChild(node("li", { className: "empty", text: "No voicemails to review." }));
    items.forEach(function (vm) {
      var urgent = vm.urgency === "urgent";
      var number = vm.callback_number
        ? node("a", { href: "tel:" + vm.callback_number, className: "number", text: phone(vm.callback_number) })
        : node("span", { className: "number", text: "Withheld" });
      var listen = null;
      if (vm.recording_url) {
        listen = node("div", { className: "recording" }, [
          node("audio", { controls: "", preload: "none", src: vm.recording_url }),
          node("a", { href: vm.recording_url, target: "_blank", rel: "noopener noreferrer", text: "Open recording" })
        ]);
      }
      el.voicemails.appendChild(node("li", { "data-message-id": String(vm.id), className: urgent ? "urgent" : "" }, [
        node("div", { className: "vm-main" }, [
          node("div", {}, [
            node("span", { className: "badge " + (urgent ? "urgent" : "routine"), text: urgent ? "Urgent" : "Routine" }),
            node("strong", { text: " " + (vm.practice || "Unknown practice") }),
            node("span", { className: "muted", text: " · " + when(vm.created_at) + " · " }),
            number
          ]),
          vm.transcription
            ? node("p", { className: "transcription", text: vm.transcription })
            : node("p", { className: "transcription muted", text: "Transcription pending." }),
          listen
        ]),
        node("button", { type: "button", className: "review", text: "Reviewed" })
      ]));
    });
    el.voicemailsCount.textContent = items.length ? String(items.length) : "";
  }

  function renderPages(pages) {
    el.pages.textContent = "";
    if (!pages.length) el.pages.appendChild(node("li", { className: "empty", text: "No pages yet." }));
    pages.forEach(function (page) {
      el.pages.appendChild(node("li", { "data-page-id": String(page.id), "data-status": page.status }, [
        node("strong", { text: page.practice }),
        node("span", { className: "page-status", text: PAGE_STATUS[page.status] || page.status }),
        node("span", { className: "muted", text: when(page.sent_at) })
      ]));
    });
  }

  function lineState(call) {
    if (call.state === "connecting" && call.callback) return "Calling the patient back…";
    if (call.state === "connecting") return "Connecting you to the caller…";
    if (call.state === "connected") return "Connected";
    return "The caller has hung up. Please finish the wrap-up.";
  }

  function renderHistory(list, history) {
    list.textContent = "";
    if (!history.length) {
      list.appendChild(node("li", { className: "muted", text: "No earlier calls from this number." }));
      return;
    }
    history.forEach(function (h) {
      var facts = [reasonLabel(h.reason)];
      if (h.disposition) facts.push(dispositionLabel(h.disposition));
      var item = node("li", {}, [
        node("div", {}, [
          node("strong", { text: when(h.at) }),
          node("span", { className: "muted", text: " · " + facts.join(" · ") })
        ])
      ]);
      if (h.notes) item.appendChild(node("p", { className: "note", text: h.notes }));
      (h.messages || []).forEach(function (m) {
        item.appendChild(node("blockquote", { className: m.urgency === "urgent" ? "urgent" : "" }, [
          document.createTextNode(m.body),
          m.caller_name ? node("span", { className: "muted", text: " — " + m.caller_name }) : null
        ]));
      });
      list.appendChild(item);
    });
  }

  function renderCall(call) {
    var previous = state.call;
    state.call = call;
    var body = el.call.querySelector(".call-body");
    el.call.querySelector(".idle").hidden = !!call;
    body.hidden = !call;
    el.wrapup.hidden = !call;
    el.call.setAttribute("data-call-id", call ? String(call.id) : "");
    el.call.classList.toggle("urgent", !!(call && call.urgent));
    if (!call) return;
    body.querySelector(".practice-name").textContent = call.practice ? call.practice.name : "Unknown practice";
    body.querySelector(".line-state").textContent = lineState(call);
    var instructions = call.practice && call.practice.instructions;
    body.querySelector(".instructions-text").textContent = instructions || "No special instructions.";
    body.querySelector(".caller-number").textContent = phone(call.caller);
    var calling = call.callback ? call.callback.number : null;
    body.querySelector(".callback-fact").hidden = !call.callback;
    body.querySelector(".callback-number").hidden = !call.callback;
    body.querySelector(".callback-number").textContent = call.callback ? phone(calling) : "";
    body.querySelector(".call-reason").textContent = reasonLabel(call.reason);
    el.hangup.disabled = call.state !== "connected";
    // While we call the patient back nothing can be wrapped up yet: they may still answer.
    var ringing = !!call.callback && call.state === "connecting";
    el.wrapupSubmit.disabled = ringing;
    el.wrapupSubmit.title = ringing ? "Wait until the patient answers or the call ends" : "";
    renderHistory(body.querySelector(".history"), call.history || []);
    if (!previous || previous.id !== call.id) {
      // A new call: start a clean wrap-up with the number the caller rang from (or asked to be called at).
      el.wrapup.reset();
      el.wrapup.elements.callback_number.value = calling || call.caller || "";
      el.wrapup.elements.urgency.value = call.urgent ? "urgent" : "routine";
    }
  }

  function renderSnapshot(snapshot) {
    var previous = state.call;
    renderCall(snapshot.call);
    if (previous && previous.callback && previous.state === "connecting" && !snapshot.call) {
      showNotice("The patient did not answer. Their callback is on the list of callbacks to make.");
    }
    renderMe(snapshot.me);
    renderQueue(snapshot.queue);
    renderCallbacks(snapshot.callbacks || []);
    renderVoicemails(snapshot.voicemails || []);
    renderPages(snapshot.pages || []);
  }

  function requestSnapshot() {
    if (!socket.connected) return;
    socket.timeout(ACK_TIMEOUT).emit("snapshot", {}, function (err, answer) {
      if (!err && answer && answer.ok) renderSnapshot(answer);
    });
  }

  // ---- connection and session -----------------------------------------------------------------

  function setConnection(live) {
    el.connection.setAttribute("data-state", live ? "live" : "reconnecting");
    el.connection.textContent = live ? "Live" : "Reconnecting…";
  }

  function keepalive() {
    return fetch(root.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) { return response.ok; }, function () { return null; });
  }

  function toLogin() {
    window.location.assign(root.getAttribute("data-login-url"));
  }

  // The server closed or refused the socket: a new login is needed, or just a retry. The check
  // waits a moment: when the agent logged out in another tab, that tab's response (which clears
  // the cookie) must land first, or this request would carry, and renew, the old session.
  var SESSION_CHECK_DELAY = 2000;
  function recheckSession() {
    setTimeout(function () {
      keepalive().then(function (ok) {
        if (ok === false) toLogin();
        else setTimeout(function () { socket.connect(); }, ok ? 0 : 5000);
      });
    }, SESSION_CHECK_DELAY);
  }

  socket.on("connect", function () {
    setConnection(true);
    requestSnapshot();
  });
  socket.on("disconnect", function (reason) {
    setConnection(false);
    if (reason === "io server disconnect") recheckSession();
  });
  socket.on("connect_error", function () {
    setConnection(false);
    if (!socket.active) recheckSession();
  });
  socket.on("snapshot", renderSnapshot);
  socket.on("queue", renderQueue);
  socket.on("callbacks", function (data) { renderCallbacks(data.callbacks || []); });
  socket.on("voicemails", function (data) { renderVoicemails(data.voicemails || []); });
  socket.on("pages", function (data) { renderPages(data.pages || []); });

  // Activity on the page keeps the login session (and with it the socket) alive.
  var lastActivity = 0, lastKeepalive = Date.now();
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { lastActivity = Date.now(); }, { passive: true });
  });
  setInterval(function () {
    if (lastActivity > lastKeepalive) {
      lastKeepalive = Date.now();
      keepalive().then(function (ok) { if (ok === false) toLogin(); });
    }
  }, KEEPALIVE_EVERY);
  setInterval(requestSnapshot, SNAPSHOT_EVERY);
  setInterval(function () {
    if (state.call && state.call.callback && state.call.state === "connecting") requestSnapshot();
  }, CALLING_EVERY);
  setInterval(tickWaiting, 1000);

  // ---- actions --------------------------------------------------------------------------------

  el.toggle.addEventListener("click", function () {
    if (!state.me) return;
    el.toggle.disabled = true;
    send("available", { available: !state.me.available }, function (answer) {
      renderMe(answer.me);
    }, function () { el.toggle.disabled = false; });
  });

  el.queueBody.addEventListener("click", function (event) {
    var button = event.target.closest("button.take");
    if (!button) return;
    var row = button.closest("tr[data-call-id]");
    button.disabled = true;
    button.textContent = "Taking…";
    send("take", { call_id: Number(row.getAttribute("data-call-id")) }, function (answer) {
      renderCall(answer.call);
      requestSnapshot();
    }, function () {
      button.disabled = false;
      button.textContent = row.getAttribute("data-kind") === "callback" ? "Call back" : "Take";
    });
  });

  el.hangup.addEventListener("click", function () {
    if (!state.call) return;
    el.hangup.disabled = true;
    send("hangup", { call_id: state.call.id }, function () {
      showNotice("Ending the call…");
    }, function () { el.hangup.disabled = !state.call || state.call.state !== "connected"; });
  });

  el.wrapup.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!state.call) return;
    var f = el.wrapup.elements;
    var payload = {
      call_id: state.call.id,
      disposition: f.disposition.value,
      notes: f.notes.value,
      message: f.message.value,
      caller_name: f.caller_name.value,
      callback_number: f.callback_number.value,
      urgency: f.urgency.value
    };
    el.wrapupSubmit.disabled = true;
    send("wrap_up", payload, function () {
      el.wrapup.reset();
      renderCall(null);
      showNotice("Wrap-up saved.");
      requestSnapshot();
    }, function () { el.wrapupSubmit.disabled = false; });
  });

  el.callbacks.addEventListener("click", function (event) {
    var button = event.target.closest("button.complete");
    if (!button) return;
    var item = button.closest("li[data-task-id]");
    button.disabled = true;
    send("complete_callback", { task_id: Number(item.getAttribute("data-task-id")) }, function () {
      item.remove();
      showNotice("Callback marked done.");
    }, function () { button.disabled = false; });
  });

  el.voicemails.addEventListener("click", function (event) {
    var button = event.target.closest("button.review");
    if (!button) return;
    var item = button.closest("li[data-message-id]");
    button.disabled = true;
    send("review_voicemail", { message_id: Number(item.getAttribute("data-message-id")) }, function () {
      item.remove();
      if (!el.voicemails.querySelector("li[data-message-id]")) renderVoicemails([]);
      showNotice("Voicemail marked as reviewed.");
    }, function () { button.disabled = false; });
  });

  el.error.querySelector(".dismiss").addEventListener("click", clearError);
})();
