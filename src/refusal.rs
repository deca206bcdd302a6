//! Every refusal, settings problem and warning the policy gives, as typed values: found where the
//! problem is found, worded here (their `Display` is the text users read), and mapped here to an
//! HTTP code and to `failureAction`. Tests compare the values; the case files compare the text.

use std::fmt::{self, Display, Formatter};

use crate::annotations::{CONTAINER_NAMES, INJECT_PYTHON, PYTHON_CONTAINER_NAMES, PYTHON_PLATFORM};
use crate::cluster::{Failure, INSTRUMENTATION, LookupFailure, SUBJECT_ACCESS_REVIEW};
use crate::instrumentation::{API_VERSION, PROPAGATORS, PULL_POLICIES, SAMPLERS};
use crate::operator::{
    DEFAULT_PYTHON_IMAGE, INIT_CONTAINER_NAME, INJECTED_SIDECAR, NODE_NAME_VAR,
    RESOURCE_ATTRIBUTES_VAR, VOLUME_NAME,
};
use crate::settings::{
    OPT_ALLOW_CROSS_NAMESPACE, OPT_FAILURE_ACTION, OPT_INSTRUMENTATION_SOURCE,
    OPT_INSTRUMENTATIONS, OPT_SERVICE_ACCOUNT,
};

/// Bad input from the API server or from the pod author.
pub const BAD_REQUEST: u16 = 400;
/// The policy itself is misconfigured.
pub const MISCONFIGURED: u16 = 500;
/// A lookup in the cluster failed for a reason that may pass.
pub const UNAVAILABLE: u16 = 503;

/// A value the pod's author wrote, for a message: quoted, and cut after 100 characters so that a
/// huge annotation does not make a huge response (the length says how much there was).
pub fn shown(value: &str) -> String {
    const MAX: usize = 100;
    match value.char_indices().nth(MAX) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

/// What a message is about: the pod being created, or a workload whose pod template is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// `name` as messages show it: the pod's name, else its generateName prefix and `*`.
    Pod { name: String, namespace: String },
    Workload {
        kind: &'static str,
        namespace: String,
        name: String,
        /// Where the pod template sits, dotted: `spec.template`.
        template: String,
    },
}

impl Subject {
    pub fn namespace(&self) -> &str {
        match self {
            Subject::Pod { namespace, .. } | Subject::Workload { namespace, .. } => namespace,
        }
    }
    pub fn is_workload(&self) -> bool {
        matches!(self, Subject::Workload { .. })
    }
}

impl Display for Subject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Pod { name, .. } => write!(f, "pod {name}"),
            Subject::Workload {
                kind,
                namespace,
                name,
                ..
            } => write!(f, "{kind} {namespace}/{name}"),
        }
    }
}

/// Why a request gets no instrumentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The payload or the object in it cannot be read.
    Payload(PayloadProblem),
    /// The policy's settings are invalid at evaluation time.
    Settings(SettingsErrors),
    /// The object's namespace is unknown, so no reference can be resolved.
    NoNamespace { kind: &'static str },
    /// The `inject-python` annotation names no usable instrumentation.
    Reference(Box<ReferenceRefusal>),
    /// The instrumentation was found but cannot be injected into this pod.
    Plan(Box<PlanRefusal>),
    /// The plan could not be written into the object (its shape changed under the view).
    Apply(ApplyProblem),
    /// Cluster mode: a lookup in the cluster failed.
    Lookup(Box<LookupRefusal>),
    /// Cluster mode: the Instrumentation the reference names is invalid.
    ClusterSpec(Box<ClusterSpecRefusal>),
    /// Cluster mode: the settings and the cluster both define `namespace/name`.
    DefinedTwice { namespace: String, name: String },
}

impl Refusal {
    /// The HTTP code of the refusal.
    pub fn code(&self) -> u16 {
        match self {
            Refusal::Settings(_) | Refusal::DefinedTwice { .. } | Refusal::ClusterSpec(_) => {
                MISCONFIGURED
            }
            Refusal::Lookup(l) => match l.failure.failure {
                Failure::Transient { .. } => UNAVAILABLE,
                _ => MISCONFIGURED,
            },
            _ => BAD_REQUEST,
        }
    }

    /// Whether `failureAction: admit` may admit the request anyway: yes for a pod that asked for
    /// instrumentation and cannot get it, no for input the policy cannot read or its own settings.
    pub fn follows_failure_action(&self) -> bool {
        !matches!(self, Refusal::Payload(_) | Refusal::Settings(_))
    }

