// The railway (铁路客票, `shenfen services`, started by the demo on its own
// origin) in a real browser: a passenger opens the railway on a laptop,
// which shows its own OpenID4VP request (the railway's verifier, attested by
// the authority); the phone's wallet answers it with the name and the
// railway's pseudonym; the laptop goes on signed in, buys a ticket bound to
// that pseudonym, buys one for a co-traveller named by name (a pending
// ticket with an acceptance link) and offers its own ticket for transfer
// (a single-use link), which another passenger accepts with their own
// wallet — once: the ticket leaves the seller's list. At the gate (a
// registered gate device's page, its camera filming the phone) the
// recipient's boarding code — drawn by their wallet from the railway's link —
// passes, the seller's is refused (the resold ticket is no longer theirs),
// and the same code at a second gate is refused as used. The gate's other
// refusals are tested over HTTP (crates/shenfen-cli/tests/services_rail.rs).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  accessibilityViolations, browserWithCamera, documented, openPage, phoneWithCard, photo, screenCamera, selfieCamera, serviceQr, startDemo,
  waitForView,
} from './harness.mjs';

let demo;
let rail;
let laptop;
let phoneBrowser;
let phone;
let recipientBrowser;
/** Another passenger's phone: 李志强, whose registry photo is the only one of him. */
let recipient;
/** A browser to draw camera files with. */
let tools;
/** The wallet link for the railway's boarding code, as the railway's page shows it. */
let boardingLink;
const LI = { id: '440106194211200314', name: '李志强' };

/** The wallet on `device` answers the railway's request `link`: the name and the railway's pseudonym. */
async function walletAnswers(device, link) {
  const wallet = await openPage(device);
  await wallet.goto(`${demo.url}/wallet/?request=${encodeURIComponent(link)}`);
  await waitForView(wallet, 'view-request');
  assert.match(await wallet.locator('#request-who').textContent(), /铁路客票 Rail tickets/);
  assert.equal(await wallet.locator('#request-attested').isVisible(), true);
  await wallet.locator('#request-share').click();
  await waitForView(wallet, 'view-answered');
  await wallet.close();
}

/** The railway's origin, once the demo's services serve it. */
async function railway() {
  for (let waited = 0; waited < 120_000; waited += 200) {
    const origin = demo.log().match(/Service 铁路客票 rail: (http:\/\/\S+?)\/?\n/)?.[1];
    if (origin && (await fetch(`${origin}/healthz`).then((r) => r.ok, () => false))) return origin;
    await new Promise((wait) => setTimeout(wait, 200));
  }
  throw new Error(`the demo's railway did not start:\n${demo.log()}`);
}

before(async () => {
  demo = await startDemo();
  rail = await railway();
  tools = await browserWithCamera();
  phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-rail-passenger', photo('obama2.jpg')));
  recipientBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-rail-recipient', photo('biden.jpg')));
  phone = await phoneWithCard(phoneBrowser, demo);
  recipient = await phoneWithCard(recipientBrowser, demo, LI);
  laptop = await browserWithCamera();
});

after(async () => {
  await laptop?.close();
  await phoneBrowser?.close();
  await recipientBrowser?.close();
  await tools?.close();
  demo?.stop();
  if (demo) rmSync(demo.dataDir, { recursive: true, force: true });
});

test("a passenger signs in with the wallet at the railway, buys a ticket, one for a co-traveller, and transfers one to another passenger's wallet", async () => {
  const page = await openPage(laptop);
  await page.goto(`${rail}/`);
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.locator('a.button[href="/login"]').click();
  const link = await page.locator('#request').textContent();
  assert.match(link, /^openid4vp:\/\/\?client_id=verifier_attestation%3Ahttp/);
  await documented(page, 'rail-1-request');

  // The phone's wallet answers the railway's own request: the name and the railway's pseudonym.
  await walletAnswers(phone, link);

  // The laptop goes on: signed in by the pseudonym, the timetable and no ticket yet.
  await page.locator('form[action="/answered"] button').click();
  await page.waitForURL(`${rail}/`);
  assert.equal(await page.locator('#tickets li').count(), 0);
  await page.locator('tbody tr').first().locator('button[type="submit"]').click();
  await page.waitForURL(`${rail}/`);
  const ticket = page.locator('#tickets li').first();
  assert.match(await ticket.textContent(), /可用/);
  const number = await ticket.getAttribute('data-ticket');
  assert.deepEqual(await accessibilityViolations(page), []);
  await documented(page, 'rail-2-bought');

  // For a co-traveller, named by name only: pending, with a link they accept with their own wallet.
  const second = page.locator('tbody tr').nth(1);
  await second.locator('input[name="companion"]').fill('李志强');
  await second.locator('button[type="submit"]').click();
  assert.match(await page.locator('#offer-link').textContent(), new RegExp(`^${rail}/accept/[A-Za-z0-9_-]{43}$`));
  await page.goto(`${rail}/`);
  assert.match(await page.locator('#tickets').textContent(), /等待同行人确认/);

  // A transfer: only offered explicitly, as a single-use link.
  await page.locator(`li[data-ticket="${number}"] form button`).click();
  assert.match(await page.locator('#offer-link').textContent(), new RegExp(`^${rail}/transfers/[A-Za-z0-9_-]{43}$`));
  const transfer = await page.locator('#offer-link').textContent();
  await documented(page, 'rail-3-transfer-offer');

  // The recipient opens the link on their laptop and answers with their own wallet: the ticket is theirs, no longer the seller's.
  const recipientLaptop = await laptop.newContext();
  const taking = await openPage(recipientLaptop);
  await taking.goto(transfer);
  await walletAnswers(recipient, await taking.locator('#request').textContent());
  await taking.locator('form[action="/answered"] button').click();
  await taking.waitForURL(`${rail}/`);
  assert.match(await taking.locator(`li[data-ticket="${number}"]`).textContent(), /可用/);
  // Holding a valid ticket, the recipient is shown how to board: the wallet's link for the railway.
  boardingLink = await taking.locator('#boarding-link').getAttribute('href');
  assert.match(boardingLink, new RegExp(`^${demo.url}/wallet/\\?service=ey`));
  assert.equal(await taking.locator('#boarding-code').evaluate((img) => img.complete && img.naturalWidth > 0), true);
  assert.deepEqual(await accessibilityViolations(taking), []);
  await documented(taking, 'rail-4-transferred');
  await page.goto(`${rail}/`);
  assert.equal(await page.locator(`li[data-ticket="${number}"]`).count(), 0, 'the seller no longer holds it');
  // The link was single-use: opened again, it is refused with the way forward.
  const again = await openPage(recipientLaptop);
  const refused = await again.goto(transfer);
  assert.equal(refused.status(), 410);
  assert.match(await again.locator('main').textContent(), /链接已失效/);
  await recipientLaptop.close();
});

