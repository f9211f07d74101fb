// The citizen's wallet: enroll with the camera, hold single-use credentials
// bound to non-extractable device keys, show the card, show a refreshing
// offline QR code for a purpose, keep the disclosure log, withdraw.

import qrcode from '/vendor/qrcode.js';
import { $ } from '/app/dom.js';
import { addTexts, fieldLine, language, languageSwitch, problemLine, problemText, retryAfterOf, t, translatePage } from '/app/i18n.js';
import { grabFrame, openCamera, pause } from '/app/camera.js';
import { fillPurposes, offlineFormat } from '/app/offline-format.js';
import {
  cardClaims, disclosuresForPaths, fromB64, jwsHeader, packQrPayload, parseCredential, present, publicJwk, randomNonce, signJws, verifiedJwsPayload, verifiedWithKey,
} from '/app/sd-jwt.js';
import { allCredentials, appendLog, forgetCredentials, markUsed, newDeviceKey, readLog, replaceCredentials } from '/app/wallet-store.js';
import { cardStatus } from '/app/card-status.js';
import { idNumberProblem } from '/app/id-number.js';
import { ATTESTATION_PREFIX, missingRequired, serviceClaims, verifiedAttestation } from '/app/service-link.js';

addTexts({
  'wallet.title': { zh: '身份钱包', en: 'ID wallet' },
  'enroll.heading': { zh: '领取虚拟身份证', en: 'Get your virtual ID card' },
  'enroll.intro': { zh: '输入身份证上的信息，然后看着摄像头完成动作。身份证号只发送给发证机关，不会保存在本机。', en: 'Type what is on your ID card, then follow the steps in front of the camera. Your ID number goes to the issuing authority only and is not kept on this phone.' },
  'enroll.id_number': { zh: '身份证号', en: 'ID number' },
  'enroll.id_number_hint': { zh: '18 位，最后一位可以是 X', en: '18 characters; the last may be X' },
  'enroll.name': { zh: '姓名', en: 'Name' },
  'enroll.card_expiry': { zh: '有效期至', en: 'Card valid until' },
  'enroll.long_term': { zh: '长期', en: 'long-term (长期)' },
  'date.year': { zh: '年', en: 'Year' },
  'date.month': { zh: '月', en: 'Month' },
  'date.day': { zh: '日', en: 'Day' },
  'form.name_missing': { zh: '请填写身份证上的姓名。', en: 'Type your name as printed on the card.' },
  'form.expiry_missing': { zh: '请填写身份证背面的有效期截止日期（年、月、日），或勾选“长期”。', en: 'Give the “valid until” date on the back of your card (day, month and year), or tick long-term.' },
  'form.expiry_invalid': { zh: '没有这一天：请对照身份证核对年、月、日。', en: 'That day does not exist: check the day, month and year against your card.' },
  'form.fix_marked': { zh: '请改正标出的一项后重试。', en: 'Correct the marked field and try again.' },
  'form.tx_code': { zh: '请输入柜台凭条上的 6 位验证码。', en: 'Type the 6-digit code on the slip from the counter.' },
  'enroll.edition': { zh: '版本', en: 'Edition' },
  'enroll.tx_code': { zh: '柜台凭条上的验证码', en: 'Code on the slip from the counter' },
  'enroll.pin': { zh: '设置 6 位 PIN', en: 'Choose a 6-digit PIN' },
  'enroll.pin_hint': { zh: '不要用 123456、111111 这类数字', en: 'Not 123456, 111111 or similar' },
  'enroll.start': { zh: '开始人脸核验', en: 'Start the face check' },
  'edition.explain_lightweight': { zh: '简易版：证明“我是我”，酒店、车票、政务查询等大多数服务都够用。', en: 'Lightweight: proves who you are; enough for most services (hotels, tickets, government lookups).' },
  'edition.explain_upgraded': { zh: '增强版：每次使用还要 PIN 和现场人脸，用于注册企业等重要事项；须先到服务窗口核验身份证，领取凭条上的验证码。', en: 'Upgraded: each use also asks your PIN and a live face, for acts such as registering a business; visit a service counter first for the code on the slip.' },
  'id.length': { zh: '身份证号应为 18 位（旧证 15 位），现在是 {n} 位。', en: 'An ID number has 18 characters (15 on old cards); this has {n}.' },
  'id.characters': { zh: '前 17 位应为数字，最后一位是数字或 X。', en: 'The first 17 characters are digits; the last is a digit or X.' },
  'id.region': { zh: '前两位“{code}”不是省级行政区代码：请核对。', en: 'The first two digits, {code}, are not a province code: check them.' },
  'id.birth_date': { zh: '第 7–14 位的出生日期 {date} 不存在：请核对。', en: 'The birth date in characters 7–14, {date}, does not exist: check it.' },
  'id.check': { zh: '最后一位校验码应为 {expected}，不是 {found}：可能有一位输错了，请逐位核对。', en: 'The last character should be {expected}, not {found}: a digit is probably mistyped; check each one.' },
  'enroll.again': { zh: '重新领取', en: 'Enroll again' },
  'camera.heading': { zh: '人脸核验', en: 'Face check' },
  'camera.intro': { zh: '手臂伸直拿好手机，把脸放在画面中间，光线充足，按提示做动作。最后屏幕会变换几种颜色约两秒（不闪烁）；如果强光或变色会让你不适，请到政务服务大厅办理。', en: "Hold the phone at arm's length with your face in the middle of the picture, in good light, and do what each step says. At the end the screen shows a few colours for about two seconds (no strobing); if bright or changing light troubles you, a service counter can enroll you instead." },
  'camera.video': { zh: '摄像头画面', en: 'Camera picture' },
  'camera.progress': { zh: '核验进度', en: 'Progress of the face check' },
  'step.look_straight': { zh: '请正对摄像头', en: 'Look straight at the camera' },
  'step.turn_left': { zh: '请向左转头', en: 'Turn your head to the left' },
  'step.turn_right': { zh: '请向右转头', en: 'Turn your head to the right' },
  'step.blink': { zh: '请眨眼', en: 'Blink' },
  'step.nod': { zh: '请点头', en: 'Nod' },
  'step.open_mouth': { zh: '请张嘴', en: 'Open your mouth' },
  'step.flash_ready': { zh: '最后一步：屏幕将显示 5 种颜色，共约 2 秒。请保持脸在画面中，准备好后点“开始”。', en: 'Last step: the screen will show 5 colours for about 2 seconds. Keep your face in the picture and press Start when ready.' },
  'step.flash_start': { zh: '开始', en: 'Start' },
  'step.flash': { zh: '请保持不动，看着屏幕', en: 'Hold still and look at the screen' },
  'step.sending': { zh: '正在核验…', en: 'Checking…' },
  'status.issuing': { zh: '核验通过，正在领取证件…', en: 'Checked. Receiving your card…' },
  'status.ready': { zh: '证件已保存在本机。', en: 'Your card is on this phone.' },
  'failure.heading': { zh: '没有成功', en: 'That did not work' },
  'failure.retry': { zh: '重试', en: 'Try again' },
  'failure.camera': { zh: '无法打开摄像头。请在浏览器设置里允许本网站使用摄像头，然后重试。', en: 'The camera did not open. Allow this site to use the camera in the browser settings, then try again.' },
  'failure.refused': { zh: '请检查输入的信息与身份证一致，在光线充足处正对摄像头后重试。多次失败请到政务服务大厅办理。', en: 'Check that what you typed matches your card, face the camera in good light and try again. If it keeps failing, a service counter can help.' },
  'failure.fix_form': { zh: '请返回表单，对照身份证改正后重试。', en: 'Go back to the form, correct it against your card and try again.' },
  'failure.network': { zh: '无法连接发证机关。请检查网络后重试。', en: 'The authority cannot be reached. Check the connection and try again.' },
  'failure.no_copies': { zh: '本机的证件副本已用完或已过期。请重新领取。', en: 'Every copy of your card on this phone is used or expired. Enroll again to get new ones.' },
  'card.heading': { zh: '我的虚拟身份证', en: 'My virtual ID card' },
  'card.name': { zh: '姓名', en: 'Name' },
  'card.id_number': { zh: '身份证号', en: 'ID number' },
  'card.edition': { zh: '版本', en: 'Edition' },
  'card.valid_until': { zh: '证件有效期至', en: 'Card valid until' },
  'card.long_term': { zh: '长期', en: 'long-term (长期)' },
  'card.renews': { zh: '凭证自动更新于', en: 'Credential renews on' },
  'card.copies': { zh: '可用次数', en: 'Unused copies' },
  'card.status': { zh: '状态', en: 'Status' },
  'status.valid': { zh: '有效（刚向发证机关核对）', en: 'Valid (just checked with the authority)' },
  'status.stale': { zh: '有效——这是 {minutes} 分钟前核对的结果，现在无法联网核对', en: 'Valid as of {minutes} minutes ago; the authority cannot be reached now' },
  'status.unknown': { zh: '尚未能向发证机关核对（无网络）', en: 'Not yet checked with the authority (no network)' },
  'status.revoked': { zh: '已注销：此卡已在另一部手机上重新领取，或已被注销。本机不能再出示它。请重新领取，或到窗口办理。', en: 'Revoked: this card was enrolled on another phone, or withdrawn. This phone can no longer show it. Enroll again, or visit a counter.' },
  'status.expired': { zh: '已过期：本机的证件副本都已过期。请重新领取以更新。', en: 'Expired: every copy of the card on this phone has expired. Enroll again to renew it.' },
  'qr.purpose': { zh: '出示用途', en: 'Show it for' },
  'qr.show': { zh: '出示二维码', en: 'Show QR code' },
  'qr.heading': { zh: '请向柜台出示', en: 'Show this to the counter' },
  'qr.what': { zh: '将向“{purpose}”出示：{claims}。不出示身份证号。', en: 'For {purpose}, this shows: {claims}. Your ID number is not shown.' },
  'qr.refresh': { zh: '{seconds} 秒后刷新', en: 'Refreshes in {seconds} s' },
  'qr.done': { zh: '完成', en: 'Done' },
  'qr.single_use': { zh: '每个二维码只用一次：这次出示用掉一份副本，本机还剩 {left} 份（用完后请重新领取）。', en: 'Each QR code is used once: showing this one used a copy of your card; {left} are left on this phone (when they run out, enroll again).' },
  'log.show': { zh: '出示记录', en: 'Disclosure log' },
  'log.heading': { zh: '我出示过什么', en: 'What I disclosed' },
  'log.when': { zh: '时间', en: 'When' },
  'log.to': { zh: '对象', en: 'To' },
  'log.level': { zh: '等级', en: 'Level' },
  'log.claims': { zh: '内容', en: 'Claims' },
  'log.export': { zh: '导出 (JSON)', en: 'Export (JSON)' },
  'log.empty': { zh: '还没有出示记录。', en: 'Nothing disclosed yet.' },
  'revoke.show': { zh: '手机丢失 / 注销', en: 'Lost phone / withdraw' },
  'revoke.heading': { zh: '手机丢失怎么办', en: 'If you lose your phone' },
  'revoke.lost': { zh: '手机丢了：在新手机上重新领取即可。领取的同时，之前所有手机上的证件立即作废，只有新手机上的可用（增强版须先到服务窗口核验）。也可以到政务服务大厅由工作人员注销。', en: 'Lost your phone? Enroll again on the new one: that at once withdraws the credentials on every earlier phone, and only the new phone’s work (the upgraded edition needs a counter visit first). A service counter can also withdraw them for you.' },
  'revoke.here': { zh: '注销全部：你所有手机上的全部证件都会作废，包括本机，什么都不剩，直到你重新领取。转让或丢弃手机前可以这样做。', en: 'Withdraw everything: every credential on every phone of yours stops working, this one included, and none is left until you enroll again. Do this before giving a phone away.' },
  'revoke.pin': { zh: '增强版：你的 6 位 PIN', en: 'Upgraded edition: your 6-digit PIN' },
  'revoke.confirm': { zh: '确认请输入“注销”', en: 'To confirm, type WITHDRAW' },
  'revoke.word': { zh: '注销', en: 'WITHDRAW' },
  'revoke.button': { zh: '注销所有手机上的全部证件', en: 'Withdraw every credential on every phone' },
  'revoke.done': { zh: '已注销。柜台将不再接受这些证件。', en: 'Withdrawn. Counters will refuse these credentials from now on.' },
  back: { zh: '返回', en: 'Back' },
  'list.separator': { zh: '、', en: ', ' },
  'claim.pseudonym': { zh: '你在“{service}”的专属化名（不是身份证号）', en: 'your pseudonym for {service} (not your ID number)' },
  'claim.id_number': { zh: '完整身份证号', en: 'full ID number' },
  'claim.region': { zh: '所在地区', en: 'region' },
  'claim.birth_date': { zh: '出生日期', en: 'date of birth' },
  'claim.sex': { zh: '性别', en: 'sex' },
  'claim.address': { zh: '住址', en: 'address' },
  'level.L1': { zh: 'L1：证件与本机', en: 'L1: your card and this phone' },
  'level.L2': { zh: 'L2：另需 PIN', en: 'L2: also your PIN' },
  'level.L3': { zh: 'L3：另需 PIN 与现场人脸', en: 'L3: also your PIN and your face' },
  'request.link': { zh: '服务方的请求链接（openid4vp://…）', en: "A service's request link (openid4vp://…)" },
  'request.open': { zh: '打开请求', en: 'Open the request' },
  'request.heading': { zh: '有服务方请求查看你的证件', en: 'A service asks to see your card' },
  'request.who': { zh: '请求方', en: 'Who' },
  'request.why': { zh: '用途', en: 'Why' },
  'request.level': { zh: '等级', en: 'Level' },
  'request.what': { zh: '对方将收到', en: 'What they receive' },
  'request.optional': { zh: '可选，勾选才提供', en: 'optional: shared only if ticked' },
  'request.not_held': { zh: '本证件没有，不会提供', en: 'not on this card, not shared' },
  'request.questions': { zh: '以下问题对方只得到“是”或“否”：', en: 'For these questions they receive only "yes" or "no":' },
  'request.for_question': { zh: '只用于回答下面的问题，不提供给对方', en: 'only to answer the questions below, not passed on' },
  'question.age_over_18': { zh: '是否年满 18 岁', en: 'Are you 18 or older?' },
  'question.region': { zh: '身份证号是否由{region}签发', en: 'Was your ID number issued in {region}?' },
  'question.edition': { zh: '是否持有{edition}', en: 'Do you hold the {edition} edition?' },
  'request.pin': { zh: '你的 6 位 PIN', en: 'Your 6-digit PIN' },
  'request.face': { zh: '点“同意”后请看向摄像头，发证机关会核对你的人脸。', en: 'After Share, look at the camera: the authority checks your face.' },
  'request.share': { zh: '同意并提供', en: 'Share' },
  'request.decline': { zh: '拒绝', en: 'Decline' },
  'request.unreachable': { zh: '这项请求需要 {level} 等级，只有增强版身份证能达到（使用时还要 PIN，L3 还要现场人脸）。你的证件是简易版：请携带身份证到服务窗口核验，再在本机办理增强版。', en: 'This request needs level {level}, which only the upgraded edition reaches (with your PIN, and for L3 a live face). Your card is the lightweight edition: take your ID card to a service counter to be checked, then enroll in the upgraded edition on this phone.' },
  'request.tell': { zh: '告知对方“需要增强版”', en: 'Tell the service the upgraded edition is needed' },
  'request.told': { zh: '已告知对方：你的证件是简易版，达不到所需等级。除此之外什么都没有提供。', en: 'The service was told your card is the lightweight edition, which cannot reach the level asked. Nothing else was shared.' },
  'request.declined': { zh: '已拒绝，什么都没有提供。', en: 'Declined: nothing was shared.' },
  'request.foreign': { zh: '这个请求既不是由你的发证机关转交的，也没有得到它的认证，已拒绝。', en: 'This request neither comes through the authority of your card nor carries its attestation; refused.' },
  'request.attested': { zh: '这个服务方由你的发证机关认证，自己核验证件：发证机关不会得知这次出示。', en: 'The authority of your card vouches for this service, which checks your card itself: the authority is not told of this answer.' },
  'request.foreign_failed': { zh: '{host} 上的服务没有给出有效的请求，已拒绝。', en: 'The service at {host} did not give a valid request; refused.' },
  'service.not_attested': { zh: '这个服务链接没有得到你的发证机关的认证，或已过期，已拒绝。', en: 'This service link does not carry a valid attestation from the authority of your card, or it has expired; refused.' },
  'service.what': { zh: '出示给“{service}”：将出示{claims}。其他内容不出示。', en: 'For {service}: this shows {claims}. Nothing else is shown.' },
  'service.refresh': { zh: '你的证件是在公安机关的密钥启用之前领取的，没有加密的身份证号，酒店无法为你登记。请在本机重新领取证件（“重新领取”），然后再扫一次入住二维码。', en: 'Your card was issued before the police key was in use, so it carries no sealed ID number and the hotel cannot register you. Enroll again on this phone (“Enroll again”), then scan the check-in code again.' },
  'request.beyond': { zh: '请求超出了发证机关为该服务方认证的范围，已拒绝。', en: 'The request goes beyond what the authority vouched for this service; refused.' },
  'request.origin': { zh: '此登录于 {time} 从 {address} 发起。如果不是您本人刚刚发起的，请拒绝。', en: 'This sign-in was started at {time} from {address}. If you did not start it yourself just now, decline.' },
  'request.origin_time': { zh: '此登录于 {time} 发起。如果不是您本人刚刚发起的，请拒绝。', en: 'This sign-in was started at {time}. If you did not start it yourself just now, decline.' },
  'request.declined_unsent': { zh: '已拒绝，什么都没有提供；对方要等请求过期才会知道。', en: 'Declined: nothing was shared. The service will know once its request expires.' },
  'request.mismatch': { zh: '请求内容与链接不符，已拒绝。', en: 'The signed request does not match its link; refused.' },
  'request.advice': { zh: '请让服务方重新发起请求。PIN 多次输错会被暂时锁定。', en: 'Ask the service for a new request. Wrong PINs lock it for a growing time.' },
  'answered.heading': { zh: '已提供', en: 'Shared' },
  'answered.detail': { zh: '已向“{service}”提供。可在出示记录里查看。', en: 'Shared with {service}. The disclosure log shows what.' },
});

