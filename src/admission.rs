//! One admission decision, from the payload the host sends to the response it gets back. Pure:
//! `lib.rs` only hands bytes in and out, so this is what native tests, parity checks and
//! benchmarks call.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde::Deserialize;
use serde_json::Value;

use crate::annotations::INJECT_PYTHON;
use crate::inject;
use crate::pod::PodView;
use crate::reference::{self, Reference};
use crate::settings::{FailureAction, Settings};

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`. Only the request
/// fields the decision needs are read.
#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    request: Request,
    #[serde(default)]
    settings: Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Request {
    kind: Gvk,
    operation: String,
    namespace: Option<String>,
    sub_resource: Option<String>,
    object: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Gvk {
    group: String,
    kind: String,
}

/// Bad input from the API server or from the pod author.
const BAD_REQUEST: u16 = 400;
/// The policy itself is misconfigured.
const MISCONFIGURED: u16 = 500;

pub fn validate(payload: &[u8]) -> ValidationResponse {
    let payload: Payload = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                format!(
                    "the policy could not read the admission payload (expected {{\"request\": AdmissionRequest, \"settings\": {{...}}}}): {e}"
                ),
                BAD_REQUEST,
            );
        }
    };
    let Payload { request, settings } = payload;
    if request.kind.kind != "Pod"
        || !request.kind.group.is_empty()
        || request.operation != "CREATE"
        || request
            .sub_resource
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    {
        return accept(None);
    }
    let mut object = request.object;
    match &object {
        Value::Object(o) => {
            if let Some(kind) = o
                .get("kind")
                .and_then(Value::as_str)
                .filter(|k| *k != "Pod")
            {
                return reject(
                    format!(
                        "request.kind is Pod but request.object.kind is {kind:?}; the object must be a Pod"
                    ),
                    BAD_REQUEST,
                );
            }
        }
        Value::Null => {
            return reject(
                "the Pod CREATE request carries no object (request.object is missing or null)"
                    .into(),
                BAD_REQUEST,
            );
        }
        _ => {
            return reject(
                "request.object is not a JSON object; a Pod was expected".into(),
                BAD_REQUEST,
            );
        }
    }
    let pod: PodView = match serde_path_to_error::deserialize(&object) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                format!(
                    "request.object is not a valid Pod: at {}: {}",
                    e.path(),
                    e.inner()
                ),
                BAD_REQUEST,
            );
        }
    };
    let value = pod.annotation(INJECT_PYTHON);
    if matches!(reference::parse(value), Ok(Reference::Off)) {
        return accept(None);
    }
    let settings = match Settings::parse(&settings) {
        Ok(s) => s,
        Err(e) => {
            return reject(
                format!(
                    "the policy settings are invalid, so the pod's {INJECT_PYTHON} annotation cannot be honoured: {e}"
                ),
                MISCONFIGURED,
            );
        }
    };
    let namespace = request
        .namespace
        .filter(|n| !n.is_empty())
        .or_else(|| pod.metadata.namespace.clone())
        .unwrap_or_default();
    if namespace.is_empty() {
        return failure(&settings, "the request names no namespace for the pod, so its instrumentation reference cannot be resolved".into());
    }
    if let Some(why) = inject::already_instrumented(&pod) {
        return accept(Some(vec![format!(
            "pod {} is already instrumented ({why}); nothing was injected",
            pod.display_name()
        )]));
    }
    let resolved = match reference::resolve(value, &namespace, &settings) {
        Ok(Some(r)) => r,
        Ok(None) => return accept(None),
        Err(e) => return failure(&settings, e),
    };
    let plan = match inject::plan(&pod, &namespace, resolved.spec) {
        Ok(p) => p,
        Err(e) => {
            return failure(
                &settings,
                format!(
                    "pod {} asked for OpenTelemetry Python instrumentation ({}), but {e}",
                    pod.display_name(),
                    resolved.label
                ),
            );
        }
    };
    if let Err(e) = inject::apply(&plan, &mut object) {
        return failure(&settings, e);
    }
    let containers: Vec<String> = plan.edits.iter().map(|e| format!("{:?}", e.name)).collect();
    let mut warnings = vec![format!(
        "injected OpenTelemetry Python auto-instrumentation ({}) into container{} {} of pod {}",
        resolved.label,
        if containers.len() == 1 { "" } else { "s" },
        containers.join(", "),
        pod.display_name()
    )];
    warnings.extend(plan.notes);
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: Some(object),
        audit_annotations: None,
        warnings: Some(warnings),
    }
}

pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    let result = serde_json::from_slice::<Value>(payload)
        .map_err(|e| format!("settings are not valid JSON: {e}"))
        .and_then(|v| Settings::parse(&v));
    match result {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    }
}

fn accept(warnings: Option<Vec<String>>) -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings,
    }
}

fn reject(message: String, code: u16) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code: Some(code),
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

/// A pod that asked for instrumentation but cannot get it: refused, or admitted unchanged with the
/// reason as a warning when the settings ask for the operator's behaviour.
fn failure(settings: &Settings, message: String) -> ValidationResponse {
    match settings.failure_action {
        FailureAction::Reject => reject(message, BAD_REQUEST),
        FailureAction::Admit => accept(Some(vec![format!(
            "no instrumentation injected: {message}"
        )])),
    }
}
