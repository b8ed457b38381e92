/* The leaders' phone view (/m/): open alerts and a few key numbers from the JSON twins.
   With the service worker (sw.js) the last answers stay readable without network. */
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("phone-words").textContent);
  const lang = document.body.dataset.lang === "en" ? "en" : "vi";
  const fmt = new Intl.NumberFormat(lang === "en" ? "en-GB" : "vi-VN");
  let offline = false;

  async function getJson(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (res.headers.get("X-Khoyte-Cache") === "1") offline = true;
    if (!res.ok) throw new Error(url + ": " + res.status);
    return res.json();
  }

  function renderAlerts(data) {
    const list = document.getElementById("phone-alerts");
    list.replaceChildren();
    for (const a of data.alerts) {
      const li = document.createElement("li");
      li.className = "alert sev-" + a.severity;
      li.dataset.id = String(a.id);
      const title = document.createElement("strong");
      title.className = "alert-title";
      title.textContent = lang === "en" ? a.title_en : a.title_vi;
      const meta = document.createElement("small");
      meta.textContent = "#" + a.id + " · " + words.level + " " + a.level + " · " + a.opened_at.slice(0, 16).replace("T", " ");
      li.append(title, meta);
      list.append(li);
    }
    document.getElementById("open-count").textContent = "(" + data.open + ")";
    document.getElementById("phone-empty").hidden = data.alerts.length > 0;
  }

  function renderNumbers(k) {
    const values = {
      visits: k.visits && k.visits.total, emergencies: k.emergencies, deaths: k.deaths,
      facilities_reporting: k.facilities_reporting,
    };
    for (const dd of document.querySelectorAll("#numbers dd")) {
      const v = values[dd.dataset.key];
      dd.textContent = typeof v === "number" ? fmt.format(v) : "—";
    }
    if (k.as_of) document.getElementById("as-of").textContent = words.updated + ": " + k.as_of;
  }

  async function load() {
    offline = false;
    const results = await Promise.allSettled([getJson("/api/v1/alerts?status=open"), getJson("/api/v1/dashboards/kcb")]);
    if (results[0].status === "fulfilled") renderAlerts(results[0].value);
    if (results[1].status === "fulfilled") renderNumbers(results[1].value);
    document.getElementById("phone-state").textContent = offline ? words.offline : "";
    document.body.dataset.offline = offline ? "1" : "0";
    document.body.dataset.ready = "1";
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).then(() => navigator.serviceWorker.ready).then(() => {
      if (navigator.serviceWorker.controller) document.body.dataset.sw = "1";
      else navigator.serviceWorker.addEventListener("controllerchange", () => { document.body.dataset.sw = "1"; });
    }).catch(() => { document.body.dataset.sw = "0"; });
  }
  load();
})();
