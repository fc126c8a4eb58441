// The Socket.IO connection to the console's namespace. Server pushes are hints; a full snapshot
// is asked for on every (re)connect, whenever a push's sequence number shows one was missed, and
// every SNAPSHOT_EVERY ms as a slow safety net. A heartbeat every HEARTBEAT_EVERY ms tells the
// server this console is open: one silent for 30 s is offline and its agent is offered no calls. Activity on the page keeps the login session (and with it the socket)
// alive; when the server refuses the socket, the page goes to the login or tries again.
//
// Needs the vendored Socket.IO client, loaded before this module as a classic script (`io`).

const SNAPSHOT_EVERY = 60000;
const HEARTBEAT_EVERY = 10000;  // unless the page says otherwise (options.heartbeatEvery)
const ACK_TIMEOUT = 10000;
const KEEPALIVE_EVERY = 60000;
// When the agent logged out in another tab, that tab's response (which clears the cookie) must
// land before the session is checked, or the check would carry, and renew, the old session.
const SESSION_CHECK_DELAY = 2000;
const RETRY_AFTER = 5000;

const NO_ANSWER = "The server did not answer. Check your connection and try again.";
const DID_NOT_WORK = "That did not work. Please try again.";

// options: namespace, keepaliveUrl, loginUrl, onConnection(live), onSnapshot(snapshot), and
// feedback ({showError, clearError}) for the answers to `send`.
export function connect(options) {
  // Websocket only: any web process can hold the socket, with no sticky sessions behind a proxy.
  const socket = window.io(options.namespace, { transports: ["websocket"], auth: options.auth || {} });
  const feedback = options.feedback;

  // Send an event; `done` runs with the ack when it says ok, errors are shown to the agent.
  // `always` runs first whatever the answer (to re-enable a button, say).
  function send(event, payload, done, always) {
    socket.timeout(ACK_TIMEOUT).emit(event, payload, function (err, answer) {
      if (always) always();
      if (err) {
        feedback.showError(NO_ANSWER);
        return;
      }
      if (!answer || !answer.ok) {
        feedback.showError((answer && answer.error) || DID_NOT_WORK);
        return;
      }
      feedback.clearError();
      if (done) done(answer);
    });
  }

  function requestSnapshot() {
    if (!socket.connected) return;
    socket.timeout(ACK_TIMEOUT).emit("snapshot", {}, function (err, answer) {
      if (!err && answer && answer.ok) onSnapshot(answer);
    });
  }

  // true: the session is alive; false: it has gone (log in again); null: no answer.
  function keepalive() {
    return fetch(options.keepaliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) { return response.ok; }, function () { return null; });
  }

  function toLogin() {
    window.location.assign(options.loginUrl);
  }

  // The server closed or refused the socket: a new login is needed, or just a retry.
  function recheckSession() {
    setTimeout(function () {
      keepalive().then(function (ok) {
        if (ok === false) toLogin();
        else setTimeout(function () { socket.connect(); }, ok ? 0 : RETRY_AFTER);
      });
    }, SESSION_CHECK_DELAY);
  }

  socket.on("connect", function () {
    options.onConnection(true);
    requestSnapshot();
  });
  socket.on("disconnect", function (reason) {
    options.onConnection(false);
    if (reason === "io server disconnect") recheckSession();
  });
  socket.on("connect_error", function () {
    options.onConnection(false);
    if (!socket.active) recheckSession();
  });
  // Each kind of push is numbered (`seq`); a snapshot says where each kind stood. A push older
  // than what the page shows is dropped; one that skips a number means a push was lost, so the
  // page asks for a snapshot.
  const lastSeq = {};
  function onSnapshot(snapshot) {
    Object.keys(snapshot.seq || {}).forEach(function (kind) {
      lastSeq[kind] = Math.max(lastSeq[kind] || 0, snapshot.seq[kind]);
    });
    options.onSnapshot(snapshot);
  }
  function inOrder(kind, data) {
    const seq = data && data.seq;
    if (typeof seq !== "number") return true;
    const last = lastSeq[kind];
    if (last !== undefined && seq <= last) return false;
    if (last !== undefined && seq > last + 1) requestSnapshot();
    lastSeq[kind] = seq;
    return true;
  }
  socket.on("snapshot", onSnapshot);

  let lastActivity = 0, lastKeepalive = Date.now();
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
  // A page nobody answers calls on (the wallboard) says heartbeatEvery: 0, and sends none.
  if (options.heartbeatEvery !== 0) {
    setInterval(function () {
      if (socket.connected) socket.timeout(ACK_TIMEOUT).emit("heartbeat", {}, function () {});
    }, options.heartbeatEvery || HEARTBEAT_EVERY);
  }

  return {
    send: send,
    requestSnapshot: requestSnapshot,
    // A server push other than the snapshot: queue, callbacks, voicemails, pages, floor (in order only),
    // offer, offer_ended, supervisor_notice.
    on: function (event, handler) {
      socket.on(event, function (data) { if (inOrder(event, data)) handler(data); });
    }
  };
}
