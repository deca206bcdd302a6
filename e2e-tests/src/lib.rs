//! Host side of the otel-python policy: run the built wasm module the way Kubewarden does.
//!
//! - [`host`]: a waPC/wasmtime host (`PolicyHost`) and kwctl's AdmissionResponse derivation.
//!   The `xtask` crate uses it too, so the workspace builds wasmtime once.
//! - [`input`]: reading requests (AdmissionReview or AdmissionRequest) and settings (YAML/JSON)
//!   the way `kwctl run` does.
//! - [`fixtures`]: the fixture cases (`fixtures/cases/*.yaml`) and their checks, shared by the
//!   integration tests.
//! - [`kwctl`]: the real `kwctl run` as a backend (located through `KWCTL` or `PATH`).

pub mod fixtures;
pub mod host;
pub mod input;
pub mod kwctl;
