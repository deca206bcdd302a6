//! The waPC wiring of the policy, and the map of its modules.
//!
//! A Kubewarden policy that injects OpenTelemetry Python auto-instrumentation into pods, as the
//! OpenTelemetry Operator's pod webhook does, and refuses references it cannot honour.
//!
//! Everything below it is plain Rust over typed values, tested
//! natively; the modules follow the pipeline of one admission:
//!
//! - [`admission`]: request → target → reference → plan → apply → decision → response, the two
//!   entry points `validate` and `validate_settings`;
//! - [`target`] and [`pod`]: where the pod sits in the object, and the pod as the policy reads it;
//! - [`settings`]: the full parse, the per-request view, one reader per option;
//! - [`reference`](mod@reference) and [`catalog`]: an annotation value → an instrumentation from a catalog;
//! - [`host`]: the host capabilities, each behind a trait the policy owns: [`cluster`] (cluster
//!   mode's host calls, the cluster's catalog, namespaces and owners) and [`oci`] (registries);
//! - [`checks`]: the doctor, what in a container would make the injection fail or send nothing;
//! - [`instrumentation`]: the CRD's types and defaults, the spec rules;
//! - [`image`]: the Python image a pod gets, rewritten to a mirror and pinned to a digest;
//! - [`app_image`]: the app's own image read at admission (opt-in): its `PYTHONPATH` kept, its
//!   `PYTHON_VERSION` checked;
//! - [`inject`]: the operator's steps (the plan) and writing them into the object;
//! - [`record`]: what a pod records of its instrumentation, and the digests it is made of;
//! - [`refusal`]: every refusal, problem and warning, worded;
//! - [`keys`] and [`operator`]: the names read by and the names written, each once;
//! - [`syntax`]: the text formats (names, image references, quantities, URLs, JSON text);
//! - [`heap`]: the module's allocator, an arena for each call;
//! - [`wapc`]: the waPC protocol on the module's side, the operations and the host calls.

#![deny(missing_docs)]

pub mod admission;
pub mod app_image;
pub mod catalog;
pub mod checks;
pub mod cluster;
pub mod heap;
pub mod host;
pub mod image;
pub mod inject;
pub mod instrumentation;
pub mod keys;
pub mod oci;
pub mod operator;
pub mod pod;
pub mod record;
pub mod reference;
pub mod refusal;
pub mod settings;
pub mod syntax;
pub mod target;

pub mod wapc;

/// The waPC entry point the host calls once per instance: the panic hook. The operations are
/// answered by [`wapc::dispatch`].
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    std::panic::set_hook(Box::new(report_panic));
}

/// The answer to `validate`.
pub fn validate(payload: &[u8]) -> Vec<u8> {
    heap::for_one_call(|| admission::validate_with(payload, host::Hosts::WAPC).to_json())
}

/// The answer to `validate_settings`, or why it could not be written.
pub fn validate_settings(payload: &[u8]) -> Result<Vec<u8>, String> {
    heap::for_one_call(|| serde_json::to_vec(&admission::validate_settings(payload)))
        .map_err(|e| e.to_string())
}

/// The module is built with `panic = "abort"`: a panic traps, and the host answers the request
/// with a bare wasm backtrace that does not say why (waPC ignores `__guest_error` on a trap). So
/// say why first, through Kubewarden's log host call, which policy-server writes to its log.
/// See docs/robustness.md; the entry paths are fuzzed to be panic-free.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let reason = info
        .payload()
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let location = info.location();
    let event = serde_json::json!({
        "level": "error",
        "message": format!("otel-python-policy panicked, so this request gets no answer from the policy: {reason}"),
        "file": location.map(|l| l.file()),
        "line": location.map(|l| l.line()),
        "column": location.map(|l| l.column()),
    });
    let _ = wapc::host_call("tracing", "log", event.to_string().as_bytes());
}
