//! Any text as a resident ID number. Must never panic; a valid number must
//! survive a round trip through its own text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shenfen_core::IdNumber;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = IdNumber::parse(text) {
        assert_eq!(IdNumber::parse(id.as_str()).ok(), Some(id.clone()));
        assert_eq!(id.masked().chars().count(), 18);
        let _ = (id.birth_date(), id.sex(), id.province());
    }
});
