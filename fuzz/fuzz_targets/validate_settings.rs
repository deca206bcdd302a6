//! `validate_settings` with arbitrary bytes; a refusal always carries a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = otel_python_policy::admission::validate_settings(data);
    assert!(
        response.valid || response.message.as_deref().is_some_and(|m| !m.is_empty()),
        "a refusal without a message"
    );
    serde_json::to_vec(&response).expect("a SettingsValidationResponse always serializes");
});
