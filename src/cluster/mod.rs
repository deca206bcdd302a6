//! Cluster mode's host calls behind a trait the policy owns.
//!
//! The cluster, as the policy reads it in cluster mode: Kubewarden's `kubernetes/*` host
//! capabilities behind a trait the policy owns ([`Cluster`]; in the module
//! [`crate::host::WapcHost`]), so the decision is tested natively against an in-memory cluster
//! and runs in policy-server against the real one. Above the trait:
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
