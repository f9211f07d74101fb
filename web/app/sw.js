// The wallet's service worker: keeps what showing the QR code needs, so the
// card and its QR work with no network (at a counter, in a lift, abroad).
const CACHE = 'shenfen-wallet-v6';
const OFFLINE = [
  '/wallet/', '/wallet/manifest.webmanifest', '/app/icon.svg', '/app/common.css', '/app/i18n.js', '/app/problem-texts.js', '/app/dom.js', '/app/camera.js',
  '/app/sd-jwt.js', '/app/offline-format.js', '/app/wallet-store.js', '/app/card-status.js', '/app/id-number.js', '/app/service-link.js', '/app/wallet.js', '/vendor/fflate.js', '/vendor/qrcode.js',
  '/web/offline-format.json',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(OFFLINE)).then(() => self.skipWaiting()));
});

// A new version's cache replaces the old ones.
self.addEventListener('activate', (event) => {
  const old = caches.keys().then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))));
  event.waitUntil(old.then(() => self.clients.claim()));
});

// Network first (fresh code when online), the cache when offline; API calls are never cached.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || !OFFLINE.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        return response;
      })
      .catch(() => caches.match(event.request)),
  );
});
