// "Sign in with shenfen" in a real browser, as two relying parties built on
// independent OpenID Connect libraries see it: a Rust web application on the
// `openidconnect` crate (client_secret_basic) and a Python one on Authlib
// (private_key_jwt), both in interop/. Each validates the id_token itself.
// The citizen signs in with the wallet — on the same phone (the sign-in
// page's button) or from a laptop (the phone answers the request the laptop's
// QR shows) — at L1, then at L3 with the PIN and a live face; each service
// gets its own pairwise `sub`, the same at every login and after the card is
// enrolled again on a new phone, whose old phone then signs in to nothing. A
// decline in the wallet reaches the service at once.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, addRelyingParty, attestAtTheConsole, browserWithCamera, freePort, litByTheScreen, openPage, phoneWithCard, photo,
  readyForTheColours, repository, screenshot, selfieCamera, startDemo, startEnrollment, startProgram, waitForView,
} from './harness.mjs';

const PIN = '604219';
let demo;
let laptop;
let phoneBrowser;
/** The citizen's phone: its wallet (IndexedDB) lives across the tests. */
let phone;
const services = {};

/** Runs an example service until it says it listens; answers a way to stop it. */
async function startService(command, args, env) {
  const service = startProgram(command, args, env);
  await service.waitFor(/listening on/);
  return service.stop;
}

/**
 * A supervisor registers a service at the operator console (as `shenfen rp
 * add` does); answers the client secret the console shows once.
 */
async function registerAtTheConsole(origin, name) {
  const page = await openPage(laptop);
  try {
    await page.goto(`${demo.url}/console/`);
    await page.getByLabel(/Operator name|工号/).fill('demo-supervisor');
    await page.getByLabel(/Password|密码/).fill(demo.passwords['demo-supervisor']);
    await page.getByRole('button', { name: /Sign in|登录/ }).click();
    await page.locator('#rp-client-id').fill(origin);
    await page.locator('#rp-name').fill(name);
    await page.locator('#rp-claims').fill('name, age_over_18');
    await page.locator('#rp-redirects').fill(`${origin}/callback`);
    await page.locator('#rp-form button[type=submit]').click();
    await waitForView(page, 'rp-result');
    // The list is read again after the registration: under load, a moment later.
    await page.waitForFunction((shown) => document.getElementById('rp-rows').textContent.includes(shown), name);
    assert.match(await page.locator('#rp-rows').textContent(), new RegExp(`${name}.*client_secret_basic`));
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'sign-in-0-console-registers-a-service');
    const secrets = await page.locator('#rp-secrets dd').allTextContents();
    return secrets[2];
  } finally {
    await page.close();
  }
}

/** The Rust web application (interop/oidc-relying-party), registered at the console with a client secret. */
async function startRustService() {
  const origin = `http://127.0.0.1:${await freePort()}`;
  const secret = await registerAtTheConsole(origin, 'Rust Shop');
  const binary = join(process.env.CARGO_TARGET_DIR || join(repository, 'target'), 'debug/oidc-relying-party');
  const stop = await startService(binary, ['--issuer', demo.url, '--client-id', origin, '--redirect-uri', `${origin}/callback`, '--listen', origin.slice(7)], { OIDC_CLIENT_SECRET: secret });
  return { origin, stop };
}

/** The Python web application (interop/python-relying-party), registered with its public key at the command line. */
async function startPythonService() {
  const origin = `http://127.0.0.1:${await freePort()}`;
  const dir = mkdtempSync(join(tmpdir(), 'shenfen-rp-'));
  const script = join(repository, 'interop/python-relying-party/sign_in.py');
  const common = ['--issuer', demo.url, '--client-id', origin, '--redirect-uri', `${origin}/callback`, '--key-file', join(dir, 'key.json')];
  execFileSync('python3', [script, ...common, '--public-jwks', join(dir, 'jwks.json')], { stdio: 'inherit' });
  addRelyingParty(demo, origin, 'Python Portal', ['name'], ['--redirect-uri', `${origin}/callback`, '--client-jwks', join(dir, 'jwks.json')]);
  const stop = await startService('python3', [script, ...common, '--listen', origin.slice(7)]);
  return { origin, stop };
}

