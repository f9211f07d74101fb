// The government portal (政务服务, `shenfen services`, started by the demo on
// its own origin) in a real browser: a citizen with the upgraded edition
// signs in at L1 with the portal's pairwise sub, registers a business
// (企业登记) — the form, the consent, then the wallet at L3 with the PIN and
// a live face disclosing name and ID number — and sees the filing in their
// space; a registration clerk signs in and sees it with the legal
// representative and the evidence (L3, swk+pin+face, the issuer). Enrolled
// again in the lightweight edition, the same citizen keeps their space but
// is refused a registration with the upgrade advice, in Chinese, the draft kept.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  CITIZEN, accessibilityViolations, attestAtTheConsole, browserWithCamera, documented, litByTheScreen, openPage, phoneWithCard, photo,
  readyForTheColours, selfieCamera, startDemo, startEnrollment, waitForView,
} from './harness.mjs';

const PIN = '604219';
const COMPANY = '广州建国茶饮有限公司';
let demo;
let portal;
let laptop;
let phoneBrowser;
/** The citizen's phone: its wallet (IndexedDB) lives across the tests. */
let phone;

/** From a portal page that sent the browser to the authority: the sign-in page's same-device button, then the wallet's request. */
async function toTheWallet(page) {
  await page.waitForURL(`${demo.url}/signin/**`);
  await page.locator('#same-device').click();
  await waitForView(page, 'view-request');
}

/** Fills the registration form as a citizen would and sends it, with the consent ticked. */
async function registerTheBusiness(page) {
  await page.goto(`${portal}/filings/new`);
  await page.getByLabel(/^企业名称$/).fill(COMPANY);
  await page.getByLabel(/^企业类型$/).selectOption('limited_liability');
  await page.getByLabel(/^注册资本/).fill('50');
  await page.getByLabel(/^住所$/).fill('北京市朝阳区建国路1号');
  await page.getByLabel(/^经营范围$/).fill('茶饮制售');
  await page.getByLabel(/披露我的姓名和身份证号/).check();
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.getByRole('button', { name: /下一步/ }).click();
}

before(async () => {
  demo = await startDemo();
  portal = await demo.portal();
  laptop = await browserWithCamera();
  phoneBrowser = await browserWithCamera(await selfieCamera(laptop, 'camera-portal-citizen', photo('obama2.jpg')));
  phone = await phoneBrowser.newContext();
  await litByTheScreen(phone);
});

after(async () => {
  await phoneBrowser?.close();
  await laptop?.close();
  demo?.stop();
  // The demo's data (its registry, the services' database and keys) goes once it has stopped.
  await new Promise((stopped) => setTimeout(stopped, 1000));
  if (demo) rmSync(demo.dataDir, { recursive: true, force: true });
});

test('an upgraded citizen signs in at L1, registers a business at L3 with PIN and live face, and sees the filing', async () => {
  const slip = await attestAtTheConsole(laptop, demo);
  const enrolling = await openPage(phone);
  await startEnrollment(enrolling, demo, 'upgraded', { txCode: slip, pin: PIN });
  await readyForTheColours(enrolling);
  await waitForView(enrolling, 'view-card', 120_000);
  await enrolling.close();

  const page = await openPage(phone);
  await page.goto(`${portal}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.getByRole('link', { name: '用身份证登录' }).click();
  await toTheWallet(page);
  await page.locator('#request-share').click();
  await page.waitForURL(`${portal}/space`, { timeout: 60_000 });
  assert.match(await page.locator('main').textContent(), /还没有提交过登记/);
  assert.deepEqual(await accessibilityViolations(page), []);

  await registerTheBusiness(page);
  await toTheWallet(page);
  // The wallet asks L3 for the portal: the name and the full ID number, the PIN, then the live face.
  assert.match(await page.locator('#request-claims').textContent(), /姓名|name/);
  await page.getByLabel(/Your 6-digit PIN|你的 6 位 PIN/).fill(PIN);
  await page.locator('#request-share').click();
  await page.waitForURL(`${portal}/space?filed=*`, { timeout: 120_000 });
  assert.match(await page.locator('#filed').textContent(), /已提交企业登记，受理编号 [0-9A-F]{12}/);
  const row = await page.locator('#filings tbody tr').first().textContent();
  assert.match(row, new RegExp(`${COMPANY}.*有限责任公司.*L3`));
  assert.ok(!(await page.content()).includes(CITIZEN.id), 'the citizen\'s space shows no ID number');
  assert.deepEqual(await accessibilityViolations(page), []);
  await documented(page, 'portal-1-filed');
  await page.close();
});

test('a clerk signs in and sees the filing with the legal representative and its evidence; a wrong password is refused', async () => {
  const page = await openPage(laptop);
  await page.goto(`${portal}/clerk/`);
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.getByLabel('用户名').fill('demo-clerk');
  await page.getByLabel('密码').fill('not-the-password');
  await page.getByRole('button', { name: '登录' }).click();
  assert.match(await page.locator('[role=alert]').textContent(), /用户名或密码不正确/);
  await page.getByLabel('用户名').fill('demo-clerk');
  await page.getByLabel('密码').fill(demo.passwords['demo-clerk']);
  await page.getByRole('button', { name: '登录' }).click();
  await page.locator('#clerk-filings').waitFor();
  const row = page.locator('#clerk-filings article').first();
  assert.equal(await row.locator('.legal-name').textContent(), CITIZEN.name);
  assert.equal(await row.locator('.id-number').textContent(), CITIZEN.id);
  assert.equal(await row.locator('.acr').textContent(), 'L3');
  assert.equal(await row.locator('.amr').textContent(), 'swk+pin+face');
  assert.equal(await row.locator('.issuer').textContent(), demo.url);
  assert.match(await row.textContent(), new RegExp(`${COMPANY}.*name, id_number`));
  assert.match(await row.locator('.token-check').textContent(), /签名有效/, 'the id_token kept verifies against the authority\'s keys');
  assert.equal(await row.locator('.views').textContent(), '1 次（含本次）', 'this view is recorded');
  assert.deepEqual(await accessibilityViolations(page), []);
  await documented(page, 'portal-2-clerk');
  await page.close();
});

test('enrolled again in the lightweight edition: the same space, and a registration refused with the upgrade advice, the draft kept', async () => {
  const lightweightBrowser = await browserWithCamera(await selfieCamera(laptop, 'camera-portal-lightweight', photo('obama2.jpg')));
  try {
    const lightweight = await phoneWithCard(lightweightBrowser, demo);
    const page = await openPage(lightweight);
    await page.goto(`${portal}/login`);
    await toTheWallet(page);
    await page.locator('#request-share').click();
    await page.waitForURL(`${portal}/space`, { timeout: 60_000 });
    assert.match(await page.locator('#filings').textContent(), new RegExp(COMPANY), 'the same pairwise sub: the same space');

    await registerTheBusiness(page);
    await toTheWallet(page);
    assert.match(await page.locator('#request-unreachable').textContent(), /增强版|upgraded edition/);
    await page.locator('#request-tell').click();
    await page.waitForURL(`${portal}/callback?**`, { timeout: 60_000 });
    assert.match(await page.locator('[role=alert]').textContent(), /商事登记需要增强版身份证：请携带身份证到柜台升级/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await documented(page, 'portal-3-upgrade-needed');
    await page.goto(`${portal}/space`);
    assert.match(await page.locator('#drafts').textContent(), new RegExp(COMPANY), 'the draft is kept');
    await page.close();
  } finally {
    await lightweightBrowser.close();
  }
});
