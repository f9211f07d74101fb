// The newcomer's journey in a real browser with a camera: enroll a demo
// citizen with their face → the card → the offline QR → the counter page
// scans it → verified; a service's online request answered after consent; the
// upgraded edition attested at the console and answering at L3 with PIN and
// face. The face check includes the colour flash, filmed by a camera that
// reacts to the screen; a camera filming other colours and an impostor's face
// are refused. Every page passes the accessibility check.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, addRelyingParty, artifacts, api, attestAtTheConsole, browserWithCamera, counterCamera, litByTheScreen, openPage, photo,
  readyForTheColours, screenCamera, screenshot, selfieCamera, startDemo, startEnrollment, startProgram, waitForView,
} from './harness.mjs';

const HOTEL = 'https://hotel.example';
let demo;
let tools;
let hotelKey;
/** The citizen's phone: a browser context with a camera that shows the citizen. */
let phone;

before(async () => {
  demo = await startDemo();
  // Registered before the citizen enrolls, so the credentials carry its pairwise pseudonym.
  hotelKey = addRelyingParty(demo, HOTEL, 'Hotel Example', ['name', 'id_number_masked', 'is:age_over_18']);
  tools = await browserWithCamera();
  // One browser context: the phone's IndexedDB (credentials, device keys, log) lives across the tests.
  const phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-citizen', photo('obama2.jpg')));
  phone = await phoneBrowser.newContext();
  await litByTheScreen(phone);
});

after(async () => {
  await phone?.browser().close();
  await tools?.close();
  demo?.stop();
});

/** Withdraws every credential from the revocation view: not one tap — the word typed first, in the page's language (and an upgraded card's PIN). */
async function withdrawEverything(page) {
  assert.equal(await page.locator('#revoke-all').isDisabled(), true, 'not one tap');
  await page.locator('#revoke-confirm').fill(await page.evaluate(() => (document.documentElement.lang.startsWith('zh') ? '注销' : 'WITHDRAW')));
  if (await page.locator('#revoke-pin').isVisible()) await page.locator('#revoke-pin').fill('482915');
  await page.locator('#revoke-all').click();
}

/** The hotel asks through the verifier service (the masked number optional); answers the request id and the wallet link. */
async function hotelAsks(level, questions = []) {
  const ask = { client_id: HOTEL, claims: ['name'], optional_claims: ['id_number_masked'], questions, purpose: 'guest register', level };
  const asked = await api(demo, 'POST', '/verifier/requests', ask, hotelKey);
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  return asked.body;
}

async function hotelReads(requestId) {
  const path = `/verifier/requests/${requestId}?client_id=${encodeURIComponent(HOTEL)}`;
  return (await api(demo, 'GET', path, undefined, hotelKey)).body;
}

