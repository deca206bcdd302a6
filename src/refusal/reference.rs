//! An `inject-python` value that names no usable instrumentation, and the references that would.

use std::fmt::{self, Display, Formatter};

use super::{Subject, quoted_list, shown};
use crate::keys::{INJECT_PYTHON, OPT_ALLOW_CROSS_NAMESPACE, OPT_INSTRUMENTATIONS};

/// An `inject-python` value that names no usable instrumentation for the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRefusal {
    /// The annotation's value.
    pub value: String,
    /// Whose annotation it is.
    pub subject: Subject,
    /// Why it names nothing usable.
    pub fault: ReferenceFault,
    /// Cluster mode: the value is the namespace's annotation, which the pod inherits.
    pub inherited: bool,
}

/// Why a reference names nothing usable.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceFault {
    /// Not `true`, `false`, `NAME` or `NAMESPACE/NAME`.
    Malformed {
        /// What is wrong with it.
        why: Malformation,
        /// What would work instead.
        would_work: WouldWork,
    },
    /// `true` with several instrumentations in the pod's namespace.
    Ambiguous {
        /// Where the instrumentations come from.
        source: Source,
        /// The namespace's instrumentations.
        names: Vec<String>,
    },
    /// `NAME` or `NAMESPACE/NAME` that the source does not define.
    Unknown {
        /// Where the instrumentations come from.
        source: Source,
        /// The namespace the reference names.
        namespace: String,
        /// The name the reference names.
        name: String,
        /// What would work instead.
        would_work: WouldWork,
    },
    /// `NAMESPACE/NAME` of another namespace, which the settings forbid.
    CrossNamespaceForbidden {
        /// What would work instead.
        would_work: WouldWork,
    },
    /// `true` in a namespace without instrumentations, and no default to fall back to.
    NoneAvailable {
        /// Where the instrumentations come from.
        source: Source,
        /// What would work instead.
        would_work: WouldWork,
    },
}

/// Where instrumentations come from, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The policy settings only.
    Settings,
    /// Cluster mode, with no instrumentation in the settings.
    Cluster,
    /// Cluster mode, with instrumentations in the settings too.
    SettingsAndCluster,
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Settings => f.write_str("the policy settings"),
            Source::Cluster => f.write_str("the cluster's Instrumentation resources"),
            Source::SettingsAndCluster => {
                f.write_str("the policy settings and the cluster's Instrumentation resources")
            }
        }
    }
}

impl Display for ReferenceRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let namespace = self.subject.namespace();
        let value = shown(&self.value);
        match &self.subject {
            _ if self.inherited => write!(
                f,
                "annotation {INJECT_PYTHON}={value} of Namespace {namespace}, which {} inherits, cannot be honoured: ",
                match &self.subject {
                    Subject::Pod { .. } => "the pod".to_string(),
                    Subject::Workload { template, .. } => format!("{template} of {}", self.subject),
                }
            )?,
            Subject::Pod { .. } => write!(
                f,
                "annotation {INJECT_PYTHON}={value} on a pod in namespace {namespace:?} cannot be honoured: "
            )?,
            Subject::Workload { template, .. } => write!(
                f,
                "annotation {INJECT_PYTHON}={value} in {template}.metadata.annotations of {} cannot be honoured: ",
                self.subject
            )?,
        }
        match &self.fault {
            ReferenceFault::Malformed { why, would_work } => write!(
                f,
                "it must be \"true\", \"false\", NAME or NAMESPACE/NAME, and {why}. {would_work}"
            ),
            ReferenceFault::Ambiguous { source, names } => write!(
                f,
                "\"true\" is ambiguous because {source} define {} instrumentations in namespace {namespace:?}; name one of them: {}",
                names.len(),
                quoted_list(names)
            ),
            ReferenceFault::Unknown {
                source,
                namespace,
                name,
                would_work,
            } => write!(
                f,
                "{source} define no instrumentation {name:?} in namespace {namespace:?}. {would_work}"
            ),
            ReferenceFault::CrossNamespaceForbidden { would_work } => write!(
                f,
                "references to another namespace are not allowed by this policy ({OPT_ALLOW_CROSS_NAMESPACE} is false). {would_work}"
            ),
            ReferenceFault::NoneAvailable { source, would_work } => write!(
                f,
                "\"true\" names the one instrumentation of the pod's namespace, but {source} define none in namespace {namespace:?} and no default (no top-level Instrumentation spec field is set). {would_work}"
            ),
        }
    }
}

/// Why an annotation value is not a reference at all.
#[derive(Debug, Clone, PartialEq)]
pub enum Malformation {
    /// `a/b/c`.
    TooManySlashes,
    /// `/name` or `namespace/`.
    EmptyPart,
    /// The namespace part is not a DNS-1123 label.
    BadNamespace(String),
    /// The name is not a DNS-1123 subdomain.
    BadName(String),
}

impl Display for Malformation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Malformation::TooManySlashes => f.write_str("it has more than one '/'"),
            Malformation::EmptyPart => f.write_str("a part around '/' is empty"),
            Malformation::BadNamespace(ns) => write!(
                f,
                "{} is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
                shown(ns)
            ),
            Malformation::BadName(name) => write!(
                f,
                "{} is not a valid instrumentation name (lowercase letters, digits, '-' and '.', at most 253 characters)",
                shown(name)
            ),
        }
    }
}

/// The references a pod may use instead, at most [`WouldWork::SHOWN`] of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WouldWork {
    /// Every reference that would work, in the order shown.
    pub refs: Vec<WouldWorkRef>,
}

/// One reference that would work.
#[derive(Debug, Clone, PartialEq)]
pub enum WouldWorkRef {
    /// `NAME` in the pod's namespace.
    Name(String),
    /// `true`, which gets the settings' default instrumentation.
    TrueDefault,
    /// `true`, which gets the namespace's one instrumentation.
    TrueIs(String),
    /// `NAMESPACE/NAME` elsewhere.
    Qualified(String, String),
}

impl WouldWork {
    /// How many references a message lists; the rest are counted.
    pub const SHOWN: usize = 12;
}

impl Display for WouldWorkRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            WouldWorkRef::Name(n) => write!(f, "{n:?}"),
            WouldWorkRef::TrueDefault => {
                write!(f, "\"true\" (the policy settings' default instrumentation)")
            }
            WouldWorkRef::TrueIs(n) => write!(f, "\"true\" (= {n:?})"),
            WouldWorkRef::Qualified(ns, n) => write!(f, "\"{ns}/{n}\""),
        }
    }
}

impl Display for WouldWork {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.refs.is_empty() {
            return write!(
                f,
                "No reference would work: define an instrumentation in the policy settings (top-level Instrumentation spec fields for \"true\", or an entry of {OPT_INSTRUMENTATIONS}); or use \"false\" for no injection"
            );
        }
        f.write_str("References that would work: ")?;
        for (i, r) in self.refs.iter().take(Self::SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            r.fmt(f)?;
        }
        if self.refs.len() > Self::SHOWN {
            write!(f, " and {} more", self.refs.len() - Self::SHOWN)?;
        }
        f.write_str("; or \"false\" for no injection")
    }
}
