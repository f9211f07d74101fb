// The wallet's forms as a citizen meets them on a 390×844 phone, in Chinese
// and in English: the card's expiry written in the reader's order (never
// mm/dd/yyyy), disabled — and looking it — under 长期; the slip's code and a
// guessable PIN told before the face check; a field the authority
// refuses marked beside itself in the reader's language, the focus on it;
// the QR code as wide as the screen with modules a counter camera reads; and
// the withdrawal of an upgraded card, which needs the typed word and the PIN.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, attestAtTheConsole, browserWithCamera, litByTheScreen, openPage, photo, readyForTheColours,
  screenshot, selfieCamera, startDemo, startEnrollment, waitForView,
} from './harness.mjs';

const PHONE = { viewport: { width: 390, height: 844 } };
const LOCALES = { zh: 'zh-CN', en: 'en-US' };
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

/** The wallet's enrollment form on a phone whose browser speaks `lang`. */
async function enrollmentForm(lang) {
  const context = await tools.newContext({ ...PHONE, locale: LOCALES[lang] });
  const page = await openPage(context);
  await page.goto(`${demo.url}/wallet/`);
  await waitForView(page, 'view-enroll');
  return page;
}

/** An English sentence (two words of four letters or more): none may show on a Chinese page. */
const ENGLISH = /[A-Za-z]{4,} [A-Za-z]{4,}/;

