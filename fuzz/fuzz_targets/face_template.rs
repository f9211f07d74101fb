//! Any bytes as a face template (as read from a credential or the registry).
//! Must never panic; what parses must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shenfen_face::Template;

fuzz_target!(|data: &[u8]| {
    if let Ok(template) = Template::from_bytes(data) {
        assert_eq!(template.to_bytes(), data);
        let _ = template.similarity(&template);
    }
});
