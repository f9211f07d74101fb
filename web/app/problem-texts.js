// What the pages say, in the reader's language, when the server refuses:
// each RFC 9457 problem type (docs/ERRORS.md "HTTP problem types"), the
// domain codes a page meets, the form fields a refusal can name (`field`),
// and the OAuth errors of the wallet's answers — each with the next step. A Chinese page shows these, never the server's
// English detail. No browser globals: the tests load it in Node.

export const PROBLEM_TEXTS = {
  'problem.invalid-request': { zh: '填写的内容有一项缺失或格式不对：请检查后重试。', en: 'Something in the request is missing or malformed: check it and try again.' },
  'problem.bad-request': { zh: '请求无法读取：请刷新页面后重试。', en: 'The request could not be read: reload the page and try again.' },
  'problem.not-found': { zh: '找不到这个地址：请从首页重新进入。', en: 'Nothing is at this address: start again from the home page.' },
  'problem.method-not-allowed': { zh: '这个地址不接受这种请求：请从首页重新进入。', en: 'This address does not take this kind of request: start again from the home page.' },
  'problem.payload-too-large': { zh: '发送的内容太大：请重试，照片请靠近一些拍。', en: 'What was sent is too large: try again (for photos, come closer).' },
  'problem.unsupported-media-type': { zh: '发送的内容格式不对：请刷新页面后重试。', en: 'What was sent is in the wrong format: reload the page and try again.' },
  'problem.timeout': { zh: '处理超时：请稍后重试。', en: 'This took too long: try again in a moment.' },
  'problem.rate-limited': { zh: '尝试次数过多：请稍后再试。', en: 'Too many attempts: wait a while and try again.' },
  'problem.busy': { zh: '系统正忙：请几秒后重试。', en: 'The service is busy: try again in a few seconds.' },
  'problem.unavailable': { zh: '服务暂时不可用：请稍后重试。', en: 'The service is unavailable for now: try again later.' },
  'problem.internal': { zh: '出错了，没有做任何更改：请稍后重试。', en: 'Something went wrong and nothing was changed: try again later.' },
  'problem.enrollment-refused': { zh: '未能确认身份证信息或本人人脸：请核对所填内容，在光线好的地方正对摄像头重试（增强版还须在一小时内到窗口核验）。', en: 'The card details or the live face could not be confirmed: check what you typed, face the camera in good light and try again (the upgraded edition also needs a counter visit within the hour before).' },
  'problem.operator-unauthenticated': { zh: '未登录或登录已过期，也可能是密码错误：请重新登录。', en: 'Not signed in, the session ended, or the password is wrong: sign in again.' },
  'problem.operator-forbidden': { zh: '你的岗位无权做这件事：请找主管。', en: 'Your role does not allow this: ask a supervisor.' },
  'problem.citizen-unauthenticated': { zh: '本机的证件未被发证机关认可（可能已注销）：请重新领取。', en: 'The authority did not accept this phone’s credential (it may be revoked): enroll again.' },
  'problem.relying-party-unauthenticated': { zh: '服务方的密钥不对：请服务方检查其 API 密钥。', en: 'The service’s key is wrong: the service should check its API key.' },
  'problem.counter-unauthenticated': { zh: '此设备未登记为柜台设备，或工作人员未登录：请重新打开柜台链接或登录。', en: 'This device is not a registered counter and no operator is signed in: open the counter link again or sign in.' },
  'problem.not-registered': { zh: '户籍库中没有这个身份证号：请核对证件。', en: 'This ID number is not in the registry: check the card.' },
  'problem.not-entitled': { zh: '服务方请求了它无权获得的信息：已拒绝。', en: 'The service asked for information it is not entitled to: refused.' },
  'problem.already-registered': { zh: '这个客户端标识已登记：如要替换，请勾选“替换”。', en: 'This client id is registered already: tick “Replace” to replace it.' },
  'problem.request-closed': { zh: '这个请求已过期或已完成：请让服务方重新发起。', en: 'This request has expired or is finished: ask the service for a new one.' },
  'problem.level-unavailable': { zh: '该服务方自己的核验只支持简易核验（L1）：更高级别请通过发证机关。', en: 'The service’s own verifier checks at L1 only: higher levels go through the authority.' },
  'problem.pin-not-set': { zh: '简易版没有 PIN：这一步需要增强版，请先到服务窗口核验。', en: 'The lightweight edition has no PIN: this needs the upgraded edition; visit a service counter first.' },
  'problem.pin-locked': { zh: 'PIN 错误次数过多，已暂时锁定：请稍后再试。', en: 'Too many wrong PINs; locked for now: try again later.' },
  'problem.pin-incorrect': { zh: 'PIN 不对：请重新输入（错误次数多了会被暂时锁定）。', en: 'The PIN is wrong: type it again (too many wrong ones lock it for a while).' },
  'problem.face-not-confirmed': { zh: '未能确认是本人：请在光线好的地方正对摄像头重试。', en: 'The live face was not confirmed as yours: face the camera in good light and try again.' },
  'problem.presentation-refused': { zh: '柜台拒绝了这个二维码。', en: 'The counter refused this QR code.' },
  'problem.qr-unreadable': { zh: '看到了二维码但读不出来：请把手机拿稳、调亮屏幕后重试。', en: 'A QR code is in view but does not read: hold the phone still, brighten the screen and try again.' },
  'problem.qr-not-found': { zh: '画面中没有二维码：请把手机屏幕对准摄像头。', en: 'No QR code in view: hold the phone’s screen up to the camera.' },
  'problem.image-unreadable': { zh: '摄像头画面无法读取：请重试或换一个浏览器。', en: 'A camera frame could not be read: try again, or another browser.' },
  'code.core.id_number.length': { zh: '身份证号位数不对：应为 18 位（旧证 15 位）。', en: 'An ID number has 18 characters (15 on old cards): check the number of digits.' },
  'code.core.id_number.character': { zh: '身份证号只能是数字，最后一位可以是 X。', en: 'An ID number is digits only; the last may be X.' },
  'code.core.id_number.region': { zh: '身份证号的前两位不是省级行政区代码：请核对。', en: 'The first two digits of the ID number are no province code: check them.' },
  'code.core.id_number.birth_date': { zh: '身份证号中的出生日期不存在：请核对第 7 位起的出生日期。', en: 'The birth date inside the ID number does not exist: check those digits.' },
  'code.core.id_number.checksum': { zh: '身份证号最后一位校验码不对：可能有一位输错了，请逐位核对。', en: 'The ID number’s check character does not match: a digit is probably mistyped; check each one.' },
  'code.core.pin.invalid': { zh: 'PIN 太容易被猜到：请换 6 位不连续、不重复的数字。', en: 'That PIN is too easy to guess: choose six digits that are not a run or a repeat.' },
  'field.id_number': { zh: '身份证号不对：请对照身份证逐位核对。', en: 'The ID number is not right: check it against your card, digit by digit.' },
  'field.name': { zh: '请填写身份证上的姓名（1 至 64 个字）。', en: 'Type your name as printed on the card (1 to 64 characters).' },
  'field.card_expiry': { zh: '有效期不对：请填写身份证背面的截止日期，或勾选“长期”。', en: 'The card’s “valid until” date is not right: give the date on the back of the card, or tick long-term.' },
  'field.edition': { zh: '请选择简易版或增强版。', en: 'Choose the lightweight or the upgraded edition.' },
  'field.pin': { zh: '请输入 6 位数字的 PIN。', en: 'Type your 6-digit PIN.' },
  'code.credential.status.revoked': { zh: '此证件已注销：请重新领取，或到窗口办理。', en: 'This credential is revoked: enroll again, or visit a counter.' },
  'code.credential.level': { zh: '核验级别不够：服务方要求 PIN 或人脸。', en: 'The level reached is below the one asked: the service needs your PIN or face.' },
  'code.credential.offline.replayed': { zh: '这个二维码已经用过：请刷新后出示新的二维码。', en: 'This QR code was used already: show a fresh one.' },
  'code.credential.kb.too_old': { zh: '这个二维码已过期：请出示新的二维码。', en: 'This QR code has expired: show a fresh one.' },
  'oauth.invalid_request': { zh: '服务方拒绝了这次回应：请让服务方重新发起请求。', en: 'The service refused this answer: ask it for a new request.' },
  'oauth.access_denied': { zh: '已拒绝。', en: 'Declined.' },
  'oauth.temporarily_unavailable': { zh: '服务方暂时无法核验：请稍后重试。', en: 'The service cannot check answers right now: try again later.' },
  'problem.unknown': { zh: '请求未能完成（HTTP {status}）：请稍后重试。', en: 'The request could not be completed (HTTP {status}): try again later.' },
};

/**
 * When to try again after a refusal that carried `Retry-After` (a locked
 * PIN, a busy server), in both languages: seconds up to 90, then whole
 * minutes rounded up, so the reader is never told to come back too early.
 */
export function retryIn(seconds) {
  if (!(seconds > 0)) return null;
  if (seconds <= 90) return { zh: `请 ${Math.ceil(seconds)} 秒后再试。`, en: `Try again in ${Math.ceil(seconds)} s.` };
  const minutes = Math.ceil(seconds / 60);
  return { zh: `请 ${minutes} 分钟后再试。`, en: `Try again in ${minutes} min.` };
}
