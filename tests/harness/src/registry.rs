//! An OCI registry for the policy's `oci/*` host calls: the two calls the policy makes, answered
//! from a fixture with the words of Kubewarden's policy-server (1.36: policy-evaluator's OCI
//! callback, policy-fetcher, oci-client), as seen from `kwctl run` against a real
//! `docker-registry` (see `xtask/tests/image_digest.rs`, which checks these words against them).
//!
//! A case names it with `registry:` ([`crate::case`]); it joins the case's host
//! ([`crate::cluster::ClusterState::with_registry`]), so that kubernetes and oci calls share one
//! log and one kwctl session, in call order.
//!
//! # The calls modelled: the policy's
//!
//! The payload is the image reference as a bare JSON string (the SDK's). Both calls are answered
//! for a tag of an image the fixture holds; policy-server's cache (60 seconds, keyed by the image
//! string) changes no answer and is not modelled.
//! - `v1/manifest_digest`: `{"digest":"sha256:…"}`, the tag's manifest digest (for a multi-arch
//!   tag, the index's);
//! - `v1/oci_manifest_config`: `{"manifest":…,"digest":…,"config":…}`, an image manifest whose
//!   config is the image's configuration (`config.Env` from the fixture's `env`), for the
//!   policy-server's platform, `linux/amd64`; the fixture's images are single-platform ones, so
//!   `digest` is the tag's.
//!
//! A reference with a digest, one the policy-server would take for Docker Hub (no registry host),
//! and the other `oci` operations are [`crate::cluster::NOT_MODELLED`].
//!
//! # Fixture format (`tests/inputs/registries/*.yml`)
//!
//! ```yaml
//! # Why this registry exists.
//! images:                 # every tag the registries hold: `host/repository:tag`
//!   mirror.example.com/otel/autoinstrumentation-python:0.64b0:
//!     digest: sha256:…    # 64 hex digits
//!     env: [PATH=/usr/bin]   # optional: the configuration's Env
//! insecure_sources: [127.0.0.1:5000]   # optional: reached over plain HTTP (policy-server's insecureSources)
//! unauthorized: [private.example.com]  # optional: hosts that refuse the PolicyServer's credentials
//! unreachable: [down.example.com]      # optional: hosts no connection reaches
//! ```
//!
//! Unknown keys are refused. A host that is neither unauthorized nor unreachable answers: a tag
//! it does not hold (or a repository) is the registry's `MANIFEST_UNKNOWN`. The errors, as the
//! guest reads them after `Callback evaluation failure: ` (anyhow's Debug of the callback
//! handler's error):
//! - not held: `Fail to interact with OCI registry: Registry error: url <url>, envelope: OCI API
//!   errors: [OCI API error: manifest unknown]`, then that cause;
//! - unauthorized (a 401): `Fail to interact with OCI registry: Not authorized: url <url>`, then
//!   that cause;
//! - unreachable: `Fail to interact with OCI registry: error sending request for url (<url>)`,
//!   then the causes `client error (Connect)`, `tcp connect error`, `Connection refused (os error
//!   111)`.
//!
//! `<url>` is `http://` for an insecure source, else `https://`, then
//! `<host>/v2/<repository>/manifests/<tag>`. The session entry of a failure records that whole
//! text, causes included: kwctl hands a recorded message back verbatim, so the guest reads under
//! replay what it reads from policy-server (kwctl's own recorder keeps the first line only).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cluster::NOT_MODELLED;

/// One tag the registry holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The tag's manifest digest, `sha256:<64 hex digits>`.
    pub digest: String,
    /// The configuration's `Env`.
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    images: BTreeMap<String, Image>,
    #[serde(default)]
    insecure_sources: BTreeSet<String>,
    #[serde(default)]
    unauthorized: BTreeSet<String>,
    #[serde(default)]
    unreachable: BTreeSet<String>,
}

/// The registries of a fixture.
#[derive(Debug, Clone)]
pub struct RegistryState {
    images: BTreeMap<String, Image>,
    insecure_sources: BTreeSet<String>,
    unauthorized: BTreeSet<String>,
    unreachable: BTreeSet<String>,
}

/// The OCI requests as kwctl records them: policy-evaluator's `CallbackRequestType` variants for
/// the two operations modelled.
pub const MANIFEST_DIGEST: &str = "v1/manifest_digest";
/// See [`MANIFEST_DIGEST`].
pub const MANIFEST_CONFIG: &str = "v1/oci_manifest_config";

/// What the callback handler answered: the payload, or its error (the text the guest reads after
/// `Callback evaluation failure: `).
pub type Answered = Result<Vec<u8>, String>;

/// An image reference split as the registry client reads it.
struct Reference<'a> {
    host: &'a str,
    repository: &'a str,
    tag: &'a str,
}

