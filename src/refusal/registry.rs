//! An OCI registry lookup that gave no answer: which image, which lookup, and the host's answer.

use std::fmt::{self, Display, Formatter};

/// A lookup in a registry that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryFailure {
    /// The `oci` operation (`v1/manifest_digest`, `v1/oci_manifest_config`).
    pub operation: &'static str,
    /// The image asked about.
    pub image: String,
    /// Why it failed.
    pub fault: RegistryFault,
}

/// Why a registry lookup failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryFault {
    /// The policy may not use the host capability.
    CapabilityDenied {
        /// The capability, `oci/<operation>`.
        capability: String,
    },
    /// The registry, or the host on its way there, failed: its message.
    Failed {
        /// The host's message.
        message: String,
    },
}

impl Display for RegistryFailure {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.fault {
            RegistryFault::CapabilityDenied { capability } => write!(
                f,
                "the policy may not use the host capability {capability} to read {}; allow it in the policy's hostCapabilities (a ClusterAdmissionPolicy gets every capability)",
                self.image
            ),
            RegistryFault::Failed { message } => write!(
                f,
                "reading {} from its registry failed ({message})",
                self.image
            ),
        }
    }
}
