//! The payload or the object in it cannot be read, or the plan cannot be written into the object.

use std::fmt::{self, Display, Formatter};

/// The admission payload, or the object it carries, is not what the API server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadProblem {
    /// Not `{"request": AdmissionRequest, "settings": {...}}`.
    Unreadable {
        /// The parser's message.
        error: String,
    },
    /// `request.kind` and the object's own `kind` disagree.
    KindMismatch {
        /// The kind the request names.
        kind: &'static str,
        /// The kind the object says it is.
        object_kind: String,
    },
    /// A CREATE or UPDATE without `request.object`.
    NoObject {
        /// The kind the request names.
        kind: &'static str,
        /// `CREATE` or `UPDATE`.
        operation: &'static str,
    },
    /// `request.object` is JSON but not an object.
    ObjectNotAnObject {
        /// The kind the request names.
        kind: &'static str,
    },
    /// A field the policy reads has the wrong type.
    InvalidObject {
        /// The kind the request names.
        kind: &'static str,
        /// The dotted path of the field.
        path: String,
        /// What is wrong with it.
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

/// The plan could not be written into the object (its shape changed under the view).
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyProblem {
    /// `spec` is not a JSON object.
    SpecNotAnObject,
    /// A container to instrument is not a JSON object.
    ContainerNotAnObject {
        /// The container's name.
        container: String,
        /// `containers` or `initContainers`.
        list: &'static str,
        /// Its index in that list.
        index: usize,
    },
}

impl Display for ApplyProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ApplyProblem::SpecNotAnObject => f.write_str("request.object.spec is not an object"),
            ApplyProblem::ContainerNotAnObject {
                container,
                list,
                index,
            } => write!(
                f,
                "request.object.spec.{list}[{index}] (container {container:?}) is not an object"
            ),
        }
    }
}