for (const lang of ['zh', 'en']) {
  test(`${lang}: the card's expiry is written in the reader's order, looks disabled under 长期; the form is checked before it is sent`, async () => {
    const page = await enrollmentForm(lang);
    assert.equal(await page.evaluate(() => document.documentElement.lang), lang === 'zh' ? 'zh-CN' : 'en');
    assert.equal(await page.locator('input[type=date]').count(), 0, 'no field the browser writes in its own locale (mm/dd/yyyy)');
    const labels = await page.locator('#card-expiry .part label').allTextContents();
    // The parts as read: top to bottom, then left to right.
    const boxes = await Promise.all(['year', 'month', 'day'].map(async (part) => ({ part, box: await page.locator(`#card-expiry .${part}`).boundingBox() })));
    const order = boxes.sort((a, b) => a.box.y - b.box.y > 10 ? 1 : b.box.y - a.box.y > 10 ? -1 : a.box.x - b.box.x).map((p) => p.part);
    if (lang === 'zh') {
      assert.deepEqual(labels, ['年', '月', '日']);
      assert.deepEqual(order, ['year', 'month', 'day'], '年 月 日');
      assert.equal(await page.locator('#card-expiry-month option[value="06"]').textContent(), '6');
    } else {
      assert.deepEqual(labels, ['Year', 'Month', 'Day']);
      assert.deepEqual(order, ['day', 'month', 'year'], 'day, month, year');
      assert.equal(await page.locator('#card-expiry-month option[value="06"]').textContent(), 'June', 'the month named: no 06/01 to misread');
    }
    const look = () => page.locator('#card-expiry-year').evaluate((input) => [input.disabled, getComputedStyle(input).backgroundColor, getComputedStyle(input).borderStyle]);
    const enabled = await look();
    await page.locator('#long-term').check();
    const disabled = await look();
    assert.equal(disabled[0], true, 'no date under 长期');
    assert.equal(await page.locator('#card-expiry-month').isDisabled(), true);
    assert.notDeepEqual(disabled.slice(1), enabled.slice(1), 'and it looks disabled');
    await screenshot(page, `forms-${lang}-long-term`);
    assert.deepEqual(await accessibilityViolations(page), []);
    // Without 长期 and without a date, the form says so beside the date before anything is sent.
    await page.locator('#long-term').uncheck();
    await page.locator('#id-number').fill(CITIZEN.id);
    await page.locator('#name').fill(CITIZEN.name);
    const sent = [];
    page.on('request', (request) => { if (request.url().includes('/enrollment/')) sent.push(request.url()); });
    await page.locator('#enroll-start').click();
    assert.match(await page.locator('#card-expiry-error').textContent(), lang === 'zh' ? /有效期截止日期/ : /valid until/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'card-expiry-year', 'the focus on the first empty part');
    await page.locator('#card-expiry-year').fill('2035');
    await page.locator('#card-expiry-month').selectOption('02');
    await page.locator('#card-expiry-day').selectOption('30');
    await page.locator('#enroll-start').click();
    assert.match(await page.locator('#card-expiry-error').textContent(), lang === 'zh' ? /没有这一天/ : /does not exist/, '30 February');
    await page.locator('#card-expiry-day').selectOption('28');
    // The upgraded edition's slip code and chosen PIN: checked before the face check, not after it.
    await page.locator('#edition').selectOption('upgraded');
    await page.locator('#tx-code').fill('12345');
    await page.locator('#new-pin').fill('987654');
    await page.locator('#enroll-start').click();
    assert.match(await page.locator('#tx-code-error').textContent(), lang === 'zh' ? /6 位验证码/ : /6-digit code/);
    assert.equal(await page.locator('#card-expiry-error').textContent(), '', 'the date is fine now');
    await page.locator('#tx-code').fill('123456');
    await page.locator('#enroll-start').click();
    assert.match(await page.locator('#new-pin-error').textContent(), lang === 'zh' ? /太容易被猜到/ : /too easy to guess/, 'a run downwards');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'new-pin');
    assert.equal(await page.locator('#tx-code-error').textContent(), '');
    assert.deepEqual(await accessibilityViolations(page), []);
    assert.deepEqual(sent, [], 'nothing sent');
    await page.context().close();
  });

  test(`${lang}: a field the authority refuses is marked beside itself, in the reader's language, the focus on it`, async () => {
    const page = await enrollmentForm(lang);
    // A 15-digit number of an old card is left to the authority; this one's birth date (1961-13-04) does not exist.
    await page.locator('#id-number').fill('110105611304013');
    await page.locator('#name').fill(CITIZEN.name);
    await page.locator('#long-term').check();
    const refusal = page.waitForResponse((r) => r.url().endsWith('/enrollment/sessions'));
    await page.locator('#enroll-start').click();
    const response = await refusal;
    assert.equal(response.status(), 400);
    const problem = await response.json();
    assert.deepEqual([problem.field, problem.code], ['id_number', 'core.id_number.birth_date'], 'the server names the field');
    await page.waitForFunction(() => document.getElementById('id-number-error').textContent.length > 0);
    assert.equal(await page.locator('#view-enroll').isVisible(), true, 'still the form: no camera, no failure page');
    assert.equal(await page.locator('#id-number').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'id-number');
    const beside = await page.locator('#id-number-error').textContent();
    assert.match(beside, lang === 'zh' ? /出生日期不存在/ : /birth date .* does not exist/);
    assert.ok((await page.locator('#id-number').getAttribute('aria-describedby')).includes('id-number-error'), 'read out with the field');
    const shown = await page.locator('main').innerText();
    if (lang === 'zh') {
      assert.doesNotMatch(shown, ENGLISH, `no English sentence on the Chinese page: ${shown}`);
      assert.doesNotMatch(shown, /摄像头正对|光线/, 'the advice is about the form, not the camera');
    } else {
      assert.doesNotMatch(shown, /id_number|\bcamera\b.*light/, 'no field names, no camera advice');
    }
    await screenshot(page, `forms-${lang}-server-refusal`);
    assert.deepEqual(await accessibilityViolations(page), []);
    // Corrected, the mark goes.
    await page.locator('#id-number').fill(CITIZEN.id);
    assert.equal(await page.locator('#id-number').getAttribute('aria-invalid'), 'false');
    assert.equal(await page.locator('#id-number-error').textContent(), '');
    await page.context().close();
  });
}