const views = [...document.querySelectorAll('main > section')].map((section) => section.id);
let retry = () => show('view-enroll');
let qrTimer = null;

/** Shows one view; the status line belongs to the view it was written for, so it is cleared. */
function show(view) {
  status('');
  for (const id of views) $(id).hidden = id !== view;
  const heading = $(view).querySelector('h2');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

function status(text) {
  $('status').textContent = text;
}

function fail(detail, advice, again = () => show('view-enroll')) {
  $('failure-detail').textContent = detail;
  $('failure-advice').textContent = advice;
  retry = again;
  show('view-failure');
}

/** Calls the authority; a refusal becomes an Error carrying the problem's text, and the problem itself. */
async function call(path, init = {}) {
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw Object.assign(new Error(t('failure.network')), { network: true });
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw Object.assign(new Error(problemLine(problem, response.status, retryAfterOf(response))), { problem });
  }
  return response.json();
}

/** The next step after an enrollment refusal: a form to correct, or the camera and the light. */
function enrollmentAdvice(error) {
  if (error.network) return '';
  return String(error.problem?.type ?? '').endsWith(':invalid-request') ? t('failure.fix_form') : t('failure.refused');
}

const postJson = (path, body) =>
  call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The chosen edition's fields (the slip's code and a PIN for the upgraded one). */
