//! One admission decision, from the host's payload to the host's answer.
//!
//! The pipeline: request → target → reference → plan → apply → decision → response. Pure: `lib.rs` only hands
//! bytes in and out, so this is what native tests, parity checks and benchmarks call.
//!
//! The steps: [`request`] reads the payload once; [`object`] reads the object's head (does its
//! pod ask at all?) and says whom messages are about; the settings are read
//! ([`crate::settings::view`]); in cluster mode the pod inherits its Namespace's annotations
//! ([`crate::cluster::namespaces`]); [`crate::reference`] resolves the annotation against a
//! [`crate::catalog::Catalog`]; the doctor ([`crate::checks`]) examines the containers the plan
//! targets; a Pod gets the plan applied ([`crate::inject`]), a workload the preview
//! ([`workload`]); [`response`] turns the decision into the host's answer.

pub mod audit;
pub mod object;
pub mod request;
pub mod response;
pub mod workload;

pub use response::{Decision, Response};

use crate::catalog::Resolved;
use crate::cluster::catalog::ClusterCatalog;
use crate::cluster::{Lookups, namespaces};
use crate::host::Hosts;
use crate::image::{self, ImageOptions};
use crate::inject::{Packages, preflight};
use crate::keys::{INJECT_PYTHON, is_off};
use crate::oci::Registry;
use crate::pod::{PodView, Slot};
use crate::refusal::{
    AppImageRefusal, ImageProblem, ImageRefusal, Notice, PayloadProblem, PlanProblem, PlanRefusal,
    Refusal, Subject,
};
use crate::settings::view::{self, SettingsView};
use crate::settings::{Options, Settings};
use crate::syntax::json_text;
use crate::target::{Role, Target};
use crate::{app_image, checks, inject, record, reference};
use object::{Ask, Head, ObjectText};
use request::Request;

/// The answer to `validate_settings`, as Kubewarden reads it: `{"valid":true,"message":null}`, or
/// `valid: false` with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SettingsValidationResponse {
    /// Whether the settings are accepted.
    pub valid: bool,
    /// Why they are not (`null` when they are).
    pub message: Option<String>,
}

/// The decision without a host to ask (settings mode needs none).
pub fn validate(payload: &[u8]) -> Response {
    validate_with(payload, Hosts::NONE)
}

/// The decision, with `hosts` answering the host calls (cluster mode's, registry lookups).
pub fn validate_with(payload: &[u8], hosts: Hosts<'_>) -> Response {
    let decision = match request::read_payload(payload) {
        Ok((request, settings)) => decide(&request, settings, hosts),
        Err(problem) => Decision::Refuse(Refusal::Payload(problem)),
    };
    Response::from(decision)
}

/// The answer to `validate_settings`: the full check of [`Settings::parse`].
pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    match Settings::from_json(payload) {
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

/// One request, once its object's head is read: what the later steps share.
struct Admission<'r> {
    request: &'r Request<'r>,
    target: Target,
    object: ObjectText<'r>,
    head: Head,
}

/// The decision for one request: most objects are answered from their head alone.
fn decide(request: &Request<'_>, settings: Option<&str>, hosts: Hosts<'_>) -> Decision {
    let Some(target) = request.target() else {
        return Decision::Accept(Vec::new());
    };
    let (object, head) = match object::read_head(request, &target) {
        Ok(read) => read,
        Err(problem) => return Decision::Refuse(Refusal::Payload(problem)),
    };
    if target.role == Role::Template && workload::exempt(&head, &target) {
        return Decision::Accept(Vec::new());
    }
    let settings = settings.unwrap_or("null");
    let ask = head.ask(|| view::cluster_mode(settings));
    let admission = Admission {
        request,
        target,
        object,
        head,
    };
    if ask == Ask::No {
        return Decision::Accept(admission.misplaced());
    }
    admission.decide(ask, settings, hosts)
}