test('an upgraded card: the QR fills the screen, the status line is per view, and withdrawal needs the word and the PIN (zh, then en)', async () => {
  const slip = await attestAtTheConsole(tools, demo);
  const phoneBrowser = await browserWithCamera(await selfieCamera(tools, 'camera-forms-citizen', photo('obama2.jpg')));
  try {
    const phone = await phoneBrowser.newContext({ ...PHONE, locale: LOCALES.zh });
    await litByTheScreen(phone);
    const page = await openPage(phone);
    await startEnrollment(page, demo, 'upgraded', { txCode: slip, pin: '482915' });
    await readyForTheColours(page);
    await waitForView(page, 'view-card', 120_000);
    // Written once the card is drawn, which may be a moment after its view shows.
    await page.waitForFunction(() => document.getElementById('status').textContent === '证件已保存在本机。', null, { timeout: 10_000 });

    // The QR: as wide as the screen, ≥ 3 CSS px (≈ 0.5 mm on a 390-px-wide phone) per module; the card's message gone.
    await page.locator('#purpose').selectOption('hotel_checkin');
    await page.locator('#show-qr').click();
    await waitForView(page, 'view-qr');
    await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
    assert.equal(await page.locator('#status').textContent(), '', 'the status line is the view it was written for');
    const qr = await page.locator('#qr').boundingBox();
    const modules = Number(await page.locator('#qr').getAttribute('data-modules'));
    assert.ok(qr.width >= 0.9 * 390 && qr.x >= 0 && qr.x + qr.width <= 390, `the QR spans the screen: ${JSON.stringify(qr)}`);
    assert.ok(Math.abs(qr.x + qr.width / 2 - 195) <= 1, 'centred');
    assert.ok(qr.width / modules >= 3, `${(qr.width / modules).toFixed(2)} CSS px per module`);
    assert.equal(qr.width % modules, 0, 'whole pixels per module');
    await screenshot(page, 'forms-zh-qr');
    await page.locator('#qr-done').click();

    // Withdrawal: what it does, in the reader's language; the button waits for the word and the PIN.
    await page.locator('#show-revoke').click();
    await waitForView(page, 'view-revoke');
    const text = await page.locator('#view-revoke').innerText();
    assert.match(text, /在新手机上重新领取.*之前所有手机上的证件立即作废/s, 'enrolling on a new phone withdraws the earlier phones’ copies');
    assert.match(text, /注销全部：你所有手机上的全部证件都会作废，包括本机/, 'withdrawing leaves nothing anywhere');
    assert.equal(await page.locator('#revoke-pin').isVisible(), true, 'an upgraded card asks for its PIN');
    await page.locator('#revoke-confirm').fill('注销');
    assert.equal(await page.locator('#revoke-all').isDisabled(), true, 'not without the PIN');
    await page.getByLabel('增强版：你的 6 位 PIN').fill('135790');
    assert.equal(await page.locator('#revoke-all').isDisabled(), false);
    assert.deepEqual(await accessibilityViolations(page), []);
    const refused = page.waitForResponse((r) => r.url().endsWith('/citizen/revoke'));
    await page.locator('#revoke-all').click();
    assert.equal((await refused).status(), 401, 'the authority checks the PIN');
    await page.waitForFunction(() => document.getElementById('revoke-pin-error').textContent.length > 0);
    assert.match(await page.locator('#revoke-pin-error').textContent(), /^PIN 不对/);
    assert.equal(await page.locator('#revoke-pin').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'revoke-pin');
    assert.doesNotMatch(await page.locator('main').innerText(), ENGLISH, 'no English on the Chinese page');
    assert.equal(await page.locator('#revoke-all').isDisabled(), true, 'the PIN is typed again');
    await screenshot(page, 'forms-zh-withdrawal-wrong-pin');

    // In English now: the same view, the right PIN, everything withdrawn.
    await page.locator('#language button').click();
    assert.match(await page.locator('#view-revoke').innerText(), /Enroll again on the new one.*every earlier phone.*this one included/s);
    await page.locator('#revoke-confirm').fill('WITHDRAW');
    await page.getByLabel('Upgraded edition: your 6-digit PIN').fill('482915');
    await page.locator('#revoke-all').click();
    await waitForView(page, 'view-enroll');
    assert.match(await page.locator('#status').textContent(), /^Withdrawn/);
    await screenshot(page, 'forms-en-withdrawn');
    await phone.close();
  } finally {
    await phoneBrowser.close();
  }
});
