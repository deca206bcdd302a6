//! What runs the policy for a case: the native core, the built module in a waPC host, kwctl.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::response::{AdmissionResponse, admission_response, validate_payload};

/// What the policy is given: an AdmissionRequest, raw payload bytes, or nothing (settings only).
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    Json(&'a Value),
    Raw(&'a [u8]),
    None,
}

/// What a host answers, as a user of that host sees it.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `validate_settings` refused the settings, with this message; nothing was evaluated.
    SettingsRefused(String),
    /// The settings are valid and there was no request.
    SettingsAccepted,
    Response(AdmissionResponse),
    /// This backend cannot run the input (say why).
    Unsupported(String),
}

/// A host for the policy: `validate_settings` first, then `validate`, as policy-server and
/// `kwctl run` do.
pub trait Backend {
    fn name(&self) -> &str;
    fn evaluate(&self, settings: &Value, request: Request<'_>) -> Result<Answer>;
    /// `validate` alone with these exact bytes, whatever the settings (what a host that skipped
    /// `validate_settings` would get): the guest's JSON answer, or `None` when the backend cannot.
    fn validate_only(&self, _payload: &[u8]) -> Result<Option<Value>> {
        Ok(None)
    }
}

/// One guest call: payload bytes in, answer bytes out.
pub type GuestCall<'a> = Box<dyn Fn(&[u8]) -> Result<Vec<u8>> + 'a>;

/// A guest reached in-process through its two calls: the native core linked as a library, or
/// the built module in a waPC host.
pub struct Guest<'a> {
    pub name: String,
    pub validate_settings: GuestCall<'a>,
    pub validate: GuestCall<'a>,
}

impl Backend for Guest<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, settings: &Value, request: Request<'_>) -> Result<Answer> {
        let raw = (self.validate_settings)(&serde_json::to_vec(settings)?)?;
        let answer: Value =
            serde_json::from_slice(&raw).context("validate_settings answer is not JSON")?;
        if answer.get("valid").and_then(Value::as_bool) != Some(true) {
            let message = answer["message"].as_str().unwrap_or_default().to_string();
            return Ok(Answer::SettingsRefused(message));
        }
        let (payload, request) = match request {
            Request::None => return Ok(Answer::SettingsAccepted),
            Request::Json(r) => (validate_payload(r, settings), r.clone()),
            Request::Raw(bytes) => (bytes.to_vec(), Value::Null),
        };
        let raw = (self.validate)(&payload)?;
        let answer: Value = serde_json::from_slice(&raw).context("validate answer is not JSON")?;
        Ok(Answer::Response(admission_response(&request, &answer)?))
    }

    fn validate_only(&self, payload: &[u8]) -> Result<Option<Value>> {
        let raw = (self.validate)(payload)?;
        Ok(Some(serde_json::from_slice(&raw)?))
    }
}
