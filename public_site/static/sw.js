/* Lanterne's service worker: the report form and its files work offline, and drafts kept
   offline are sent when the network is back (Background Sync where the browser has it; the
   page sends them too, on its next load or when it sees the network return). */
"use strict";
importScripts("/static/public/drafts.js");

var CACHE = "lanterne-report-v1";
// Kept at install: what the form needs offline (a few kilobytes beside the page).
var PRECACHE = [
  "/signaler",
  "/report",
  "/static/public/site.css",
  "/static/public/report.js",
  "/static/public/drafts.js",
  "/static/public/icon-192.png"
];
// Kept the first time the page uses them (Leaflet comes only with "Use my position": not
// downloaded by a first visit that never asks for it).
var FILES = PRECACHE.concat([
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/images/marker-icon.png",
  "/static/vendor/leaflet/images/marker-shadow.png"
]);
var PAGES = ["/signaler", "/report"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(PRECACHE); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (PAGES.indexOf(url.pathname) !== -1) {
    // The page from the network (its form token is fresh); the kept copy when offline.
    event.respondWith(fetch(request).catch(function () {
      return caches.match(url.pathname);
    }));
    return;
  }
  if (FILES.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(url.pathname).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
        }
        return response;
      }).catch(function () { return hit; });
      return hit || fresh;
    }));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "lanterne-drafts") {
    event.waitUntil(self.LanterneDrafts.sendAll("/api/v1/reports"));
  }
});
