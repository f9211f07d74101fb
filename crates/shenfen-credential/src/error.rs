use thiserror::Error;

/// Every way a credential operation can fail.
///
/// Verification failures are deliberately fine-grained: a verifier's log, a
/// relying party's support desk and the tamper tests all need to know *which*
/// check refused a presentation. Each variant has a stable code
/// ([`CredentialError::code`]) listed in `docs/ERRORS.md`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CredentialError {
    /// Text that should be base64url (no padding) is not.
    #[error("{0} is not valid base64url")]
    Base64(&'static str),
    /// Bytes that should be a JSON value of a given shape are not.
    #[error("{what} is not valid JSON: {reason}")]
    Json {
        /// What was being parsed.
        what: &'static str,
        /// The parser's explanation.
        reason: String,
    },
    /// A compact JWS does not have three dot-separated parts.
    #[error("{0} is not a compact JWS (header.payload.signature)")]
    JwsShape(&'static str),
    /// The JWS header names an algorithm other than ES256 (including `none`).
    #[error("{what} uses algorithm {alg:?}; only ES256 is accepted")]
    UnsupportedAlgorithm {
        /// Which JWS.
        what: &'static str,
        /// The algorithm it named.
        alg: String,
    },
    /// The JWS `typ` header is not the one this kind of token must carry.
    #[error("{what} has typ {found:?}, expected {expected:?}")]
    WrongType {
        /// Which JWS.
        what: &'static str,
        /// What the header said (empty when absent).
        found: String,
        /// What it should say.
        expected: &'static str,
    },
    /// A signature does not verify.
    #[error("the signature of the {0} does not verify")]
    BadSignature(&'static str),
    /// A JWK is malformed or not a P-256 key.
    #[error("invalid JWK: {0}")]
    InvalidJwk(String),
    /// Key generation or signing failed inside the crypto library.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// The serialized SD-JWT is structurally wrong (empty parts, missing `~`).
    #[error("malformed SD-JWT: {0}")]
    Malformed(String),
    /// A disclosure is not a JSON array of 2 or 3 elements with a string salt.
    #[error("invalid disclosure: {0}")]
    InvalidDisclosure(String),
    /// `_sd_alg` names a hash other than sha-256.
    #[error("unsupported _sd_alg {0:?}; only sha-256 is accepted")]
    UnsupportedHashAlgorithm(String),
    /// The same disclosure appears twice in the presentation.
    #[error("the same disclosure is included twice")]
    DuplicateDisclosure,
    /// A digest appears more than once in the payload or in disclosures.
    #[error("digest {0} appears more than once")]
    DuplicateDigest(String),
    /// A disclosure is not referenced by any digest.
    #[error("a disclosure is not referenced by any digest in the SD-JWT")]
    UnreferencedDisclosure,
    /// A disclosed claim name is `_sd` or `...`.
    #[error("disclosure uses the reserved claim name {0:?}")]
    ReservedClaimName(String),
    /// A disclosed claim already exists in its object.
    #[error("disclosed claim {0:?} already exists in its object")]
    ClaimCollision(String),
    /// An object-property disclosure was referenced from an array, or vice versa.
    #[error("a {found} disclosure is referenced where {expected} disclosure is required")]
    DisclosureKindMismatch {
        /// "object property" or "array element", as referenced.
        expected: &'static str,
        /// What the disclosure actually is.
        found: &'static str,
    },
    /// `_sd` or `...` holds something other than digest strings.
    #[error("invalid selective-disclosure structure: {0}")]
    InvalidSdStructure(String),
    /// A registered time claim is missing or is not a number.
    #[error("claim {0:?} is missing or not a NumericDate")]
    InvalidTimeClaim(&'static str),
    /// `exp` is in the past: of the credential, or of the status list,
    /// trust list or attestation it was checked with (`what` says which).
    #[error("the {what} expired at {exp} (now {now})")]
    Expired {
        /// What expired: "credential", "status list", "trust list", "verifier attestation".
        what: &'static str,
        /// Expiry, seconds since the epoch.
        exp: i64,
        /// Verification time.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("the credential is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// Not-before, seconds since the epoch.
        nbf: i64,
        /// Verification time.
        now: i64,
    },
    /// `iat` is in the future beyond the allowed skew.
    #[error("{what} is issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// Which token.
        what: &'static str,
        /// Its `iat`.
        iat: i64,
        /// Verification time.
        now: i64,
    },
    /// A key binding JWT was required but is absent.
    #[error("the presentation has no key binding JWT, but one is required")]
    MissingKeyBinding,
    /// A key binding JWT is present but the credential carries no `cnf.jwk`.
    #[error("the credential has no cnf.jwk holder key to check the key binding against")]
    MissingHolderKey,
    /// The key binding JWT's `aud` differs from the verifier's identifier.
    #[error("key binding JWT audience {found:?} is not this verifier ({expected:?})")]
    WrongAudience {
        /// The verifier's identifier.
        expected: String,
        /// What the JWT carried.
        found: String,
    },
    /// The key binding JWT's `nonce` differs from the one the verifier issued.
    #[error("key binding JWT nonce does not match the nonce of this request")]
    WrongNonce,
    /// The key binding JWT is older than the verifier's window.
    #[error("key binding JWT was made at {iat}, older than the allowed {max_age_secs} s (now {now})")]
    KeyBindingTooOld {
        /// Its `iat`.
        iat: i64,
        /// Verification time.
        now: i64,
        /// The window.
        max_age_secs: i64,
    },
    /// The key binding JWT's `sd_hash` does not cover this presentation.
    #[error("key binding JWT sd_hash does not match the presented SD-JWT and disclosures")]
    SdHashMismatch,
    /// A required claim is absent.
    #[error("required claim {0:?} is missing")]
    MissingClaim(String),
    /// A claim the issuer asked to make selectively disclosable must stay visible.
    #[error("claim {0:?} must not be selectively disclosable")]
    NotDisclosable(String),
    /// The issuer's claims are not a JSON object or a path does not exist in them.
    #[error("cannot make {0:?} selectively disclosable: no such claim")]
    NoSuchClaim(String),
    /// The holder asked to disclose a claim the credential does not hold.
    #[error("the credential has no selectively disclosable claim {0:?}")]
    NotInCredential(String),
    /// A status list's `bits` is not 1, 2, 4 or 8.
    #[error("status list bits must be 1, 2, 4 or 8, not {0}")]
    InvalidStatusBits(u64),
    /// A status value does not fit the list's bit width.
    #[error("status value {value} does not fit in {bits} bits")]
    StatusValueTooLarge {
        /// The value.
        value: u8,
        /// The list's width.
        bits: u8,
    },
    /// A status index is beyond the end of the list.
    #[error("status index {index} is outside the list of {len} entries")]
    StatusIndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The list length.
        len: u64,
    },
    /// The compressed status list does not inflate, or inflates too large.
    #[error("status list does not decompress: {0}")]
    StatusListCompression(String),
    /// The status list token's `sub` is not the URI the credential references.
    #[error("status list token is for {found:?}, the credential references {expected:?}")]
    StatusListSubjectMismatch {
        /// The URI in the credential.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
    /// The credential's status in its list is not VALID.
    #[error("the credential's status is {0}")]
    Revoked(crate::StatusType),
    /// The verifier's offline cache is older than it allows.
    #[error("the offline cache is {age_secs} s old, more than the {max_secs} s allowed: run `shenfen verifier sync`")]
    StaleCache {
        /// Its age.
        age_secs: i64,
        /// The allowed age.
        max_secs: i64,
    },
    /// The credential's issuer (or key) is not on the verifier's trust list.
    #[error("issuer {0} is not trusted by this verifier")]
    UntrustedIssuer(String),
    /// The credential's status list is not in the verifier's cache.
    #[error("status list {0} is not cached: run `shenfen verifier sync`")]
    UncachedStatusList(String),
    /// The verifier has already accepted this very presentation.
    #[error("this presentation was already accepted here: a QR code is shown once")]
    Replayed,
    /// The person in front of the verifier does not match the signed face template.
    #[error("the live face does not match the credential's face template (similarity {0})")]
    LiveFaceMismatch(String),
    /// The presentation does not reach the assurance level the verifier asks for.
    #[error("the presentation reaches {reached}, this verifier needs {needed}: {hint}")]
    LevelNotReached {
        /// Level reached.
        reached: String,
        /// Level asked.
        needed: String,
        /// What would reach it.
        hint: &'static str,
    },
    /// An offline QR payload is not one this version writes.
    #[error("invalid QR payload: {0}")]
    InvalidQrPayload(String),
    /// The claims nest deeper than processing allows.
    #[error("the claims nest more than {0} levels deep")]
    TooDeep(usize),
    /// A claim that must stay visible (`iss`, `exp`, `cnf`, `status`, `vct`, …) was made disclosable.
    #[error("{0} sits inside a disclosure; SD-JWT VC keeps it in the signed payload, where it cannot be left out")]
    HiddenRequiredClaim(String),
    /// The presentation shows a claim with a value the verifier's purpose does not accept.
    #[error("{claim} is {found}; {purpose} needs {needed}")]
    PurposeUnmet {
        /// The claim.
        claim: String,
        /// Its disclosed value.
        found: String,
        /// The value needed.
        needed: String,
        /// The verifier's purpose.
        purpose: String,
    },
    /// The presentation discloses more than the verifier's purpose allows.
    #[error("the presentation discloses {0}, more than {1} needs: a wallet shows only what the purpose asks for")]
    Overshared(String, String),
    /// A sealed value (a compact JWE) is not one this crate opens: its shape,
    /// its algorithms or its ephemeral key are wrong.
    #[error("malformed sealed value: {0}")]
    SealedMalformed(String),
    /// A sealed value does not open with this key: sealed to another
    /// recipient, or changed since it was sealed.
    #[error("the sealed value does not open with this key: sealed to another recipient, or altered")]
    SealedUnopenable,
    /// The trust list the cache came from has expired.
    #[error("the trust list expired at {expired_at} (now {now}): sync again with a current one")]
    TrustListExpired {
        /// Its `exp`.
        expired_at: i64,
        /// The verification time.
        now: i64,
    },
}

impl CredentialError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Base64(_) => "credential.base64",
            Self::Json { .. } => "credential.json",
            Self::JwsShape(_) => "credential.jws.shape",
            Self::UnsupportedAlgorithm { .. } => "credential.jws.algorithm",
            Self::WrongType { .. } => "credential.jws.typ",
            Self::BadSignature(_) => "credential.signature",
            Self::InvalidJwk(_) => "credential.jwk.invalid",
            Self::Crypto(_) => "credential.crypto",
            Self::Malformed(_) => "credential.sd_jwt.malformed",
            Self::InvalidDisclosure(_) => "credential.disclosure.invalid",
            Self::UnsupportedHashAlgorithm(_) => "credential.sd_alg",
            Self::DuplicateDisclosure => "credential.disclosure.duplicate",
            Self::DuplicateDigest(_) => "credential.digest.duplicate",
            Self::UnreferencedDisclosure => "credential.disclosure.unreferenced",
            Self::ReservedClaimName(_) => "credential.disclosure.reserved_name",
            Self::ClaimCollision(_) => "credential.disclosure.collision",
            Self::DisclosureKindMismatch { .. } => "credential.disclosure.kind",
            Self::InvalidSdStructure(_) => "credential.sd.structure",
            Self::InvalidTimeClaim(_) => "credential.time.invalid",
            Self::Expired { .. } => "credential.time.expired",
            Self::NotYetValid { .. } => "credential.time.not_yet_valid",
            Self::IssuedInFuture { .. } => "credential.time.future_iat",
            Self::MissingKeyBinding => "credential.kb.missing",
            Self::MissingHolderKey => "credential.kb.no_cnf",
            Self::WrongAudience { .. } => "credential.kb.audience",
            Self::WrongNonce => "credential.kb.nonce",
            Self::KeyBindingTooOld { .. } => "credential.kb.too_old",
            Self::SdHashMismatch => "credential.kb.sd_hash",
            Self::MissingClaim(_) => "credential.claim.missing",
            Self::NotDisclosable(_) => "credential.issue.not_disclosable",
            Self::NoSuchClaim(_) => "credential.issue.no_such_claim",
            Self::NotInCredential(_) => "credential.present.not_in_credential",
            Self::InvalidStatusBits(_) => "credential.status.bits",
            Self::StatusValueTooLarge { .. } => "credential.status.value",
            Self::StatusIndexOutOfRange { .. } => "credential.status.index",
            Self::StatusListCompression(_) => "credential.status.compression",
            Self::StatusListSubjectMismatch { .. } => "credential.status.subject",
            Self::Revoked(_) => "credential.status.revoked",
            Self::InvalidQrPayload(_) => "credential.qr.invalid",
            Self::StaleCache { .. } => "credential.offline.stale_cache",
            Self::Replayed => "credential.offline.replayed",
            Self::LiveFaceMismatch(_) => "credential.offline.face_mismatch",
            Self::LevelNotReached { .. } => "credential.level",
            Self::UntrustedIssuer(_) => "credential.offline.untrusted_issuer",
            Self::UncachedStatusList(_) => "credential.offline.uncached_status",
            Self::TooDeep(_) => "credential.sd.too_deep",
            Self::HiddenRequiredClaim(_) => "credential.vc.hidden_required_claim",
            Self::PurposeUnmet { .. } => "credential.purpose.unmet",
            Self::Overshared(..) => "credential.purpose.overshared",
            Self::TrustListExpired { .. } => "credential.offline.trust_list_expired",
            Self::SealedMalformed(_) => "credential.sealed.malformed",
            Self::SealedUnopenable => "credential.sealed.unopenable",
        }
    }
}
