//! One admission decision, from the payload the host sends to the response it gets back. Pure:
//! `lib.rs` only hands bytes in and out, so this is what native tests, parity checks and
//! benchmarks call.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::annotations::INJECT_PYTHON;
use crate::inject;
use crate::pod::PodView;
use crate::reference::{self, Reference};
use crate::settings::{FailureAction, Settings};

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`. Only the request
/// fields the decision needs are read; `null` anywhere reads as absent.
#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    request: Option<Request>,
    /// Kept as raw text: settings are the same on every call, so they are parsed and validated
    /// once and reused while the text stays the same (see `cached_settings`).
    #[serde(default)]
    settings: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Request {
    kind: Option<Gvk>,
    operation: Option<String>,
    namespace: Option<String>,
    sub_resource: Option<String>,
    object: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Gvk {
    group: Option<String>,
    kind: Option<String>,
}

impl Request {
    /// A Pod CREATE on the pods resource itself (not a sub-resource): the only request the policy changes.
    fn is_pod_create(&self) -> bool {
        let kind = self.kind.as_ref();
        kind.and_then(|k| k.kind.as_deref()) == Some("Pod")
            && kind
                .and_then(|k| k.group.as_deref())
                .unwrap_or_default()
                .is_empty()
            && self.operation.as_deref() == Some("CREATE")
            && self.sub_resource.as_deref().unwrap_or_default().is_empty()
    }
}

/// Bad input from the API server or from the pod author.
const BAD_REQUEST: u16 = 400;
/// The policy itself is misconfigured.
const MISCONFIGURED: u16 = 500;

pub fn validate(payload: &[u8]) -> ValidationResponse {
    // serde would also read a struct from a JSON list; the envelope is always an object.
    let is_object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed = if is_object {
        serde_json::from_slice(payload)
    } else {
        Err(serde::de::Error::custom("it is not a JSON object"))
    };
    let payload: Payload = match parsed {
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
    let request = request.unwrap_or_default();
    if !request.is_pod_create() {
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
                "the Pod CREATE request carries no object (request.object is missing or null); send the pod to create in request.object, as the API server does"
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
    let settings = match cached_settings(settings.as_deref().map_or("null", RawValue::get)) {
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
        return failure(&settings, "the request names no namespace for the pod (request.namespace and metadata.namespace are empty), so its instrumentation reference cannot be resolved; set metadata.namespace".into());
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
    if resolved.spec.endpoint().is_empty() {
        warnings.push(format!(
            "{} sets no exporter.endpoint, so the Python SDK sends telemetry to its default http://localhost:4318; set exporter.endpoint in the policy settings to reach a collector",
            resolved.label
        ));
    }
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

type ParsedSettings = Result<Rc<Settings>, String>;

thread_local! {
    /// The last settings text and what it parsed to. A policy instance always gets the same
    /// settings, so after the first pod this replaces parsing and validation with a text compare.
    static SETTINGS_CACHE: RefCell<Option<(String, ParsedSettings)>> = const { RefCell::new(None) };
}

fn cached_settings(raw: &str) -> ParsedSettings {
    SETTINGS_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, parsed)) = cache.as_ref().filter(|(text, _)| text == raw) {
            return parsed.clone();
        }
        let parsed = serde_json::from_str::<Value>(raw)
            .map_err(|e| format!("settings are not valid JSON ({e}); use a JSON object (an Instrumentation spec plus policy options)"))
            .and_then(|v| Settings::parse(&v))
            .map(Rc::new);
        *cache = Some((raw.to_string(), parsed.clone()));
        parsed
    })
}

pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    let result = serde_json::from_slice::<Value>(payload)
        .map_err(|e| format!("settings are not valid JSON ({e}); use a JSON object (an Instrumentation spec plus policy options)"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(payload: &[u8]) -> ValidationResponse {
        validate(payload)
    }

    #[test]
    fn unreadable_payloads_are_refused_not_panics() {
        for bytes in [&b""[..], b"{", b"[]", b"\"x\"", b"{\"request\": 5}"] {
            let r = run(bytes);
            assert!(!r.accepted, "{:?}", String::from_utf8_lossy(bytes));
            assert!(
                r.message
                    .unwrap()
                    .starts_with("the policy could not read the admission payload")
            );
        }
    }

    #[test]
    fn null_and_partial_requests_are_accepted_untouched() {
        for p in [
            json!({}),
            json!({"request": null}),
            json!({"request": {"kind": null, "operation": null}}),
        ] {
            let r = run(&serde_json::to_vec(&p).unwrap());
            assert!(r.accepted && r.mutated_object.is_none(), "{p}");
        }
    }

    #[test]
    fn subresources_and_other_groups_are_not_pod_creates() {
        let pod = json!({"metadata": {"annotations": {INJECT_PYTHON: "nope"}}, "spec": {"containers": [{"name": "a"}]}});
        for (kind, sub) in [
            (
                json!({"group": "", "kind": "Pod"}),
                json!("ephemeralcontainers"),
            ),
            (json!({"group": "example.com", "kind": "Pod"}), json!(null)),
        ] {
            let p = json!({"request": {"kind": kind, "operation": "CREATE", "subResource": sub, "namespace": "a", "object": pod}, "settings": {}});
            let r = run(&serde_json::to_vec(&p).unwrap());
            assert!(r.accepted && r.mutated_object.is_none(), "{p}");
        }
        let p = json!({"request": {"kind": {"group": "", "kind": "Pod"}, "operation": "CREATE", "namespace": "a", "object": pod}, "settings": {}});
        assert!(
            !run(&serde_json::to_vec(&p).unwrap()).accepted,
            "the same pod as a plain CREATE is refused (unknown reference)"
        );
    }

    #[test]
    fn invalid_settings_refuse_only_pods_that_ask_for_injection() {
        let settings = json!({"propagators": ["w3c"]});
        let ask = json!({"metadata": {"annotations": {INJECT_PYTHON: "true"}}, "spec": {"containers": [{"name": "a"}]}});
        let quiet = json!({"spec": {"containers": [{"name": "a"}]}});
        let req = |object: &Value| json!({"request": {"kind": {"group": "", "kind": "Pod"}, "operation": "CREATE", "namespace": "a", "object": object}, "settings": settings});
        let r = run(&serde_json::to_vec(&req(&ask)).unwrap());
        assert!(
            !r.accepted
                && r.code == Some(500)
                && r.message
                    .unwrap()
                    .contains("\"w3c\" is not an OpenTelemetry propagator")
        );
        assert!(run(&serde_json::to_vec(&req(&quiet)).unwrap()).accepted);
    }

    fn pod_request(settings: Value) -> Vec<u8> {
        let pod = json!({"metadata": {"name": "p", "annotations": {INJECT_PYTHON: "true"}}, "spec": {"containers": [{"name": "a", "image": "a:1"}]}});
        serde_json::to_vec(&json!({"request": {"kind": {"group": "", "kind": "Pod"}, "operation": "CREATE", "namespace": "n", "object": pod}, "settings": settings})).unwrap()
    }

    #[test]
    fn a_missing_endpoint_is_warned_about() {
        let r = run(&pod_request(json!({})));
        assert!(r.accepted && r.mutated_object.is_some());
        assert!(r.warnings.unwrap().iter().any(
            |w| w.contains("sets no exporter.endpoint") && w.contains("http://localhost:4318")
        ));
        let r = run(&pod_request(
            json!({"exporter": {"endpoint": "http://c:4318"}}),
        ));
        assert!(
            !r.warnings
                .unwrap()
                .iter()
                .any(|w| w.contains("exporter.endpoint"))
        );
    }

    #[test]
    fn the_settings_cache_follows_the_settings_text() {
        let endpoint = |r: &ValidationResponse| {
            r.mutated_object.as_ref().unwrap()["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|e| e["value"].clone())
        };
        for (settings, want) in [
            (
                json!({"exporter": {"endpoint": "http://one:4318"}}),
                Some(json!("http://one:4318")),
            ),
            (
                json!({"exporter": {"endpoint": "http://one:4318"}}),
                Some(json!("http://one:4318")),
            ),
            (
                json!({"exporter": {"endpoint": "http://two:4318"}}),
                Some(json!("http://two:4318")),
            ),
            (json!(null), None),
        ] {
            assert_eq!(
                endpoint(&run(&pod_request(settings.clone()))),
                want,
                "{settings}"
            );
        }
        let bad = run(&pod_request(json!({"propagators": ["w3c"]})));
        assert!(!bad.accepted);
        let again = run(&pod_request(json!({"propagators": ["w3c"]})));
        assert_eq!(
            bad.message, again.message,
            "a cached refusal gives the same message"
        );
    }
}
