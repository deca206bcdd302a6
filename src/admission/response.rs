//! The decision, `failureAction`, and the answer the host reads.
//!
//! The decision and the answer the host reads: one place maps a decision to `accepted`, the
//! message, the code, the mutated object and the warnings, and `failureAction: admit` turns a
//! refusal that may be admitted into a warning.

use serde_json::Value;

use crate::refusal::{Notice, Refusal};
use crate::settings::FailureAction;
use crate::syntax::json_text;

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
/// in) instead of a document built to be written out again, and the warnings kept as the notices
/// they are, written once, straight into the answer's text.
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
    /// What the warnings say (none: no warnings).
    notices: Vec<Notice>,
}

impl From<Decision> for Response {
    fn from(decision: Decision) -> Response {
        let (accepted, message, code, mutated_object, notices) = match decision {
            Decision::Accept(notices) => (true, None, None, None, notices),
            Decision::Mutate { object, notices } => (true, None, None, Some(object), notices),
            Decision::Refuse(r) => (false, Some(r.to_string()), Some(r.code()), None, Vec::new()),
        };
        Response {
            accepted,
            message,
            code,
            mutated_object,
            notices,
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

    /// The warnings, as the answer gives them (`None`: no warnings).
    pub fn warnings(&self) -> Option<Vec<String>> {
        let notices = &self.notices;
        (!notices.is_empty()).then(|| notices.iter().map(ToString::to_string).collect())
    }

    /// The response as the host reads it, in the SDK's field order. The mutated object is written
    /// as it is: it is valid JSON by construction (`inject::apply` splices whole values into the
    /// request's text), and reading it again only to write it out would cost a pass over the pod.
    pub fn to_json(&self) -> Vec<u8> {
        let plain = self.message.is_none() && self.code.is_none() && self.notices.is_empty();
        if self.accepted && plain && self.mutated_object.is_none() {
            return ACCEPTED.to_vec();
        }
        let object = self.mutated_object.as_deref();
        let mut out = String::with_capacity(96 + object.map_or(0, str::len));
        out.push_str(r#"{"accepted":"#);
        out.push_str(if self.accepted { "true" } else { "false" });
        out.push_str(r#","message":"#);
        match &self.message {
            Some(message) => json_text::push_string(&mut out, message),
            None => out.push_str("null"),
        }
        out.push_str(r#","code":"#);
        match self.code {
            Some(code) => out.push_str(&code.to_string()),
            None => out.push_str("null"),
        }
        out.push_str(r#","mutated_object":"#);
        out.push_str(object.unwrap_or("null"));
        out.push_str(r#","audit_annotations":null,"warnings":"#);
        write_warnings(&mut out, &self.notices);
        out.push('}');
        out.into_bytes()
    }
}

/// The notices as a JSON list of strings (`null` for none), each written through one buffer:
/// no string per warning.
fn write_warnings(out: &mut String, notices: &[Notice]) {
    if notices.is_empty() {
        out.push_str("null");
        return;
    }
    let mut text = String::with_capacity(256);
    for (i, notice) in notices.iter().enumerate() {
        out.push(if i == 0 { '[' } else { ',' });
        text.clear();
        notice.write_to(&mut text);
        json_text::push_string(out, &text);
    }
    out.push(']');
}

/// The answer to most requests: admitted unchanged, nothing to say.
const ACCEPTED: &[u8] = br#"{"accepted":true,"message":null,"code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::refusal::{Refusal, Subject};

    #[test]
    fn a_plain_acceptance_is_written_as_any_answer_is() {
        let plain = Response::from(Decision::Accept(Vec::new()));
        let written = Response::from(Decision::Mutate {
            object: "{}".into(),
            notices: Vec::new(),
        })
        .to_json();
        let with_object = String::from_utf8(plain.to_json())
            .unwrap()
            .replace(r#""mutated_object":null"#, r#""mutated_object":{}"#);
        assert_eq!(String::from_utf8(written).unwrap(), with_object);
    }

    /// The answer as serde_json writes its fields, the reference the direct writing follows.
    fn by_serde(r: &Response) -> String {
        let warnings = r.warnings();
        format!(
            r#"{{"accepted":{},"message":{},"code":{},"mutated_object":{},"audit_annotations":null,"warnings":{}}}"#,
            r.accepted,
            serde_json::to_string(&r.message).unwrap(),
            serde_json::to_string(&r.code).unwrap(),
            r.mutated_object.as_deref().unwrap_or("null"),
            serde_json::to_string(&warnings).unwrap(),
        )
    }

    #[test]
    fn answers_are_written_as_serde_json_writes_them() {
        let subject = Subject::Workload {
            kind: "Deployment",
            namespace: "n\\s".into(),
            name: "a\"b\u{1}\u{7f}é".into(),
            template: "spec.template".into(),
        };
        let notices = vec![
            Notice::MisplacedAnnotation {
                subject: subject.clone(),
                value: "tab\there\nnew \"q\" 日本".into(),
            },
            Notice::Preview {
                subject,
                label: "monitor/python".into(),
            },
            Notice::NoEndpoint { label: "x".into() },
        ];
        let refusal = Refusal::NoNamespace { kind: "Pod" };
        for decision in [
            Decision::Accept(notices.clone()),
            Decision::Mutate {
                object: r#"{"a":1}"#.into(),
                notices: notices[1..].to_vec(),
            },
            Decision::Mutate {
                object: "{}".into(),
                notices: Vec::new(),
            },
            Decision::Refuse(refusal),
        ] {
            let r = Response::from(decision);
            assert_eq!(String::from_utf8(r.to_json()).unwrap(), by_serde(&r));
        }
    }
}
