// Supervisors' worklist: calls nobody owns yet (a wrap-up past the after-call work limit), each with a
// button that moves it to the supervisor's own desk to finish.

import { node, when } from "./dom.js";
import { reasonLabel } from "./labels.js";

// options: card (hidden for agents), list, count, connection, onTaken(call)
export function worklistPanel(options) {
  function render(items) {
    options.list.textContent = "";
    options.count.textContent = items.length ? String(items.length) : "";
    if (!items.length) {
      options.list.appendChild(node("li", { className: "empty", text: "Nothing needs a supervisor." }));
      return;
    }
    items.forEach(function (item) {
      const button = node("button", { type: "button", className: "take-over", text: "Wrap up for them" });
      options.list.appendChild(node("li", { "data-call-id": String(item.call_id) }, [
        node("div", {}, [
          node("strong", { text: item.practice }),
          node("span", { className: "muted", text: " · " + reasonLabel(item.reason) + " · " + item.agent +
                                                 " has not wrapped up (caller left " + when(item.ended_at) + ")" })
        ]),
        button
      ]));
    });
  }

  options.list.addEventListener("click", function (event) {
    const button = event.target.closest("button.take-over");
    if (!button) return;
    const li = button.closest("li[data-call-id]");
    button.disabled = true;
    options.connection.send("take_over", { call_id: Number(li.getAttribute("data-call-id")) }, function (answer) {
      options.onTaken(answer.call);
    }, function () { button.disabled = false; });
  });

  return { render: render };
}