    /// Whether the refusal is about a workload's pod template rather than a pod.
    pub fn is_about_workload(&self) -> bool {
        match self {
            Refusal::Reference(r) => r.subject.is_workload(),
            Refusal::Plan(p) => p.subject.is_workload(),
            Refusal::Lookup(l) => l.subject.is_workload(),
            Refusal::ClusterSpec(c) => c.subject.is_workload(),
            Refusal::NoNamespace { kind } => *kind != "Pod",
            _ => false,
        }
    }
}

impl Display for Refusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Payload(p) => p.fmt(f),
            Refusal::Settings(e) => write!(
                f,
                "the policy settings are invalid, so the pod's {INJECT_PYTHON} annotation cannot be honoured: {e}"
            ),
            Refusal::NoNamespace { kind: "Pod" } => f.write_str(
                "the request names no namespace for the pod (request.namespace and metadata.namespace are empty), so its instrumentation reference cannot be resolved; set metadata.namespace",
            ),
            Refusal::NoNamespace { kind } => write!(
                f,
                "the request names no namespace for the {kind} (request.namespace and metadata.namespace are empty), so the instrumentation reference of its pods cannot be resolved; set metadata.namespace"
            ),
            Refusal::Reference(r) => r.fmt(f),
            Refusal::Plan(p) => match &p.subject {
                Subject::Pod { name, .. } => write!(
                    f,
                    "pod {name} asked for OpenTelemetry Python instrumentation ({}), but {}",
                    p.label, p.problem
                ),
                Subject::Workload { template, .. } => write!(
                    f,
                    "{} asks for OpenTelemetry Python instrumentation ({}) in {template}.metadata.annotations, but {}",
                    p.subject, p.label, p.problem
                ),
            },
            Refusal::Apply(p) => p.fmt(f),
            Refusal::Lookup(l) => l.fmt(f),
            Refusal::ClusterSpec(c) => write!(
                f,
                "{} cannot get OpenTelemetry Python instrumentation: {} {}/{} in the cluster is invalid: {}",
                c.subject, crate::instrumentation::KIND, c.namespace, c.name, c.problems
            ),
            Refusal::DefinedTwice { namespace, name } => write!(
                f,
                "instrumentation {namespace}/{name} is defined twice: in the policy settings ({OPT_INSTRUMENTATIONS}) and in the cluster ({} {namespace}/{name}); remove one of them, for example the settings entry to use the cluster's",
                crate::instrumentation::KIND
            ),
        }
    }
}

/// A lookup of cluster mode that failed, for the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupRefusal {
    pub subject: Subject,
    pub failure: LookupFailure,
}

/// An Instrumentation read from the cluster that does not pass the rules every spec follows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpecRefusal {
    pub subject: Subject,
    pub namespace: String,
    pub name: String,
    pub problems: SettingsErrors,
}

impl Display for LookupRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let l = &self.failure;
        let kind = l.kind;
        let what = match (l.object.as_str(), l.verb) {
            ("", _) => format!("{} {} resources", kind.api_version, kind.kind),
            (object, _) => format!("{} {object}", kind.kind),
        };
        write!(
            f,
            "the instrumentation of {} cannot be resolved: ",
            self.subject
        )?;
        match &l.failure {
            Failure::NotServed if kind == &INSTRUMENTATION => write!(
                f,
                "the cluster does not serve {} {}: the OpenTelemetry Operator's CRD {}.{} is not installed; install it, or set {OPT_INSTRUMENTATION_SOURCE} to \"settings\" and define the instrumentations in the policy settings",
                kind.api_version, kind.kind, kind.resource, kind.group
            ),
            Failure::NotServed => write!(
                f,
                "the cluster does not serve {} {}",
                kind.api_version, kind.kind
            ),
            Failure::NotGranted => write!(
                f,
                "the policy may not read {} {} resources; add {{apiVersion: {}, kind: {}}} to the ClusterAdmissionPolicy's spec.contextAwareResources",
                kind.api_version, kind.kind, kind.api_version, kind.kind
            ),
            Failure::CapabilityDenied { capability } => write!(
                f,
                "the policy may not use the host capability {capability}; allow it in the policy's hostCapabilities (a ClusterAdmissionPolicy gets every capability)"
            ),
            Failure::Forbidden { verb } => {
                let scope = match (l.object.is_empty(), kind.namespaced) {
                    (true, true) => " in all namespaces".to_string(),
                    (true, false) => String::new(),
                    (false, _) => format!(" ({what})"),
                };
                let verbs = if kind == &INSTRUMENTATION {
                    "\"get\", \"list\", \"watch\""
                } else if kind == &SUBJECT_ACCESS_REVIEW {
                    "\"create\""
                } else {
                    "\"get\""
                };
                write!(
                    f,
                    "the PolicyServer's ServiceAccount {} may not {verb} {}.{}{scope}; grant it the ClusterRole rule {{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [{verbs}]}} with a ClusterRoleBinding, or set {OPT_SERVICE_ACCOUNT} to the ServiceAccount the PolicyServer runs as",
                    l.service_account,
                    kind.resource,
                    if kind.group.is_empty() {
                        "core"
                    } else {
                        kind.group
                    },
                    kind.group,
                    kind.resource
                )
            }
            Failure::Transient { message } => write!(
                f,
                "reading {what} failed ({message}); this is likely temporary, so the request may be retried"
            ),
        }
    }
}