/**
 * A gate device's page (at its device link `at`) whose camera films the
 * phone's screen `picture` as the counter's does: at a whole multiple of its
 * size (a phone-wide code's modules are not whole pixels; scaled by a
 * fraction they smear). Answers the page and its browser.
 */
async function gateFilming(picture, name, at = demo.railGate) {
  const camera = await browserWithCamera(await screenCamera(tools, name, picture));
  const page = await openPage(camera);
  await page.goto(at);
  return { camera, page };
}

/** What the gate says once it has answered a code. */
async function gateOutcome(gate, timeout = 90_000) {
  try {
    await gate.page.locator('#outcome.notice, #outcome.refusal').waitFor({ timeout });
  } catch (error) {
    throw new Error(`the gate answered nothing: ${await gate.page.locator('#scan-state').textContent()}`, { cause: error });
  }
  return gate.page.locator('#outcome').textContent();
}

/**
 * The phone on `device` shows its boarding code to a gate (at `at`) until
 * the gate answers: a code the fake camera cannot read (a screenshot whose
 * modules are fractions of a pixel, filmed pixel-sharp) is redrawn, as the
 * wallet redraws it every 30 s — at most three codes. Answers the gate (its
 * camera still open), what it said and the picture it read.
 */
async function shownAtGate(device, name, at = demo.railGate) {
  for (let attempt = 1; ; attempt += 1) {
    const shown = await serviceQr(device, boardingLink);
    const gate = await gateFilming(shown.picture, `${name}-${attempt}`, at);
    try {
      return { gate, shown, outcome: await gateOutcome(gate, 40_000) };
    } catch (error) {
      await gate.camera.close();
      if (attempt === 3) throw error;
    }
  }
}

test("at the gate the recipient's boarding code passes, the seller's is refused, and the same code at a second gate is refused", async () => {
  const services = join(demo.dataDir, 'services');
  const added = execFileSync(demo.binary, ['services', 'gate', 'add', '--name', 'Gate 2', '--data-dir', services], { encoding: 'utf8' });
  const secondGate = `${rail}/gate/#device=${added.trim().split(' ').pop()}`;

  // The seller shows his own fresh code for the train whose ticket he sold: refused with the reason.
  const { gate: first, shown: sellers, outcome: sellersOutcome } = await shownAtGate(phone, 'camera-rail-gate-seller');
  assert.match(sellers.what, /^For 铁路客票 Rail tickets: this shows name, your pseudonym for 铁路客票 Rail tickets/, sellers.what);
  try {
    assert.match(await first.page.locator('#train option').first().textContent(), /^G1 09:00/);
    assert.deepEqual(await accessibilityViolations(first.page), []);
    assert.match(sellersOutcome, /^没有本次列车的车票/);
    assert.equal(await first.page.locator('#passenger').isVisible(), false);
    await documented(first.page, 'rail-6-gate-resold-refused');
  } finally {
    await first.camera.close();
  }

  // The recipient's code passes; the same picture at a second gate (a screenshot shown again) does not.
  const { gate, shown: recipients, outcome } = await shownAtGate(recipient, 'camera-rail-gate-recipient');
  try {
    assert.equal(outcome, '请通过。');
    assert.equal(await gate.page.locator('#passenger-name').textContent(), LI.name);
    await documented(gate.page, 'rail-5-gate-through');
  } finally {
    await gate.camera.close();
  }
  const again = await gateFilming(recipients.picture, 'camera-rail-gate-again', secondGate);
  try {
    assert.match(await gateOutcome(again), /^二维码已使用过/);
  } finally {
    await again.camera.close();
  }
});
