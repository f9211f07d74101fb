// The operator console: sign in, check a card against the registry (masked
// answers only), attest a citizen in person for the upgraded edition, and —
// for supervisors — revoke, read enrollment statistics and the audit log,
// register relying parties (their secrets shown once).

import { $, showDefinitions } from '/app/dom.js';
import { addTexts, languageSwitch, problemLine, retryAfterOf, t, translatePage } from '/app/i18n.js';
import { drawHourlyBars } from '/app/chart.js';

addTexts({
  'console.title': { zh: '工作人员控制台', en: 'Operator console' },
  'login.heading': { zh: '登录', en: 'Sign in' },
  'login.username': { zh: '工号', en: 'Operator name' },
  'login.password': { zh: '密码', en: 'Password' },
  'login.submit': { zh: '登录', en: 'Sign in' },
  'login.logout': { zh: '退出', en: 'Sign out' },
  'login.as': { zh: '已登录：{name}（{role}）', en: 'Signed in as {name} ({role})' },
  'lookup.heading': { zh: '核对身份证', en: 'Check a card against the registry' },
  'lookup.id_number': { zh: '身份证号（看着本人的证件输入）', en: 'ID number (from the card in front of you)' },
  'lookup.submit': { zh: '查询', en: 'Look up' },
  'lookup.name': { zh: '姓名', en: 'Name' },
  'lookup.number': { zh: '身份证号', en: 'ID number' },
  'lookup.expiry': { zh: '有效期至', en: 'Card valid until' },
  'attest.submit': { zh: '现场核验（增强版）', en: 'Attest in person (upgraded edition)' },
  'attest.code': { zh: '凭条验证码', en: 'Code for the slip' },
  'attest.until': { zh: '有效至', en: 'Valid until' },
  'revoke.heading': { zh: '注销证件', en: "Revoke a citizen's credentials" },
  'revoke.reason': { zh: '原因', en: 'Reason' },
  'revoke.submit': { zh: '注销', en: 'Revoke' },
  'revoke.done': { zh: '已注销 {n} 份证件。', en: '{n} credentials revoked.' },
  'reason.lost': { zh: '遗失', en: 'lost' },
  'reason.stolen': { zh: '被盗', en: 'stolen' },
  'reason.deceased': { zh: '死亡', en: 'deceased' },
  'reason.fraud_suspected': { zh: '涉嫌欺诈', en: 'fraud suspected' },
  'reason.card_replaced': { zh: '换证', en: 'card replaced' },
  'reason.registry_correction': { zh: '户籍更正', en: 'registry correction' },
  'stats.heading': { zh: '近 24 小时领证情况', en: 'Enrollments in the last 24 hours' },
  'stats.summary': { zh: '通过 {accepted}，拒绝 {refused}（绿色为通过，红色为拒绝）', en: '{accepted} accepted, {refused} refused (green accepted, red refused)' },
  'stats.reasons': { zh: '拒绝原因', en: 'Refusals by reason' },
  'stats.reason': { zh: '原因', en: 'Reason' },
  'stats.count': { zh: '次数', en: 'Count' },
  'rp.heading': { zh: '依赖方（接入服务）', en: 'Relying parties' },
  'rp.client_id': { zh: '客户端标识', en: 'Client id' },
  'rp.name': { zh: '名称', en: 'Name' },
  'rp.claims': { zh: '可请求的信息', en: 'Entitled to' },
  'rp.sign_in': { zh: '身份登录', en: 'Sign-in' },
  'rp.register_heading': { zh: '登记依赖方', en: 'Register a relying party' },
  'rp.share_sector_label': { zh: '与该领域已有的依赖方共用化名（同一机构：它们看到相同的用户标识）', en: 'Share the sector with the relying parties already in it (one organisation: they see the same subject)' },
  'rp.replace_label': { zh: '替换此客户端标识的现有登记（其密钥和回调地址随之更换）', en: 'Replace an existing registration of this client id (its secrets and redirect URIs change)' },
  'rp.client_id_label': { zh: '客户端标识：其网站源，如 https://hotel.example', en: 'Client id: its origin, e.g. https://hotel.example' },
  'rp.name_label': { zh: '向公民显示的名称', en: 'Name shown to citizens' },
  'rp.claims_label': { zh: '可请求的信息，用逗号分隔（如 name, age_over_18, is:age_over_18）', en: 'Claims it may ask for, separated by commas (e.g. name, age_over_18, is:age_over_18)' },
  'rp.redirects_label': { zh: '身份登录：回调地址，每行一个（留空则不开通登录）', en: 'Sign in with shenfen: its redirect URIs, one per line (empty: no sign-in)' },
  'rp.sector_label': { zh: '化名所属的领域（留空则取其自身主机）', en: 'Sector of its pairwise subjects (empty: its own host)' },
  'rp.jwks_label': { zh: 'private_key_jwt 用的公钥，JWK Set（留空则发放客户端密码）', en: 'Its public keys for private_key_jwt, a JWK Set (empty: a client secret)' },
  'rp.submit': { zh: '登记', en: 'Register' },
  'rp.shown_once': { zh: '请现在交给依赖方：以下密钥只显示一次，系统只保存其哈希。', en: 'Give these to the relying party now: they are shown once and kept only as hashes.' },
  'rp.api_key': { zh: 'API 密钥', en: 'API key' },
  'rp.client_secret': { zh: '客户端密码（client_secret_basic）', en: 'Client secret (client_secret_basic)' },
  'rp.jwks_invalid': { zh: '公钥不是 JSON 格式的 JWK Set。', en: 'The public keys are not a JWK Set in JSON.' },
  'audit.heading': { zh: '审计日志', en: 'Audit log' },
  'audit.when': { zh: '时间', en: 'When' },
  'audit.kind': { zh: '事件', en: 'Event' },
  'audit.actor': { zh: '操作者', en: 'By' },
  'audit.details': { zh: '详情', en: 'Details' },
  'audit.more': { zh: '更多记录', en: 'More entries' },
});

