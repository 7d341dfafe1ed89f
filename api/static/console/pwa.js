// Installable, and usable offline for the courier's screen: the web app manifest is linked from
// index.html; this registers the service worker (sw.js) and tells it which of the console's
// files this page loaded, so that it keeps all of them for a start without a network.

async function register() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register("/console/sw.js", { scope: "/console", type: "classic" });
    const ready = await navigator.serviceWorker.ready;
    const loaded = performance
      .getEntriesByType("resource")
      .map((entry) => entry.name)
      .filter((name) => new URL(name).pathname.startsWith("/console/"));
    ready.active?.postMessage({ keep: [location.pathname, ...loaded] });
  } catch {
    // no offline start on this browser: the console works online as before
  }
}

if (document.readyState === "complete") register();
else window.addEventListener("load", register);
