//! What the audit role reports: a pod whose instrumentation is missing or stale, and how to fix it.
//!
//! The audit role (option `audit: true`) refuses, for Kubewarden's audit scanner to report, each
//! pod that asks for Python instrumentation and does not run the current one: the message says
//! what is wrong, what changed, and the command that gives the pod its instrumentation again.

use std::fmt::{self, Display, Formatter};

use super::{Refusal, Subject, shown};
use crate::keys::INJECT_PYTHON;
use crate::operator::INIT_CONTAINER_NAME;

/// One finding of the audit role.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditFinding {
    /// The pod (or workload).
    pub subject: Subject,
    /// What is wrong.
    pub finding: AuditFault,
    /// What gives the pod the current instrumentation (none for a reference that names nothing:
    /// the new pod would not get it either).
    pub restart: Option<Restart>,
}

/// What the audit found.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditFault {
    /// The pod asks and carries no record of an injection.
    NoRecord {
        /// The `inject-python` value.
        value: String,
        /// Whether it has the init container all the same (another injector's, or older).
        init_container: bool,
    },
    /// The pod was admitted without instrumentation (`failureAction: admit`).
    NotInjected {
        /// The `inject-python` value.
        value: String,
        /// The recorded reason.
        reason: String,
    },
    /// The pod got another instrumentation than the one its reference names now.
    OtherInstrumentation {
        /// The `inject-python` value.
        value: String,
        /// The recorded instrumentation.
        recorded: String,
        /// The one the reference names now.
        now: String,
    },
    /// The instrumentation changed since the pod got it.
    Stale {
        /// The instrumentation.
        instrumentation: String,
        /// The recorded version.
        recorded: String,
        /// Its version now.
        now: String,
    },
    /// The pod does not carry what its record says (edited or copied after its injection).
    Disagrees {
        /// The recorded hash.
        recorded: String,
        /// The hash of what the pod carries (`None`: a recorded container is gone).
        carried: Option<String>,
    },
    /// The reference names no usable instrumentation any more.
    Unresolved(Refusal),
}

/// How a pod is created again with the current instrumentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Restart {
    /// `kubectl rollout restart <kind>/<name> -n <namespace>` (a Deployment, StatefulSet or
    /// DaemonSet).
    Rollout {
        /// `deployment`, `statefulset` or `daemonset`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// `kubectl delete pod`: its controller (if any) creates it again.
    DeletePod {
        /// The pod.
        pod: String,
        /// Its namespace.
        namespace: String,
        /// Its controller's kind and name.
        owner: Option<(String, String)>,
    },
}

impl Display for AuditFinding {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let subject = Named(&self.subject);
        match &self.finding {
            AuditFault::NoRecord {
                value,
                init_container: false,
            } => write!(
                f,
                "{subject} asks for OpenTelemetry Python instrumentation ({INJECT_PYTHON}={}) but carries no record of it: it was created before the policy, or admitted without it",
                shown(value)
            )?,
            AuditFault::NoRecord {
                value,
                init_container: true,
            } => write!(
                f,
                "{subject} asks for OpenTelemetry Python instrumentation ({INJECT_PYTHON}={}) and has the init container {INIT_CONTAINER_NAME:?}, but no record of this policy's injection: it was injected by another injector, or before the policy",
                shown(value)
            )?,
            AuditFault::NotInjected { value, reason } => write!(
                f,
                "{subject} asks for OpenTelemetry Python instrumentation ({INJECT_PYTHON}={}) but was admitted without it: {reason}",
                shown(value)
            )?,
            AuditFault::OtherInstrumentation {
                value,
                recorded,
                now,
            } => write!(
                f,
                "{subject} is stale: it got instrumentation {recorded}, and its reference {} names {now} now",
                shown(value)
            )?,
            AuditFault::Stale {
                instrumentation,
                recorded,
                now,
            } => write!(
                f,
                "{subject} is stale: instrumentation {instrumentation} changed since the pod got it ({})",
                Change(recorded, now)
            )?,
            AuditFault::Disagrees { recorded, carried } => {
                disagrees(f, &subject, recorded, carried)?
            }
            AuditFault::Unresolved(refusal) => write!(
                f,
                "{subject}: the instrumentation reference no longer resolves: {refusal}"
            )?,
        }
        self.restart_hint(f)
    }
}

impl AuditFinding {
    /// What ends the message: the command that gives the pod its instrumentation.
    fn restart_hint(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (&self.restart, &self.finding) {
            (Some(restart), AuditFault::NotInjected { .. }) => {
                write!(
                    f,
                    "; once that is fixed, to give it the instrumentation: {restart}"
                )
            }
            (Some(restart), _) => write!(f, "; to give it the current instrumentation: {restart}"),
            (None, _) => Ok(()),
        }
    }
}

fn disagrees(
    f: &mut Formatter<'_>,
    subject: &Named<'_>,
    recorded: &str,
    carried: &Option<String>,
) -> fmt::Result {
    let carries = match carried {
        Some(hash) => format!("its spec hashes to {hash}"),
        None => "a container it names is not in the pod".to_string(),
    };
    write!(
        f,
        "{subject} does not carry what its record says (recorded hash {recorded}, {carries}): it was edited or copied after its injection, so it counts as not instrumented"
    )
}

/// A subject with its namespace: `pod default/hello-7d9c-x2x9z`.
struct Named<'a>(&'a Subject);

impl Display for Named<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Subject::Pod { name, namespace } => write!(f, "pod {namespace}/{name}"),
            workload => workload.fmt(f),
        }
    }
}

/// What changed between two versions: a generation, a re-created object, or a spec digest.
struct Change<'a>(&'a str, &'a str);

impl Display for Change<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (self.0.rsplit_once('/'), self.1.rsplit_once('/')) {
            (Some((uid, old)), Some((now_uid, now))) if uid == now_uid => {
                write!(f, "generation {old} → {now}")
            }
            (Some(_), Some(_)) => write!(
                f,
                "deleted and created again: uid/generation {} → {}",
                self.0, self.1
            ),
            _ => match (self.0.strip_prefix("spec:"), self.1.strip_prefix("spec:")) {
                (Some(old), Some(now)) => write!(f, "spec digest {old} → {now}"),
                _ => write!(f, "version {} → {}", self.0, self.1),
            },
        }
    }
}

impl Display for Restart {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Restart::Rollout {
                kind,
                name,
                namespace,
            } => write!(f, "kubectl rollout restart {kind}/{name} -n {namespace}"),
            Restart::DeletePod {
                pod,
                namespace,
                owner: Some((kind, name)),
            } => write!(
                f,
                "kubectl delete pod {pod} -n {namespace} (its {kind} {name} creates a new one)"
            ),
            Restart::DeletePod {
                pod,
                namespace,
                owner: None,
            } => write!(
                f,
                "kubectl delete pod {pod} -n {namespace}, then create it again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_changed_is_said_in_the_versions_terms() {
        let uid = "8b0d2c5e-7f3a-4c1b-9e6d-2a4f6c8e0b13";
        let one = format!("{uid}/1");
        let two = format!("{uid}/2");
        assert_eq!(Change(&one, &two).to_string(), "generation 1 → 2");
        assert_eq!(
            Change(&one, "0000/1").to_string(),
            format!("deleted and created again: uid/generation {one} → 0000/1")
        );
        assert_eq!(
            Change("spec:00aa", "spec:11bb").to_string(),
            "spec digest 00aa → 11bb"
        );
        assert_eq!(
            Change("spec:00aa", &one).to_string(),
            format!("version spec:00aa → {one}")
        );
    }
}
