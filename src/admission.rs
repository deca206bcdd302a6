//! One admission decision, from the payload the host sends to the response it gets back:
//! request → target → reference → plan → apply → decision → response. Pure: `lib.rs` only hands
//! bytes in and out, so this is what native tests, parity checks and benchmarks call.

use std::cell::RefCell;
use std::rc::Rc;

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::annotations::{INJECT_PYTHON, is_off};
use crate::catalog::Resolved;
use crate::pod::PodView;
use crate::refusal::{
    Fault, Notice, PayloadProblem, PlanProblem, PlanRefusal, Refusal, SettingsErrors,
    SettingsProblem, Subject,
};
use crate::settings::{FailureAction, Settings};
use crate::target::{Role, Target};
use crate::{inject, reference, workload};

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`. Only the request
/// fields the decision needs are read; `null` anywhere reads as absent.
#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    request: Option<RawRequest>,
    /// Kept as raw text: settings are the same on every call, so they are parsed and validated
    /// once and reused while the text stays the same (see `cached_settings`).
    #[serde(default)]
    settings: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRequest {
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

/// What the API server asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    /// Absent or not one of the above.
    Other,
}

/// The request, typed once.
#[derive(Debug)]
pub struct Request {
    pub operation: Operation,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub sub_resource: String,
    pub object: Value,
}

impl From<RawRequest> for Request {
    fn from(r: RawRequest) -> Self {
        let kind = r.kind.unwrap_or_default();
        Request {
            operation: match r.operation.as_deref() {
                Some("CREATE") => Operation::Create,
                Some("UPDATE") => Operation::Update,
                Some("DELETE") => Operation::Delete,
                Some("CONNECT") => Operation::Connect,
                _ => Operation::Other,
            },
            group: kind.group.unwrap_or_default(),
            kind: kind.kind.unwrap_or_default(),
            namespace: r.namespace.unwrap_or_default(),
            sub_resource: r.sub_resource.unwrap_or_default(),
            object: r.object,
        }
    }
}

impl Request {
    /// Where the pod sits in this request's object, for the requests the policy acts on: a Pod
    /// CREATE, and a CREATE or UPDATE of a workload; never a sub-resource.
    pub fn target(&self) -> Option<Target> {
        if !self.sub_resource.is_empty() {
            return None;
        }
        match self.operation {
            Operation::Create if self.group.is_empty() && self.kind == "Pod" => Some(Target::POD),
            Operation::Create | Operation::Update => Target::workload(&self.group, &self.kind),
            _ => None,
        }
    }

    fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Other => "",
        }
    }
}

/// What the policy decided.
#[derive(Debug)]
pub enum Decision {
    Accept(Vec<Notice>),
    Mutate { object: Value, notices: Vec<Notice> },
    Refuse(Refusal),
}

pub fn validate(payload: &[u8]) -> ValidationResponse {
    let (request, settings) = match read_payload(payload) {
        Ok(read) => read,
        Err(problem) => return respond(Decision::Refuse(Refusal::Payload(problem)), None),
    };
    let mut failure_action = None;
    let decision = decide(request, settings.as_deref(), &mut failure_action);
    respond(decision, failure_action)
}

fn read_payload(payload: &[u8]) -> Result<(Request, Option<Box<RawValue>>), PayloadProblem> {
    // serde would also read a struct from a JSON list; the envelope is always an object.
    let is_object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed: Result<Payload, _> = if is_object {
        serde_json::from_slice(payload)
    } else {
        Err(serde::de::Error::custom("it is not a JSON object"))
    };
    let Payload { request, settings } = parsed.map_err(|e| PayloadProblem::Unreadable {
        error: e.to_string(),
    })?;
    Ok((request.unwrap_or_default().into(), settings))
}

/// The decision for one request. `failure_action` is set once the settings are read, for the
/// response to know what a refusal becomes.
fn decide(
    request: Request,
    settings: Option<&RawValue>,
    failure_action: &mut Option<FailureAction>,
) -> Decision {
    let Some(target) = request.target() else {
        return Decision::Accept(Vec::new());
    };
    if let Err(problem) = check_object(&request, &target) {
        return Decision::Refuse(Refusal::Payload(problem));
    }
    if target.role == Role::Template && workload::exempt(&request.object, &target) {
        return Decision::Accept(Vec::new());
    }
    let pod = match PodView::read(&request.object, &target) {
        Ok(pod) => pod,
        Err(e) => {
            return Decision::Refuse(Refusal::Payload(PayloadProblem::InvalidObject {
                kind: target.kind,
                path: e.path,
                error: e.error,
            }));
        }
    };
    let subject = subject(&request, &target, &pod);
    let value = pod.annotation(INJECT_PYTHON);
    if is_off(value) {
        let misplaced = (target.role == Role::Template)
            .then(|| workload::misplaced_annotation(&request.object, &subject))
            .flatten();
        return Decision::Accept(misplaced.into_iter().collect());
    }
    let settings = match cached_settings(settings.map_or("null", RawValue::get)) {
        Ok(s) => s,
        Err(e) => return Decision::Refuse(Refusal::Settings(e)),
    };
    *failure_action = Some(settings.failure_action);
    if subject.namespace().is_empty() {
        return Decision::Refuse(Refusal::NoNamespace { kind: target.kind });
    }
    if let Some(why) = inject::already_instrumented(&pod) {
        return Decision::Accept(vec![Notice::AlreadyInstrumented { subject, why }]);
    }
    let cross = settings.allow_cross_namespace_references;
    let resolved = match reference::resolve(value, &subject, settings.as_ref(), cross) {
        Ok(Some(r)) => r,
        Ok(None) => return Decision::Accept(Vec::new()),
        Err(refusal) => return Decision::Refuse(refusal),
    };
    match target.role {
        Role::Pod => inject_pod(request.object, &target, &pod, subject, &resolved),
        Role::Template => preview_workload(&request.object, &target, pod, subject, &resolved),
    }
}

/// The object must be a JSON object of the target's kind.
fn check_object(request: &Request, target: &Target) -> Result<(), PayloadProblem> {
    let kind = target.kind;
    match &request.object {
        Value::Object(o) => match o.get("kind").and_then(Value::as_str) {
            Some(k) if k != kind => Err(PayloadProblem::KindMismatch {
                kind,
                object_kind: k.to_string(),
            }),
            _ => Ok(()),
        },
        Value::Null => Err(PayloadProblem::NoObject {
            kind,
            operation: request.operation_name(),
        }),
        _ => Err(PayloadProblem::ObjectNotAnObject { kind }),
    }
}

/// Who the messages are about, and in which namespace the references resolve.
fn subject(request: &Request, target: &Target, pod: &PodView) -> Subject {
    let own = request.object["metadata"]["namespace"].as_str();
    let namespace = match (request.namespace.as_str(), own) {
        ("", Some(ns)) => ns.to_string(),
        (ns, _) => ns.to_string(),
    };
    match target.role {
        Role::Pod => Subject::Pod {
            name: pod.display_name(),
            namespace,
        },
        Role::Template => Subject::Workload {
            kind: target.kind,
            namespace,
            name: workload::display_name(&request.object),
            template: target.template,
        },
    }
}

fn refuse_plan(subject: Subject, resolved: &Resolved, problem: PlanProblem) -> Decision {
    Decision::Refuse(Refusal::Plan(Box::new(PlanRefusal {
        subject,
        label: resolved.label(),
        problem,
    })))
}

/// A Pod CREATE: the plan, written into the object.
fn inject_pod(
    mut object: Value,
    target: &Target,
    pod: &PodView,
    subject: Subject,
    resolved: &Resolved,
) -> Decision {
    let namespace = subject.namespace().to_string();
    let plan = match inject::plan(pod, &namespace, &resolved.spec) {
        Ok(p) => p,
        Err(problem) => return refuse_plan(subject, resolved, problem),
    };
    if let Err(e) = inject::apply(&plan, &mut object, target) {
        return Decision::Refuse(Refusal::Apply(e));
    }
    let label = resolved.label();
    let mut notices = vec![Notice::Injected {
        label: label.clone(),
        containers: plan.edits.iter().map(|e| e.name.clone()).collect(),
        pod: pod.display_name(),
    }];
    if resolved.spec.endpoint().is_empty() {
        notices.push(Notice::NoEndpoint { label });
    }
    notices.extend(plan.notes);
    Decision::Mutate { object, notices }
}

/// A workload: the plan for the pods its controller will create, shown and never applied.
fn preview_workload(
    object: &Value,
    target: &Target,
    template: PodView,
    subject: Subject,
    resolved: &Resolved,
) -> Decision {
    let Subject::Workload {
        name, namespace, ..
    } = &subject
    else {
        return Decision::Accept(Vec::new());
    };
    let name = object["metadata"]["name"].as_str().unwrap_or(name);
    let pod = workload::pod_of(template, target, name, namespace);
    let plan = match inject::plan(&pod, namespace, &resolved.spec) {
        Ok(p) => p,
        Err(problem) => return refuse_plan(subject, resolved, problem),
    };
    let label = resolved.label();
    let mut notices = Vec::from(workload::preview(&subject, label.clone(), &plan));
    if resolved.spec.endpoint().is_empty() {
        notices.push(Notice::NoEndpoint { label });
    }
    notices.extend(plan.notes);
    Decision::Accept(notices)
}

/// The response for a decision. A refusal that may be admitted is, with the reason as a warning,
/// when the settings say `failureAction: admit`.
fn respond(decision: Decision, failure_action: Option<FailureAction>) -> ValidationResponse {
    let warnings = |notices: Vec<Notice>| {
        (!notices.is_empty()).then(|| notices.iter().map(ToString::to_string).collect())
    };
    let (accepted, message, code, mutated_object, warnings) = match decision {
        Decision::Accept(notices) => (true, None, None, None, warnings(notices)),
        Decision::Mutate { object, notices } => (true, None, None, Some(object), warnings(notices)),
        Decision::Refuse(r)
            if r.follows_failure_action() && failure_action == Some(FailureAction::Admit) =>
        {
            let workload = r.is_about_workload();
            let notice = Notice::NotInjected {
                refusal: r,
                workload,
            };
            (true, None, None, None, warnings(vec![notice]))
        }
        Decision::Refuse(r) => (false, Some(r.to_string()), Some(r.code()), None, None),
    };
    ValidationResponse {
        accepted,
        message,
        code,
        mutated_object,
        audit_annotations: None,
        warnings,
    }
}

type ParsedSettings = Result<Rc<Settings>, SettingsErrors>;

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
        let parsed = parse_settings(raw.as_bytes()).map(Rc::new);
        *cache = Some((raw.to_string(), parsed.clone()));
        parsed
    })
}

fn parse_settings(text: &[u8]) -> Result<Settings, SettingsErrors> {
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        SettingsErrors(vec![SettingsProblem::new(
            "",
            Fault::NotJson {
                error: e.to_string(),
            },
        )])
    })?;
    Settings::parse(&value)
}

pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    match parse_settings(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(errors) => SettingsValidationResponse {
            valid: false,
            message: Some(errors.to_string()),
        },
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
        let r = run(&pod_request(json!({"propagators": ["tracecontext"]})));
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
            (json!({"sampler": {"type": "always_on"}}), None),
        ] {
            assert_eq!(
                endpoint(&run(&pod_request(settings.clone()))),
                want,
                "{settings}"
            );
        }
        let none = run(&pod_request(json!(null)));
        assert!(
            !none.accepted && none.message.unwrap().contains("no default"),
            "without settings, \"true\" names nothing"
        );
        let bad = run(&pod_request(json!({"propagators": ["w3c"]})));
        assert!(!bad.accepted);
        let again = run(&pod_request(json!({"propagators": ["w3c"]})));
        assert_eq!(
            bad.message, again.message,
            "a cached refusal gives the same message"
        );
    }
}
