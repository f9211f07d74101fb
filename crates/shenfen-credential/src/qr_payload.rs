//! The offline QR payload: an SD-JWT+KB packed as bytes small enough for a
//! phone camera to read off a screen.
//!
//! The compact serialization spends a third of its length on base64url and
//! repeats JSON keys a compressor removes. The payload keeps every part's
//! exact bytes — so the verifier rebuilds the very text that was signed and
//! verifies it as any SD-JWT — but stores them raw and deflated:
//!
//! `version u8 = 1 | raw DEFLATE( varint n | part × (3 + n + 3) )`
//!
//! where each part is `varint length | bytes`, in the order: issuer JWT
//! header, payload, signature; the `n` disclosures; key binding JWT header,
//! payload, signature. Varints are unsigned LEB128. No crate packs SD-JWTs this
//! way (CBOR-based formats re-encode the JSON and would break the signatures),
//! hence this hand-written codec.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use crate::{CredentialError, SdJwt, base64url};

const VERSION: u8 = 1;
/// The most an inflated payload may take; a QR code holds under 3 KB, so
/// anything larger is a decompression bomb.
const MAX_INFLATED: u64 = 64 * 1024;
/// The most disclosures a payload may carry.
const MAX_DISCLOSURES: u64 = 256;

fn invalid(why: impl Into<String>) -> CredentialError {
    CredentialError::InvalidQrPayload(why.into())
}

/// Packs a key-bound presentation for a QR code.
pub fn encode_qr_payload(presentation: &SdJwt) -> Result<Vec<u8>, CredentialError> {
    let kb = presentation.key_binding().ok_or(CredentialError::MissingKeyBinding)?;
    let mut parts: Vec<&str> = presentation.issuer_jwt().split('.').collect();
    if parts.len() != 3 {
        return Err(CredentialError::JwsShape("issuer-signed JWT"));
    }
    parts.extend(presentation.disclosures().iter().map(|d| d.encoded()));
    let kb_parts: Vec<&str> = kb.split('.').collect();
    if kb_parts.len() != 3 {
        return Err(CredentialError::JwsShape("key binding JWT"));
    }
    parts.extend(kb_parts);
    let mut body = Vec::with_capacity(presentation.serialize().len());
    write_varint(&mut body, presentation.disclosures().len() as u64);
    for part in parts {
        let bytes = base64url::decode(part, "SD-JWT part")?;
        write_varint(&mut body, bytes.len() as u64);
        body.extend_from_slice(&bytes);
    }
    let mut encoder = DeflateEncoder::new(vec![VERSION], Compression::best());
    encoder.write_all(&body).map_err(|_| CredentialError::Crypto("deflate"))?;
    encoder.finish().map_err(|_| CredentialError::Crypto("deflate"))
}

/// Unpacks a QR payload into the presentation it carries (not yet verified).
pub fn decode_qr_payload(payload: &[u8]) -> Result<SdJwt, CredentialError> {
    let (&version, deflated) = payload.split_first().ok_or_else(|| invalid("empty"))?;
    if version != VERSION {
        return Err(invalid(format!("version {version} is not supported")));
    }
    let mut body = Vec::new();
    DeflateDecoder::new(deflated)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut body)
        .map_err(|e| invalid(format!("the compressed data is corrupt: {e}")))?;
    if body.len() as u64 > MAX_INFLATED {
        return Err(invalid("inflates to more than 64 KiB"));
    }
    let mut reader = &body[..];
    let n = read_varint(&mut reader)?;
    if n > MAX_DISCLOSURES {
        return Err(invalid(format!("{n} disclosures is more than {MAX_DISCLOSURES}")));
    }
    let mut next = || -> Result<String, CredentialError> {
        let len = usize::try_from(read_varint(&mut reader)?).map_err(|_| invalid("part length"))?;
        if reader.len() < len {
            return Err(invalid("truncated"));
        }
        let (part, rest) = reader.split_at(len);
        reader = rest;
        Ok(base64url::encode(part))
    };
    let issuer_jwt = [next()?, next()?, next()?].join(".");
    let mut text = issuer_jwt;
    text.push('~');
    for _ in 0..n {
        text.push_str(&next()?);
        text.push('~');
    }
    text.push_str(&[next()?, next()?, next()?].join("."));
    if !reader.is_empty() {
        return Err(invalid(format!("{} trailing bytes", reader.len())));
    }
    SdJwt::parse(&text)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_varint(reader: &mut &[u8]) -> Result<u64, CredentialError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = reader.split_first().ok_or_else(|| invalid("truncated"))?;
        *reader = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(invalid("a length is longer than 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_round_trip_at_the_boundaries() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(read_varint(&mut &out[..]).unwrap(), value);
        }
        assert_eq!(read_varint(&mut &[0x80u8; 11][..]).unwrap_err().code(), "credential.qr.invalid");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for bad in [&b""[..], &[2u8, 0, 0][..], &[1u8, 0xff, 0xff][..], &[1u8][..]] {
            assert_eq!(decode_qr_payload(bad).unwrap_err().code(), "credential.qr.invalid", "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = decode_qr_payload(&bytes);
        }
    }
}