let session = JSON.parse(sessionStorage.getItem('shenfen.operator') || 'null');

function say(text) {
  $('status').textContent = text;
}

/** Calls an operator endpoint with the session's token; a refusal throws its problem's detail. */
async function call(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401 && session) signedOut();
  if (!response.ok) throw new Error(problemLine(answer, response.status, retryAfterOf(response)));
  return answer;
}

/** Shows the lookup box with these pairs. */
function showFound(pairs) {
  showDefinitions($('lookup-fields'), pairs);
  $('lookup-result').hidden = false;
}

async function login(event) {
  event.preventDefault();
  try {
    session = await call('POST', '/operator/login', { username: $('username').value, password: $('password').value });
    sessionStorage.setItem('shenfen.operator', JSON.stringify(session));
    $('password').value = '';
    say('');
    await signedIn();
  } catch (error) {
    say(error.message);
  }
}

function signedOut() {
  session = null;
  sessionStorage.removeItem('shenfen.operator');
  $('work-view').hidden = true;
  $('login-view').hidden = false;
}

async function signedIn() {
  $('login-view').hidden = true;
  $('work-view').hidden = false;
  $('signed-in').textContent = t('login.as', { name: session.username, role: session.role });
  $('supervisor').hidden = session.role !== 'supervisor';
  if (session.role === 'supervisor') await Promise.all([loadStatistics(), loadAudit(true), loadRelyingParties()]);
}

async function lookup(event) {
  event.preventDefault();
  try {
    const found = await call('POST', '/operator/lookup', { id_number: $('lookup-id').value.trim() });
    showFound([[t('lookup.name'), found.name_masked], [t('lookup.number'), found.id_number_masked], [t('lookup.expiry'), found.card_expiry]]);
    say('');
  } catch (error) {
    $('lookup-result').hidden = true;
    say(error.message);
  }
}

async function attest() {
  try {
    const slip = await call('POST', '/operator/attestations', { id_number: $('lookup-id').value.trim(), method: 'counter' });
    showFound([[t('attest.code'), slip.tx_code], [t('attest.until'), new Date(slip.expires_at * 1000).toLocaleString()]]);
    say('');
  } catch (error) {
    say(error.message);
  }
}

async function revoke(event) {
  event.preventDefault();
  try {
    const done = await call('POST', '/operator/revocations', { id_number: $('revoke-id').value.trim(), reason: $('revoke-reason').value });
    say(t('revoke.done', { n: done.revoked }));
    await loadAudit(true);
  } catch (error) {
    say(error.message);
  }
}

