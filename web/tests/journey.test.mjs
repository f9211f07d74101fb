// The newcomer's journey in a real browser with a camera: enroll a demo
// citizen with their face → the card → the offline QR → the counter page
// scans it → verified. And an impostor's face is refused; every page passes
// the accessibility check; the operator console signs in and shows its data.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { accessibilityViolations, browserWithCamera, cameraFile, photo, screenshot, startDemo } from './harness.mjs';

const CITIZEN = { id: '110105196108040136', name: '王建国' };
let demo;
let tools;

before(async () => {
  demo = await startDemo();
  tools = await browserWithCamera();
});

after(async () => {
  await tools?.close();
  demo?.stop();
});

/** Fills the wallet's enrollment form for the demo citizen and starts the face check. */
async function startEnrollment(page) {
  await page.goto(`${demo.url}/wallet/`);
  await page.getByLabel(/ID number|身份证号/).fill(CITIZEN.id);
  await page.getByLabel(/^Name$|^姓名$/).fill(CITIZEN.name);
  await page.locator('#long-term').check();
  await page.locator('#enroll-start').click();
}

test('a citizen enrolls with the camera, shows the QR, and the counter verifies it', async () => {
  const citizenCamera = await cameraFile(tools, 'camera-citizen', [photo('obama2.jpg')], { selfie: true });
  const phone = await browserWithCamera(citizenCamera);
  let qrJpeg;
  try {
    const page = await phone.newPage();
    await startEnrollment(page);
    await page.locator('#view-camera').waitFor({ state: 'visible' });
    await screenshot(page, '1-wallet-face-check');
    await page.locator('#view-card').waitFor({ state: 'visible', timeout: 120_000 });
    await screenshot(page, '2-wallet-card');
    assert.equal(await page.locator('#card-name').textContent(), CITIZEN.name);
    assert.match(await page.locator('#card-number').textContent(), /^1101\*+6$|^110105\*+0136$|\*/);
    assert.doesNotMatch(await page.content(), new RegExp(CITIZEN.id), 'the full ID number is never on the page');
    assert.equal(await page.locator('#card-copies').textContent(), '10');

    await page.locator('#purpose').selectOption('hotel_checkin');
    await page.locator('#show-qr').click();
    await page.locator('#view-qr').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
    const bytes = Number(await page.locator('#qr').getAttribute('data-payload-bytes'));
    assert.ok(bytes > 200 && bytes <= 1200, `QR payload of ${bytes} bytes is within the 1,200-byte budget`);
    await screenshot(page, '3-wallet-qr');
    qrJpeg = await page.locator('#qr').screenshot({ type: 'jpeg', quality: 95 });
    assert.deepEqual(await accessibilityViolations(page), []);
  } finally {
    await phone.close();
  }

  const counterCamera = await cameraFile(tools, 'camera-counter', [qrJpeg]);
  const counter = await browserWithCamera(counterCamera);
  try {
    const page = await counter.newPage();
    await page.goto(`${demo.url}/counter/`);
    await page.locator('#purpose').selectOption('hotel_checkin');
    await page.locator('#scan').click();
    await page.locator('#result').waitFor({ state: 'visible', timeout: 60_000 });
    await screenshot(page, '4-counter-verified');
    assert.equal(await page.locator('#result').getAttribute('data-outcome'), 'verified', await page.locator('#result').textContent());
    const shown = await page.locator('#result-claims').textContent();
    assert.ok(shown.includes(CITIZEN.name), shown);
    assert.ok(!shown.includes(CITIZEN.id), 'the counter never sees the full ID number');
    assert.match(await page.locator('#cache').textContent(), /cached|更新/);
    assert.deepEqual(await accessibilityViolations(page), []);

    // The same QR again: the counter remembers it, and says so.
    await page.locator('#scan').click();
    await page.waitForFunction(() => document.getElementById('result').dataset.outcome === 'refused', null, { timeout: 60_000 });
    assert.match(await page.locator('#result-detail').textContent(), /credential\.offline\.replayed/);
    await screenshot(page, '5-counter-replay-refused');
  } finally {
    await counter.close();
  }
});

test("an impostor's face is refused with a way forward", async () => {
  const impostorCamera = await cameraFile(tools, 'camera-impostor', [photo('biden.jpg')], { selfie: true });
  const phone = await browserWithCamera(impostorCamera);
  try {
    const page = await phone.newPage();
    await startEnrollment(page);
    await page.locator('#view-failure').waitFor({ state: 'visible', timeout: 120_000 });
    await screenshot(page, '6-wallet-impostor-refused');
    assert.match(await page.locator('#failure-advice').textContent(), /try again|重试/i);
    assert.equal(await page.locator('#failure-retry').isVisible(), true, 'never a dead end');
    await page.locator('#failure-retry').click();
    await page.locator('#view-enroll').waitFor({ state: 'visible' });
    assert.deepEqual(await accessibilityViolations(page), []);
  } finally {
    await phone.close();
  }
});

test('the operator console signs in, checks a card and charts enrollments', async () => {
  const page = await tools.newPage();
  await page.goto(`${demo.url}/console/`);
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.getByLabel(/Operator name|工号/).fill('demo-supervisor');
  await page.getByLabel(/Password|密码/).fill(demo.passwords['demo-supervisor']);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.locator('#work-view').waitFor({ state: 'visible' });
  await page.locator('#lookup-id').fill(CITIZEN.id);
  await page.locator('#lookup-form button[type=submit]').click();
  await page.locator('#lookup-result').waitFor({ state: 'visible' });
  const found = await page.locator('#lookup-fields').textContent();
  assert.ok(!found.includes(CITIZEN.name) && !found.includes(CITIZEN.id), `masked only: ${found}`);
  await page.waitForFunction(() => document.querySelectorAll('#stats-chart rect').length > 0);
  const summary = await page.locator('#stats-summary').textContent();
  assert.match(summary, /[1-9]\d* accepted|通过 [1-9]/, summary);
  assert.match(summary, /[1-9]\d* refused|拒绝 [1-9]/, summary);
  assert.ok((await page.locator('#audit-rows tr').count()) > 0);
  await screenshot(page, '7-console');
  assert.deepEqual(await accessibilityViolations(page), []);
});