function showEditionFields() {
  $('upgraded-fields').hidden = $('edition').value !== 'upgraded';
}

/**
 * The form's fields by the name the server gives them in a refusal (the
 * problem's `field`, docs/ERRORS.md): the control to mark and focus, and the
 * paragraph beside it that says what is wrong.
 */
const FORM_FIELDS = {
  id_number: { control: 'id-number', error: 'id-number-error' },
  name: { control: 'name', error: 'name-error' },
  card_expiry: { control: 'card-expiry-year', error: 'card-expiry-error' },
  edition: { control: 'edition', error: 'edition-error' },
  pin: { control: 'new-pin', error: 'new-pin-error' },
};
const REVOKE_PIN = { control: 'revoke-pin', error: 'revoke-pin-error' };
/** Not a field of the enrollment request: the code goes to /token after the face check. */
const TX_CODE = { control: 'tx-code', error: 'tx-code-error' };

/** Marks a field wrong: the reason beside it, `aria-invalid`, and the focus on it (the first empty part of a date). */
function markField({ control, error }, message) {
  $(error).textContent = message;
  $(control).setAttribute('aria-invalid', 'true');
  const empty = control === 'card-expiry-year' && !$('long-term').checked && expiryParts().find((part) => !part.value);
  (empty || $(control)).focus();
}

function clearField({ control, error }) {
  $(error).textContent = '';
  $(control).removeAttribute('aria-invalid');
}

/**
 * A refusal about one field of a form: back on the form with that field
 * marked and explained in the reader's language — a typo is fixed in the
 * form, not in front of the camera.
 */
function showFieldRefusal(view, field, message) {
  show(view);
  markField(field, message);
  status(t('form.fix_marked'));
}

/** The ID number's problem beside the field (and the field marked), or nothing; answers whether it is fine. */
function showIdNumberProblem() {
  const problem = idNumberProblem($('id-number').value);
  $('id-number-error').textContent = problem ? t(problem.key, problem.params) : '';
  $('id-number').setAttribute('aria-invalid', String(Boolean(problem)));
  return !problem;
}

