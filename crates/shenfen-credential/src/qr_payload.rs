//! The offline QR payload: an SD-JWT+KB packed as bytes small enough for a
//! phone camera to read off a screen.
//!
//! The compact serialization spends a third of its length on base64url and
//! repeats JSON keys a compressor removes. The payload keeps every part's
//! exact bytes — so the verifier rebuilds the very text that was signed and
//! verifies it as any SD-JWT — but stores them raw and deflated:
//!
//! `version u8 = 1 | raw DEFLATE with preset dictionary ( varint n | part × (3 + n + 3) )`
//!
//! where each part is `varint length | bytes`, in the order: issuer JWT
//! header, payload, signature; the `n` disclosures; key binding JWT header,
//! payload, signature. Varints are unsigned LEB128. The preset dictionary
//! ([`DICTIONARY`], fixed for version 1) holds the JSON every shenfen
//! presentation repeats, so even its first occurrence costs a back-reference.
//! No crate packs SD-JWTs this way (CBOR-based formats re-encode the JSON and
//! would break the signatures), hence this hand-written codec.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::{CredentialError, SdJwt, base64url};

const VERSION: u8 = 1;
/// The most an inflated payload may take; a QR code holds under 3 KB, so
/// anything larger is a decompression bomb.
const MAX_INFLATED: u64 = 64 * 1024;
/// The most disclosures a payload may carry.
const MAX_DISCLOSURES: u64 = 256;

/// What every shenfen presentation's JSON repeats, most frequent last (the
/// closest to the data, so the cheapest to refer to). Part of the format:
/// changing it needs a new version.
pub const DICTIONARY: &[u8] = br#"{"alg":"ES256","kid":"","typ":"dc+sd-jwt"}{"_sd":["","_sd_alg":"sha-256","cnf":{"jwk":{"crv":"P-256","kty":"EC","x":"","y":""}},"edition":"lightweight","edition":"upgraded","exp":1,"iat":1,"iss":"https://","pseudonyms","record","status":{"status_list":{"idx":1,"uri":"https:///status/1"}},"vct":"urn:shenfen:id:lightweight:1"}"vct":"urn:shenfen:id:upgraded:1"}["","age_over_18",true]["","region","["","id_number_masked","********["","name","["","face_template","AgEZ{"alg":"ES256","typ":"kb+jwt"}{"aud":"urn:shenfen:offline:hotel_checkin","iat":1,"nonce":"","sd_hash":""}"#;

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
    let mut compress = Compress::new(Compression::best(), false);
    compress.set_dictionary(DICTIONARY).map_err(|_| CredentialError::Crypto("deflate dictionary"))?;
    let mut out = Vec::with_capacity(body.len() + 64);
    out.push(VERSION);
    loop {
        out.reserve(1024);
        let status = compress
            .compress_vec(
                &body[usize::try_from(compress.total_in()).unwrap_or(usize::MAX).min(body.len())..],
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(|_| CredentialError::Crypto("deflate"))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
    }
}

