// The hotel's front desk: the camera looks for the guest's QR code (each
// frame goes to the hotel's server, which reads it), then the desk types the
// room and the nights and checks the guest in — with a frame of the guest's
// face for an upgraded card. The device's token stays in the URL fragment.

const token = new URLSearchParams(location.hash.slice(1)).get('device');
const $ = (id) => document.getElementById(id);
const text = (type) => document.querySelector(`#texts [data-type="${type}"]`)?.textContent ?? type;
let qrText = null;

/** A JPEG of the camera's current picture, base64 (no data: prefix). */
function frame() {
  const video = $('desk-camera');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL('image/jpeg', 0.9).split(',')[1];
}

/** POSTs JSON to the hotel's desk API; answers `{ok, body}`. */
async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { ok: response.ok, body: await response.json().catch(() => ({})) };
}

/** The words for a problem: its type's last part, in the page's language. */
function refusal(problem) {
  const type = String(problem.type ?? '').split(':').pop();
  return text(type || 'internal');
}

function say(message, bad = false) {
  $('outcome').textContent = message;
  $('outcome').className = bad ? 'refusal' : 'notice';
}

/** Looks for a QR code twice a second until one is read. */
async function scan() {
  while (!qrText) {
    await new Promise((wait) => setTimeout(wait, 500));
    if (!$('desk-camera').videoWidth) continue;
    const { ok, body } = await post('/desk/scan', { frame: frame() });
    if (ok) {
      qrText = body.qr_text;
      $('scan-state').textContent = text('qr-read');
      $('stay-form').hidden = false;
      $('room').focus();
    } else if (!String(body.type ?? '').endsWith(':qr-not-found')) {
      $('scan-state').textContent = refusal(body);
    }
  }
}

async function checkIn(event) {
  event.preventDefault();
  $('check-in').disabled = true;
  const { ok, body } = await post('/desk/check-in', {
    qr_text: qrText, room: $('room').value, nights: Number($('nights').value), live_face: frame(),
  });
  $('check-in').disabled = false;
  if (!ok) {
    say(refusal(body), true);
    qrText = null;
    $('stay-form').hidden = true;
    scan();
    return;
  }
  say(text('checked-in'));
  $('guest').hidden = false;
  $('guest-name').textContent = body.name;
  $('guest-adult').textContent = body.adult ? text('adult-yes') : '';
  $('guest-pseudonym').textContent = body.pseudonym;
  $('guest-level').textContent = body.level;
  $('guest-entry').textContent = body.entry;
  $('stay-form').hidden = true;
}

async function start() {
  if (!token) return say(text('no-device'), true);
  $('stay-form').addEventListener('submit', checkIn);
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
  $('desk-camera').srcObject = stream;
  await $('desk-camera').play();
  scan();
}

start().catch((error) => say(String(error.message ?? error), true));