test('a citizen enrolls with the camera through the colour flash, shows the QR, and the counter verifies it', async () => {
  const page = await openPage(phone);
  const session = page.waitForResponse((r) => r.url().endsWith('/enrollment/sessions'));
  const submitted = page.waitForRequest((r) => r.url().endsWith('/frames'), { timeout: 120_000 });
  await startEnrollment(page, demo);
  await waitForView(page, 'view-camera');
  await page.waitForFunction(() => document.getElementById('step').textContent.length > 0);
  await screenshot(page, '1-wallet-face-check');
  const { flash } = await (await session).json();
  assert.equal(flash.colours.length, 5, 'the demo asks for the colour flash');
  await page.locator('#flash-start').waitFor({ timeout: 60_000 });
  await screenshot(page, '1a-wallet-ready-for-colours');
  assert.deepEqual(await accessibilityViolations(page), []);
  await readyForTheColours(page);
  await page.locator('#flash:not([hidden])').waitFor({ state: 'attached', timeout: 30_000 });
  await screenshot(page, '1b-wallet-colour-flash');
  const sent = (await submitted).postDataJSON();
  assert.equal(sent.flash_frames.length, 6, 'a reference frame, then one per colour');
  assert.equal(sent.captured_at.length, sent.frames.length + 6);
  await waitForView(page, 'view-card', 120_000);
  await screenshot(page, '2-wallet-card');
  assert.equal(await page.locator('#card-name').textContent(), CITIZEN.name);
  assert.equal(await page.locator('#card-number').textContent(), '110105********0136');
  assert.doesNotMatch(await page.content(), new RegExp(CITIZEN.id), 'the full ID number is never on the page');
  assert.equal(await page.locator('#id-number').inputValue(), '', 'nor left in the form once enrolled');
  assert.equal(await page.locator('#card-copies').textContent(), '10');
  const icon = await fetch(`${demo.url}${await page.locator('link[rel=icon]').getAttribute('href')}`);
  assert.equal(icon.headers.get('content-type'), 'image/svg+xml', 'the page has its icon (no favicon 404)');
  assert.equal((await (await fetch(`${demo.url}/wallet/manifest.webmanifest`)).json()).icons[0].src, '/app/icon.svg', 'and so has the installed app');
  assert.match(await page.locator('#card-valid').textContent(), /^(long-term \(长期\)|长期)$/, "the card's own validity, as on the card");
  assert.doesNotMatch(await page.locator('#card-renews').textContent(), /:\d\d/, 'the renewal date, without the time');

  await page.locator('#purpose').selectOption('hotel_checkin');
  await page.locator('#show-qr').click();
  await waitForView(page, 'view-qr');
  await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
  const bytes = Number(await page.locator('#qr').getAttribute('data-payload-bytes'));
  assert.ok(bytes > 200 && bytes <= 1200, `QR payload of ${bytes} bytes is within the 1,200-byte budget`);
  assert.match(await page.locator('#qr-single-use').textContent(), /used once.*9 are left|只用一次.*还剩 9 份/, 'showing a QR spends a copy, and the wallet says so');
  await screenshot(page, '3-wallet-qr');
  const qrImage = await page.locator('#qr').screenshot({ type: 'png', path: `${artifacts}/3-wallet-qr-code.png` });
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.locator('#qr-done').click();
  await page.close();

  const counter = await browserWithCamera(await screenCamera(tools, 'camera-counter', qrImage));
  try {
    const desk = await openPage(counter);
    await desk.goto(`${demo.url}/counter/#device=${demo.counterToken}`);
    await desk.locator('#purpose').selectOption('hotel_checkin');
    await desk.locator('#scan').click();
    await waitForView(desk, 'result', 60_000);
    await screenshot(desk, '4-counter-verified');
    assert.equal(await desk.locator('#result').getAttribute('data-outcome'), 'verified', await desk.locator('#result').textContent());
    const shown = await desk.locator('#result-claims').textContent();
    assert.ok(shown.includes(CITIZEN.name), shown);
    assert.ok(!shown.includes(CITIZEN.id), 'the counter never sees the full ID number');
    assert.match(await desk.locator('#cache').textContent(), /cached .* ago|前更新/);
    assert.deepEqual(await accessibilityViolations(desk), []);

    // The same QR again: the counter remembers it, and says so.
    await desk.locator('#scan').click();
    await desk.waitForFunction(() => document.getElementById('result').dataset.outcome === 'refused', null, { timeout: 60_000 });
    assert.match(await desk.locator('#result-detail').textContent(), /credential\.offline\.replayed/);
    await screenshot(desk, '5-counter-replay-refused');
  } finally {
    await counter.close();
  }
});

