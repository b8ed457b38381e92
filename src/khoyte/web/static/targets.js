/* khoyte plans (/aggregate/targets): edit a plan in its cell from the keyboard, delete a stored
   one, upload a plan file and show its receipt. Enter (or leaving the cell) saves a changed value
   and Enter moves to the next cell, Shift+Enter back, Escape undoes. Numbers are typed and shown
   the page's way (numbers.js). No inline script (CSP). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var t = config.t;
  var lang = config.lang;
  var shown = window.khoyte.numberFormat(lang);
  var API = "/api/v1/aggregate/targets";

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function message(body) {
    var err = body && body.error;
    if (!err) { return ""; }
    var problems = (err.details && err.details.problems) || [];
    var first = problems.length ? (lang === "en" ? problems[0].message_en : problems[0].message_vi) : "";
    return ": " + (first || (lang === "en" ? err.message_en : err.message_vi));
  }

  function send(method, url, body, headers) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: Object.assign({ Accept: "application/json", "X-CSRF-Token": window.khoyte.csrf() }, headers || {}),
      body: body
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, body: b }; }, function () { return { ok: r.ok, body: null }; });
    });
  }

  function state(row, kind, text) {
    row.setAttribute("data-state", kind);
    row.querySelector("td.state").textContent = text;
  }

  function save(row, input) {
    var raw = input.value.trim();
    if (raw === input.getAttribute("data-saved") || raw === input.getAttribute("data-pending")) { return; }
    var value = raw === "" ? null : window.khoyte.parseNumber(raw, lang);
    if (value === null) {
      state(row, "error", t.save_failed + ": " + t.not_a_number);
      return;
    }
    state(row, "saving", t.saving);
    input.setAttribute("data-pending", raw);  // Enter, then leaving the cell: one request
    send("PUT", API, JSON.stringify({
      indicator: row.getAttribute("data-indicator"), orgUnit: row.getAttribute("data-orgunit"),
      year: Number(row.getAttribute("data-year")), value: value
    }), { "Content-Type": "application/json" }).then(function (res) {
      input.removeAttribute("data-pending");
      if (!res.ok) { state(row, "error", t.save_failed + message(res.body)); return; }
      input.value = shown(res.body.target);
      input.setAttribute("data-saved", input.value);
      row.classList.remove("missing");
      var badge = row.querySelector(".missing-badge");
      if (badge) { badge.remove(); }
      row.querySelector("td.source").textContent = res.body.source;
      row.querySelector("td.who").textContent = res.body.storedBy;
      var act = row.querySelector("td.act");
      if (!act.querySelector("button")) {  // stored now: it may be deleted
        var b = el("button", t.delete);
        b.type = "button";
        b.className = "t-delete";
        b.addEventListener("click", function () { remove(row, b); });
        act.appendChild(b);
      }
      state(row, "saved", t.saved);
    }).catch(function () { input.removeAttribute("data-pending"); state(row, "error", t.save_failed); });
  }

  function remove(row, button) {
    if (!window.confirm(t.confirm_delete)) { return; }
    var q = new URLSearchParams({ indicator: row.getAttribute("data-indicator"),
      orgunit: row.getAttribute("data-orgunit"), year: row.getAttribute("data-year") });
    send("DELETE", API + "?" + q.toString()).then(function (res) {
      if (!res.ok) { state(row, "error", t.save_failed + message(res.body)); return; }
      var input = row.querySelector("input.cell");
      var now = res.body ? shown(res.body.target) : "";  // the package's default applies again
      input.value = now;
      input.setAttribute("data-saved", now);
      row.querySelector("td.source").textContent = res.body ? "targets.csv" : "—";
      row.querySelector("td.who").textContent = "";
      button.remove();
      state(row, "saved", t.deleted);
    }).catch(function () { state(row, "error", t.save_failed); });
  }

  function receipt(box, r) {
    box.textContent = "";
    var words = (t[r.status] || r.status).replace("{imported}", r.imported)
      .replace("{updated}", r.updated).replace("{n}", r.problems.length);
    var p = el("p", words);
    p.className = r.status === "rejected" ? "status error" : "status";
    p.id = "t-receipt-status";
    box.appendChild(p);
    if (!r.problems.length) { return; }
    var wrap = el("div");
    wrap.className = "table-wrap";
    var table = el("table");
    table.className = "data";
    table.id = "t-problems";
    var head = el("tr");
    [t.row, t.column, t.value, t.problem].forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    r.problems.forEach(function (x) {
      var tr = el("tr");
      [x.row, x.column, x.value, lang === "en" ? x.message_en : x.message_vi].forEach(function (v) { tr.appendChild(el("td", v)); });
      body.appendChild(tr);
    });
    wrap.appendChild(table);
    box.appendChild(wrap);
  }

  function upload() {
    var form = document.getElementById("t-upload");
    if (!form) { return; }
    var box = document.getElementById("t-receipt");
    var stored = window.sessionStorage.getItem("khoyte-targets-receipt");
    if (stored) {  // the receipt of the upload that reloaded the page
      window.sessionStorage.removeItem("khoyte-targets-receipt");
      receipt(box, JSON.parse(stored));
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = document.getElementById("t-file").files[0];
      if (!file) { return; }
      box.textContent = t.uploading;
      send("POST", API + "/uploads", file, { "X-Filename": encodeURIComponent(file.name).slice(0, 255) })
        .then(function (res) {
          if (!res.ok) { box.textContent = t.save_failed + message(res.body); return; }
          if (res.body.status === "loaded") {  // the table shows the new plans after a reload
            window.sessionStorage.setItem("khoyte-targets-receipt", JSON.stringify(res.body));
            window.location.reload();
            return;
          }
          receipt(box, res.body);
        }).catch(function () { box.textContent = t.save_failed; });
    });
  }

  function init() {
    var inputs = Array.prototype.slice.call(document.querySelectorAll("#targets input.cell"));
    inputs.forEach(function (input) {
      var row = input.closest("tr");
      input.addEventListener("change", function () { save(row, input); });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") { input.value = input.getAttribute("data-saved"); return; }
        if (ev.key !== "Enter") { return; }
        ev.preventDefault();
        save(row, input);
        var i = inputs.indexOf(input) + (ev.shiftKey ? -1 : 1);
        if (i >= 0 && i < inputs.length) { inputs[i].focus(); inputs[i].select(); }
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("#targets button.t-delete"), function (b) {
      b.addEventListener("click", function () { remove(b.closest("tr"), b); });
    });
    upload();
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