impl Admission<'_> {
    /// The pod and the settings are read; the settings' `failureAction` applies from here on.
    fn decide(&self, ask: Ask, settings: &str, hosts: Hosts<'_>) -> Decision {
        let template = self.head.template.clone();
        let pod = match PodView::read_placed(self.object.get(), &self.target, template) {
            Ok(pod) => pod,
            Err(e) => {
                return Decision::Refuse(Refusal::Payload(PayloadProblem::InvalidObject {
                    kind: self.target.kind,
                    path: e.path,
                    error: e.error,
                }));
            }
        };
        let settings = match SettingsView::read(settings) {
            Ok(s) => s,
            // Only cluster mode reads the settings of an object that asks for nothing itself.
            Err(_) if ask == Ask::NamespaceMay => return Decision::Accept(self.misplaced()),
            Err(e) => return Decision::Refuse(Refusal::Settings(e)),
        };
        let lookups = Lookups {
            cluster: hosts.cluster,
            service_account: settings.options.service_account.clone(),
        };
        if settings.options.audit {
            return audit::decide(self, pod, ask, &settings, &lookups, hosts.registry);
        }
        let decision = self
            .resolve(pod, ask, &settings, &lookups, hosts.registry)
            .under(settings.options.failure_action);
        self.record_not_injected(decision)
    }

    /// A pod admitted without the instrumentation it asked for (`failureAction: admit`) records
    /// why, and nothing else changes; a pod that records it already is admitted unchanged.
    fn record_not_injected(&self, decision: Decision) -> Decision {
        let Decision::Accept(notices) = decision else {
            return decision;
        };
        let reason = match notices.first() {
            Some(Notice::NotInjected {
                refusal,
                workload: false,
            }) if self.target.role == Role::Pod => refusal.to_string(),
            _ => return Decision::Accept(notices),
        };
        let changes = record::not_injected(&reason);
        let path = [self.target.template, &["metadata", "annotations"]].concat();
        let own = json_text::value_at(self.object.get(), &path)
            .and_then(|a| serde_json::from_value(a).ok())
            .unwrap_or_default();
        if record::holds(&own, &changes) {
            return Decision::Accept(notices);
        }
        match inject::annotate(self.object.get(), &self.target, &changes) {
            Ok(object) => Decision::Mutate { object, notices },
            Err(_) => Decision::Accept(notices),
        }
    }

    /// The pod's effective annotation (its Namespace's too in cluster mode), resolved; then the
    /// injection for a Pod, the preview for a workload.
    fn resolve(
        &self,
        mut pod: PodView,
        ask: Ask,
        settings: &SettingsView<'_>,
        lookups: &Lookups<'_>,
        registry: &dyn Registry,
    ) -> Decision {
        let subject = object::subject(self.request, &self.head, &self.target, &pod);
        if subject.namespace().is_empty() {
            let kind = self.target.kind;
            return Decision::Refuse(Refusal::NoNamespace { kind });
        }
        let (inherited, mut notices) = match inherit(&mut pod, ask, settings, lookups, &subject) {
            Ok(found) => found,
            Err(refusal) => return Decision::Refuse(refusal),
        };
        let value = pod.annotation(INJECT_PYTHON).to_string();
        if is_off(&value) {
            notices.extend(self.misplaced());
            return Decision::Accept(notices);
        }
        if let Some(why) = inject::already_instrumented(&pod) {
            return Decision::Accept(vec![Notice::AlreadyInstrumented { subject, why }]);
        }
        let resolved = match resolve(&value, &subject, settings, lookups, inherited) {
            Ok(Some(r)) => r,
            Ok(None) => return Decision::Accept(Vec::new()),
            Err(refusal) => return Decision::Refuse(refusal),
        };
        let options = &settings.options;
        match self.target.role {
            Role::Pod if options.cluster_mode => {
                match namespaces::look_up_owners(&mut pod, lookups, &subject) {
                    Ok(()) => self.inject_pod(&mut pod, subject, &resolved, options, registry),
                    Err(refusal) => Decision::Refuse(refusal),
                }
            }
            Role::Pod => self.inject_pod(&mut pod, subject, &resolved, options, registry),
            Role::Template => self.preview_workload(pod, subject, &resolved, &options.image),
        }
    }

    /// A workload's annotation on its own metadata, where it does nothing.
    fn misplaced(&self) -> Vec<Notice> {
        if self.target.role != Role::Template {
            return Vec::new();
        }
        let namespace = object::namespace_of(self.request, &self.head);
        workload::misplaced_annotation(&self.head, &self.target, &namespace)
            .into_iter()
            .collect()
    }

    /// A Pod CREATE: the plan and its record, written into the object (only here read whole).
    fn inject_pod(
        &self,
        pod: &mut PodView,
        subject: Subject,
        resolved: &Resolved,
        options: &Options,
        registry: &dyn Registry,
    ) -> Decision {
        let (mut plan, findings, pod) =
            match plan_with_image(pod, &subject, resolved, options, registry) {
                Ok(planned) => planned,
                Err(refusal) => return Decision::Refuse(refusal),
            };
        if options.autoscaler_safe_to_evict {
            plan.annotations
                .extend(inject::autoscaler::safe_to_evict(pod, &plan));
        }
        let record = record::injected(&plan, resolved);
        plan.annotations.extend(record);
        // Hosts read the answer with serde_json, whose recursion limit the object must respect.
        if json_text::deeper_than(self.object.get(), json_text::DEPTH_LIMIT) {
            let error = "recursion limit exceeded".to_string();
            return Decision::Refuse(Refusal::Payload(PayloadProblem::Unreadable { error }));
        }
        let object = match inject::apply(&plan, self.object.get(), &self.target) {
            Ok(object) => object,
            Err(e) => return Decision::Refuse(Refusal::Apply(e)),
        };
        let label = resolved.label();
        let mut notices = vec![Notice::Injected {
            label: label.clone(),
            containers: plan.edits.iter().map(|e| e.name.to_string()).collect(),
            pod: pod.display_name(),
        }];
        if resolved.spec.endpoint().is_empty() {
            notices.push(Notice::NoEndpoint { label });
        }
        notices.extend(findings);
        notices.extend(plan.notes);
        Decision::Mutate { object, notices }
    }

    /// A workload: the plan for the pods its controller will create, shown and never applied.
    fn preview_workload(
        &self,
        template: PodView,
        subject: Subject,
        resolved: &Resolved,
        options: &ImageOptions,
    ) -> Decision {
        let Subject::Workload {
            name, namespace, ..
        } = &subject
        else {
            return Decision::Accept(Vec::new());
        };
        let name = self.head.metadata.name.as_deref().unwrap_or(name);
        let prepared = match image::prepare(&resolved.spec, options) {
            Ok(p) => p,
            Err(problem) => return refuse_image(subject, resolved, problem),
        };
        let pod = workload::pod_of(template, &self.target, name, namespace);
        let checked = match inject::check(&pod, &resolved.spec) {
            Ok(c) => c,
            Err(problem) => return refuse_plan(subject, resolved, problem),
        };
        let findings = match checks::verdict(&pod, resolved, &checked.targets, &subject) {
            Ok(notices) => notices,
            Err(refusal) => return Decision::Refuse(refusal),
        };
        let service_name = inject::service_name(&pod, namespace, &resolved.spec, &checked);
        let label = resolved.label();
        let no_endpoint = resolved.spec.endpoint().is_empty();
        let no_endpoint = no_endpoint.then(|| Notice::NoEndpoint {
            label: label.clone(),
        });
        let image = workload::preview_image(&subject, &pod, &prepared, options);
        let mut notices = Vec::with_capacity(3 + image.len() + findings.len());
        notices.extend(workload::preview(
            subject,
            label,
            &pod,
            &checked,
            service_name,
        ));
        notices.extend(image);
        notices.extend(no_endpoint);
        notices.extend(findings);
        Decision::Accept(notices)
    }
}

