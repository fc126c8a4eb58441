// The emulator's stand-in for the Twilio Voice SDK's Device, with the parts of its interface the
// console uses: register(), on("registered" | "incoming" | "error" | "tokenWillExpire"),
// updateToken(), destroy(); an incoming Call has parameters, customParameters (a Map), accept(),
// reject(), disconnect(), mute(bool), isMuted() and on("accept" | "disconnect" | "cancel" | "reject").
// It talks to the emulator's /device/api over HTTP (emulator/devices.py) where the SDK would talk
// to Twilio, so the console's code path is the same for both.

const POLL_EVERY = 400;  // ms

function emitter() {
  const handlers = {};
  return {
    on: function (event, handler) { (handlers[event] = handlers[event] || []).push(handler); },
    emit: function (event, value) { (handlers[event] || []).forEach(function (h) { h(value); }); }
  };
}

export class EmulatorDevice {
  constructor(token, options) {
    this.token = token;
    this.apiBase = (options && options.apiBase || "").replace(/\/$/, "");
    this.events = emitter();
    this.calls = {};  // sid -> EmulatorCall still ringing or connected
    this.timer = null;
    this.state = "unregistered";
  }

  on(event, handler) { this.events.on(event, handler); }

  request(method, path, body) {
    return fetch(this.apiBase + path, {
      method: method,
      headers: { "Authorization": "Bearer " + this.token, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
        return data;
      });
    });
  }

  register() {
    const device = this;
    return this.request("POST", "/device/api/register", { token: this.token }).then(function (data) {
      device.state = "registered";
      device.identity = data.identity;
      device.events.emit("registered");
      device.scheduleExpiryWarning(data.expires);
      if (!device.timer) device.timer = setInterval(function () { device.poll(); }, POLL_EVERY);
    }, function (error) { device.events.emit("error", error); });
  }

  scheduleExpiryWarning(expires) {
    const device = this;
    clearTimeout(this.expiryTimer);
    const warnIn = Math.max(1000, expires * 1000 - Date.now() - 60000);
    this.expiryTimer = setTimeout(function () { device.events.emit("tokenWillExpire"); }, warnIn);
  }

  updateToken(token) {
    this.token = token;
    const device = this;
    this.request("POST", "/device/api/register", { token: token }).then(function (data) {
      device.scheduleExpiryWarning(data.expires);
    }, function (error) { device.events.emit("error", error); });
  }

  poll() {
    const device = this;
    this.request("GET", "/device/api/incoming").then(function (data) {
      (data.calls || []).forEach(function (leg) {
        if (device.calls[leg.sid]) return;
        const call = new EmulatorCall(device, leg);
        device.calls[leg.sid] = call;
        device.events.emit("incoming", call);
      });
      Object.keys(device.calls).forEach(function (sid) { device.calls[sid].refresh(); });
    }, function (error) { device.events.emit("error", error); });
  }

  destroy() {
    clearInterval(this.timer);
    clearTimeout(this.expiryTimer);
    this.timer = null;
    this.state = "destroyed";
    this.request("POST", "/device/api/unregister", { token: this.token }).catch(function () {});
  }
}

class EmulatorCall {
  constructor(device, leg) {
    this.device = device;
    this.sid = leg.sid;
    this.parameters = leg.parameters || {};
    this.customParameters = new Map(Object.entries(leg.parameters || {}).filter(function (kv) {
      return ["CallSid", "From", "To"].indexOf(kv[0]) < 0;
    }));
    this.events = emitter();
    this.status_ = "pending";
    this.muted = false;
  }

  on(event, handler) { this.events.on(event, handler); }
  status() { return this.status_; }
  isMuted() { return this.muted; }

  act(action, body) {
    return this.device.request("POST", "/device/api/calls/" + this.sid + "/" + action, body);
  }

  accept() {
    const call = this;
    this.status_ = "connecting";
    this.act("accept").catch(function () { call.ended("cancel"); });
  }

  reject() {
    this.act("reject").catch(function () {});
    this.ended("reject");
  }

  disconnect() {
    this.act("disconnect").catch(function () {});
    this.ended("disconnect");
  }

  mute(shouldMute) {
    const call = this;
    this.muted = shouldMute !== false;
    this.act("mute", { muted: this.muted }).then(function () { call.events.emit("mute", call.muted); });
  }

  ended(why) {
    if (this.status_ === "closed") return;
    this.status_ = "closed";
    delete this.device.calls[this.sid];
    this.events.emit(why, this);
  }

  refresh() {
    const call = this;
    this.device.request("GET", "/device/api/calls/" + this.sid).then(function (leg) {
      if (leg.connected && call.status_ !== "open") {
        call.status_ = "open";
        call.events.emit("accept", call);
      }
      if (leg.ended) call.ended(call.status_ === "open" ? "disconnect" : "cancel");
    }, function () { call.ended("cancel"); });
  }
}
