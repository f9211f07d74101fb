// Hotel check-in in Chromium, from `shenfen demo` (the authority sealing
// each copy's ID number to the demo police's key): the guest's phone opens
// the desk's check-in link and shows the QR made for this hotel; the desk
// page's camera (a fake one filming the phone's screen) reads it, the desk
// types the room and checks the guest in — the hotel learns the name, that
// they are an adult and its pseudonym, not the ID number; the same QR again
// is refused as used. The police's page, after an officer signs in, opens
// the night's register and shows the real ID number.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, attestAtTheConsole, browserWithCamera, counterCamera, documented, openPage, phoneWithCard, photo, readyForTheColours,
  cameraFile, selfieCamera, serviceQr, startDemo, startEnrollment, waitForView,
} from './harness.mjs';

let demo;
let tools;
let phone;
/** The phone's QR for the hotel, as a PNG of the screen. */
let qrPicture;
/** The hotel's origin and the desk's device token. */
let hotel;
let deskToken;
/** A second desk of the hotel (each desk has its own camera-frame budget). */
let secondDesk;

/** A desk browser whose camera films `screen` (and `face` beside it); its page opened on the desk's device link (`at`), in `lang`. */
async function deskWith(screen, name, lang, face, at = demo.hotelDesk) {
  // A 720p desk camera: the check-in QR (with the sealed value, ~1 KB) is filmed at its own size, never scaled down.
  const filmed = face ? counterCamera(tools, name, screen, face) : cameraFile(tools, name, [{ picture: screen, box: [20, 20, 680, 680] }], { width: 1280, height: 720 });
  const camera = await browserWithCamera(await filmed);
  const context = await camera.newContext();
  await context.addCookies([{ name: 'shenfen_lang', value: lang, url: hotel }]);
  const page = await openPage(context);
  await page.goto(at);
  return { camera, page };
}

before(async () => {
  demo = await startDemo();
  const desk = new URL(demo.hotelDesk);
  hotel = desk.origin;
  deskToken = new URLSearchParams(desk.hash.slice(1)).get('device');
  for (const origin of [hotel, demo.police]) {
    for (let waited = 0; !(await fetch(`${origin}/healthz`).then((r) => r.ok, () => false)); waited += 200) {
      if (waited > 60_000) throw new Error(`${origin} did not start`);
      await new Promise((wait) => setTimeout(wait, 200));
    }
  }
  const added = execFileSync(demo.binary, ['services', 'hotel', 'desk', 'add', '--name', 'Front desk 2', '--data-dir', join(demo.dataDir, 'services')], { encoding: 'utf8' });
  secondDesk = `${hotel}/desk/#device=${added.trim().split(' ').pop()}`;
  tools = await browserWithCamera();
  const phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-hotel-guest', photo('obama2.jpg')));
  phone = await phoneWithCard(phoneBrowser, demo);
});

after(async () => {
  await phone?.browser().close();
  await tools?.close();
  demo?.stop();
  // The demo's data (its registry, the services' database and keys) goes once it has stopped.
  await new Promise((stopped) => setTimeout(stopped, 1000));
  if (demo) rmSync(demo.dataDir, { recursive: true, force: true });
});

test("the guest's phone opens the desk's check-in link and shows a QR for this hotel, with the sealed ID number", async () => {
  const response = await fetch(`${hotel}/desk/link`, { headers: { authorization: `Bearer ${deskToken}` } });
  assert.equal(response.status, 200);
  const { link } = await response.json();
  const page = await openPage(phone);
  await page.addInitScript(() => localStorage.setItem('shenfen.lang', 'en'));
  await page.goto(link);
  await waitForView(page, 'view-qr');
  const what = await page.locator('#qr-what').textContent();
  assert.match(what, /^For 酒店入住 Demo hotel: this shows name, over 18, your ID number sealed for the police \(the service cannot read it\), your pseudonym for 酒店入住 Demo hotel \(not your ID number\)\./, what);
  qrPicture = await page.locator('#qr').screenshot({ type: 'png' });
  await documented(page, 'hotel-1-guest-qr');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.close();
});

/** The phone opens the desk's check-in link; answers the QR's picture and what the wallet says it shows. */
async function guestQr() {
  const response = await fetch(`${hotel}/desk/link`, { headers: { authorization: `Bearer ${deskToken}` } });
  const { link } = await response.json();
  return serviceQr(phone, link);
}

/** Waits until the desk has read a QR; on timeout, fails with what the desk says. */
async function qrRead(page) {
  try {
    await page.locator('#stay-form').waitFor({ state: 'visible', timeout: 90_000 });
  } catch (error) {
    throw new Error(`the desk read no QR: ${await page.locator('#scan-state').textContent()} ${await page.locator('#outcome').textContent()}`, { cause: error });
  }
}

/** Checks in whoever the desk camera films; answers the outcome's words and the level shown. */
async function checkInAtDesk(desk, room) {
  await qrRead(desk.page);
  await desk.page.locator('#room').fill(room);
  await desk.page.locator('#check-in').click();
  await desk.page.locator('#outcome.notice, #outcome.refusal').waitFor({ timeout: 60_000 });
  return { outcome: await desk.page.locator('#outcome').textContent(), level: await desk.page.locator('#guest-level').textContent() };
}

