//! Host side of the otel-python policy: run the built wasm module the way Kubewarden does.
//!
//! - [`host`]: a waPC/wasmtime host (`PolicyHost`) and kwctl's AdmissionResponse derivation.
//!   The `xtask` crate uses it too, so the workspace builds wasmtime once.
//! - [`input`]: reading requests (AdmissionReview or AdmissionRequest) and settings (YAML/JSON)
//!   the way `kwctl run` does.
//! - [`module`]: the built module (path, freshness, a shared compiled copy) and the case
//!   harness's backend for it; the cases themselves are `tests/cases/`, their shared inputs
//!   `tests/inputs/` (crate `case-harness`).
//! - [`kwctl`]: the real `kwctl run` as a backend (located through `KWCTL` or `PATH`).
//! - [`cluster`]: a cluster-state fixture answering the policy's `kubernetes/*` host calls as
//!   policy-server does, and the calls written as a kwctl session file. It lives in the case
//!   harness (`case_harness::cluster`), so that the native tests use the same cluster; re-exported
//!   here, with [`registry`], the registry fixture answering the policy's `oci/*` calls.

pub use case_harness::{cluster, registry};
pub mod host;
pub mod input;
pub mod kwctl;
pub mod module;
