// VRU Tracker's only script besides HTMX. Loaded from our own origin: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function configure() {
    if (!window.htmx) return;
    // No eval, no inline script from responses, no injected <style>: all blocked by our CSP anyway.
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    htmx.config.includeIndicatorStyles = false;
    htmx.config.historyCacheSize = 0; // always fetch the page on back/forward: data changes under us
    // Swap 422 (a form with errors) and 409 (an edit conflict) so the user sees the messages; other errors are shown below.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "409", swap: true },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  // Move focus to an error summary (or anything marked data-autofocus) that a swap or a page load brought in.
  // Each such element is focused once: after an outerHTML swap the swap's target is the old, detached element,
  // so the new content is found in the document as the marked elements not yet seen.
  function focusNew() {
    var fresh = document.querySelectorAll("[data-autofocus]:not([data-autofocus-seen])");
    for (var i = 0; i < fresh.length; i++) { fresh[i].setAttribute("data-autofocus-seen", ""); }
    if (fresh.length) { fresh[0].focus(); }
  }

  // A form swapped back with errors: the page title says so, as it would after a full page load ("Error: ...");
  // once no error summary is left on the page, the prefix goes.
  function titleForErrors() {
    var hasErrors = !!document.querySelector(".error-summary");
    var prefixed = document.title.indexOf("Error: ") === 0;
    if (hasErrors && !prefixed) { document.title = "Error: " + document.title; }
    else if (!hasErrors && prefixed) { document.title = document.title.slice(7); }
  }

  // A table too wide for the screen scrolls inside its .table-wrap; keyboard users must be able to reach and
  // scroll it (WCAG 2.1.1), so a wrap that overflows becomes a named, focusable region, and stops being one when
  // it fits again.
  function markScrollableTables() {
    var wraps = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < wraps.length; i++) {
      var wrap = wraps[i];
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (!wrap.hasAttribute("tabindex")) {
          var caption = wrap.querySelector("caption");
          var name = caption ? caption.textContent.trim() : "Table";
          wrap.setAttribute("tabindex", "0");
          wrap.setAttribute("role", "region");
          wrap.setAttribute("aria-label", name + " (scrolls sideways)");
          wrap.setAttribute("data-scroll-region", "");
        }
      } else if (wrap.hasAttribute("data-scroll-region")) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
        wrap.removeAttribute("data-scroll-region");
      }
    }
  }

  // A server error on an HTMX request: tell the user in the live region instead of failing silently.
  function showError(evt) {
    var region = document.getElementById("htmx-error");
    if (!region) {
      region = document.createElement("div");
      region.id = "htmx-error";
      region.className = "flash flash--error";
      region.setAttribute("role", "alert");
      var main = document.getElementById("main");
      if (main) main.insertBefore(region, main.firstChild);
    }
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    region.textContent = status === 403 ? "You do not have permission to do that." :
      status === 0 ? "The server could not be reached. Check your connection and try again." :
      "Something went wrong (" + status + "). Nothing was saved. Reload the page and try again.";
  }

  // Confirm destructive actions marked data-confirm (hx-confirm needs no eval either, but forms without HTMX use this).
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { evt.preventDefault(); }
  }, true);

  // The outputs grid, like a spreadsheet: Tab saves the actual being edited (when it changed) and moves to the
  // next one (Shift+Tab to the one before), Enter saves and stays, Escape cancels. Focus lands on the cell's
  // link again after the swap, or on the field when the server sent the cell back with its error.
  var gridPending = null;
  function gridLinks() { return Array.prototype.slice.call(document.querySelectorAll(".kpi-cell__value[href]")); }
  function gridKeydown(evt) {
    var input = evt.target;
    var form = input && input.closest && input.closest("form[data-grid-cell]");
    if (!form || input.name !== "value" || !window.htmx) return;
    var cell = form.closest("td");
    if (evt.key === "Escape") {
      evt.preventDefault();
      gridPending = { id: cell.id, step: 0 };
      var cancel = form.querySelector(".kpi-cell__cancel");
      htmx.ajax("GET", cancel.getAttribute("hx-get"), { target: cell, swap: "outerHTML" });
    } else if (evt.key === "Tab") {
      evt.preventDefault();
      gridPending = { id: cell.id, step: evt.shiftKey ? -1 : 1 };
      if (input.value.trim() !== (input.getAttribute("data-original") || "")) {
        htmx.trigger(form, "submit");
      } else {
        htmx.ajax("GET", form.querySelector(".kpi-cell__cancel").getAttribute("hx-get"), { target: cell, swap: "outerHTML" });
      }
    } else if (evt.key === "Enter") {
      gridPending = { id: cell.id, step: 0 };
    }
  }
  function gridSettled() {
    if (!gridPending) return;
    var pending = gridPending;
    var cell = document.getElementById(pending.id);
    if (!cell) { gridPending = null; return; }
    var field = cell.querySelector("input[name=value]");
    if (field) { gridPending = null; field.focus(); return; } // sent back with its error: stay on it
    gridPending = null;
    var links = gridLinks();
    var own = cell.querySelector(".kpi-cell__value[href]");
    var at = links.indexOf(own);
    var next = links[at + pending.step] || own;
    if (next) next.focus();
  }

  // Card tables on a phone show each cell with its column's name: the template gives data-label where it can,
  // and the rest come from the headings here, so a column added to the table is labelled without more work.
  function labelCardCells() {
    var tables = document.querySelectorAll("table.table--cards");
    for (var t = 0; t < tables.length; t++) {
      var heads = [];
      var headRow = tables[t].querySelector("thead tr");
      if (!headRow) continue;
      for (var h = 0; h < headRow.cells.length; h++) {
        var text = headRow.cells[h].textContent.replace(/\s+/g, " ").trim();
        for (var span = 0; span < (headRow.cells[h].colSpan || 1); span++) heads.push(text);
      }
      var rows = tables[t].querySelectorAll("tbody tr, tfoot tr");
      for (var r = 0; r < rows.length; r++) {
        var col = 0;
        for (var c = 0; c < rows[r].cells.length; c++) {
          var cell = rows[r].cells[c];
          if (!cell.hasAttribute("data-label") && heads[col] && cell.colSpan < 2) cell.setAttribute("data-label", heads[col]);
          col += cell.colSpan || 1;
        }
      }
    }
  }

  // The register's "Filter" disclosure says how many filters are on, as they change.
  function countFilters(evt) {
    var box = evt.target.closest && evt.target.closest(".filter-disclosure");
    if (!box) return;
    var n = 0, fields = box.querySelectorAll("select");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) n++; }
    var out = box.querySelector("[data-filter-count]");
    if (out) out.textContent = n ? "(" + n + " active)" : "(none active)";
  }

  document.addEventListener("DOMContentLoaded", function () {
    configure();
    labelCardCells();
    document.body.addEventListener("htmx:afterSettle", labelCardCells);
    document.addEventListener("change", countFilters);
    document.addEventListener("keydown", gridKeydown);
    document.body.addEventListener("htmx:afterSettle", gridSettled);
    focusNew();
    markScrollableTables();
    window.addEventListener("resize", markScrollableTables);
    document.body.addEventListener("htmx:afterSettle", markScrollableTables);
    document.body.addEventListener("htmx:afterSettle", function () { titleForErrors(); focusNew(); });
    document.body.addEventListener("htmx:responseError", showError);
    document.body.addEventListener("htmx:sendError", showError);
  });
  configure();
})();
