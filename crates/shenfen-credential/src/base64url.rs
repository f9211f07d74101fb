//! base64url without padding, the only encoding JOSE uses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::CredentialError;

/// Encodes bytes as unpadded base64url.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; `what` names the field in the error.
pub(crate) fn decode(text: &str, what: &'static str) -> Result<Vec<u8>, CredentialError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| CredentialError::Base64(what))
}

/// Decodes exactly `N` bytes (a coordinate, a scalar, a signature).
pub(crate) fn decode_array<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], CredentialError> {
    let bytes = decode(text, what)?;
    bytes.try_into().map_err(|_| CredentialError::Base64(what))
}
