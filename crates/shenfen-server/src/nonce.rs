//! Tokens any server instance can check without shared state (an HMAC over
//! randomness and an expiry): OpenID4VCI `c_nonce` values, made single-use
//! by the store's replay set when a request spends one, and enrollment
//! session ids, so a forged id is refused before the store is asked.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a `c_nonce` is valid, in seconds.
pub const NONCE_LIFETIME_SECS: i64 = 300;
const RANDOM_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// Issues and checks `c_nonce` values.
pub struct NonceIssuer {
    key: hmac::Key,
}

impl NonceIssuer {
    /// A nonce issuer keyed with a server secret shared by all instances.
    pub fn new(secret: &[u8; 32]) -> NonceIssuer {
        NonceIssuer { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// A fresh nonce valid until `now + NONCE_LIFETIME_SECS`.
    pub fn issue(&self, now: i64) -> Option<(String, i64)> {
        self.issue_for(now, NONCE_LIFETIME_SECS)
    }

    /// A fresh token valid for `lifetime_secs`.
    pub fn issue_for(&self, now: i64, lifetime_secs: i64) -> Option<(String, i64)> {
        let mut body = [0u8; RANDOM_LEN + 8];
        SystemRandom::new().fill(&mut body[..RANDOM_LEN]).ok()?;
        let expires = now + lifetime_secs;
        body[RANDOM_LEN..].copy_from_slice(&expires.to_be_bytes());
        let tag = hmac::sign(&self.key, &body);
        let mut token = body.to_vec();
        token.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        Some((URL_SAFE_NO_PAD.encode(token), expires))
    }

    /// The nonce's expiry if it is one of ours and has not expired. Spending it
    /// (refusing a second use) is the store's `consume_nonce`.
    pub fn check(&self, nonce: &str, now: i64) -> Option<i64> {
        let bytes = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if bytes.len() != RANDOM_LEN + 8 + TAG_LEN {
            return None;
        }
        let (body, tag) = bytes.split_at(RANDOM_LEN + 8);
        verify_slices_are_equal(&hmac::sign(&self.key, body).as_ref()[..TAG_LEN], tag).ok()?;
        let expires = i64::from_be_bytes(body[RANDOM_LEN..].try_into().ok()?);
        (now <= expires).then_some(expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_check_until_they_expire_and_only_with_our_key() {
        let issuer = NonceIssuer::new(&[9; 32]);
        let (nonce, expires) = issuer.issue(1000).unwrap();
        assert_eq!(issuer.check(&nonce, 1000), Some(expires));
        assert_eq!(issuer.check(&nonce, expires + 1), None);
        assert_eq!(NonceIssuer::new(&[8; 32]).check(&nonce, 1000), None);
        let mut forged = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        forged[0] ^= 1;
        assert_eq!(issuer.check(&URL_SAFE_NO_PAD.encode(forged), 1000), None);
        assert_eq!(issuer.check("not base64!", 1000), None);
        assert_ne!(issuer.issue(1000).unwrap().0, nonce);
    }
}