const expiryParts = () => [$('card-expiry-year'), $('card-expiry-month'), $('card-expiry-day')];

/**
 * The month and day lists, in the reader's language (月 and 日 follow the
 * number in Chinese; English names the month), keeping what was chosen.
 */
function fillDateParts() {
  const months = new Intl.DateTimeFormat(language() === 'zh' ? 'zh-CN' : 'en', { month: language() === 'zh' ? 'numeric' : 'long', timeZone: 'UTC' });
  const fill = (select, count, label) => {
    const chosen = select.value;
    select.replaceChildren(new Option('—', ''), ...Array.from({ length: count }, (_, i) => new Option(label(i + 1), String(i + 1).padStart(2, '0'))));
    select.value = chosen;
  };
  fill($('card-expiry-month'), 12, (m) => months.format(Date.UTC(2000, m - 1, 1)).replace('月', ''));
  fill($('card-expiry-day'), 31, String);
}

/** Under 长期 the date does not apply: its parts are disabled, and look it. */
function longTermChanged() {
  const longTerm = $('long-term').checked;
  for (const part of expiryParts()) part.disabled = longTerm;
  $('card-expiry').classList.toggle('disabled', longTerm);
  clearField(FORM_FIELDS.card_expiry);
}

/** The card's expiry as the server reads it (`YYYY-MM-DD` or 长期), or the key of what is wrong with it. */
function cardExpiry() {
  if ($('long-term').checked) return { value: '长期' };
  const [year, month, day] = expiryParts().map((part) => part.value.trim());
  if (!/^\d{4}$/.test(year) || !month || !day) return { problem: 'form.expiry_missing' };
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCMonth() !== Number(month) - 1) return { problem: 'form.expiry_invalid' };
  return { value: `${year}-${month}-${day}` };
}

/**
 * The text key of why the authority would refuse `pin` as a new PIN
 * (`shenfen_core::check_new_pin`: six digits, neither one repeated digit nor
 * a run such as 123456, 987654 or 890123), or null: told before the face
 * check rather than after it.
 */
function newPinProblem(pin) {
  if (!/^\d{6}$/.test(pin)) return 'field.pin';
  const steps = [...pin].slice(1).map((digit, i) => (Number(digit) - Number(pin[i]) + 10) % 10);
  return steps.every((step) => step === steps[0]) && [0, 1, 9].includes(steps[0]) ? 'code.core.pin.invalid' : null;
}

/** The upgraded edition's two fields, checked; answers whether they are fine (the first wrong one marked). */
function upgradedFieldsFine() {
  if (!/^\d{6}$/.test($('tx-code').value.trim())) {
    markField(TX_CODE, t('form.tx_code'));
    return false;
  }
  const pinProblem = newPinProblem($('new-pin').value);
  if (pinProblem) markField(FORM_FIELDS.pin, t(pinProblem));
  return !pinProblem;
}

/** Checks the form before anything is sent; marks the first wrong field and answers the form, or null. */
function checkedForm() {
  for (const field of [...Object.values(FORM_FIELDS), TX_CODE]) clearField(field);
  // A typo is told beside the field, in the reader's language.
  if (!showIdNumberProblem()) {
    $('id-number').focus();
    return null;
  }
  if (!$('name').value.trim()) {
    markField(FORM_FIELDS.name, t('form.name_missing'));
    return null;
  }
  const expiry = cardExpiry();
  if (expiry.problem) {
    markField(FORM_FIELDS.card_expiry, t(expiry.problem));
    return null;
  }
  if ($('edition').value === 'upgraded' && !upgradedFieldsFine()) return null;
  return {
    id_number: $('id-number').value.trim().toUpperCase(),
    name: $('name').value.trim(),
    card_expiry: expiry.value,
    edition: $('edition').value,
  };
}

async function enroll(event) {
  event.preventDefault();
  const form = checkedForm();
  if (!form) return;
  let stopCamera = () => {};
  try {
    const session = await postJson('/enrollment/sessions', form);
    show('view-camera');
    try {
      stopCamera = await openCamera($('camera'));
    } catch {
      return fail(t('failure.camera'), '', () => show('view-enroll'));
    }
    const capture = newCapture();
    await performChallenge(['look_straight', ...session.challenge], capture);
    if (session.flash) await flashColours(session.flash, capture);
    $('step').textContent = t('step.sending');
    const submission = { frames: capture.frames, flash_frames: capture.flashFrames, captured_at: capture.times };
    if (form.edition === 'upgraded') submission.pin = $('new-pin').value;
    const offer = await postJson(`/enrollment/sessions/${session.session_id}/frames`, submission);
    stopCamera();
    status(t('status.issuing'));
    await receiveCredentials(offer, form.edition, form.card_expiry);
    // The ID number, the slip's code and the PIN leave the page once used (kept after a failure, to correct them).
    $('enroll-form').reset();
    longTermChanged();
    await showCard();
    status(t('status.ready'));
  } catch (error) {
    stopCamera();
    const field = FORM_FIELDS[error.problem?.field];
    if (field) showFieldRefusal('view-enroll', field, fieldLine(error.problem) ?? error.message);
    else fail(error.message, enrollmentAdvice(error));
  }
}

/**
 * The frames of one face check, in the order the server reads them (the
 * challenge's, then the colour flash's), with when each was taken, in
 * milliseconds from the first: the server refuses times no camera gives.
 */
function newCapture() {
  const started = performance.now();
  const capture = { frames: [], flashFrames: [], times: [] };
  capture.take = (into) => {
    capture.times.push(Math.round(performance.now() - started));
    into.push(grabFrame($('camera')));
  };
  return capture;
}

/** Shows each step, gives the person time to do it, and takes a frame per step. */
async function performChallenge(steps, capture) {
  $('step-progress').max = steps.length;
  for (const [index, step] of steps.entries()) {
    $('step').textContent = t(`step.${step}`);
    $('step-progress').value = index;
    await pause(1500);
    capture.take(capture.frames);
  }
  $('step-progress').value = steps.length;
}

/** The screen colours of the flash (bright, saturated, each held long enough for a camera to expose it). */
const FLASH_CSS = { red: '#ff0000', green: '#00ff00', blue: '#0000ff', yellow: '#ffff00' };

/**
 * The colour flash: a frame under the room's light, then the whole screen in
 * each of the session's colours in turn — held for `step_ms` (400 ms: under
 * three changes a second, no strobing) — with a frame of the face it lights.
 */
async function flashColours({ colours, step_ms: stepMs }, capture) {
  // The screen changes colour only when the person says they are ready.
  $('step').textContent = t('step.flash_ready');
  const ready = $('flash-start');
  ready.hidden = false;
  ready.focus();
  await new Promise((resolve) => ready.addEventListener('click', resolve, { once: true }));
  ready.hidden = true;
  $('step').textContent = t('step.flash');
  await pause(1000);
  capture.take(capture.flashFrames);
  const overlay = $('flash');
  try {
    for (const colour of colours) {
      overlay.style.backgroundColor = FLASH_CSS[colour];
      overlay.hidden = false;
      await pause(stepMs);
      capture.take(capture.flashFrames);
    }
  } finally {
    overlay.hidden = true;
  }
}

