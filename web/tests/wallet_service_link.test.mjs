// A service's check-in link (`/wallet/?service=<Verifier Attestation>`):
// the desk of an attested service (a hotel) shows it once; the guest's phone
// opens it and the wallet draws an offline QR for that service only, showing
// exactly the claims the authority entitled it to. An attestation the
// authority did not sign is refused; a service entitled to the sealed ID
// number gets it (the demo's authority seals to the demo police's key).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  accessibilityViolations, addRelyingParty, browserWithCamera, openPage, phoneWithCard, photo, repository, screenshot, selfieCamera, startDemo, waitForView,
} from './harness.mjs';

const HOTEL = 'http://127.0.0.1:18181';
const SEALING_HOTEL = 'http://127.0.0.1:18182';
let demo;
let phone;
let keys;

/** The authority's attestation of `clientId` (`shenfen rp attest`), for a fresh key of the service's. */
function attest(clientId) {
  const run = (args) => execFileSync(demo.binary, args, { cwd: repository, encoding: 'utf8' });
  const dir = mkdtempSync(join(keys, 'service-'));
  writeFileSync(join(dir, 'service.pub.jwk'), run(['keys', 'generate', '--out', join(dir, 'service.jwk')]));
  run([
    'rp', 'attest', '--client-id', clientId, '--public-key', join(dir, 'service.pub.jwk'), '--response-uri', `${clientId}/openid4vp/response`,
    '--issuer', demo.url, '--data-dir', demo.dataDir, '--out', join(dir, 'service.jwt'),
  ]);
  return readFileSync(join(dir, 'service.jwt'), 'utf8').trim();
}

/** The phone opens the desk's check-in link; answers the page. */
async function openLink(attestation, language = 'en') {
  const page = await openPage(phone);
  await page.addInitScript((lang) => localStorage.setItem('shenfen.lang', lang), language);
  await page.goto(`${demo.url}/wallet/?service=${encodeURIComponent(attestation)}`);
  return page;
}

before(async () => {
  demo = await startDemo();
  keys = mkdtempSync(join(tmpdir(), 'shenfen-service-link-'));
  // Registered before the citizen enrolls, so the credentials carry their pairwise pseudonyms.
  addRelyingParty(demo, HOTEL, 'Hotel Example', ['name', 'age_over_18', 'face_template']);
  addRelyingParty(demo, SEALING_HOTEL, 'Sealing Hotel', ['name', 'age_over_18', 'sealed_id_number']);
  const tools = await browserWithCamera();
  const phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-service-link', photo('obama2.jpg')));
  await tools.close();
  phone = await phoneWithCard(phoneBrowser, demo);
});

after(async () => {
  await phone?.browser().close();
  demo?.stop();
  if (keys) rmSync(keys, { recursive: true, force: true });
  // The demo's data goes once it has stopped.
  await new Promise((stopped) => setTimeout(stopped, 1000));
  if (demo) rmSync(demo.dataDir, { recursive: true, force: true });
});

test("the check-in link draws a QR for that service showing exactly its entitled claims the card holds, and logs it", async () => {
  const page = await openLink(attest(HOTEL));
  await waitForView(page, 'view-qr');
  const what = await page.locator('#qr-what').textContent();
  assert.match(what, /^For Hotel Example: this shows name, over 18, your pseudonym for Hotel Example \(not your ID number\)\. Nothing else is shown\.$/, what);
  assert.ok(Number(await page.locator('#qr').getAttribute('data-payload-bytes')) > 100, 'a QR code is drawn');
  await screenshot(page, 'hotel-0-wallet-check-in-qr');
  assert.deepEqual(await accessibilityViolations(page), []);
  assert.equal(new URL(page.url()).search, '', 'the link leaves the address bar once read');

  await page.locator('#qr-done').click();
  await page.locator('#show-log').click();
  const row = await page.locator('#log-rows tr').first().innerText();
  assert.match(row, /Hotel Example/);
  assert.match(row, /name, over 18, your pseudonym for Hotel Example/, 'the face template is not on a lightweight card, so not logged');
  assert.doesNotMatch(row, /face/);
  await page.close();
});

test('an attestation the authority did not sign is refused, and no copy is spent', async () => {
  const page = await openPage(phone);
  await page.goto(`${demo.url}/wallet/`);
  await waitForView(page, 'view-card');
  const before = await page.locator('#card-copies').textContent();
  const [header, payload, signature] = attest(HOTEL).split('.');
  const forged = `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  await page.goto(`${demo.url}/wallet/?service=${encodeURIComponent(forged)}`);
  await waitForView(page, 'view-failure');
  assert.match(await page.locator('#view-failure').innerText(), /does not carry a valid attestation from the authority of your card/);
  await page.goto(`${demo.url}/wallet/`);
  await waitForView(page, 'view-card');
  assert.equal(await page.locator('#card-copies').textContent(), before);
  await page.close();
});

test('a service entitled to the sealed ID number receives it sealed, and the wallet says only the police can read it (zh)', async () => {
  const page = await openLink(attest(SEALING_HOTEL), 'zh');
  await waitForView(page, 'view-qr');
  const what = await page.locator('#qr-what').textContent();
  assert.match(what, /^出示给“Sealing Hotel”：将出示姓名、是否年满 18 岁、加密的身份证号（只有公安机关能打开，对方看不到）、你在“Sealing Hotel”的专属化名/, what);
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.close();
});
