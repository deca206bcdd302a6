//! The `oci/*` host calls: a tag's manifest digest, an image's configuration, and what their
//! failures mean.
//!
//! Both take the image reference as a bare JSON string (the SDK's payload, which kwctl's replay
//! compares). policy-server caches successful answers for 60 seconds, keyed by the image string,
//! and asks the registry with its own credentials (`PolicyServer.spec.imagePullSecret`) and
//! `insecureSources`. `manifest_digest` is a HEAD on the tag: for a multi-arch image it is the
//! index's digest, right for every node. `oci_manifest_config` resolves one platform, the
//! policy-server's own, and returns that image's configuration (its `ENV`).

use serde::Deserialize;

use super::Registry;
use crate::refusal::{RegistryFailure, RegistryFault};

/// The operation that resolves a tag to its manifest digest.
pub const MANIFEST_DIGEST: &str = "v1/manifest_digest";
/// The operation that reads an image's manifest and configuration.
pub const MANIFEST_CONFIG: &str = "v1/oci_manifest_config";

/// The lookups of one admission, through `registry`.
pub struct Lookups<'r> {
    /// Who answers.
    pub registry: &'r dyn Registry,
}

/// What the policy reads of an image's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    /// The image's `ENV`, in order, as `(name, value)`.
    pub env: Vec<(String, String)>,
}

impl ImageConfig {
    /// The value the image sets for `name`, if it sets one.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Deserialize)]
struct DigestAnswer {
    digest: String,
}

#[derive(Deserialize)]
struct ConfigAnswer {
    #[serde(default)]
    config: OciConfiguration,
}

/// The OCI image configuration (only its `config.Env`).
#[derive(Deserialize, Default)]
struct OciConfiguration {
    #[serde(default)]
    config: Option<OciConfig>,
}

#[derive(Deserialize, Default)]
struct OciConfig {
    #[serde(default, rename = "Env")]
    env: Option<Vec<String>>,
}

impl Lookups<'_> {
    /// The digest (`sha256:…`) the tag of `image` points to.
    pub fn manifest_digest(&self, image: &str) -> Result<String, RegistryFailure> {
        let answer = self.call(MANIFEST_DIGEST, image)?;
        let read: DigestAnswer =
            serde_json::from_slice(&answer).map_err(|e| unreadable(MANIFEST_DIGEST, image, e))?;
        if !read.digest.starts_with("sha256:") {
            let e = format!("the digest {:?} is not a sha256 digest", read.digest);
            return Err(unreadable(MANIFEST_DIGEST, image, e));
        }
        Ok(read.digest)
    }

    /// The configuration of `image` (for the policy-server's platform).
    pub fn image_config(&self, image: &str) -> Result<ImageConfig, RegistryFailure> {
        let answer = self.call(MANIFEST_CONFIG, image)?;
        let read: ConfigAnswer =
            serde_json::from_slice(&answer).map_err(|e| unreadable(MANIFEST_CONFIG, image, e))?;
        let env = read
            .config
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect();
        Ok(ImageConfig { env })
    }

    fn call(&self, operation: &'static str, image: &str) -> Result<Vec<u8>, RegistryFailure> {
        let payload = serde_json::to_vec(image).unwrap_or_default();
        self.registry
            .call(operation, &payload)
            .map_err(|message| RegistryFailure {
                operation,
                image: image.to_string(),
                fault: classify(operation, message),
            })
    }
}

/// The host's message, classified by the words policy-server (policy-fetcher, oci-client 0.17)
/// uses, as seen from a real registry: `... envelope: OCI API errors: [OCI API error: manifest
/// unknown]` for a tag or repository it lacks, `Not authorized: url ...` for a 401 (`denied`
/// for a 403), `error sending request for url (...)` when no answer came (connection refused, a
/// name that does not resolve, a certificate that does not verify). The message kept is
/// [`summary`]'s.
fn classify(operation: &str, message: String) -> RegistryFault {
    let lower = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let message = summary(&message);
    if lower.contains("has not been granted access to the '") {
        RegistryFault::CapabilityDenied {
            capability: format!("oci/{operation}"),
        }
    } else if any(&[
        "oci api error: manifest unknown",
        "oci api error: name unknown",
    ]) {
        RegistryFault::NotFound { message }
    } else if any(&[
        "not authorized: url",
        "oci api error: unauthorized",
        "oci api error: requested access to the resource is denied",
    ]) {
        RegistryFault::Unauthorized { message }
    } else if lower.contains("error sending request for url") {
        RegistryFault::Unreachable { message }
    } else {
        RegistryFault::Failed { message }
    }
}

