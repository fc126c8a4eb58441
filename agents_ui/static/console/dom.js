// Rendering helpers shared by the console's panels (and, later, other live pages).

// An element with attributes ("text" sets its text, "className" its classes) and children;
// a null child is skipped, so optional parts can be written inline.
export function node(tag, attrs, children) {
  const n = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (key) {
    if (key === "text") n.textContent = attrs[key];
    else if (key === "className") n.className = attrs[key];
    else n.setAttribute(key, attrs[key]);
  });
  (children || []).forEach(function (child) { if (child) n.appendChild(child); });
  return n;
}

export function text(value) {
  return document.createTextNode(value);
}

// "+16175550188" -> "(617) 555-0188"; other numbers as they are; none -> "Withheld".
export function phone(number) {
  if (!number) return "Withheld";
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number);
  return m ? "(" + m[1] + ") " + m[2] + "-" + m[3] : number;
}

// A moment in the agent's own locale, e.g. "Nov 27, 9:05 AM".
export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
}

// Seconds as "m:ss".
export function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m + ":" + (s < 10 ? "0" : "") + s;
}

// Whole minutes from now until `iso` (negative when it has passed).
export function minutesFrom(iso) {
  return Math.round((new Date(iso).getTime() - Date.now()) / 60000);
}

// A number grouped for reading aloud: "+14155550123" -> "415 · 555 · 0123" (other numbers digit groups of 3-4).
export function readAloud(number) {
  const digits = (number || "").replace(/\D/g, "");
  const national = digits.length === 11 && digits[0] === "1" ? digits.slice(1) : digits;
  if (national.length === 10) return national.slice(0, 3) + " · " + national.slice(3, 6) + " · " + national.slice(6);
  return national.replace(/(\d{3,4})(?=\d)/g, "$1 · ");
}

// The digits that identify a number ("(415) 555-0123" and "+14155550123" are the same number).
export function sameNumber(a, b) {
  const norm = function (n) { const d = (n || "").replace(/\D/g, ""); return d.length === 11 && d[0] === "1" ? d.slice(1) : d; };
  return norm(a) !== "" && norm(a) === norm(b);
}