test('a service asks online; the citizen sees who, what and why, declines once, then shares; the QR works offline; withdrawal', async () => {
  const declined = await hotelAsks('L1');
  const page = await openPage(phone);
  await page.goto(`${demo.url}/wallet/?request=${encodeURIComponent(declined.authorization_request)}`);
  await waitForView(page, 'view-request');
  assert.match(await page.locator('#request-who').textContent(), /Hotel Example \(https:\/\/hotel\.example\)/);
  assert.equal(await page.locator('#request-why').textContent(), 'guest register');
  assert.equal(await page.locator('#request-origin').isVisible(), false, 'a service\'s own request is no sign-in');
  assert.match(await page.locator('#request-claims').textContent(), /name|姓名/i);
  assert.match(await page.locator('#request-claims').textContent(), /pseudonym|化名/);
  await screenshot(page, '6-wallet-consent');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.locator('#request-decline').click();
  await waitForView(page, 'view-card');
  const refused = await hotelReads(declined.request_id);
  assert.deepEqual([refused.status, refused.result?.error], ['refused', 'access_denied'], 'the hotel learns the decline at once');
  assert.equal(refused.result.claims, undefined, 'declining shares nothing');

  // The hotel's back end as docs/INTEGRATION.md shows it: it prints the wallet link, then the verified answer.
  const backEnd = startProgram('python3', [
    'interop/python-relying-party/online_request.py', '--authority', demo.url, '--client-id', HOTEL,
    '--claims', 'name', '--optional', 'id_number_masked', '--question', 'age_over_18', '--purpose', 'guest register',
  ], { SHENFEN_API_KEY: hotelKey });
  const link = await backEnd.waitFor(/^openid4vp:\S+/m);
  await page.locator('#request-link').fill(link);
  await page.locator('#request-form button[type=submit]').click();
  await waitForView(page, 'view-request');
  assert.match(await page.locator('#request-questions').textContent(), /18 or older|年满 18 岁/, 'the signed questions are on the consent screen');
  assert.match(await page.locator('#request-claims').textContent(), /not passed on|不提供给对方/, 'the claim behind the question is read, not passed on');
  await screenshot(page, '6b-wallet-consent-question');
  const optional = page.getByLabel(/masked ID number|遮蔽的身份证号/);
  assert.equal(await optional.isChecked(), false, 'optional claims start unticked');
  await page.locator('#request-share').click();
  await waitForView(page, 'view-answered');
  const outcome = JSON.parse(await backEnd.waitFor(/^\{.*\}$/m));
  assert.equal(outcome.status, 'verified', JSON.stringify(outcome));
  assert.deepEqual(outcome.result.claims, { name: CITIZEN.name }, 'the optional masked number was not ticked, so not shared');
  assert.deepEqual(outcome.result.answers, { age_over_18: true }, 'and the answer to its question, not the claim');
  assert.ok(outcome.result.pseudonym, 'the hotel gets its pairwise pseudonym');
  assert.ok(!JSON.stringify(outcome).includes(CITIZEN.id), 'and never the ID number');

  await page.locator('#view-answered .back').click();
  await page.locator('#show-log').click();
  await waitForView(page, 'view-log');
  const log = await page.locator('#log-rows').textContent();
  assert.match(log, /guest register/);
  assert.match(log, /hotel check-in|酒店入住/);
  await screenshot(page, '7-wallet-log');

  // At a counter with no signal: the service worker serves the wallet, IndexedDB holds the card.
  await phone.setOffline(true);
  try {
    await page.reload();
    await waitForView(page, 'view-card');
    await page.locator('#show-qr').click();
    await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
    await screenshot(page, '7b-wallet-offline-qr');
  } finally {
    await phone.setOffline(false);
  }

  // Withdrawing (before giving the phone away): every credential revoked at the authority, forgotten here.
  await page.locator('#qr-done').click();
  await page.locator('#show-revoke').click();
  await waitForView(page, 'view-revoke');
  await withdrawEverything(page);
  await waitForView(page, 'view-enroll');
  assert.match(await page.locator('#status').textContent(), /Withdrawn|已注销/);
  await page.close();
});

