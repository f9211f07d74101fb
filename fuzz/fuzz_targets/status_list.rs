//! Any text as a status list `lst` (and any bits value), and as a status list
//! token. Must never panic, however the bytes inflate.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use shenfen_credential::es256::VerifyingKey;
use shenfen_credential::{PrivateJwk, StatusList, StatusListToken};

static KEY: LazyLock<VerifyingKey> = LazyLock::new(|| {
    PrivateJwk::generate()
        .and_then(|k| k.public().verifying_key())
        .unwrap_or_else(|e| panic!("key generation: {e}"))
});

fuzz_target!(|data: &[u8]| {
    let Some((&bits, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let value = serde_json::json!({ "bits": bits, "lst": text });
    if let Ok(list) = StatusList::from_json(&value) {
        let _ = list.get(u64::from(bits) * 1000);
        let again = StatusList::from_json(&list.to_json().unwrap_or_else(|e| panic!("encode: {e}")));
        assert_eq!(again.ok(), Some(list));
    }
    let _ = StatusListToken::verify(text, &KEY, 1_800_000_000, 60);
});
