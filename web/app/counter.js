// The counter page: scans the citizen's QR code with the camera, has this
// server's counter verifier check it against cached keys and status list, and
// for L3 matches the face in front of the camera against the signed template.
// The page acts for a registered counter device: its token arrives once in
// the link's fragment (#device=…, never sent to a server) and stays in this
// browser; every request carries it.

import { $, showDefinitions } from '/app/dom.js';
import { addTexts, languageSwitch, problemLine, retryAfterOf, t, translatePage } from '/app/i18n.js';
import { grabFrame, openCamera, pause } from '/app/camera.js';
import { fillPurposes } from '/app/offline-format.js';

addTexts({
  'counter.title': { zh: '核验台', en: 'Counter' },
  'counter.purpose': { zh: '本核验台用于', en: 'This counter checks' },
  'counter.level': { zh: '需要的等级', en: 'Level needed' },
  'counter.l1': { zh: 'L1：证件与其手机', en: 'L1: the credential and its phone' },
  'counter.l3': { zh: 'L3：再加现场人脸比对', en: 'L3: plus the face in front of the counter' },
  'counter.scan': { zh: '扫描二维码', en: 'Scan a QR code' },
  'counter.camera': { zh: '摄像头', en: 'Camera' },
  'counter.looking': { zh: '请把二维码对准摄像头…', en: 'Hold the QR code up to the camera…' },
  'counter.face': { zh: '请本人看向摄像头…', en: 'Now the person: look at the camera…' },
  'counter.checking': { zh: '正在核验…', en: 'Checking…' },
  'counter.cache': { zh: '发证机关密钥与注销列表：{age} 前更新（超过 {max} 小时拒绝）', en: 'Issuer keys and status list cached {age} ago (refused past {max} h)' },
  'counter.cache_stale': { zh: '缓存已过期：请联网更新后再核验。', en: 'The cache is too old: go online to refresh it before checking.' },
  'counter.ok': { zh: '核验通过', en: 'Verified' },
  'counter.refused': { zh: '拒绝', en: 'Refused' },
  'counter.level_reached': { zh: '等级', en: 'Level' },
  'counter.edition': { zh: '版本', en: 'Edition' },
  'counter.face_match': { zh: '现场人脸', en: 'Live face' },
  'counter.matched': { zh: '一致（相似度 {similarity}）', en: 'matches (similarity {similarity})' },
  'seconds': { zh: '{n} 秒', en: '{n} s' },
  'counter.unregistered': { zh: '本设备尚未登记为核验台：请打开管理员给出的核验台链接，或在下面填入核验台令牌。', en: 'This device is not registered as a counter: open the counter link your supervisor gave you, or enter the counter token below.' },
  'counter.token': { zh: '核验台令牌', en: 'Counter token' },
  'counter.save_token': { zh: '保存', en: 'Save' },
});

const DEVICE_TOKEN = 'shenfen.counter.device';
let scanning = false;

