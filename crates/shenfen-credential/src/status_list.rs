//! IETF Token Status List (draft-ietf-oauth-status-list): a compressed bit
//! string in which each credential owns 1, 2, 4 or 8 bits.

use std::fmt;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde_json::{Value, json};

use crate::{CredentialError, base64url};

/// The largest decompressed list accepted: 16 MiB holds 134 million 1-bit
/// entries, far beyond any one list, and stops a decompression bomb.
pub const MAX_LIST_BYTES: u64 = 16 << 20;

/// The registered meanings of a status value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusType {
    /// 0x00: the credential is valid.
    Valid,
    /// 0x01: revoked for good.
    Invalid,
    /// 0x02: temporarily suspended.
    Suspended,
    /// Any other value: application-specific, treated as not valid.
    Other(u8),
}

impl From<u8> for StatusType {
    fn from(value: u8) -> StatusType {
        match value {
            0 => StatusType::Valid,
            1 => StatusType::Invalid,
            2 => StatusType::Suspended,
            other => StatusType::Other(other),
        }
    }
}

impl fmt::Display for StatusType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusType::Valid => f.write_str("VALID"),
            StatusType::Invalid => f.write_str("INVALID (revoked)"),
            StatusType::Suspended => f.write_str("SUSPENDED"),
            StatusType::Other(v) => write!(f, "0x{v:02x} (application-specific, not valid)"),
        }
    }
}

/// An uncompressed status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of at least `len` entries of `bits` bits each, all VALID.
    pub fn new(len: u64, bits: u8) -> Result<StatusList, CredentialError> {
        check_bits(u64::from(bits))?;
        let per_byte = u64::from(8 / bits);
        let byte_len = len.div_ceil(per_byte);
        if byte_len > MAX_LIST_BYTES {
            return Err(CredentialError::StatusIndexOutOfRange { index: len, len: MAX_LIST_BYTES * per_byte });
        }
        Ok(StatusList { bits, bytes: vec![0; byte_len as usize] })
    }

    /// Bits per entry.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Number of entries (the byte length times entries per byte).
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * u64::from(8 / self.bits)
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The status at `index`.
    pub fn get(&self, index: u64) -> Result<u8, CredentialError> {
        let (byte, shift) = self.locate(index)?;
        Ok((self.bytes[byte] >> shift) & self.mask())
    }

    /// Sets the status at `index`.
    pub fn set(&mut self, index: u64, value: u8) -> Result<(), CredentialError> {
        if value > self.mask() {
            return Err(CredentialError::StatusValueTooLarge { value, bits: self.bits });
        }
        let (byte, shift) = self.locate(index)?;
        let mask = self.mask();
        self.bytes[byte] = (self.bytes[byte] & !(mask << shift)) | (value << shift);
        Ok(())
    }

    /// A list over raw bytes, as stored by an authority between publications.
    pub fn from_bytes(bits: u8, bytes: Vec<u8>) -> Result<StatusList, CredentialError> {
        check_bits(u64::from(bits))?;
        if bytes.len() as u64 > MAX_LIST_BYTES {
            return Err(CredentialError::StatusListCompression(format!("a list is at most {MAX_LIST_BYTES} bytes")));
        }
        Ok(StatusList { bits, bytes })
    }

    /// The raw bytes, entry 0 in the least significant bits of byte 0.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The JSON form `{"bits": n, "lst": base64url(zlib(bytes))}`.
    pub fn to_json(&self) -> Result<Value, CredentialError> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&self.bytes).map_err(|e| CredentialError::StatusListCompression(e.to_string()))?;
        let compressed = encoder.finish().map_err(|e| CredentialError::StatusListCompression(e.to_string()))?;
        Ok(json!({ "bits": self.bits, "lst": base64url::encode(compressed) }))
    }

    /// Reads the JSON form, refusing a list that inflates past [`MAX_LIST_BYTES`].
    pub fn from_json(value: &Value) -> Result<StatusList, CredentialError> {
        let bits = value.get("bits").and_then(Value::as_u64).ok_or(CredentialError::InvalidStatusBits(0))?;
        let bits = check_bits(bits)?;
        let lst = value
            .get("lst")
            .and_then(Value::as_str)
            .ok_or_else(|| CredentialError::StatusListCompression("lst is missing or not a string".into()))?;
        let compressed = base64url::decode(lst, "status list lst")?;
        let mut bytes = Vec::new();
        ZlibDecoder::new(compressed.as_slice())
            .take(MAX_LIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CredentialError::StatusListCompression(e.to_string()))?;
        if bytes.len() as u64 > MAX_LIST_BYTES {
            return Err(CredentialError::StatusListCompression(format!("it inflates past {MAX_LIST_BYTES} bytes")));
        }
        Ok(StatusList { bits, bytes })
    }

    fn mask(&self) -> u8 {
        // bits is 1, 2, 4 or 8; a u16 shift avoids overflow at 8.
        ((1u16 << self.bits) - 1) as u8
    }

    /// Entry `index` lives in byte index / (8/bits), at bit (index mod (8/bits)) × bits,
    /// counting from the least significant bit.
    fn locate(&self, index: u64) -> Result<(usize, u8), CredentialError> {
        let per_byte = u64::from(8 / self.bits);
        let byte = index / per_byte;
        if byte >= self.bytes.len() as u64 {
            return Err(CredentialError::StatusIndexOutOfRange { index, len: self.len() });
        }
        Ok((byte as usize, ((index % per_byte) as u8) * self.bits))
    }
}

