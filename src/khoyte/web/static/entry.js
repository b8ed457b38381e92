/* khoyte aggregate data entry: one report's cells from the keyboard. Tab or Enter moves to the
   next cell, Shift+Enter back; a changed cell is saved when it is left (autosave). Numbers are
   read and shown the Vietnamese way (1.234,5) on Vietnamese pages (numbers.js). No inline script (CSP). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var t = config.t;
  var lang = config.lang;
  var chosen = config.chosen;
  var shown = window.khoyte.numberFormat(lang);
  var parse = function (text) { return window.khoyte.parseNumber(text, lang); };
  var csrf = window.khoyte.csrf;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function unitsFollowDataSet() {
    var ds = document.getElementById("e-dataset");
    var ou = document.getElementById("e-orgunit");
    if (!ds || !ou) { return; }
    function sync(keep) {
      var level = ds.options[ds.selectedIndex].getAttribute("data-level");
      var first = null;
      Array.prototype.forEach.call(ou.options, function (o) {
        o.hidden = o.disabled = o.getAttribute("data-level") !== level;
        if (!o.hidden && first === null) { first = o; }
      });
      var cur = ou.options[ou.selectedIndex];
      if ((!keep || !cur || cur.hidden) && first) { ou.value = first.value; }
    }
    ds.addEventListener("change", function () { sync(false); });
    sync(true);
  }

  function save(row, input) {
    var raw = input.value.trim();
    if (raw === input.getAttribute("data-saved")) { return; }
    var state = row.querySelector("td.state");
    // an emptied cell deletes the stored value (the server audits it)
    var value = raw === "" ? "" : parse(raw);
    if (value === null) {
      row.setAttribute("data-state", "error");
      state.textContent = t.save_failed + ": " + t.not_a_number;
      return;
    }
    row.setAttribute("data-state", "saving");
    state.textContent = t.saving;
    fetch("/api/v1/aggregate/entry", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({
        dataSet: chosen.dataSet, period: chosen.period, orgUnit: chosen.orgUnit,
        values: [{ dataElement: input.getAttribute("data-de"), categoryOptionCombo: input.getAttribute("data-coc"), value: value }]
      })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (res.ok) {
        input.setAttribute("data-saved", raw);
        input.value = shown(value);
        input.setAttribute("data-saved", input.value);
        row.setAttribute("data-state", "saved");
        state.textContent = t.saved;
      } else {
        row.setAttribute("data-state", "error");
        var err = res.body && res.body.error;
        state.textContent = t.save_failed + (err ? ": " + (lang === "en" ? err.message_en : err.message_vi) : "");
      }
    }).catch(function () {
      row.setAttribute("data-state", "error");
      state.textContent = t.save_failed;
    });
  }

  /* The period picker: the periods of the chosen data set's type, newest first (a select, so
     the keyboard picks one by its first letters or the arrows). */
  function periodsFollowDataSet() {
    var ds = document.getElementById("e-dataset");
    var sel = document.getElementById("e-period");
    if (!ds || !sel) { return; }
    function fill(keep) {
      var kind = ds.options[ds.selectedIndex].getAttribute("data-period-type");
      var current = keep ? sel.value : null;
      sel.textContent = "";
      (config.periods[kind] || []).forEach(function (p) {
        var o = el("option", { value: p.code }, p.label);
        if (p.code === current) { o.selected = true; }
        sel.appendChild(o);
      });
    }
    ds.addEventListener("change", function () { fill(false); });
    fill(true);
  }

  /* Approve the report (APPROVE_AGGREGATE): it is then locked; the form is drawn again. */
  function approveButton(d) {
    var btn = document.getElementById("e-approve");
    if (!btn) { return; }
    var mine = config.approve_level;
    var ds = document.getElementById("e-dataset");
    var communeSet = ds && ds.options[ds.selectedIndex].getAttribute("data-level") === "commune";
    // commune → province: the province approves a commune's report after the commune did
    var ready = mine === "commune" ? communeSet && !d.approvalLevel
      : !communeSet ? !d.approvalLevel : d.approvalLevel === "commune";
    btn.hidden = !mine || !ready;
    btn.onclick = function () {
      btn.disabled = true;
      fetch("/api/v1/aggregate/approvals", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ dataSet: chosen.dataSet, period: chosen.period, orgUnit: chosen.orgUnit })
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (res) {
        var status = document.getElementById("approve-status");
        btn.disabled = false;
        if (res.ok) {
          status.textContent = t.approved;
          start();
        } else {
          var err = res.body && res.body.error;
          status.textContent = t.save_failed + (err ? ": " + (lang === "en" ? err.message_en : err.message_vi) : "");
        }
      });
    };
  }

  function draw(d) {
    var body = document.querySelector("#entry tbody");
    body.textContent = "";
    var inputs = [];
    var previous = null;
    d.cells.forEach(function (c) {
      var tr = el("tr", { "data-de": c.dataElement, "data-coc": c.categoryOptionCombo });
      // the element's name on its first row only (each input names both in its label)
      tr.appendChild(el("th", { scope: "row" }, c.dataElement === previous ? "" :
        (lang === "en" ? c.name_en : c.name_vi) + " (" + (lang === "en" ? c.unit_en : c.unit_vi) + ")"));
      previous = c.dataElement;
      tr.appendChild(el("td", {}, lang === "en" ? c.combo_en : c.combo_vi));
      var td = el("td", { "class": "num" });
      var input = el("input", {
        "class": "cell", type: "text", inputmode: "decimal", autocomplete: "off",
        "data-de": c.dataElement, "data-coc": c.categoryOptionCombo,
        "aria-label": (lang === "en" ? c.name_en : c.name_vi) + " " + (lang === "en" ? c.combo_en : c.combo_vi)
      });
      input.value = shown(c.value);
      input.setAttribute("data-saved", input.value);
      if (d.locked) { input.setAttribute("readonly", ""); }
      td.appendChild(input);
      tr.appendChild(td);
      tr.appendChild(el("td", { "class": "num last" }, c.last === null ? "—" : shown(c.last)));
      tr.appendChild(el("td", { "class": "num range" }, c.min === null ? "—" : shown(c.min) + " – " + shown(c.max)));
      tr.appendChild(el("td", { "class": "state" }, ""));
      body.appendChild(tr);
      inputs.push(input);
      input.addEventListener("change", function () { if (!d.locked) { save(tr, input); } });
      input.addEventListener("keydown", function (ev) {
        if (ev.key !== "Enter") { return; }
        ev.preventDefault();
        var i = inputs.indexOf(input) + (ev.shiftKey ? -1 : 1);
        if (i >= 0 && i < inputs.length) { inputs[i].focus(); inputs[i].select(); } else { input.blur(); }
      });
    });
    document.getElementById("entry-locked").hidden = !d.locked;
    approveButton(d);
    if (inputs.length) { inputs[0].focus(); inputs[0].select(); }
  }

  function start() {
    if (!chosen || !chosen.dataSet) { return; }
    var status = document.getElementById("status");
    var q = new URLSearchParams({ dataSet: chosen.dataSet, period: chosen.period, orgUnit: chosen.orgUnit });
    fetch("/api/v1/aggregate/entry?" + q.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (d) {
        draw(d);
        status.textContent = "";
        status.hidden = true;
        document.body.setAttribute("data-ready", "1");
      })
      .catch(function (err) {
        status.textContent = t.error + " (" + err.message + ")";
        status.classList.add("error");
        document.body.setAttribute("data-ready", "error");
      });
  }

  /* Keyboard first: Enter on a choice of the form opens the report (as in a text field). */
  function enterSubmits() {
    var form = document.getElementById("entry-choose");
    if (!form) { return; }
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (sel) {
      sel.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") { ev.preventDefault(); form.requestSubmit(); }
      });
    });
  }

  function init() {
    unitsFollowDataSet();
    periodsFollowDataSet();
    enterSubmits();
    start();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
