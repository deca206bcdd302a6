//! Cluster mode's refusals: a lookup without an answer, an invalid Instrumentation.
//!
//! Cluster mode: a lookup in the cluster that gave no answer, and an Instrumentation read from
//! the cluster that breaks the spec rules.

use std::fmt::{self, Display, Formatter};

use super::{SettingsErrors, Subject};
use crate::keys::{
    INSTRUMENTATION, Kind, OPT_INSTRUMENTATION_SOURCE, OPT_SERVICE_ACCOUNT, SUBJECT_ACCESS_REVIEW,
};
use crate::operator::INSTRUMENTATION_KIND;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The API server does not serve the kind: for Instrumentation, the CRD is not installed.
    NotServed,
    /// The policy's `contextAwareResources` do not list the kind.
    NotGranted,
    /// The policy may not use the host capability (`hostCapabilities` of a standalone
    /// policy-server, or a PolicyServer's `namespacedPoliciesCapabilities`).
    CapabilityDenied {
        /// The capability, `kubernetes/<operation>`.
        capability: String,
    },
    /// RBAC: the PolicyServer's ServiceAccount may not `verb` the kind.
    Forbidden {
        /// The verb refused.
        verb: &'static str,
    },
    /// Anything else: the API server or the host failed; a retry may succeed.
    Transient {
        /// The host's message.
        message: String,
    },
}

/// A lookup that failed: what was asked and why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupFailure {
    /// The kind asked for.
    pub kind: &'static Kind,
    /// `namespace/name`, `name` for a cluster-scoped object, or empty for a list.
    pub object: String,
    /// The verb of the request.
    pub verb: &'static str,
    /// Why it failed.
    pub failure: Failure,
    /// The ServiceAccount the RBAC rules are for (`namespace/name`).
    pub service_account: String,
}

/// A lookup of cluster mode that failed, for the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupRefusal {
    /// Whose pods.
    pub subject: Subject,
    /// The lookup that failed.
    pub failure: LookupFailure,
}

impl Display for LookupRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let l = &self.failure;
        let kind = l.kind;
        let (version, name) = (kind.api_version, kind.kind);
        write!(
            f,
            "the instrumentation of {} cannot be resolved: ",
            self.subject
        )?;
        match &l.failure {
            Failure::NotServed if kind == &INSTRUMENTATION => write!(
                f,
                "the cluster does not serve {version} {name}: the OpenTelemetry Operator's CRD {}.{} is not installed; install it, or set {OPT_INSTRUMENTATION_SOURCE} to \"settings\" and define the instrumentations in the policy settings",
                kind.resource, kind.group
            ),
            Failure::NotServed => write!(f, "the cluster does not serve {version} {name}"),
            Failure::NotGranted => write!(
                f,
                "the policy may not read {version} {name} resources; add {{apiVersion: {version}, kind: {name}}} to the ClusterAdmissionPolicy's spec.contextAwareResources"
            ),
            Failure::CapabilityDenied { capability } => write!(
                f,
                "the policy may not use the host capability {capability}; allow it in the policy's hostCapabilities (a ClusterAdmissionPolicy gets every capability)"
            ),
            Failure::Forbidden { verb } => forbidden(f, l, verb),
            Failure::Transient { message } => write!(
                f,
                "reading {} failed ({message}); this is likely temporary, so the request may be retried",
                asked(l)
            ),
        }
    }
}

/// What was asked for: `Kind namespace/name`, or `apiVersion Kind resources` for a list.
fn asked(l: &LookupFailure) -> String {
    match l.object.as_str() {
        "" => format!("{} {} resources", l.kind.api_version, l.kind.kind),
        object => format!("{} {object}", l.kind.kind),
    }
}

/// The RBAC rule the PolicyServer's ServiceAccount lacks, and how to grant it.
fn forbidden(f: &mut Formatter<'_>, l: &LookupFailure, verb: &str) -> fmt::Result {
    let kind = l.kind;
    let scope = match (l.object.is_empty(), kind.namespaced) {
        (true, true) => " in all namespaces".to_string(),
        (true, false) => String::new(),
        (false, _) => format!(" ({})", asked(l)),
    };
    let verbs = if kind == &INSTRUMENTATION {
        "\"get\", \"list\", \"watch\""
    } else if kind == &SUBJECT_ACCESS_REVIEW {
        "\"create\""
    } else {
        "\"get\""
    };
    let group = if kind.group.is_empty() {
        "core"
    } else {
        kind.group
    };
    write!(
        f,
        "the PolicyServer's ServiceAccount {} may not {verb} {}.{group}{scope}; grant it the ClusterRole rule {{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [{verbs}]}} with a ClusterRoleBinding, or set {OPT_SERVICE_ACCOUNT} to the ServiceAccount the PolicyServer runs as",
        l.service_account, kind.resource, kind.group, kind.resource
    )
}

/// An Instrumentation read from the cluster that does not pass the rules every spec follows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpecRefusal {
    /// Whose pods.
    pub subject: Subject,
    /// The Instrumentation's namespace.
    pub namespace: String,
    /// The Instrumentation's name.
    pub name: String,
    /// What is wrong with its spec.
    pub problems: SettingsErrors,
}

impl Display for ClusterSpecRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot get OpenTelemetry Python instrumentation: {INSTRUMENTATION_KIND} {}/{} in the cluster is invalid: {}",
            self.subject, self.namespace, self.name, self.problems
        )
    }
}