/** OpenID4VCI: pre-authorized code (+ tx_code), nonce, one proof per fresh device key, a batch. */
async function receiveCredentials(offer, edition, cardExpiry) {
  const issuer = offer.credential_offer.credential_issuer;
  const grant = offer.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code'];
  const form = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code',
    'pre-authorized_code': grant['pre-authorized_code'],
  });
  if (grant.tx_code) form.set('tx_code', $('tx-code').value.trim());
  const token = await call('/token', { method: 'POST', body: form });
  const { c_nonce } = await call('/nonce', { method: 'POST' });
  const keys = await Promise.all(Array.from({ length: 10 }, newDeviceKey));
  const now = Math.floor(Date.now() / 1000);
  const proofs = await Promise.all(
    keys.map(async (key) =>
      signJws({ alg: 'ES256', typ: 'openid4vci-proof+jwt', jwk: await publicJwk(key) }, { aud: issuer, iat: now, nonce: c_nonce }, key.privateKey),
    ),
  );
  const issued = await call('/credential', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token.access_token}` },
    body: JSON.stringify({ credential_configuration_id: offer.credential_offer.credential_configuration_ids[0], proofs: { jwt: proofs } }),
  });
  const credentials = await Promise.all(
    issued.credentials.map(async ({ credential }, i) => {
      const parsed = await parseCredential(credential);
      return { sdJwt: credential, keyPair: keys[i], edition, issuer, cardExpiry, expiresAt: parsed.payload.exp, used: false };
    }),
  );
  await replaceCredentials(credentials);
}

const usable = (credentials) => credentials.filter((c) => !c.used && c.expiresAt > Date.now() / 1000);

/** A date as the reader writes it (年月日 in Chinese), without the time. */
function localDate(date) {
  return date.toLocaleDateString(document.documentElement.lang || undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

/**
 * Minutes after which the status shown is said to be old: the list is
 * re-signed at least every 150 s and lives 300 s (`ttl`), so a list older
 * than this was not fetched just now — the authority could not be reached.
 */
const STALE_MINUTES = 10;

/**
 * The copies this phone may still show — unused, unexpired, and not revoked
 * by the authority (its status list, fetched whole; the stored one offline)
 * — and the card's state: `valid`, `revoked`, `expired` or `unknown`.
 */
async function liveCopies() {
  const credentials = await allCredentials();
  const unused = usable(credentials);
  if (credentials.length > 0 && unused.length === 0 && credentials.every((c) => c.expiresAt <= Date.now() / 1000)) {
    return { state: 'expired', copies: [], checkedAt: null };
  }
  const copies = await Promise.all(unused.map(async (credential) => ({ credential, reference: (await parseCredential(credential.sdJwt)).payload.status?.status_list })));
  const { state, valid, checkedAt } = await cardStatus(copies);
  return { state, copies: valid.map((copy) => copy.credential), checkedAt };
}

/** The card's state in words; a revoked or expired card offers no QR code and answers no request. */
function showStatus({ state, copies, checkedAt }) {
  const minutes = checkedAt === null ? 0 : Math.floor((Date.now() - checkedAt) / 60_000);
  const shown = state === 'valid' && minutes >= STALE_MINUTES ? 'stale' : state;
  $('card-status').textContent = t(`status.${shown}`, { minutes });
  const dead = state === 'revoked' || state === 'expired';
  $('card-status').classList.toggle('error', dead);
  $('id-card').classList.toggle('dead', dead);
  for (const id of ['purpose', 'purpose-label', 'show-qr', 'request-form']) $(id).hidden = dead;
  $('card-copies').textContent = String(copies.length);
}

/** The reason a card that cannot be shown gives, or `null` when it can. */
function deadCardReason(live) {
  if (live.state === 'revoked' || live.state === 'expired') return t(`status.${live.state}`);
  return live.copies.length === 0 ? t('failure.no_copies') : null;
}

async function showCard() {
  const credentials = await allCredentials();
  if (credentials.length === 0) return show('view-enroll');
  const claims = cardClaims(await parseCredential(credentials[0].sdJwt));
  $('card-name').textContent = claims.name ?? '';
  $('card-number').textContent = claims.id_number_masked ?? '';
  $('card-edition').textContent = t(`edition.${credentials[0].edition}`);
  // The card's own validity, as on the physical card; the credential's renewal date apart, without the time.
  const cardExpiry = credentials[0].cardExpiry ?? claims.card_valid_until;
  $('card-valid').textContent = cardExpiry === '长期' ? t('card.long_term') : cardExpiry ? localDate(new Date(`${cardExpiry}T00:00:00`)) : '—';
  $('card-renews').textContent = localDate(new Date(Math.max(...credentials.map((c) => c.expiresAt)) * 1000));
  $('card-copies').textContent = String(usable(credentials).length);
  $('card-status').textContent = '';
  show('view-card');
  showStatus(await liveCopies());
}

let dictionary = null;
/** The offline format, with its preset dictionary as bytes. */
async function format() {
  const loaded = await offlineFormat();
  dictionary ??= fromB64(loaded.dictionary);
  return { purposes: loaded.purposes, dictionaryBytes: dictionary };
}

/**
 * Device pixels per module for a QR code of `modules` (quiet zone included)
 * as wide as the screen allows, sized for a counter camera at about 30 cm.
 * There a 720p camera of ~60° horizontal view sees ~35 cm, ~3.7 pixels per
 * mm, and a detector wants about 2 pixels per module: modules of ≥ 0.5 mm.
 * A phone 390 CSS px wide has ~65 mm of screen (~0.17 mm per CSS px), so
 * the code takes the whole width but 4 px a side: the largest payload the
 * budget allows (1,200 bytes: version 25 at level L, 117 + 8 modules) gets
 * 3 CSS px ≈ 0.5 mm per module, a lightweight card's (~81) 4.7 ≈ 0.8 mm.
 * On a larger screen (a tablet, a desktop) 560 CSS px are plenty. Whole
 * device pixels per module: a scaled bitmap smears modules.
 */
function qrCell(modules) {
  const width = Math.min(document.documentElement.clientWidth - 8, 560);
  return Math.max(2, Math.floor((width * devicePixelRatio) / modules));
}

/** One unused copy per QR session, for a purpose of the offline format. */
async function showQr() {
  const live = await liveCopies();
  const [credential] = live.copies;
  const dead = deadCardReason(live);
  if (dead) return fail(dead, '', () => showCard());
  const purpose = $('purpose').value;
  const { purposes } = await format();
  const rule = purposes.find((entry) => entry.purpose === purpose);
  const parsed = await parseCredential(credential.sdJwt);
  const { disclosures } = disclosuresForPaths(parsed, rule.claims[credential.edition].map((claim) => [claim]));
  const names = disclosures.map((d) => t(`claim.${d.name}`)).join(t('list.separator'));
  await drawOfflineQr({
    credential, parsed, disclosures, audience: rule.audience, left: live.copies.length - 1,
    what: t('qr.what', { purpose: t(`purpose.${purpose}`), claims: names }),
    log: { purpose, claims: disclosures.map((d) => d.name) },
  });
}

/**
 * Spends `credential` on an offline QR bound to `audience`, disclosing
 * `disclosures`: re-signed (new time) every 30 s, never shown to anyone
 * else; the disclosure logged (`log`: the claims, and the purpose or the service).
 */
async function drawOfflineQr({ credential, parsed, disclosures, audience, left, what, log }) {
  const { dictionaryBytes } = await format();
  await markUsed(credential);
  const render = async () => {
    const now = Math.floor(Date.now() / 1000);
    const presentation = await present(parsed, disclosures, credential.keyPair.privateKey, audience, randomNonce(), now);
    const payload = packQrPayload(presentation, dictionaryBytes);
    const code = qrcode(0, 'L');
    code.addData(String.fromCharCode(...payload), 'Byte');
    code.make();
    // The 4-module quiet zone included; drawn at device pixels, shown at CSS pixels.
    const modules = code.getModuleCount() + 8;
    const cell = qrCell(modules);
    $('qr').src = code.createDataURL(cell, 4 * cell);
    $('qr').style.width = `${(modules * cell) / devicePixelRatio}px`;
    $('qr').alt = t('qr.heading');
    $('qr').dataset.payloadBytes = String(payload.length);
    $('qr').dataset.modules = String(modules);
  };
  show('view-qr');
  await render();
  $('qr-what').textContent = what;
  $('qr-single-use').textContent = t('qr.single_use', { left: Math.max(0, left) });
  await appendLog({ at: Math.floor(Date.now() / 1000), to: audience, ...log, level: log.claims.includes('face_template') ? 'L3' : 'L1', channel: 'offline_qr' });
  let seconds = 30;
  clearInterval(qrTimer);
  $('qr-refresh').textContent = t('qr.refresh', { seconds });
  qrTimer = setInterval(async () => {
    seconds -= 1;
    if (seconds <= 0) {
      seconds = 30;
      await render();
    }
    $('qr-refresh').textContent = t('qr.refresh', { seconds });
  }, 1000);
}

/**
 * A service's check-in link (`?service=`, see service-link.js): the wallet
 * checks the authority's attestation of the service, then shows an offline
 * QR bound to it disclosing exactly its entitled claims the card holds. A
 * card lacking a claim the service cannot do without (the sealed ID number,
 * on a card issued before the police's key) is told how to get it.
 */
async function openService(attestationJwt) {
  try {
    const { keys } = await call('/jwks.json');
    const attestation = await verifiedAttestation(attestationJwt, keys, location.origin, Math.floor(Date.now() / 1000), new Error(t('service.not_attested')));
    const live = await liveCopies();
    const [credential] = live.copies.filter((c) => c.issuer === location.origin);
    const dead = deadCardReason(live) ?? (credential ? null : t('failure.no_copies'));
    if (dead) return fail(dead, '', () => showCard());
    const parsed = await parseCredential(credential.sdJwt);
    const { paths, audience } = serviceClaims(attestation);
    const { disclosures, held } = disclosuresForPaths(parsed, paths);
    if (missingRequired(attestation, held).length > 0) return fail(t('service.refresh'), '', () => showCard());
    const service = attestation.client_name || attestation.sub;
    const names = held.map((path) => claimLabel(path, service)).join(t('list.separator'));
    await drawOfflineQr({
      credential, parsed, disclosures, audience, left: live.copies.length - 1,
      what: t('service.what', { service, claims: names }),
      log: { service, claims: held.map((path) => path.join('/')) },
    });
  } catch (error) {
    fail(error.message, error.network ? '' : t('request.advice'), () => showCard());
  }
}

async function showLog() {
  const log = await readLog();
  const rows = $('log-rows');
  rows.replaceChildren();
  if (log.length === 0) {
    const row = rows.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 4;
    cell.textContent = t('log.empty');
  }
  for (const entry of log.reverse()) {
    const row = rows.insertRow();
    row.insertCell().textContent = new Date(entry.at * 1000).toLocaleString();
    row.insertCell().textContent = entry.purpose ? t(`purpose.${entry.purpose}`) : entry.service ?? entry.to;
    row.insertCell().textContent = entry.level;
    row.insertCell().textContent = entry.claims.map((c) => claimLabel(c.split('/'), entry.service ?? entry.to)).join(t('list.separator'));
  }
  show('view-log');
}

async function exportLog() {
  const blob = new Blob([JSON.stringify(await readLog(), null, 2)], { type: 'application/json' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = 'shenfen-disclosure-log.json';
  link.click();
  URL.revokeObjectURL(link.href);
}

/**
 * What the authority's citizen endpoints take as proof of holding a credential:
 * a presentation disclosing nothing, bound to the authority and a fresh nonce.
 */
async function proofForAuthority(credential, parsed) {
  const { c_nonce } = await call('/nonce', { method: 'POST' });
  const proof = await present(parsed, [], credential.keyPair.privateKey, credential.issuer, c_nonce, Math.floor(Date.now() / 1000));
  return proof.text;
}

/** The withdrawal view, blank; an upgraded card also asks for its PIN (the authority checks it). */
async function openRevocation() {
  const [credential] = await allCredentials();
  $('revoke-confirm').value = '';
  $('revoke-pin').value = '';
  clearField(REVOKE_PIN);
  $('revoke-pin-fields').hidden = credential?.edition !== 'upgraded';
  confirmRevocation();
  show('view-revoke');
}

/** Withdrawal is irreversible and reaches every phone: the button works once the word (and an upgraded card's PIN) is typed. */
function confirmRevocation() {
  const confirmed = $('revoke-confirm').value.trim().toUpperCase() === t('revoke.word').toUpperCase();
  const pinGiven = $('revoke-pin-fields').hidden || /^\d{6}$/.test($('revoke-pin').value);
  $('revoke-all').disabled = !(confirmed && pinGiven);
}

/** Withdraws every credential at the authority, proven with one unused copy (and the PIN of an upgraded card). */
async function revokeAll() {
  const [credential] = usable(await allCredentials());
  if (!credential) return fail(t('failure.no_copies'), '', () => show('view-enroll'));
  const body = {};
  if (!$('revoke-pin-fields').hidden) body.pin = $('revoke-pin').value;
  $('revoke-pin').value = '';
  confirmRevocation();
  try {
    body.presentation = await proofForAuthority(credential, await parseCredential(credential.sdJwt));
    await postJson('/citizen/revoke', body);
    await forgetCredentials();
    show('view-enroll');
    status(t('revoke.done'));
  } catch (error) {
    // A wrong or missing PIN is the PIN field's business: told beside it, the view kept.
    const problem = error.problem ?? {};
    if (problem.type?.endsWith(':pin-incorrect')) showFieldRefusal('view-revoke', REVOKE_PIN, error.message);
    else if (problem.field === 'pin') showFieldRefusal('view-revoke', REVOKE_PIN, fieldLine(problem));
    else fail(error.message, '', () => openRevocation());
  }
}

/** The request a link names: `openid4vp://?client_id=…&request_uri=…`, or a bare request URI. */
function requestUriOf(link) {
  const text = link.trim();
  if (!text.startsWith('openid4vp:')) return { requestUri: text, clientId: null };
  const query = new URLSearchParams(text.slice(text.indexOf('?') + 1));
  return { requestUri: query.get('request_uri'), clientId: query.get('client_id') };
}

