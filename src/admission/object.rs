//! The object's head, read before its pod: does its pod ask, and whom do messages name?
//!
//! The object, before its pod is read: its kind, its pod's `inject-python` annotation (the one
//! question most requests need answered) and a workload's own metadata; then whom the messages are
//! about and in which namespace references resolve.

use serde::Deserialize;
use serde_json::Value;

use super::request::Request;
use crate::keys::{INJECT_PYTHON, is_off};
use crate::pod::PodView;
use crate::refusal::{PayloadProblem, Subject};
use crate::syntax::json_text::value_at;
use crate::target::{Role, Target};

/// What is read of the object before the pod: its kind, the pod's `inject-python` annotation,
/// and a workload's own metadata (`null` for a Pod, whose metadata is the pod's).
#[derive(Default, Deserialize)]
pub struct Head {
    /// The object's own `kind`.
    #[serde(default)]
    pub kind: Value,
    /// A workload's own metadata.
    #[serde(default)]
    pub metadata: Value,
    /// The pod's (template's) `inject-python` annotation, any JSON value.
    #[serde(skip)]
    pub inject: Option<Value>,
}

/// Whether the object's pods ask for instrumentation, as far as the object says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// No: the annotation is off, or absent outside cluster mode.
    No,
    /// The pod's own annotation asks (a value of the wrong type counts: reading the pod then
    /// says what is wrong with it).
    Itself,
    /// The pod says nothing, and in cluster mode its Namespace may ask for it.
    NamespaceMay,
}

impl Head {
    /// The name a workload object goes by in messages: its name, else its generateName prefix
    /// and `*`.
    pub fn display_name(&self) -> String {
        let meta = &self.metadata;
        crate::pod::display_name(meta["name"].as_str(), meta["generateName"].as_str())
    }

    /// Whether the pods ask; `cluster_mode` is asked only when the pod says nothing.
    pub fn ask(&self, cluster_mode: impl FnOnce() -> bool) -> Ask {
        let says_nothing = match self.inject.as_ref() {
            Some(v) if !v.as_str().is_some_and(is_off) => return Ask::Itself,
            Some(v) => v.as_str() == Some(""),
            None => true,
        };
        if says_nothing && cluster_mode() {
            Ask::NamespaceMay
        } else {
            Ask::No
        }
    }
}

/// A Pod's kind and `inject-python` annotation, read in one pass.
#[derive(Default, Deserialize)]
struct PodProbe {
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    metadata: Option<ProbeMeta>,
}

#[derive(Default, Deserialize)]
struct ProbeMeta {
    #[serde(default)]
    annotations: Option<ProbeAnnotations>,
}

#[derive(Default, Deserialize)]
struct ProbeAnnotations {
    #[serde(default, rename = "instrumentation.opentelemetry.io/inject-python")]
    inject: Option<Value>,
}

/// The object's JSON text, as the payload holds it (checked JSON).
#[derive(Debug, Clone, Copy)]
pub struct ObjectText<'a>(&'a str);

impl<'a> ObjectText<'a> {
    /// The text.
    pub fn get(self) -> &'a str {
        self.0
    }
}

/// The object, which must be a JSON object of the target's kind, and its head.
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
    let head = match target.role {
        Role::Pod => pod_head(raw),
        Role::Template => {
            let mut head: Head = serde_json::from_str(raw).unwrap_or_default();
            let path = [target.template, &["metadata", "annotations", INJECT_PYTHON]].concat();
            head.inject = value_at(raw, &path);
            head
        }
    };
    match head.kind.as_str() {
        Some(k) if k != kind => Err(PayloadProblem::KindMismatch {
            kind,
            object_kind: k.to_string(),
        }),
        _ => Ok((ObjectText(raw), head)),
    }
}

/// A Pod's head. A field of an unexpected type reads as "asks": reading the pod then says what
/// is wrong.
fn pod_head(object: &str) -> Head {
    match serde_json::from_str::<PodProbe>(object) {
        Ok(probe) => Head {
            kind: probe.kind,
            metadata: Value::Null,
            inject: probe
                .metadata
                .and_then(|m| m.annotations)
                .and_then(|a| a.inject),
        },
        Err(_) => Head {
            inject: Some(Value::Bool(true)),
            ..Head::default()
        },
    }
}

/// The request's namespace, else the object's own.
pub fn namespace_of(request: &Request<'_>, head: &Head) -> String {
    match (
        request.namespace.as_str(),
        head.metadata["namespace"].as_str(),
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
