// The agent's own availability: the Available/Away toggle and the line that explains it.

export function statusPanel(toggle, line, connection) {
  let me = null;

  function render(next) {
    me = next;
    toggle.disabled = false;
    toggle.textContent = me.available ? "Available" : "Away";
    toggle.setAttribute("aria-pressed", me.available ? "true" : "false");
    toggle.classList.toggle("is-available", !!me.available);
    if (me.status === "on_call") {
      line.textContent = "On a call. After wrap-up you will be " + (me.available ? "available." : "away.");
    } else if (me.available) {
      line.textContent = "You are available for calls.";
    } else {
      line.textContent = "You are away and will not be offered calls.";
    }
  }

  toggle.addEventListener("click", function () {
    if (!me) return;
    toggle.disabled = true;
    connection.send("available", { available: !me.available }, function (answer) {
      render(answer.me);
    }, function () { toggle.disabled = false; });
  });

  return { render: render };
}
