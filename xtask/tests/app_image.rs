//! `inspectAppImages` against a real registry: Debian's `docker-registry` on 127.0.0.1 and a port
//! where nothing listens.
//!
//! An app image is built here from files (one layer holding `/app/lib/shop.py`) with a
//! configuration whose `Env` sets `PYTHONPATH=/app/lib` and `PYTHON_VERSION=3.9.21`, and pushed.
//! Then a pod of that image is admitted through the real `kwctl run` (with `--sources-path`
//! listing the loopback registries as insecure), whose policy-server code reads the image's
//! configuration through `oci/v1/oci_manifest_config`: the injected `PYTHONPATH` keeps `/app/lib`
//! and the old Python is warned about. The same pods through the project's waPC host with the
//! case files' in-memory registry given the same registries as a fixture must get the same
//! answers, so that the case files' words for this call are the real ones: a tag it has, one it
//! lacks, and a registry no connection reaches. The image given by its digest is read through
//! kwctl too.
//!
//! Needs `docker-registry` (`make packaging-tests` installs it); kwctl when found (`KWCTL`, else
//! `PATH`; `REQUIRE_REAL_RUNTIME=1` makes its absence a failure).

mod common;

use std::process::Command;
use std::sync::Arc;

use case_harness::cluster::ClusterState;
use case_harness::registry::RegistryState;
use common::registry::{Registry, closed_port, kwctl_run_insecure};
use common::*;
use e2e_tests::host::{AdmissionResponse, CompiledPolicy, HostCalls, admission_response};
use e2e_tests::kwctl::Kwctl;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PACKAGES: &str = "/otel-auto-instrumentation-python";
const AUTO: &str =
    "/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation";

/// The app image's one layer (`app/lib/shop.py`, made with `tar`) and its configuration.
fn app_image(dir: &TempDir) -> (Vec<u8>, Vec<u8>) {
    let lib = dir.path("tree/app/lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("shop.py"), "NAME = 'shop'\n").unwrap();
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.path("tree"))
        .args(["-cf", "-", "app"])
        .output()
        .expect("tar runs");
    assert!(out.status.success());
    let layer = out.stdout;
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONPATH=/app/lib", "PYTHON_VERSION=3.9.21"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{:x}", Sha256::digest(&layer))]},
    });
    (layer, config.to_string().into_bytes())
}

/// The article-shaped pod `cart` whose container `app` runs `image`.
fn request(image: &str) -> Value {
    let text = read_root("tests/inputs/requests/pod-inject-true.json");
    let mut request =
        e2e_tests::input::admission_request(serde_json::from_str(&text).unwrap()).unwrap();
    request["object"]["spec"]["containers"][0]["image"] = json!(image);
    request
}

fn settings() -> Value {
    json!({
        "exporter": {"endpoint": "http://otel-collector.observability.svc:4318"},
        "inspectAppImages": true,
    })
}

/// What a response says: the app's `PYTHONPATH` and the warnings, or the refusal's code and
/// message.
type Outcome = Result<(String, Vec<String>), (Option<u16>, String)>;

fn outcome(image: &str, response: &AdmissionResponse) -> Outcome {
    let Some(patch) = response.decoded_patch().unwrap() else {
        let code = response.status.as_ref().and_then(|s| s.code);
        return Err((code, response.message().to_string()));
    };
    let mut pod = request(image)["object"].clone();
    json_patch::patch(&mut pod, &patch).unwrap();
    let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
    let path = env.iter().find(|e| e["name"] == "PYTHONPATH").unwrap();
    let warnings = response.warnings.clone().unwrap_or_default();
    Ok((path["value"].as_str().unwrap().to_string(), warnings))
}

/// The policy in the project's waPC host, its host calls answered by `host`.
fn in_host(host: Arc<dyn HostCalls>, image: &str) -> Outcome {
    let compiled = CompiledPolicy::compile(policy_wasm()).unwrap();
    let answer = compiled
        .instantiate_with_host(host)
        .unwrap()
        .validate(&request(image), &settings())
        .unwrap();
    outcome(
        image,
        &admission_response(&request(image), &answer).unwrap(),
    )
}

#[test]
fn a_pushed_images_pythonpath_is_kept_through_kwctl_as_in_the_case_files() {
    let dir = TempDir::new("app-image");
    let open = Registry::start();
    let down = closed_port();
    let (layer, config) = app_image(&dir);
    let tagged = format!("{}/shop/app:2.3.1", open.addr);
    let digest = xtask::oci::push_image(&tagged, layer, config).unwrap();

    let insecure = vec![open.addr.clone(), down.clone()];
    let fixture = RegistryState::from_yaml(&format!(
        "images:\n  {tagged}: {{digest: '{digest}', env: [PATH=/usr/local/bin:/usr/bin:/bin, \
         PYTHONPATH=/app/lib, PYTHON_VERSION=3.9.21]}}\ninsecure_sources: {insecure:?}\n\
         unreachable: ['{down}']\n"
    ))
    .unwrap();
    let kwctl = Kwctl::for_tests();
    let module = dir.path("annotated-policy.wasm");
    std::fs::write(&module, annotated()).unwrap();

    let kept = format!("{AUTO}:/app/lib:{PACKAGES}");
    let cases = [
        (tagged.clone(), Ok(kept)),
        (
            format!("{}/shop/app:9.9.9", open.addr),
            Err((
                500,
                "its registry has no such image (Callback evaluation failure: Fail to interact with OCI registry: Registry error: url http://",
            )),
        ),
        (
            format!("{down}/shop/app:2.3.1"),
            Err((
                503,
                "its registry cannot be reached from the PolicyServer (Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://",
            )),
        ),
    ];
    let mut through_kwctl = 0;
    for (image, expected) in cases {
        let in_memory = Arc::new(ClusterState::registry_only(fixture.clone()));
        let host = in_host(in_memory, &image);
        match (&host, expected) {
            (Ok((path, warnings)), Ok(kept)) => {
                assert_eq!(path, &kept);
                assert!(
                    warnings
                        .iter()
                        .any(|w| w
                            .contains("has Python 3.9.21 (PYTHON_VERSION), below the Python 3.10")),
                    "{warnings:?}"
                );
            }
            (Err((code, message)), Err((want, words))) => {
                assert_eq!(*code, Some(want), "{message}");
                assert!(message.contains(words), "{image}: {message}");
                assert!(
                    message.contains("cannot inspect the image of its container \"app\""),
                    "{message}"
                );
            }
            (got, want) => panic!("{image}: got {got:?}, expected {want:?}"),
        }
        let Some(kwctl) = &kwctl else { continue };
        let run = (module.as_path(), &request(&image), &settings());
        let response = kwctl_run_insecure(kwctl, &dir, &insecure, run);
        assert_eq!(
            outcome(&image, &response),
            host,
            "kwctl and the case files' registry for {image}"
        );
        through_kwctl += 1;
    }
    // By digest, as a pod may write it (the case files' registry does not model digests).
    if let Some(kwctl) = &kwctl {
        let image = format!("{}/shop/app@{digest}", open.addr);
        let run = (module.as_path(), &request(&image), &settings());
        let response = kwctl_run_insecure(kwctl, &dir, &insecure, run);
        let (path, _) = outcome(&image, &response).unwrap();
        assert_eq!(path, format!("{AUTO}:/app/lib:{PACKAGES}"), "{image}");
        through_kwctl += 1;
    }
    if let Some(kwctl) = &kwctl {
        println!(
            "kwctl {} gave the expected answer for {through_kwctl} app images (one by digest)",
            kwctl.version()
        );
    }
}
