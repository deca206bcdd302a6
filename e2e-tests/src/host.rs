//! A waPC host for the policy module: the same three guest calls Kubewarden's policy-server and
//! `kwctl run` make, over wasmtime (with WASI), plus the AdmissionResponse that kwctl derives from
//! a `validate` result.
//!
//! ```no_run
//! use e2e_tests::host::PolicyHost;
//! let module = std::fs::read("target/wasm32-wasip1/release/otel_python_policy.wasm").unwrap();
//! let host = PolicyHost::new(&module).unwrap();
//! assert_eq!(host.protocol_version().unwrap(), "v1");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wapc::WapcHost;
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

/// The module compiled by wasmtime and linked (WASI + waPC imports), not yet instantiated.
/// Compiling is the expensive step; [`CompiledPolicy::instantiate`] is cheap and can be repeated.
#[derive(Clone)]
pub struct CompiledPolicy {
    pre: WasmtimeEngineProviderPre,
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompiledPolicy")
    }
}

impl CompiledPolicy {
    /// Compile a module from its bytes (a `.wasm` binary).
    pub fn compile(module: &[u8]) -> Result<Self> {
        let pre = WasmtimeEngineProviderBuilder::new()
            .module_bytes(module)
            .build_pre()
            .map_err(|e| anyhow!("cannot compile the policy module: {e}"))?;
        Ok(Self { pre })
    }

    /// A fresh instance (its own store and linear memory), with `wapc_init` already run.
    pub fn instantiate(&self) -> Result<PolicyHost> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| anyhow!("cannot create a wasmtime store for the policy: {e}"))?;
        let host = WapcHost::new(Box::new(engine), Some(Box::new(host_callback)))
            .map_err(|e| anyhow!("cannot instantiate the policy module: {e}"))?;
        Ok(PolicyHost { host })
    }
}

/// Answers the guest's host calls the way a policy-server with no extra capabilities does:
/// logging (`kubewarden/tracing/log`) is accepted and discarded, everything else is refused.
/// Set `POLICY_HOST_LOG=1` to see the guest's log records on stderr.
fn host_callback(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> std::result::Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => {
            if std::env::var_os("POLICY_HOST_LOG").is_some() {
                eprintln!("[policy log] {}", String::from_utf8_lossy(payload));
            }
            Ok(Vec::new())
        }
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available in this host"
        )
        .into()),
    }
}

/// One instantiated policy module. Calls are serialised by the module's single instance.
pub struct PolicyHost {
    host: WapcHost,
}

impl fmt::Debug for PolicyHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHost")
            .field("id", &self.host.id())
            .finish()
    }
}

impl PolicyHost {
    /// Compile and instantiate a module from its bytes.
    pub fn new(module: &[u8]) -> Result<Self> {
        CompiledPolicy::compile(module)?.instantiate()
    }

    /// Read, compile and instantiate a module file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read module {}", path.display()))?;
        Self::new(&bytes).with_context(|| format!("module {}", path.display()))
    }

    /// Call a guest function with raw bytes; returns the guest's raw answer.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.host
            .call(operation, payload)
            .map_err(|e| anyhow!("guest call `{operation}` failed: {e}"))
    }

    /// The `protocol_version` guest call, decoded: `"v1"` for a kubewarden-wapc policy.
    pub fn protocol_version(&self) -> Result<String> {
        let raw = self.call("protocol_version", b"")?;
        let value: Value = serde_json::from_slice(&raw).with_context(|| {
            format!(
                "protocol_version answer is not JSON: {}",
                String::from_utf8_lossy(&raw)
            )
        })?;
        match value {
            Value::String(s) => Ok(s),
            other => bail!("protocol_version answer is not a JSON string: {other}"),
        }
    }

    /// The `validate_settings` guest call: the payload is the settings object itself.
    /// Returns the guest's JSON (`{"valid": bool, "message": str|null}`).
    pub fn validate_settings(&self, settings: &Value) -> Result<Value> {
        let raw = self.call("validate_settings", &serde_json::to_vec(settings)?)?;
        parse_answer("validate_settings", &raw)
    }

    /// The `validate` guest call with the payload Kubewarden builds:
    /// `{"request": <AdmissionRequest>, "settings": <settings>}`.
    /// Returns the guest's JSON (a ValidationResponse, snake_case keys).
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<Value> {
        let raw = self.call("validate", &validate_payload(request, settings))?;
        parse_answer("validate", &raw)
    }
}

fn parse_answer(operation: &str, raw: &[u8]) -> Result<Value> {
    serde_json::from_slice(raw).with_context(|| {
        format!(
            "`{operation}` answer is not JSON: {}",
            String::from_utf8_lossy(raw)
        )
    })
}

/// The exact bytes sent to the guest's `validate`: `{"request": .., "settings": ..}`.
pub fn validate_payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("a serde_json::Value always serialises")
}

/// The AdmissionRequest as kwctl and policy-server hand it to the policy: they read the request
/// into a typed Kubernetes `admission/v1` AdmissionRequest (`uid`, `kind`, `resource`,
/// `operation` and `userInfo` required, with their types; unknown fields dropped; a null
/// `object`, `oldObject` or `options` left out) and send that. A request they cannot read is
/// refused before the policy runs; the message names the field.
///
/// [`PolicyHost::validate`] sends any JSON it is given, so that tests can reach the policy with
/// payloads no Kubewarden host would build; `policy-run` uses this function first, as kwctl does.
pub fn kubewarden_admission_request(request: &Value) -> Result<Value> {
    if !request.is_object() {
        bail!(
            "the request is not a JSON object (an AdmissionRequest or an AdmissionReview was expected)"
        );
    }
    let typed: KubewardenAdmissionRequest = serde_json::from_value(request.clone())
        .map_err(|e| anyhow!("the request is not an admission/v1 AdmissionRequest: {e}"))?;
    Ok(serde_json::to_value(typed)?)
}

/// Kubernetes' `admission/v1` AdmissionRequest, the fields and types Kubewarden reads.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubewardenAdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    options: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// `authentication/v1` UserInfo.
#[derive(Debug, Deserialize, Serialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    extra: Option<BTreeMap<String, Vec<String>>>,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(object: Value) -> Value {
        json!({"uid": "u-1", "operation": "CREATE", "object": object})
    }

    #[test]
    fn kubewarden_request_drops_unknown_fields_and_null_objects() {
        let req = json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "DELETE", "userInfo": {"username": "me", "groups": ["g"]},
            "object": null, "oldObject": {"a": 1}, "somethingElse": true});
        assert_eq!(
            kubewarden_admission_request(&req).unwrap(),
            json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "operation": "DELETE", "userInfo": {"username": "me", "groups": ["g"]},
                "oldObject": {"a": 1}})
        );
    }

    #[test]
    fn kubewarden_request_needs_user_info_and_typed_fields() {
        let req = json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"}, "operation": "CREATE"});
        let err = kubewarden_admission_request(&req).unwrap_err().to_string();
        assert!(err.contains("missing field `userInfo`"), "{err}");
        let mut typed = req.clone();
        typed["userInfo"] = json!({"groups": "system:masters"});
        let err = kubewarden_admission_request(&typed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type"), "{err}");
        assert!(kubewarden_admission_request(&json!([1])).is_err());
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
