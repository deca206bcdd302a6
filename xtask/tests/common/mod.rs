//! Shared by the xtask integration tests: where the workspace is, the policy module (built on
//! demand), the article's request and settings, temporary directories.
#![allow(dead_code)]

pub mod registry;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn read_root(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The unannotated policy module. `POLICY_WASM` (set by `make`, which has just built it) wins;
/// otherwise the module is built here with the same command as `make policy.wasm`, once per test
/// binary, so `cargo test -p xtask` works on its own.
pub fn policy_wasm() -> &'static [u8] {
    static MODULE: OnceLock<Vec<u8>> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = match std::env::var_os("POLICY_WASM") {
            Some(p) => PathBuf::from(p),
            None => {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--target", "wasm32-wasip1", "--release"])
                    .current_dir(root())
                    .status()
                    .expect("cannot run cargo to build the policy module");
                assert!(status.success(), "building the policy module failed");
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root().join("target"));
                target.join("wasm32-wasip1/release/otel_python_policy.wasm")
            }
        };
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    })
}

pub fn usage() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/usage.md"))
        .unwrap()
}

pub fn policy_yaml() -> String {
    read_root("policy.yaml")
}

/// The module annotated with policy.yaml and the test usage text.
pub fn annotated() -> &'static [u8] {
    static MODULE: OnceLock<Vec<u8>> = OnceLock::new();
    MODULE.get_or_init(|| {
        xtask::annotate::annotate(policy_wasm(), &policy_yaml(), Some(&usage()), false)
            .expect("annotating the policy module")
            .0
    })
}

/// The article's pod (an AdmissionReview; the host takes its `.request`).
pub fn article_request() -> Value {
    let text = read_root("tests/inputs/requests/article-pod.json");
    e2e_tests::input::admission_request(serde_json::from_str(&text).unwrap()).unwrap()
}

pub fn article_settings() -> Value {
    e2e_tests::input::parse_settings(&read_root("tests/inputs/settings/article.yaml")).unwrap()
}

/// Runs the article's example through `module` and checks what the article expects: accepted,
/// with the init container and the exporter endpoint. Returns the guest's answer.
pub fn assert_article_example_mutates(module: &[u8]) -> Value {
    let host = e2e_tests::host::PolicyHost::new(module).expect("module instantiates");
    assert_eq!(host.protocol_version().unwrap(), "v1");
    let answer = host
        .validate(&article_request(), &article_settings())
        .unwrap();
    assert_eq!(answer["accepted"], true, "{answer}");
    let pod = &answer["mutated_object"];
    let init = pod["spec"]["initContainers"]
        .as_array()
        .unwrap_or_else(|| panic!("no init containers in {answer}"));
    let init = init
        .iter()
        .find(|c| c["name"] == "opentelemetry-auto-instrumentation-python")
        .unwrap_or_else(|| panic!("no python init container in {answer}"));
    assert_eq!(
        init["image"],
        "image.com.tw/library/otel-autoinstrumentation-python:0.43b0"
    );
    let env = pod["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains("http://deployment-collector-collector.monitor.svc.cluster.local.:4318"),
        "{env}"
    );
    answer
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("xtask-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
