// The card's status as its authority publishes it: the signed Token Status
// List (JWT form, a zlib-compressed bit string), fetched whole — so the
// authority cannot tell whose status a phone reads — verified with the
// authority's keys, and kept with the time it was signed: offline (or
// served an old copy), the wallet says how old its knowledge is instead of
// guessing.

import { unzlibSync } from '/vendor/fflate.js';
import { fromB64, verifiedJwsPayload } from '/app/sd-jwt.js';

const CACHE_KEY = 'shenfen.status-lists';

/** The status of entry `idx` in a list of `bits`-bit entries, the first in the lowest bits of byte 0; `null` past its end. */
export function statusAt(bytes, bits, idx) {
  const first = idx * bits;
  if (!Number.isInteger(idx) || idx < 0 || first >> 3 >= bytes.length) return null;
  return (bytes[first >> 3] >> (first & 7)) & ((1 << bits) - 1);
}

function cached() {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) || '{}');
  } catch {
    return {};
  }
}

/** The authority's keys, or `null` offline. */
async function authorityKeys() {
  try {
    return (await (await fetch('/jwks.json')).json()).keys;
  } catch {
    return null;
  }
}

/**
 * The list at `uri`, fetched and verified (signed by one of `keys`, about
 * this list, unexpired), stored with the time it speaks for (`asOf`: when
 * it was signed, never later than now); the stored one when it
 * cannot be fetched (offline). `null` when neither is to be had.
 */
async function statusList(uri, keys) {
  const lists = cached();
  try {
    if (!keys) throw new Error('offline');
    const response = await fetch(uri, { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const payload = await verifiedJwsPayload((await response.text()).trim(), keys);
    if (payload.sub !== uri || (payload.exp && payload.exp * 1000 < Date.now())) throw new Error('not the list asked for, or expired');
    // Knowledge is as old as the list was when signed (a cache may serve an old one), and never goes backwards.
    if (lists[uri] && payload.iat * 1000 < lists[uri].asOf) throw new Error('older than the stored list');
    lists[uri] = { bits: payload.status_list.bits, lst: payload.status_list.lst, asOf: Math.min(Date.now(), payload.iat * 1000) };
    localStorage.setItem(CACHE_KEY, JSON.stringify(lists));
  } catch (error) {
    if (!lists[uri]) return null;
    console.info(`the status list could not be refreshed (${error.message}); using the stored one`);
  }
  return lists[uri];
}

/**
 * What the authority says of the copies of a card, each `{ reference }`
 * (its credential's `status.status_list`): `revoked` when every copy is
 * (a new enrollment elsewhere, a withdrawal, an operator's revocation), else
 * `valid` with the copies still valid; `unknown` when no list was ever
 * fetched (or a copy's index is past the list's end). `checkedAt`: when
 * the oldest list used was signed (ms).
 */
export async function cardStatus(copies) {
  const byUri = new Map();
  for (const copy of copies.filter((c) => c.reference)) byUri.set(copy.reference.uri, [...(byUri.get(copy.reference.uri) ?? []), copy]);
  const keys = byUri.size > 0 ? await authorityKeys() : null;
  const valid = [];
  let checkedAt = Date.now();
  for (const [uri, entries] of byUri) {
    const list = await statusList(uri, keys);
    if (!list) return { state: 'unknown', valid: copies, checkedAt: null };
    checkedAt = Math.min(checkedAt, list.asOf);
    const bytes = unzlibSync(fromB64(list.lst));
    const statuses = entries.map((copy) => statusAt(bytes, list.bits, copy.reference.idx));
    if (statuses.includes(null)) return { state: 'unknown', valid: copies, checkedAt: null };
    valid.push(...entries.filter((_, i) => statuses[i] === 0));
  }
  return { state: valid.length > 0 || copies.length === 0 ? 'valid' : 'revoked', valid, checkedAt };
}