/** What a service's callback answered the browser: the user it signed in, or `{error}`. */
function signedIn(page, service) {
  const answer = page.waitForResponse((r) => r.url().startsWith(`${service.origin}/callback`), { timeout: 120_000 }).then((r) => r.json());
  // Awaited once the wallet has answered; a step failing before then is the error to report, not this wait's.
  answer.catch(() => {});
  return answer;
}

/** The wallet's consent for a sign-in, with the PIN and the face for L2/L3; waits until it is sent. */
async function consent(page, level) {
  await waitForView(page, 'view-request');
  assert.match(await page.locator('#request-why').textContent(), /Sign in to/);
  if (level !== 'L1') await page.getByLabel(/Your 6-digit PIN|你的 6 位 PIN/).fill(PIN);
  await page.locator('#request-share').click();
}

/** Declines a sign-in in the wallet, having seen where and when it started. */
async function decline(page) {
  await waitForView(page, 'view-request');
  assert.match(await page.locator('#request-origin').textContent(), /started at \d{2}:\d{2} from 127\.0\.0\.1|于 \d{2}:\d{2} 从 127\.0\.0\.1 发起/);
  await page.locator('#request-decline').click();
}

/** A lightweight card asked for L3: the wallet says why it cannot answer, offers no Share, and tells the service. */
async function cannotReach(page) {
  await waitForView(page, 'view-request');
  assert.match(await page.locator('#request-unreachable').textContent(), /upgraded edition|增强版/);
  assert.equal(await page.locator('#request-share').isVisible(), false);
  assert.equal(await page.locator('#request-pin-fields').isVisible(), false);
  assert.equal(await page.locator('#request-decline').isVisible(), true, 'a plain decline stays offered');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.locator('#request-tell').click();
}

/** On the phone alone: the service, the sign-in page's same-device button, the wallet (`answer`: consent or decline), back to the service. */
async function signInOnThePhone(service, level, answer = consent) {
  const page = await openPage(phone);
  try {
    const user = signedIn(page, service);
    await page.goto(`${service.origin}/login?acr=${level}`);
    await page.locator('#same-device').click();
    await answer(page, level);
    return await user;
  } finally {
    await page.close();
  }
}

/** On a laptop: the service shows the sign-in page's QR; the phone answers the request it holds. */
async function signInFromTheLaptop(service, level, answer = consent) {
  const page = await openPage(laptop);
  const answering = await openPage(phone);
  try {
    const user = signedIn(page, service);
    await page.goto(`${service.origin}/login?acr=${level}`);
    await page.waitForFunction(() => document.getElementById('qr').alt.startsWith('openid4vp:'));
    assert.deepEqual(await accessibilityViolations(page), []);
    const request = await page.locator('#qr').getAttribute('alt');
    // The phone's camera reads the QR: the wallet opens the request it names.
    await answering.goto(`${demo.url}/wallet/?request=${encodeURIComponent(request)}`);
    await answer(answering, level);
    const answered = await user;
    return { user: answered, phonePage: answering };
  } finally {
    await page.close();
  }
}

before(async () => {
  demo = await startDemo();
  laptop = await browserWithCamera();
  phoneBrowser = await browserWithCamera(await selfieCamera(laptop, 'camera-sign-in-citizen', photo('obama2.jpg')));
  phone = await phoneBrowser.newContext();
  await litByTheScreen(phone);
});

after(async () => {
  for (const service of Object.values(services)) service.stop();
  await phoneBrowser?.close();
  await laptop?.close();
  demo?.stop();
});

const subs = {};

