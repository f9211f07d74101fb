//! Any text as a sealed value (a hotel's guest register entry, read by the
//! police page): parsed, its header and ephemeral key checked, opened with a
//! fixed key. Must never panic: the register comes from outside the police.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use shenfen_credential::{PrivateJwk, open_sealed, seal};

static POLICE: LazyLock<PrivateJwk> = LazyLock::new(|| PrivateJwk::generate().expect("a key"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = open_sealed(&POLICE, text);
    // A real seal with the fuzzer's bytes spliced into one part.
    if let Ok(sealed) = seal(POLICE.public(), b"440106199003071223") {
        let mut parts: Vec<&str> = sealed.split('.').collect();
        let index = data.first().map_or(0, |b| usize::from(*b) % parts.len());
        parts[index] = text;
        let _ = open_sealed(&POLICE, &parts.join("."));
    }
});