/**
 * Fetches a relying party's OpenID4VP request by reference and checks who
 * vouches for it: on this authority's origin, signed by this authority (the
 * one whose credentials the wallet holds); on a relying party's own origin,
 * signed by a key this authority attested (see attestedRequest). It must
 * match the link; the consent screen shows only what was signed.
 */
async function fetchRequest(link) {
  const { requestUri, clientId } = requestUriOf(link);
  const url = new URL(requestUri, location.origin);
  const foreign = url.origin !== location.origin;
  let response;
  try {
    // No redirects: whether a request is this authority's is decided by the URL fetched.
    response = await fetch(url, { redirect: 'error' });
  } catch {
    throw Object.assign(new Error(t('failure.network')), { network: true });
  }
  // Another origin's words never appear on this page: only its host, in the wallet's own sentence.
  if (!response.ok) throw new Error(foreign ? t('request.foreign_failed', { host: url.host }) : await problemText(response));
  const { keys } = await call('/jwks.json');
  const jwt = (await response.text()).trim();
  const { request, clientName } = foreign ? await attestedRequest(jwt, keys) : { request: await verifiedJwsPayload(jwt, keys) };
  if ((!foreign && request.iss !== location.origin) || (clientId && clientId !== request.client_id)) throw new Error(t('request.mismatch'));
  // DCQL claim_sets: the last set holds the claims that must be shared; the rest may be declined one by one.
  const query = request.dcql_query.credentials[0];
  const required = query.claim_sets ? new Set(query.claim_sets[query.claim_sets.length - 1]) : null;
  const claims = query.claims.map((c) => ({
    path: c.path,
    optional: required !== null && !required.has(c.id),
    // Read by the authority's verifier to answer a yes/no question; only the answer is passed on.
    forQuestion: String(c.id).startsWith('question-'),
  }));
  return {
    clientId: request.client_id,
    clientName: clientName || request.client_metadata?.client_name || request.client_id,
    foreign,
    purpose: request.dcql_query.credential_sets?.[0]?.purpose || '',
    claims,
    nonce: request.nonce,
    state: request.state,
    responseUri: request.response_uri,
    level: request.assurance_level || 'L1',
    // A sign-in's origin (signed by the authority): when and from which address it was started.
    origin: request.sign_in_origin || null,
    questions: Array.isArray(request.questions) ? request.questions : [],
  };
}

