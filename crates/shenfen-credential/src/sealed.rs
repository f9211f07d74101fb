//! Sealed values: bytes encrypted to one recipient's P-256 key as a compact
//! JWE (RFC 7516) with `alg: ECDH-ES` (direct key agreement, RFC 7518 §4.6)
//! and `enc: A256GCM`.
//!
//! What it is for: a value a relying party must carry but may not read — the
//! ID number in a hotel's guest register, which only the police open. Each
//! seal draws a fresh ephemeral key and IV, so two seals of the same value
//! share no byte and two hotels holding one cannot link the guest.
//!
//! Hand-written on aws-lc-rs (ECDH, AES-GCM, SHA-256) because no well-kept
//! JOSE crate builds on aws-lc-rs without OpenSSL or a second crypto stack;
//! the parts are the RFC's: the Concat KDF of RFC 7518 §4.6.2 (checked
//! against its Appendix C), and the interop test opens what an independent
//! implementation seals and the other way round.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{CredentialError, PrivateJwk, PublicJwk, base64url};

/// The one key management algorithm sealed values use.
pub const SEALED_ALG: &str = "ECDH-ES";
/// The one content encryption they use.
pub const SEALED_ENC: &str = "A256GCM";
/// The largest compact JWE [`open_sealed`] reads: a sealed register entry is
/// a few hundred bytes; anything far larger is refused before it is decoded.
pub const MAX_SEALED_LEN: usize = 16 * 1024;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// Seals `plaintext` to `recipient`: a compact JWE only the holder of the
/// recipient's private key opens. The header names the recipient's `kid`,
/// if it has one, so a recipient with several keys knows which to use.
pub fn seal(recipient: &PublicJwk, plaintext: &[u8]) -> Result<String, CredentialError> {
    let ephemeral = agreement::PrivateKey::generate(&ECDH_P256).map_err(|_| crypto("ephemeral key"))?;
    let mut iv = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut iv).map_err(|_| crypto("random IV"))?;
    let epk_point = ephemeral.compute_public_key().map_err(|_| crypto("ephemeral public key"))?;
    let epk = epk_jwk(epk_point.as_ref())?;
    let mut header = json!({ "alg": SEALED_ALG, "enc": SEALED_ENC, "epk": epk });
    if let (Some(kid), Some(map)) = (recipient.kid(), header.as_object_mut()) {
        map.insert("kid".into(), Value::from(kid));
    }
    let protected = base64url::encode(header.to_string());
    let recipient_point = recipient.uncompressed_point();
    let key = agreement::agree(
        &ephemeral,
        UnparsedPublicKey::new(&ECDH_P256, recipient_point.as_slice()),
        crypto("key agreement"),
        |z| Ok(concat_kdf(z, SEALED_ENC, b"", b"", KEY_LEN)),
    )?;
    let aead = aes_256_gcm(&key)?;
    let mut in_out = plaintext.to_vec();
    let tag = aead
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(protected.as_bytes()), &mut in_out)
        .map_err(|_| crypto("AES-GCM seal"))?;
    Ok(format!(
        "{protected}..{}.{}.{}",
        base64url::encode(iv),
        base64url::encode(&in_out),
        base64url::encode(tag.as_ref())
    ))
}

/// Opens a value sealed to `recipient`: the header must say exactly
/// ECDH-ES / A256GCM with a P-256 `epk` on the curve, and the tag must
/// verify over the ciphertext and the header as sent — a changed byte
/// anywhere, or another recipient's key, opens nothing.
pub fn open_sealed(recipient: &PrivateJwk, jwe: &str) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
    if jwe.len() > MAX_SEALED_LEN {
        return Err(malformed(format!("longer than {MAX_SEALED_LEN} bytes")));
    }
    let parts: Vec<&str> = jwe.split('.').collect();
    let [protected, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(malformed("not a compact JWE (five dot-separated parts)".into()));
    };
    if !encrypted_key.is_empty() {
        return Err(malformed("ECDH-ES uses no encrypted key; the second part must be empty".into()));
    }
    let header = header_of(protected)?;
    let epk = epk_point(header.get("epk"))?;
    let iv = base64url::decode_array::<NONCE_LEN>(iv, "JWE initialization vector")?;
    let tag = base64url::decode_array::<TAG_LEN>(tag, "JWE authentication tag")?;
    let mut in_out = base64url::decode(ciphertext, "JWE ciphertext")?;
    in_out.extend_from_slice(&tag);
    let private = agreement::PrivateKey::from_private_key(&ECDH_P256, recipient.scalar_bytes())
        .map_err(|_| crypto("recipient key"))?;
    let key = agreement::agree(
        &private,
        UnparsedPublicKey::new(&ECDH_P256, epk.as_slice()),
        malformed("the ephemeral key is not a point of P-256".into()),
        |z| Ok(concat_kdf(z, SEALED_ENC, b"", b"", KEY_LEN)),
    )?;
    let aead = aes_256_gcm(&key)?;
    let opened = aead
        .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(protected.as_bytes()), &mut in_out)
        .map_err(|_| CredentialError::SealedUnopenable)?;
    let length = opened.len();
    in_out.truncate(length);
    Ok(Zeroizing::new(in_out))
}

