//! The audit role: pods whose instrumentation is missing or stale, refused for the audit scanner.
//!
//! With `audit: true` the module is the second, non-mutating deployment of the policy, which
//! Kubewarden's audit scanner evaluates every existing pod and workload with (it sends each one as
//! a CREATE; the findings land in PolicyReports). It never patches. A pod that asks for Python
//! instrumentation is refused, with a message that says what to do, when:
//!
//! - it carries no record of an injection, or records that it was admitted without one;
//! - its record names another instrumentation than its reference names now, or an older version
//!   of it (`generation 1 → 2`; a settings spec's digest);
//! - it does not carry what its record says (edited or copied after its injection: the hash of
//!   what it carries, [`crate::record::carried`], is not the recorded one);
//! - its reference no longer resolves.
//!
//! Pods that have finished (`status.phase` `Succeeded` or `Failed`) pass. A workload gets the
//! decision a workload gets at admission: a template whose reference no longer resolves fails.
//! Findings are refusals with code 400: the scanner reports a 500 as an error, not a failure.

use super::{Admission, Decision, inherit, object, resolve};
use crate::catalog::Resolved;
use crate::cluster::{Lookups, namespaces};
use crate::inject;
use crate::inject::resource_attributes::deployment_of;
use crate::keys::{INJECT_PYTHON, is_off};
use crate::oci::Registry;
use crate::pod::PodView;
use crate::record::{self, Recorded, carried};
use crate::refusal::{AuditFault, AuditFinding, Refusal, Restart};
use crate::settings::view::SettingsView;
use crate::syntax::json_text::value_at;
use crate::target::Role;

/// The audit role's decision for one object.
pub(super) fn decide(
    admission: &Admission<'_>,
    pod: PodView,
    ask: object::Ask,
    settings: &SettingsView<'_>,
    lookups: &Lookups<'_>,
    registry: &dyn Registry,
) -> Decision {
    match admission.target.role {
        // A workload's preview asks no registry: the audit never does.
        Role::Template => match admission.resolve(pod, ask, settings, lookups, registry) {
            Decision::Refuse(refusal) => Decision::Refuse(unresolved(refusal)),
            other => other,
        },
        Role::Pod => audit_pod(admission, pod, ask, settings, lookups),
    }
}

/// A pod: its record against what its reference resolves to now.
fn audit_pod(
    admission: &Admission<'_>,
    mut pod: PodView,
    ask: object::Ask,
    settings: &SettingsView<'_>,
    lookups: &Lookups<'_>,
) -> Decision {
    let subject = object::subject(admission.request, &admission.head, &admission.target, &pod);
    if subject.namespace().is_empty() {
        let kind = admission.target.kind;
        return Decision::Refuse(Refusal::NoNamespace { kind });
    }
    if finished(admission.object.get()) {
        return Decision::Accept(Vec::new());
    }
    let inherited = match inherit(&mut pod, ask, settings, lookups, &subject) {
        Ok((inherited, _)) => inherited,
        Err(refusal) => return Decision::Refuse(refusal),
    };
    let value = pod.annotation(INJECT_PYTHON).to_string();
    if is_off(&value) {
        return Decision::Accept(Vec::new());
    }
    let resolved = match resolve(&value, &subject, settings, lookups, inherited) {
        Ok(Some(resolved)) => resolved,
        Ok(None) => return Decision::Accept(Vec::new()),
        Err(refusal) => return Decision::Refuse(unresolved(refusal)),
    };
    let pull_secrets = &settings.options.image.pull_secrets;
    let Some(finding) = finding(admission, &pod, value, &resolved, pull_secrets) else {
        return Decision::Accept(Vec::new());
    };
    if settings.options.cluster_mode
        && let Err(refusal) = namespaces::look_up_owners(&mut pod, lookups, &subject)
    {
        return Decision::Refuse(refusal);
    }
    let restart = Some(restart(&pod, subject.namespace()));
    Decision::Refuse(Refusal::Audit(Box::new(AuditFinding {
        subject,
        finding,
        restart,
    })))
}

/// What is wrong with the pod's instrumentation, if anything.
fn finding(
    admission: &Admission<'_>,
    pod: &PodView,
    value: String,
    resolved: &Resolved,
    pull_secrets: &[String],
) -> Option<AuditFault> {
    let recorded = match record::read(pod) {
        Recorded::Nothing => {
            let init_container = inject::already_instrumented(pod).is_some();
            return Some(AuditFault::NoRecord {
                value,
                init_container,
            });
        }
        Recorded::NotInjected { reason } => return Some(AuditFault::NotInjected { value, reason }),
        Recorded::Injected(recorded) => recorded,
    };
    let now = record::instrumentation(resolved);
    if recorded.instrumentation != now {
        return Some(AuditFault::OtherInstrumentation {
            value,
            recorded: recorded.instrumentation,
            now,
        });
    }
    let version = record::version(resolved);
    if recorded.version != version {
        return Some(AuditFault::Stale {
            instrumentation: now,
            recorded: recorded.version,
            now: version,
        });
    }
    let object = admission.object.get();
    let carried = carried::hash(
        object,
        &admission.target,
        &recorded.containers,
        pull_secrets,
    );
    (carried.as_deref() != Some(recorded.hash.as_str())).then_some(AuditFault::Disagrees {
        recorded: recorded.hash,
        carried,
    })
}

