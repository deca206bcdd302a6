//! The warnings of an admitted request.
//!
//! What an admitted request's warnings say: what was injected or will be, what was not and why,
//! and what the user should know.

use std::fmt::{self, Display, Formatter, Write as _};

use super::{AppImageNotice, CheckNotice, Refusal, Subject, quoted_list, shown};
use crate::keys::INJECT_PYTHON;
use crate::operator::{INJECTED_SIDECAR, NODE_NAME_VAR, RESOURCE_ATTRIBUTES_VAR, VOLUME_NAME};

/// One warning of an admitted request.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The pod was instrumented.
    Injected {
        /// The instrumentation, as messages name it.
        label: String,
        /// The instrumented containers.
        containers: Vec<String>,
        /// The pod, as messages name it.
        pod: String,
    },
    /// The instrumentation sets no endpoint, so telemetry goes to localhost.
    NoEndpoint {
        /// The instrumentation, as messages name it.
        label: String,
    },
    /// The pod (template) already carries an injection; nothing is added.
    AlreadyInstrumented {
        /// The pod or workload.
        subject: Subject,
        /// What shows it.
        why: AlreadyInstrumented,
    },
    /// A container's `OTEL_RESOURCE_ATTRIBUTES` comes from `valueFrom` and was kept as is.
    AttributesFromSource {
        /// The container.
        container: String,
    },
    /// `failureAction: admit`: the refusal, admitted; `workload` when the pods come later.
    NotInjected {
        /// Why nothing is injected.
        refusal: Refusal,
        /// Whether the subject is a workload (its pods come later).
        workload: bool,
    },
    /// What the pods of a workload will get: the instrumentation, then where and how (two
    /// short lines: Kubernetes asks webhooks to keep each warning under 120 characters).
    Preview {
        /// The workload.
        subject: Subject,
        /// The instrumentation, as messages name it.
        label: String,
    },
    /// The second line of the preview: containers, service name, platform.
    PreviewContainers {
        /// The workload.
        subject: Subject,
        /// The containers its pods will get instrumented.
        containers: Vec<String>,
        /// The first container's `OTEL_SERVICE_NAME`.
        service_name: Option<String>,
        /// `glibc` or `musl`.
        platform: &'static str,
    },
    /// A line of the preview when the image options apply: the image the pods will get.
    PreviewImage {
        /// The workload.
        subject: Subject,
        /// The image, rewritten (and pinned when it names a digest).
        image: String,
        /// Whether its digest is looked up when each pod is created (`resolve`).
        resolved_later: bool,
        /// Whether it is mounted as an image volume rather than copied by an init container.
        volume: bool,
    },
    /// A line of the preview: the settings' pull secrets the pod template lacks.
    PreviewPullSecrets {
        /// The workload.
        subject: Subject,
        /// The Secrets' names.
        names: Vec<String>,
    },
    /// The annotation on the workload itself, where it does nothing.
    MisplacedAnnotation {
        /// The workload.
        subject: Subject,
        /// The annotation's value.
        value: String,
    },
    /// Cluster mode: the namespace of a pod that asks for nothing itself could not be read.
    NamespaceUnread {
        /// Why it could not be read.
        refusal: Refusal,
    },
    /// The doctor found something that makes the injection less useful than it looks.
    Check(Box<CheckNotice>),
    /// `inspectAppImages` found something in a container's image.
    AppImage(Box<AppImageNotice>),
}

/// What shows that a pod is already instrumented.
#[derive(Debug, Clone, PartialEq)]
pub enum AlreadyInstrumented {
    /// One of the operator's init containers.
    InitContainer(String),
    /// The packages' image volume (`delivery: imageVolume`).
    ImageVolume,
    /// The Go instrumentation's sidecar.
    Sidecar,
    /// A container that sets the node-name variable the injection adds.
    NodeNameVar {
        /// The container.
        container: String,
    },
}

impl Notice {
    /// The warning's text appended to `out`. The warnings that end most admissions (what was
    /// injected or will be, and a missing endpoint) are written piece by piece, without the
    /// formatting machinery, whose first use costs a fresh instance more than the text; the
    /// others through their `Display`.
    pub fn write_to(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = match self {
            Notice::Injected {
                label,
                containers,
                pod,
            } => injected(out, label, containers, pod),
            Notice::NoEndpoint { label } => no_endpoint(out, label),
            Notice::Preview { subject, label } => preview(out, subject, label),
            Notice::PreviewContainers {
                subject,
                containers,
                service_name,
                platform,
            } => preview_containers(out, subject, containers, service_name.as_deref(), platform),
            _ => write!(out, "{self}"),
        };
    }
}