test('the desk reads the QR with its camera and checks the guest in; the hotel sees no ID number (zh)', async () => {
  // A second desk films the same screen at the same time (a photo of the phone shown again): within the QR's 90 s.
  const { camera, page } = await deskWith(qrPicture, 'camera-hotel-desk', 'zh');
  const again = await deskWith(qrPicture, 'camera-hotel-desk-again', 'en', undefined, secondDesk);
  try {
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    await qrRead(page);
    await page.locator('#room').fill('808');
    await page.locator('#nights').fill('2');
    await page.locator('#check-in').click();
    await page.locator('#outcome.notice, #outcome.refusal').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#outcome').textContent(), '入住成功。');
    assert.equal(await page.locator('#guest').isVisible(), true);
    assert.equal(await page.locator('#guest-name').textContent(), CITIZEN.name);
    assert.equal(await page.locator('#guest-adult').textContent(), '是');
    assert.equal(await page.locator('#guest-level').textContent(), 'L1');
    assert.doesNotMatch(await page.locator('main').innerText(), new RegExp(CITIZEN.id));
    await documented(page, 'hotel-2-desk-checked-in');
    assert.deepEqual(await accessibilityViolations(page), []);
    // The same QR at the second desk is refused with the reason, in English.
    await qrRead(again.page);
    await again.page.locator('#room').fill('809');
    await again.page.locator('#check-in').click();
    await again.page.locator('#outcome.refusal').waitFor({ timeout: 30_000 });
    assert.match(await again.page.locator('#outcome').textContent(), /^The QR code was used already/);
    await documented(again.page, 'hotel-3-desk-replay-refused');
  } finally {
    await camera.close();
    await again.camera.close();
  }
});

test("the police open the night's register and find the guest's real ID number (en)", async () => {
  const context = await tools.newContext();
  await context.addCookies([{ name: 'shenfen_lang', value: 'en', url: demo.police }]);
  const page = await openPage(context);
  await page.goto(`${demo.police}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.locator('#username').fill('demo-officer');
  await page.locator('#password').fill(demo.passwords['demo-officer']);
  await page.locator('button[type=submit]').first().click();
  await page.locator('table').waitFor({ timeout: 30_000 });
  const row = await page.locator('tbody tr').first().innerText();
  assert.match(row, new RegExp(CITIZEN.id), 'the full ID number, opened with the police key');
  assert.match(row, new RegExp(CITIZEN.name));
  assert.match(row, /808/);
  await documented(page, 'hotel-4-police-register');
  assert.deepEqual(await accessibilityViolations(page), []);
  await context.close();
});

test("an upgraded card: the desk matches the guest's face on its camera, and refuses another person's", async () => {
  const slip = await attestAtTheConsole(tools, demo);
  const enrolling = await openPage(phone);
  await startEnrollment(enrolling, demo, 'upgraded', { txCode: slip, pin: '604219' });
  await readyForTheColours(enrolling);
  await waitForView(enrolling, 'view-card', 120_000);
  await enrolling.close();

  const own = await guestQr();
  assert.match(own.what, /signed face template/);
  const desk = await deskWith(own.picture, 'camera-hotel-desk-l3', 'en', photo('obama3.jpg'));
  try {
    const { outcome, level } = await checkInAtDesk(desk, '909');
    assert.equal(outcome, 'Checked in.');
    assert.equal(level, 'L3', 'the live face matched the signed template');
    await documented(desk.page, 'hotel-5-desk-face-matched');
  } finally {
    await desk.camera.close();
  }
  const another = await guestQr();
  const impostor = await deskWith(another.picture, 'camera-hotel-desk-impostor', 'en', photo('biden.jpg'));
  try {
    const { outcome } = await checkInAtDesk(impostor, '910');
    assert.match(outcome, /^The face does not match the card/);
  } finally {
    await impostor.camera.close();
  }
});

test('a card withdrawn after its QR was made is refused at the desk once the hotel has the new status list', async () => {
  const shown = await guestQr();
  const wallet = await openPage(phone);
  await wallet.addInitScript(() => localStorage.setItem('shenfen.lang', 'en'));
  await wallet.goto(`${demo.url}/wallet/`);
  await waitForView(wallet, 'view-card');
  await wallet.locator('#show-revoke').click();
  await wallet.locator('#revoke-confirm').fill('WITHDRAW');
  await wallet.locator('#revoke-pin').fill('604219');
  await wallet.locator('#revoke-all').click();
  await waitForView(wallet, 'view-enroll');
  await wallet.close();
  // The hotel refreshes the authority's whole status list every 30 s; the QR lives 90 s.
  await new Promise((wait) => setTimeout(wait, 35_000));
  const desk = await deskWith(shown.picture, 'camera-hotel-desk-revoked', 'en', photo('obama3.jpg'));
  try {
    const { outcome } = await checkInAtDesk(desk, '911');
    assert.match(outcome, /^The card is revoked/);
  } finally {
    await desk.camera.close();
  }
});
