// The inbox keyboard: list focus and selection, the classification dialog, shortcuts.
// Everything here is also reachable with the mouse; the server renders all state.
(function () {
  "use strict";

  const state = { focusedId: null, selected: new Set(), anchorId: null };
  const CUSTOMER_TYPES = { customer: "customer", supplier: "supplier" };

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const rows = () => $$("#rows > li.row");
  const rowById = (id) => document.getElementById("row-" + id);
  // German texts come from the page (translated on the server): {"key": "text with %(n)s"}
  function t(key, n) {
    const texts = JSON.parse(document.getElementById("inbox-i18n")?.textContent || "{}");
    return (texts[key] || key).replace("%(n)s", n);
  }

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // --- list: focus and selection ---------------------------------------------------

  function sync() {
    for (const row of rows()) {
      const id = row.dataset.id;
      row.classList.toggle("is-focused", id === state.focusedId);
      row.setAttribute("aria-current", id === state.focusedId ? "true" : "false");
      const box = $(".row-check", row);
      if (box) box.checked = state.selected.has(id);
      row.classList.toggle("is-selected", state.selected.has(id));
    }
    const count = $("#selection-count");
    if (count) {
      const n = state.selected.size;
      count.textContent = n === 0 ? t("none_selected") : t(n === 1 ? "one_selected" : "selected", n);
    }
    const all = $("#select-all");
    if (all) all.checked = state.selected.size > 0 && state.selected.size === rows().length;
  }

  function focusRow(row, { open = true } = {}) {
    if (!row) return;
    state.focusedId = row.dataset.id;
    sync();
    const link = $(".row-link", row);
    row.scrollIntoView({ block: "nearest" });
    if (link) link.focus({ preventScroll: true });
    if (open && link) {
      htmx.process(link); // a key pressed before htmx's own start-up must not navigate away
      link.click();
    }
  }

  function focusedRow() {
    return state.focusedId ? rowById(state.focusedId) : null;
  }

  function move(step, extend) {
    const list = rows();
    if (!list.length) return;
    const current = focusedRow();
    let index = current ? list.indexOf(current) + step : 0;
    index = Math.max(0, Math.min(list.length - 1, index));
    if (extend) {
      if (current) state.selected.add(current.dataset.id);
      state.selected.add(list[index].dataset.id);
    }
    focusRow(list[index]);
  }

  function toggleSelected(id) {
    if (state.selected.has(id)) state.selected.delete(id);
    else state.selected.add(id);
    state.anchorId = id;
    sync();
  }

  function selectRange(fromId, toId) {
    const list = rows().map((r) => r.dataset.id);
    let a = list.indexOf(fromId);
    let b = list.indexOf(toId);
    if (a < 0) a = b;
    if (a > b) [a, b] = [b, a];
    for (const id of list.slice(a, b + 1)) state.selected.add(id);
    sync();
  }

  function selectAllLoaded() {
    for (const row of rows()) state.selected.add(row.dataset.id);
    sync();
  }

  function nextUnclassified() {
    const list = rows();
    const current = focusedRow();
    const start = current ? list.indexOf(current) + 1 : 0;
    const after = list.slice(start).concat(list.slice(0, start));
    return after.find((r) => r.dataset.classified === "0" && r !== current);
  }

  function listQuery() {
    const ol = $("#rows");
    return ol ? ol.dataset.query || "" : "";
  }

  function reloadList() {
    const query = listQuery();
    htmx.ajax("GET", "/" + (query ? "?" + query : ""), { target: "#list-body", swap: "innerHTML" });
  }

  // --- the classification dialog ---------------------------------------------------

  const dialog = () => $("#classify-dialog");
  const field = (name) => $("#classify-form [name=" + name + "]");

  function currentConversation() {
    const row = focusedRow();
    if (row) return { id: row.dataset.id, brand: row.dataset.brand, sender: row.dataset.sender };
    const conv = $("#conv");
    if (conv) return { id: conv.dataset.id, brand: conv.dataset.brand, sender: conv.dataset.sender };
    return null;
  }

  function setCount(text) {
    $("#classify-count").textContent = text;
  }

  function openClassify(scope) {
    const d = dialog();
    if (!d || d.open) return;
    const current = currentConversation();
    let ids = Array.from(state.selected);
    if (scope !== "treffer" && !ids.length && current) ids = [current.id];
    if (scope !== "treffer" && !ids.length) return;
    const form = $("#classify-form");
    form.reset();
    field("scope").value = scope || "auswahl";
    field("ids").value = ids.join(",");
    field("query").value = listQuery();
    field("sender").value = current ? current.sender : "";
    field("customer").value = "";
    const brands = new Set(ids.map((id) => (rowById(id) || {}).dataset?.brand).filter(Boolean));
    field("marke").value = brands.size === 1 ? [...brands][0] : current ? current.brand : "";
    $("#customer-options").innerHTML = "";
    $("#customer-chosen").textContent = "";
    $("#classify-errors").innerHTML = "";
    $("#customer-picker").hidden = true;
    if (scope === "treffer") countScope("treffer");
    else setCount(t(ids.length === 1 ? "will_change_one" : "will_change", ids.length));
    const proposal = $("#classify-proposal");
    proposal.hidden = true;
    proposal.textContent = "";
    d.showModal();
    $("#classify-form .types").focus();
    if (ids.length === 1 && preselectProposal(ids[0])) return;
    const first = $("#classify-form input[name=classification]");
    if (first) first.focus();
  }

  // A first contact: the brand's model proposed a classification; it is pre-selected
  // with its reason, Enter takes it, 1-5 choose another.
  function preselectProposal(id) {
    const row = rowById(id);
    const conv = $("#conv");
    const source = row || (conv && conv.dataset.id === String(id) ? conv : null);
    const value = source && source.dataset.proposal;
    if (!value) return false;
    const radio = $('#classify-form input[name=classification][value="' + value + '"]');
    if (!radio) return false;
    const proposal = $("#classify-proposal");
    proposal.textContent = t("proposal") + " " + (source.dataset.proposalReason || "");
    proposal.hidden = false;
    chooseType(radio);
    return true;
  }

  function countScope(scope) {
    field("scope").value = scope;
    const params = new URLSearchParams({ scope, query: field("query").value, sender: field("sender").value });
    setCount("…");
    fetch("/konversationen/klassifizieren/anzahl/?" + params, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((n) => {
        setCount(t(scope === "absender" ? "will_change_sender" : "will_change_filter", n));
      });
  }

  function chooseType(radio) {
    radio.checked = true;
    const kind = CUSTOMER_TYPES[radio.value];
    const picker = $("#customer-picker");
    field("customer").value = "";
    $("#customer-chosen").textContent = "";
    if (kind) {
      picker.hidden = false;
      field("art").value = kind;
      $("#customer-search-label").textContent = t(kind === "supplier" ? "find_supplier" : "find_customer");
      $("#customer-options").innerHTML = "";
      const search = $("#customer-search");
      search.value = "";
      search.focus();
    } else {
      picker.hidden = true;
      radio.focus();
    }
  }

  function options() {
    return $$("#customer-options > li.option");
  }

  function highlight(step) {
    const list = options();
    if (!list.length) return;
    let index = list.findIndex((o) => o.getAttribute("aria-selected") === "true");
    index = Math.max(0, Math.min(list.length - 1, index + step));
    list.forEach((o, i) => o.setAttribute("aria-selected", i === index ? "true" : "false"));
    $("#customer-search").setAttribute("aria-activedescendant", list[index].id);
    list[index].scrollIntoView({ block: "nearest" });
  }

  function pick(option) {
    if (!option) return false;
    field("customer").value = option.dataset.id;
    $("#customer-chosen").textContent = "✓ " + option.dataset.label;
    return true;
  }

  function submitClassify() {
    $("#classify-form").requestSubmit();
  }

  function onDialogKey(event) {
    const target = event.target;
    const inSearch = target.id === "customer-search";
    if (event.key === "Escape") {
      // also from the search field (which would only clear itself): cancel, nothing is sent
      event.preventDefault();
      dialog().close();
      return;
    }
    if (!inSearch && /^[1-5]$/.test(event.key)) {
      const radio = $('#classify-form input[data-key="' + event.key + '"]');
      if (radio) {
        event.preventDefault();
        chooseType(radio);
      }
      return;
    }
    if (inSearch && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      highlight(event.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (event.key === "Enter" && !(target.tagName === "BUTTON" || target.tagName === "SELECT")) {
      event.preventDefault();
      if (inSearch) pick($('#customer-options > li.option[aria-selected="true"]'));
      submitClassify();
    }
  }

  // --- shortcuts -------------------------------------------------------------------

  function clickAction(name) {
    const button = $('#detail [data-action="' + name + '"]');
    if (button) button.click();
  }

  // The reply template picker: an empty answer (or one that is still the last inserted
  // template) is replaced, so arrowing through the options previews each; text the
  // agent wrote is kept and the template goes in at the cursor.
  function insertTemplate(picker) {
    const text = picker.selectedOptions[0]?.dataset.text || "";
    const area = $("#reply-text");
    if (!area || !text) return;
    if (!area.value.trim() || area.value === picker.dataset.inserted) {
      area.value = text;
    } else {
      area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
    }
    picker.dataset.inserted = area.value;
  }

  function openComposer(id) {
    const box = document.getElementById(id);
    if (!box) return;
    box.open = true;
    const area = $("textarea", box);
    if (area) area.focus();
  }

  function onKey(event) {
    // delegated from the document: hx-boost replaces the dialog element with the page
    if (event.target.closest && event.target.closest("#classify-dialog")) {
      onDialogKey(event);
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (typing(event.target) || event.altKey) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "a") {
      event.preventDefault();
      selectAllLoaded();
      return;
    }
    if (mod) return;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1, event.shiftKey);
        break;
      case "x":
        if (state.focusedId) toggleSelected(state.focusedId);
        break;
      case "k":
      case "K":
        event.preventDefault();
        openClassify("auswahl");
        break;
      case "e":
        clickAction("archive");
        break;
      case "u":
        clickAction("unread");
        break;
      case "a":
        clickAction("assign-me");
        break;
      case "r":
        event.preventDefault();
        openComposer("reply-box");
        break;
      case "n":
        event.preventDefault();
        openComposer("note-box");
        break;
      case "/":
        event.preventDefault();
        $("#search")?.focus();
        break;
      case "?":
        $("#help-dialog")?.showModal();
        break;
      default:
    }
  }

  // --- wiring ----------------------------------------------------------------------

  function onClick(event) {
    const target = event.target;
    const box = target.closest(".row-check");
    if (box) {
      const id = box.value;
      if (event.shiftKey && state.anchorId) {
        selectRange(state.anchorId, id);
        state.anchorId = id;
      } else toggleSelected(id);
      return;
    }
    if (target.id === "select-all") {
      if (target.checked) selectAllLoaded();
      else {
        state.selected.clear();
        sync();
      }
      return;
    }
    const link = target.closest(".row-link");
    if (link) {
      state.focusedId = link.closest("li.row").dataset.id;
      sync();
      return;
    }
    const option = target.closest("#customer-options > li.option");
    if (option) {
      options().forEach((o) => o.setAttribute("aria-selected", o === option ? "true" : "false"));
      pick(option);
      return;
    }
    const action = target.closest("[data-action]");
    if (!action) return;
    switch (action.dataset.action) {
      case "classify":
        openClassify("auswahl");
        break;
      case "classify-all":
        openClassify("treffer");
        break;
      case "scope-sender":
        countScope("absender");
        break;
      case "scope-filter":
        countScope("treffer");
        break;
      case "cancel":
        dialog().close();
        break;
      case "help":
        $("#help-dialog").showModal();
        break;
      case "dismiss":
        $("#notice").innerHTML = "";
        break;
      case "show-images": {
        const frame = $("iframe", action.closest(".msg"));
        if (frame) frame.src = action.dataset.src;
        action.hidden = true;
        break;
      }
      default:
    }
  }

  function init() {
    if (!document.body.classList.contains("page-inbox")) return;
    // 422 carries the dialog's validation errors and is swapped like a success
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
    const conv = $("#conv");
    if (conv && rowById(conv.dataset.id)) state.focusedId = conv.dataset.id;
    sync();

    document.addEventListener("keydown", onKey);
    document.addEventListener("click", onClick);
    document.addEventListener("change", (event) => {
      if (event.target.matches('#classify-form input[name="classification"]')) {
        chooseType(event.target);
        return;
      }
      const picker = event.target.closest(".template-picker");
      if (picker) insertTemplate(picker);
    });

    document.body.addEventListener("htmx:configRequest", (event) => {
      if (event.detail.elt.id !== "filters") return;
      const data = event.detail.formData;
      for (const key of Array.from(new Set(data.keys()))) {
        if (data.getAll(key).every((v) => v === "")) data.delete(key);
      }
    });
    document.body.addEventListener("htmx:afterSettle", sync);
    document.body.addEventListener("htmx:oobAfterSwap", sync);
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target.id === "list-body") {
        state.selected.clear();
        state.anchorId = null;
        sync();
      }
      if (event.detail.target.id === "customer-options") {
        $("#customer-search").setAttribute("aria-expanded", options().length ? "true" : "false");
      }
    });
    document.body.addEventListener("inbox:opened", (event) => {
      state.focusedId = String(event.detail.id);
      rowById(state.focusedId)?.classList.remove("is-unread"); // opening marked it read
      sync();
    });
    document.body.addEventListener("inbox:classified", (event) => {
      const d = dialog();
      if (d.open) d.close();
      state.selected.clear();
      if (event.detail.reload) {
        reloadList();
        return;
      }
      sync();
      const next = nextUnclassified();
      if (next) focusRow(next);
      else if (focusedRow()) focusRow(focusedRow());
    });
    document.body.addEventListener("inbox:reload", reloadList);
    // a notice goes away by itself; one offering "Rückgängig" stays longer
    let noticeTimer = null;
    document.body.addEventListener("htmx:afterSettle", () => {
      const notice = $("#notice");
      if (!notice || !notice.textContent.trim()) return;
      clearTimeout(noticeTimer);
      const undo = $('[data-action="undo"]', notice);
      noticeTimer = setTimeout(() => (notice.innerHTML = ""), undo ? 30000 : 6000);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
