//! The `validate` payload, read once into a typed request.
//!
//! The request typed (operation enum, kind, namespace,
//! sub-resource), the object and the settings kept as the payload's JSON text. Only the request
//! fields the decision needs are read; `null` anywhere reads as absent. Most requests never need
//! more of the object and the settings than a few fields, and a fresh instance (policy-server
//! makes one per request) pays for every byte it builds.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::refusal::PayloadProblem;
use crate::target::Target;

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`.
#[derive(Deserialize, Default)]
struct Payload<'a> {
    #[serde(default, borrow)]
    request: Option<RawRequest<'a>>,
    #[serde(default, borrow)]
    settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRequest<'a> {
    kind: Option<Gvk>,
    operation: Option<String>,
    namespace: Option<String>,
    sub_resource: Option<String>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Gvk {
    group: Option<String>,
    kind: Option<String>,
}

/// What the API server asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
    /// Absent or not one of the above.
    Other,
}

/// The request, typed once; the object as JSON text (`None`: absent or `null`).
#[derive(Debug)]
pub struct Request<'a> {
    /// What the API server asks for.
    pub operation: Operation,
    /// The object's API group (`""` for core).
    pub group: String,
    /// The object's kind.
    pub kind: String,
    /// The request's namespace (empty when it names none).
    pub namespace: String,
    /// The sub-resource (`""` for the object itself).
    pub sub_resource: String,
    /// The object, as the payload's JSON text.
    pub object: Option<&'a RawValue>,
}

impl<'a> From<RawRequest<'a>> for Request<'a> {
    fn from(r: RawRequest<'a>) -> Self {
        let kind = r.kind.unwrap_or_default();
        Request {
            operation: match r.operation.as_deref() {
                Some("CREATE") => Operation::Create,
                Some("UPDATE") => Operation::Update,
                Some("DELETE") => Operation::Delete,
                Some("CONNECT") => Operation::Connect,
                _ => Operation::Other,
            },
            group: kind.group.unwrap_or_default(),
            kind: kind.kind.unwrap_or_default(),
            namespace: r.namespace.unwrap_or_default(),
            sub_resource: r.sub_resource.unwrap_or_default(),
            object: r.object,
        }
    }
}

impl Request<'_> {
    /// Where the pod sits in this request's object, for the requests the policy acts on: a Pod
    /// CREATE, and a CREATE or UPDATE of a workload; never a sub-resource.
    pub fn target(&self) -> Option<Target> {
        if !self.sub_resource.is_empty() {
            return None;
        }
        match self.operation {
            Operation::Create if self.group.is_empty() && self.kind == "Pod" => Some(Target::POD),
            Operation::Create | Operation::Update => Target::workload(&self.group, &self.kind),
            _ => None,
        }
    }

    /// The operation as the API server writes it.
    pub fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Other => "",
        }
    }
}

/// The request and the settings text of a `validate` payload.
pub fn read_payload(payload: &[u8]) -> Result<(Request<'_>, Option<&RawValue>), PayloadProblem> {
    // serde would also read a struct from a JSON list; the envelope is always an object.
    let is_object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed: Result<Payload, _> = if is_object {
        serde_json::from_slice(payload)
    } else {
        Err(serde::de::Error::custom("it is not a JSON object"))
    };
    let Payload { request, settings } = parsed.map_err(|e| PayloadProblem::Unreadable {
        error: e.to_string(),
    })?;
    Ok((request.unwrap_or_default().into(), settings))
}
