/* khoyte epidemic page: fetch /api/v1/signals with the page's query, draw each signal's series
   (observed, expected, upper bound, alarms marked) with ECharts and the communes ranked by
   excess. No inline script or style (strict CSP); settings come from <script id="config">. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var t = config.t;
  var lang = config.lang;
  var charts = [];

  var el = window.khoyte.el;
  var fmt = window.khoyte.formatter(lang, 1);
  function name(s) { return lang === "en" ? s.name_en : s.name_vi; }

  function draw(node, s) {
    if (typeof window.echarts === "undefined") { return; }
    var c = window.echarts.init(node, null, { renderer: "canvas" });
    charts.push(c);
    var labels = s.points.map(function (p) { return p.label; });
    var alarms = s.points.map(function (p) { return p.alarm ? p.observed : null; });
    c.setOption({
      animation: false,
      color: ["#1f6fb2", "#3a9a5b", "#e07b39", "#c0392b"],
      textStyle: { fontFamily: "system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif" },
      // richText tooltips: the HTML tooltip writes style attributes the CSP refuses
      tooltip: { trigger: "axis", renderMode: "richText", confine: true },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 12, top: 36, bottom: 40 },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { type: "bar", name: t.observed, data: s.points.map(function (p) { return p.observed; }) },
        { type: "line", name: t.expected, data: s.points.map(function (p) { return p.expected; }), showSymbol: false, connectNulls: false },
        { type: "line", name: t.upperbound, data: s.points.map(function (p) { return p.upperbound; }), showSymbol: false, lineStyle: { type: "dashed" } },
        { type: "scatter", name: t.alarm, data: alarms, symbolSize: 12, symbol: "triangle" }
      ]
    }, true);
  }

  function panels(signals) {
    var box = document.getElementById("epi-charts");
    box.textContent = "";
    signals.forEach(function (s) {
      var sec = el("section", { "class": "panel" + (signals.length === 1 ? " wide" : ""), "data-signal": s.code });
      var head = el("header", { "class": "panel-head" });
      head.appendChild(el("h2", {}, name(s)));
      head.appendChild(el("small", { "class": "alarm-count", "data-alarms": String(s.alarms) },
        s.alarms + " " + t.alarms + " · " + s.algorithm));
      sec.appendChild(head);
      var node = el("div", { "class": "chart", role: "img", "aria-label": name(s) });
      sec.appendChild(node);
      box.appendChild(sec);
      draw(node, s);
    });
  }

  function ranking(rows, signals) {
    var wrap = document.getElementById("epi-ranking");
    wrap.textContent = "";
    if (!rows.length) { wrap.appendChild(el("p", { "class": "empty" }, t.no_data)); return; }
    var names = {};
    signals.forEach(function (s) { names[s.code] = name(s); });
    var cols = [["commune", t.commune], ["signal", t.signal], ["label", t.period], ["observed", t.observed],
      ["expected", t.expected], ["upperbound", t.upperbound], ["excess", t.excess], ["alarm", t.alarm]];
    var tbl = el("table", { "class": "data", id: "ranking-table" });
    var hr = el("tr");
    cols.forEach(function (c) { hr.appendChild(el("th", { scope: "col" }, c[1])); });
    var thead = el("thead"); thead.appendChild(hr); tbl.appendChild(thead);
    var body = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr", { "data-commune": r.commune, "data-signal": r.signal, "class": r.alarm ? "alarm" : "" });
      cols.forEach(function (c) {
        var v = r[c[0]];
        if (c[0] === "commune") { v = (r.commune_name || r.commune) + " (" + r.commune + ")"; }
        if (c[0] === "signal") { v = names[r.signal] || r.signal; }
        if (c[0] === "alarm") { v = r.alarm ? t.yes : t.no; }
        tr.appendChild(el("td", typeof v === "number" ? { "class": "num" } : {}, fmt(v)));
      });
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    wrap.appendChild(tbl);
  }

  var status = document.getElementById("epi-status");
  fetch(config.twin, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
    .then(function (d) {
      panels(d.signals);
      ranking(d.ranking, d.signals);
      status.textContent = t.ready;
      status.setAttribute("data-state", "ready");
    })
    .catch(function () { status.textContent = t.failed; status.setAttribute("data-state", "failed"); });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
}());