/**
 * A request object from a relying party's own verifier (OpenID4VP 1.0
 * §5.9.3, client identifier prefix `verifier_attestation`): the Verifier
 * Attestation in its `jwt` header verifies with this authority's keys, was
 * issued by this authority and has not expired; the request is signed by the
 * attested key (`cnf.jwk`), for the attested client, answered to an attested
 * response URI, at L1 (L2/L3 would go through the authority), and asks only
 * for attested claims. Answers the request and the attested name.
 */
async function attestedRequest(jwt, keys) {
  const attestationJwt = jwsHeader(jwt).jwt;
  if (typeof attestationJwt !== 'string') throw new Error(t('request.foreign'));
  const now = Math.floor(Date.now() / 1000);
  const attestation = await verifiedAttestation(attestationJwt, keys, location.origin, now, new Error(t('request.foreign')));
  const request = await verifiedWithKey(jwt, attestation.cnf.jwk);
  const entitled = new Set(attestation.entitled_claims ?? []);
  const allowed = (path) => entitled.has(path.join('/')) || (path.length === 2 && path[0] === 'pseudonyms' && path[1] === attestation.sub);
  const withinAttestation =
    jwsHeader(jwt).typ === 'oauth-authz-req+jwt' &&
    request.client_id === `${ATTESTATION_PREFIX}${attestation.sub}` &&
    request.response_mode === 'direct_post' &&
    (attestation.redirect_uris ?? []).includes(request.response_uri) &&
    !(request.exp <= now) &&
    (request.assurance_level || 'L1') === 'L1' &&
    !request.questions?.length &&
    request.dcql_query.credentials.every((query) => query.claims.every((claim) => allowed(claim.path)));
  if (!withinAttestation) throw new Error(t('request.beyond'));
  return { request, clientName: attestation.client_name };
}

/** A yes/no question as the citizen reads it (`age_over_18`, `region=Guangdong`, `edition=upgraded`). */
function questionLabel(question) {
  const [kind, value] = question.split('=');
  if (kind === 'region') return t('question.region', { region: value });
  if (kind === 'edition') return t('question.edition', { edition: t(`edition.${value}`) });
  return t(`question.${kind}`);
}

/** A claim path as the citizen reads it. */
function claimLabel(path, clientId) {
  if (path[0] === 'pseudonyms') return t('claim.pseudonym', { service: clientId });
  const name = path[path.length - 1];
  const label = t(`claim.${name}`);
  return label === `claim.${name}` ? path.join(' / ') : label;
}

let pending = null;

/** One asked claim on the consent screen: optional ones get a box, unticked (least disclosure by default). */
function consentItem(claim, index, clientId, held) {
  const item = document.createElement('li');
  const label = claimLabel(claim.path, clientId);
  if (!held.some((h) => h.join('/') === claim.path.join('/'))) {
    item.textContent = `${label} — ${t('request.not_held')}`;
  } else if (claim.forQuestion) {
    item.textContent = `${label} — ${t('request.for_question')}`;
  } else if (claim.optional) {
    const box = Object.assign(document.createElement('input'), { type: 'checkbox', id: `claim-${index}` });
    box.dataset.index = String(index);
    const text = Object.assign(document.createElement('label'), { htmlFor: box.id, textContent: ` ${label} (${t('request.optional')})` });
    item.append(box, text);
  } else {
    item.textContent = label;
  }
  return item;
}

/** The claims to share: every required one, and the optional ones the citizen ticked. */
function chosenPaths(request) {
  const ticked = new Set([...document.querySelectorAll('#request-claims input:checked')].map((box) => Number(box.dataset.index)));
  return request.claims.filter((claim, index) => !claim.optional || ticked.has(index)).map((claim) => claim.path);
}

/**
 * A sign-in's context beside the service's name (RFC 10027): someone who
 * relays the code of a sign-in they started themselves cannot change when
 * and where the authority saw it start, so the citizen can tell it is not theirs.
 */