/** A registered relying party as a table row. */
function relyingPartyRow(party) {
  const signIn = party.token_endpoint_auth_method ? `${party.token_endpoint_auth_method}: ${party.redirect_uris.join(' ')}` : '—';
  const row = document.createElement('tr');
  row.append(...[party.client_id, party.name, party.claims.join(', '), signIn].map((text) => Object.assign(document.createElement('td'), { textContent: text })));
  return row;
}

let relyingPartiesAsked = 0;

/** The registered relying parties; only the latest reading is drawn (the one at sign-in may answer after a registration's). */
async function loadRelyingParties() {
  const asked = ++relyingPartiesAsked;
  const parties = await call('GET', '/operator/relying-parties');
  if (asked === relyingPartiesAsked) $('rp-rows').replaceChildren(...parties.map(relyingPartyRow));
}

/** The registration the form describes; throws when the keys are not JSON. */
function registration() {
  const words = (id) => $(id).value.split(/[\s,]+/).filter(Boolean);
  const body = { client_id: $('rp-client-id').value.trim(), name: $('rp-name').value.trim(), claims: words('rp-claims'), redirect_uris: words('rp-redirects') };
  if ($('rp-sector').value.trim()) body.sector_identifier = $('rp-sector').value.trim();
  if ($('rp-share-sector').checked) body.share_sector = true;
  if ($('rp-replace').checked) body.replace = true;
  if ($('rp-jwks').value.trim()) {
    try {
      body.client_jwks = JSON.parse($('rp-jwks').value);
    } catch {
      throw new Error(t('rp.jwks_invalid'));
    }
  }
  return body;
}

async function registerRelyingParty(event) {
  event.preventDefault();
  try {
    const done = await call('POST', '/operator/relying-parties', registration());
    const secrets = [[t('rp.client_id'), done.client_id], [t('rp.api_key'), done.api_key]];
    if (done.client_secret) secrets.push([t('rp.client_secret'), done.client_secret]);
    showDefinitions($('rp-secrets'), secrets);
    $('rp-result').hidden = false;
    $('rp-form').reset();
    say('');
    await Promise.all([loadRelyingParties(), loadAudit(true)]);
  } catch (error) {
    say(error.message);
  }
}

async function loadStatistics() {
  const stats = await call('GET', '/operator/statistics?hours=24');
  drawHourlyBars($('stats-chart'), stats.hours);
  const sum = (key) => stats.hours.reduce((total, h) => total + h[key], 0);
  $('stats-summary').textContent = t('stats.summary', { accepted: sum('accepted'), refused: sum('refused') });
  const rows = $('reasons');
  rows.replaceChildren();
  for (const [reason, count] of Object.entries(stats.refusals)) {
    const row = rows.insertRow();
    row.insertCell().textContent = reason;
    row.insertCell().textContent = String(count);
  }
}

let auditAfter = 0;
let auditReading = 0;

async function loadAudit(fromStart) {
  if (fromStart) {
    auditAfter = 0;
    $('audit-rows').replaceChildren();
  }
  // As for the relying parties: a reading that a newer one overtook is dropped, not drawn twice.
  const reading = ++auditReading;
  const page = await call('GET', `/operator/audit?after=${auditAfter}&limit=50`);
  if (reading !== auditReading) return;
  for (const entry of page.entries) {
    const row = $('audit-rows').insertRow(0);
    row.insertCell().textContent = String(entry.seq);
    row.insertCell().textContent = new Date(entry.at * 1000).toLocaleString();
    row.insertCell().textContent = entry.kind;
    row.insertCell().textContent = entry.actor;
    row.insertCell().textContent = JSON.stringify(entry.details);
    auditAfter = entry.seq;
  }
  $('audit-more').hidden = page.entries.length < 50;
}

languageSwitch($('language'), () => session && signedIn());
translatePage();
$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', async () => {
  await call('POST', '/operator/logout').catch(() => {});
  signedOut();
});
$('lookup-form').addEventListener('submit', lookup);
$('attest').addEventListener('click', attest);
$('revoke-form').addEventListener('submit', revoke);
$('audit-more').addEventListener('click', () => loadAudit(false));
$('rp-form').addEventListener('submit', registerRelyingParty);
if (session) signedIn().catch(() => signedOut());