fn check_bits(bits: u64) -> Result<u8, CredentialError> {
    match bits {
        1 | 2 | 4 | 8 => Ok(bits as u8),
        other => Err(CredentialError::InvalidStatusBits(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bit_layout_matches_the_spec_example() {
        // draft-ietf-oauth-status-list §4.1: statuses 1,0,0,1,1,1,0,1 | 1,1,0,0,0,1,0,1 → b9 a3.
        let mut list = StatusList::new(16, 1).unwrap();
        for (i, v) in [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1].into_iter().enumerate() {
            list.set(i as u64, v).unwrap();
        }
        assert_eq!(list.bytes, vec![0xb9, 0xa3]);
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(StatusList::new(8, 3), Err(CredentialError::InvalidStatusBits(3)));
        let mut list = StatusList::new(8, 2).unwrap();
        assert_eq!(list.set(0, 4), Err(CredentialError::StatusValueTooLarge { value: 4, bits: 2 }));
        assert!(matches!(list.get(8), Err(CredentialError::StatusIndexOutOfRange { .. })));
        assert!(StatusList::from_json(&json!({"bits": 1, "lst": "!!"})).is_err());
        assert!(StatusList::from_json(&json!({"bits": 1, "lst": "AAAA"})).is_err());
        assert!(StatusList::from_json(&json!({"bits": 16, "lst": "eNrbuRgAAhcBXQ"})).is_err());
    }

    #[test]
    fn decompression_bombs_are_refused() {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0u8; (MAX_LIST_BYTES + 1) as usize]).unwrap();
        let lst = base64url::encode(encoder.finish().unwrap());
        assert!(matches!(
            StatusList::from_json(&json!({"bits": 1, "lst": lst})),
            Err(CredentialError::StatusListCompression(_))
        ));
    }

    proptest! {
        #[test]
        fn set_get_and_json_round_trip(
            bits in proptest::sample::select(vec![1u8, 2, 4, 8]),
            entries in proptest::collection::vec((0u64..4096, any::<u8>()), 0..64),
        ) {
            let mut list = StatusList::new(4096, bits).unwrap();
            let mut expected = std::collections::HashMap::new();
            for (index, value) in entries {
                let value = value & ((1u16 << bits) - 1) as u8;
                list.set(index, value).unwrap();
                expected.insert(index, value);
            }
            let again = StatusList::from_json(&list.to_json().unwrap()).unwrap();
            prop_assert_eq!(&again, &list);
            for (index, value) in expected {
                prop_assert_eq!(again.get(index).unwrap(), value);
            }
        }

        /// Every single-byte change of a real list's compressed bytes is refused
        /// as corrupt — or, where it lands on bits deflate ignores, reads back
        /// the very same list; never a different list.
        #[test]
        fn a_corrupted_list_is_refused_or_unchanged(
            bits in proptest::sample::select(vec![1u8, 2, 4, 8]),
            entries in proptest::collection::vec(0u64..2048, 0..32),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut list = StatusList::new(2048, bits).unwrap();
            for index in entries {
                list.set(index, 1).unwrap();
            }
            let json = list.to_json().unwrap();
            let mut compressed = base64url::decode(json["lst"].as_str().unwrap(), "lst").unwrap();
            let at = position.index(compressed.len());
            compressed[at] ^= flip;
            let corrupted = json!({ "bits": bits, "lst": base64url::encode(compressed) });
            match StatusList::from_json(&corrupted) {
                Err(e) => prop_assert_eq!(e.code(), "credential.status.compression", "{}", e),
                Ok(read) => prop_assert_eq!(read, list, "a changed byte may only be one deflate ignores"),
            }
        }

        /// A real list with another bit width, or a `lst` that is not base64url, is refused with its own code.
        #[test]
        fn a_real_list_with_a_bad_width_or_encoding_is_refused(
            bits in proptest::sample::select(vec![1u8, 2, 4, 8]),
            wrong_bits in any::<u64>().prop_filter("not a valid width", |b| ![1, 2, 4, 8].contains(b)),
            junk in "[^A-Za-z0-9_-]",
        ) {
            let list = StatusList::new(1024, bits).unwrap().to_json().unwrap();
            let lst = list["lst"].as_str().unwrap();
            let wrong = StatusList::from_json(&json!({ "bits": wrong_bits, "lst": lst })).unwrap_err();
            prop_assert_eq!(wrong.code(), "credential.status.bits");
            let garbled = format!("{}{junk}{}", &lst[..lst.len() / 2], &lst[lst.len() / 2..]);
            let garbled = StatusList::from_json(&json!({ "bits": bits, "lst": garbled })).unwrap_err();
            prop_assert_eq!(garbled.code(), "credential.base64");
        }
    }
}
