// Voicemails to review: urgency, practice, when, the number, the transcription and the
// recording; "Reviewed" takes one off the list.

import { node, phone, when } from "./dom.js";

// options: list, count, connection, feedback ({showNotice}).
export function voicemailsPanel(options) {
  const list = options.list;

  function recording(url) {
    if (!url) return null;
    return node("div", { className: "recording" }, [
      node("audio", { controls: "", preload: "none", src: url }),
      node("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: "Open recording" })
    ]);
  }

  function render(items) {
    list.textContent = "";
    if (!items.length) list.appendChild(node("li", { className: "empty", text: "No voicemails to review." }));
    items.forEach(function (vm) {
      const urgent = vm.urgency === "urgent";
      const number = vm.callback_number
        ? node("a", { href: "tel:" + vm.callback_number, className: "number", text: phone(vm.callback_number) })
        : node("span", { className: "number", text: "Withheld" });
      list.appendChild(node("li", { "data-message-id": String(vm.id), className: urgent ? "urgent" : "" }, [
        node("div", { className: "vm-main" }, [
          node("div", {}, [
            node("span", { className: "badge " + (urgent ? "urgent" : "routine"), text: urgent ? "Urgent" : "Routine" }),
            node("strong", { text: " " + (vm.practice || "Unknown practice") }),
            node("span", { className: "muted", text: " · " + when(vm.created_at) + " · " }),
            number
          ]),
          vm.transcription
            ? node("p", { className: "transcription", text: vm.transcription })
            : node("p", { className: "transcription muted", text: "Transcription pending." }),
          recording(vm.recording_url)
        ]),
        node("button", { type: "button", className: "review", text: "Reviewed" })
      ]));
    });
    options.count.textContent = items.length ? String(items.length) : "";
  }

  list.addEventListener("click", function (event) {
    const button = event.target.closest("button.review");
    if (!button) return;
    const item = button.closest("li[data-message-id]");
    button.disabled = true;
    options.connection.send("review_voicemail", { message_id: Number(item.getAttribute("data-message-id")) }, function () {
      item.remove();
      if (!list.querySelector("li[data-message-id]")) render([]);
      options.feedback.showNotice("Voicemail marked as reviewed.");
    }, function () { button.disabled = false; });
  });

  return { render: render };
}
