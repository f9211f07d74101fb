// The sign-in page of "Sign in with shenfen": shows the wallet request of an
// OpenID Connect authorization as a QR code and a same-device link, polls
// until the wallet has answered, then goes to the service with the code (or
// the error). The page's token is in the fragment: never sent to a server
// but in the poll's body, and never in a Referer.

import qrcode from '/vendor/qrcode.js';
import { $ } from '/app/dom.js';
import { addTexts, languageSwitch, problemLine, retryAfterOf, t, translatePage } from '/app/i18n.js';

addTexts({
  'signin.title': { zh: '用身份登录', en: 'Sign in with shenfen' },
  'signin.scan': { zh: '用身份钱包扫描此码，或在本机打开钱包。', en: 'Scan this code with your shenfen wallet, or open the wallet on this device.' },
  'signin.same_device': { zh: '在本机打开钱包', en: 'Open the wallet on this device' },
  'signin.waiting': { zh: '等待钱包回应…', en: 'Waiting for the wallet…' },
  'signin.done': { zh: '正在返回服务…', en: 'Returning to the service…' },
  'signin.elsewhere': { zh: '已回应。请在开始登录的设备上继续。', en: 'Answered. Continue on the device where you started signing in.' },
  'signin.closed': { zh: '此登录已失效，请回到服务重新开始。', en: 'This sign-in has ended; start again at the service.' },
});

const POLL_MS = 2000;
/**
 * The page's token: from the fragment when the service sent the browser
 * here, else from this tab's session storage — where it waits while the
 * same-device wallet answers in this tab and sends the browser back.
 */
const TOKEN_KEY = 'signin-token';
if (location.hash.length > 1) sessionStorage.setItem(TOKEN_KEY, location.hash.slice(1));
const token = sessionStorage.getItem(TOKEN_KEY);
let shown = null;

function show(request) {
  if (request === shown) return;
  shown = request;
  const code = qrcode(0, 'M');
  code.addData(request, 'Byte');
  code.make();
  const modules = code.getModuleCount() + 8;
  const cell = Math.max(2, Math.floor(Math.min(document.body.clientWidth, 480) / modules));
  $('qr').src = code.createDataURL(cell, 4 * cell);
  $('qr').alt = request;
  $('same-device').href = `/wallet/?${new URLSearchParams({ request })}`;
  $('same-device').hidden = false;
}

async function poll() {
  const response = await fetch('/authorize/poll', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const body = await response.json();
  if (!response.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('status').textContent = response.status === 404 ? t('signin.closed') : problemLine(body, response.status, retryAfterOf(response));
    $('qr').hidden = true;
    $('same-device').hidden = true;
    return;
  }
  if (body.status === 'done') {
    sessionStorage.removeItem(TOKEN_KEY);
    $('status').textContent = t('signin.done');
    location.replace(body.location);
    return;
  }
  show(body.authorization_request);
  $('status').textContent = t('signin.waiting');
  setTimeout(() => poll().catch((error) => { $('status').textContent = error.message; }), POLL_MS);
}

languageSwitch($('language'), () => translatePage());
translatePage();
history.replaceState(null, '', location.pathname);
if (token) {
  poll().catch((error) => { $('status').textContent = error.message; });
} else {
  // The wallet of another device's sign-in answered here: that device goes on.
  $('status').textContent = t('signin.elsewhere');
  $('qr').hidden = true;
}