test('a citizen signs in at L1 to two services registered after enrollment: each gets its own pairwise sub, the same at each login', async () => {
  const slip = await attestAtTheConsole(laptop, demo);
  const page = await openPage(phone);
  await startEnrollment(page, demo, 'upgraded', { txCode: slip, pin: PIN });
  await readyForTheColours(page);
  await waitForView(page, 'view-card', 120_000);
  await page.close();
  // Registered once the credentials exist: a new service needs no re-issuance.
  services.rust = await startRustService();
  services.python = await startPythonService();

  const { user: rust, phonePage } = await signInFromTheLaptop(services.rust, 'L1');
  assert.equal(rust.acr, 'L1', JSON.stringify(rust));
  assert.deepEqual(rust.amr, ['swk']);
  assert.equal(rust.name, CITIZEN.name);
  // The phone that answered a laptop's sign-in says to go on there.
  await phonePage.waitForURL(`${demo.url}/signin/`);
  await phonePage.waitForFunction(() => document.getElementById('status').textContent.length > 0);
  assert.match(await phonePage.locator('#status').textContent(), /device where you started|开始登录的设备/);
  await screenshot(phonePage, 'sign-in-1-phone-answered-for-the-laptop');
  await phonePage.close();

  const python = await signInOnThePhone(services.python, 'L1');
  assert.equal(python.acr, 'L1', JSON.stringify(python));
  assert.equal(python.name, CITIZEN.name);
  assert.notEqual(rust.sub, python.sub, 'two services cannot link the citizen by sub');
  assert.ok(!`${rust.sub}${python.sub}`.includes(CITIZEN.id));

  const again = await signInOnThePhone(services.rust, 'L1');
  assert.equal(again.sub, rust.sub, 'the same sub at the next login');
  // A callback in a browser that did not start the sign-in (login CSRF: the attacker's own code and state) is refused.
  for (const service of [services.rust, services.python]) {
    const forged = await fetch(`${service.origin}/callback?${new URLSearchParams({ code: 'attackers-code', state: 'attackers-state', iss: demo.url })}`);
    assert.equal(forged.status, 403);
    assert.match((await forged.json()).error, /did not start this sign-in/);
  }
  subs.rust = rust.sub;
  subs.python = python.sub;
});

test('L3 asks the PIN and a live face in the wallet; both services get L3 and the same subs', async () => {
  const rust = await signInOnThePhone(services.rust, 'L3');
  assert.equal(rust.acr, 'L3', JSON.stringify(rust));
  assert.deepEqual(rust.amr, ['swk', 'pin', 'face']);
  assert.equal(rust.sub, subs.rust);

  const { user: python, phonePage } = await signInFromTheLaptop(services.python, 'L3');
  await phonePage.close();
  assert.equal(python.acr, 'L3', JSON.stringify(python));
  assert.deepEqual(python.amr, ['swk', 'pin', 'face']);
  assert.equal(python.sub, subs.python);
});

test('declined in the wallet, on the phone or for a laptop: the service hears access_denied at once, not at expiry', async () => {
  const started = Date.now();
  const onThePhone = await signInOnThePhone(services.python, 'L1', decline);
  assert.match(onThePhone.error, /access_denied/, JSON.stringify(onThePhone));
  const { user, phonePage } = await signInFromTheLaptop(services.rust, 'L1', decline);
  await phonePage.close();
  assert.deepEqual(user, { error: 'access_denied' });
  assert.ok(Date.now() - started < 60_000, 'two declines well within one request\'s two minutes');
});

test('enrolled again on a new phone: the same subs at both services; its lightweight card, asked for L3, tells the service so; the old phone says its card is revoked', async () => {
  const newPhoneBrowser = await browserWithCamera(await selfieCamera(laptop, 'camera-sign-in-new-phone', photo('obama2.jpg')));
  const oldPhone = phone;
  try {
    phone = await phoneWithCard(newPhoneBrowser, demo);

    assert.equal((await signInOnThePhone(services.rust, 'L1')).sub, subs.rust);
    assert.equal((await signInOnThePhone(services.python, 'L1')).sub, subs.python);
    // The new phone holds the lightweight edition: asked for L3, it says so, and the service hears it at once.
    const started = Date.now();
    assert.deepEqual(await signInOnThePhone(services.rust, 'L3', cannotReach), { error: 'unmet_authentication_requirements' });
    assert.ok(Date.now() - started < 60_000, 'told at once, not when the request expires');

    // The old phone's credentials were revoked by the new enrollment: its wallet says so and answers nothing
    // (were it to answer, the authority would refuse: crates/shenfen-server/tests/openid_connect.rs).
    const laptopPage = await openPage(laptop);
    const oldWallet = await openPage(oldPhone);
    try {
      await laptopPage.goto(`${services.rust.origin}/login?acr=L1`);
      await laptopPage.waitForFunction(() => document.getElementById('qr').alt.startsWith('openid4vp:'));
      await oldWallet.goto(`${demo.url}/wallet/?request=${encodeURIComponent(await laptopPage.locator('#qr').getAttribute('alt'))}`);
      await waitForView(oldWallet, 'view-failure');
      assert.match(await oldWallet.locator('#failure-detail').textContent(), /Revoked|已注销/);
    } finally {
      await oldWallet.close();
      await laptopPage.close();
    }
  } finally {
    phone = oldPhone;
    await newPhoneBrowser.close();
  }
});
