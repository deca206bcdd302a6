//! The host's capabilities the policy calls, each behind a trait the policy owns.
//!
//! Kubernetes lookups go through [`Cluster`], OCI registry lookups through [`Registry`]; one
//! admission gets both as [`Hosts`]. In the module both are [`WapcHost`] (policy-server or kwctl,
//! through waPC); native tests give in-memory implementations, and [`NoHost`] answers nothing.

use crate::cluster::Cluster;
use crate::oci::Registry;

/// What answers the host calls of one admission.
#[derive(Clone, Copy)]
pub struct Hosts<'h> {
    /// The `kubernetes/*` capabilities (cluster mode).
    pub cluster: &'h dyn Cluster,
    /// The `oci/*` capabilities.
    pub registry: &'h dyn Registry,
}

impl Hosts<'static> {
    /// No host capability at all: every call is refused.
    pub const NONE: Hosts<'static> = Hosts {
        cluster: &NoHost,
        registry: &NoHost,
    };
    /// The module's host, through waPC.
    pub const WAPC: Hosts<'static> = Hosts {
        cluster: &WapcHost,
        registry: &WapcHost,
    };
}

impl<'h> Hosts<'h> {
    /// `cluster` for the Kubernetes capabilities, no registry.
    pub fn cluster(cluster: &'h dyn Cluster) -> Hosts<'h> {
        Hosts {
            cluster,
            registry: &NoHost,
        }
    }
}

/// The host of a wasm module: Kubewarden's policy-server or kwctl, through waPC.
pub struct WapcHost;

impl Cluster for WapcHost {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        crate::wapc::host_call("kubernetes", operation, payload)
    }
}

impl Registry for WapcHost {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        crate::wapc::host_call("oci", operation, payload)
    }
}

/// A host that answers nothing: settings-only mode makes no host call.
pub struct NoHost;

impl Cluster for NoHost {
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("no cluster to answer kubernetes/{operation}"))
    }
}

impl Registry for NoHost {
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("no registry to answer oci/{operation}"))
    }
}
