//! A waPC host for the policy module: the same three guest calls Kubewarden's policy-server and
//! `kwctl run` make, over wasmtime (with WASI). The AdmissionResponse that kwctl derives from a
//! `validate` result is the case harness's (`case_harness::response`), re-exported here.
//!
//! ```no_run
//! use e2e_tests::host::PolicyHost;
//! let module = std::fs::read("target/wasm32-wasip1/release/otel_python_policy.wasm").unwrap();
//! let host = PolicyHost::new(&module).unwrap();
//! assert_eq!(host.protocol_version().unwrap(), "v1");
//! ```

use std::fmt;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use wapc::WapcHost;
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

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
