//! `kwctl push` / `kwctl pull` without kwctl, on the `oci-client` crate (the one kwctl uses).
//!
//! Artifact layout (the Kubewarden/wasm-to-oci convention): an OCI image manifest (schema 2,
//! pushed as `application/vnd.oci.image.manifest.v1+json`), config `{}` with media type
//! `application/vnd.wasm.config.v1+json`, one layer `application/vnd.wasm.content.layer.v1+wasm`
//! holding the annotated module, and manifest annotations taken from the module's metadata.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, OciImageManifest, WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::metadata::{ANNOTATION_SOURCE, Metadata};

pub const OCI_SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";

/// `registry://host/path:tag` or `host/path:tag` (or `@sha256:...`).
pub fn parse_reference(text: &str) -> Result<Reference> {
    let bare = text.strip_prefix("registry://").unwrap_or(text);
    bare.parse::<Reference>().with_context(|| {
        format!("{text:?} is not an OCI reference (host[:port]/path[:tag|@digest])")
    })
}

/// Registries reached over plain HTTP: loopback only (127.0.0.0/8, ::1, localhost), any port.
pub fn is_loopback_registry(registry: &str) -> bool {
    if let Ok(ip) = registry.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                registry
            }
        })
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn client_for(reference: &Reference) -> Client {
    // reqwest is built without a bundled crypto provider (see Cargo.toml): install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_owned();
    let protocol = if is_loopback_registry(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..Default::default()
    })
}

/// The docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// Credentials for `registry` from a docker config (`auths.<registry>.auth` = base64
/// `user:password`). Keys may carry a scheme or a path (`https://index.docker.io/v1/`).
/// Credential helpers (`credsStore`, `credHelpers`) are not run: they are reported.
pub fn auth_from_docker_config(config: &str, registry: &str) -> Result<RegistryAuth> {
    let doc: serde_json::Value =
        serde_json::from_str(config).context("docker config is not JSON")?;
    let wanted = normalize_registry(registry);
    if let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) {
        for (key, entry) in auths {
            if normalize_registry(key) != wanted {
                continue;
            }
            if let Some(encoded) = entry.get("auth").and_then(|a| a.as_str()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .with_context(|| format!("docker config: auths.{key}.auth is not base64"))?;
                let decoded = String::from_utf8(decoded)
                    .with_context(|| format!("docker config: auths.{key}.auth is not UTF-8"))?;
                let (user, password) = decoded.split_once(':').with_context(|| {
                    format!("docker config: auths.{key}.auth is not user:password")
                })?;
                return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|v| v.as_str()),
                entry.get("password").and_then(|v| v.as_str()),
            ) {
                return Ok(RegistryAuth::Basic(u.to_owned(), p.to_owned()));
            }
        }
    }
    if doc.get("credsStore").is_some() || doc.get("credHelpers").is_some() {
        eprintln!(
            "warning: the docker config uses a credential helper, which this tool does not run; \
             pushing to {registry} anonymously (use `docker login` with a file store, or kwctl)"
        );
    }
    Ok(RegistryAuth::Anonymous)
}

fn normalize_registry(key: &str) -> String {
    let no_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = no_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

pub(crate) fn auth_for(reference: &Reference) -> Result<RegistryAuth> {
    match docker_config_path() {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            auth_from_docker_config(&text, reference.resolve_registry())
                .with_context(|| path.display().to_string())
        }
        _ => Ok(RegistryAuth::Anonymous),
    }
}

/// Manifest annotations from the module's metadata annotations: values trimmed, those still
/// spanning several lines (the README usage) left out, plus `org.opencontainers.image.source`.
pub fn manifest_annotations(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in metadata.annotations.iter().flatten() {
        let value = value.trim();
        if value.contains('\n') || value.contains('\r') {
            eprintln!("warning: annotation {key} is multi-line: left out of the OCI manifest");
            continue;
        }
        out.insert(key.clone(), value.to_owned());
    }
    if let Some(source) = metadata.annotation(ANNOTATION_SOURCE) {
        out.insert(OCI_SOURCE_ANNOTATION.to_owned(), source.trim().to_owned());
    }
    out
}

/// The manifest, config and layer `push` sends for `module`. Refuses a module without metadata
/// unless `force` (then no annotations), as kwctl does.
pub fn artifact(module: &[u8], force: bool) -> Result<(OciImageManifest, Config, ImageLayer)> {
    let metadata = Metadata::from_module(module)?;
    let annotations = match &metadata {
        Some(m) => Some(manifest_annotations(m)),
        None if force => {
            eprintln!("Warning: pushing a non-annotated policy!");
            None
        }
        None => bail!(
            "Cannot push a policy that is not annotated. Use `annotate` command or `push --force`"
        ),
    };
    let layer = ImageLayer::new(module.to_vec(), WASM_LAYER_MEDIA_TYPE.to_owned(), None);
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_owned(), None);
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, annotations);
    Ok((manifest, config, layer))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `host/path@sha256:...` from the reference pushed and the manifest URL the registry answered
/// (its last path segment is the manifest digest), kwctl's "immutable ref".
pub fn immutable_ref(reference: &Reference, manifest_url: &str) -> Result<String> {
    let digest = manifest_url
        .rsplit('/')
        .next()
        .filter(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .with_context(|| format!("the registry answered no manifest digest: {manifest_url}"))?;
    Ok(format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    ))
}

