//! An instrumentation that cannot be injected into a pod, and why.
//!
//! An instrumentation that was found but cannot be injected into the subject's pods: which
//! containers is unclear, the platform is unknown, or something in the pod clashes.

use std::fmt::{self, Display, Formatter};

use super::{Subject, quoted_list, shown};
use crate::keys::{CONTAINER_NAMES, PYTHON_CONTAINER_NAMES, PYTHON_PLATFORM};
use crate::operator::{INIT_CONTAINER_NAME, VOLUME_NAME};

/// An instrumentation that cannot be injected into the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRefusal {
    /// Whose pods.
    pub subject: Subject,
    /// The instrumentation, as messages name it.
    pub label: String,
    /// Why it cannot be injected.
    pub problem: PlanProblem,
}

impl Display for PlanRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let spec = write_asked(f, &self.subject, &self.label)?;
        self.problem.write(f, &spec)
    }
}

/// "pod P asked for … (label), but ": the start of a refusal about what is in the subject's pods;
/// returns the path of their pod spec (`spec`, `spec.template.spec`).
pub(super) fn write_asked(
    f: &mut Formatter<'_>,
    subject: &Subject,
    label: &str,
) -> Result<String, fmt::Error> {
    match subject {
        Subject::Pod { name, .. } => {
            write!(
                f,
                "pod {name} asked for OpenTelemetry Python instrumentation ({label}), but "
            )?;
            Ok("spec".to_string())
        }
        Subject::Workload { template, .. } => {
            write!(
                f,
                "{subject} asks for OpenTelemetry Python instrumentation ({label}) in {template}.metadata.annotations, but "
            )?;
            Ok(format!("{template}.spec"))
        }
    }
}

/// Why an instrumentation cannot be injected into a pod.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanProblem {
    /// Which containers to instrument cannot be decided.
    Selection(SelectionProblem),
    /// The platform annotation names no package tree.
    UnsupportedPlatform {
        /// The annotation's value.
        value: String,
    },
    /// Something in the pod clashes with the injection.
    Conflict(Conflict),
}

impl PlanProblem {
    /// The problem, in the pod spec at `spec` (`spec`, `spec.template.spec`).
    fn write(&self, f: &mut Formatter<'_>, spec: &str) -> fmt::Result {
        match self {
            PlanProblem::Selection(s) => s.write(f, spec),
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
    /// A container-names annotation holds something other than names and commas.
    BadCharacters {
        /// The annotation.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// A container-names annotation has an empty entry (`a,,b`).
    EmptyEntry {
        /// The annotation.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// A container is named twice across the container-names annotations.
    NamedTwice {
        /// The container's name.
        name: String,
    },
    /// The pod has no containers.
    NoContainers,
    /// An annotation names a container the pod does not have.
    UnknownContainer {
        /// The name.
        name: String,
        /// The pod's containers.
        known: Vec<String>,
    },
    /// Other languages are asked for too, and no list says which containers are Python's.
    OtherLanguages {
        /// The other languages' annotations that are on, with their values.
        annotations: Vec<(String, String)>,
    },
}

impl SelectionProblem {
    /// The problem, in the pod spec at `spec`.
    fn write(&self, f: &mut Formatter<'_>, spec: &str) -> fmt::Result {
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
            SelectionProblem::NoContainers => write!(
                f,
                "the pod has no containers to instrument; {spec}.containers must list at least one"
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
    /// The pod has a volume with the packages' volume name.
    VolumeExists,
    /// A regular container has the init container's name.
    ContainerNamedLikeInit,
    /// A target container sets `PYTHONPATH` with `valueFrom`.
    PythonPathValueFrom {
        /// The container.
        container: String,
    },
    /// A target container mounts something at the packages' path, or the packages' volume.
    MountTaken {
        /// The container.
        container: String,
        /// The container's mount there.
        mount: String,
        /// Its path.
        path: String,
    },
    /// A target container mounts something where an exporter TLS volume goes.
    TlsMountTaken {
        /// The container.
        container: String,
        /// The container's mount there.
        mount: String,
        /// Its path.
        path: String,
        /// The TLS volume that would go there.
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
