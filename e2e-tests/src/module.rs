//! The built policy module: where it is, reading it (refusing a stale one), a shared compiled
//! copy, and the case harness's backend for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use case_harness::Guest;
use case_harness::cluster::ClusterState;

use crate::host::{CompiledPolicy, PolicyHost};

/// `tests/cases/`: the case files.
pub fn cases_dir() -> PathBuf {
    case_harness::case::cases_dir()
}

/// `tests/inputs/`: the requests, settings and clusters that the cases and these tests share.
pub fn inputs_dir() -> PathBuf {
    case_harness::case::inputs_dir()
}

/// The workspace root (the policy crate): the folder that holds `tests/`.
pub fn workspace_root() -> PathBuf {
    case_harness::case::tests_dir()
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// The built policy module: `$POLICY_WASM`, else the release build in `$CARGO_TARGET_DIR`
/// (default: the workspace's `target/`).
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("POLICY_WASM") {
        // Absolute, so that it survives a change of working directory (policy-run tests).
        return std::path::absolute(&p).unwrap_or_else(|_| PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("wasm32-wasip1/release/otel_python_policy.wasm")
}

/// The built module, compiled once per test binary (compiling takes about half a second;
/// instantiating, microseconds). Panics with the reason when the module is missing.
pub fn built_module() -> &'static CompiledPolicy {
    static COMPILED: std::sync::OnceLock<CompiledPolicy> = std::sync::OnceLock::new();
    COMPILED.get_or_init(|| {
        let bytes = read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
        CompiledPolicy::compile(&bytes).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// A fresh instance of the built module (see [`built_module`]).
pub fn built_module_instance() -> PolicyHost {
    built_module()
        .instantiate()
        .expect("instantiate the module")
}

/// Read the built module, refusing a missing one or one older than the policy sources (a stale
/// module would make every test meaningless).
pub fn read_built_module() -> Result<Vec<u8>> {
    let path = module_path();
    const BUILD: &str = "build it first: cargo build --target wasm32-wasip1 --release";
    let meta = std::fs::metadata(&path)
        .with_context(|| format!("policy module {} not found; {BUILD}", path.display()))?;
    if std::env::var_os("POLICY_WASM").is_none() {
        let built = meta.modified()?;
        let root = workspace_root();
        let mut sources = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
        collect_files(&root.join("src"), &mut sources)?;
        for src in sources {
            if let Ok(m) = std::fs::metadata(&src)
                && m.modified()? > built
            {
                bail!(
                    "policy module {} is older than {}; {BUILD}",
                    path.display(),
                    src.display()
                );
            }
        }
    }
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The built module in the project's waPC host, as a case-harness backend: `host` (an instance
/// of [`built_module`]) for every call without a cluster, as a warm host keeps it; for a
/// cluster-mode evaluation, a fresh instance of the built module whose host calls the case's
/// cluster answers ([`CompiledPolicy::instantiate_with_cluster`]), as policy-server gives each
/// evaluation a fresh instance.
pub fn wasm_backend(host: &PolicyHost) -> Guest<'_> {
    Guest {
        name: "the built module in the project's waPC host".into(),
        validate_settings: Box::new(move |b: &[u8]| host.call("validate_settings", b)),
        validate: Box::new(
            move |b: &[u8], cluster: Option<&Arc<ClusterState>>| match cluster {
                None => host.call("validate", b),
                Some(c) => built_module()
                    .instantiate_with_cluster(Arc::clone(c))?
                    .call("validate", b),
            },
        ),
    }
}