/// An instrumentation that cannot be injected into the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRefusal {
    pub subject: Subject,
    pub label: String,
    pub problem: PlanProblem,
}

// ---- the payload ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum PayloadProblem {
    /// Not `{"request": AdmissionRequest, "settings": {...}}`.
    Unreadable {
        error: String,
    },
    KindMismatch {
        kind: &'static str,
        object_kind: String,
    },
    NoObject {
        kind: &'static str,
        operation: &'static str,
    },
    ObjectNotAnObject {
        kind: &'static str,
    },
    InvalidObject {
        kind: &'static str,
        path: String,
        error: String,
    },
}

impl Display for PayloadProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PayloadProblem::Unreadable { error } => write!(
                f,
                "the policy could not read the admission payload (expected {{\"request\": AdmissionRequest, \"settings\": {{...}}}}): {error}"
            ),
            PayloadProblem::KindMismatch { kind, object_kind } => write!(
                f,
                "request.kind is {kind} but request.object.kind is {object_kind:?}; the object must be a {kind}"
            ),
            PayloadProblem::NoObject {
                kind: "Pod",
                operation,
            } => write!(
                f,
                "the Pod {operation} request carries no object (request.object is missing or null); send the pod to create in request.object, as the API server does"
            ),
            PayloadProblem::NoObject { kind, operation } => write!(
                f,
                "the {kind} {operation} request carries no object (request.object is missing or null); send the {kind} in request.object, as the API server does"
            ),
            PayloadProblem::ObjectNotAnObject { kind } => {
                write!(
                    f,
                    "request.object is not a JSON object; a {kind} was expected"
                )
            }
            PayloadProblem::InvalidObject { kind, path, error } => {
                write!(
                    f,
                    "request.object is not a valid {kind}: at {path}: {error}"
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApplyProblem {
    SpecNotAnObject,
    ContainerNotAnObject { container: String },
}

impl Display for ApplyProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ApplyProblem::SpecNotAnObject => f.write_str("request.object.spec is not an object"),
            ApplyProblem::ContainerNotAnObject { container } => write!(
                f,
                "container {container:?} is not an object in request.object.spec"
            ),
        }
    }
}

// ---- references ----------------------------------------------------------------------------------

/// An `inject-python` value that names no usable instrumentation for the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRefusal {
    pub value: String,
    pub subject: Subject,
    pub fault: ReferenceFault,
    /// Cluster mode: the value is the namespace's annotation, which the pod inherits.
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceFault {
    Malformed {
        why: Malformation,
        would_work: WouldWork,
    },
    /// `true` with several instrumentations in the pod's namespace.
    Ambiguous {
        source: Source,
        names: Vec<String>,
    },
    /// `NAME` or `NAMESPACE/NAME` that the source does not define.
    Unknown {
        source: Source,
        namespace: String,
        name: String,
        would_work: WouldWork,
    },
    CrossNamespaceForbidden {
        would_work: WouldWork,
    },
    /// `true` in a namespace without instrumentations, and no default to fall back to.
    NoneAvailable {
        source: Source,
        would_work: WouldWork,
    },
}

/// Where instrumentations come from, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
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
    TooManySlashes,
    EmptyPart,
    BadNamespace(String),
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
    pub refs: Vec<WouldWorkRef>,
}

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

// ---- the plan ------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum PlanProblem {
    Selection(SelectionProblem),
    UnsupportedPlatform { value: String },
    Conflict(Conflict),
}

impl Display for PlanProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PlanProblem::Selection(s) => s.fmt(f),
            PlanProblem::UnsupportedPlatform { value } => write!(
                f,
                "annotation {PYTHON_PLATFORM}={} is not supported; use \"glibc\" (the default) or \"musl\" (Alpine-based images)",
                shown(value)
            ),
            PlanProblem::Conflict(c) => c.fmt(f),
        }
    }
}

/// Which containers to instrument cannot be decided.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectionProblem {
    BadCharacters {
        key: &'static str,
        value: String,
    },
    EmptyEntry {
        key: &'static str,
        value: String,
    },
    NamedTwice {
        name: String,
    },
    NoContainers,
    UnknownContainer {
        name: String,
        known: Vec<String>,
    },
    /// Other languages are asked for too, and no list says which containers are Python's.
    OtherLanguages {
        annotations: Vec<(String, String)>,
    },
}

