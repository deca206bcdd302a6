//! What runs the policy for a case: the native core, the built module in a waPC host, kwctl.

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cluster::{Call, ClusterState};
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

/// One evaluation: the answer, and the host calls the guest made when the backend sees them.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub answer: Answer,
    /// The guest's host calls, in order, answered by the case's cluster: `None` without a cluster,
    /// or when the backend cannot see the calls its guest made (kwctl replays a session).
    pub calls: Option<Vec<Call>>,
}

impl Evaluation {
    /// An answer whose host calls this backend cannot report.
    pub fn unseen(answer: Answer) -> Self {
        Evaluation {
            answer,
            calls: None,
        }
    }

    /// An answer given by a guest whose host calls `cluster` answered (and logged).
    pub fn seen(answer: Answer, cluster: Option<&Arc<ClusterState>>) -> Self {
        Evaluation {
            answer,
            calls: cluster.map(|c| c.calls()),
        }
    }
}

/// A host for the policy: `validate_settings` first, then `validate`, as policy-server and
/// `kwctl run` do. In cluster mode the case's cluster answers the guest's `kubernetes/*` host
/// calls; it is given with an empty call log.
pub trait Backend {
    fn name(&self) -> &str;
    fn evaluate(
        &self,
        settings: &Value,
        request: Request<'_>,
        cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Evaluation>;
    /// `validate` alone with these exact bytes, whatever the settings (what a host that skipped
    /// `validate_settings` would get): the guest's JSON answer, or `None` when the backend cannot.
    fn validate_only(
        &self,
        _payload: &[u8],
        _cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Option<Value>> {
        Ok(None)
    }
}

/// One guest call: payload bytes in, answer bytes out.
pub type GuestCall<'a> = Box<dyn Fn(&[u8]) -> Result<Vec<u8>> + 'a>;

/// The guest's `validate`: payload bytes and, in cluster mode, the cluster that answers its host
/// calls (without one, host calls are refused, as by a host that offers none).
pub type GuestValidate<'a> = Box<dyn Fn(&[u8], Option<&Arc<ClusterState>>) -> Result<Vec<u8>> + 'a>;

/// A guest reached in-process through its two calls: the native core linked as a library, or
/// the built module in a waPC host. Its host calls are the cluster's log.
pub struct Guest<'a> {
    pub name: String,
    pub validate_settings: GuestCall<'a>,
    pub validate: GuestValidate<'a>,
}

impl Backend for Guest<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(
        &self,
        settings: &Value,
        request: Request<'_>,
        cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Evaluation> {
        let raw = (self.validate_settings)(&serde_json::to_vec(settings)?)?;
        let answer: Value =
            serde_json::from_slice(&raw).context("validate_settings answer is not JSON")?;
        if answer.get("valid").and_then(Value::as_bool) != Some(true) {
            let message = answer["message"].as_str().unwrap_or_default().to_string();
            return Ok(Evaluation::seen(Answer::SettingsRefused(message), cluster));
        }
        let (payload, request) = match request {
            Request::None => return Ok(Evaluation::seen(Answer::SettingsAccepted, cluster)),
            Request::Json(r) => (validate_payload(r, settings), r.clone()),
            Request::Raw(bytes) => (bytes.to_vec(), Value::Null),
        };
        let raw = (self.validate)(&payload, cluster)?;
        let answer: Value = serde_json::from_slice(&raw).context("validate answer is not JSON")?;
        let response = admission_response(&request, &answer)?;
        Ok(Evaluation::seen(Answer::Response(response), cluster))
    }

    fn validate_only(
        &self,
        payload: &[u8],
        cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Option<Value>> {
        let raw = (self.validate)(payload, cluster)?;
        Ok(Some(serde_json::from_slice(&raw)?))
    }
}
