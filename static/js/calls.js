// The Aufgaben page (templates/kommunikation/call_tasks.html): keyboard like the inbox.
// ↓/↑ or j/k move between tasks, Enter calls (the tel: link), 1 erreicht, 2 nicht erreicht,
// 3 Rückruf vereinbart (date and time, Enter saves), 4 falsche Nummer, n note, a assign to me,
// ? help. Every action is a plain form as well (HTMX swaps the task in place).
(function () {
  "use strict";

  let currentId = null;

  const tasks = () => Array.from(document.querySelectorAll("#tasks > li.task"));
  const current = () => (currentId ? document.getElementById(`task-${currentId}`) : null);

  function select(task, focus = true) {
    for (const el of tasks()) el.classList.toggle("is-current", el === task);
    if (!task) return;
    currentId = task.dataset.id;
    if (focus) task.focus({ preventScroll: false });
    task.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = tasks();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = index < 0 ? all[0] : all[Math.min(all.length - 1, Math.max(0, index + step))];
    select(next);
  }

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  function click(selector) {
    const task = current();
    const el = task && task.querySelector(selector);
    if (el) el.click();
    return Boolean(el);
  }

  function focusIn(selector) {
    const task = current();
    const el = task && task.querySelector(selector);
    if (el) el.focus();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") {
        event.target.blur();
        select(current());
      }
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const outcomes = { 1: "reached", 2: "not_reached", 4: "wrong_number" };
    switch (event.key) {
      case "ArrowDown":
      case "j":
        move(1);
        break;
      case "ArrowUp":
      case "k":
        move(-1);
        break;
      case "Enter":
        if (event.target === current()) click("a.tel");
        else return;
        break;
      case "1":
      case "2":
      case "4":
        if (!current()) select(tasks()[0]);
        click(`button[data-outcome="${outcomes[event.key]}"]`);
        break;
      case "3":
        if (!current()) select(tasks()[0]);
        focusIn(".callback-date");
        break;
      case "n":
        focusIn("textarea[name=note]");
        break;
      case "a":
        click('[data-action="assign-me"]');
        break;
      case "?":
        document.getElementById("help-dialog").showModal();
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  function init() {
    if (!document.body.classList.contains("page-calls")) return;
    // 422 carries the reason a form was refused and is swapped like a success
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", (event) => {
      const help = event.target.closest('[data-action="help"]');
      if (help) document.getElementById("help-dialog").showModal();
      const task = event.target.closest("#tasks > li.task");
      if (task) select(task, false);
    });
    // a task answered in place: it stays the current one, the keyboard goes on from it
    document.body.addEventListener("htmx:afterSettle", () => {
      const task = current();
      if (task && !typing(document.activeElement || document.body)) select(task);
    });
    document.body.addEventListener("htmx:beforeRequest", () => {
      const errors = document.getElementById("task-errors");
      if (errors) errors.textContent = "";
    });
    const first = tasks().find((t) => !t.classList.contains("is-done"));
    if (first) select(first, false);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