impl Display for SelectionProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectionProblem::BadCharacters { key, value } => write!(
                f,
                "annotation {key}={}: only container names separated by ',' are accepted (letters, digits, '-' and ',')",
                shown(value)
            ),
            SelectionProblem::EmptyEntry { key, value } => write!(
                f,
                "annotation {key}={} has an empty entry; list container names separated by single commas",
                shown(value)
            ),
            SelectionProblem::NamedTwice { name } => write!(
                f,
                "container {name:?} is named twice in {CONTAINER_NAMES} and {PYTHON_CONTAINER_NAMES}; name each container once"
            ),
            SelectionProblem::NoContainers => f.write_str(
                "the pod has no containers to instrument; spec.containers must list at least one",
            ),
            SelectionProblem::UnknownContainer { name, known } => write!(
                f,
                "container {name:?} named by the instrumentation annotations does not exist in the pod; its containers are {}",
                quoted_list(known)
            ),
            SelectionProblem::OtherLanguages { annotations } => {
                let list: Vec<String> = annotations
                    .iter()
                    .map(|(k, v)| format!("{k}={}", shown(v)))
                    .collect();
                write!(
                    f,
                    "the pod also asks for {} ({}), and without container names the policy cannot tell which container runs Python; list the Python containers in {PYTHON_CONTAINER_NAMES}",
                    if list.len() == 1 {
                        "another instrumentation"
                    } else {
                        "other instrumentations"
                    },
                    list.join(", ")
                )
            }
        }
    }
}

/// Something in the pod that the injection would clash with.
#[derive(Debug, Clone, PartialEq)]
pub enum Conflict {
    VolumeExists,
    ContainerNamedLikeInit,
    PythonPathValueFrom {
        container: String,
    },
    MountTaken {
        container: String,
        mount: String,
        path: String,
    },
    TlsMountTaken {
        container: String,
        mount: String,
        path: String,
        volume: String,
    },
}

impl Display for Conflict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::VolumeExists => write!(
                f,
                "the pod already has a volume named {VOLUME_NAME:?}, which the instrumentation needs for its packages; rename that volume"
            ),
            Conflict::ContainerNamedLikeInit => write!(
                f,
                "the pod already has a container named {INIT_CONTAINER_NAME:?}, the name of the instrumentation's init container; rename that container"
            ),
            Conflict::PythonPathValueFrom { container } => write!(
                f,
                "container {container:?} sets PYTHONPATH with valueFrom, which the instrumentation cannot extend; set it with a literal value (it is kept and wrapped) or leave it unset"
            ),
            Conflict::MountTaken {
                container,
                mount,
                path,
            } => write!(
                f,
                "container {container:?} already mounts {mount:?} at {path:?}, where the instrumentation mounts its packages; remove that mount"
            ),
            Conflict::TlsMountTaken {
                container,
                mount,
                path,
                volume,
            } => write!(
                f,
                "container {container:?} already mounts {mount:?} at {path:?}, where the instrumentation mounts the exporter's TLS volume {volume:?}; remove that mount"
            ),
        }
    }
}

// ---- warnings ------------------------------------------------------------------------------------