/// Unpacks a QR payload into the presentation it carries (not yet verified).
pub fn decode_qr_payload(payload: &[u8]) -> Result<SdJwt, CredentialError> {
    let (&version, deflated) = payload.split_first().ok_or_else(|| invalid("empty"))?;
    if version != VERSION {
        return Err(invalid(format!("version {version} is not supported")));
    }
    let body = inflate(deflated)?;
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

/// Raw-inflates with the preset dictionary, refusing the payload as soon as
/// it inflates past [`MAX_INFLATED`]: output goes through a fixed 4 KiB
/// buffer, so no more than the cap plus one buffer is ever produced.
fn inflate(deflated: &[u8]) -> Result<Vec<u8>, CredentialError> {
    let mut decompress = Decompress::new(false);
    decompress.set_dictionary(DICTIONARY).map_err(|_| invalid("the dictionary is refused"))?;
    let mut body = Vec::with_capacity(4 * deflated.len());
    let mut chunk = [0u8; 4096];
    loop {
        let consumed = usize::try_from(decompress.total_in()).unwrap_or(usize::MAX).min(deflated.len());
        let before = (decompress.total_in(), decompress.total_out());
        let status = decompress
            .decompress(&deflated[consumed..], &mut chunk, FlushDecompress::Finish)
            .map_err(|e| invalid(format!("the compressed data is corrupt: {e}")))?;
        let produced = usize::try_from(decompress.total_out() - before.1).unwrap_or(usize::MAX).min(chunk.len());
        body.extend_from_slice(&chunk[..produced]);
        if body.len() as u64 > MAX_INFLATED {
            return Err(invalid("inflates to more than 64 KiB"));
        }
        match status {
            Status::StreamEnd => return Ok(body),
            _ if (decompress.total_in(), decompress.total_out()) == before => {
                return Err(invalid("the compressed data ends early"));
            }
            _ => {}
        }
    }
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

    /// `len` bytes of `x`, raw-deflated with the preset dictionary.
    fn deflated(len: usize) -> Vec<u8> {
        let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
        compress.set_dictionary(DICTIONARY).unwrap();
        let mut out = Vec::with_capacity(len / 100 + 64);
        compress.compress_vec(&vec![b'x'; len], &mut out, flate2::FlushCompress::Finish).unwrap();
        out
    }

    #[test]
    fn inflation_stops_at_exactly_64_kib() {
        assert_eq!(inflate(&deflated(64 * 1024)).unwrap().len(), 64 * 1024, "the cap itself is allowed");
        let over = inflate(&deflated(64 * 1024 + 1)).unwrap_err();
        assert!(over.to_string().contains("more than 64 KiB"), "{over}");
        let bomb = inflate(&deflated(10 * 1024 * 1024)).unwrap_err();
        assert_eq!(bomb.code(), "credential.qr.invalid");
    }

    /// What decoding may answer: the payload's own refusal, or the SD-JWT
    /// parser's for the text the parts spell.
    const PAYLOAD_OR_SD_JWT_CODES: [&str; 5] = [
        "credential.qr.invalid",
        "credential.sd_jwt.malformed",
        "credential.disclosure.invalid",
        "credential.base64",
        "credential.json",
    ];

    /// Raw-deflates `body` with the preset dictionary behind the version byte:
    /// a payload that gets past the version and the inflation, so the parts
    /// parser is what the bytes meet.
    fn payload_of(body: &[u8]) -> Vec<u8> {
        let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
        compress.set_dictionary(DICTIONARY).unwrap();
        let mut out = vec![VERSION];
        let mut deflated = Vec::with_capacity(body.len() + 64);
        compress.compress_vec(body, &mut deflated, flate2::FlushCompress::Finish).unwrap();
        out.extend_from_slice(&deflated);
        out
    }

    proptest! {
        /// Whatever the inflated parts hold, decoding answers a typed error of the
        /// payload or of the SD-JWT it spells, never a panic.
        #[test]
        fn any_inflated_body_is_refused_with_a_payload_or_sd_jwt_code(
            body in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            if let Err(e) = decode_qr_payload(&payload_of(&body)) {
                prop_assert!(PAYLOAD_OR_SD_JWT_CODES.contains(&e.code()), "{} ({})", e, e.code());
            }
        }

        /// Parts of plausible shape (varint counts and lengths that fit) reach
        /// the reassembly; still only typed errors.
        #[test]
        fn plausible_parts_are_reassembled_or_refused(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 6..12),
            cut_at in any::<u8>(),
        ) {
            let mut body = Vec::new();
            write_varint(&mut body, parts.len() as u64 - 6);
            for part in &parts {
                write_varint(&mut body, part.len() as u64);
                body.extend_from_slice(part);
            }
            if let Err(e) = decode_qr_payload(&payload_of(&body)) {
                prop_assert!(PAYLOAD_OR_SD_JWT_CODES.contains(&e.code()), "{} ({})", e, e.code());
            }
            // Cut anywhere inside the parts, the same body is refused as a payload.
            let cut = body.len() * usize::from(cut_at) / 256;
            if cut < body.len() {
                let refused = decode_qr_payload(&payload_of(&body[..cut])).unwrap_err();
                prop_assert_eq!(refused.code(), "credential.qr.invalid", "{}", refused);
            }
        }
    }
}