/** Keeps a token that came in the link's fragment, and takes it out of the address bar. */
function takeTokenFromLink() {
  const token = new URLSearchParams(window.location.hash.slice(1)).get('device');
  if (!token) return;
  window.localStorage.setItem(DEVICE_TOKEN, token);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

/** The headers every counter request carries: this device's token. */
function deviceHeaders() {
  const token = window.localStorage.getItem(DEVICE_TOKEN);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The device is not (or no longer) registered: forget its token and ask for one. */
function unregistered() {
  window.localStorage.removeItem(DEVICE_TOKEN);
  $('cache').textContent = t('counter.unregistered');
  $('device-form').hidden = false;
  $('scan').disabled = true;
}

function saveToken(event) {
  event.preventDefault();
  const token = $('device-token').value.trim();
  if (!token) return;
  window.localStorage.setItem(DEVICE_TOKEN, token);
  $('device-token').value = '';
  $('device-form').hidden = true;
  $('scan').disabled = false;
  showCache();
}

async function showCache() {
  // No token, nothing to ask: a request bound to be refused would only log an error.
  if (!window.localStorage.getItem(DEVICE_TOKEN)) return unregistered();
  try {
    const response = await fetch('/counter/cache', { headers: deviceHeaders() });
    if (response.status === 401) return unregistered();
    const cache = await response.json();
    const stale = cache.age_secs > cache.max_age_secs;
    $('cache').textContent = stale
      ? t('counter.cache_stale')
      : t('counter.cache', { age: t('seconds', { n: cache.age_secs }), max: cache.max_age_secs / 3600 });
  } catch {
    $('cache').textContent = t('counter.cache_stale');
  }
}

/** POSTs JSON; a refusal comes back with its problem (RFC 9457) body and one readable line. */
async function post(path, body) {
  const headers = { 'content-type': 'application/json', ...deviceHeaders() };
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (response.status === 401) unregistered();
  if (response.ok) return { ok: true, body: await response.json() };
  const problem = await response.json().catch(() => ({}));
  return { ok: false, body: problem, text: problemLine(problem, response.status, retryAfterOf(response)) };
}

/** Sends camera frames until one holds a readable QR code; returns its payload text. */
async function findQr(video) {
  $('step').textContent = t('counter.looking');
  while (scanning) {
    const answer = await post('/counter/scan', { frame: grabFrame(video, 'image/png') });
    if (answer.ok) return answer.body.qr_text;
    const type = String(answer.body.type || '');
    if (type.endsWith(':counter-unauthenticated')) throw new Error(answer.text);
    // A busy server or a spent frame budget: ask less often for a while.
    await pause(type.endsWith(':busy') || type.endsWith(':rate-limited') ? 2000 : 400);
  }
  return null;
}

async function scan() {
  if (scanning) return;
  scanning = true;
  $('result').hidden = true;
  $('scan').disabled = true;
  let stop = () => {};
  try {
    stop = await openCamera($('camera'), 'environment');
    const qrText = await findQr($('camera'));
    const request = { qr_text: qrText, purpose: $('purpose').value, level: $('level').value };
    if (request.level === 'L3') {
      $('step').textContent = t('counter.face');
      await pause(1500);
      request.live_face = grabFrame($('camera'));
    }
    $('step').textContent = t('counter.checking');
    const answer = await post('/counter/verify', request);
    showResult(answer);
  } catch (error) {
    showResult({ ok: false, text: error.message, body: {} });
  } finally {
    stop();
    scanning = false;
    $('scan').disabled = false;
    $('step').textContent = '';
    showCache();
  }
}

function showResult(answer) {
  $('result').className = `notice ${answer.ok ? 'ok' : 'bad'}`;
  $('result-heading').textContent = answer.ok ? t('counter.ok') : t('counter.refused');
  const pairs = [];
  if (answer.ok) {
    const result = answer.body;
    for (const [name, value] of Object.entries(result.claims)) pairs.push([t(`claim.${name}`), String(value)]);
    pairs.push([t('counter.edition'), String(result.edition)], [t('counter.level_reached'), result.level]);
    if (result.face && result.face.matched) pairs.push([t('counter.face_match'), t('counter.matched', { similarity: result.face.live_similarity.toFixed(2) })]);
    $('result-detail').textContent = '';
  } else {
    $('result-detail').textContent = answer.body.code ? `${answer.text} (${answer.body.code})` : answer.text;
  }
  showDefinitions($('result-claims'), pairs);
  $('result').dataset.outcome = answer.ok ? 'verified' : 'refused';
  $('result').hidden = false;
}

takeTokenFromLink();
languageSwitch($('language'), showCache);
translatePage();
$('device-form').addEventListener('submit', saveToken);
fillPurposes($('purpose')).catch(() => showCache());
$('scan').addEventListener('click', scan);
showCache();
