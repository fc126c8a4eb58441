// A call offered to this agent: the console rings (a tone, the tab's title, a browser notification
// when the tab is hidden) and shows who is calling for which practice, with Accept / Decline and
// the seconds left. The ring timeout is kept by the server; the countdown only shows it.
//
// Keyboard: Alt+A accepts, Alt+D declines.

import { duration, node, text } from "./dom.js";
import { reasonLabel } from "./labels.js";

const TONE_EVERY = 2500;  // ms between two rings of the tone

// options: banner (#offer), connection, feedback, onAccepted(call)
export function offerPanel(options) {
  const banner = options.banner;
  const accept = banner.querySelector(".accept");
  const decline = banner.querySelector(".decline");
  const facts = banner.querySelector(".offer-facts");
  const countdown = banner.querySelector(".offer-countdown");
  const title = document.title;
  let offer = null, endsAt = 0, timer = null, tone = null, notification = null, audio = null, shownAt = 0;
  // A snapshot built just before an offer was pushed would say nothing rings: it does not clear an
  // offer younger than this. The offer's own end is always pushed (offer_ended).
  const SNAPSHOT_GRACE = 3000;

  function ringTone() {
    // Two short beeps, like a desk phone; silently nothing where audio is not allowed yet.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35].forEach(function (start) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.08;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + start);
        osc.stop(audio.currentTime + start + 0.2);
      });
    } catch (e) { /* no audio: the banner and the title still ring */ }
  }

  function notify(o) {
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
    notification = new Notification("Incoming call — " + (o.practice || "a practice"), {
      body: (o.urgent ? "Urgent · " : "") + reasonLabel(o.reason), tag: "offer", requireInteraction: true
    });
    notification.onclick = function () { window.focus(); };
  }

  function tick() {
    const left = Math.max(0, (endsAt - Date.now()) / 1000);
    countdown.textContent = duration(Math.ceil(left));
    document.title = (Math.floor(Date.now() / 1000) % 2 ? "☎ Incoming call · " : "Ringing · ") + title;
    if (left <= 0) countdown.textContent = "0:00";
  }

  function stopRinging() {
    clearInterval(timer);
    clearInterval(tone);
    timer = tone = null;
    document.title = title;
    if (notification) notification.close();
    notification = null;
  }

  function show(o) {
    if (offer && o && offer.offer_id === o.offer_id) return;
    shownAt = Date.now();
    stopRinging();
    offer = o;
    banner.hidden = !offer;
    banner.setAttribute("data-call-id", offer ? String(offer.call_id) : "");
    if (!offer) return;
    banner.classList.toggle("urgent", !!offer.urgent);
    facts.textContent = "";
    facts.appendChild(node("strong", { className: "offer-practice", text: offer.practice || "Unknown practice" }));
    facts.appendChild(text(" · "));
    if (offer.urgent) facts.appendChild(node("span", { className: "badge urgent", text: "Urgent" }));
    if (!(offer.urgent && offer.reason === "urgent")) {  // the badge says it already
      facts.appendChild(node("span", { className: "offer-reason", text: " " + reasonLabel(offer.reason) }));
    }
    if (offer.callback) facts.appendChild(node("span", { className: "badge callback", text: "Callback" }));
    if (offer.language && offer.language !== "en") {
      facts.appendChild(node("span", { className: "badge", text: offer.language === "es" ? "Spanish" : offer.language }));
    }
    facts.appendChild(node("span", { className: "muted offer-wait",
                                     text: " · waiting " + duration(offer.waiting_seconds || 0) }));
    if (offer.assigned) facts.appendChild(node("span", { className: "muted", text: " · sent to you by a supervisor" }));
    if (offer.repeat_caller || offer.open_case) {
      facts.appendChild(node("span", { className: "badge repeat", text: "Repeat caller" }));
      if (offer.open_case) {
        facts.appendChild(node("span", { className: "muted", text: offer.open_case.kind === "callback"
          ? " · a callback is owed to them" : " · their voicemail awaits review" }));
      }
    }
    endsAt = Date.now() + (offer.ring_seconds || 0) * 1000;
    accept.disabled = decline.disabled = false;
    tick();
    timer = setInterval(tick, 250);
    ringTone();
    tone = setInterval(ringTone, TONE_EVERY);
    notify(offer);
  }

  function answer(event) {
    if (!offer) return;
    const o = offer;
    accept.disabled = decline.disabled = true;
    options.connection.send(event, { call_id: o.call_id }, function (reply) {
      if (offer && offer.offer_id === o.offer_id) show(null);
      if (event === "accept") options.onAccepted(reply.call);
    }, function () {
      if (offer && offer.offer_id === o.offer_id) {
        // Refused (the offer moved on): the next push or snapshot says what rings now.
        show(null);
        options.connection.requestSnapshot();
      }
    });
  }

  accept.addEventListener("click", function () { answer("accept"); });
  decline.addEventListener("click", function () { answer("decline"); });
  document.addEventListener("keydown", function (event) {
    if (!offer || !event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "a") { event.preventDefault(); answer("accept"); }
    if (key === "d") { event.preventDefault(); answer("decline"); }
  });
  // Browsers let a page notify or play sound only after the person has used it once.
  document.addEventListener("pointerdown", function ask() {
    document.removeEventListener("pointerdown", ask);
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { /* none */ }
  });

  return {
    show: show,
    // What a snapshot says rings now.
    fromSnapshot: function (o) {
      if (!o && offer && Date.now() - shownAt < SNAPSHOT_GRACE) return;
      show(o);
    },
    ended: function (data) {
      if (offer && data && data.call_id === offer.call_id) {
        // Withdrawn: the caller left the line (hung up, or went on to a message) or a supervisor sent
        // them to someone else. Timed out: it moves to the next free agent, if there is one.
        const why = data.outcome === "withdrawn" ? "That call no longer rings for you: the caller left the line "
            + "or was sent to another agent."
          : data.outcome === "timed_out" ? "The call rang for too long without an answer; the caller keeps "
            + "their place in line."
          : null;
        show(null);
        if (why) options.feedback.showNotice(why);
      }
    },
    current: function () { return offer; }
  };
}