/// What an admitted request's warnings say.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Injected {
        label: String,
        containers: Vec<String>,
        pod: String,
    },
    NoEndpoint {
        label: String,
    },
    AlreadyInstrumented {
        subject: Subject,
        why: AlreadyInstrumented,
    },
    AttributesFromSource {
        container: String,
    },
    /// `failureAction: admit`: the refusal, admitted; `workload` when the pods come later.
    NotInjected {
        refusal: Refusal,
        workload: bool,
    },
    /// What the pods of a workload will get: the instrumentation, then where and how (two
    /// short lines: Kubernetes asks webhooks to keep each warning under 120 characters).
    Preview {
        subject: Subject,
        label: String,
    },
    PreviewContainers {
        subject: Subject,
        containers: Vec<String>,
        service_name: Option<String>,
        platform: &'static str,
    },
    /// The annotation on the workload itself, where it does nothing.
    MisplacedAnnotation {
        subject: Subject,
        value: String,
    },
    /// Cluster mode: the namespace of a pod that asks for nothing itself could not be read.
    NamespaceUnread {
        refusal: Refusal,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlreadyInstrumented {
    InitContainer(String),
    Sidecar,
    NodeNameVar { container: String },
}

impl Display for Notice {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Injected {
                label,
                containers,
                pod,
            } => write!(
                f,
                "injected OpenTelemetry Python auto-instrumentation ({label}) into container{} {} of pod {pod}",
                if containers.len() == 1 { "" } else { "s" },
                quoted_list(containers)
            ),
            Notice::NoEndpoint { label } => write!(
                f,
                "{label} sets no exporter.endpoint, so the Python SDK sends telemetry to its default http://localhost:4318; set exporter.endpoint in the policy settings to reach a collector"
            ),
            Notice::AlreadyInstrumented { subject, why } if subject.is_workload() => write!(
                f,
                "the pod template of {subject} is already instrumented ({why}); its pods will be admitted unchanged"
            ),
            Notice::AlreadyInstrumented { subject, why } => write!(
                f,
                "{subject} is already instrumented ({why}); nothing was injected"
            ),
            Notice::AttributesFromSource { container } => write!(
                f,
                "container {container:?} sets {RESOURCE_ATTRIBUTES_VAR} with valueFrom; it was kept as is and the Kubernetes resource attributes were not added to it"
            ),
            Notice::NotInjected {
                refusal,
                workload: false,
            } => write!(f, "no instrumentation injected: {refusal}"),
            Notice::NotInjected {
                refusal,
                workload: true,
            } => write!(
                f,
                "{refusal}; admitted anyway (failureAction: admit), so its pods will start without instrumentation"
            ),
            Notice::Preview { subject, label } => write!(
                f,
                "{subject}: pods will get OpenTelemetry Python auto-instrumentation ({label})"
            ),
            Notice::PreviewContainers {
                subject,
                containers,
                service_name,
                platform,
            } => {
                write!(
                    f,
                    "{subject}: in container{} {}",
                    if containers.len() == 1 { "" } else { "s" },
                    quoted_list(containers)
                )?;
                if let Some(name) = service_name {
                    write!(f, ", OTEL_SERVICE_NAME={name}")?;
                }
                write!(f, ", platform {platform}")
            }
            Notice::NamespaceUnread { refusal } => write!(
                f,
                "admitted without reading its namespace's {INJECT_PYTHON} annotation: {refusal}"
            ),
            Notice::MisplacedAnnotation { subject, value } => write!(
                f,
                "{subject} has {INJECT_PYTHON}={} in its own metadata.annotations, where it does nothing: put it in the pod template's metadata.annotations so that its pods get it",
                shown(value)
            ),
        }
    }
}

impl Display for AlreadyInstrumented {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AlreadyInstrumented::InitContainer(name) => {
                write!(f, "it already has the init container {name:?}")
            }
            AlreadyInstrumented::Sidecar => {
                write!(f, "it already has the container {INJECTED_SIDECAR:?}")
            }
            AlreadyInstrumented::NodeNameVar { container } => {
                write!(f, "container {container:?} already sets {NODE_NAME_VAR}")
            }
        }
    }
}

// ---- settings --------------------------------------------------------------------------------------

/// Every problem found in a settings object, reported together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsErrors(pub Vec<SettingsProblem>);

impl Display for SettingsErrors {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            p.fmt(f)?;
        }
        Ok(())
    }
}

/// One bad settings value: where it is (`instrumentations[0].spec.sampler.argument`; empty for
/// the settings as a whole) and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsProblem {
    pub path: String,
    pub fault: Fault,
}

impl SettingsProblem {
    pub fn new(path: impl Into<String>, fault: Fault) -> Self {
        SettingsProblem {
            path: path.into(),
            fault,
        }
    }
}

impl Display for SettingsProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.fault {
            // These read as a sentence about the field.
            Fault::Missing(_) | Fault::TlsWithoutHttps { .. } => {
                write!(f, "{} {}", self.path, self.fault)
            }
            _ if self.path.is_empty() => self.fault.fmt(f),
            _ => write!(f, "{}: {}", self.path, self.fault),
        }
    }
}

/// A field that must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingField {
    InstrumentationName,
    InstrumentationNamespace,
}

