// The holder's side of SD-JWT (RFC 9901) in the browser: read a credential's
// disclosures, choose the ones a purpose needs, bind the presentation to the
// device key (KB-JWT, ES256 by WebCrypto) and pack it for a QR code in the
// format the counters read (shenfen-credential's qr_payload, version 1).

import { deflateSync } from '/vendor/fflate.js';

const encoder = new TextEncoder();

/** base64url without padding, of bytes. */
export function b64url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of base64url (padded or not) or base64 text. */
export function fromB64(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const jsonPart = (part) => JSON.parse(new TextDecoder().decode(fromB64(part)));

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** A credential `issuer-jwt~disclosure~…~` as its parts, each disclosure with its digest. */
export async function parseCredential(text) {
  const [issuerJwt, ...rest] = text.split('~');
  const payload = jsonPart(issuerJwt.split('.')[1]);
  const disclosures = await Promise.all(
    rest.filter((d) => d.length > 0).map(async (encoded) => {
      const [, name, value] = jsonPart(encoded);
      return { encoded, name, value, digest: b64url(await sha256(encoded)) };
    }),
  );
  return { issuerJwt, payload, disclosures };
}

/** The disclosures whose digests sit in the payload's top-level `_sd`: the claims a purpose names. */
export function topLevelDisclosures(credential) {
  const digests = new Set(credential.payload._sd || []);
  return credential.disclosures.filter((d) => digests.has(d.digest));
}

/** What the card shows: every disclosed name and value, nested ones flattened by name. */
export function cardClaims(credential) {
  const claims = {};
  for (const d of credential.disclosures) if (d.name !== undefined && !(d.name in claims)) claims[d.name] = d.value;
  return claims;
}

/** The public JWK of a WebCrypto P-256 key pair. */
export async function publicJwk(keyPair) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  return { crv, kty, x, y };
}

/** A compact JWS (ES256) over `header` and `claims`, signed by a non-extractable private key. */
export async function signJws(header, claims, privateKey) {
  const input = `${b64url(encoder.encode(JSON.stringify(header)))}.${b64url(encoder.encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, encoder.encode(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** A fresh random nonce, base64url. */
export function randomNonce() {
  return b64url(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * A key-bound presentation disclosing the top-level claims `names` (those the
 * credential holds): `issuer-jwt~d1~…~dn~kb-jwt`, returned as its parts.
 */
export async function present(credential, names, privateKey, audience, nonce, iat) {
  const chosen = topLevelDisclosures(credential).filter((d) => names.includes(d.name));
  const unbound = `${credential.issuerJwt}~${chosen.map((d) => `${d.encoded}~`).join('')}`;
  // Members in the order the Rust side writes them (sorted), so the preset dictionary matches.
  const claims = { aud: audience, iat, nonce, sd_hash: b64url(await sha256(unbound)) };
  const kb = await signJws({ alg: 'ES256', typ: 'kb+jwt' }, claims, privateKey);
  return { issuerJwt: credential.issuerJwt, disclosures: chosen.map((d) => d.encoded), kb, disclosed: chosen.map((d) => d.name) };
}

function varint(value, out) {
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
}

/**
 * The QR payload, version 1: `0x01 | raw DEFLATE with the preset dictionary
 * (varint n | part × (3 + n + 3))`, each part `varint length | raw bytes`.
 */
export function packQrPayload(presentation, dictionary) {
  const parts = [...presentation.issuerJwt.split('.'), ...presentation.disclosures, ...presentation.kb.split('.')];
  const body = [];
  varint(presentation.disclosures.length, body);
  for (const part of parts) {
    const bytes = fromB64(part);
    varint(bytes.length, body);
    for (const byte of bytes) body.push(byte);
  }
  const deflated = deflateSync(Uint8Array.from(body), { level: 9, dictionary });
  const payload = new Uint8Array(deflated.length + 1);
  payload[0] = 1;
  payload.set(deflated, 1);
  return payload;
}
