//! One admission decision, from the payload the host sends to the response it gets back:
//! request → target → reference → plan → apply → decision → response. Pure: `lib.rs` only hands
//! bytes in and out, so this is what native tests, parity checks and benchmarks call.

use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::annotations::{INJECT_PYTHON, is_off};
use crate::catalog::Resolved;
use crate::cluster::{Cluster, Lookups};
use crate::cluster_catalog::ClusterCatalog;
use crate::json_text::{self, value_at};
use crate::pod::PodView;
use crate::refusal::{
    Fault, Notice, PayloadProblem, PlanProblem, PlanRefusal, Refusal, SettingsErrors,
    SettingsProblem, Subject,
};
use crate::settings::{FailureAction, Settings};
use crate::settings_view::{self, SettingsView};
use crate::target::{Role, Target};
use crate::{inject, namespaces, reference, workload};

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`. Only the request
/// fields the decision needs are read; `null` anywhere reads as absent. The object and the
/// settings stay text borrowed from the payload: most requests never need more of them than a
/// few fields, and a fresh instance (policy-server makes one per request) pays for every byte
/// it builds.
#[derive(Deserialize, Default)]
struct Payload<'a> {
    #[serde(default, borrow)]
    request: Option<RawRequest<'a>>,
    #[serde(default, borrow)]
    settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRequest<'a> {
    kind: Option<Gvk>,
    operation: Option<String>,
    namespace: Option<String>,
    sub_resource: Option<String>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
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

/// The request, typed once; the object as JSON text (`None`: absent or `null`).
#[derive(Debug)]
pub struct Request<'a> {
    pub operation: Operation,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub sub_resource: String,
    pub object: Option<&'a RawValue>,
}

impl<'a> From<RawRequest<'a>> for Request<'a> {
    fn from(r: RawRequest<'a>) -> Self {
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

impl Request<'_> {
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
    /// The mutated object, as JSON text.
    Mutate {
        object: String,
        notices: Vec<Notice>,
    },
    Refuse(Refusal),
}

/// The answer to `validate`: the SDK's `ValidationResponse`, field for field, with the mutated
/// object kept as the JSON text the policy wrote (the request's own text with the injection spliced
/// in) instead of a document built to be written out again.
#[derive(Debug)]
pub struct Response {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<String>,
    pub warnings: Option<Vec<String>>,
}

impl Response {
    /// The mutated object as a document (for tests and tools).
    pub fn mutated(&self) -> Option<Value> {
        self.mutated_object
            .as_ref()
            .and_then(|m| serde_json::from_str(m).ok())
    }

    /// The response as the host reads it, in the SDK's field order. The mutated object is written
    /// as it is: it is valid JSON by construction (`inject::apply` splices whole values into the
    /// request's text), and reading it again only to write it out would cost a pass over the pod.
    pub fn to_json(&self) -> Vec<u8> {
        let object = self.mutated_object.as_deref();
        let mut out = Vec::with_capacity(96 + object.map_or(0, str::len));
        out.extend_from_slice(br#"{"accepted":"#);
        out.extend_from_slice(if self.accepted { b"true" } else { b"false" });
        let field = |out: &mut Vec<u8>, name: &str| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        field(&mut out, "message");
        write_json(&mut out, &self.message);
        field(&mut out, "code");
        write_json(&mut out, &self.code);
        field(&mut out, "mutated_object");
        out.extend_from_slice(object.unwrap_or("null").as_bytes());
        field(&mut out, "audit_annotations");
        out.extend_from_slice(b"null");
        field(&mut out, "warnings");
        write_json(&mut out, &self.warnings);
        out.push(b'}');
        out
    }
}

fn write_json<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    // Strings, numbers and lists of strings: serde_json cannot fail on them.
    let _ = serde_json::to_writer(out, value);
}

/// The decision in settings-only mode, or without a cluster to ask.
pub fn validate(payload: &[u8]) -> Response {
    validate_with(payload, &crate::cluster::NoCluster)
}

/// The decision, with `cluster` answering the lookups of cluster mode.
pub fn validate_with(payload: &[u8], cluster: &dyn Cluster) -> Response {
    let (request, settings) = match read_payload(payload) {
        Ok(read) => read,
        Err(problem) => return respond(Decision::Refuse(Refusal::Payload(problem)), None),
    };
    let mut failure_action = None;
    let decision = decide(request, settings, &mut failure_action, cluster);
    respond(decision, failure_action)
}

fn read_payload(payload: &[u8]) -> Result<(Request<'_>, Option<&RawValue>), PayloadProblem> {
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
    request: Request<'_>,
    settings: Option<&RawValue>,
    failure_action: &mut Option<FailureAction>,
    cluster: &dyn Cluster,
) -> Decision {
    let Some(target) = request.target() else {
        return Decision::Accept(Vec::new());
    };
    let (raw, head) = match read_head(&request, &target) {
        Ok(read) => read,
        Err(problem) => return Decision::Refuse(Refusal::Payload(problem)),
    };
    if target.role == Role::Template && workload::exempt(&head, &target) {
        return Decision::Accept(Vec::new());
    }
    let settings_text = settings.map_or("null", RawValue::get);
    // Most objects do not ask for instrumentation: answer them before reading the pod, unless
    // their namespace may ask for them (cluster mode, and the pod says nothing).
    let own = head.inject.as_ref();
    let asks_itself = own.is_some_and(|v| !v.as_str().is_some_and(is_off));
    let namespace_may_ask =
        || own.is_none_or(|v| v.as_str() == Some("")) && settings_view::cluster_mode(settings_text);
    if !asks_itself && !namespace_may_ask() {
        return Decision::Accept(misplaced(&request, &head, &target));
    }
    let mut pod = match PodView::read(raw.get(), &target) {
        Ok(pod) => pod,
        Err(e) => {
            return Decision::Refuse(Refusal::Payload(PayloadProblem::InvalidObject {
                kind: target.kind,
                path: e.path,
                error: e.error,
            }));
        }
    };
    let subject = subject(&request, &head, &target, &pod);
    let settings = match SettingsView::read(settings_text) {
        Ok(s) => s,
        // Only cluster mode reads the settings of an object that asks for nothing itself.
        Err(_) if is_off(pod.annotation(INJECT_PYTHON)) => {
            return Decision::Accept(misplaced(&request, &head, &target));
        }
        Err(e) => return Decision::Refuse(Refusal::Settings(e)),
    };
    *failure_action = Some(settings.failure_action);
    if subject.namespace().is_empty() {
        return Decision::Refuse(Refusal::NoNamespace { kind: target.kind });
    }
    let lookups = Lookups {
        cluster,
        service_account: settings.service_account.clone(),
    };
    let (inherited, mut notices) = match inherit(&mut pod, &settings, &lookups, &subject) {
        Ok(found) => found,
        Err(refusal) => return Decision::Refuse(refusal),
    };
    let value = pod.annotation(INJECT_PYTHON).to_string();
    if is_off(&value) {
        notices.extend(misplaced(&request, &head, &target));
        return Decision::Accept(notices);
    }
    if let Some(why) = inject::already_instrumented(&pod) {
        return Decision::Accept(vec![Notice::AlreadyInstrumented { subject, why }]);
    }
    let resolved = match resolve(&value, &subject, &settings, &lookups, inherited) {
        Ok(Some(r)) => r,
        Ok(None) => return Decision::Accept(Vec::new()),
        Err(refusal) => return Decision::Refuse(refusal),
    };
    match target.role {
        Role::Pod => {
            if settings.cluster_mode
                && let Err(refusal) = namespaces::look_up_owners(&mut pod, &lookups, &subject)
            {
                return Decision::Refuse(refusal);
            }
            inject_pod(raw, &target, &pod, subject, &resolved)
        }
        Role::Template => preview_workload(&head, &target, pod, subject, &resolved),
    }
}

/// Cluster mode: the pod's annotations as its Namespace's complete them. `true` when the inject
/// value is the namespace's; a pod that asks for nothing itself is not refused for its namespace.
fn inherit(
    pod: &mut PodView,
    settings: &SettingsView<'_>,
    lookups: &Lookups<'_>,
    subject: &Subject,
) -> Result<(bool, Vec<Notice>), Refusal> {
    if !settings.cluster_mode {
        return Ok((false, Vec::new()));
    }
    match namespaces::inherit(pod, lookups, subject) {
        Ok(from_namespace) => Ok((from_namespace, Vec::new())),
        Err(refusal) if is_off(pod.annotation(INJECT_PYTHON)) => {
            Ok((false, vec![Notice::NamespaceUnread { refusal }]))
        }
        Err(refusal) => Err(refusal),
    }
}

/// The instrumentation `value` names, from the settings or (cluster mode) the cluster too.
fn resolve(
    value: &str,
    subject: &Subject,
    settings: &SettingsView<'_>,
    lookups: &Lookups<'_>,
    inherited: bool,
) -> Result<Option<Resolved>, Refusal> {
    let cross = settings.allow_cross_namespace_references;
    let resolved = if settings.cluster_mode {
        let catalog = ClusterCatalog::new(settings, lookups, subject);
        reference::resolve(value, subject, &catalog, cross)
    } else {
        reference::resolve(value, subject, settings, cross)
    };
    match resolved {
        Err(Refusal::Reference(mut r)) if inherited => {
            r.inherited = true;
            Err(Refusal::Reference(r))
        }
        other => other,
    }
}

/// A workload's annotation on its own metadata, where it does nothing.
fn misplaced(request: &Request<'_>, head: &Head, target: &Target) -> Vec<Notice> {
    if target.role != Role::Template {
        return Vec::new();
    }
    let namespace = namespace_of(request, head);
    workload::misplaced_annotation(head, target, &namespace)
        .into_iter()
        .collect()
}

/// What is read of the object before the pod: its kind, the pod's `inject-python` annotation,
/// and a workload's own metadata (`null` for a Pod, whose metadata is the pod's).
#[derive(Default, Deserialize)]
pub struct Head {
    #[serde(default)]
    pub kind: Value,
    #[serde(default)]
    pub metadata: Value,
    #[serde(skip)]
    pub inject: Option<Value>,
}

/// A Pod's kind and `inject-python` annotation, read in one pass.
#[derive(Default, Deserialize)]
struct PodProbe {
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    metadata: Option<ProbeMeta>,
}

#[derive(Default, Deserialize)]
struct ProbeMeta {
    #[serde(default)]
    annotations: Option<ProbeAnnotations>,
}

#[derive(Default, Deserialize)]
struct ProbeAnnotations {
    #[serde(default, rename = "instrumentation.opentelemetry.io/inject-python")]
    inject: Option<Value>,
}

/// The object, which must be a JSON object of the target's kind, and its head.
fn read_head<'a>(
    request: &Request<'a>,
    target: &Target,
) -> Result<(&'a RawValue, Head), PayloadProblem> {
    let kind = target.kind;
    let Some(raw) = request.object else {
        return Err(PayloadProblem::NoObject {
            kind,
            operation: request.operation_name(),
        });
    };
    if raw.get().as_bytes().first() != Some(&b'{') {
        return Err(PayloadProblem::ObjectNotAnObject { kind });
    }
    // A field of an unexpected type reads as "asks": reading the pod then says what is wrong.
    let asks = Some(Value::Bool(true));
    let head = match target.role {
        Role::Pod => match serde_json::from_str::<PodProbe>(raw.get()) {
            Ok(probe) => Head {
                kind: probe.kind,
                metadata: Value::Null,
                inject: probe
                    .metadata
                    .and_then(|m| m.annotations)
                    .and_then(|a| a.inject),
            },
            Err(_) => Head {
                inject: asks,
                ..Head::default()
            },
        },
        Role::Template => {
            let mut head: Head = serde_json::from_str(raw.get()).unwrap_or_default();
            let path = [target.template, &["metadata", "annotations", INJECT_PYTHON]].concat();
            head.inject = value_at(raw.get(), &path);
            head
        }
    };
    match head.kind.as_str() {
        Some(k) if k != kind => Err(PayloadProblem::KindMismatch {
            kind,
            object_kind: k.to_string(),
        }),
        _ => Ok((raw, head)),
    }
}

/// The request's namespace, else the object's own.
fn namespace_of(request: &Request<'_>, head: &Head) -> String {
    match (
        request.namespace.as_str(),
        head.metadata["namespace"].as_str(),
    ) {
        ("", Some(ns)) => ns.to_string(),
        (ns, _) => ns.to_string(),
    }
}

/// Who the messages are about, and in which namespace the references resolve.
fn subject(request: &Request<'_>, head: &Head, target: &Target, pod: &PodView) -> Subject {
    let namespace = match (namespace_of(request, head), &pod.metadata.namespace) {
        (ns, Some(own)) if ns.is_empty() && target.role == Role::Pod => own.clone(),
        (ns, _) => ns,
    };
    match target.role {
        Role::Pod => Subject::Pod {
            name: pod.display_name(),
            namespace,
        },
        Role::Template => Subject::Workload {
            kind: target.kind,
            namespace,
            name: workload::display_name(head),
            template: target.template_path(),
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

/// A Pod CREATE: the plan, written into the object (only here read whole).
fn inject_pod(
    raw: &RawValue,
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
    // Hosts read the answer with serde_json, whose recursion limit the object must respect.
    if json_text::deeper_than(raw.get(), json_text::DEPTH_LIMIT) {
        let error = "recursion limit exceeded".to_string();
        return Decision::Refuse(Refusal::Payload(PayloadProblem::Unreadable { error }));
    }
    let object = match inject::apply(&plan, raw.get(), target) {
        Ok(object) => object,
        Err(e) => return Decision::Refuse(Refusal::Apply(e)),
    };
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
    head: &Head,
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
    let name = head.metadata["name"].as_str().unwrap_or(name);
    let pod = workload::pod_of(template, target, name, namespace);
    let checked = match inject::check(&pod, &resolved.spec) {
        Ok(c) => c,
        Err(problem) => return refuse_plan(subject, resolved, problem),
    };
    let service_name = inject::service_name(&pod, namespace, &resolved.spec, &checked);
    let label = resolved.label();
    let mut notices = Vec::from(workload::preview(
        &subject,
        label.clone(),
        &pod,
        &checked,
        service_name,
    ));
    if resolved.spec.endpoint().is_empty() {
        notices.push(Notice::NoEndpoint { label });
    }
    Decision::Accept(notices)
}

/// The response for a decision. A refusal that may be admitted is, with the reason as a warning,
/// when the settings say `failureAction: admit`.
fn respond(decision: Decision, failure_action: Option<FailureAction>) -> Response {
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
    Response {
        accepted,
        message,
        code,
        mutated_object,
        warnings,
    }
}

/// The settings, fully read and checked: what `validate_settings` answers.
pub fn parse_settings(text: &[u8]) -> Result<Settings, SettingsErrors> {
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

    fn run(payload: &[u8]) -> Response {
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
    fn every_call_reads_its_own_settings() {
        let endpoint = |r: &Response| {
            r.mutated().unwrap()["spec"]["containers"][0]["env"]
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
            "the same settings give the same refusal"
        );
    }
}
