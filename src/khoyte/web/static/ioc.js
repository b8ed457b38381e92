/* khoyte IOC dashboards (groups 4–8): fetch /api/v1/ioc/{group} with the page's query and draw
   each panel of ioc.toml — actual against plan by month (ECharts), the drill-down by org unit and
   the disaggregation. No inline script or style (strict CSP); settings come from <script id="config">. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var t = config.t;
  var lang = config.lang;
  var nf1 = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var compact = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { notation: "compact", maximumFractionDigits: 1 });
  var charts = [];
  var el = window.khoyte.el;
  var fmt = window.khoyte.formatter(lang, 2);
  function name(x) { return lang === "en" ? x.name_en : x.name_vi; }
  function unit(x) { return lang === "en" ? x.unit_en : x.unit_vi; }

  function query(extra) {
    var params = new URLSearchParams(window.location.search);
    var f = config.filters;
    ["from", "to", "orgunit", "approved_only"].forEach(function (k) {
      if (!params.get(k) && f[k]) { params.set(k, f[k]); }
    });
    Object.keys(extra || {}).forEach(function (k) {
      if (extra[k] === null) { params.delete(k); } else { params.set(k, extra[k]); }
    });
    return params.toString();
  }

  function chart(node, option) {
    if (typeof window.echarts === "undefined") { return; }
    var c = window.echarts.init(node, null, { renderer: "canvas" });
    charts.push(c);
    option.animation = false;
    option.color = ["#1f6fb2", "#e07b39", "#3a9a5b", "#c0392b", "#8e6bbf", "#7f8c8d"];
    option.textStyle = { fontFamily: "system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif" };
    // richText tooltips: the HTML tooltip writes style attributes the CSP refuses
    option.tooltip = Object.assign({ renderMode: "richText", confine: true }, option.tooltip || {});
    c.setOption(option, true);
  }

  function table(columns, rows) {
    var tbl = el("table", { "class": "data" });
    var hr = el("tr");
    columns.forEach(function (c) { hr.appendChild(el("th", { scope: "col" }, c[1])); });
    var thead = el("thead"); thead.appendChild(hr); tbl.appendChild(thead);
    var body = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr", r.code ? { "data-code": r.code } : {});
      columns.forEach(function (c) {
        var v = r[c[0]];
        var td = el("td", typeof v === "number" ? { "class": "num" } : {});
        if (c[2] && c[2](r)) { td.appendChild(el("a", { href: c[2](r), "class": "drill" }, fmt(v))); }
        else { td.textContent = fmt(v); }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    return tbl;
  }

  /* money in millions on the KPI (as the KCB dashboard), exact in the tables and the title */
  function big(p, v) {
    if (p.unit_en !== "VND" || v === null || v === undefined) { return fmt(v); }
    return nf1.format(v / 1e6);
  }

  function kpi(p) {
    var box = el("div", { "class": "kpi", "data-kpi": p.code });
    var u = p.unit_en === "VND" ? t.million_vnd : unit(p);
    box.appendChild(el("span", { "class": "label" }, name(p) + (u ? " (" + u + ")" : "")));
    box.appendChild(el("span", { "class": "value", title: fmt(p.actual) }, big(p, p.actual)));
    var plan = p.plan === null ? t.plan + ": " + t.no_plan
      : t.plan + ": " + big(p, p.plan) + (p.achieved_pct === null ? "" : " · " + fmt(p.achieved_pct) + " %");
    box.appendChild(el("span", { "class": "plan" + (p.achieved_pct !== null && p.achieved_pct < 100 ? " below" : "") }, plan));
    return box;
  }

  function panel(p) {
    var sec = el("section", { "class": "panel wide", "data-panel": p.code, "aria-labelledby": "h-" + p.code });
    var head = el("header", { "class": "panel-head" });
    head.appendChild(el("h2", { id: "h-" + p.code }, name(p)));
    sec.appendChild(head);
    var node = el("div", { "class": "chart", id: "chart-" + p.code, role: "img", "aria-label": name(p) });
    sec.appendChild(node);
    var months = p.monthly.map(function (m) { return m.month; });
    var series;
    if (p.kind === "service_groups") {
      series = p.by_option.map(function (o) {
        return { type: "bar", stack: "g", name: name(o), data: p.monthly.map(function (m) { return m[o.code]; }) };
      });
    } else {
      series = [{ type: p.chart === "line" ? "line" : "bar", name: t.actual, data: p.monthly.map(function (m) { return m.actual; }) }];
      if (p.monthly.some(function (m) { return m.plan !== null; })) {
        series.push({ type: "line", name: t.plan, data: p.monthly.map(function (m) { return m.plan; }), lineStyle: { type: "dashed" }, showSymbol: false });
      }
    }
    var details = el("details", { "class": "as-table" });
    details.appendChild(el("summary", {}, t.show_table));
    var wrap = el("div", { "class": "table-wrap", id: "table-" + p.code });
    var cols = [["month", t.month]];
    if (p.kind === "service_groups") {
      p.by_option.forEach(function (o) { cols.push([o.code, name(o)]); });
    } else { cols = cols.concat([["actual", t.actual], ["plan", t.plan], ["achieved_pct", t.achieved]]); }
    wrap.appendChild(table(cols, p.monthly));
    details.appendChild(wrap);
    sec.appendChild(details);
    if (p.breakdown.length) {
      sec.appendChild(el("h3", {}, t.by_orgunit));
      var bw = el("div", { "class": "table-wrap", id: "breakdown-" + p.code });
      bw.appendChild(table([["code", t.code], ["name", t.orgunit, function (r) {
        return r.code && r.level !== "province" ? "?" + query({ orgunit: r.code }) : null;
      }], ["actual", t.actual], ["plan", t.plan], ["achieved_pct", t.achieved]], p.breakdown));
      sec.appendChild(bw);
    }
    if (p.by_option && p.kind !== "service_groups") {
      sec.appendChild(el("h3", {}, t.by_option));
      var ow = el("div", { "class": "table-wrap", id: "options-" + p.code });
      ow.appendChild(table([["code", t.code], [lang === "en" ? "name_en" : "name_vi", t.name], ["value", t.actual]], p.by_option));
      sec.appendChild(ow);
    }
    document.getElementById("panels").appendChild(sec);
    chart(node, {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 70, right: 16, top: 20, bottom: 50 },
      xAxis: { type: "category", data: months },
      yAxis: { type: "value", axisLabel: { formatter: function (v) { return compact.format(v); } } },
      series: series
    });
  }

  function crumbs(d) {
    var nav = document.getElementById("crumbs");
    var parts = [[t.province, "?" + query({ orgunit: null })]];
    if (d.orgunit.level === "commune" || d.orgunit.level === "facility") { parts.push([d.orgunit.name, null]); }
    parts.forEach(function (p, i) {
      if (i) { nav.appendChild(el("span", { "class": "sep", "aria-hidden": "true" }, "›")); }
      if (p[1] && i < parts.length - 1) { nav.appendChild(el("a", { href: p[1] }, p[0])); }
      else { nav.appendChild(el("span", { "aria-current": "page" }, p[0])); }
    });
  }

  function start() {
    var status = document.getElementById("status");
    if (window.matchMedia("(max-width: 600px)").matches) {
      var box = document.getElementById("filters-box");
      if (box) { box.removeAttribute("open"); }
    }
    fetch("/api/v1/ioc/" + encodeURIComponent(config.group) + "?" + query(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (d) {
        crumbs(d);
        var a = d.approval;
        document.getElementById("approval-note").textContent =
          (a.approved_only ? t.showing_approved : t.showing_all) + " · " + a.approved + "/" + a.reports + " " + t.reports_approved;
        var kpis = document.getElementById("kpis");
        d.panels.forEach(function (p) { kpis.appendChild(kpi(p)); panel(p); });
        status.textContent = "";
        status.hidden = true;
        document.body.setAttribute("data-ready", "1");
      })
      .catch(function (err) {
        status.textContent = t.error + " (" + err.message + ")";
        status.classList.add("error");
        document.body.setAttribute("data-ready", "error");
      });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
