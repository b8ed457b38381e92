/* The leaders' phone view's service worker (served as /m/sw.js, scope /m/).
   Network first for everything it handles; what came from the network is kept, and served
   when the network is down, marked with the header X-Khoyte-Cache: 1 so the page can say so. */
"use strict";
const CACHE = "khoyte-m-v1";
const SHELL = ["/m/", "/static/phone.js", "/static/site.css", "/static/favicon.svg",
  "/m/manifest.webmanifest"];
const DATA = ["/api/v1/alerts?status=open", "/api/v1/dashboards/kcb"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all([...SHELL, ...DATA].map(async (url) => {
      try {
        const res = await fetch(url, { credentials: "same-origin" });
        if (res.ok) await cache.put(url, res);
      } catch (e) { /* offline while installing: kept for the next time */ }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function kept(url) {
  const u = new URL(url);
  if (u.origin !== self.location.origin) return false;
  return u.pathname.startsWith("/m/") || u.pathname.startsWith("/static/") ||
    DATA.some((d) => u.pathname === d.split("?")[0]);
}

async function fromCache(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request) || await cache.match(request, { ignoreSearch: true });
  if (!hit) return Response.error();
  const headers = new Headers(hit.headers);
  headers.set("X-Khoyte-Cache", "1");
  return new Response(await hit.blob(), { status: hit.status, statusText: hit.statusText, headers });
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET" || !kept(req.url)) return;
  event.respondWith((async () => {
    try {
      const res = await fetch(req);
      if (res.ok) {
        const cache = await caches.open(CACHE);
        await cache.put(req, res.clone());
      }
      return res;
    } catch (e) {
      return fromCache(req);
    }
  })());
});
