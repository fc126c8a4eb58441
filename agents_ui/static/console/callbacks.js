// Callbacks to make: who to call, why, and when it is due; "Mark done" when it is made.

import { minutesFrom, node, phone } from "./dom.js";
import { reasonLabel } from "./labels.js";

// options: list, count, connection, feedback ({showNotice}).
export function callbacksPanel(options) {
  const list = options.list;

  function due(minutes) {
    if (minutes < 0) return "Overdue by " + (-minutes) + " min";
    return minutes === 0 ? "Due now" : "Due in " + minutes + " min";
  }

  function render(tasks) {
    list.textContent = "";
    if (!tasks.length) list.appendChild(node("li", { className: "empty", text: "No callbacks waiting." }));
    tasks.forEach(function (task) {
      const minutes = minutesFrom(task.due_at);
      const number = task.number
        ? node("a", { href: "tel:" + task.number, className: "number", text: phone(task.number) })
        : node("span", { className: "number", text: "Withheld" });
      list.appendChild(node("li", { "data-task-id": String(task.id), className: minutes < 0 ? "overdue" : "" }, [
        node("div", { className: "cb-main" }, [
          node("strong", { text: task.practice }),
          node("span", { className: "muted", text: " · " + reasonLabel(task.reason) }),
          node("div", {}, [number, node("span", { className: "due", text: " · " + due(minutes) })])
        ]),
        node("button", { type: "button", className: "complete", text: "Mark done" })
      ]));
    });
    options.count.textContent = tasks.length ? String(tasks.length) : "";
  }

  list.addEventListener("click", function (event) {
    const button = event.target.closest("button.complete");
    if (!button) return;
    const item = button.closest("li[data-task-id]");
    button.disabled = true;
    options.connection.send("complete_callback", { task_id: Number(item.getAttribute("data-task-id")) }, function () {
      item.remove();
      options.feedback.showNotice("Callback marked done.");
    }, function () { button.disabled = false; });
  });

  return { render: render };
}
