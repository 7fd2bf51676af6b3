(function () {
  "use strict";
  var body = document.body;
  var errorCount = 0;
  function recordError() {
    errorCount += 1;
    body.setAttribute("data-js-errors", String(errorCount));
  }
  window.addEventListener("error", recordError);
  window.addEventListener("unhandledrejection", recordError);

  var SEVERITY_MIN = { critical: 4, high: 3, medium: 2, low: 1 };
  var state = { filter: "", severity: "all", sort: "" };
  var rows = [];
  var headers = {};
  var tbody, filterInput, severitySelect, countEl, noMatch, showAllButton;
  // Rows shown at once; "Show all" lifts it. Laying out thousands of table rows on every
  // keystroke is what makes big pages sluggish, so only the first matches are displayed.
  var limit = Infinity;
  var capped = false;
  // When the account has more keys than the page holds, the counts say so.
  var keysInCsv = 0;
  // What the rows are: keys in an account's page, accounts in an organization's overview.
  var noun = "keys";

  function fromHash() {
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("=") < 0) {
      return null;
    }
    var params = new URLSearchParams(hash);
    return {
      filter: params.get("filter") || "",
      severity: params.get("severity") || "all",
      sort: params.get("sort") || "",
      all: params.get("show") === "all"
    };
  }

  function toHash() {
    var params = new URLSearchParams();
    if (state.filter) { params.set("filter", state.filter); }
    if (state.severity !== "all") { params.set("severity", state.severity); }
    if (state.sort) { params.set("sort", state.sort); }
    if (limit === Infinity && capped) { params.set("show", "all"); }
    var text = params.toString();
    try {
      window.history.replaceState(null, "", text ? "#" + text : window.location.pathname + window.location.search);
    } catch (e) {
      // Some viewers (mail clients, file previews) do not allow history changes.
    }
  }

  function applyFilter() {
    var terms = state.filter.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
    var min = SEVERITY_MIN[state.severity] || 0;
    var onlyClean = state.severity === "none";
    var matched = 0;
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = onlyClean ? r.sev === 0 : r.sev >= min;
      for (var t = 0; ok && t < terms.length; t++) {
        if (r.text.indexOf(terms[t]) < 0) { ok = false; }
      }
      if (ok) { matched += 1; }
      if (ok && shown >= limit) { ok = false; }
      if (ok !== r.shown) {
        r.shown = ok;
        if (ok) { r.el.removeAttribute("hidden"); } else { r.el.setAttribute("hidden", ""); }
      }
      if (ok) { shown += 1; }
    }
    if (shown < matched) {
      countEl.textContent = shown + " shown of " + matched + (matched === rows.length ? " " + noun + beyondPage() : " matching " + noun + " (" + rows.length + (keysInCsv ? " in this page, " + keysInCsv + " in keys.csv)" : " in all)"));
      showAllButton.textContent = "Show all " + matched;
      showAllButton.removeAttribute("hidden");
    } else {
      countEl.textContent = matched + " of " + rows.length + " " + noun + beyondPage();
      showAllButton.setAttribute("hidden", "");
    }
    if (shown === 0 && rows.length > 0) { noMatch.removeAttribute("hidden"); } else { noMatch.setAttribute("hidden", ""); }
  }

  function beyondPage() {
    return keysInCsv ? " in this page; " + keysInCsv + " in keys.csv" : "";
  }

  function sortValue(r, th) {
    var attr = th.getAttribute("data-num");
    if (attr) {
      var raw = r.el.getAttribute(attr);
      return raw === null || raw === "" ? null : Number(raw);
    }
    var text = r.el.cells[th.cellIndex].textContent.trim().toLowerCase();
    return text === "" ? null : text;
  }

  function applySort() {
    var m = /^([a-z]+)-(asc|desc)$/.exec(state.sort);
    if (!m || !headers[m[1]]) { return; }
    var th = headers[m[1]];
    var dir = m[2] === "desc" ? -1 : 1;
    for (var i = 0; i < rows.length; i++) { rows[i].key = sortValue(rows[i], th); }
    rows = rows.slice().sort(function (a, b) {
      // Unknown values go last in either direction; ties keep the report's own order.
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.index - b.index; }
        return a.key === null ? 1 : -1;
      }
      if (a.key < b.key) { return -dir; }
      if (a.key > b.key) { return dir; }
      return a.index - b.index;
    });
    // Reorder the rows while the body is detached, so the browser restyles the table once
    // instead of once per moved row.
    var table = tbody.parentNode;
    var next = tbody.nextSibling;
    table.removeChild(tbody);
    for (var j = 0; j < rows.length; j++) { tbody.appendChild(rows[j].el); }
    table.insertBefore(tbody, next);
    Object.keys(headers).forEach(function (name) {
      var h = headers[name];
      h.classList.remove("sorted-asc", "sorted-desc");
      h.removeAttribute("aria-sort");
    });
    th.classList.add(dir === 1 ? "sorted-asc" : "sorted-desc");
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }

  // The last filter and sort record how long they took (data-filter-ms, data-sort-ms on
  // <body>), so a check of a large report can see it stays responsive.
  function timed(attribute, fn) {
    return function () {
      var started = window.performance.now();
      fn();
      body.setAttribute(attribute, (window.performance.now() - started).toFixed(1));
    };
  }
  applyFilter = timed("data-filter-ms", applyFilter);
  applySort = timed("data-sort-ms", applySort);

  function applyState(next) {
    state.filter = next.filter;
    state.severity = SEVERITY_MIN[next.severity] || next.severity === "none" ? next.severity : "all";
    state.sort = next.sort;
    if (next.all) { limit = Infinity; }
    filterInput.value = state.filter;
    severitySelect.value = state.severity;
    applySort();
    applyFilter();
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      if (timer !== null) { window.clearTimeout(timer); }
      timer = window.setTimeout(function () { timer = null; fn(); }, ms);
    };
  }

  function initTable() {
    var table = document.getElementById("keys");
    if (!table) { return; }
    tbody = table.tBodies[0];
    noun = table.getAttribute("data-noun") || noun;
    filterInput = document.getElementById("key-filter");
    severitySelect = document.getElementById("severity-filter");
    countEl = document.getElementById("key-count");
    noMatch = document.getElementById("no-match");
    showAllButton = document.getElementById("show-all");
    var list = tbody.rows;
    for (var i = 0; i < list.length; i++) {
      var tr = list[i];
      rows.push({
        el: tr,
        index: i,
        text: tr.textContent.toLowerCase(),
        sev: Number(tr.getAttribute("data-sev")) || 0,
        shown: !tr.hasAttribute("hidden"),
        key: null
      });
    }
    var total = Number(table.getAttribute("data-total"));
    if (total > rows.length) {
      keysInCsv = total;
    }
    var cap = Number(showAllButton.getAttribute("data-limit"));
    if (cap > 0 && cap < rows.length) {
      limit = cap;
      capped = true;
    }
    showAllButton.addEventListener("click", function () {
      limit = Infinity;
      applyFilter();
      toHash();
    });
    window.addEventListener("beforeprint", function () {
      if (limit !== Infinity) {
        limit = Infinity;
        applyFilter();
      }
    });
    var ths = table.tHead.rows[0].cells;
    for (var h = 0; h < ths.length; h++) {
      var name = ths[h].getAttribute("data-sort");
      if (name) {
        headers[name] = ths[h];
        ths[h].tabIndex = 0;
      }
    }
    function onHeader(th) {
      var name = th.getAttribute("data-sort");
      var current = /^([a-z]+)-(asc|desc)$/.exec(state.sort);
      var numeric = th.hasAttribute("data-num");
      var dir;
      if (current && current[1] === name) {
        dir = current[2] === "asc" ? "desc" : "asc";
      } else if (!current && name === "sev") {
        dir = "asc";
      } else {
        dir = numeric ? "desc" : "asc";
      }
      state.sort = name + "-" + dir;
      applySort();
      // With a row limit, the rows on display are the first ones in the new order.
      if (limit !== Infinity) { applyFilter(); }
      toHash();
    }
    table.tHead.addEventListener("click", function (ev) {
      var th = ev.target.closest("th[data-sort]");
      if (th) { onHeader(th); }
    });
    table.tHead.addEventListener("keydown", function (ev) {
      var th = ev.target.closest("th[data-sort]");
      if (th && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); onHeader(th); }
    });
    var onInput = debounce(function () {
      state.filter = filterInput.value;
      applyFilter();
      toHash();
    }, 150);
    filterInput.addEventListener("input", onInput);
    severitySelect.addEventListener("change", function () {
      state.severity = severitySelect.value;
      applyFilter();
      toHash();
    });
    window.addEventListener("hashchange", function () {
      var next = fromHash();
      if (next) { applyState(next); }
    });
    var initial = fromHash();
    if (initial) { applyState(initial); }
  }

  function copyText(text, done) {
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      body.removeChild(area);
      done(ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  function initCopy() {
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest("button.copy");
      if (!button) { return; }
      var code = button.parentNode.querySelector("pre code");
      if (!code) { return; }
      copyText(code.textContent, function (ok) {
        button.textContent = ok ? "Copied" : "Select and copy";
        button.classList.toggle("copied", ok);
        window.setTimeout(function () {
          button.textContent = "Copy";
          button.classList.remove("copied");
        }, 1600);
      });
    });
  }

  function initDetails() {
    // Printing shows every folded finding; following a link into a fold opens it.
    window.addEventListener("beforeprint", function () {
      var folds = document.querySelectorAll("details.more");
      for (var i = 0; i < folds.length; i++) { folds[i].open = true; }
    });
    function openTarget() {
      var id = window.location.hash.replace(/^#/, "");
      if (!id || id.indexOf("=") >= 0) { return; }
      var target = document.getElementById(id);
      var fold = target && target.closest("details");
      if (fold) { fold.open = true; }
    }
    window.addEventListener("hashchange", openTarget);
    openTarget();
  }

  function initNewOnly() {
    // "New only" hides the findings the baseline already had, and opens the folds that
    // hold new ones.
    var box = document.getElementById("new-only");
    var section = document.getElementById("findings");
    if (!box || !section) { return; }
    var none = document.getElementById("no-new");
    function apply() {
      section.classList.toggle("show-new-only", box.checked);
      if (box.checked) {
        var folds = section.querySelectorAll("details.more");
        for (var i = 0; i < folds.length; i++) {
          if (folds[i].querySelector('article.finding[data-status="new"]')) { folds[i].open = true; }
        }
      }
      if (none) {
        none.hidden = !(box.checked && !section.querySelector('article.finding[data-status="new"]'));
      }
    }
    box.addEventListener("change", apply);
    // A link can open the page filtered: report.html#new=1.
    if (/(^#|&)new=1(&|$)/.test(window.location.hash)) { box.checked = true; }
    apply();
  }

  function initOwnerFilter() {
    // The by-owner table: typing keeps the owners whose name holds the text.
    var input = document.getElementById("owner-filter");
    var table = document.getElementById("owner-summary");
    if (!input || !table) { return; }
    var owners = table.querySelectorAll("tbody tr");
    var none = document.getElementById("no-owner");
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      for (var i = 0; i < owners.length; i++) {
        var hit = q === "" || owners[i].getAttribute("data-owner").indexOf(q) >= 0;
        owners[i].hidden = !hit;
        if (hit) { shown += 1; }
      }
      if (none) { none.hidden = shown > 0; }
    });
  }

  try {
    document.documentElement.classList.add("js");
    initDetails();
    initNewOnly();
    initOwnerFilter();
    initTable();
    initCopy();
    body.setAttribute("data-js-ready", "1");
  } catch (e) {
    recordError();
    if (window.console) { window.console.error(e); }
  }
})();
