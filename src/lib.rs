//! waPC wiring only: the three guest functions Kubewarden calls. All logic lives in the
//! modules below, which are plain Rust over k8s-openapi types and tested natively.

pub mod admission;

use kubewarden_policy_sdk::wapc_guest as guest;
use guest::prelude::*;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", kubewarden_policy_sdk::protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&admission::validate(payload))?)
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&admission::validate_settings(payload))?)
}
