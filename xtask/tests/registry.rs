//! push and pull against a real registry: Debian's `docker-registry` (the CNCF distribution
//! server), started on 127.0.0.1 with filesystem storage in a temporary directory.

mod common;

use std::process::Command;

use common::registry::{Registry, http_get};
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use xtask::annotate::TOOL_ID;

const REPO: &str = "policies/otel-python-autoinstrumentation";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn xtask(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn push_and_pull_against_a_real_registry() {
    let registry = Registry::start();
    let dir = TempDir::new("push");
    let annotated_path = dir.path("annotated-policy.wasm");
    std::fs::write(&annotated_path, annotated()).unwrap();
    let annotated_path = annotated_path.to_str().unwrap();
    let tagged = format!("{}/{REPO}:v0.1.0", registry.addr);

    // Push through the command line, JSON output as kwctl's `push -o json`.
    let (ok, stdout, stderr) = xtask(&[
        "push",
        "-o",
        "json",
        annotated_path,
        &format!("registry://{tagged}"),
    ]);
    assert!(ok, "push failed: {stderr}");
    let printed: Value = serde_json::from_str(stdout.trim()).unwrap();
    let immutable = printed["immutable_ref"].as_str().unwrap().to_owned();
    let digest = immutable
        .strip_prefix(&format!("{}/{REPO}@", registry.addr))
        .unwrap_or_else(|| panic!("unexpected immutable ref {immutable}"))
        .to_owned();
    assert!(
        stderr.contains("io.kubewarden.policy.usage"),
        "usage left out with a warning: {stderr}"
    );

    // The manifest as the registry stores it.
    let manifest = http_get(
        &registry.addr,
        &format!("/v2/{REPO}/manifests/v0.1.0"),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("Content-Type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(
        sha256(&manifest.body),
        digest,
        "immutable ref names the manifest's digest"
    );
    assert_eq!(
        manifest.header("Docker-Content-Digest"),
        Some(digest.as_str())
    );
    let m: Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v1+json"
    );
    assert_eq!(m["config"]["size"], 2);
    assert_eq!(m["config"]["digest"], sha256(b"{}"));
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.wasm.content.layer.v1+wasm"
    );
    assert_eq!(layers[0]["size"], annotated().len());
    assert_eq!(layers[0]["digest"], sha256(annotated()));
    let config = http_get(
        &registry.addr,
        &format!("/v2/{REPO}/blobs/{}", sha256(b"{}")),
        "*/*",
    )
    .unwrap();
    assert_eq!(
        (config.status, config.body.as_slice()),
        (200, b"{}".as_slice())
    );

    // Manifest annotations: the metadata's single-line annotations plus the OCI source.
    let a = &m["annotations"];
    assert_eq!(
        a["io.kubewarden.policy.title"],
        "otel-python-autoinstrumentation"
    );
    assert_eq!(a["io.kubewarden.policy.version"], "0.1.0");
    assert_eq!(a["io.kubewarden.kwctl"], TOOL_ID);
    assert_eq!(
        a["org.opencontainers.image.source"],
        "https://github.com/otel-python-policy/otel-python-policy"
    );
    assert!(
        a.get("io.kubewarden.policy.usage").is_none(),
        "multi-line usage must be left out"
    );
    let description = a["io.kubewarden.policy.description"].as_str().unwrap();
    assert_eq!(description, description.trim());

    // Pull by tag and by digest: the same bytes and digest.
    for reference in [tagged.clone(), immutable.clone()] {
        let out = dir.path("pulled.wasm");
        let (ok, stdout, stderr) = xtask(&["pull", &reference, "-o", out.to_str().unwrap()]);
        assert!(ok, "pull {reference} failed: {stderr}");
        assert_eq!(stdout.trim(), immutable, "pull prints the immutable ref");
        let pulled = std::fs::read(&out).unwrap();
        assert!(
            pulled == annotated(),
            "pulled bytes differ from the pushed module ({reference})"
        );
        std::fs::remove_file(&out).unwrap();
    }
    let pulled = xtask::oci::pull(&immutable).unwrap();
    assert_eq!(pulled.digest, digest);

    // The pulled module is the policy: it runs the article's example.
    assert_article_example_mutates(&pulled.module);

    // Unknown tags and unannotated modules are errors, not empty successes.
    let (ok, _, _) = xtask(&[
        "pull",
        &format!("{}/{REPO}:nope", registry.addr),
        "-o",
        dir.path("x.wasm").to_str().unwrap(),
    ]);
    assert!(!ok);
    let raw_path = dir.path("policy.wasm");
    std::fs::write(&raw_path, policy_wasm()).unwrap();
    let (ok, _, stderr) = xtask(&[
        "push",
        raw_path.to_str().unwrap(),
        &format!("{}/{REPO}:raw", registry.addr),
    ]);
    assert!(!ok && stderr.contains("not annotated"), "{stderr}");
}