function showOrigin(origin) {
  $('request-origin').hidden = !origin;
  if (!origin) return;
  const time = new Date(origin.started_at * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  $('request-origin').textContent = origin.address ? t('request.origin', { time, address: origin.address }) : t('request.origin_time', { time });
}

async function openRequest(link) {
  try {
    const request = await fetchRequest(link);
    const live = await liveCopies();
    const [credential] = live.copies.filter((c) => c.issuer === location.origin);
    const dead = deadCardReason(live) ?? (credential ? null : t('failure.no_copies'));
    if (dead) return fail(dead, '', () => showCard());
    const parsed = await parseCredential(credential.sdJwt);
    const { held } = disclosuresForPaths(parsed, request.claims.map((c) => c.path));
    pending = { request, credential, parsed };
    $('request-who').textContent = `${request.clientName} (${request.clientId})`;
    $('request-attested').hidden = !request.foreign;
    $('request-why').textContent = request.purpose;
    $('request-level').textContent = t(`level.${request.level}`);
    showOrigin(request.origin);
    $('request-claims').replaceChildren(...request.claims.map((claim, index) => consentItem(claim, index, request.foreign ? request.clientName : request.clientId, held)));
    $('request-questions').replaceChildren(...request.questions.map((q) => Object.assign(document.createElement('li'), { textContent: questionLabel(q) })));
    $('request-questions-intro').hidden = request.questions.length === 0;
    // Only the upgraded edition has a PIN and a face to check: a lightweight
    // card asked for L2/L3 cannot answer, and says so rather than leave the
    // service waiting for its request to expire.
    const unreachable = request.level !== 'L1' && credential.edition !== 'upgraded';
    pending.unreachable = unreachable;
    $('request-unreachable').hidden = !unreachable;
    $('request-unreachable').textContent = unreachable ? t('request.unreachable', { level: request.level }) : '';
    $('request-share').hidden = unreachable;
    $('request-tell').hidden = !unreachable;
    $('request-pin-fields').hidden = request.level === 'L1' || unreachable;
    $('request-face').hidden = request.level !== 'L3' || unreachable;
    show('view-request');
  } catch (error) {
    fail(error.message, error.network ? '' : t('request.advice'), () => showCard());
  }
}

/** Shares after consent: an unused copy reveals exactly the asked claims it holds; L2/L3 bring the authority's assertion. */
async function share() {
  const { request, credential, parsed } = pending;
  let stopCamera = () => {};
  try {
    $('request-share').disabled = true;
    const now = Math.floor(Date.now() / 1000);
    const { disclosures, held } = disclosuresForPaths(parsed, chosenPaths(request));
    const presentation = await present(parsed, disclosures, credential.keyPair.privateKey, request.clientId, request.nonce, now);
    await markUsed(credential);
    const form = new URLSearchParams({ vp_token: JSON.stringify({ shenfen_id: [presentation.text] }), state: request.state });
    if (request.level !== 'L1') {
      let frames = [];
      if (request.level === 'L3') {
        stopCamera = await openCamera($('request-camera'));
        await pause(1500);
        frames = [grabFrame($('request-camera'))];
        stopCamera();
      }
      const presentation = await proofForAuthority(credential, parsed);
      const answer = await postJson('/citizen/assertion', { presentation, pin: $('request-pin').value, audience: request.clientId, nonce: request.nonce, frames });
      form.set('assurance', answer.assertion);
    }
    // The authority's own verifier by path (same origin); a relying party's own verifier at its attested response URI.
    const answered = await answerVerifier(request, form);
    await appendLog({ at: now, to: request.clientId, purpose: request.purpose, level: request.level, claims: held.map((p) => p.join('/')), channel: 'online' });
    $('answered-detail').textContent = t('answered.detail', { service: request.clientName });
    show('view-answered');
    goOn(answered);
  } catch (error) {
    stopCamera();
    fail(error.message, error.network ? '' : t('request.advice'), () => showCard());
  } finally {
    $('request-share').disabled = false;
    $('request-pin').value = '';
    pending = null;
  }
}

/**
 * Declines: nothing is shared, and the authority's verifier hears it at once
 * (OpenID4VP 1.0 §8.5 error response, posted like an answer), so the service
 * — or the sign-in page waiting for this wallet — learns it now rather than
 * when the request expires.
 *
 * With `tell`, a lightweight card asked for L2/L3 says why: the error names
 * the level as unmet (OpenID Connect's `unmet_authentication_requirements`)
 * and carries a presentation disclosing nothing, bound to the request's
 * nonce, whose visible `vct` proves the edition — so nobody who merely read
 * the request can tell the service a card is lightweight.
 */
async function decline(tell = false) {
  const { request, unreachable, credential, parsed } = pending;
  pending = null;
  const told = tell && unreachable;
  for (const id of ['request-decline', 'request-tell']) $(id).disabled = true;
  try {
    const form = new URLSearchParams({ error: 'access_denied', state: request.state });
    if (told) {
      const proof = await present(parsed, [], credential.keyPair.privateKey, request.clientId, request.nonce, Math.floor(Date.now() / 1000));
      await markUsed(credential);
      form.set('error_description', 'unmet_authentication_requirements');
      form.set('vp_token', JSON.stringify({ shenfen_id: [proof.text] }));
    }
    const answered = await answerVerifier(request, form);
    await showCard();
    status(t(told ? 'request.told' : 'request.declined'));
    goOn(answered);
  } catch {
    await showCard();
    status(t('request.declined_unsent'));
  } finally {
    for (const id of ['request-decline', 'request-tell']) $(id).disabled = false;
  }
}

/** Posts the answer (or the refusal) to the request's verifier: this authority's, or an attested service's own. */
function answerVerifier(request, form) {
  return call(request.foreign ? request.responseUri : new URL(request.responseUri).pathname, { method: 'POST', body: form });
}

/** OpenID4VP §8.2: where the verifier sends the browser once answered (a same-device sign-in's page); only within this authority. */
function goOn(answered) {
  const next = answered?.redirect_uri && new URL(answered.redirect_uri, location.origin);
  if (next?.origin === location.origin && next.pathname === '/signin/') location.assign(next.href);
}

function wire() {
  // The card's dates and status are written in the reader's language: written again on a switch.
  languageSwitch($('language'), () => {
    fillDateParts();
    if ($('id-number-error').textContent) showIdNumberProblem();
    if (!$('view-card').hidden) showCard();
  });
  fillPurposes($('purpose')).catch((error) => status(error.message));
  translatePage();
  fillDateParts();
  $('enroll-form').addEventListener('submit', enroll);
  $('edition').addEventListener('change', showEditionFields);
  showEditionFields();
  // Checked once the number is complete, and again on leaving the field; cleared as soon as it is right
  // (as it is typed: leaving the field never clears a mark — the authority's, for one — nor moves what is clicked).
  $('id-number').addEventListener('input', () => {
    if ($('id-number').value.trim().length >= 18 || $('id-number-error').textContent) showIdNumberProblem();
  });
  $('id-number').addEventListener('blur', () => { if (idNumberProblem($('id-number').value)) showIdNumberProblem(); });
  $('long-term').addEventListener('change', longTermChanged);
  // A marked field is unmarked as soon as it is changed.
  for (const field of [FORM_FIELDS.name, FORM_FIELDS.edition, FORM_FIELDS.pin, TX_CODE, REVOKE_PIN]) {
    $(field.control).addEventListener('input', () => clearField(field));
  }
  for (const part of expiryParts()) part.addEventListener('input', () => clearField(FORM_FIELDS.card_expiry));
  $('failure-retry').addEventListener('click', () => retry());
  $('show-qr').addEventListener('click', showQr);
  $('qr-done').addEventListener('click', () => { clearInterval(qrTimer); showCard(); });
  $('show-log').addEventListener('click', showLog);
  $('log-export').addEventListener('click', exportLog);
  $('show-revoke').addEventListener('click', openRevocation);
  $('revoke-confirm').addEventListener('input', confirmRevocation);
  $('revoke-pin').addEventListener('input', confirmRevocation);
  $('revoke-all').addEventListener('click', revokeAll);
  $('show-enroll').addEventListener('click', () => show('view-enroll'));
  for (const back of document.querySelectorAll('.back')) back.addEventListener('click', showCard);
  $('request-form').addEventListener('submit', (event) => {
    event.preventDefault();
    openRequest($('request-link').value);
  });
  $('request-share').addEventListener('click', share);
  $('request-decline').addEventListener('click', () => decline(false));
  $('request-tell').addEventListener('click', () => decline(true));
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/wallet/sw.js', { scope: '/wallet/' }).catch(() => {});
}

wire();
const query = new URLSearchParams(location.search);
const link = query.get('request');
const service = query.get('service');
if (link || service) history.replaceState(null, '', location.pathname);
if (link) {
  openRequest(link);
} else if (service) {
  openService(service);
} else {
  showCard();
}
