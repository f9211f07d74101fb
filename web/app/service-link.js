// A service's check-in link (`/wallet/?service=<Verifier Attestation JWT>`):
// a desk (a hotel's front desk, a railway's gate) shows it as a QR code once;
// the guest's phone opens it, the wallet checks that this authority vouches
// for the service, and draws an offline QR meant for that service only —
// its key binding names the service, and it discloses exactly what the
// authority entitled the service to, of what the card holds.

import { jwsHeader, verifiedJwsPayload } from '/app/sd-jwt.js';

/** The `typ` of a Verifier Attestation JWT (OpenID4VP 1.0 §12). */
const ATTESTATION_TYP = 'verifier-attestation+jwt';
/** The client identifier prefix of attested services (OpenID4VP 1.0 §5.9.3): the key binding's `aud`. */
export const ATTESTATION_PREFIX = 'verifier_attestation:';
/** Seconds of clock difference allowed between the phone and the authority. */
const SKEW = 60;
/** Claims that, when entitled, the card must hold: without them the service cannot do its duty. */
const REQUIRED_WHEN_ENTITLED = ['sealed_id_number'];

/**
 * A Verifier Attestation checked as the wallet trusts it: typed as one,
 * signed by one of this authority's keys (`jwks`), issued by this authority
 * (`origin`), unexpired at `now`, and naming the key the service signs with.
 * Answers its claims; throws `notAttested` (an Error) otherwise.
 */
export async function verifiedAttestation(jwt, jwks, origin, now, notAttested) {
  let attestation;
  try {
    if (jwsHeader(jwt).typ !== ATTESTATION_TYP) throw notAttested;
    attestation = await verifiedJwsPayload(jwt, jwks);
  } catch {
    throw notAttested;
  }
  const fine = attestation.iss === origin && attestation.exp > now - SKEW && typeof attestation.sub === 'string' && attestation.cnf?.jwk;
  if (!fine) throw notAttested;
  return attestation;
}

/**
 * What an offline QR for an attested service discloses: the claim paths the
 * authority entitled it to, and its own pseudonym — never more. Answers the
 * paths (arrays) and the key binding's audience.
 */
export function serviceClaims(attestation) {
  const paths = (attestation.entitled_claims ?? [])
    .filter((claim) => typeof claim === 'string' && !claim.startsWith('is:'))
    .map((claim) => claim.split('/'));
  paths.push(['pseudonyms', attestation.sub]);
  return { paths, audience: `${ATTESTATION_PREFIX}${attestation.sub}` };
}

/** The entitled claims the service cannot do without that the card lacks (a card issued before the police key has no sealed ID number). */
export function missingRequired(attestation, heldPaths) {
  const held = new Set(heldPaths.map((path) => path.join('/')));
  return REQUIRED_WHEN_ENTITLED.filter((claim) => (attestation.entitled_claims ?? []).includes(claim) && !held.has(claim));
}
