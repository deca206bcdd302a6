//! A Kubewarden policy that injects OpenTelemetry Python auto-instrumentation into pods, as the
//! OpenTelemetry Operator's pod webhook does, and refuses references it cannot honour.
//!
//! This file is the waPC wiring only. The decision lives in `admission`, built from one module per
//! concern; all of them are plain Rust over k8s-openapi types, tested natively.

pub mod admission;
pub mod annotations;
pub mod env;
pub mod image_ref;
pub mod inject;
pub mod instrumentation;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod reference;
pub mod resource;
pub mod selection;
pub mod settings;
pub mod tls;
pub mod url;

use guest::prelude::*;
use kubewarden_policy_sdk::wapc_guest as guest;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn validate(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&admission::validate(payload))?)
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&admission::validate_settings(payload))?)
}
