//! Any bytes as an offline QR payload: unpack, then verify like a counter
//! would. Must never panic, and an inflated bomb must be refused cheaply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shenfen_credential::{PrivateJwk, VerifyOptions, decode_qr_payload, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(presentation) = decode_qr_payload(data) else { return };
    let key = PrivateJwk::generate().and_then(|k| k.public().verifying_key());
    if let Ok(key) = key {
        let options = VerifyOptions { now: 1_800_000_000, clock_skew_secs: 60, expected_typ: None, key_binding: None };
        let _ = verify(&presentation, &key, &options);
    }
});
