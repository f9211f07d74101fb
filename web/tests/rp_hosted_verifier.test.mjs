// The privacy-preferring path in a real browser: a rail company runs its own
// verifier (`shenfen verifier serve`) on its own origin with its own key and
// the attestation the authority issued it once. The citizen's wallet — a
// page of the authority — fetches the rail company's request across origins,
// shows the attested name, and answers it there; the rail company reads a
// verified result. The authority's request log shows no request about it:
// only whole-list fetches (JWKS, status list) and the wallet's own files.
// Once the card is revoked, the rail company's verifier refuses it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, addRelyingParty, api, browserWithCamera, freePort, openPage, phoneWithCard, photo, repository, screenshot, selfieCamera, startDemo, startProgram,
  waitForView,
} from './harness.mjs';

const RAIL = 'https://rail.example';
const API_KEY = 'rail-backend-secret-0123456789';
/** The routes the authority may serve while the rail company's request is answered: its pages and whole lists. */
const WHOLE_LIST_ROUTES = new Set([
  '/wallet/', '/wallet/sw.js', '/wallet/manifest.webmanifest', '/app/{name}', '/vendor/{name}', '/web/offline-format.json',
  '/jwks.json', '/status/{list}', '/.well-known/openid-credential-issuer',
]);
let demo;
let rail;
let phone;

/**
 * The rail company's side: its own key, the authority's attestation for it
 * (`shenfen rp attest`, at registration), and `shenfen verifier serve` on
 * another port, trusting the demo authority's published keys, refreshing
 * them every 2 s.
 */
