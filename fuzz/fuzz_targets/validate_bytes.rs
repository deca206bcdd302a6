//! `validate` with arbitrary bytes: whatever the host sends, the core answers (no panic) with a
//! response that is one JSON object, as the guest must send it back, and a refusal carries a
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let response = otel_python_policy::admission::validate(data);
    if !response.accepted {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "a refusal without a message"
        );
    }
    // `to_json` writes the mutated object's text as it is, so this also checks that the policy's
    // spliced output is valid JSON.
    let answer = response.to_json();
    match serde_json::from_slice::<Value>(&answer) {
        Ok(Value::Object(_)) => {}
        other => panic!(
            "the answer is not a JSON object ({other:?}): {}",
            String::from_utf8_lossy(&answer)
        ),
    }
});
