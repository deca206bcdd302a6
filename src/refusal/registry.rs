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

/// Why a registry lookup failed, as the host's message tells.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryFault {
    /// The policy may not use the host capability.
    CapabilityDenied {
        /// The capability, `oci/<operation>`.
        capability: String,
    },
    /// The registry has no such repository, tag or manifest.
    NotFound {
        /// The host's message.
        message: String,
    },
    /// The registry refused the PolicyServer's credentials (or their absence).
    Unauthorized {
        /// The host's message.
        message: String,
    },
    /// The registry could not be reached: no route, no answer, a TLS failure.
    Unreachable {
        /// The host's message.
        message: String,
    },
    /// Anything else: the registry, or the host on its way there, failed.
    Failed {
        /// The host's message.
        message: String,
    },
}

impl RegistryFailure {
    /// The HTTP code: 503 for what may pass on a retry, 500 for what needs a change.
    pub fn code(&self) -> u16 {
        match self.fault {
            RegistryFault::Unreachable { .. } | RegistryFault::Failed { .. } => super::UNAVAILABLE,
            _ => super::MISCONFIGURED,
        }
    }
}

impl Display for RegistryFailure {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let what = match self.operation {
            "v1/manifest_digest" => "the digest",
            _ => "the configuration",
        };
        write!(f, "{what} of image {:?} cannot be read: ", self.image)?;
        match &self.fault {
            RegistryFault::CapabilityDenied { capability } => write!(
                f,
                "the policy may not use the host capability {capability}; allow it in the policy's hostCapabilities (a ClusterAdmissionPolicy gets every capability)"
            ),
            RegistryFault::NotFound { message } => write!(
                f,
                "its registry has no such image ({message}); push the image there, or name one that exists"
            ),
            RegistryFault::Unauthorized { message } => write!(
                f,
                "its registry refused the PolicyServer's credentials ({message}); give the PolicyServer a pull secret for that registry (PolicyServer spec.imagePullSecret), or make the repository public"
            ),
            RegistryFault::Unreachable { message } => write!(
                f,
                "its registry cannot be reached from the PolicyServer ({message}); this is likely temporary, so the request may be retried (a registry on plain HTTP must be listed in the PolicyServer's spec.insecureSources)"
            ),
            RegistryFault::Failed { message } => write!(
                f,
                "the lookup failed ({message}); this is likely temporary, so the request may be retried"
            ),
        }
    }
}
