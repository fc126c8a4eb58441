// Recent pages to on-call clinicians and what became of each.

import { node, when } from "./dom.js";
import { pageStatusLabel } from "./labels.js";

export function pagesPanel(list) {
  function render(pages) {
    list.textContent = "";
    if (!pages.length) list.appendChild(node("li", { className: "empty", text: "No pages yet." }));
    pages.forEach(function (page) {
      list.appendChild(node("li", { "data-page-id": String(page.id), "data-status": page.status }, [
        node("strong", { text: page.practice }),
        node("span", { className: "page-status", text: pageStatusLabel(page.status) }),
        node("span", { className: "muted", text: when(page.sent_at) })
      ]));
    });
  }

  return { render: render };
}
