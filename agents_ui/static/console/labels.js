// Words for the domain's stored names. The page carries them (rendered from callcenter/labels.py
// into <script type="application/json" id="labels">); this module holds no copy of its own.

let words = null;

function vocabulary() {
  if (!words) {
    const source = document.getElementById("labels");
    words = source ? JSON.parse(source.textContent) : {};
  }
  return words;
}

function lookup(group, value) {
  const map = vocabulary()[group] || {};
  return Object.prototype.hasOwnProperty.call(map, value) ? map[value] : undefined;
}

// Why the caller is waiting or is to be called back; "—" when nobody said.
export function reasonLabel(reason) {
  return lookup("reasons", reason) || (reason ? reason.replace(/_/g, " ") : "—");
}

// How a call was wrapped up, in the words the wrap-up form offers.
export function dispositionLabel(value) {
  return lookup("dispositions", value) || (value || "").replace(/_/g, " ");
}

// What became of a page to the on-call clinician.
export function pageStatusLabel(status) {
  return lookup("page_statuses", status) || status;
}

// An agent's state ("Available", "On a call", …) and why they are away.
export function agentStateLabel(state) {
  return lookup("agent_states", state) || (state || "").replace(/_/g, " ");
}

export function awayReasonLabel(reason) {
  return lookup("away_reasons", reason) || (reason || "").replace(/_/g, " ");
}