test('the upgraded edition: attested at the console, then L3 online with PIN and face', async () => {
  const slip = await attestAtTheConsole(tools, demo, '8-console-attested');
  assert.match(slip, /^\d{6}$/, 'the code for the slip');

  const page = await openPage(phone);
  await startEnrollment(page, demo, 'upgraded', { txCode: slip, pin: '482915' });
  await readyForTheColours(page);
  await waitForView(page, 'view-card', 120_000);
  assert.match(await page.locator('#card-edition').textContent(), /upgraded|增强版/);

  const asked = await hotelAsks('L3');
  await page.goto(`${demo.url}/wallet/?request=${encodeURIComponent(asked.authorization_request)}`);
  await waitForView(page, 'view-request');
  assert.equal(await page.locator('#request-pin').isVisible(), true);
  assert.equal(await page.locator('#request-face').isVisible(), true);
  await page.getByLabel(/masked ID number|遮蔽的身份证号/).check();
  await page.getByLabel(/Your 6-digit PIN|你的 6 位 PIN/).fill('482915');
  await page.locator('#request-share').click();
  await waitForView(page, 'view-answered', 60_000);
  await screenshot(page, '9-wallet-l3-shared');
  const outcome = await hotelReads(asked.request_id);
  assert.equal(outcome.status, 'verified', JSON.stringify(outcome));
  assert.equal(outcome.result.level, 'L3');
  assert.equal(outcome.result.claims.id_number_masked, '110105********0136', 'ticked, so shared');

  // Offline L3: the QR carries the signed face template; the counter matches the face beside the phone.
  await page.locator('#view-answered .back').click();
  await page.locator('#purpose').selectOption('hotel_checkin');
  await page.locator('#show-qr').click();
  await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
  const bytes = Number(await page.locator('#qr').getAttribute('data-payload-bytes'));
  assert.ok(bytes <= 1200, `the upgraded hotel check-in QR with its face template is ${bytes} bytes, within 1,200`);
  assert.match(await page.locator('#qr-what').textContent(), /face template|人脸特征/);
  const qr = await page.locator('#qr').screenshot({ type: 'png' });
  await page.close();
  const counter = await browserWithCamera(await counterCamera(tools, 'camera-counter-l3', qr, photo('obama3.jpg')));
  try {
    const desk = await openPage(counter);
    await desk.goto(`${demo.url}/counter/#device=${demo.counterToken}`);
    await desk.locator('#purpose').selectOption('hotel_checkin');
    await desk.locator('#level').selectOption('L3');
    await desk.locator('#scan').click();
    await waitForView(desk, 'result', 60_000);
    await screenshot(desk, '10-counter-l3-face-matched');
    assert.equal(await desk.locator('#result').getAttribute('data-outcome'), 'verified', await desk.locator('#result').textContent());
    const shown = await desk.locator('#result-claims').textContent();
    assert.match(shown, /L3/);
    assert.match(shown, /matches|一致/);
  } finally {
    await counter.close();
  }
});

test("a camera that does not take on the screen's colours in order is refused", async () => {
  const login = await api(demo, 'POST', '/operator/login', { username: 'demo-supervisor', password: demo.passwords['demo-supervisor'] });
  const colourRefusals = async () => (await api(demo, 'GET', '/operator/statistics?hours=24', undefined, login.body.token)).body.refusals.ColourFlash ?? 0;
  const before = await colourRefusals();
  // The citizen's own face, filmed lit by other colours than the session's: a recording of another session.
  assert.equal(await enrollWithPhone('obama2.jpg', { wrongColours: true }), 'refused');
  assert.equal(await colourRefusals(), before + 1, 'refused by the colour check, not by another one');
});