impl RegistryState {
    /// Read a fixture file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_yaml(&text).with_context(|| format!("registry fixture {}", path.display()))
    }

    /// Read a fixture from its YAML text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let f: Fixture = serde_yaml::from_str(text)
            .context("not a registry fixture (see case_harness::registry)")?;
        for (name, image) in &f.images {
            let hex = image.digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                bail!(
                    "images.{name}: digest {:?} is not sha256:<64 hex digits>",
                    image.digest
                );
            }
            let explicit = |r: Reference| name.ends_with(&format!(":{}", r.tag));
            if name.contains('@') || !reference(name).is_some_and(explicit) {
                bail!("images: {name:?} is not host/repository:tag");
            }
        }
        Ok(RegistryState {
            images: f.images,
            insecure_sources: f.insecure_sources,
            unauthorized: f.unauthorized,
            unreachable: f.unreachable,
        })
    }

    /// `Err(why)` for a call this registry does not model (ending with [`NOT_MODELLED`]);
    /// otherwise the image asked for.
    pub fn modelled(operation: &str, payload: &[u8]) -> Result<String, String> {
        if operation != MANIFEST_DIGEST && operation != MANIFEST_CONFIG {
            return Err(format!("oci/{operation}: {NOT_MODELLED}"));
        }
        let image: String = serde_json::from_slice(payload).map_err(|_| {
            format!("oci/{operation} with a payload that is not a JSON string: {NOT_MODELLED}")
        })?;
        match reference(&image) {
            Some(_) if !image.contains('@') => Ok(image),
            _ => Err(format!(
                "oci/{operation} of {image:?} (a digest, or no registry host): {NOT_MODELLED}"
            )),
        }
    }

    /// The callback handler's answer to `operation` for `image` (modelled: see [`Self::modelled`]).
    pub fn answer(&self, operation: &str, image: &str) -> Answered {
        let r = reference(image).expect("a modelled image");
        let scheme = match self.insecure_sources.contains(r.host) {
            true => "http",
            false => "https",
        };
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{}",
            r.host, r.repository, r.tag
        );
        let failure = |head: String, causes: &[&str]| {
            let mut text = format!("Fail to interact with OCI registry: {head}\n\nCaused by:\n");
            match causes {
                [] => text.push_str(&format!("    {head}")),
                _ => {
                    let all = std::iter::once(head.as_str()).chain(causes.iter().copied());
                    let lines: Vec<String> = all
                        .enumerate()
                        .map(|(i, c)| format!("    {i}: {c}"))
                        .collect();
                    text.push_str(&lines.join("\n"));
                }
            }
            Err(text)
        };
        if self.unreachable.contains(r.host) {
            let head = format!("error sending request for url ({url})");
            let causes = [
                "client error (Connect)",
                "tcp connect error",
                "Connection refused (os error 111)",
            ];
            return failure(head, &causes);
        }
        if self.unauthorized.contains(r.host) {
            return failure(format!("Not authorized: url {url}"), &[]);
        }
        let key = format!("{}/{}:{}", r.host, r.repository, r.tag);
        let Some(held) = self.images.get(&key) else {
            let head = format!(
                "Registry error: url {url}, envelope: OCI API errors: [OCI API error: manifest unknown]"
            );
            return failure(head, &[]);
        };
        Ok(match operation {
            MANIFEST_DIGEST => format!(r#"{{"digest":"{}"}}"#, held.digest).into_bytes(),
            _ => manifest_and_config(held),
        })
    }
}

/// The host, repository and tag of `image` (`:latest` when it names none); `None` without a
/// registry host (Docker Hub, which the fixtures do not model).
fn reference(image: &str) -> Option<Reference<'_>> {
    let name = image.split('@').next().unwrap_or_default();
    let (host, path) = name.split_once('/')?;
    if !(host.contains(['.', ':']) || host == "localhost") {
        return None;
    }
    let (repository, tag) = match path.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (path, "latest"),
    };
    Some(Reference {
        host,
        repository,
        tag,
    })
}

