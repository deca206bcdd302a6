//! `pinImageDigest: resolve` against real registries: Debian's `docker-registry` on 127.0.0.1,
//! one open and one that asks for credentials, and a port where nothing listens.
//!
//! An instrumentation image is built here from files (one layer holding an `autoinstrumentation/`
//! tree) and pushed; then the policy resolves its tag three ways, which must agree answer for
//! answer: the real `kwctl run` (with `--sources-path` listing the loopback registries as
//! insecure), the project's waPC host answering `oci/v1/manifest_digest` with a real registry
//! client (`xtask::registry_host`), and the in-memory registry of the case files
//! (`case_harness::registry`) given the same registries as a fixture, so that the case files'
//! words are the real ones. A found tag is pinned to the digest the registry stores; a missing
//! tag, refused credentials and an unreachable registry give the README's refusals.
//!
//! Needs `docker-registry` and `htpasswd` (`make packaging-tests` installs both); kwctl when found
//! (`KWCTL`, else `PATH`; `REQUIRE_REAL_RUNTIME=1` makes its absence a failure).

mod common;

use std::process::Command;
use std::sync::Arc;

use case_harness::cluster::ClusterState;
use case_harness::registry::RegistryState;
use common::registry::{Registry, closed_port, http_get, kwctl_run_insecure};
use common::*;
use e2e_tests::host::{AdmissionResponse, CompiledPolicy, HostCalls, admission_response};
use e2e_tests::kwctl::Kwctl;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xtask::registry_host::RegistryHost;

const REPOSITORY: &str = "otel/autoinstrumentation-python";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The image's one layer: an `autoinstrumentation/` tree as the operator's image has it, made
/// with `tar` from files written here; and its configuration.
fn instrumentation_image(dir: &TempDir) -> (Vec<u8>, Vec<u8>) {
    let tree =
        dir.path("tree/autoinstrumentation/opentelemetry/instrumentation/auto_instrumentation");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("sitecustomize.py"),
        "# starts the instrumentation\n",
    )
    .unwrap();
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.path("tree"))
        .args(["-cf", "-", "autoinstrumentation"])
        .output()
        .expect("tar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layer = out.stdout;
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    });
    (layer, config.to_string().into_bytes())
}

/// A registry that lets in only the user of an htpasswd file (bcrypt, by `htpasswd -B`).
fn registry_with_credentials(dir: &TempDir) -> Registry {
    let path = dir.path("htpasswd");
    let out = Command::new("htpasswd")
        .args(["-Bbn", "puller", "s3cret"])
        .output()
        .expect("htpasswd is not installed: apt-get install -y apache2-utils (make test does)");
    assert!(out.status.success());
    std::fs::write(&path, out.stdout).unwrap();
    Registry::start_with(&format!(
        "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
        path.display()
    ))
}

fn request() -> Value {
    let text = read_root("tests/inputs/requests/pod-inject-true.json");
    e2e_tests::input::admission_request(serde_json::from_str(&text).unwrap()).unwrap()
}

fn settings(image: &str) -> Value {
    json!({
        "exporter": {"endpoint": "http://otel-collector.observability.svc:4318"},
        "python": {"image": image},
        "pinImageDigest": "resolve",
    })
}

/// What a response says: the init container's image, or the refusal's code and message.
fn outcome(response: &AdmissionResponse) -> Result<String, (Option<u16>, String)> {
    let Some(patch) = response.decoded_patch().unwrap() else {
        let code = response.status.as_ref().and_then(|s| s.code);
        return Err((code, response.message().to_string()));
    };
    let mut pod = request()["object"].clone();
    json_patch::patch(&mut pod, &patch).unwrap();
    Ok(pod["spec"]["initContainers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string())
}

/// The policy in the project's waPC host, its host calls answered by `host`.
fn in_host(host: Arc<dyn HostCalls>, image: &str) -> Result<String, (Option<u16>, String)> {
    let compiled = CompiledPolicy::compile(policy_wasm()).unwrap();
    let answer = compiled
        .instantiate_with_host(host)
        .unwrap()
        .validate(&request(), &settings(image))
        .unwrap();
    outcome(&admission_response(&request(), &answer).unwrap())
}

#[test]
fn a_tag_resolves_to_the_registrys_digest_and_failures_give_the_documented_refusals() {
    let dir = TempDir::new("image-digest");
    let open = Registry::start();
    let locked = registry_with_credentials(&dir);
    let down = closed_port();
    let (layer, config) = instrumentation_image(&dir);
    let tagged = format!("{}/{REPOSITORY}:0.64b0", open.addr);
    let digest = xtask::oci::push_image(&tagged, layer, config).unwrap();
    // The digest is the one the registry stores the manifest under.
    let manifest = http_get(
        &open.addr,
        &format!("/v2/{REPOSITORY}/manifests/0.64b0"),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
    assert_eq!(sha256(&manifest.body), digest);

    let insecure = vec![open.addr.clone(), locked.addr.clone(), down.clone()];
    let real: Arc<dyn HostCalls> = Arc::new(RegistryHost {
        insecure_sources: insecure.clone(),
    });
    let fixture = RegistryState::from_yaml(&format!(
        "images:\n  {tagged}: {{digest: '{digest}'}}\ninsecure_sources: {insecure:?}\n\
         unauthorized: ['{}']\nunreachable: ['{down}']\n",
        locked.addr
    ))
    .unwrap();
    let kwctl = Kwctl::for_tests();
    let module = dir.path("annotated-policy.wasm");
    std::fs::write(&module, annotated()).unwrap();

    let cases = [
        (tagged.clone(), None),
        (
            format!("{}/{REPOSITORY}:0.99b0", open.addr),
            Some((
                500,
                "its registry has no such image (Callback evaluation failure: Fail to interact with OCI registry: Registry error: url http://",
            )),
        ),
        (
            format!("{}/{REPOSITORY}:0.64b0", locked.addr),
            Some((
                500,
                "its registry refused the PolicyServer's credentials (Callback evaluation failure: Fail to interact with OCI registry: Not authorized: url http://",
            )),
        ),
        (
            format!("{down}/{REPOSITORY}:0.64b0"),
            Some((
                503,
                "its registry cannot be reached from the PolicyServer (Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://",
            )),
        ),
    ];
    let mut through_kwctl = 0;
    for (image, refused) in cases {
        let host = in_host(Arc::clone(&real), &image);
        match refused {
            None => assert_eq!(host, Ok(format!("{image}@{digest}"))),
            Some((code, words)) => {
                let (got, message) = host.clone().unwrap_err();
                assert_eq!(got, Some(code), "{message}");
                assert!(message.contains(words), "{image}: {message}");
            }
        }
        let in_memory = Arc::new(ClusterState::registry_only(fixture.clone()));
        assert_eq!(
            in_host(in_memory, &image),
            host,
            "the fixture's words for {image}"
        );
        let Some(kwctl) = &kwctl else { continue };
        let run = (module.as_path(), &request(), &settings(&image));
        let response = kwctl_run_insecure(kwctl, &dir, &insecure, run);
        assert_eq!(
            outcome(&response),
            host,
            "kwctl and the project's host for {image}"
        );
        through_kwctl += 1;
    }
    if let Some(kwctl) = &kwctl {
        println!(
            "kwctl {} gave the project host's answer for {through_kwctl} images",
            kwctl.version()
        );
    }
}