/// Push an (annotated) module; returns the immutable reference.
pub fn push(module: &[u8], destination: &str, force: bool) -> Result<String> {
    let reference = parse_reference(destination)?;
    if reference.digest().is_some() {
        bail!("push needs a tag, not a digest: {destination}");
    }
    let (manifest, config, layer) = artifact(module, force)?;
    let client = client_for(&reference);
    let auth = auth_for(&reference)?;
    let response = runtime()?
        .block_on(client.push(&reference, &[layer], config, &auth, Some(manifest)))
        .with_context(|| format!("could not push policy to {destination}"))?;
    immutable_ref(&reference, &response.manifest_url)
}

/// Push a container image of one uncompressed layer (`layer`, a tar) and its configuration
/// (`config`, the OCI image configuration's JSON) to `destination`, a tag; returns the manifest
/// digest the registry stores it under.
pub fn push_image(destination: &str, layer: Vec<u8>, config: Vec<u8>) -> Result<String> {
    let reference = parse_reference(destination)?;
    let layer = ImageLayer::new(layer, IMAGE_LAYER_MEDIA_TYPE.to_owned(), None);
    let config = Config::new(config, IMAGE_CONFIG_MEDIA_TYPE.to_owned(), None);
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    let client = client_for(&reference);
    let auth = auth_for(&reference)?;
    let response = runtime()?
        .block_on(client.push(&reference, &[layer], config, &auth, Some(manifest)))
        .with_context(|| format!("could not push image to {destination}"))?;
    let pushed = immutable_ref(&reference, &response.manifest_url)?;
    Ok(pushed
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or(pushed))
}

/// What `pull` fetched.
pub struct Pulled {
    pub module: Vec<u8>,
    /// Digest of the manifest (`sha256:...`).
    pub digest: String,
    pub manifest: OciImageManifest,
}

/// Pull a policy by tag or digest. The layer's digest is checked against the manifest.
pub fn pull(source: &str) -> Result<Pulled> {
    let reference = parse_reference(source)?;
    let client = client_for(&reference);
    let auth = auth_for(&reference)?;
    let image = runtime()?
        .block_on(client.pull(&reference, &auth, vec![WASM_LAYER_MEDIA_TYPE]))
        .with_context(|| format!("could not pull policy {source}"))?;
    let manifest = image
        .manifest
        .context("the registry returned no manifest")?;
    let digest = image
        .digest
        .context("the registry returned no manifest digest")?;
    if let Some(expected) = reference.digest()
        && expected != digest
    {
        bail!("asked for {expected}, the registry served {digest}");
    }
    let [layer] = <[ImageLayer; 1]>::try_from(image.layers)
        .map_err(|l| anyhow::anyhow!("expected one wasm layer, got {}", l.len()))?;
    let module = layer.data.to_vec();
    let expected_layer = &manifest.layers[0].digest;
    if &layer.sha256_digest() != expected_layer {
        bail!("layer content does not match its digest {expected_layer}");
    }
    Ok(Pulled {
        module,
        digest,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for r in [
            "127.0.0.1:5000",
            "127.3.2.1",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback_registry(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "192.168.1.1",
            "example.org:5000",
            "[::2]:5000",
            "localhost.example.org",
        ] {
            assert!(!is_loopback_registry(r), "{r}");
        }
    }

    #[test]
    fn docker_config_credentials() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("me:s3cr:et");
        let cfg = format!(
            r#"{{"auths": {{"https://ghcr.io": {{"auth": "{b64}"}}, "https://index.docker.io/v1/": {{"auth": "{b64}"}}}}}}"#
        );
        match auth_from_docker_config(&cfg, "ghcr.io").unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("me", "s3cr:et")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            auth_from_docker_config(&cfg, "docker.io").unwrap(),
            RegistryAuth::Basic(..)
        ));
        assert!(matches!(
            auth_from_docker_config(&cfg, "quay.io").unwrap(),
            RegistryAuth::Anonymous
        ));
        assert!(
            auth_from_docker_config(r#"{"auths": {"ghcr.io": {"auth": "%%%"}}}"#, "ghcr.io")
                .is_err()
        );
    }

    #[test]
    fn manifest_annotations_drop_multiline_trim_and_add_source() {
        let m = Metadata::from_yaml(
            "rules: []\nmutating: true\nannotations:\n  a: ' padded '\n  usage: \"line1\\nline2\\n\"\n  one: \"single\\n\"\n  io.kubewarden.policy.source: https://example.org/src\n",
        )
        .unwrap();
        let a = manifest_annotations(&m);
        assert_eq!(a.get("a").map(String::as_str), Some("padded"));
        assert_eq!(a.get("one").map(String::as_str), Some("single"));
        assert!(!a.contains_key("usage"));
        assert_eq!(
            a.get(OCI_SOURCE_ANNOTATION).map(String::as_str),
            Some("https://example.org/src")
        );
    }

    #[test]
    fn immutable_refs() {
        let r = parse_reference("registry://127.0.0.1:5000/policies/p:v1").unwrap();
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            immutable_ref(
                &r,
                &format!("http://127.0.0.1:5000/v2/policies/p/manifests/{d}")
            )
            .unwrap(),
            format!("127.0.0.1:5000/policies/p@{d}")
        );
        assert!(immutable_ref(&r, "http://127.0.0.1:5000/v2/policies/p/manifests/v1").is_err());
    }

    #[test]
    fn unannotated_modules_need_force() {
        let module = b"\0asm\x01\0\0\0";
        assert!(artifact(module, false).is_err());
        let (manifest, config, layer) = artifact(module, true).unwrap();
        assert_eq!(manifest.annotations, None);
        assert_eq!(&config.data[..], b"{}");
        assert_eq!(manifest.layers[0].media_type, WASM_LAYER_MEDIA_TYPE);
        assert_eq!(manifest.layers[0].digest, layer.sha256_digest());
    }
}
