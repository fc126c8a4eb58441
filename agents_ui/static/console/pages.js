// Recent pages to on-call clinicians, what became of each, and how far an unacknowledged one has
// escalated (callcenter/escalation.py). A page nobody acknowledged is the supervisors' to handle.

import { node, when } from "./dom.js";
import { pageStatusLabel } from "./labels.js";

const ESCALATION = {
  waiting: "Not acknowledged yet",
  called_down: "Not acknowledged: calling the clinician",
  handed_to_backup: "Not acknowledged: the backup was paged",
  backup: "Page to the backup: not acknowledged yet",
  needs_supervisor: "Not acknowledged: needs a supervisor"
};

// options: list, connection, supervisor (bool), feedback
export function pagesPanel(options) {
  const list = options.list;

  function render(pages) {
    list.textContent = "";
    if (!pages.length) list.appendChild(node("li", { className: "empty", text: "No pages yet." }));
    pages.forEach(function (page) {
      const state = page.acknowledged_by ? "Acknowledged: " + page.acknowledged_by
        : (ESCALATION[page.escalation] || "");
      const parts = [
        node("strong", { text: page.practice }),
        node("span", { className: "page-status", text: pageStatusLabel(page.status) }),
        node("span", { className: "page-ack", text: state }),
        node("span", { className: "muted", text: when(page.sent_at) })
      ];
      if (options.supervisor && page.escalation === "needs_supervisor") {
        parts.push(node("button", { type: "button", className: "handle-page", text: "I'm handling it" }));
      }
      list.appendChild(node("li", { "data-page-id": String(page.id), "data-status": page.status,
                                    "data-escalation": page.escalation || "" }, parts));
    });
  }

  list.addEventListener("click", function (event) {
    const button = event.target.closest("button.handle-page");
    if (!button) return;
    const li = button.closest("li[data-page-id]");
    button.disabled = true;
    options.connection.send("handle_page", { page_id: Number(li.getAttribute("data-page-id")) }, function () {
      options.feedback.showNotice("The page is yours. Reach the clinician or the practice now.");
    }, function () { button.disabled = false; });
  });

  return { render: render };
}