/// The protected header, checked: JSON, the one algorithm pair, nothing
/// this code would have to understand (`crit`, `zip`).
fn header_of(protected: &str) -> Result<Map<String, Value>, CredentialError> {
    let bytes = base64url::decode(protected, "JWE protected header")?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| CredentialError::Json { what: "JWE protected header", reason: e.to_string() })?;
    let text = |name: &str| header.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    if text("alg") != SEALED_ALG || text("enc") != SEALED_ENC {
        return Err(malformed(format!(
            "alg {:?} / enc {:?}; only {SEALED_ALG} / {SEALED_ENC} is accepted",
            text("alg"),
            text("enc")
        )));
    }
    if header.contains_key("crit") || header.contains_key("zip") {
        return Err(malformed("crit and zip are not supported".into()));
    }
    Ok(header)
}

/// The uncompressed SEC1 point of the header's `epk` (a P-256 public JWK).
fn epk_point(epk: Option<&Value>) -> Result<Vec<u8>, CredentialError> {
    let epk = epk.ok_or_else(|| malformed("the header has no epk".into()))?;
    let jwk = PublicJwk::from_value(epk).map_err(|e| malformed(format!("epk: {e}")))?;
    Ok(jwk.uncompressed_point())
}

/// The JWK of an ephemeral public key given as an uncompressed SEC1 point.
fn epk_jwk(point: &[u8]) -> Result<Value, CredentialError> {
    let (x, y) = point
        .strip_prefix(&[0x04])
        .filter(|xy| xy.len() == 64)
        .map(|xy| xy.split_at(32))
        .ok_or_else(|| crypto("ephemeral public key encoding"))?;
    Ok(json!({ "kty": "EC", "crv": "P-256", "x": base64url::encode(x), "y": base64url::encode(y) }))
}

/// The Concat KDF of NIST SP 800-56A as RFC 7518 §4.6.2 profiles it:
/// SHA-256 rounds over `counter ‖ Z ‖ AlgorithmID ‖ PartyUInfo ‖
/// PartyVInfo ‖ SuppPubInfo`, each info field length-prefixed, the key
/// length in bits as SuppPubInfo. `algorithm` is the `enc` value for
/// direct key agreement.
fn concat_kdf(z: &[u8], algorithm: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let prefixed = |field: &[u8]| [&(field.len() as u32).to_be_bytes()[..], field].concat();
    let key_bits = u32::try_from(key_len * 8).unwrap_or(u32::MAX).to_be_bytes();
    let other_info = [prefixed(algorithm.as_bytes()), prefixed(apu), prefixed(apv), key_bits.to_vec()].concat();
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + digest::SHA256_OUTPUT_LEN));
    let mut counter: u32 = 1;
    while key.len() < key_len {
        let mut round = digest::Context::new(&digest::SHA256);
        round.update(&counter.to_be_bytes());
        round.update(z);
        round.update(&other_info);
        key.extend_from_slice(round.finish().as_ref());
        counter += 1;
    }
    key.truncate(key_len);
    key
}

fn aes_256_gcm(key: &[u8]) -> Result<LessSafeKey, CredentialError> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| crypto("content key"))?))
}

fn crypto(what: &'static str) -> CredentialError {
    CredentialError::Crypto(what)
}