test('a typo in the ID number is caught in the page, in Chinese, before anything is sent', async () => {
  const page = await openPage(phone);
  await page.goto(`${demo.url}/wallet/`);
  await page.waitForFunction(() => ['view-card', 'view-enroll'].some((id) => !document.getElementById(id).hidden));
  if (await page.locator('#view-card').isVisible()) await page.locator('#show-enroll').click();
  if (await page.evaluate(() => !document.documentElement.lang.startsWith('zh'))) await page.locator('#language button').click();
  const sent = [];
  page.on('request', (request) => { if (request.url().includes('/enrollment/')) sent.push(request.url()); });
  await page.locator('#id-number').fill('110105196108040137');
  await page.locator('#name').fill(CITIZEN.name);
  assert.match(await page.locator('#id-number-error').textContent(), /^最后一位校验码应为 6，不是 7/);
  assert.equal(await page.locator('#id-number').getAttribute('aria-invalid'), 'true');
  await page.locator('#enroll-start').click();
  assert.deepEqual(sent, [], 'nothing sent');
  assert.doesNotMatch(await page.locator('main').innerText(), /check character|should be/, 'no English on the Chinese page');
  assert.match(await page.locator('#edition-hint').innerText(), /^简易版/, 'each edition explained in one line');
  await page.locator('#edition').selectOption('upgraded');
  assert.match(await page.locator('#edition-hint').innerText(), /\n增强版.*须先到服务窗口/);
  await screenshot(page, '10b-wallet-typo-caught-zh');
  await page.locator('#id-number').fill(CITIZEN.id);
  assert.equal(await page.locator('#id-number-error').textContent(), '', 'cleared once right');
  // No card expiry given: said beside the date, in Chinese, before anything is sent (a refusal by the server: wallet_forms.test.mjs).
  await page.locator('#edition').selectOption('lightweight');
  await page.locator('#enroll-start').click();
  assert.match(await page.locator('#card-expiry-error').textContent(), /有效期截止日期/);
  assert.deepEqual(sent, [], 'still nothing sent');
  const form = await page.locator('#view-enroll').innerText();
  assert.doesNotMatch(form, /[a-z]{4,} [a-z]{4,}/, `no English sentence on the Chinese page: ${form}`);
  await screenshot(page, '10c-wallet-missing-expiry-zh');
  await page.locator('#language button').click();
  await page.close();
});

