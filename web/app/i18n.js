// Chinese and English UI text: every page marks its texts with data-i18n
// (and data-i18n-label for aria labels); scripts ask t(key, values).

import { PROBLEM_TEXTS, retryIn } from '/app/problem-texts.js';

const saved = () => localStorage.getItem('shenfen.lang');
let lang = saved() || ((navigator.language || 'zh').toLowerCase().startsWith('zh') ? 'zh' : 'en');
/** Texts more than one page shows: purposes, claims, editions. */
let texts = {
  'purpose.hotel_checkin': { zh: '酒店入住', en: 'hotel check-in' },
  'purpose.age_check': { zh: '年龄核验', en: 'age check' },
  'purpose.ticket': { zh: '检票', en: 'ticket gate' },
  'purpose.clock_in': { zh: '上班打卡', en: 'clock-in' },
  'claim.name': { zh: '姓名', en: 'name' },
  'claim.id_number_masked': { zh: '遮蔽的身份证号', en: 'masked ID number' },
  'claim.edition': { zh: '版本', en: 'edition' },
  'claim.face_template': { zh: '签名的人脸特征', en: 'signed face template' },
  'claim.sealed_id_number': { zh: '加密的身份证号（只有公安机关能打开，对方看不到）', en: 'your ID number sealed for the police (the service cannot read it)' },
  'claim.age_over_18': { zh: '是否年满 18 岁', en: 'over 18' },
  'edition.lightweight': { zh: '简易版', en: 'lightweight' },
  'edition.upgraded': { zh: '增强版', en: 'upgraded' },
  ...PROBLEM_TEXTS,
};

/** Registers a page's texts: { key: { zh, en } }. */
export function addTexts(more) {
  Object.assign(texts, more);
}

/** The text `key` in the current language, with {name} placeholders filled. */
export function t(key, values = {}) {
  const entry = texts[key];
  const text = entry ? entry[lang] ?? entry.en : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Fills every marked element of the page and sets the document language. */
export function translatePage() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/** Adds the language switch button to `container`. */
export function languageSwitch(container, onChange = () => {}) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary';
  const label = () => { button.textContent = lang === 'zh' ? 'English' : '中文'; };
  label();
  button.addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('shenfen.lang', lang);
    label();
    translatePage();
    onChange();
  });
  container.append(button);
}

/** The current language, `zh` or `en`. */
export function language() {
  return lang;
}

/**
 * A problem+json (RFC 9457) or OAuth error body, already parsed, as one
 * readable line in the reader's language: in English the server's own detail
 * (the most precise); in Chinese the page's sentence for its code, its type
 * or its OAuth error — never the server's English — with the stable code for
 * a support desk.
 */
export function problemLine(body, status, retryAfter = null) {
  const wait = retryIn(retryAfter)?.[lang];
  const withWait = (line) => (wait ? `${line} ${wait}` : line);
  if (lang === 'en') return withWait(body.detail || body.error_description || body.title || t('problem.unknown', { status }));
  const type = String(body.type ?? '').replace('urn:shenfen:problem:', '');
  const key = [`code.${body.code}`, `problem.${type}`, `oauth.${body.error}`].find((candidate) => texts[candidate]);
  const line = t(key ?? 'problem.unknown', { status });
  return withWait(body.code ? `${line}（${body.code}）` : line);
}

/** The `Retry-After` seconds of a response, if it says (RFC 9110 §10.2.3, the delay form). */
export function retryAfterOf(response) {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

/**
 * What to say beside the form field a refusal names (its `field` member,
 * docs/ERRORS.md) in the reader's language, in either language the page's
 * own sentence — for its domain code where the page has one, else for the
 * field — or null when the problem names no field the page knows.
 */
export function fieldLine(body) {
  const key = [`code.${body.code}`, `field.${body.field}`].find((candidate) => texts[candidate]);
  return body.field && key ? t(key) : null;
}

/** A refused response's body as one readable line. */
export async function problemText(response) {
  return problemLine(await response.json().catch(() => ({})), response.status, retryAfterOf(response));
}
