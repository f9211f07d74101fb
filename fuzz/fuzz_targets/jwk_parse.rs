//! Any bytes as a public or private JWK. Must never panic; a parsed key must
//! re-serialize to a JWK that parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shenfen_credential::{PrivateJwk, PublicJwk};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(key) = PublicJwk::from_json(text) {
        let again = PublicJwk::from_value(&key.to_value()).unwrap_or_else(|e| panic!("re-parse: {e}"));
        assert_eq!(again, key);
        assert_eq!(again.thumbprint(), key.thumbprint());
    }
    if let Ok(key) = PrivateJwk::from_json(text) {
        assert!(PrivateJwk::from_value(&key.to_value()).is_ok());
    }
});
