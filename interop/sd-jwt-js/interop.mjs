// Interoperability driver for the OpenWallet Foundation's TypeScript SD-JWT
// implementation (@sd-jwt/sd-jwt-vc, @sd-jwt/jwt-status-list): it issues,
// presents and verifies with *their* code so that shenfen's Rust tests can
// check both directions, and it measures their rates for bench/.
//
//   node interop.mjs issue  --out DIR --aud AUD --nonce NONCE
//   node interop.mjs verify --issuer-jwk FILE --aud AUD --nonce NONCE [--status-list FILE] < presentation
//   node interop.mjs bench  [--iterations N]
//
// Only ES256 primitives come from node:crypto; all SD-JWT logic is theirs.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';

const VCT = 'urn:shenfen:id:lightweight:1';
const STATUS_URI = 'https://authority.example/status/js';

function args() {
  const out = {};
  const argv = process.argv.slice(3);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

const hasher = (data) => new Uint8Array(createHash('sha256').update(data).digest());
const saltGenerator = (length) => randomBytes(length).toString('base64url');
const signerFor = (privateKey) => (data) =>
  sign('sha256', Buffer.from(data), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const verifyWith = (publicKey, data, signature) =>
  verify('sha256', Buffer.from(data), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
const publicFromJwk = (jwk) => createPublicKey({ key: jwk, format: 'jwk' });
const kbVerifier = (data, signature, payload) => verifyWith(publicFromJwk(payload.cnf.jwk), data, signature);
const now = () => Math.floor(Date.now() / 1000);

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, publicJwk: publicKey.export({ format: 'jwk' }) };
}

function instance(issuer, holder, statusListFetcher, statusVerifier) {
  return new SDJwtVcInstance({
    signer: issuer && signerFor(issuer.privateKey),
    signAlg: 'ES256',
    verifier: issuer && ((data, signature) => verifyWith(issuer.publicKey, data, signature)),
    kbSigner: holder && signerFor(holder.privateKey),
    kbSignAlg: 'ES256',
    kbVerifier,
    hasher,
    hashAlg: 'sha-256',
    saltGenerator,
    statusListFetcher,
    statusVerifier,
  });
}

function citizenPayload(holder, statusIdx) {
  const iat = now();
  return {
    iss: 'https://authority.js.example',
    vct: VCT,
    iat,
    exp: iat + 3600,
    cnf: { jwk: holder.publicJwk },
    name: '林晓梅',
    id_number_masked: '440106********1223',
    age_over_18: true,
    region: 'Guangdong',
    status: { status_list: { idx: statusIdx, uri: STATUS_URI } },
  };
}

const disclosureFrame = { _sd: ['name', 'id_number_masked', 'age_over_18'] };

async function statusListToken(issuer, revoked) {
  const list = new StatusList(new Array(1024).fill(0), 1);
  for (const idx of revoked) list.setStatus(idx, 1);
  const iat = now();
  const { header, payload } = createHeaderAndPayload(
    list,
    { iss: 'https://authority.js.example', sub: STATUS_URI, iat, exp: iat + 3600, ttl: 300 },
    { alg: 'ES256', typ: 'statuslist+jwt' },
  );
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${signerFor(issuer.privateKey)(input)}`;
}

async function issueCommand({ out, aud, nonce }) {
  mkdirSync(out, { recursive: true });
  const issuer = keyPair();
  const holder = keyPair();
  const sdjwt = instance(issuer, holder);
  const credential = await sdjwt.issue(citizenPayload(holder, 42), disclosureFrame);
  const presentation = await sdjwt.present(credential, { age_over_18: true }, { kb: { payload: { aud, nonce, iat: now() } } });
  writeFileSync(join(out, 'issuer.pub.jwk'), JSON.stringify(issuer.publicJwk));
  writeFileSync(join(out, 'credential.txt'), credential);
  writeFileSync(join(out, 'presentation.txt'), presentation);
  writeFileSync(join(out, 'status_list.jwt'), await statusListToken(issuer, [7, 1000]));
}

async function verifyCommand({ 'issuer-jwk': issuerJwk, aud, nonce, 'status-list': statusList }) {
  const issuer = { publicKey: publicFromJwk(JSON.parse(readFileSync(issuerJwk, 'utf8'))) };
  const token = statusList && readFileSync(statusList, 'utf8').trim();
  const fetcher = async (uri) => {
    if (!token) throw new Error(`no status list given for ${uri}`);
    return token;
  };
  const sdjwt = instance(issuer, null, fetcher);
  const presentation = readFileSync(0, 'utf8').trim();
  const result = await sdjwt.verify(presentation, { keyBindingNonce: nonce, currentDate: now(), skewSeconds: 60 });
  if (!result.kb) throw new Error('no key binding JWT was verified');
  if (result.kb.payload.aud !== aud) throw new Error(`KB-JWT audience ${result.kb.payload.aud} is not ${aud}`);
  process.stdout.write(`${JSON.stringify(result.payload)}\n`);
}

async function rate(n, op) {
  for (let i = 0; i < Math.min(n, 50); i++) await op(i);
  const results = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) results.push(await op(i));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { perSec: n / secs, results };
}

async function benchCommand({ iterations }) {
  const n = Number(iterations ?? 2000);
  const issuer = keyPair();
  const holders = Array.from({ length: 64 }, keyPair);
  const token = await statusListToken(issuer, [1023]);
  // Like shenfen's verifier, check the cached status list's signature once, not per presentation.
  const verifiedTokens = new Map();
  const statusVerifier = (data, signature) => {
    if (!verifiedTokens.has(signature)) verifiedTokens.set(signature, verifyWith(issuer.publicKey, data, signature));
    return verifiedTokens.get(signature);
  };
  const issuers = holders.map((holder) => instance(issuer, holder, async () => token, statusVerifier));
  const aud = 'https://hotel.example';
  const issue = await rate(n, (i) => issuers[i % 64].issue(citizenPayload(holders[i % 64], i % 1000), disclosureFrame));
  const present = await rate(n, (i) =>
    issuers[i % 64].present(issue.results[i], { age_over_18: true }, { kb: { payload: { aud, nonce: `nonce-${i}`, iat: now() } } }),
  );
  const verifyRate = await rate(n, async (i) => {
    const result = await issuers[0].verify(present.results[i], { keyBindingNonce: `nonce-${i}`, currentDate: now(), skewSeconds: 60 });
    if (result.kb.payload.aud !== aud || result.payload.age_over_18 !== true) throw new Error('unexpected verification result');
  });
  const message = Buffer.from('0'.repeat(600));
  const signatures = Array.from({ length: n }, (_, i) => sign('sha256', Buffer.from(`${i}`.padStart(600, '0')), { key: issuer.privateKey, dsaEncoding: 'ieee-p1363' }));
  const raw = await rate(n, (i) => verify('sha256', Buffer.from(`${i}`.padStart(600, '0')), { key: issuer.publicKey, dsaEncoding: 'ieee-p1363' }, signatures[i]));
  if (!raw.results.every(Boolean) || message.length !== 600) throw new Error('raw verification failed');
  process.stdout.write(`${JSON.stringify({
    implementation: '@sd-jwt/sd-jwt-vc 0.19.0 on Node.js ' + process.version,
    iterations: n,
    issue_per_sec: Math.round(issue.perSec),
    present_per_sec: Math.round(present.perSec),
    verify_per_sec: Math.round(verifyRate.perSec),
    raw_es256_verify_per_sec: Math.round(raw.perSec),
  })}\n`);
}

const commands = { issue: issueCommand, verify: verifyCommand, bench: benchCommand };
const command = commands[process.argv[2]];
if (!command) {
  process.stderr.write('usage: node interop.mjs issue|verify|bench [--flags]\n');
  process.exit(2);
}
command(args()).catch((err) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
