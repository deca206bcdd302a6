//! A waPC host for the policy module: the same three guest calls Kubewarden's policy-server and
//! `kwctl run` make, over wasmtime (with WASI). The AdmissionResponse that kwctl derives from a
//! `validate` result is the case harness's (`case_harness::response`), re-exported here.
//! Host calls other than logging are refused, unless the instance has a host to answer them
//! ([`CompiledPolicy::instantiate_with_host`]): the cases' cluster and registry, answering as
//! policy-server does ([`crate::cluster`], [`crate::registry`]), or any other [`HostCalls`] (the
//! packaging tests give one backed by a real registry).
//!
//! ```no_run
//! use e2e_tests::host::PolicyHost;
//! let module = std::fs::read("target/wasm32-wasip1/release/otel_python_policy.wasm").unwrap();
//! let host = PolicyHost::new(&module).unwrap();
//! assert_eq!(host.protocol_version().unwrap(), "v1");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wapc::{HostCallback, WapcHost};
use wasmtime_provider::wasmtime::{Config, Engine, ProfilingStrategy};
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

use crate::cluster::ClusterState;

pub use case_harness::response::{
    AdmissionResponse, MUTATION_WITHOUT_OBJECT, ResponseStatus, Validation, admission_response,
    validate_payload,
};

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
        Self::build(WasmtimeEngineProviderBuilder::new().module_bytes(module))
    }

    /// [`CompiledPolicy::compile`] in an engine that also writes a perf map: each compiled
    /// function's address, size and name (from the module's name section, else
    /// `wasm[0]::function[N]`) appended to `/tmp/perf-<pid>.map` (wasmtime's
    /// `ProfilingStrategy::PerfMap`), for profilers to name the JIT code (see
    /// `e2e-tests/bench/wasm-profile.sh`). The engine's configuration is the one
    /// [`CompiledPolicy::compile`] gets from the provider (wasmtime's default) with only the
    /// profiler set, which registers the code after compiling it: the code and the instances are
    /// the same.
    pub fn compile_with_perf_map(module: &[u8]) -> Result<Self> {
        let mut config = Config::default();
        config.profiler(ProfilingStrategy::PerfMap);
        let engine =
            Engine::new(&config).map_err(|e| anyhow!("cannot create a wasmtime engine: {e}"))?;
        Self::build(
            WasmtimeEngineProviderBuilder::new()
                .engine(engine)
                .module_bytes(module),
        )
    }

    fn build(builder: WasmtimeEngineProviderBuilder<'_>) -> Result<Self> {
        let pre = builder
            .build_pre()
            .map_err(|e| anyhow!("cannot compile the policy module: {e}"))?;
        Ok(Self { pre })
    }

    /// A fresh instance (its own store and linear memory), with `wapc_init` already run.
    pub fn instantiate(&self) -> Result<PolicyHost> {
        self.instantiate_with(Box::new(host_callback))
    }

    /// A fresh instance whose host calls are answered as policy-server answers them: logging as in
    /// [`CompiledPolicy::instantiate`], a binding other than `kubewarden` refused with
    /// policy-server's `unknown binding: <binding>`, and every other call answered by `host`.
    /// Several instances may share one host.
    pub fn instantiate_with_host(&self, host: Arc<dyn HostCalls>) -> Result<PolicyHost> {
        self.instantiate_with(Box::new(
            move |_id, binding, namespace, operation, payload| {
                if binding != "kubewarden" {
                    return Err(format!("unknown binding: {binding}").into());
                }
                if (namespace, operation) == ("tracing", "log") {
                    log_record(payload);
                }
                host.answer(namespace, operation, payload)
                    .map_err(Into::into)
            },
        ))
    }

    /// [`CompiledPolicy::instantiate_with_host`] with a case's host: its cluster and registry
    /// ([`ClusterState::answer`], which logs every call).
    pub fn instantiate_with_cluster(&self, cluster: Arc<ClusterState>) -> Result<PolicyHost> {
        self.instantiate_with_host(cluster)
    }

    fn instantiate_with(&self, callback: Box<HostCallback>) -> Result<PolicyHost> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| anyhow!("cannot create a wasmtime store for the policy: {e}"))?;
        let host = WapcHost::new(Box::new(engine), Some(callback))
            .map_err(|e| anyhow!("cannot instantiate the policy module: {e}"))?;
        Ok(PolicyHost { host })
    }
}

/// What answers an instance's host calls (logging is the host's own): policy-server's callback
/// handler, as far as a test needs it.
pub trait HostCalls: Send + Sync {
    /// The answer to one call in the `kubewarden` binding: the payload, or the error text the
    /// guest reads.
    fn answer(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

impl HostCalls for ClusterState {
    fn answer(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        ClusterState::answer(self, namespace, operation, payload)
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
            log_record(payload);
            Ok(Vec::new())
        }
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available in this host"
        )
        .into()),
    }
}

/// A guest log record, on stderr when `POLICY_HOST_LOG` is set.
fn log_record(payload: &[u8]) {
    if std::env::var_os("POLICY_HOST_LOG").is_some() {
        eprintln!("[policy log] {}", String::from_utf8_lossy(payload));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