/// What is wrong with a settings value. Values are the user's text, quoted when shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    NotJson {
        error: String,
    },
    NotAnObject {
        found: &'static str,
    },
    /// The deserializer's own message (wrong type, unknown field of the CRD's own types).
    Parse {
        message: String,
    },
    /// A field that the Kubernetes type at this place does not have.
    UnknownK8sField {
        key: String,
    },
    /// An empty string where empty is never valid.
    Empty {
        field: EmptyField,
    },
    FailureAction {
        value: String,
    },
    InstrumentationSource {
        value: String,
    },
    ServiceAccount {
        value: String,
    },
    NotABool {
        value: String,
    },
    Endpoint {
        value: String,
        why: String,
    },
    UnknownPropagator {
        value: String,
    },
    PropagatorTwice {
        value: String,
    },
    NoneCombined,
    SamplerArgumentWithoutType {
        value: String,
    },
    UnknownSampler {
        value: String,
    },
    RatioArgument {
        value: String,
        sampler: String,
    },
    JaegerArgument {
        value: String,
        sampler: String,
        why: String,
    },
    AttributeKey {
        key: String,
    },
    AttributeValueComma {
        value: String,
    },
    PullPolicy {
        value: String,
    },
    Image {
        value: String,
        why: String,
    },
    EnvName {
        value: String,
    },
    EnvTwice {
        value: String,
        list: String,
    },
    PythonPathValueFrom,
    ValueAndValueFrom {
        name: String,
    },
    Quantity {
        value: String,
    },
    RequestAboveLimit {
        resource: String,
        request: String,
        limit: String,
    },
    VolumeSize {
        value: String,
    },
    VolumeSizeAndClaim,
    TlsObjectName {
        value: String,
    },
    TlsNameWithDot {
        value: String,
    },
    CertWithoutKey,
    CaRelativeWithoutSource {
        value: String,
    },
    FileRelativeWithoutSecret {
        value: String,
    },
    TlsWithoutHttps {
        endpoint: String,
    },
    ApiVersion {
        value: String,
    },
    Kind {
        value: String,
    },
    Missing(MissingField),
    ObjectName {
        value: String,
    },
    NamespaceName {
        value: String,
    },
    DefinedTwice {
        namespace: String,
        name: String,
    },
}

/// The string fields that may be left out but not given empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyField {
    Endpoint,
    Image,
    PullPolicy,
    SamplerType,
    TlsName,
    TlsFile,
}

impl Display for EmptyField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            EmptyField::Endpoint => f.write_str(
                "set the collector's OTLP/HTTP URL (for example \"http://otel-collector.monitor.svc:4318\"), or leave the field out for the SDK's default http://localhost:4318",
            ),
            EmptyField::Image => write!(
                f,
                "set an image reference, or leave the field out for the default {DEFAULT_PYTHON_IMAGE:?}"
            ),
            EmptyField::PullPolicy => write!(
                f,
                "use one of {}, or leave the field out for the cluster's default",
                PULL_POLICIES.join(", ")
            ),
            EmptyField::SamplerType => write!(
                f,
                "use one of {}, or leave sampler out for the SDK's default (parentbased_always_on)",
                SAMPLERS.join(", ")
            ),
            EmptyField::TlsName => f.write_str("set the object's name, or leave the field out"),
            EmptyField::TlsFile => {
                f.write_str("set a file name or an absolute path, or leave the field out")
            }
        }
    }
}

impl Display for Fault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NotJson { error } => write!(
                f,
                "settings are not valid JSON ({error}); use a JSON object (an Instrumentation spec plus policy options)"
            ),
            Fault::NotAnObject { found } => write!(
                f,
                "settings must be an object (an Instrumentation spec plus policy options), not {found}"
            ),
            Fault::Parse { message } => f.write_str(message),
            Fault::UnknownK8sField { key } => write!(
                f,
                "unknown field `{key}` (not part of the Kubernetes type at this place; check the spelling)"
            ),
            Fault::Empty { field } => write!(f, "\"\" is empty; {field}"),
            Fault::FailureAction { value } => write!(
                f,
                "{value} is not accepted; use \"reject\" (refuse a pod that cannot be instrumented, the default) or \"admit\" (admit it unchanged with a warning, as the operator does)"
            ),
            Fault::InstrumentationSource { value } => write!(
                f,
                "{value} is not accepted; use \"settings\" (instrumentations come from these settings only, the default) or \"cluster\" (also read the cluster's Instrumentation resources, namespace annotations and pod owners; needs a ClusterAdmissionPolicy with contextAwareResources)"
            ),
            Fault::ServiceAccount { value } => write!(
                f,
                "{value} is not accepted; use NAMESPACE/NAME of the ServiceAccount the PolicyServer runs as, for example \"{}\"",
                crate::cluster::DEFAULT_SERVICE_ACCOUNT
            ),
            Fault::NotABool { value } => write!(f, "{value} is not accepted; use true or false"),
            Fault::Endpoint { .. }
            | Fault::UnknownPropagator { .. }
            | Fault::PropagatorTwice { .. }
            | Fault::NoneCombined
            | Fault::SamplerArgumentWithoutType { .. }
            | Fault::UnknownSampler { .. }
            | Fault::RatioArgument { .. }
            | Fault::JaegerArgument { .. }
            | Fault::AttributeKey { .. }
            | Fault::AttributeValueComma { .. }
            | Fault::PullPolicy { .. } => self.fmt_sdk(f),
            Fault::Image { .. }
            | Fault::EnvName { .. }
            | Fault::EnvTwice { .. }
            | Fault::PythonPathValueFrom
            | Fault::ValueAndValueFrom { .. }
            | Fault::Quantity { .. }
            | Fault::RequestAboveLimit { .. }
            | Fault::VolumeSize { .. }
            | Fault::VolumeSizeAndClaim => self.fmt_python(f),
            _ => self.fmt_objects(f),
        }
    }
}

