//! The policy's behaviour, specified once: the case files under `tests/cases/` with the inputs
//! they share under `tests/inputs/` (format in [`case`]) and one checker ([`check`]) that runs
//! them through any [`Backend`]: the native core (`cargo test`), the built module in the project's
//! waPC host and the real `kwctl` (the e2e crate).
//! Cluster mode's host calls are answered by [`cluster::ClusterState`], an in-memory cluster with
//! policy-server's semantics, the same for every backend; registry lookups by the case's
//! [`registry::RegistryState`], which joins that host.

pub mod backend;
pub mod case;
pub mod check;
pub mod cluster;
pub mod registry;
pub mod response;

pub use backend::{Answer, Backend, Evaluation, Guest, Request};
pub use case::{Case, Payload, load_all};
pub use check::{Verdict, check};

/// Every case through `backend`: the names of the cases it skipped (with why), and a panic that
/// lists every failure when one fails.
pub fn assert_all(backend: &dyn Backend) -> Vec<(String, String)> {
    let cases = load_all().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(cases.len() >= 100, "only {} case files", cases.len());
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for case in &cases {
        match check(case, backend) {
            Verdict::Pass => {}
            Verdict::Skipped(why) => skipped.push((case.name.clone(), why)),
            Verdict::Fail(errs) => failures.push(format!(
                "case {} ({}):\n  {}",
                case.name,
                case.reason,
                errs.join("\n  ")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed on {}:\n\n{}",
        failures.len(),
        cases.len(),
        backend.name(),
        failures.join("\n\n")
    );
    skipped
}
