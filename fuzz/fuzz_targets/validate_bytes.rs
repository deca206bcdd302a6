//! `validate` with arbitrary bytes: whatever the host sends, the core answers (no panic) with a
//! response that serializes, as the guest must send it back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = otel_python_policy::admission::validate(data);
    serde_json::to_vec(&response).expect("a ValidationResponse always serializes");
});
