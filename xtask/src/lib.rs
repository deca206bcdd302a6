//! Packaging and publishing of the policy without kwctl, byte-compatible with it:
//! `annotate` (metadata custom section), `artifacthub` (artifacthub-pkg.yml), `push` / `pull`
//! (OCI registry). The binary `xtask` is a thin command line over these modules. Also the
//! policy's `oci/*` host calls answered from real registries (`registry_host`), for the tests.

pub mod annotate;
pub mod artifacthub;
pub mod metadata;
pub mod oci;
pub mod registry_host;
pub mod wasm;