/// policy-server's `OciManifestAndConfigResponse` for a single-platform image.
fn manifest_and_config(image: &Image) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": image.env},
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    let answer = serde_json::json!({
        "manifest": {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": image.digest,
                "size": config.to_string().len(),
            },
            "layers": [],
        },
        "digest": image.digest,
        "config": config,
    });
    answer.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn registry() -> RegistryState {
        RegistryState::from_yaml(&format!(
            "images:\n  r.example.com/otel/python:1.0: {{digest: '{D}', env: [A=b]}}\n\
             insecure_sources: ['127.0.0.1:5000']\nunauthorized: [private.example.com]\n\
             unreachable: ['127.0.0.1:5000']\n"
        ))
        .unwrap()
    }

    fn text(a: Answered) -> String {
        match a {
            Ok(p) => String::from_utf8(p).unwrap(),
            Err(e) => e,
        }
    }

    #[test]
    fn a_held_tag_answers_both_calls_and_others_get_the_registrys_words() {
        let r = registry();
        assert_eq!(
            text(r.answer(MANIFEST_DIGEST, "r.example.com/otel/python:1.0")),
            format!(r#"{{"digest":"{D}"}}"#)
        );
        let config: serde_json::Value = serde_json::from_str(&text(
            r.answer(MANIFEST_CONFIG, "r.example.com/otel/python:1.0"),
        ))
        .unwrap();
        assert_eq!(config["config"]["config"]["Env"][0], "A=b");
        assert_eq!(config["digest"], D);
        assert_eq!(
            text(r.answer(MANIFEST_DIGEST, "r.example.com/otel/python:2.0")),
            "Fail to interact with OCI registry: Registry error: url https://r.example.com/v2/otel/python/manifests/2.0, envelope: OCI API errors: [OCI API error: manifest unknown]\n\nCaused by:\n    Registry error: url https://r.example.com/v2/otel/python/manifests/2.0, envelope: OCI API errors: [OCI API error: manifest unknown]"
        );
        assert!(
            text(r.answer(MANIFEST_DIGEST, "private.example.com/p"))
                .starts_with("Fail to interact with OCI registry: Not authorized: url https://private.example.com/v2/p/manifests/latest\n")
        );
        assert_eq!(
            text(r.answer(MANIFEST_DIGEST, "127.0.0.1:5000/p:1")),
            "Fail to interact with OCI registry: error sending request for url (http://127.0.0.1:5000/v2/p/manifests/1)\n\nCaused by:\n    0: error sending request for url (http://127.0.0.1:5000/v2/p/manifests/1)\n    1: client error (Connect)\n    2: tcp connect error\n    3: Connection refused (os error 111)"
        );
    }

    #[test]
    fn calls_the_policy_does_not_make_are_not_modelled() {
        for (op, payload) in [
            ("v1/oci_manifest", r#""r.io/p:1""#),
            (MANIFEST_DIGEST, r#"{"image":"r.io/p:1"}"#),
            (MANIFEST_DIGEST, r#""busybox:1""#),
            (MANIFEST_DIGEST, &format!(r#""r.io/p@{D}""#)),
        ] {
            let e = RegistryState::modelled(op, payload.as_bytes()).unwrap_err();
            assert!(e.ends_with(NOT_MODELLED), "{op} {payload}: {e}");
        }
        assert_eq!(
            RegistryState::modelled(MANIFEST_DIGEST, br#""r.io/p:1""#).unwrap(),
            "r.io/p:1"
        );
    }

    #[test]
    fn one_host_logs_kubernetes_and_oci_calls_and_writes_them_in_order_as_kwctl_replays_them() {
        use crate::cluster::{ClusterState, Exchange, payload};
        let host = ClusterState::from_yaml(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: shop}}]\n",
        )
        .unwrap()
        .with_registry(registry());
        let get = payload::get("v1", "Namespace", "shop", None, None);
        assert!(host.answer("kubernetes", "get_resource", &get).is_ok());
        let image = br#""r.example.com/otel/python:1.0""#;
        assert!(host.answer("oci", MANIFEST_DIGEST, image).is_ok());
        let missing = br#""r.example.com/otel/python:9""#;
        let e = host.answer("oci", MANIFEST_DIGEST, missing).unwrap_err();
        assert!(e.starts_with("Callback evaluation failure: Fail to interact with OCI registry: Registry error: url https://r.example.com/v2/otel/python/manifests/9,"), "{e}");
        let summaries: Vec<String> = host.calls().iter().map(|c| c.summary()).collect();
        assert_eq!(
            summaries,
            [
                "get_resource v1/Namespace shop",
                "manifest_digest r.example.com/otel/python:1.0",
                "manifest_digest r.example.com/otel/python:9",
            ]
        );
        let session = host.session_yaml().unwrap();
        let oci = format!(
            "- type: Exchange\n  request: |\n    !OciManifestDigest\n    image: r.example.com/otel/python:1.0\n  response:\n    type: Success\n    payload: '{{\"digest\":\"{D}\"}}'\n"
        );
        assert!(session.contains(&oci), "{session}");
        let exchanges: Vec<Exchange> = serde_yaml::from_str(&session).unwrap();
        assert_eq!(exchanges.len(), 3);
        assert!(session.find("!KubernetesGetResource") < session.find("!OciManifestDigest"));
        // The failure's entry holds the text the guest read, causes included.
        assert!(session.contains("Caused by:"), "{session}");
        // Without a cluster, a kubernetes call is not modelled.
        let alone = ClusterState::registry_only(registry());
        assert!(alone.answer("kubernetes", "get_resource", &get).is_err());
        assert_eq!(alone.calls()[0].stage, crate::cluster::Stage::NotModelled);
    }

    #[test]
    fn fixtures_are_checked() {
        for (bad, why) in [
            ("images: {r.io/p:1: {digest: sha256:12}}\n", "64 hex digits"),
            (
                &format!("images: {{busybox:1: {{digest: '{D}'}}}}\n"),
                "host/repository:tag",
            ),
            (
                &format!("images: {{r.io/p: {{digest: '{D}'}}}}\n"),
                "host/repository:tag",
            ),
            ("imgs: {}\n", "unknown field"),
        ] {
            let e = format!("{:#}", RegistryState::from_yaml(bad).unwrap_err());
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
