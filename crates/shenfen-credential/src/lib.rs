//! SD-JWT VC credentials for shenfen, with no IO.
//!
//! - [`issue_vc`] / [`issue`]: conceal claims behind salted digests and sign (RFC 9901).
//! - [`select`] / [`present`]: the holder reveals only what is asked and binds
//!   the presentation to one verifier and nonce with a key binding JWT.
//! - [`verify_vc`] / [`verify`]: every check of RFC 9901 §7, each failure its own
//!   [`CredentialError`] variant.
//! - [`StatusList`] / [`StatusListToken`]: IETF Token Status List for revocation.
//! - [`seal`] / [`open_sealed`]: a value only one recipient opens (JWE, ECDH-ES + A256GCM).
//!
//! Time is always passed in (`now`, `iat`), never read from a clock, so every
//! result is reproducible in tests and on a verifier with a cached clock.

mod base64url;
mod disclosure;
mod error;
pub mod es256;
mod issuance;
mod jwk;
mod jws;
mod key_binding;
mod offline;
mod presentation;
mod processing;
mod qr_payload;
mod sd_jwt;
mod sealed;
mod status_list;
mod status_list_token;
mod trust_list;
mod vc;
mod verification;
mod verifier_attestation;

pub use disclosure::Disclosure;
pub use error::CredentialError;
pub use issuance::{IssueOptions, issue};
pub use jwk::{PrivateJwk, PublicJwk};
pub use jws::{Jws, es256_header, sign_compact};
pub use key_binding::{KB_TYP, KeyBindingCheck, bind};
pub use offline::{
    CachedStatusList, OfflinePolicy, TrustedIssuer, VerifierCache, verify_as_shown, verify_offline, verify_online,
    verify_status_list,
};
pub use presentation::{present, select};
pub use processing::child_pointer;
pub use qr_payload::{DICTIONARY, decode_qr_payload, encode_qr_payload};
pub use sd_jwt::SdJwt;
pub use sealed::{MAX_SEALED_LEN, SEALED_ALG, SEALED_ENC, open_sealed, seal};
pub use status_list::{MAX_LIST_BYTES, StatusList, StatusType};
pub use status_list_token::{STATUS_LIST_TYP, StatusListToken, StatusReference};
pub use trust_list::{TRUST_LIST_TYP, TrustList, TrustedAuthority};
pub use vc::{
    NEVER_DISCLOSABLE, PresentationPolicy, VC_TYP, VcIssuance, VcIssuer, VerifiedVc, issue_vc, verify_presentation,
    verify_vc,
};
pub use verification::{Verified, VerifyOptions, verify};
pub use verifier_attestation::{VERIFIER_ATTESTATION_PREFIX, VERIFIER_ATTESTATION_TYP, VerifierAttestation};
