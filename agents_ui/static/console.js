// The agents' live console: wires the connection (console/socket.js) to the page's panels.
// Loaded as a module, after the vendored Socket.IO client; the words it shows for reasons,
// dispositions and page statuses come with the page (console/labels.js).

import { callPanel } from "./console/call.js";
import { callbacksPanel } from "./console/callbacks.js";
import { feedback, showConnection } from "./console/feedback.js";
import { offerPanel } from "./console/offer.js";
import { pagesPanel } from "./console/pages.js";
import { queuePanel } from "./console/queue.js";
import { connect } from "./console/socket.js";
import { statusPanel } from "./console/status.js";
import { voiceDevice } from "./console/voice.js";
import { worklistPanel } from "./console/worklist.js";
import { voicemailsPanel } from "./console/voicemails.js";

const byId = document.getElementById.bind(document);
const root = byId("console");
const notices = feedback(byId("console-error"), byId("console-notice"));

const connection = connect({
  namespace: "/console",
  keepaliveUrl: root.getAttribute("data-keepalive-url"),
  heartbeatEvery: Number(root.getAttribute("data-heartbeat-ms")) || undefined,
  loginUrl: root.getAttribute("data-login-url"),
  feedback: notices,
  onConnection: function (live) { showConnection(byId("connection"), live); },
  onSnapshot: renderSnapshot
});

const voice = voiceDevice({
  tokenUrl: root.getAttribute("data-voice-token-url"),
  sdkUrl: root.getAttribute("data-voice-sdk-url"),
  indicator: byId("audio"),
  mute: byId("mute"),
  onChange: function (audio) { call.audioChanged(audio); }
});
const call = callPanel({
  voice: voice,
  afterCallLimit: root.getAttribute("data-after-call-limit"),
  panel: byId("current-call"),
  hangup: byId("hangup"),
  transfer: byId("transfer"),
  hold: byId("hold"),
  consult: byId("consult"),
  putThrough: byId("put-through"),
  wrapup: byId("wrapup"),
  submit: byId("wrapup-submit"),
  connection: connection,
  feedback: notices
});
const status = statusPanel(byId("available-toggle"), byId("away-reason"), byId("my-status"), connection);
const offer = offerPanel({
  banner: byId("offer"),
  connection: connection,
  feedback: notices,
  onAccepted: function (taken) {
    call.render(taken);
    connection.requestSnapshot();
  }
});
const queue = queuePanel({
  body: document.querySelector("#queue tbody"),
  count: byId("queue-count"),
  connection: connection,
  supervisor: root.getAttribute("data-supervisor") === "true",
  feedback: notices
});
const callbacks = callbacksPanel({ list: byId("callbacks"), count: byId("callbacks-count"),
                                   connection: connection, feedback: notices });
const voicemails = voicemailsPanel({ list: byId("voicemails"), count: byId("voicemails-count"),
                                     connection: connection, feedback: notices });
const pages = pagesPanel({ list: byId("pages"), connection: connection, feedback: notices,
                           supervisor: root.getAttribute("data-supervisor") === "true" });
let myId = null;  // this staff member's id, from the snapshot: whose worklist items are theirs
const worklist = worklistPanel({
  list: byId("worklist"), count: byId("worklist-count"), connection: connection,
  me: function () { return myId; },
  onTaken: function (taken) { call.render(taken); connection.requestSnapshot(); }
});

function renderSnapshot(snapshot) {
  if (snapshot.me) myId = snapshot.me.id;
  call.update(snapshot.call);
  status.render(snapshot.me);
  offer.fromSnapshot(snapshot.offer || null);
  if (snapshot.floor) queue.setAgents(snapshot.floor);
  queue.render(snapshot.queue);
  callbacks.render(snapshot.callbacks || []);
  voicemails.render(snapshot.voicemails || []);
  pages.render(snapshot.pages || []);
  worklist.render(snapshot.worklist || []);
}

connection.on("queue", queue.render);
connection.on("floor", function (data) { queue.setAgents(data); });
connection.on("callbacks", function (data) { callbacks.render(data.callbacks || []); });
connection.on("voicemails", function (data) { voicemails.render(data.voicemails || []); });
connection.on("pages", function (data) { pages.render(data.pages || []); });
connection.on("worklist", function (data) { worklist.render(data.worklist || []); });
connection.on("offer", offer.show);
connection.on("offer_ended", offer.ended);
connection.on("supervisor_notice", function (data) { notices.showNotice(data.text); });
