//! Every case under `tests/cases/` through the BUILT wasm module (as Kubewarden runs it), checked
//! by the same checker as the native run of `cargo test`, and byte-for-byte parity between the
//! module and the native core on every payload the cases produce.
//!
//! Needs the module: `cargo build --target wasm32-wasip1 --release` first (or `POLICY_WASM`).
//!
//! A cluster-mode case runs each side against its own fresh copy of the case's cluster: the
//! module in a fresh instance whose host calls the cluster answers, the native core through the
//! policy's `Cluster` seam; both must make the same calls with the same payloads, in order.

use std::sync::Arc;

use case_harness::cluster::ClusterState;
use case_harness::{Case, Payload, assert_all, load_all};
use e2e_tests::host::{PolicyHost, validate_payload};
use e2e_tests::module::{built_module, built_module_instance, wasm_backend};
use otel_python_policy::admission;
use otel_python_policy::cluster::Cluster;
use otel_python_policy::host::Hosts;
use otel_python_policy::oci::Registry;
use serde_json::Value;

/// The case's host (cluster and registry) behind the policy's seams, for the native core.
struct InMemory<'a>(&'a ClusterState);

impl Cluster for InMemory<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer("kubernetes", operation, payload)
    }
}

impl Registry for InMemory<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer("oci", operation, payload)
    }
}

/// `validate` of one payload by the module (`host`, or a fresh instance with the case's cluster)
/// and by the native core (with another fresh copy): both answers, and where the calls differ.
fn both_validate(host: &PolicyHost, case: &Case, payload: &[u8]) -> (Vec<u8>, Vec<u8>, String) {
    let (Some(wasm_cluster), Some(native_cluster)) = (case.fresh_cluster(), case.fresh_cluster())
    else {
        return (
            host.call("validate", payload).unwrap(),
            admission::validate(payload).to_json(),
            String::new(),
        );
    };
    let wasm = built_module()
        .instantiate_with_cluster(Arc::clone(&wasm_cluster))
        .unwrap()
        .call("validate", payload)
        .unwrap();
    let host = InMemory(&native_cluster);
    let hosts = Hosts {
        cluster: &host,
        registry: &host,
    };
    let native = admission::validate_with(payload, hosts).to_json();
    let (w, n) = (wasm_cluster.calls(), native_cluster.calls());
    let calls = if w == n {
        String::new()
    } else {
        let lines = |calls: &[case_harness::cluster::Call]| {
            calls
                .iter()
                .map(|c| format!("\n      {} -> {}", c.summary(), c.answer_text()))
                .collect::<String>()
        };
        format!(
            "\n  host calls differ:\n    wasm:{}\n    native:{}",
            lines(&w),
            lines(&n)
        )
    };
    (wasm, native, calls)
}

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
    let mut compare =
        |name: &str, what: &str, (wasm, native, calls): (Vec<u8>, Vec<u8>, String)| {
            compared += 1;
            if wasm != native || !calls.is_empty() {
                failures.push(format!(
                    "case {name} ({what}):\n  wasm:   {}\n  native: {}{calls}",
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
            (
                host.call("validate_settings", &settings).unwrap(),
                serde_json::to_vec(&admission::validate_settings(&settings)).unwrap(),
                String::new(),
            ),
        );
        let payload = match &case.payload {
            Payload::Request(r) => validate_payload(r, &case.settings),
            Payload::Raw(bytes) => bytes.clone(),
            Payload::None => continue,
        };
        let both = both_validate(&host, &case, &payload);
        let answer: Value = serde_json::from_slice(&both.0).unwrap();
        compare(&case.name, "validate", both);
        if let (Some(mutated), Some(request)) = (answer.get("mutated_object"), case.request())
            && !mutated.is_null()
        {
            let mut again = request.clone();
            again["object"] = mutated.clone();
            let payload = validate_payload(&again, &case.settings);
            compare(
                &case.name,
                "validate, second pass",
                both_validate(&host, &case, &payload),
            );
        }
    }
    assert!(compared >= 250, "only {compared} comparisons");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
