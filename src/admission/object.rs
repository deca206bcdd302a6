//! The object's head, read before its pod: does its pod ask, and whom do messages name?
//!
//! The object, before its pod is read: its kind, its pod's `inject-python` annotation (the one
//! question most requests need answered) and a workload's own metadata ([`head`], read in the
//! payload's pass when it can be); then whom the messages are about and in which namespace
//! references resolve.

pub mod head;

pub use head::{Ask, Head};

use super::request::Request;
use crate::pod::PodView;
use crate::refusal::{PayloadProblem, Subject};
use crate::target::{Role, Target};

/// The object's JSON text, as the payload holds it (checked JSON).
#[derive(Debug, Clone, Copy)]
pub struct ObjectText<'a>(&'a str);

impl<'a> ObjectText<'a> {
    /// The text.
    pub fn get(self) -> &'a str {
        self.0
    }
}

/// The object, which must be a JSON object of the target's kind, and its head (as the payload's
/// pass read it, else read now).
pub fn read_head<'a>(
    request: &Request<'a>,
    target: &Target,
) -> Result<(ObjectText<'a>, Head), PayloadProblem> {
    let kind = target.kind;
    let Some(raw) = request.object else {
        return Err(PayloadProblem::NoObject {
            kind,
            operation: request.operation_name(),
        });
    };
    if raw.as_bytes().first() != Some(&b'{') {
        return Err(PayloadProblem::ObjectNotAnObject { kind });
    }
    let head = request
        .take_head(target)
        .unwrap_or_else(|| head::read(raw, target));
    match head.kind.as_deref() {
        Some(k) if k != kind => Err(PayloadProblem::KindMismatch {
            kind,
            object_kind: k.to_string(),
        }),
        _ => Ok((ObjectText(raw), head)),
    }
}

/// The request's namespace, else the object's own.
pub fn namespace_of(request: &Request<'_>, head: &Head) -> String {
    match (
        request.namespace.as_str(),
        head.metadata.namespace.as_deref(),
    ) {
        ("", Some(ns)) => ns.to_string(),
        (ns, _) => ns.to_string(),
    }
}

/// Who the messages are about, and in which namespace the references resolve.
pub fn subject(request: &Request<'_>, head: &Head, target: &Target, pod: &PodView) -> Subject {
    let namespace = match (namespace_of(request, head), &pod.metadata.namespace) {
        (ns, Some(own)) if ns.is_empty() && target.role == Role::Pod => own.clone(),
        (ns, _) => ns,
    };
    match target.role {
        Role::Pod => Subject::Pod {
            name: pod.display_name(),
            namespace,
        },
        Role::Template => Subject::Workload {
            kind: target.kind,
            namespace,
            name: head.display_name(),
            template: target.template_path(),
        },
    }
}
