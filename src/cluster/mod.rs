//! Cluster mode's host calls behind a trait the policy owns.
//!
//! The cluster, as the policy reads it in cluster mode: Kubewarden's `kubernetes/*` host
//! capabilities behind a trait the policy owns ([`Cluster`]), so the decision is tested natively
//! against an in-memory cluster and runs in policy-server against the real one. Above the trait:
//! [`lookups`] (which calls, in which order, what their answers and failures mean), the cluster's
//! Instrumentations as a [`catalog`], and the pod's surroundings ([`namespaces`]: the Namespace's
//! annotations and the owner's owner).

pub mod catalog;
pub mod lookups;
pub mod namespaces;

pub use crate::keys::KINDS;
pub use lookups::Lookups;

/// A source of answers to `kubernetes/*` host calls.
pub trait Cluster {
    /// One host call: `operation` in the `kubernetes` namespace with the JSON `payload`: the
    /// host's JSON answer, or its error message.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// The host of a wasm module: Kubewarden's policy-server or kwctl, through waPC.
pub struct WapcHost;

impl Cluster for WapcHost {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        // waPC's error says `Host error: <the host's message>`; the message is the host's part.
        wapc_guest::host_call("kubewarden", "kubernetes", operation, payload).map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix("Host error: ") {
                Some(message) => message.to_string(),
                None => text,
            }
        })
    }
}

/// A cluster that answers nothing: settings-only mode makes no host call.
pub struct NoCluster;

impl Cluster for NoCluster {
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("no cluster to answer kubernetes/{operation}"))
    }
}
