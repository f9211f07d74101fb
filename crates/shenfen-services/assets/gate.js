// A railway gate: the camera films the passenger's boarding code (each frame
// read by the railway's server), the code goes with the train the gate
// boards, and the gate says "through" with the passenger's name — or why
// not; an upgraded card's code goes again with a frame of the passenger's
// face. A code just answered is not sent again while it stays in view.

import { frame, nextQr, post, refusal, say, startCamera, text, token } from '/assets/device.js';

const $ = (id) => document.getElementById(id);

/** Boards passengers one after another. */
async function board() {
  let last = null;
  for (;;) {
    last = await nextQr('/gate/frame', $('gate-camera'), $('scan-state'), last);
    let { ok, body } = await post('/gate/scan', { train: $('train').value, qr: last });
    // An upgraded card: the same code again with the passenger's face, filmed now.
    if (!ok && String(body.type ?? '').endsWith(':face-required')) {
      ({ ok, body } = await post('/gate/scan', { train: $('train').value, qr: last, live_face: frame($('gate-camera')) }));
    }
    $('passenger').hidden = !ok;
    if (ok) {
      say(text('passed'));
      $('passenger-name').textContent = body.name;
      $('passenger-ticket').textContent = body.ticket;
    } else {
      say(refusal(body), true);
    }
    $('scan-state').textContent = text('waiting');
  }
}

async function start() {
  if (!token) return say(text('no-device'), true);
  await startCamera($('gate-camera'));
  await board();
}

start().catch((error) => say(String(error.message ?? error), true));