fn malformed(reason: String) -> CredentialError {
    CredentialError::SealedMalformed(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7518 Appendix C: Alice's ephemeral key, Bob's key, A128GCM with
    /// apu "Alice" and apv "Bob" derive exactly this content key.
    #[test]
    fn the_concat_kdf_derives_rfc_7518_appendix_c_key() {
        let alice = agreement::PrivateKey::from_private_key(
            &ECDH_P256,
            &base64url::decode("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo", "d").unwrap(),
        )
        .unwrap();
        let bob = PublicJwk::from_value(&json!({
            "kty": "EC", "crv": "P-256",
            "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
            "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
        }))
        .unwrap();
        let key = agreement::agree(
            &alice,
            UnparsedPublicKey::new(&ECDH_P256, bob.uncompressed_point().as_slice()),
            (),
            |z| Ok(concat_kdf(z, "A128GCM", b"Alice", b"Bob", 16)),
        )
        .unwrap();
        assert_eq!(base64url::encode(key.as_slice()), "VqqN6vgjbSBcIijNcacQGg");
    }

    #[test]
    fn a_seal_opens_with_its_recipient_only_and_each_seal_is_fresh() {
        let police = PrivateJwk::generate().unwrap().with_kid("police-2026");
        let other = PrivateJwk::generate().unwrap();
        let first = seal(police.public(), b"440106199003071223").unwrap();
        let second = seal(police.public(), b"440106199003071223").unwrap();
        assert_ne!(first, second, "a fresh ephemeral key and IV each time");
        assert_eq!(open_sealed(&police, &first).unwrap().as_slice(), b"440106199003071223");
        assert_eq!(open_sealed(&other, &first).unwrap_err(), CredentialError::SealedUnopenable);
        let header = header_of(first.split('.').next().unwrap()).unwrap();
        assert_eq!(header["kid"], "police-2026");
        assert!(!first.contains("4401061990"), "the plaintext does not show");
    }

    #[test]
    fn every_changed_part_is_refused_with_its_reason() {
        let police = PrivateJwk::generate().unwrap();
        let sealed = seal(police.public(), b"guest register entry").unwrap();
        let parts: Vec<&str> = sealed.split('.').collect();
        let with = |index: usize, part: &str| {
            let mut changed = parts.clone();
            changed[index] = part;
            changed.join(".")
        };
        let flipped = |text: &str| {
            let mut bytes = base64url::decode(text, "test").unwrap();
            bytes[0] ^= 1;
            base64url::encode(bytes)
        };
        let refused = |jwe: &str| open_sealed(&police, jwe).unwrap_err().code();
        assert_eq!(refused(&with(3, &flipped(parts[3]))), "credential.sealed.unopenable");
        assert_eq!(refused(&with(4, &flipped(parts[4]))), "credential.sealed.unopenable");
        assert_eq!(refused(&with(2, &flipped(parts[2]))), "credential.sealed.unopenable");
        let a128 = base64url::encode(
            String::from_utf8(base64url::decode(parts[0], "test").unwrap()).unwrap().replace("A256GCM", "A128GCM"),
        );
        assert_eq!(refused(&with(0, &a128)), "credential.sealed.malformed");
        assert_eq!(refused(&with(1, "AAAA")), "credential.sealed.malformed");
        assert_eq!(refused(&with(2, "AAAA")), "credential.base64");
        assert_eq!(refused(&parts[..4].join(".")), "credential.sealed.malformed");
        assert_eq!(refused(&"a".repeat(MAX_SEALED_LEN + 1)), "credential.sealed.malformed");
        let off_curve = json!({ "alg": SEALED_ALG, "enc": SEALED_ENC, "epk": {
            "kty": "EC", "crv": "P-256", "x": base64url::encode([1u8; 32]), "y": base64url::encode([2u8; 32]) } });
        assert_eq!(refused(&with(0, &base64url::encode(off_curve.to_string()))), "credential.sealed.malformed");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(plaintext in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let recipient = PrivateJwk::generate().unwrap();
            let sealed = seal(recipient.public(), &plaintext).unwrap();
            let opened = open_sealed(&recipient, &sealed).unwrap();
            proptest::prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn no_text_makes_opening_panic(text in "[A-Za-z0-9_.-]{0,400}") {
            let recipient = PrivateJwk::generate().unwrap();
            proptest::prop_assert!(open_sealed(&recipient, &text).is_err());
        }
    }
}
