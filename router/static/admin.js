// Small progressive enhancements for the admin page; everything works without them.
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    // Plain-HTTP deployments have no clipboard API: select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
    done();
  }
});
document.addEventListener("submit", function (event) {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});

// Rules: a row opens its editor on click or Enter; in the editor Enter saves and Escape cancels.
function isControl(element) {
  return element.closest("button, a, input, select, textarea, summary, label");
}
document.addEventListener("click", function (event) {
  const row = event.target.closest("tr[data-edit]");
  if (!row || isControl(event.target)) return;
  const edit = row.querySelector(row.getAttribute("data-edit").split(" ").pop());
  if (edit) edit.click();
});
document.addEventListener("keydown", function (event) {
  const row = event.target.closest("tr[data-edit], tr.editing");
  if (!row) return;
  if (row.matches("tr[data-edit]")) {
    if (event.key === "Enter" && event.target === row) {
      event.preventDefault();
      row.querySelector(".edit").click();
    }
    return;
  }
  if (event.key === "Escape") {
    event.preventDefault();
    row.querySelector(".cancel").click();
  } else if (event.key === "Enter" && !event.target.matches("textarea, button, summary")) {
    event.preventDefault();
    row.querySelector(".save").click();
  }
});

// After an htmx swap, the server names where keyboard focus belongs (data-focus="CSS selector"): the row
// just saved, or the ↑/↓ button just pressed (its row moved with it). A disabled button hands focus to its row.
document.addEventListener("htmx:afterSettle", function () {
  document.querySelectorAll("[data-focus]").forEach(function (holder) {
    const selector = holder.getAttribute("data-focus");
    holder.removeAttribute("data-focus");
    let target = document.querySelector(selector);
    if (target && target.disabled) target = target.closest("tr");
    if (target) target.focus();
  });
});

// Rules: drag a row onto another to put it there (the keyboard way is the ↑/↓ buttons and "Place").
let dragged = null;
document.addEventListener("dragstart", function (event) {
  const row = event.target.closest && event.target.closest("tr[data-rule-id]");
  if (!row) return;
  dragged = row;
  row.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", row.getAttribute("data-rule-id"));
});
document.addEventListener("dragover", function (event) {
  const row = event.target.closest && event.target.closest("tr[data-rule-id]");
  if (dragged && row && row.parentNode === dragged.parentNode) event.preventDefault();
});
document.addEventListener("drop", function (event) {
  const row = event.target.closest && event.target.closest("tr[data-rule-id]");
  if (!dragged || !row || row === dragged || row.parentNode !== dragged.parentNode) return;
  event.preventDefault();
  const rows = Array.from(row.parentNode.querySelectorAll("tr[data-rule-id]"));
  const below = rows.indexOf(dragged) < rows.indexOf(row);
  row.parentNode.insertBefore(dragged, below ? row.nextSibling : row);
  // Name the row it was dropped on, not the whole order: a filtered or paged table shows only some rules.
  htmx.ajax("POST", dragged.getAttribute("data-reorder"), {
    target: dragged.getAttribute("data-level"), swap: "outerHTML",
    values: {moved: dragged.getAttribute("data-rule-id"), where: below ? "after" : "before",
             anchor: row.getAttribute("data-rule-id")},
  });
});
document.addEventListener("dragend", function () {
  if (dragged) dragged.classList.remove("dragging");
  dragged = null;
});