impl Fault {
    /// Exporter, propagators, sampler, resource attributes, pull policy.
    fn fmt_sdk(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Endpoint { value, why } => write!(
                f,
                "{value:?} is not accepted: {why}; use an absolute URL such as \"http://otel-collector.monitor.svc:4318\""
            ),
            Fault::UnknownPropagator { value } => write!(
                f,
                "{value:?} is not an OpenTelemetry propagator; use one of {}",
                PROPAGATORS.join(", ")
            ),
            Fault::PropagatorTwice { value } => {
                write!(f, "{value:?} is listed twice; list each propagator once")
            }
            Fault::NoneCombined => f.write_str(
                "\"none\" cannot be combined with other propagators; use [none] alone or remove it",
            ),
            Fault::SamplerArgumentWithoutType { value } => write!(
                f,
                "{value:?} is set but sampler.type is not; set sampler.type to one of {}",
                SAMPLERS.join(", ")
            ),
            Fault::UnknownSampler { value } => write!(
                f,
                "{value:?} is not an OpenTelemetry sampler; use one of {}",
                SAMPLERS.join(", ")
            ),
            Fault::RatioArgument { value, sampler } => write!(
                f,
                "{value:?} is not a number in [0, 1], which sampler type {sampler:?} requires (for example \"0.25\")"
            ),
            Fault::JaegerArgument {
                value,
                sampler,
                why,
            } => write!(
                f,
                "{value:?} is not a valid argument for sampler type {sampler:?}: {why}; use for example \"endpoint=http://jaeger:14250,pollingIntervalMs=5000,initialSamplingRate=0.25\""
            ),
            Fault::AttributeKey { key } => write!(
                f,
                "key {key:?} is not accepted; keys must be non-empty, without ',', '=' or surrounding spaces (they are written into OTEL_RESOURCE_ATTRIBUTES as key=value,...)"
            ),
            Fault::AttributeValueComma { value } => write!(
                f,
                "value {value:?} contains ','; OTEL_RESOURCE_ATTRIBUTES separates pairs with ',', so percent-encode it as %2C"
            ),
            Fault::PullPolicy { value } => write!(
                f,
                "{value:?} is not accepted; use one of {}",
                PULL_POLICIES.join(", ")
            ),
            _ => Ok(()),
        }
    }

    /// The image, env lists and init container resources.
    fn fmt_python(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Image { value, why } => write!(
                f,
                "{value:?} is not a valid OCI image reference: {why}; use [registry/]repository[:tag][@sha256:digest], for example {DEFAULT_PYTHON_IMAGE:?}"
            ),
            Fault::EnvName { value } => write!(
                f,
                "{value:?} is not a valid environment variable name; use letters, digits, '_', '-' and '.', not starting with a digit"
            ),
            Fault::EnvTwice { value, list } => write!(
                f,
                "{value:?} is defined twice in {list}; define each variable once"
            ),
            Fault::PythonPathValueFrom => f.write_str(
                "PYTHONPATH is set with valueFrom, which the instrumentation cannot extend; give it a literal value",
            ),
            Fault::ValueAndValueFrom { name } => write!(
                f,
                "{name:?} sets both value and valueFrom; Kubernetes accepts only one"
            ),
            Fault::Quantity { value } => write!(
                f,
                "{value:?} is not a Kubernetes quantity; use for example \"500m\" for cpu or \"256Mi\" for memory"
            ),
            Fault::RequestAboveLimit {
                resource,
                request,
                limit,
            } => write!(
                f,
                "requests.{resource} {request:?} is larger than limits.{resource} {limit:?}; Kubernetes refuses such a pod (unset fields take the defaults: limits cpu 500m memory 256Mi, requests cpu 50m memory 64Mi)"
            ),
            Fault::VolumeSize { value } => write!(
                f,
                "{value:?} is not a positive Kubernetes quantity; use for example \"200Mi\" or \"1Gi\""
            ),
            Fault::VolumeSizeAndClaim => f.write_str(
                "volumeLimitSize and volumeClaimTemplate cannot both be set; volumeLimitSize sizes the emptyDir, volumeClaimTemplate replaces it with an ephemeral volume",
            ),
            _ => Ok(()),
        }
    }

    /// Exporter TLS and whole Instrumentation objects.
    fn fmt_objects(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fault::TlsObjectName { value } => write!(
                f,
                "{value:?} is not a valid object name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
            ),
            Fault::TlsNameWithDot { value } => write!(
                f,
                "{value:?} contains '.', but it becomes part of a volume name, which may not; use a name with lowercase letters, digits and '-' only"
            ),
            Fault::CertWithoutKey => f.write_str(
                "cert_file and key_file must be set together (a client certificate needs its key)",
            ),
            Fault::CaRelativeWithoutSource { value } => write!(
                f,
                "{value:?} is a relative path but neither secretName nor configMapName is set; name the Secret or ConfigMap that holds it, or give an absolute path"
            ),
            Fault::FileRelativeWithoutSecret { value } => write!(
                f,
                "{value:?} is a relative path but secretName is not set; name the Secret that holds it, or give an absolute path"
            ),
            Fault::TlsWithoutHttps { endpoint } => write!(
                f,
                "is set but exporter.endpoint {endpoint:?} does not use https://; TLS settings only apply to an https:// endpoint"
            ),
            Fault::ApiVersion { value } => {
                write!(f, "{value:?} is not accepted; use {API_VERSION:?}")
            }
            Fault::Kind { value } => write!(f, "{value:?} is not accepted; use \"Instrumentation\""),
            Fault::Missing(MissingField::InstrumentationName) => f.write_str(
                "is missing; every instrumentation needs the name pods refer to",
            ),
            Fault::Missing(MissingField::InstrumentationNamespace) => f.write_str(
                "is missing; set the namespace the Instrumentation lives in (references are NAME within it or NAMESPACE/NAME)",
            ),
            Fault::ObjectName { value } => write!(
                f,
                "{value:?} is not a valid name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
            ),
            Fault::NamespaceName { value } => write!(
                f,
                "{value:?} is not a valid namespace; use lowercase letters, digits and '-' (a DNS-1123 label, at most 63 characters)"
            ),
            Fault::DefinedTwice { namespace, name } => write!(
                f,
                "{namespace}/{name} is defined twice; each namespace/name may appear once"
            ),
            _ => Ok(()),
        }
    }
}