test("an impostor's face is refused with a way forward (and the form works by keyboard alone)", async () => {
  const impostor = await browserWithCamera(await selfieCamera(tools, 'camera-impostor', photo('biden.jpg')));
  try {
    const context = await impostor.newContext();
    await litByTheScreen(context);
    const page = await openPage(context);
    // By keyboard only: every field is reachable with Tab, and Enter submits.
    await page.goto(`${demo.url}/wallet/`);
    await page.locator('#id-number').focus();
    await page.keyboard.type(CITIZEN.id);
    await page.keyboard.press('Tab');
    await page.keyboard.type(CITIZEN.name);
    for (let tabs = 0; tabs < 6 && (await page.evaluate(() => document.activeElement.id)) !== 'long-term'; tabs++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#long-term').isChecked(), true);
    await page.keyboard.press('Enter');
    // The start button takes the focus when it shows: Enter again starts the colours.
    await page.locator('#flash-start').waitFor({ timeout: 60_000 });
    await page.keyboard.press('Enter');
    await waitForView(page, 'view-failure', 120_000);
    await screenshot(page, '11-wallet-impostor-refused');
    assert.match(await page.locator('#failure-advice').textContent(), /try again|重试/i);
    await page.locator('#failure-retry').click();
    await waitForView(page, 'view-enroll');
    assert.deepEqual(await accessibilityViolations(page), []);
  } finally {
    await impostor.close();
  }
});

/**
 * An enrollment in a fresh phone whose camera films `photoName`'s face lit by
 * the screen (or, with `wrongColours`, by colours the screen did not show);
 * answers the view it ends on.
 */
async function enrollWithPhone(photoName, { wrongColours = false } = {}) {
  const browser = await browserWithCamera(await selfieCamera(tools, `camera-${photoName}`, photo(photoName)));
  try {
    const context = await browser.newContext();
    await litByTheScreen(context, { wrongColours });
    const page = await openPage(context);
    await startEnrollment(page, demo);
    await readyForTheColours(page);
    await page.waitForFunction(() => ['view-card', 'view-failure'].some((id) => !document.getElementById(id).hidden), undefined, { timeout: 120_000 });
    return (await page.locator('#view-card').isVisible()) ? 'card' : 'refused';
  } finally {
    await browser.close();
  }
}

/** The enrollment decisions of the last 24 hours, summed as the console sums them. */
async function decisionsOfTheDay(token) {
  const { body } = await api(demo, 'GET', '/operator/statistics?hours=24', undefined, token);
  const sum = (key) => body.hours.reduce((total, hour) => total + hour[key], 0);
  return { accepted: sum('accepted'), refused: sum('refused') };
}

test('the supervisor console checks a card, charts enrollments and shows the audit log', async () => {
  // Its own decisions, counted against what the statistics held before them, whatever ran earlier.
  const login = await api(demo, 'POST', '/operator/login', { username: 'demo-supervisor', password: demo.passwords['demo-supervisor'] });
  const before = await decisionsOfTheDay(login.body.token);
  assert.equal(await enrollWithPhone('obama2.jpg'), 'card', 'the citizen enrolls');
  assert.equal(await enrollWithPhone('biden.jpg'), 'refused', "another person's face is refused");
  const page = await openPage(tools);
  await page.goto(`${demo.url}/`);
  assert.deepEqual(await accessibilityViolations(page), [], 'the index page');
  await page.getByRole('link', { name: /Operator console/ }).click();
  await page.waitForURL(/\/console\/$/);
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.getByLabel(/Operator name|工号/).fill('demo-supervisor');
  await page.getByLabel(/Password|密码/).fill(demo.passwords['demo-supervisor']);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await waitForView(page, 'work-view');
  await page.locator('#lookup-id').fill(CITIZEN.id);
  await page.locator('#lookup-form button[type=submit]').click();
  await waitForView(page, 'lookup-result');
  const found = await page.locator('#lookup-fields').textContent();
  assert.ok(!found.includes(CITIZEN.name) && !found.includes(CITIZEN.id), `masked only: ${found}`);
  await page.waitForFunction(() => document.querySelectorAll('#stats-chart rect').length > 0);
  const summary = await page.locator('#stats-summary').textContent();
  const [accepted, refused] = [before.accepted + 1, before.refused + 1];
  assert.ok(summary.startsWith(`${accepted} accepted, ${refused} refused`) || summary.startsWith(`通过 ${accepted}，拒绝 ${refused}`), summary);
  assert.match(await page.locator('#reasons').textContent(), /FaceMismatch/, 'the impostor was refused for the face');
  const audit = await page.locator('#audit-rows').textContent();
  assert.match(audit, /credential\.revoked/, "the citizen's withdrawal is in the audit log");
  assert.match(audit, /operator\.attested|attestation/, "the counter's in-person attestation too");
  await screenshot(page, '12-console-supervisor');
  assert.deepEqual(await accessibilityViolations(page), []);
});

test('a lost phone: once the card is enrolled on a new phone, the old one can no longer withdraw anything', async () => {
  const newPhoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-citizen-new-phone', photo('obama2.jpg')));
  try {
    const newContext = await newPhoneBrowser.newContext();
    await litByTheScreen(newContext);
    const newPhone = await openPage(newContext);
    await startEnrollment(newPhone, demo);
    await readyForTheColours(newPhone);
    await waitForView(newPhone, 'view-card', 120_000);

    // The old phone looks its card up: revoked by the new enrollment, it says so and offers no QR code.
    const old = await openPage(phone);
    await old.goto(`${demo.url}/wallet/`);
    await waitForView(old, 'view-card');
    await old.waitForFunction(() => document.getElementById('card-status').textContent.length > 0);
    assert.match(await old.locator('#card-status').textContent(), /Revoked|已注销/);
    assert.equal(await old.locator('#show-qr').isVisible(), false, 'a dead card shows no QR code');
    await screenshot(old, '12b-old-phone-card-revoked');
    // Whoever holds it tries to withdraw the citizen's credentials (the new phone's among them).
    await old.locator('#show-revoke').click();
    await waitForView(old, 'view-revoke');
    await withdrawEverything(old);
    await waitForView(old, 'view-failure');
    assert.match(await old.locator('#failure-detail').textContent(), /revoked/);
    await screenshot(old, '13-old-phone-withdrawal-refused');
    await old.close();

    // The new phone is untouched: its own withdrawal still goes through.
    await newPhone.locator('#show-revoke').click();
    await waitForView(newPhone, 'view-revoke');
    await withdrawEverything(newPhone);
    await waitForView(newPhone, 'view-enroll');
    assert.match(await newPhone.locator('#status').textContent(), /Withdrawn|已注销/);
  } finally {
    await newPhoneBrowser.close();
  }
});
