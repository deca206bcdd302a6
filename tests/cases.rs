//! Every case under `tests/cases/` through the native core (the same functions the wasm module
//! exports, linked as a library). The e2e crate runs the same cases through the built module and
//! through kwctl. A cluster-mode case's host calls go to its in-memory cluster
//! (`case_harness::cluster`, with the case's registry) through the policy's own `Cluster` and
//! `Registry` seams.

use std::sync::Arc;

use case_harness::cluster::ClusterState;
use case_harness::{Guest, assert_all};
use otel_python_policy::admission;
use otel_python_policy::cluster::Cluster;
use otel_python_policy::host::Hosts;
use otel_python_policy::oci::Registry;

/// The case's host behind the policy's seams: each call is one `kubernetes/<operation>` or
/// `oci/<operation>` host call, answered (and logged) as policy-server answers it.
struct InMemory<'a>(&'a ClusterState);

impl Cluster for InMemory<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer("kubernetes", operation, payload)
    }
}

impl Registry for InMemory<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer("oci", operation, payload)
    }
}

#[test]
fn every_case_through_the_native_core() {
    let native = Guest {
        name: "the native core".into(),
        validate_settings: Box::new(|b: &[u8]| {
            Ok(serde_json::to_vec(&admission::validate_settings(b))?)
        }),
        validate: Box::new(|b: &[u8], cluster: Option<&Arc<ClusterState>>| {
            Ok(match cluster {
                Some(c) => {
                    let host = InMemory(c);
                    let hosts = Hosts {
                        cluster: &host,
                        registry: &host,
                    };
                    admission::validate_with(b, hosts)
                }
                None => admission::validate(b),
            }
            .to_json())
        }),
    };
    let skipped = assert_all(&native);
    assert!(
        skipped.is_empty(),
        "the native core runs every case: {skipped:?}"
    );
}

/// Every refusal in the case files says what would be accepted, not only what is wrong.
#[test]
fn every_refusal_says_what_would_be_accepted() {
    // Each refusal must carry one of these: an instruction or the accepted values.
    const HINTS: [&str; 41] = [
        "use ",
        "install it, or",
        "add {apiVersion",
        "grant it the ClusterRole rule",
        "may be retried",
        "expected ",
        "must ",
        "would work",
        "for example",
        "name one of",
        "remove ",
        "rename ",
        "set it",
        "set sampler.type to",
        "set metadata.namespace",
        "accepted (",
        "give it",
        "give an absolute path",
        "define each",
        "list each",
        "list container names",
        "list the Python containers",
        "name each",
        "its containers are",
        "percent-encode",
        "only apply to an https://",
        "accepts only one",
        "may appear once",
        "a Pod was expected",
        "(request.object is missing or null)",
        "check the spelling",
        "needs the name",
        "set the namespace",
        "cannot both be set",
        "the defaults:",
        "leave the field out",
        "leave sampler out",
        "pin it as",
        "change the rewrite's",
        "push the image there",
        "give the PolicyServer a pull secret",
    ];
    let cases = case_harness::load_all().unwrap();
    let mut missing = Vec::new();
    let mut refusals = 0;
    for case in &cases {
        let e = &case.expect;
        for m in [&e.settings_message, &e.message].into_iter().flatten() {
            refusals += 1;
            if !HINTS.iter().any(|h| m.contains(h)) {
                missing.push(format!("{}: {m}", case.name));
            }
        }
    }
    assert!(
        refusals >= 100,
        "only {refusals} exact refusals in the cases"
    );
    assert!(
        missing.is_empty(),
        "refusals that do not say what is accepted:\n{}",
        missing.join("\n")
    );
}

/// Every host call a case makes is one policy.yaml declares in `hostCapabilities`: a
/// PolicyServer that grants the policy what its metadata lists would refuse any other.
#[test]
fn every_host_call_of_the_cases_is_declared_in_policy_yaml() {
    let root = case_harness::case::tests_dir().join("..");
    let text = std::fs::read_to_string(root.join("policy.yaml")).unwrap();
    let metadata: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let declared: Vec<String> = metadata["hostCapabilities"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let mut made = std::collections::BTreeSet::new();
    for case in case_harness::load_all().unwrap() {
        let (Some(host), Some(request)) = (case.fresh_cluster(), case.request()) else {
            continue;
        };
        let payload = case_harness::response::validate_payload(request, &case.settings);
        let seams = InMemory(&host);
        let hosts = Hosts {
            cluster: &seams,
            registry: &seams,
        };
        admission::validate_with(&payload, hosts);
        made.extend(
            host.calls()
                .iter()
                .map(|c| format!("{}/{}", c.namespace, c.operation)),
        );
    }
    assert!(made.contains("oci/v1/manifest_digest"), "{made:?}");
    let undeclared: Vec<&String> = made.iter().filter(|c| !declared.contains(c)).collect();
    assert!(
        undeclared.is_empty(),
        "not in policy.yaml's hostCapabilities: {undeclared:?}"
    );
}
