//! The answer a host gives for a `validate` call, as Kubernetes and `kwctl run` see it: an
//! admission/v1 AdmissionResponse, derived from the guest's ValidationResponse the way
//! Kubewarden's policy-evaluator does.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The policy's decision as the SDK's `ValidationResponse` carries it (snake_case on the wire).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Validation {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// `status` of a rejected AdmissionResponse.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ResponseStatus {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<u16>,
}

/// An admission/v1 AdmissionResponse in the shape `kwctl run` prints (camelCase; `patchType`,
/// `patch` and `status` left out when absent; `auditAnnotations` and `warnings` printed as null).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub patch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<ResponseStatus>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// Message used when a policy returns a mutated object for a request without one (DELETE).
pub const MUTATION_WITHOUT_OBJECT: &str = "Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    /// A rejection for a failed guest call, as policy-server reports it (HTTP 500).
    pub fn internal_error(uid: &str, message: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            patch_type: None,
            patch: None,
            status: Some(ResponseStatus {
                message: Some(format!("internal server error: {message}")),
                code: Some(500),
            }),
            audit_annotations: None,
            warnings: None,
        }
    }

    /// The decoded JSON patch, if the response carries one.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>> {
        let Some(patch) = &self.patch else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .context("patch is not base64")?;
        Ok(Some(
            serde_json::from_slice(&bytes).context("patch is not a JSON patch")?,
        ))
    }

    /// `status.message`, or empty.
    pub fn message(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.message.as_deref())
            .unwrap_or_default()
    }
}

/// Turn a `validate` answer into the AdmissionResponse kwctl prints for `request`
/// (an AdmissionRequest): the patch is `json_patch::diff(request.object, mutated_object)`,
/// base64-encoded, and left out when empty; a mutation of a request with a null/absent object
/// is turned into a rejection.
pub fn admission_response(request: &Value, validation: &Value) -> Result<AdmissionResponse> {
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let validation: Validation = serde_json::from_value(validation.clone())
        .context("the guest's validate answer is not a ValidationResponse")?;
    let object = request.get("object").filter(|o| !o.is_null());

    let (patch_type, patch) = match (&validation.mutated_object, object) {
        (None, _) => (None, None),
        (Some(_), None) => {
            return Ok(AdmissionResponse {
                uid,
                allowed: false,
                patch_type: None,
                patch: None,
                status: Some(ResponseStatus {
                    message: Some(MUTATION_WITHOUT_OBJECT.to_owned()),
                    code: None,
                }),
                audit_annotations: None,
                warnings: None,
            });
        }
        (Some(mutated), Some(original)) => {
            let diff = json_patch::diff(original, mutated);
            if diff.0.is_empty() {
                (None, None)
            } else {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&diff)?);
                (Some("JSONPatch".to_owned()), Some(encoded))
            }
        }
    };
    let status = if validation.message.is_some() || validation.code.is_some() {
        Some(ResponseStatus {
            message: validation.message,
            code: validation.code,
        })
    } else {
        None
    };
    Ok(AdmissionResponse {
        uid,
        allowed: validation.accepted,
        patch_type,
        patch,
        status,
        audit_annotations: validation.audit_annotations,
        warnings: validation.warnings,
    })
}

/// The exact bytes sent to the guest's `validate`: `{"request": .., "settings": ..}`.
pub fn validate_payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("a serde_json::Value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(object: Value) -> Value {
        json!({"uid": "u-1", "operation": "CREATE", "object": object})
    }

    #[test]
    fn mutation_becomes_a_base64_json_patch_against_the_request_object() {
        let validation = json!({"accepted": true, "message": null, "code": null,
            "mutated_object": {"a": 1, "b": [1, 2]}, "audit_annotations": null, "warnings": ["w"]});
        let resp = admission_response(&request(json!({"a": 1, "b": [1]})), &validation).unwrap();
        assert_eq!(resp.uid, "u-1");
        assert!(resp.allowed);
        assert_eq!(resp.patch_type.as_deref(), Some("JSONPatch"));
        assert_eq!(resp.status, None);
        assert_eq!(resp.warnings, Some(vec!["w".to_owned()]));
        let patch = serde_json::to_value(resp.decoded_patch().unwrap().unwrap()).unwrap();
        assert_eq!(patch, json!([{"op": "add", "path": "/b/1", "value": 2}]));
    }

    #[test]
    fn unchanged_mutated_object_gives_no_patch() {
        let obj = json!({"a": 1});
        let validation = json!({"accepted": true, "mutated_object": obj});
        let resp = admission_response(&request(obj.clone()), &validation).unwrap();
        assert!(resp.allowed);
        assert_eq!(resp.patch, None);
        assert_eq!(resp.patch_type, None);
        let line = serde_json::to_string(&resp).unwrap();
        assert_eq!(
            line,
            r#"{"uid":"u-1","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn mutation_of_a_null_object_is_a_rejection() {
        let validation = json!({"accepted": true, "mutated_object": {"a": 1}});
        let resp = admission_response(&request(Value::Null), &validation).unwrap();
        assert!(!resp.allowed);
        assert_eq!(resp.patch, None);
        assert_eq!(
            resp.status.unwrap().message.as_deref(),
            Some(MUTATION_WITHOUT_OBJECT)
        );
    }

    #[test]
    fn rejection_carries_message_and_code_in_status() {
        let validation = json!({"accepted": false, "message": "no", "code": 400,
            "mutated_object": null, "audit_annotations": {"k": "v"}, "warnings": null});
        let resp = admission_response(&request(json!({})), &validation).unwrap();
        let line = serde_json::to_string(&resp).unwrap();
        assert_eq!(
            line,
            r#"{"uid":"u-1","allowed":false,"status":{"message":"no","code":400},"auditAnnotations":{"k":"v"},"warnings":null}"#
        );
    }
}
