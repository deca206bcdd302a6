//! The cluster, as the policy reads it in cluster mode: Kubewarden's `kubernetes/*` host
//! capabilities behind a trait the policy owns, so the decision is tested natively against an
//! in-memory cluster and runs in policy-server against the real one.
//!
//! [`Cluster::call`] is one waPC host call in the `kubernetes` namespace (`get_resource`,
//! `list_resources_all`, `can_i`, ...): the SDK's request struct as JSON in, the host's JSON
//! answer out, or the host's error message. Everything above it (which calls, in which order,
//! what their answers and failures mean) is the policy's own code, in this module.

/// A source of answers to `kubernetes/*` host calls.
pub trait Cluster {
    /// One host call: `operation` in the `kubernetes` namespace with the JSON `payload`.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// The host of a wasm module: Kubewarden's policy-server or kwctl, through waPC.
pub struct WapcHost;

impl Cluster for WapcHost {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        wapc_guest::host_call("kubewarden", "kubernetes", operation, payload)
            .map_err(|e| e.to_string())
    }
}

/// A cluster that answers nothing: settings-only mode makes no host call.
pub struct NoCluster;

impl Cluster for NoCluster {
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("no cluster to answer kubernetes/{operation}"))
    }
}