/// A refusal of the reference's resolution as the audit reports it: a finding (code 400) when
/// the reference names nothing, or an Instrumentation the cluster holds is invalid; a lookup that
/// failed, or a policy misconfigured (its settings, a name defined twice), keeps its refusal and
/// code, which the scanner reports as an error.
fn unresolved(refusal: Refusal) -> Refusal {
    let subject = match &refusal {
        Refusal::Reference(r) => r.subject.clone(),
        Refusal::ClusterSpec(c) => c.subject.clone(),
        _ => return refusal,
    };
    Refusal::Audit(Box::new(AuditFinding {
        subject,
        finding: AuditFault::Unresolved(refusal),
        restart: None,
    }))
}

/// Whether the pod has finished (`status.phase` `Succeeded` or `Failed`): nothing to restart.
fn finished(object: &str) -> bool {
    let phase = value_at(object, &["status", "phase"]);
    matches!(
        phase.as_ref().and_then(|p| p.as_str()),
        Some("Succeeded" | "Failed")
    )
}

/// How the pod is created again: its Deployment (through its ReplicaSet: the cluster's answer in
/// cluster mode, else the name the Deployment controller gives it), StatefulSet or DaemonSet is
/// restarted; a pod of any other controller, or of none, is deleted.
fn restart(pod: &PodView, namespace: &str) -> Restart {
    let namespace = namespace.to_string();
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let rollout = |kind, name: &str| Restart::Rollout {
        kind,
        name: name.to_string(),
        namespace: namespace.clone(),
    };
    if let Some(owner) = controller {
        match owner.kind.as_str() {
            "ReplicaSet" => {
                let deployment = match &pod.metadata.owners_owner {
                    Some(owners) => owners
                        .iter()
                        .find(|o| o.kind == "Deployment")
                        .map(|o| o.name.as_str()),
                    None => deployment_of(&owner.name, pod.label("pod-template-hash")),
                };
                if let Some(deployment) = deployment {
                    return rollout("deployment", deployment);
                }
            }
            "StatefulSet" => return rollout("statefulset", &owner.name),
            "DaemonSet" => return rollout("daemonset", &owner.name),
            _ => {}
        }
    }
    Restart::DeletePod {
        pod: pod.display_name(),
        namespace,
        owner: controller.map(|o| (o.kind.clone(), o.name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn restart_of(meta: serde_json::Value, owners_owner: Option<(&str, &str)>) -> String {
        let mut pod: PodView = serde_json::from_value(json!({"metadata": meta})).unwrap();
        if let Some((kind, name)) = owners_owner {
            pod.metadata.owners_owner = Some(vec![crate::pod::Owner {
                kind: kind.into(),
                name: name.into(),
                controller: Some(true),
                ..Default::default()
            }]);
        }
        restart(&pod, "shop").to_string()
    }

    fn owned(kind: &str, name: &str) -> serde_json::Value {
        json!({"name": "p-1", "labels": {"pod-template-hash": "5f7d"},
            "ownerReferences": [{"kind": kind, "name": name, "controller": true}]})
    }

    #[test]
    fn the_restart_follows_the_owner_chain() {
        let deploy = "kubectl rollout restart deployment/cart -n shop";
        assert_eq!(restart_of(owned("ReplicaSet", "cart-5f7d"), None), deploy);
        assert_eq!(
            restart_of(
                owned("ReplicaSet", "cart-5f7d"),
                Some(("Deployment", "cart"))
            ),
            deploy
        );
        assert_eq!(
            restart_of(owned("ReplicaSet", "legacy"), None),
            "kubectl delete pod p-1 -n shop (its ReplicaSet legacy creates a new one)"
        );
        assert_eq!(
            restart_of(owned("StatefulSet", "db"), None),
            "kubectl rollout restart statefulset/db -n shop"
        );
        assert_eq!(
            restart_of(owned("DaemonSet", "agent"), None),
            "kubectl rollout restart daemonset/agent -n shop"
        );
        assert_eq!(
            restart_of(owned("Job", "report-1"), None),
            "kubectl delete pod p-1 -n shop (its Job report-1 creates a new one)"
        );
        assert_eq!(
            restart_of(json!({"name": "p-1"}), None),
            "kubectl delete pod p-1 -n shop, then create it again"
        );
    }
}
