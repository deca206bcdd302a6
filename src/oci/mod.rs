//! OCI registries, as the policy reads them: Kubewarden's `oci/*` host capabilities behind a
//! trait the policy owns ([`Registry`]; in the module [`crate::host::WapcHost`]), so the decision
//! is tested natively against an in-memory registry and runs in policy-server against real ones.
//! Above the trait, [`lookups`]: a tag's manifest digest and an image's configuration.

pub mod lookups;

pub use lookups::{ImageConfig, Lookups};

/// A source of answers to `oci/*` host calls.
pub trait Registry {
    /// One host call: `operation` (`v1/manifest_digest`, `v1/oci_manifest_config`) in the `oci`
    /// namespace with the JSON `payload`: the host's JSON answer, or its error message.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}
