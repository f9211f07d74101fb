// The resident ID number's rules (GB 11643-1999), checked in the page as the
// citizen types, so that a typo is caught beside the field with its reason
// before anything is sent. The authority checks again (shenfen-core); this
// is only the first, friendlier look. No imports: the tests load it in Node.

/** ISO 7064 MOD 11-2 weights of the first 17 digits. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS = '10X98765432';
/** The province-level division codes an ID number starts with. */
const PROVINCES = new Set([
  11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
  61, 62, 63, 64, 65, 71, 81, 82,
]);

/** The check character the first 17 digits call for. */
export function checkCharacter(first17) {
  const sum = [...first17].reduce((total, digit, i) => total + Number(digit) * WEIGHTS[i], 0);
  return CHECK_CHARACTERS[sum % 11];
}

/** Whether `yyyymmdd` is a real day between 1900 and `today`. */
function realBirthDate(yyyymmdd, today) {
  const [year, month, day] = [yyyymmdd.slice(0, 4), yyyymmdd.slice(4, 6), yyyymmdd.slice(6, 8)].map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  const real = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return real && year >= 1900 && date <= today;
}

/**
 * Why `text` is not an ID number — `{ key, params }` for the page's
 * translated sentence — or `null` when it is one (18 characters; a 15-digit
 * number of an old card is left to the authority, which converts it).
 */
export function idNumberProblem(text, today = new Date()) {
  const number = text.trim().toUpperCase();
  if (/^\d{15}$/.test(number)) return null;
  if (number.length !== 18) return { key: 'id.length', params: { n: number.length } };
  if (!/^\d{17}[\dX]$/.test(number)) return { key: 'id.characters', params: {} };
  const province = Number(number.slice(0, 2));
  if (!PROVINCES.has(province)) return { key: 'id.region', params: { code: number.slice(0, 2) } };
  const birth = number.slice(6, 14);
  if (!realBirthDate(birth, today)) return { key: 'id.birth_date', params: { date: `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6)}` } };
  const expected = checkCharacter(number.slice(0, 17));
  if (number[17] !== expected) return { key: 'id.check', params: { expected, found: number[17] } };
  return null;
}