/// The message suffix for an unknown top-level settings field: the policy's own options.
pub fn policy_options_hint() -> String {
    format!(
        ", or a policy option `{OPT_INSTRUMENTATIONS}`, `{OPT_FAILURE_ACTION}`, `{OPT_ALLOW_CROSS_NAMESPACE}`, `{OPT_INSTRUMENTATION_SOURCE}`, `{OPT_SERVICE_ACCOUNT}`"
    )
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_quotes_short_values_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(shown("monitor/python"), "\"monitor/python\"");
        let long = "é".repeat(150);
        assert_eq!(
            shown(&long),
            format!("\"{}\"… (150 characters)", "é".repeat(100))
        );
    }

    #[test]
    fn codes_and_failure_action() {
        let payload = Refusal::Payload(PayloadProblem::NoObject {
            kind: "Pod",
            operation: "CREATE",
        });
        let settings = Refusal::Settings(SettingsErrors::default());
        let reference = Refusal::NoNamespace { kind: "Pod" };
        assert_eq!(
            (payload.code(), settings.code(), reference.code()),
            (400, 500, 400)
        );
        assert!(!payload.follows_failure_action());
        assert!(!settings.follows_failure_action());
        assert!(reference.follows_failure_action());
    }

    #[test]
    fn would_work_shows_a_dozen_and_counts_the_rest() {
        let refs = (0..15)
            .map(|i| WouldWorkRef::Name(format!("i{i}")))
            .collect();
        let text = WouldWork { refs }.to_string();
        assert!(
            text.ends_with("\"i11\" and 3 more; or \"false\" for no injection"),
            "{text}"
        );
        assert!(
            WouldWork::default()
                .to_string()
                .starts_with("No reference would work")
        );
    }

    #[test]
    fn settings_problems_join_their_path() {
        let p = SettingsProblem::new(
            "sampler.argument",
            Fault::RatioArgument {
                value: "1.5".into(),
                sampler: "traceidratio".into(),
            },
        );
        assert_eq!(
            p.to_string(),
            "sampler.argument: \"1.5\" is not a number in [0, 1], which sampler type \"traceidratio\" requires (for example \"0.25\")"
        );
        let missing = SettingsProblem::new(
            "instrumentations[0].metadata.name",
            Fault::Missing(MissingField::InstrumentationName),
        );
        assert!(
            missing
                .to_string()
                .starts_with("instrumentations[0].metadata.name is missing;")
        );
        let whole = SettingsProblem::new("", Fault::NotAnObject { found: "a list" });
        assert!(whole.to_string().starts_with("settings must be an object"));
    }
}
