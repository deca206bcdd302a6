//! Every case under `tests/cases/` through the BUILT wasm module (as Kubewarden runs it), checked
//! by the same checker as the native run of `cargo test`, and byte-for-byte parity between the
//! module and the native core on every payload the cases produce.
//!
//! Needs the module: `cargo build --target wasm32-wasip1 --release` first (or `POLICY_WASM`).

use case_harness::{Payload, assert_all, load_all};
use e2e_tests::host::validate_payload;
use e2e_tests::module::{built_module_instance, wasm_backend};
use otel_python_policy::admission;
use serde_json::Value;

#[test]
fn module_speaks_wapc_protocol_v1() {
    assert_eq!(built_module_instance().protocol_version().unwrap(), "v1");
}

#[test]
fn every_case_through_the_built_module() {
    let host = built_module_instance();
    let skipped = assert_all(&wasm_backend(&host));
    assert!(
        skipped.is_empty(),
        "the waPC host runs every case: {skipped:?}"
    );
}

/// The native core (rlib) and the wasm module answer with the same bytes for the same payload:
/// every case's settings, request, and the second pass on the mutated object.
#[test]
fn the_module_answers_every_case_byte_for_byte_as_the_native_core() {
    let host = built_module_instance();
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut compare = |name: &str, what: &str, wasm: Vec<u8>, native: Vec<u8>| {
        compared += 1;
        if wasm != native {
            failures.push(format!(
                "case {name} ({what}):\n  wasm:   {}\n  native: {}",
                String::from_utf8_lossy(&wasm),
                String::from_utf8_lossy(&native)
            ));
        }
    };
    for case in load_all().unwrap() {
        let settings = serde_json::to_vec(&case.settings).unwrap();
        compare(
            &case.name,
            "validate_settings",
            host.call("validate_settings", &settings).unwrap(),
            serde_json::to_vec(&admission::validate_settings(&settings)).unwrap(),
        );
        let payload = match &case.payload {
            Payload::Request(r) => validate_payload(r, &case.settings),
            Payload::Raw(bytes) => bytes.clone(),
            Payload::None => continue,
        };
        let wasm = host.call("validate", &payload).unwrap();
        let native = admission::validate(&payload).to_json();
        compare(&case.name, "validate", wasm.clone(), native);
        let answer: Value = serde_json::from_slice(&wasm).unwrap();
        if let (Some(mutated), Some(request)) = (answer.get("mutated_object"), case.request())
            && !mutated.is_null()
        {
            let mut again = request.clone();
            again["object"] = mutated.clone();
            let payload = validate_payload(&again, &case.settings);
            compare(
                &case.name,
                "validate, second pass",
                host.call("validate", &payload).unwrap(),
                admission::validate(&payload).to_json(),
            );
        }
    }
    assert!(compared >= 250, "only {compared} comparisons");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
