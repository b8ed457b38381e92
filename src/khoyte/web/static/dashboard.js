/* khoyte dashboards: fetch the page's JSON twin, draw ECharts charts and their tables.
   No inline script anywhere (strict CSP); the page's settings come from <script id="config">. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var t = config.t;
  var lang = config.lang;
  var nf = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { maximumFractionDigits: 2 });
  var nf1 = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var charts = {};
  var colours = ["#1f6fb2", "#e07b39", "#3a9a5b", "#c0392b", "#8e6bbf", "#7f8c8d", "#d4a017", "#16a5a5", "#b35c8e"];

  function qs(extra) {
    var params = new URLSearchParams(window.location.search);
    var f = config.filters;
    ["from", "to", "commune", "facility", "tier", "loai_kcb"].forEach(function (k) {
      if (!params.get(k) && f[k]) { params.set(k, f[k]); }
    });
    Object.keys(extra || {}).forEach(function (k) {
      if (extra[k] === null) { params.delete(k); } else { params.set(k, extra[k]); }
    });
    return params.toString();
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error(url + " → " + r.status); }
        return r.json();
      });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function fmt(v) { return typeof v === "number" ? nf.format(v) : (v === null || v === undefined ? "—" : String(v)); }

  /* A table with sortable columns. columns: [{key, label, link?}] */
  function table(container, columns, rows, caption) {
    var wrap = typeof container === "string" ? document.getElementById(container) : container;
    if (!wrap) { return; }
    wrap.textContent = "";
    if (!rows.length) { wrap.appendChild(el("p", { "class": "empty" }, t.no_data)); return; }
    var tbl = el("table", { "class": "data" });
    if (caption) { tbl.appendChild(el("caption", {}, caption)); }
    var thead = el("thead"); var hr = el("tr");
    var tbody = el("tbody");
    var state = { key: null, dir: 1 };
    function draw() {
      tbody.textContent = "";
      var sorted = rows.slice();
      if (state.key) {
        sorted.sort(function (a, b) {
          var x = a[state.key], y = b[state.key];
          if (typeof x === "number" && typeof y === "number") { return (x - y) * state.dir; }
          return String(x === null ? "" : x).localeCompare(String(y === null ? "" : y), lang) * state.dir;
        });
      }
      sorted.forEach(function (r) {
        var tr = el("tr");
        columns.forEach(function (c) {
          var td = el("td", typeof r[c.key] === "number" ? { "class": "num" } : {});
          if (c.link && c.link(r)) {
            var a = el("a", { href: c.link(r), "class": "drill" }, fmt(r[c.key]));
            td.appendChild(a);
          } else { td.textContent = fmt(r[c.key]); }
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
    }
    columns.forEach(function (c) {
      var th = el("th", { scope: "col", "aria-sort": "none" });
      var b = el("button", { type: "button", "class": "sort", "data-key": c.key }, c.label);
      b.addEventListener("click", function () {
        state.dir = state.key === c.key ? -state.dir : (typeof rows[0][c.key] === "number" ? -1 : 1);
        state.key = c.key;
        hr.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
        draw();
      });
      th.appendChild(b); hr.appendChild(th);
    });
    thead.appendChild(hr); tbl.appendChild(thead); tbl.appendChild(tbody);
    wrap.appendChild(tbl);
    draw();
  }

  function chart(key, option) {
    var node = document.getElementById("chart-" + key);
    if (!node || typeof window.echarts === "undefined") { return; }
    var c = charts[key] || window.echarts.init(node, null, { renderer: "canvas" });
    charts[key] = c;
    option.color = colours;
    option.animation = false;
    option.textStyle = { fontFamily: "system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif" };
    // Tooltips drawn on the canvas: the HTML tooltip writes style="…" attributes, which the
    // Content-Security-Policy (no 'unsafe-inline' styles) refuses on every hover.
    if (option.tooltip) {
      option.tooltip = Object.assign({ renderMode: "richText", confine: true }, option.tooltip);
    }
    c.setOption(option, true);
  }

  function bar(key, labels, values, horizontal) {
    var cat = { type: "category", data: labels, axisLabel: { interval: 0, width: 140, overflow: "truncate" } };
    var val = { type: "value" };
    chart(key, {
      tooltip: { trigger: "axis" },
      grid: { left: horizontal ? 150 : 50, right: 20, top: 20, bottom: horizontal ? 30 : 60, containLabel: false },
      xAxis: horizontal ? val : Object.assign(cat, { axisLabel: { rotate: 30, interval: 0 } }),
      yAxis: horizontal ? Object.assign(cat, { inverse: true }) : val,
      series: [{ type: "bar", data: values, name: t.visits }]
    });
  }

  function pie(key, items) {
    chart(key, {
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], data: items, label: { formatter: "{b}: {d}%" } }]
    });
  }

  function trend(key, rows, xKey) {
    chart(key, {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 60, right: 20, top: 20, bottom: 50 },
      xAxis: { type: "category", data: rows.map(function (r) { return r[xKey]; }) },
      yAxis: { type: "value" },
      series: [
        { type: "line", name: t.visits, data: rows.map(function (r) { return r.visits; }), showSymbol: rows.length < 60 },
        { type: "line", name: t.last_year, data: rows.map(function (r) { return r.visits_last_year; }), lineStyle: { type: "dashed" }, showSymbol: false }
      ]
    });
  }

  function exportLinks(base) {
    document.querySelectorAll("a.xlsx, a.csv").forEach(function (a) {
      var name = a.getAttribute("data-table");
      var fmtName = a.classList.contains("xlsx") ? "xlsx" : "csv";
      var url = name === "completeness"
        ? "/api/v1/dashboards/completeness/export." + fmtName + "?" + qs()
        : "/api/v1/dashboards/kcb/export." + fmtName + "?" + qs({ table: name === "breakdown" ? base : name });
      a.setAttribute("href", url);
      a.setAttribute("download", "");
      a.textContent = fmtName === "xlsx" ? t.download_xlsx : t.download_csv;
    });
    document.querySelectorAll("button.png").forEach(function (b) {
      b.addEventListener("click", function () {
        var c = charts[b.getAttribute("data-chart")];
        if (!c) { return; }
        var a = el("a", { href: c.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" }), download: "khoyte-" + b.getAttribute("data-chart") + ".png" });
        document.body.appendChild(a); a.click(); a.remove();
      });
    });
  }

  function link(extra) { return "?" + qs(extra); }

  function crumbs() {
    var nav = document.getElementById("crumbs");
    if (!nav) { return; }
    var f = config.filters;
    var communeName = "", facilityName = "";
    config.options.communes.forEach(function (c) { if (c.code === f.commune) { communeName = c.name; } });
    config.options.facilities.forEach(function (x) { if (x.code === f.facility) { facilityName = x.name; } });
    var parts = [[t.province, link({ commune: null, facility: null })]];
    if (f.commune) { parts.push([communeName || f.commune, link({ facility: null })]); }
    if (f.facility) { parts.push([facilityName || f.facility, null]); }
    parts.forEach(function (p, i) {
      if (i) { nav.appendChild(el("span", { "class": "sep", "aria-hidden": "true" }, "›")); }
      if (p[1] && i < parts.length - 1) { nav.appendChild(el("a", { href: p[1] }, p[0])); }
      else { nav.appendChild(el("span", { "aria-current": "page" }, p[0])); }
    });
  }

  function kcbPage() {
    var f = config.filters;
    var by = f.commune || f.facility ? "facility" : "commune";
    crumbs();
    exportLinks(by);
    document.getElementById("h-breakdown").textContent = by === "commune" ? t.breakdown_commune : t.breakdown_facility;
    return Promise.all([
      getJSON("/api/v1/dashboards/kcb?" + qs()),
      getJSON("/api/v1/dashboards/kcb/daily?" + qs()),
      getJSON("/api/v1/dashboards/kcb/breakdown?" + qs({ by: by })),
      getJSON("/api/v1/dashboards/kcb/people?" + qs())
    ]).then(function (res) {
      var d = res[0], daily = res[1].daily, rows = res[2].rows, ppl = res[3];
      var v = d.visits;
      var kpi = {
        facilities_reporting: d.facilities_reporting, visits: v.total, outpatient: v.outpatient,
        inpatient: v.inpatient, emergencies: d.emergencies, deaths: d.deaths, bed_days: d.bed_days,
        bhyt_records: d.bhyt_records, cost_total: d.costs.total, cost_bhyt: d.costs.bhyt, cost_patient: d.costs.patient,
        persons_served: ppl.persons.served, visits_per_person: ppl.persons.visits_per_person,
        readmission_rate: ppl.persons.readmissions.rate === null ? null : ppl.persons.readmissions.rate * 100
      };
      Object.keys(kpi).forEach(function (k) {
        var node = document.querySelector('[data-kpi="' + k + '"] .value');
        if (!node) { return; }
        if (k.indexOf("cost") === 0) {
          node.textContent = kpi[k] === null ? "—" : nf1.format(kpi[k] / 1e6);  // null: hidden (small counts)
          node.setAttribute("title", fmt(kpi[k]));
        } else { node.textContent = fmt(kpi[k]); }
      });
      document.getElementById("as-of").textContent = d.as_of || "–";
      var rr = ppl.persons.readmissions;
      var rateNode = document.querySelector('[data-kpi="readmission_rate"] .value');
      if (rateNode) { rateNode.setAttribute("title", fmt(rr.readmitted) + " / " + fmt(rr.discharges)); }

      trend("monthly", d.monthly, "month");
      table("table-monthly", [
        { key: "month", label: t.month }, { key: "visits", label: t.visits },
        { key: "visits_last_year", label: t.last_year }, { key: "inpatient", label: t.inpatient },
        { key: "emergencies", label: t.emergencies }, { key: "deaths", label: t.deaths },
        { key: "cost_total", label: t.cost_total }], d.monthly);
      trend("daily", daily, "date");
      table("table-daily", [
        { key: "date", label: t.date }, { key: "visits", label: t.visits },
        { key: "visits_last_year", label: t.last_year }, { key: "emergencies", label: t.emergencies }], daily);

      var loai = Object.keys(v.by_loai_kcb).map(function (k) { return { code: k, name: config.visit_types[k] || k, count: v.by_loai_kcb[k] }; });
      bar("by_loai_kcb", loai.map(function (r) { return r.code + " " + r.name; }), loai.map(function (r) { return r.count; }), true);
      table("table-by_loai_kcb", [{ key: "code", label: t.code }, { key: "name", label: t.loai_kcb }, { key: "count", label: t.count }], loai);

      var sex = Object.keys(v.by_sex).map(function (k) { return { code: k, name: config.sexes[k] || k, count: v.by_sex[k] }; });
      pie("by_sex", sex.filter(function (r) { return r.count > 0; }).map(function (r) { return { name: r.name, value: r.count }; }));
      table("table-by_sex", [{ key: "name", label: t.sex }, { key: "count", label: t.count }], sex);

      var age = Object.keys(v.by_age_band).map(function (k) { return { name: k, count: v.by_age_band[k] }; });
      bar("by_age_band", age.map(function (r) { return r.name; }), age.map(function (r) { return r.count; }), false);
      table("table-by_age_band", [{ key: "name", label: t.age_band }, { key: "count", label: t.count }], age);

      var top = d.top_icd10.map(function (r) { return { code: r.code, name: lang === "en" ? r.name_en : r.name_vi, count: r.count }; });
      bar("top_icd10", top.map(function (r) { return r.code + " " + r.name; }), top.map(function (r) { return r.count; }), true);
      table("table-top_icd10", [{ key: "code", label: t.code }, { key: "name", label: t.name }, { key: "count", label: t.count }], top);

      var ref = ppl.referrals;
      var flows = ref.flows.map(function (r) {
        return { from: r.from, from_name: r.from_name, to: r.to, to_name: r.to_name, count: r.count, followed_up: r.followed_up };
      });
      var seen = t.followed_up + " " + t.within_days.replace("{n}", ref.followup_days);
      chart("referrals", {
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 220, right: 20, top: 20, bottom: 40 },
        xAxis: { type: "value" },
        yAxis: { type: "category", inverse: true, data: flows.slice(0, 15).map(function (r) { return r.from_name + " → " + r.to_name; }), axisLabel: { width: 210, overflow: "truncate" } },
        series: [
          { type: "bar", name: t.count, data: flows.slice(0, 15).map(function (r) { return r.count; }) },
          { type: "bar", name: seen, data: flows.slice(0, 15).map(function (r) { return r.followed_up; }) }
        ]
      });
      table("table-referrals", [
        { key: "from", label: t.code }, { key: "from_name", label: t.ref_from },
        { key: "to", label: t.code }, { key: "to_name", label: t.ref_to },
        { key: "count", label: t.count }, { key: "followed_up", label: seen }], flows);

      var cols = [{ key: "code", label: t.code }, {
        key: "name", label: by === "commune" ? t.commune : t.facility,
        link: function (r) {
          if (!r.code) { return null; }
          return by === "commune" ? link({ commune: r.code, facility: null }) : link({ facility: r.code });
        }
      }];
      if (by === "facility") {
        rows.forEach(function (r) { r.tier = config.tiers[r.tier] || r.tier; });
        cols.push({ key: "tier", label: t.tier });
      }
      cols = cols.concat([{ key: "visits", label: t.visits }, { key: "inpatient", label: t.inpatient },
        { key: "emergencies", label: t.emergencies }, { key: "deaths", label: t.deaths },
        { key: "bed_days", label: t.bed_days }, { key: "cost_total", label: t.cost_total }]);
      table("table-breakdown", cols, rows);
    });
  }

  function completenessPage() {
    exportLinks("commune");
    return getJSON("/api/v1/dashboards/completeness?" + qs()).then(function (d) {
      document.getElementById("as-of").textContent = d.as_of || "–";
      var rep = d.reporting;
      chart("reporting", {
        tooltip: { trigger: "axis" },
        grid: { left: 50, right: 20, top: 20, bottom: 40 },
        xAxis: { type: "category", data: rep.map(function (r) { return r.day || r.month; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", name: t.facilities_reporting, data: rep.map(function (r) { return r.facilities; }) }]
      });
      table("table-reporting", [{ key: d.unit, label: t.date }, { key: "facilities", label: t.facilities_reporting }], rep);
      var silent = d.facilities.filter(function (f) { return f.silent; });
      var cols = [{ key: "facility", label: t.code }, { key: "name", label: t.facility }, { key: "commune_name", label: t.commune },
        { key: "last_day_with_data", label: t.last_day_with_data }, { key: "silent_days", label: t.silent_days }];
      table("table-silent", cols, silent);
      table("table-facilities", [
        { key: "facility", label: t.code }, { key: "name", label: t.facility }, { key: "commune_name", label: t.commune },
        { key: "days_with_data", label: t.days_with_data }, { key: "days", label: t.days },
        { key: "records", label: t.records }, { key: "rejected", label: t.rejected },
        { key: "first_received", label: t.first_received }, { key: "last_received", label: t.last_received },
        { key: "last_day_with_data", label: t.last_day_with_data }], d.facilities);
    });
  }

  function facilityFilterFollowsCommune() {
    var commune = document.getElementById("f-commune");
    var facility = document.getElementById("f-facility");
    if (!commune || !facility) { return; }
    function sync() {
      Array.prototype.forEach.call(facility.options, function (o) {
        var c = o.getAttribute("data-commune");
        o.hidden = !!(commune.value && c && c !== commune.value);
      });
    }
    commune.addEventListener("change", function () { facility.value = ""; sync(); });
    sync();
  }

  function start() {
    var status = document.getElementById("status");
    if (window.matchMedia("(max-width: 600px)").matches) {
      var box = document.getElementById("filters-box");
      if (box) { box.removeAttribute("open"); }
    }
    facilityFilterFollowsCommune();
    var page = document.body.getAttribute("data-page");
    var run = page === "completeness" ? completenessPage : kcbPage;
    run().then(function () {
      status.textContent = "";
      status.hidden = true;
      document.body.setAttribute("data-ready", "1");
    }).catch(function (err) {
      status.textContent = t.error + " (" + err.message + ")";
      status.classList.add("error");
      document.body.setAttribute("data-ready", "error");
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); }, 150);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
