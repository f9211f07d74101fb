// The hotel's front desk: the camera looks for the guest's QR code (each
// frame goes to the hotel's server, which reads it), then the desk types the
// room and the nights and checks the guest in — with a frame of the guest's
// face for an upgraded card. The device's token stays in the URL fragment.

import { frame, nextQr, post, refusal, say, startCamera, text, token } from '/assets/device.js';

const $ = (id) => document.getElementById(id);
let qrText = null;

/** Looks for the guest's QR code, then asks for the stay. */
async function scan() {
  qrText = await nextQr('/desk/scan', $('desk-camera'), $('scan-state'));
  $('scan-state').textContent = text('qr-read');
  $('stay-form').hidden = false;
  $('room').focus();
}

async function checkIn(event) {
  event.preventDefault();
  $('check-in').disabled = true;
  const { ok, body } = await post('/desk/check-in', {
    qr_text: qrText, room: $('room').value, nights: Number($('nights').value), live_face: frame($('desk-camera')),
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
  await startCamera($('desk-camera'));
  scan();
}

start().catch((error) => say(String(error.message ?? error), true));
