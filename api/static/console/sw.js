// The console's service worker (a PWA for the courier's phone): it keeps the console's own files
// (/console and /console/…) so that the screen opens without a network, and never touches the
// API (/api/…): reports wait in the offline queue (outbox.js, IndexedDB), answers are never cached.
// Online, every file comes from the network first (a new version shows at once); offline, from
// the cache.

const CACHE = "handoff-console-v1";
const SHELL = [
  "/console",
  "/console/console.css",
  "/console/app.js",
  "/console/api.js",
  "/console/ui.js",
  "/console/courier.js",
  "/console/outbox.js",
  "/console/scanner.js",
  "/console/evidence.js",
  "/console/pwa.js",
  "/console/manifest.webmanifest",
  "/console/icon-192.png",
  "/console/vendor/zxing-wasm/es/reader/index.js",
  "/console/vendor/zxing-wasm/es/share.js",
  "/console/vendor/zxing-wasm/reader/zxing_reader.wasm",
];

function ours(url) {
  return url.origin === self.location.origin && (url.pathname === "/console" || url.pathname.startsWith("/console/"));
}

async function keep(urls) {
  const cache = await caches.open(CACHE);
  // one by one: a file another version of the console no longer has must not stop the rest
  await Promise.all(urls.map((u) => cache.add(new Request(u, { cache: "no-store" })).catch(() => undefined)));
}

self.addEventListener("install", (event) => {
  event.waitUntil(keep(SHELL).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// The page tells which of our files it loaded (pwa.js): every module of the console is kept,
// whichever screens this version has.
self.addEventListener("message", (event) => {
  const urls = (event.data && event.data.keep) || [];
  const wanted = urls.map((u) => new URL(u, self.location.origin)).filter(ours).map((u) => u.pathname);
  event.waitUntil(keep(wanted));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!ours(url)) return; // the API and everything else: straight to the network
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(url.pathname, response.clone());
        return response;
      } catch (error) {
        const kept = await cache.match(url.pathname);
        if (kept) return kept;
        throw error;
      }
    })(),
  );
});
