//! Where the pod metadata and pod spec sit in an admitted object, as JSON pointers into the
//! original JSON: a Pod's root, a workload's pod template. Everything below `admission` reads and
//! writes through a target, so nothing there assumes that the object is a Pod.

/// What the policy does with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A Pod being created: injected.
    Pod,
    /// A workload: its pod template is checked as its pods will be, and never patched.
    Template,
}

/// The places of a pod (template) inside an object of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The object's kind, as messages name it.
    pub kind: &'static str,
    /// JSON pointer to the pod metadata (`/metadata` for a Pod).
    pub metadata: &'static str,
    /// JSON pointer to the pod spec (`/spec` for a Pod).
    pub spec: &'static str,
    /// The pod template, dotted, for messages (`spec.template`; empty for a Pod).
    pub template: &'static str,
    pub role: Role,
    /// What creates the pods: the owner the pods will have (`ReplicaSet` for a Deployment).
    pub pod_owner: &'static str,
    /// Objects of this kind that a controller made were checked as their parent (a Deployment's
    /// ReplicaSet, a CronJob's Job): they are not checked again.
    pub skip_when_controlled: bool,
}

impl Target {
    /// A Pod: the object itself.
    pub const POD: Target = Target {
        kind: "Pod",
        metadata: "/metadata",
        spec: "/spec",
        template: "",
        role: Role::Pod,
        pod_owner: "",
        skip_when_controlled: false,
    };

    /// The workload kinds (API group, kind) whose pod templates are checked.
    pub fn workload(group: &str, kind: &str) -> Option<Target> {
        WORKLOADS
            .iter()
            .find(|(g, t)| *g == group && t.kind == kind)
            .map(|(_, t)| *t)
    }
}

const fn template(kind: &'static str, pod_owner: &'static str, skip: bool) -> Target {
    Target {
        kind,
        metadata: "/spec/template/metadata",
        spec: "/spec/template/spec",
        template: "spec.template",
        role: Role::Template,
        pod_owner,
        skip_when_controlled: skip,
    }
}

const WORKLOADS: [(&str, Target); 7] = [
    ("apps", template("Deployment", "ReplicaSet", false)),
    ("apps", template("StatefulSet", "StatefulSet", false)),
    ("apps", template("DaemonSet", "DaemonSet", false)),
    ("apps", template("ReplicaSet", "ReplicaSet", true)),
    ("batch", template("Job", "Job", true)),
    (
        "batch",
        Target {
            kind: "CronJob",
            metadata: "/spec/jobTemplate/spec/template/metadata",
            spec: "/spec/jobTemplate/spec/template/spec",
            template: "spec.jobTemplate.spec.template",
            role: Role::Template,
            pod_owner: "Job",
            skip_when_controlled: false,
        },
    ),
    (
        "",
        template("ReplicationController", "ReplicationController", false),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_kinds_and_their_templates() {
        assert_eq!(
            Target::workload("apps", "Deployment").unwrap().spec,
            "/spec/template/spec"
        );
        assert_eq!(
            Target::workload("batch", "CronJob").unwrap().metadata,
            "/spec/jobTemplate/spec/template/metadata"
        );
        assert!(Target::workload("", "ReplicationController").is_some());
        assert!(
            Target::workload("extensions", "Deployment").is_none(),
            "only apps/Deployment"
        );
        assert!(
            Target::workload("", "Pod").is_none(),
            "pods are not workloads"
        );
        assert!(
            Target::workload("apps", "ReplicaSet")
                .unwrap()
                .skip_when_controlled
        );
    }
}