async function startRailVerifier() {
  const dir = mkdtempSync(join(tmpdir(), 'shenfen-rail-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = (args) => execFileSync(demo.binary, args, { cwd: repository, encoding: 'utf8' });
  writeFileSync(join(dir, 'rail.pub.jwk'), run(['keys', 'generate', '--out', join(dir, 'rail.jwk')]));
  run([
    'rp', 'attest', '--client-id', RAIL, '--public-key', join(dir, 'rail.pub.jwk'), '--response-uri', `${url}/openid4vp/response`,
    '--issuer', demo.url, '--data-dir', demo.dataDir, '--out', join(dir, 'rail.attestation.jwt'),
  ]);
  const verifier = startProgram(demo.binary, [
    'verifier', 'serve', '--listen', `127.0.0.1:${port}`, '--key-file', join(dir, 'rail.jwk'), '--attestation', join(dir, 'rail.attestation.jwt'),
    '--server', demo.url, '--refresh-secs', '2', '--max-cache-age', '60',
  ], { SHENFEN_VERIFIER_API_KEY: API_KEY });
  await verifier.waitFor(/shenfen verifier serving on/);
  return { url, stop: verifier.stop };
}

/** The rail company's backend calls its own verifier. */
async function railCalls(method, path, body) {
  const response = await fetch(`${rail.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: body && JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

/** The rail company asks for the passenger's name; answers the request id and the wallet link. */
async function railAsks() {
  const asked = await railCalls('POST', '/openid4vp/requests', { claims: ['name'], purpose: 'ticket in your name' });
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  return asked.body;
}

/** The citizen opens the rail company's link in their wallet and shares. */
async function walletShares(link) {
  const page = await openPage(phone);
  await page.goto(`${demo.url}/wallet/?request=${encodeURIComponent(link)}`);
  await waitForView(page, 'view-request');
  return page;
}

/** The `route="…"` of every request the authority logged in `text`. */
const routesIn = (text) => [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]);

before(async () => {
  // Request lines (route templates only) at debug level: the authority's log is what this test reads.
  demo = await startDemo({ env: { RUST_LOG: 'info,tower_http=debug' } });
  // Registered before the citizen enrolls, so the credentials carry the rail company's pairwise pseudonym.
  addRelyingParty(demo, RAIL, 'Rail Example', ['name', 'age_over_18']);
  rail = await startRailVerifier();
  const tools = await browserWithCamera();
  const phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-rail-citizen', photo('obama2.jpg')));
  await tools.close();
  phone = await phoneWithCard(phoneBrowser, demo);
});

after(async () => {
  await phone?.browser().close();
  rail?.stop();
  demo?.stop();
});

test("the rail company's own verifier accepts the wallet's answer, and the authority hears nothing of it", async () => {
  const logBefore = demo.log().length;
  const asked = await railAsks();
  assert.match(asked.authorization_request, /client_id=verifier_attestation%3Ahttps%3A%2F%2Frail\.example/);
  const page = await walletShares(asked.authorization_request);
  assert.match(await page.locator('#request-who').textContent(), /^Rail Example \(verifier_attestation:https:\/\/rail\.example\)$/);
  assert.equal(await page.locator('#request-attested').isVisible(), true, 'the wallet says the authority vouches and is not told');
  assert.match(await page.locator('#request-claims').textContent(), /pseudonym for Rail Example|在“Rail Example”的专属化名/);
  await screenshot(page, 'rp-1-wallet-consent-attested');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.locator('#request-share').click();
  await waitForView(page, 'view-answered');
  await page.close();

  const { body: outcome } = await railCalls('GET', `/openid4vp/requests/${asked.request_id}/outcome`);
  assert.equal(outcome.status, 'verified', JSON.stringify(outcome));
  assert.deepEqual(outcome.result.claims, { name: CITIZEN.name });
  assert.ok(outcome.result.pseudonym, 'the pairwise pseudonym of a party registered before issuance');
  assert.equal(outcome.result.level, 'L1');
  assert.equal(outcome.result.issuer, demo.url);
  assert.equal((await railCalls('GET', `/openid4vp/requests/${asked.request_id}/outcome`)).status, 404, 'read once');

  // A request link whose server answers with an error: the wallet says so in its own words, naming the host only.
  const link = new URL(asked.authorization_request.replace('openid4vp://', 'https://wallet.invalid/'));
  link.searchParams.set('request_uri', `${link.searchParams.get('request_uri')}-unknown`);
  const broken = await openPage(phone);
  await broken.goto(`${demo.url}/wallet/?request=${encodeURIComponent(link.href.replace('https://wallet.invalid/', 'openid4vp://'))}`);
  await waitForView(broken, 'view-failure');
  assert.match(await broken.locator('#failure-detail').textContent(), new RegExp(`The service at ${new URL(rail.url).host} did not give a valid request|${new URL(rail.url).host} 上的服务没有给出有效的请求`));
  await broken.close();

  const authorityLog = demo.log().slice(logBefore);
  const routes = routesIn(authorityLog);
  assert.ok(routes.includes('/wallet/'), 'the log does show requests (the wallet page itself)');
  assert.deepEqual(routes.filter((route) => !WHOLE_LIST_ROUTES.has(route)), [], 'only the wallet page and whole lists');
  assert.doesNotMatch(authorityLog, /\/verifier\//);
  assert.doesNotMatch(authorityLog, /rail\.example/);
});

test('a revoked card: the wallet says so, and a wallet that does not know is refused by the rail company once its whole status list refreshes', async () => {
  const login = await api(demo, 'POST', '/operator/login', { username: 'demo-supervisor', password: demo.passwords['demo-supervisor'] });
  const revoked = await api(demo, 'POST', '/operator/revocations', { id_number: CITIZEN.id, reason: 'lost' }, login.body.token);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const revokedAt = Date.now() / 1000;
  // The verifier refreshes every 2 s: wait for a cache fetched after the revocation.
  for (;;) {
    const health = await (await fetch(`${rail.url}/healthz`)).json();
    if (Date.now() / 1000 - health.cache_age_secs > revokedAt + 1) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // A wallet that cannot reach the authority's list (its stored one predates the revocation) answers: the rail company's verifier refuses.
  const asked = await railAsks();
  const page = await openPage(phone);
  await page.route('**/status/**', (route) => route.abort());
  await page.goto(`${demo.url}/wallet/?request=${encodeURIComponent(asked.authorization_request)}`);
  await waitForView(page, 'view-request');
  await page.locator('#request-share').click();
  await waitForView(page, 'view-failure');
  assert.match(await page.locator('#failure-detail').textContent(), /credential\.status\.revoked/);
  await screenshot(page, 'rp-2-wallet-revoked-refused');
  await page.close();
  // Once the wallet reaches the whole list, it says the card is revoked and answers nothing.
  const refusedHere = await railAsks();
  const wallet = await openPage(phone);
  await wallet.goto(`${demo.url}/wallet/?request=${encodeURIComponent(refusedHere.authorization_request)}`);
  await waitForView(wallet, 'view-failure');
  assert.match(await wallet.locator('#failure-detail').textContent(), /Revoked|已注销/);
  await wallet.close();
  const { body: outcome } = await railCalls('GET', `/openid4vp/requests/${asked.request_id}/outcome`);
  assert.equal(outcome.status, 'refused', JSON.stringify(outcome));
  assert.match(outcome.result.error, /credential\.status\.revoked/);
});
