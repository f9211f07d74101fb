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

/**
 * The disclosures that reveal the claim at `path` (["name"], ["record",
 * "id_number"], ["pseudonyms", client_id]): each level's disclosure whose
 * digest sits in its parent's `_sd`. `null` when the credential does not hold it.
 */
export function disclosuresFor(credential, path) {
  let container = credential.payload;
  const chosen = [];
  for (const name of path) {
    const digests = new Set((container && container._sd) || []);
    const disclosure = credential.disclosures.find((d) => d.name === name && digests.has(d.digest));
    if (disclosure) {
      chosen.push(disclosure);
      container = disclosure.value;
    } else if (container && typeof container === 'object' && name in container) {
      container = container[name];
    } else {
      return null;
    }
  }
  return chosen;
}

/** The disclosures revealing every path the credential holds (each once), and the paths it holds. */
export function disclosuresForPaths(credential, paths) {
  const chosen = new Map();
  const held = [];
  for (const path of paths) {
    const found = disclosuresFor(credential, path);
    if (!found) continue;
    held.push(path);
    for (const d of found) chosen.set(d.encoded, d);
  }
  return { disclosures: [...chosen.values()], held };
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
 * A key-bound presentation revealing `disclosures`, for `audience` and its
 * `nonce`: `issuer-jwt~d1~…~dn~kb-jwt`, returned as its parts.
 */
export async function present(credential, disclosures, privateKey, audience, nonce, iat) {
  const unbound = `${credential.issuerJwt}~${disclosures.map((d) => `${d.encoded}~`).join('')}`;
  // Members in the order the Rust side writes them (sorted), so the preset dictionary matches.
  const claims = { aud: audience, iat, nonce, sd_hash: b64url(await sha256(unbound)) };
  const kb = await signJws({ alg: 'ES256', typ: 'kb+jwt' }, claims, privateKey);
  return { issuerJwt: credential.issuerJwt, disclosures: disclosures.map((d) => d.encoded), kb, text: `${unbound}${kb}` };
}

/** The payload of a compact JWS whose ES256 signature verifies under one of `jwks` (by `kid`); throws otherwise. */
export async function verifiedJwsPayload(jws, jwks) {
  const { kid } = jwsHeader(jws);
  const jwk = jwks.find((k) => k.kid === kid);
  if (!jwk) throw new Error('the request is not signed by a key of this authority');
  return verifiedWithKey(jws, jwk);
}

/** The protected header of a compact JWS, not yet verified. */
export function jwsHeader(jws) {
  return jsonPart(jws.split('.')[0]);
}

/** The payload of an ES256 compact JWS once its signature verifies with `jwk`. */
export async function verifiedWithKey(jws, jwk) {
  const [header, payload, signature] = jws.split('.');
  if (jsonPart(header).alg !== 'ES256') throw new Error('the request is not signed with ES256');
  const key = await crypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const valid = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, fromB64(signature), encoder.encode(`${header}.${payload}`));
  if (!valid) throw new Error('the request signature does not verify');
  return jsonPart(payload);
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