impl Display for Notice {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Injected {
                label,
                containers,
                pod,
            } => injected(f, label, containers, pod),
            Notice::NoEndpoint { label } => no_endpoint(f, label),
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
            Notice::NotInjected { refusal, workload } => not_injected(f, refusal, *workload),
            Notice::Preview { subject, label } => preview(f, subject, label),
            Notice::PreviewContainers {
                subject,
                containers,
                service_name,
                platform,
            } => preview_containers(f, subject, containers, service_name.as_deref(), platform),
            Notice::PreviewImage {
                subject,
                image,
                resolved_later,
                volume,
            } => preview_image(f, subject, image, *resolved_later, *volume),
            Notice::PreviewPullSecrets { subject, names } => write!(
                f,
                "{subject}: pods will get the image pull secret{} {} after their own",
                plural(names),
                quoted_list(names)
            ),
            Notice::NamespaceUnread { refusal } => write!(
                f,
                "admitted without reading its namespace's {INJECT_PYTHON} annotation: {refusal}"
            ),
            Notice::MisplacedAnnotation { subject, value } => misplaced(f, subject, value),
            Notice::Check(c) => c.fmt(f),
            Notice::AppImage(a) => a.fmt(f),
        }
    }
}

fn plural(items: &[String]) -> &'static str {
    if items.len() == 1 { "" } else { "s" }
}

fn not_injected(f: &mut Formatter<'_>, refusal: &Refusal, workload: bool) -> fmt::Result {
    if workload {
        write!(
            f,
            "{refusal}; admitted anyway (failureAction: admit), so its pods will start without instrumentation"
        )
    } else {
        write!(f, "no instrumentation injected: {refusal}")
    }
}

/// The injection's warning (it ends most pod admissions).
fn injected<W: fmt::Write>(
    f: &mut W,
    label: &str,
    containers: &[String],
    pod: &str,
) -> fmt::Result {
    f.write_str("injected OpenTelemetry Python auto-instrumentation (")?;
    f.write_str(label)?;
    f.write_str(") into container")?;
    f.write_str(plural(containers))?;
    f.write_str(" ")?;
    quoted_list(containers).write_to(f)?;
    f.write_str(" of pod ")?;
    f.write_str(pod)
}

fn no_endpoint<W: fmt::Write>(f: &mut W, label: &str) -> fmt::Result {
    f.write_str(label)?;
    f.write_str(" sets no exporter.endpoint, so the Python SDK sends telemetry to its default http://localhost:4318; set exporter.endpoint in the policy settings to reach a collector")
}

/// A workload's preview (it ends most workload admissions), with its containers next.
fn preview<W: fmt::Write>(f: &mut W, subject: &Subject, label: &str) -> fmt::Result {
    subject.write_to(f)?;
    f.write_str(": pods will get OpenTelemetry Python auto-instrumentation (")?;
    f.write_str(label)?;
    f.write_str(")")
}

fn preview_containers<W: fmt::Write>(
    f: &mut W,
    subject: &Subject,
    containers: &[String],
    service_name: Option<&str>,
    platform: &str,
) -> fmt::Result {
    subject.write_to(f)?;
    f.write_str(": in container")?;
    f.write_str(plural(containers))?;
    f.write_str(" ")?;
    quoted_list(containers).write_to(f)?;
    if let Some(name) = service_name {
        f.write_str(", OTEL_SERVICE_NAME=")?;
        f.write_str(name)?;
    }
    f.write_str(", platform ")?;
    f.write_str(platform)
}

/// The image a workload's pods will get, and how it reaches them.
fn preview_image(
    f: &mut Formatter<'_>,
    subject: &Subject,
    image: &str,
    resolved_later: bool,
    volume: bool,
) -> fmt::Result {
    let digest = match resolved_later {
        true => ", pinned to the digest its tag has when each pod is created",
        false => "",
    };
    let how = match volume {
        true => "mounted as an image volume",
        false => "copied by an init container",
    };
    write!(
        f,
        "{subject}: pods will get the image {image}{digest}, {how}"
    )
}

/// The workload's own annotation, and the exact place its pods read it from.
fn misplaced(f: &mut Formatter<'_>, subject: &Subject, value: &str) -> fmt::Result {
    let place = match subject {
        Subject::Workload { template, .. } => format!("{template}.metadata.annotations"),
        Subject::Pod { .. } => "metadata.annotations".to_string(),
    };
    write!(
        f,
        "{subject} has {INJECT_PYTHON}={} in its own metadata.annotations, where it does nothing: put it in {place} so that its pods get it",
        shown(value)
    )
}

impl Display for AlreadyInstrumented {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AlreadyInstrumented::InitContainer(name) => {
                write!(f, "it already has the init container {name:?}")
            }
            AlreadyInstrumented::ImageVolume => {
                write!(f, "it already has the image volume {VOLUME_NAME:?}")
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
