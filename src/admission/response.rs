//! The decision, `failureAction`, and the answer the host reads.
//!
//! The decision and the answer the host reads: one place maps a decision to `accepted`, the
//! message, the code, the mutated object and the warnings, and `failureAction: admit` turns a
//! refusal that may be admitted into a warning.

use serde::Serialize;
use serde_json::Value;

use crate::refusal::{Notice, Refusal};
use crate::settings::FailureAction;

/// What the policy decided.
#[derive(Debug)]
pub enum Decision {
    /// Admitted unchanged, with these warnings.
    Accept(Vec<Notice>),
    /// Admitted as this object.
    Mutate {
        /// The mutated object, as JSON text.
        object: String,
        /// The warnings.
        notices: Vec<Notice>,
    },
    /// Refused.
    Refuse(Refusal),
}

impl Decision {
    /// The decision under `failureAction`: with `admit`, a refusal that may be admitted is, with
    /// the reason as a warning.
    pub fn under(self, failure_action: FailureAction) -> Decision {
        match self {
            Decision::Refuse(refusal)
                if failure_action == FailureAction::Admit && refusal.follows_failure_action() =>
            {
                let workload = refusal.is_about_workload();
                Decision::Accept(vec![Notice::NotInjected { refusal, workload }])
            }
            other => other,
        }
    }
}

/// The answer to `validate`: the SDK's `ValidationResponse`, field for field, with the mutated
/// object kept as the JSON text the policy wrote (the request's own text with the injection spliced
/// in) instead of a document built to be written out again.
#[derive(Debug)]
pub struct Response {
    /// Whether the request is admitted.
    pub accepted: bool,
    /// Why not.
    pub message: Option<String>,
    /// The HTTP code of a refusal.
    pub code: Option<u16>,
    /// The mutated object, as JSON text.
    pub mutated_object: Option<String>,
    /// The warnings.
    pub warnings: Option<Vec<String>>,
}

impl From<Decision> for Response {
    fn from(decision: Decision) -> Response {
        let warnings = |notices: Vec<Notice>| {
            (!notices.is_empty()).then(|| notices.iter().map(ToString::to_string).collect())
        };
        let (accepted, message, code, mutated_object, warnings) = match decision {
            Decision::Accept(notices) => (true, None, None, None, warnings(notices)),
            Decision::Mutate { object, notices } => {
                (true, None, None, Some(object), warnings(notices))
            }
            Decision::Refuse(r) => (false, Some(r.to_string()), Some(r.code()), None, None),
        };
        Response {
            accepted,
            message,
            code,
            mutated_object,
            warnings,
        }
    }
}

impl Response {
    /// The mutated object as a document (for tests and tools).
    pub fn mutated(&self) -> Option<Value> {
        self.mutated_object
            .as_ref()
            .and_then(|m| serde_json::from_str(m).ok())
    }

    /// The response as the host reads it, in the SDK's field order. The mutated object is written
    /// as it is: it is valid JSON by construction (`inject::apply` splices whole values into the
    /// request's text), and reading it again only to write it out would cost a pass over the pod.
    pub fn to_json(&self) -> Vec<u8> {
        let plain = self.message.is_none() && self.code.is_none() && self.warnings.is_none();
        if self.accepted && plain && self.mutated_object.is_none() {
            return ACCEPTED.to_vec();
        }
        let object = self.mutated_object.as_deref();
        let mut out = Vec::with_capacity(96 + object.map_or(0, str::len));
        out.extend_from_slice(br#"{"accepted":"#);
        out.extend_from_slice(if self.accepted { b"true" } else { b"false" });
        let field = |out: &mut Vec<u8>, name: &str| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        field(&mut out, "message");
        write_json(&mut out, &self.message);
        field(&mut out, "code");
        write_json(&mut out, &self.code);
        field(&mut out, "mutated_object");
        out.extend_from_slice(object.unwrap_or("null").as_bytes());
        field(&mut out, "audit_annotations");
        out.extend_from_slice(b"null");
        field(&mut out, "warnings");
        write_json(&mut out, &self.warnings);
        out.push(b'}');
        out
    }
}

/// The answer to most requests: admitted unchanged, nothing to say.
const ACCEPTED: &[u8] = br#"{"accepted":true,"message":null,"code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#;

fn write_json<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    // Strings, numbers and lists of strings: serde_json cannot fail on them.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_acceptance_is_written_as_any_answer_is() {
        let plain = Response::from(Decision::Accept(Vec::new()));
        let written = Response {
            warnings: Some(Vec::new()),
            ..Response::from(Decision::Accept(Vec::new()))
        }
        .to_json();
        let without_warnings = String::from_utf8(written).unwrap().replace("[]", "null");
        assert_eq!(
            String::from_utf8(plain.to_json()).unwrap(),
            without_warnings
        );
    }
}