/// A host error in one line: anyhow's Debug as policy-server sends it (the error, `Caused by:`
/// and its numbered causes, a `Stack backtrace:` when `RUST_BACKTRACE` is set) becomes the error
/// and, when it does not already say it, its last cause (`Connection refused (os error 111)`).
pub fn summary(message: &str) -> String {
    let message = message
        .split("\n\nStack backtrace:")
        .next()
        .unwrap_or_default();
    let Some((head, causes)) = message.split_once("\n\nCaused by:") else {
        return message.trim_end().to_string();
    };
    let last = causes.lines().map(str::trim).rfind(|l| !l.is_empty());
    let last = last.map(|l| match l.split_once(": ") {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => l,
    });
    match last {
        Some(cause) if !head.contains(cause) => format!("{head}: {cause}"),
        _ => head.to_string(),
    }
}

/// An answer that cannot be read.
fn unreadable(
    operation: &'static str,
    image: &str,
    error: impl std::fmt::Display,
) -> RegistryFailure {
    RegistryFailure {
        operation,
        image: image.to_string(),
        fault: RegistryFault::Failed {
            message: format!("the host's answer cannot be read: {error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Answer(
        RefCell<Vec<(String, String)>>,
        Result<&'static str, &'static str>,
    );
    impl Registry for Answer {
        fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            let payload = String::from_utf8_lossy(payload).into_owned();
            self.0.borrow_mut().push((operation.to_string(), payload));
            self.1
                .map(|a| a.as_bytes().to_vec())
                .map_err(str::to_string)
        }
    }

    #[test]
    fn the_payload_is_the_image_as_a_json_string() {
        let registry = Answer(Default::default(), Ok(r#"{"digest":"sha256:ab"}"#));
        let lookups = Lookups {
            registry: &registry,
        };
        assert_eq!(lookups.manifest_digest("r.io/a:1").unwrap(), "sha256:ab");
        assert_eq!(
            registry.0.borrow()[0],
            ("v1/manifest_digest".to_string(), "\"r.io/a:1\"".to_string())
        );
    }

    #[test]
    fn the_image_env_is_read_from_the_configuration() {
        let answer = r#"{"manifest":{},"digest":"sha256:cd","config":{"architecture":"amd64",
            "config":{"Env":["PATH=/usr/bin","PYTHONPATH=/app/lib:/x=y","EMPTY"]}}}"#;
        let registry = Answer(Default::default(), Ok(answer));
        let config = Lookups {
            registry: &registry,
        }
        .image_config("r.io/app:2")
        .unwrap();
        assert_eq!(config.env("PYTHONPATH"), Some("/app/lib:/x=y"));
        assert_eq!(config.env("EMPTY"), Some(""));
        assert_eq!(config.env("HOME"), None);
    }

    #[test]
    fn a_debug_message_becomes_one_line_with_its_last_cause() {
        let refused = "Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://r:1/v2/p/manifests/1)\n\nCaused by:\n    0: error sending request for url (http://r:1/v2/p/manifests/1)\n    1: client error (Connect)\n    2: tcp connect error\n    3: Connection refused (os error 111)\n\nStack backtrace:\n   0: <unknown>\n";
        assert_eq!(
            summary(refused),
            "Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://r:1/v2/p/manifests/1): Connection refused (os error 111)"
        );
        let unknown = "Callback evaluation failure: Fail to interact with OCI registry: Registry error: url u, envelope: OCI API errors: [OCI API error: manifest unknown]\n\nCaused by:\n    Registry error: url u, envelope: OCI API errors: [OCI API error: manifest unknown]";
        assert_eq!(summary(unknown), unknown.split("\n\n").next().unwrap());
        assert_eq!(summary("plain"), "plain");
    }

    #[test]
    fn failures_keep_the_hosts_message_and_name_the_image() {
        for (answer, fault) in [
            (
                Err("Policy has not been granted access to the 'oci/v1/manifest_digest' host capability. The violation has been reported."),
                RegistryFault::CapabilityDenied {
                    capability: "oci/v1/manifest_digest".into(),
                },
            ),
            (
                Err("Callback evaluation failure: boom"),
                RegistryFault::Failed {
                    message: "Callback evaluation failure: boom".into(),
                },
            ),
            (
                Err("Callback evaluation failure: Fail to interact with OCI registry: Not authorized: url http://r/v2/a/manifests/1"),
                RegistryFault::Unauthorized {
                    message: "Callback evaluation failure: Fail to interact with OCI registry: Not authorized: url http://r/v2/a/manifests/1".into(),
                },
            ),
            (
                Ok(r#"{"digest":"md5:x"}"#),
                RegistryFault::Failed {
                    message: "the host's answer cannot be read: the digest \"md5:x\" is not a sha256 digest".into(),
                },
            ),
        ] {
            let registry = Answer(Default::default(), answer);
            let failure = Lookups {
                registry: &registry,
            }
            .manifest_digest("r.io/a:1")
            .unwrap_err();
            assert_eq!(failure.image, "r.io/a:1");
            assert_eq!(failure.fault, fault);
        }
    }
}
