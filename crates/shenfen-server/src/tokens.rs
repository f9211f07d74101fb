//! Random tokens, transaction codes and the stored hashes of tokens, the Bearer token of a request, and
//! the bounded lists and whole numbers request bodies may hold.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Unexpected, Visitor};
use shenfen_store::random_below;

/// A fresh 256-bit random token, base64url.
pub(crate) fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Digits of the transaction code handed to an attested citizen.
pub(crate) const TX_CODE_DIGITS: usize = 6;

/// A fresh transaction code of [`TX_CODE_DIGITS`] decimal digits, for the
/// slip a counter hands an attested citizen.
pub(crate) fn transaction_code() -> Option<String> {
    (0..TX_CODE_DIGITS)
        .map(|_| random_below(10).ok().and_then(|d| char::from_digit(u32::try_from(d).ok()?, 10)))
        .collect()
}

/// The token of an `Authorization: Bearer …` header, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// What the store keeps of a token: its SHA-256, so a database leak yields no usable token.
pub fn token_hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// The most items a list of camera frames or capture times may hold: far
/// more than any session sends.
pub(crate) const MAX_LIST_ITEMS: usize = 256;

/// Deserializes a list of at most [`MAX_LIST_ITEMS`], refusing the body at
/// the first item over: a 16 MiB body of `[0,0,0,…]` would otherwise become
/// 64 MiB of integers (or of empty strings, more) before any count is checked.
pub(crate) fn bounded_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    struct Bounded<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_LIST_ITEMS} items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                if items.len() == MAX_LIST_ITEMS {
                    return Err(de::Error::invalid_length(MAX_LIST_ITEMS + 1, &self));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    deserializer.deserialize_seq(Bounded(std::marker::PhantomData))
}

/// Deserializes a count of what JSON Schema calls an integer: `7`, or `7.0`
/// — the same number in JSON, as a generic client may write it and as the
/// OpenAPI document's `integer` admits — but not `7.5`, a negative number or
/// one past `u64::MAX`.
pub(crate) fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Whole;
    impl<'de> Visitor<'de> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number, 0 or more")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64, the first value past u64::MAX, is exact as an f64.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_u64(Whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Listed {
        #[serde(deserialize_with = "bounded_list")]
        items: Vec<i64>,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Counted {
        #[serde(deserialize_with = "whole_number")]
        after: u64,
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction_and_nothing_else() {
        let after = |json: &str| serde_json::from_str::<Counted>(&format!("{{\"after\":{json}}}")).map(|c| c.after);
        assert_eq!(after("7").unwrap(), 7);
        assert_eq!(after("6146186.0").unwrap(), 6_146_186);
        assert_eq!(after("18446744073709551615").unwrap(), u64::MAX);
        for refused in ["7.5", "-1", "-1.0", "1e20", "\"7\"", "null"] {
            assert!(after(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_list_longer_than_the_bound_is_refused_at_the_first_item_over() {
        let body = |n: usize| format!("{{\"items\":[{}]}}", vec!["0"; n].join(","));
        assert_eq!(serde_json::from_str::<Listed>(&body(MAX_LIST_ITEMS)).unwrap().items.len(), MAX_LIST_ITEMS);
        let refused = serde_json::from_str::<Listed>(&body(MAX_LIST_ITEMS + 1)).unwrap_err();
        assert!(refused.to_string().contains("at most 256 items"), "{refused}");
        assert!(serde_json::from_str::<Listed>("{\"items\":[0,\"x\"]}").is_err(), "items keep their type");
    }
}