/// The plan for a pod, with the image the options give it and the preflight, and the doctor's
/// findings: the image checked and rewritten first; the registry asked (the app images read
/// under `inspectAppImages`, the image pinned) only once the pod is known to take the plan and
/// pass the doctor. An app image's `PYTHONPATH` joins the pod's env, and the pod is checked again.
/// The plan borrows the pod, which is handed back for reading.
fn plan_with_image<'p>(
    pod: &'p mut PodView,
    subject: &Subject,
    resolved: &'p Resolved,
    options: &Options,
    registry: &dyn Registry,
) -> Result<(inject::Plan<'p>, Vec<Notice>, &'p PodView), Refusal> {
    let image_refusal = |problem| image_refusal(subject.clone(), resolved, problem);
    let image_options = &options.image;
    let prepared = image::prepare(&resolved.spec, image_options).map_err(image_refusal)?;
    let packages = Packages {
        image: &prepared.image,
        delivery: image_options.delivery,
        pull_secrets: &image_options.pull_secrets,
    };
    let spec = &resolved.spec;
    let plan_refused = |problem| plan_refusal(subject.clone(), resolved, problem);
    let checked = inject::check(pod, spec).map_err(plan_refused)?;
    let targets: Vec<Slot> = checked.targets.clone();
    let mut findings = checks::verdict(pod, resolved, &targets, subject)?;
    let mut env_joined = false;
    if options.inspect_app_images {
        let inspected = inspect_app_images(pod, &targets, subject, resolved, registry)?;
        env_joined = inspected.kept > 0;
        let notices = inspected.notices.into_iter();
        findings.extend(notices.map(|n| Notice::AppImage(Box::new(n))));
    }
    let pod: &'p PodView = pod;
    let namespace = subject.namespace();
    let mut plan = if env_joined {
        inject::plan(pod, namespace, spec, &packages).map_err(plan_refused)?
    } else {
        inject::plan_checked(pod, namespace, spec, &packages, checked)
    };
    let mount = packages.mount(plan.source);
    plan.preflight = preflight::containers(options.preflight, spec, pod, &targets, &mount);
    if prepared.needs_digest {
        let image = image::pin(prepared, registry).map_err(image_refusal)?;
        plan.set_image(&image);
    }
    Ok((plan, findings, pod))
}

