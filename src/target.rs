//! Where the pod metadata and spec sit in an admitted object: a Pod's root, a workload's template.
//!
//! Where the pod metadata and pod spec sit in an admitted object, as a path of keys into the
//! original JSON (a Pod's root, a workload's pod template): the policy reads the pod there from
//! the request's text, and writes the plan there (as a JSON pointer) into the object. Nothing
//! below `admission` assumes that the object is a Pod.

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
    /// The keys from the object's root to the pod (template), whose `metadata` and `spec` are
    /// the pod's: none for a Pod, `spec`, `template` for a Deployment.
    pub template: &'static [&'static str],
    /// What the policy does with objects of this kind.
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
        template: &[],
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

    /// The pod template as messages name it: `spec.template`.
    pub fn template_path(&self) -> String {
        self.template.join(".")
    }

    /// JSON pointer to the pod spec, where the plan is written: `/spec` for a Pod.
    pub fn spec_pointer(&self) -> String {
        self.template
            .iter()
            .map(|k| format!("/{k}"))
            .collect::<String>()
            + "/spec"
    }
}

const fn template(kind: &'static str, pod_owner: &'static str, skip: bool) -> Target {
    Target {
        kind,
        template: &["spec", "template"],
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
            template: &["spec", "jobTemplate", "spec", "template"],
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
            Target::workload("apps", "Deployment")
                .unwrap()
                .spec_pointer(),
            "/spec/template/spec"
        );
        let cronjob = Target::workload("batch", "CronJob").unwrap();
        assert_eq!(cronjob.template_path(), "spec.jobTemplate.spec.template");
        assert_eq!(
            cronjob.spec_pointer(),
            "/spec/jobTemplate/spec/template/spec"
        );
        assert_eq!(Target::POD.spec_pointer(), "/spec");
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
