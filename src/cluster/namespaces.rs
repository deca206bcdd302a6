//! A pod's surroundings in cluster mode: its Namespace's annotations and its owner's owner.
//!
//! Cluster mode's reading of the pod's surroundings, as the operator reads them: the Namespace's
//! annotations, which the pod inherits by the operator's rule (`annotationValue`), and the owner
//! of the pod's owner (a ReplicaSet's Deployment, a Job's CronJob) for the service name and the
//! resource attributes.

use std::collections::BTreeMap;

use super::lookups::Lookups;
use crate::keys::{
    CONTAINER_NAMES, INJECT_PYTHON, JOB, Kind, PYTHON_CONTAINER_NAMES, PYTHON_PLATFORM, REPLICA_SET,
};
use crate::pod::PodView;
use crate::refusal::{LookupFailure, LookupRefusal, Refusal, Subject};

/// The annotations a pod inherits from its Namespace.
pub const INHERITED: [&str; 4] = [
    INJECT_PYTHON,
    CONTAINER_NAMES,
    PYTHON_CONTAINER_NAMES,
    PYTHON_PLATFORM,
];

/// The operator's rule for one annotation: the pod's value unless it is empty, or `true` (any
/// case) while the namespace's is set and not `false`.
pub fn effective<'a>(namespace: &'a str, pod: &'a str) -> &'a str {
    if namespace.is_empty() {
        pod
    } else if pod.is_empty() {
        namespace
    } else if !pod.eq_ignore_ascii_case("true") || namespace.eq_ignore_ascii_case("false") {
        pod
    } else {
        namespace
    }
}

fn refusal(subject: &Subject, failure: LookupFailure) -> Refusal {
    Refusal::Lookup(Box::new(LookupRefusal {
        subject: subject.clone(),
        failure,
    }))
}

/// Reads the pod's Namespace, when its inject value can depend on it (the pod's own value is
/// empty or `true`), and gives the pod the effective annotations. `Ok(true)` when the inject
/// value is the namespace's.
pub fn inherit(
    pod: &mut PodView,
    lookups: &Lookups<'_>,
    subject: &Subject,
) -> Result<bool, Refusal> {
    let own = pod.annotation(INJECT_PYTHON);
    if !(own.is_empty() || own.eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    let from_namespace = lookups
        .namespace_annotations(subject.namespace())
        .map_err(|f| refusal(subject, f))?;
    Ok(apply(pod, &from_namespace))
}

/// Writes the effective values of the inherited annotations into the pod's view.
pub fn apply(pod: &mut PodView, from_namespace: &BTreeMap<String, String>) -> bool {
    let mut inherited_inject = false;
    for key in INHERITED {
        let ns = from_namespace.get(key).map_or("", String::as_str);
        if ns.is_empty() {
            continue;
        }
        let value = effective(ns, pod.annotation(key));
        if value == pod.annotation(key) {
            continue;
        }
        inherited_inject |= key == INJECT_PYTHON;
        let value = value.to_string();
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
    }
    inherited_inject
}

/// Looks up the controller of the pod's controller, when that is a ReplicaSet or a Job.
pub fn look_up_owners(
    pod: &mut PodView,
    lookups: &Lookups<'_>,
    subject: &Subject,
) -> Result<(), Refusal> {
    let Some(owner) = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    else {
        return Ok(());
    };
    let kind: &'static Kind = match owner.kind.to_ascii_lowercase().as_str() {
        "replicaset" => &REPLICA_SET,
        "job" => &JOB,
        _ => return Ok(()),
    };
    let found = lookups
        .controller_of(kind, subject.namespace(), &owner.name)
        .map_err(|f| refusal(subject, f))?;
    pod.metadata.owners_owner = Some(found.into_iter().collect());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator's `annotationValue` cases.
    #[test]
    fn the_operators_precedence() {
        for (ns, pod, want) in [
            ("", "", ""),
            ("", "x", "x"),
            ("true", "", "true"),
            ("inst", "", "inst"),
            ("true", "false", "false"),
            ("inst", "other", "other"),
            ("false", "true", "true"),
            ("false", "TRUE", "TRUE"),
            ("inst", "true", "inst"),
            ("true", "True", "true"),
            ("monitor/inst", "true", "monitor/inst"),
        ] {
            assert_eq!(effective(ns, pod), want, "namespace {ns:?}, pod {pod:?}");
        }
    }

    #[test]
    fn every_inherited_annotation_follows_the_rule() {
        let mut pod: PodView = serde_json::from_value(serde_json::json!({
            "metadata": {"annotations": {INJECT_PYTHON: "true", CONTAINER_NAMES: "app"}}
        }))
        .unwrap();
        let ns: BTreeMap<String, String> = [
            (INJECT_PYTHON, "monitor/python"),
            (CONTAINER_NAMES, "web"),
            (PYTHON_PLATFORM, "musl"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(apply(&mut pod, &ns));
        assert_eq!(pod.annotation(INJECT_PYTHON), "monitor/python");
        assert_eq!(pod.annotation(CONTAINER_NAMES), "app");
        assert_eq!(pod.annotation(PYTHON_PLATFORM), "musl");
        assert_eq!(pod.annotation("other"), "");
    }
}