/// `inspectAppImages`: the configurations of the target containers' images read, an image's
/// `PYTHONPATH` added to the env of a container that sets none.
fn inspect_app_images(
    pod: &mut PodView,
    targets: &[Slot],
    subject: &Subject,
    resolved: &Resolved,
    registry: &dyn Registry,
) -> Result<app_image::Inspected, Refusal> {
    let python_image = image::spec_image(&resolved.spec);
    app_image::inspect(pod, targets, python_image, registry).map_err(|failed| {
        Refusal::AppImage(Box::new(AppImageRefusal {
            subject: subject.clone(),
            label: resolved.label(),
            container: failed.container,
            failure: failed.failure,
        }))
    })
}

/// Cluster mode: the pod's annotations as its Namespace completes them. `true` when the inject
/// value is the namespace's; a pod that asks for nothing itself is not refused for its namespace.
fn inherit(
    pod: &mut PodView,
    ask: Ask,
    settings: &SettingsView<'_>,
    lookups: &Lookups<'_>,
    subject: &Subject,
) -> Result<(bool, Vec<Notice>), Refusal> {
    if !settings.options.cluster_mode {
        return Ok((false, Vec::new()));
    }
    match namespaces::inherit(pod, lookups, subject) {
        Ok(from_namespace) => Ok((from_namespace, Vec::new())),
        Err(refusal) if ask == Ask::NamespaceMay => {
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
    let cross = settings.options.allow_cross_namespace_references;
    let resolved = if settings.options.cluster_mode {
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

fn refuse_plan(subject: Subject, resolved: &Resolved, problem: PlanProblem) -> Decision {
    Decision::Refuse(plan_refusal(subject, resolved, problem))
}

fn plan_refusal(subject: Subject, resolved: &Resolved, problem: PlanProblem) -> Refusal {
    Refusal::Plan(Box::new(PlanRefusal {
        subject,
        label: resolved.label(),
        problem,
    }))
}

fn refuse_image(subject: Subject, resolved: &Resolved, problem: ImageProblem) -> Decision {
    Decision::Refuse(image_refusal(subject, resolved, problem))
}

fn image_refusal(subject: Subject, resolved: &Resolved, problem: ImageProblem) -> Refusal {
    Refusal::Image(Box::new(ImageRefusal {
        subject,
        label: resolved.label(),
        problem,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
        assert!(r.warnings().unwrap().iter().any(
            |w| w.contains("sets no exporter.endpoint") && w.contains("http://localhost:4318")
        ));
        let r = run(&pod_request(
            json!({"exporter": {"endpoint": "http://c:4318"}}),
        ));
        assert!(
            !r.warnings()
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
