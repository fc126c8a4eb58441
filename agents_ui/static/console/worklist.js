// Supervisors' worklist: calls nobody owns. A wrap-up past the after-call work limit has a button that
// moves it to the supervisor's own desk to finish; any other call nobody owns (callcenter/worklist.py)
// is taken by one supervisor, who then says what was done.

import { node, when } from "./dom.js";
import { reasonLabel } from "./labels.js";

// options: card (hidden for agents), list, count, connection, me (the supervisor's id), feedback,
// onTaken(call)
export function worklistPanel(options) {
  function wrapUpItem(item) {
    return node("li", { "data-call-id": String(item.call_id), className: item.urgent ? "urgent" : "" }, [
      node("div", {}, [
        node("strong", { text: item.practice }),
        node("span", { className: "muted", text: " · " + reasonLabel(item.reason) + " · " + item.agent +
                                               " has not wrapped up (caller left " + when(item.ended_at) + ")" })
      ]),
      node("button", { type: "button", className: "take-over", text: "Wrap up for them" })
    ]);
  }

  function unownedItem(item) {
    const mine = item.owner_id !== null && item.owner_id === options.me();
    let action;
    if (item.owner_id === null) {
      action = node("button", { type: "button", className: "take-item", text: "I'll take it" });
    } else if (mine) {
      action = node("form", { className: "resolve-item" }, [
        node("label", {}, [node("span", { className: "muted", text: "What was done " }),
                           node("input", { type: "text", name: "note", required: "required", maxlength: "2000" })]),
        node("button", { type: "submit", text: "Done" })
      ]);
    } else {
      action = node("span", { className: "muted", text: item.owner + " has it" });
    }
    return node("li", { "data-item-id": String(item.item_id), className: item.urgent ? "urgent" : "" }, [
      node("div", {}, [
        item.urgent ? node("span", { className: "badge urgent", text: "Urgent" }) : null,
        node("strong", { text: " " + item.practice }),
        node("span", { className: "muted", text: " · call " + item.call_id + " " + item.why +
                                               " (since " + when(item.raised_at) + ")" })
      ]),
      action
    ]);
  }

  function render(items) {
    options.list.textContent = "";
    options.count.textContent = items.length ? String(items.length) : "";
    if (!items.length) {
      options.list.appendChild(node("li", { className: "empty", text: "Nothing needs a supervisor." }));
      return;
    }
    items.forEach(function (item) {
      options.list.appendChild(item.kind === "unowned" ? unownedItem(item) : wrapUpItem(item));
    });
  }

  options.list.addEventListener("click", function (event) {
    const takeOver = event.target.closest("button.take-over");
    if (takeOver) {
      const li = takeOver.closest("li[data-call-id]");
      takeOver.disabled = true;
      options.connection.send("take_over", { call_id: Number(li.getAttribute("data-call-id")) }, function (answer) {
        options.onTaken(answer.call);
      }, function () { takeOver.disabled = false; });
      return;
    }
    const take = event.target.closest("button.take-item");
    if (take) {
      take.disabled = true;
      const id = Number(take.closest("li[data-item-id]").getAttribute("data-item-id"));
      options.connection.send("take_item", { item_id: id }, function () {}, function () { take.disabled = false; });
    }
  });

  options.list.addEventListener("submit", function (event) {
    const form = event.target.closest("form.resolve-item");
    if (!form) return;
    event.preventDefault();
    const id = Number(form.closest("li[data-item-id]").getAttribute("data-item-id"));
    const button = form.querySelector("button");
    button.disabled = true;
    options.connection.send("resolve_item", { item_id: id, note: form.elements.note.value }, function () {},
                            function () { button.disabled = false; });
  });

  return { render: render };
}
