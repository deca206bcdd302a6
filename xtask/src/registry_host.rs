//! The policy's `oci/*` host calls answered from real registries, as policy-server answers them.
//!
//! policy-server's callback handler looks a tag's digest up with its registry client (oci-client,
//! through policy-fetcher): a `HEAD` of the manifest, plain HTTP for the registries of its
//! `insecureSources`, the credentials of its docker config. Its errors reach the policy as
//! `Callback evaluation failure: <anyhow's Debug>` of an error that reads `Fail to interact with
//! OCI registry: <the client's error>` and has that error as its cause. [`RegistryHost`] does the
//! same with the same client, so that the project's waPC host (`e2e_tests::host`) runs the policy
//! against a real registry as policy-server would; `xtask/tests/image_digest.rs` compares it
//! with the real kwctl.

use std::fmt;

use anyhow::Result;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};

use crate::oci::auth_for;

/// Answers `oci/v1/manifest_digest` from the registries themselves.
pub struct RegistryHost {
    /// Registries reached over plain HTTP (policy-server's `insecureSources`).
    pub insecure_sources: Vec<String>,
}

/// The handler's error: the registry client's, introduced as policy-fetcher introduces it.
#[derive(Debug)]
struct RegistryError(OciDistributionError);

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fail to interact with OCI registry: {}", self.0)
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl RegistryHost {
    /// The digest the registry has for `image`'s tag, or the handler's error.
    pub fn manifest_digest(&self, image: &str) -> Result<String, anyhow::Error> {
        let reference: Reference = image.parse()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(self.insecure_sources.clone()),
            ..Default::default()
        });
        let auth = auth_for(&reference)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(client.fetch_manifest_digest(&reference, &auth))
            .map_err(|e| anyhow::Error::new(RegistryError(e)))
    }
}

impl e2e_tests::host::HostCalls for RegistryHost {
    fn answer(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        if (namespace, operation) != ("oci", "v1/manifest_digest") {
            return Err(format!(
                "{namespace}/{operation} is not answered by this host (only oci/v1/manifest_digest)"
            ));
        }
        let image: String = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        match self.manifest_digest(&image) {
            Ok(digest) => Ok(serde_json::json!({ "digest": digest })
                .to_string()
                .into_bytes()),
            Err(e) => Err(format!("Callback evaluation failure: {e:?}")),
        }
    }
}
