// The agent's audio: a Twilio Voice SDK Device registered as this agent (on a real account), or
// the emulator's device with the same interface. When the call the agent accepted is bridged to
// their browser, its incoming leg (carrying that call's id) is answered here; any other leg is
// left to ring. Mute works on the leg; the console shows "Connected" only once the leg is open.
// An agent who takes calls on their own phone has no device here: the phone rings, and the server
// connects the caller once they press 1 (kind "phone").

import { EmulatorDevice } from "./emulator-device.js";

const RETRY_AFTER = 15000;

function loadScript(src) {
  return new Promise(function (resolve, reject) {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = function () { reject(new Error("could not load " + src)); };
    document.head.appendChild(script);
  });
}

// options: tokenUrl, sdkUrl, indicator (element), mute (button), onChange(audio)
export function voiceDevice(options) {
  let device = null, kind = null, pending = [], active = null, deskCallId = null;
  const audio = { kind: null, ready: false, connected: false, callId: null, phoneHint: null };

  function say(state, text) {
    options.indicator.setAttribute("data-state", state);
    options.indicator.textContent = text;
  }

  function changed() {
    options.mute.hidden = !audio.connected;
    options.mute.textContent = active && active.isMuted() ? "Unmute" : "Mute";
    options.onChange(audio);
  }

  function fetchToken() {
    return fetch(options.tokenUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  function callIdOf(call) {
    const value = call.customParameters && call.customParameters.get("call_id");
    return value ? Number(value) : null;
  }

  function answerIfOurs() {
    if (active || deskCallId === null) return;
    const index = pending.findIndex(function (call) { return callIdOf(call) === deskCallId; });
    if (index < 0) return;
    const call = pending.splice(index, 1)[0];
    active = call;
    audio.callId = deskCallId;
    call.on("accept", function () { audio.connected = true; changed(); });
    call.on("disconnect", function () { hungUp(call); });
    call.on("cancel", function () { hungUp(call); });
    call.on("mute", changed);
    call.accept();
  }

  function hungUp(call) {
    pending = pending.filter(function (c) { return c !== call; });
    if (active === call) {
      active = null;
      audio.connected = false;
      audio.callId = null;
      changed();
    }
  }

  function start(answer) {
    kind = audio.kind = answer.kind;
    if (kind === "phone") {
      audio.ready = true;
      audio.phoneHint = answer.phone_hint;
      say("ready", "Calls ring your phone " + answer.phone_hint);
      changed();
      return Promise.resolve();
    }
    if (!kind) {
      say("none", "No browser audio");
      options.indicator.title = answer.error || "";
      changed();
      return Promise.resolve();
    }
    const ready = kind === "twilio"
      ? loadScript(options.sdkUrl).then(function () {
          return new window.Twilio.Device(answer.token, { closeProtection: true, codecPreferences: ["opus", "pcmu"] });
        })
      : Promise.resolve(new EmulatorDevice(answer.token, { apiBase: answer.device_api }));
    return ready.then(function (d) {
      device = d;
      device.on("registered", function () { audio.ready = true; say("ready", "Audio ready"); changed(); });
      device.on("error", function (error) {
        say("problem", "Audio problem");
        options.indicator.title = (error && error.message) || "The audio device reported an error.";
      });
      device.on("incoming", function (call) {
        pending.push(call);
        call.on("cancel", function () { hungUp(call); });
        answerIfOurs();
      });
      device.on("tokenWillExpire", function () {
        fetchToken().then(function (next) { device.updateToken(next.token); });
      });
      say("connecting", "Audio connecting…");
      return device.register();
    });
  }

  function boot() {
    fetchToken().then(start).catch(function (error) {
      say("problem", "Audio unavailable");
      options.indicator.title = error.message;
      setTimeout(boot, RETRY_AFTER);
    });
  }

  options.mute.addEventListener("click", function () {
    if (active) active.mute(!active.isMuted());
  });
  window.addEventListener("beforeunload", function () { if (device && device.destroy) device.destroy(); });
  boot();

  return {
    // The call on the agent's desk changed (accepted, or gone): answer its leg when it rings.
    deskCall: function (call) {
      deskCallId = call && (call.state === "connecting" || call.state === "connected") ? call.id : null;
      if (!call && active) active.disconnect();
      answerIfOurs();
    },
    audio: audio
  };
}
