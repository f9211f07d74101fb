//! Random tokens, transaction codes and the stored hashes of tokens, the Bearer token of a request, and
//! the bounded lists request bodies may hold.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Listed {
        #[serde(deserialize_with = "bounded_list")]
        items: Vec<i64>,
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
