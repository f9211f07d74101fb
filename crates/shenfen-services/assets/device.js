// What a registered device's page (a hotel's front desk, a railway's gate)
// shares: its token (kept in the URL fragment, never sent in a URL), camera
// frames as JPEG, JSON calls to its service with that token, and the words
// for an outcome, which the page renders from the services' own texts.

const $ = (id) => document.getElementById(id);

/**
 * The device's token: from the page's `#device=…` fragment when opened by
 * its link, then kept for this tab only and taken out of the address bar
 * (and so out of the history and of screenshots of the page).
 */
export const token = (() => {
  const given = new URLSearchParams(location.hash.slice(1)).get('device');
  if (given) {
    sessionStorage.setItem('device', given);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('device');
})();

/** The page's words for `type` (a problem's last part, or an outcome's name). */
export const text = (type) => document.querySelector(`#texts [data-type="${type}"]`)?.textContent ?? type;

/** The words for a problem: its type's last part, in the page's language. */
export function refusal(problem) {
  const type = String(problem.type ?? '').split(':').pop();
  return text(type || 'internal');
}

/**
 * The camera's current picture, base64 (no data: prefix), lossless: WebP at
 * quality 1 (PNG where WebP cannot be encoded). JPEG loses the small modules
 * of a dense QR code filmed off a phone (the authority's counter measured it
 * at 0.95), and blurs a face's detail the match relies on.
 */
export function frame(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL('image/webp', 1).split(',')[1];
}

/** POSTs JSON to the device's service; answers `{ok, body}`. */
export async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { ok: response.ok, body: await response.json().catch(() => ({})) };
}

/** Shows `message` as the outcome: a notice, or a refusal when `bad`. */
export function say(message, bad = false) {
  $('outcome').textContent = message;
  $('outcome').className = bad ? 'refusal' : 'notice';
}

/** Starts the camera in `video` (a 720p stream). */
export async function startCamera(video) {
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
  await video.play();
}

/**
 * Sends a frame twice a second to `path` until it reads a QR code: answers
 * its payload (`qr_text`). While none is seen, `state` shows why (a code seen
 * but unreadable, the budget spent), never "no code yet" as an error.
 */
export async function nextQr(path, video, state, skip = null) {
  for (;;) {
    await new Promise((wait) => setTimeout(wait, 500));
    if (!video.videoWidth) continue;
    const { ok, body } = await post(path, { frame: frame(video) });
    if (ok && body.qr_text !== skip) return body.qr_text;
    if (!ok && !String(body.type ?? '').endsWith(':qr-not-found')) state.textContent = refusal(body);
  }
}
