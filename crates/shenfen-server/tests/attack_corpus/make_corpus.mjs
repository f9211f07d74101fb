// Builds the attack corpus with Node's own crypto — not with shenfen's code,
// so the tokens test the verifier rather than mirror it. Every token is made
// from scratch here: ES256 over P-256 (node:crypto, IEEE P1363 signatures),
// SD-JWT disclosures and digests (RFC 9901), key binding JWTs, Token Status
// Lists (zlib-compressed, 2 bits per entry).
//
//   node crates/shenfen-server/tests/attack_corpus/make_corpus.mjs
//
// writes corpus.json beside this file: the trusted authorities' public keys,
// the status lists a counter might have cached, and each attack with the
// refusal code it must meet (attack_corpus.rs runs them). Keys are fresh on
// every run; the checked-in corpus is one such run.

import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

/** The verification time every attack is judged at (2027-01-15). */
const NOW = 1_800_000_000;
const A = 'https://a.shenfen.test';
const B = 'https://b.shenfen.test';
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const text = (value) => b64u(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
const sha256 = (ascii) => createHash('sha256').update(ascii, 'ascii').digest();

function keyPair(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, kid, jwk: kid ? { ...jwk, kid } : jwk };
}

function jws(header, payload, key) {
  const input = `${text(header)}.${text(payload)}`;
  const signature = sign('sha256', Buffer.from(input, 'ascii'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(signature)}`;
}

/** The same presentation with its key binding JWT's ECDSA s replaced by n − s: also valid, different bytes. */
function malleatedKeyBinding(presentation) {
  const cut = presentation.lastIndexOf('~') + 1;
  return presentation.slice(0, cut) + malleated(presentation.slice(cut));
}

/** The same JWS with its ECDSA signature's s replaced by n − s: also valid, different bytes. */
function malleated(compact) {
  const [header, payload, signature] = compact.split('.');
  const raw = Buffer.from(signature, 'base64url');
  const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
  const twin = (P256_ORDER - s).toString(16).padStart(64, '0');
  return `${header}.${payload}.${b64u(Buffer.concat([raw.subarray(0, 32), Buffer.from(twin, 'hex')]))}`;
}

const disclosure = (name, value) => text([b64u(randomBytes(16)), name, value]);
const digest = (encoded) => b64u(sha256(encoded));

const authorityA = keyPair('a-2026');
const retiredA = keyPair('a-2025');
const authorityB = keyPair('b-2026');

/**
 * A credential of authority A (or `signer`): `claims` disclosable at the top
 * level, `visible` left in the signed payload. Returns its JWT, its
 * disclosures by name and the holder key.
 */
function credential({ claims, visible = {}, signer = authorityA, idx = 3 }) {
  const holder = keyPair();
  const payload = {
    iss: A,
    vct: 'urn:shenfen:id:lightweight:1',
    edition: 'lightweight',
    iat: NOW - 3600,
    exp: NOW + 30 * 86400,
    cnf: { jwk: holder.jwk },
    status: { status_list: { idx, uri: `${A}/status/1` } },
    ...visible,
  };
  const disclosures = {};
  for (const [name, value] of Object.entries(claims)) {
    delete payload[name];
    disclosures[name] = disclosure(name, value);
  }
  payload._sd = Object.values(disclosures).map(digest).sort();
  payload._sd_alg = 'sha-256';
  const jwt = jws({ alg: 'ES256', typ: 'dc+sd-jwt', kid: signer.kid }, payload, signer);
  return { jwt, disclosures, holder };
}

/** An SD-JWT+KB showing `names`, bound to `aud` at `iat`, as a wallet makes an offline QR. */
function present(cred, names, aud, iat) {
  const shown = `${cred.jwt}~${names.map((n) => cred.disclosures[n]).join('~')}${names.length ? '~' : ''}`;
  const kb = jws({ alg: 'ES256', typ: 'kb+jwt' }, { iat, aud, nonce: `offline-${iat}`, sd_hash: b64u(sha256(shown)) }, cred.holder);
  return `${shown}${kb}`;
}

const adult = { name: '王建国', id_number_masked: '110105********0136', age_over_18: true, region: 'Beijing' };
const hotel = 'urn:shenfen:offline:hotel_checkin';
const ageCheck = 'urn:shenfen:offline:age_check';

/** A status list token of `entries` (2 bits each), values set at `revoked` indexes. */
function statusList({ uri, signer, iat = NOW - 60, revoked = [], all = 0 }) {
  const bytes = Buffer.alloc(1024 / 4, all ? 0b01010101 : 0);
  for (const idx of revoked) bytes[idx >> 2] |= 1 << ((idx & 3) * 2);
  const payload = { sub: uri, iat, exp: iat + 86400, ttl: 300, status_list: { bits: 2, lst: b64u(deflateSync(bytes)) } };
  return jws({ alg: 'ES256', typ: 'statuslist+jwt', kid: signer.kid }, payload, signer);
}

const issuers = [
  { issuer: A, keys: [authorityA.jwk, retiredA.jwk] },
  { issuer: B, keys: [authorityB.jwk] },
];
const listA = { uri: `${A}/status/1`, token: statusList({ uri: `${A}/status/1`, signer: authorityA, revoked: [7] }) };
const listB = { uri: `${B}/status/1`, token: statusList({ uri: `${B}/status/1`, signer: authorityB }) };
// Authority B publishes "A's" list, every entry revoked.
const forged = { uri: `${A}/status/1`, token: statusList({ uri: `${A}/status/1`, signer: authorityB, all: 1 }) };
const futureA = { uri: `${A}/status/1`, token: statusList({ uri: `${A}/status/1`, signer: authorityA, iat: NOW + 3600 }) };
const caches = {
  main: { issuers, status_lists: [listA, listB] },
  forged_first: { issuers, status_lists: [forged, listA, listB] },
  forged_only: { issuers, status_lists: [forged, listB] },
  future_list: { issuers, status_lists: [futureA, listB] },
  expired_trust: { issuers, status_lists: [listA, listB], trusted_until: NOW - 61 },
  no_status_lists: { issuers, status_lists: [] },
};

const citizen = credential({ claims: adult });
const hotelQr = present(citizen, ['name', 'id_number_masked'], hotel, NOW - 10);
const minor = credential({ claims: { ...adult, age_over_18: false } });
const retired = credential({ claims: adult, signer: retiredA });
const revoked = credential({ claims: adult, idx: 7 });
const statusHidden = credential({ claims: { ...adult, status: { status_list: { idx: 3, uri: `${A}/status/1` } } } });
const expHidden = credential({ claims: { ...adult, exp: NOW + 86400 } });
const futureQr = present(credential({ claims: adult }), ['name', 'id_number_masked'], hotel, NOW + 29);

/** A credential whose disclosures nest `depth` deep: each one's value holds the next one's digest. */
function deeplyNested(depth) {
  const holder = keyPair();
  let inner = { leaf: true };
  const encoded = [];
  for (let level = 0; level < depth; level += 1) {
    const d = disclosure(`n${level}`, inner);
    encoded.push(d);
    inner = { _sd: [digest(d)] };
  }
  const payload = {
    iss: A, vct: 'urn:shenfen:id:lightweight:1', iat: NOW - 3600, exp: NOW + 86400, cnf: { jwk: holder.jwk },
    status: { status_list: { idx: 3, uri: `${A}/status/1` } }, nest: inner, _sd_alg: 'sha-256',
  };
  const jwt = jws({ alg: 'ES256', typ: 'dc+sd-jwt', kid: authorityA.kid }, payload, authorityA);
  return `${jwt}~${encoded.reverse().join('~')}~`;
}

const attacks = [
  { name: 'a valid hotel check-in QR', qr: hotelQr, purpose: 'hotel_checkin', expect: 'accepted' },
  {
    name: 'the same QR with its key binding signature malleated (s → n − s)',
    qr: malleatedKeyBinding(hotelQr), purpose: 'hotel_checkin', after: 'a valid hotel check-in QR', expect: 'credential.offline.replayed',
  },
  { name: 'a QR whose key binding iat is 29 s in the future', qr: futureQr, purpose: 'hotel_checkin', expect: 'accepted' },
  {
    name: 'a minor at an age check', qr: present(minor, ['age_over_18'], ageCheck, NOW - 10),
    purpose: 'age_check', expect: 'credential.purpose.unmet',
  },
  {
    name: 'an age check QR that also shows the name', qr: present(citizen, ['age_over_18', 'name'], ageCheck, NOW - 10),
    purpose: 'age_check', expect: 'credential.purpose.overshared',
  },
  {
    name: 'a credential signed with a retired key (its status list with the current one)',
    qr: present(retired, ['name', 'id_number_masked'], hotel, NOW - 10), purpose: 'hotel_checkin', expect: 'accepted',
  },
  {
    name: "another authority's forged status list cached first", qr: present(citizen, ['name', 'id_number_masked'], hotel, NOW - 9),
    purpose: 'hotel_checkin', cache: 'forged_first', expect: 'accepted',
  },
  {
    name: "only another authority's forged status list cached", qr: present(citizen, ['name', 'id_number_masked'], hotel, NOW - 8),
    purpose: 'hotel_checkin', cache: 'forged_only', expect: 'credential.offline.untrusted_issuer',
  },
  {
    name: 'a status list issued in the future', qr: present(citizen, ['name', 'id_number_masked'], hotel, NOW - 7),
    purpose: 'hotel_checkin', cache: 'future_list', expect: 'credential.time.future_iat',
  },
  {
    name: 'a cache from an expired trust list', qr: present(citizen, ['name', 'id_number_masked'], hotel, NOW - 6),
    purpose: 'hotel_checkin', cache: 'expired_trust', expect: 'credential.offline.trust_list_expired',
  },
  {
    name: 'a cache without the status list', qr: present(citizen, ['name', 'id_number_masked'], hotel, NOW - 5),
    purpose: 'hotel_checkin', cache: 'no_status_lists', expect: 'credential.offline.uncached_status',
  },
  {
    name: 'a revoked credential', qr: present(revoked, ['name', 'id_number_masked'], hotel, NOW - 10),
    purpose: 'hotel_checkin', expect: 'credential.status.revoked',
  },
  {
    name: 'status made disclosable, and shown', qr: present(statusHidden, ['name', 'id_number_masked', 'status'], hotel, NOW - 10),
    purpose: 'hotel_checkin', expect: 'credential.vc.hidden_required_claim',
  },
  {
    name: 'status made disclosable, and withheld', qr: present(statusHidden, ['name', 'id_number_masked'], hotel, NOW - 10),
    purpose: 'hotel_checkin', expect: 'credential.claim.missing',
  },
  {
    name: 'exp made disclosable, and withheld', qr: present(expHidden, ['name', 'id_number_masked'], hotel, NOW - 10),
    purpose: 'hotel_checkin', expect: 'credential.claim.missing',
  },
  { name: 'disclosures nested 100 deep', credential: deeplyNested(100), expect: 'credential.sd.too_deep' },
  { name: 'disclosures nested 10,000 deep', credential: deeplyNested(10_000), expect: 'credential.sd.too_deep' },
];

const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'corpus.json'), `${JSON.stringify({ now: NOW, caches, attacks }, null, 1)}\n`);

// Seeds for the fuzz target behind the signature (fuzz/fuzz_targets/sd_jwt_signed.rs):
// the issuer payload on the first line, one disclosure per line after it.
const seeds = join(here, '../../../../fuzz/seeds/sd_jwt_signed');
mkdirSync(seeds, { recursive: true });
const asSeed = (sdJwt) => {
  const [jwt, ...disclosures] = sdJwt.split('~').filter((part) => part.length > 0);
  const payload = Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8');
  return `${payload}\n${disclosures.join('\n')}\n`;
};
writeFileSync(join(seeds, 'credential'), asSeed(`${citizen.jwt}~${Object.values(citizen.disclosures).join('~')}~`));
writeFileSync(join(seeds, 'status_hidden'), asSeed(`${statusHidden.jwt}~${Object.values(statusHidden.disclosures).join('~')}~`));
writeFileSync(join(seeds, 'deep_nesting_100'), asSeed(deeplyNested(100)));
console.log(`${attacks.length} attacks written to ${join(here, 'corpus.json')}`);
