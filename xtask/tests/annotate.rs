//! `xtask annotate`: the metadata section kwctl would write, nothing else touched, and a module
//! that still runs.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use xtask::annotate::TOOL_ID;
use xtask::metadata::METADATA_SECTION;

/// The custom sections called `name`, read with wasmparser (not with xtask's own splicer).
fn sections_named<'a>(module: &'a [u8], name: &str) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::CustomSection(reader) = payload.expect("valid module")
            && reader.name() == name
        {
            out.push(reader.data());
        }
    }
    out
}

/// The JSON kwctl 1.36 writes for policy.yaml, spelled out here: keys in kwctl's order, the
/// annotations of policy.yaml plus io.kubewarden.kwctl and the usage, sorted.
fn expected_json() -> String {
    #[derive(serde::Deserialize)]
    struct Annotations {
        annotations: BTreeMap<String, String>,
    }
    let mut annotations = serde_yaml::from_str::<Annotations>(&policy_yaml())
        .unwrap()
        .annotations;
    assert_eq!(
        annotations["io.kubewarden.policy.title"],
        "otel-python-autoinstrumentation"
    );
    annotations.insert("io.kubewarden.kwctl".into(), TOOL_ID.into());
    annotations.insert("io.kubewarden.policy.usage".into(), usage());
    format!(
        r#"{{"protocolVersion":"v1","rules":[{{"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"operations":["CREATE"]}},{{"apiGroups":[""],"apiVersions":["v1"],"resources":["replicationcontrollers"],"operations":["CREATE","UPDATE"]}},{{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["deployments","statefulsets","daemonsets","replicasets"],"operations":["CREATE","UPDATE"]}},{{"apiGroups":["batch"],"apiVersions":["v1"],"resources":["jobs","cronjobs"],"operations":["CREATE","UPDATE"]}}],"annotations":{},"mutating":true,"backgroundAudit":false,"executionMode":"kubewarden-wapc","policyType":"kubernetes","contextAwareResources":[{{"apiVersion":"apps/v1","kind":"ReplicaSet"}},{{"apiVersion":"batch/v1","kind":"Job"}},{{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation"}},{{"apiVersion":"v1","kind":"Namespace"}}],"hostCapabilities":["kubernetes/can_i","kubernetes/get_resource","kubernetes/list_resources_all","oci/v1/manifest_digest","oci/v1/oci_manifest_config"]}}"#,
        serde_json::to_string(&annotations).unwrap()
    )
}

#[test]
fn the_section_reads_back_as_kwctls_json() {
    let sections = sections_named(annotated(), METADATA_SECTION);
    assert_eq!(sections.len(), 1);
    assert_eq!(std::str::from_utf8(sections[0]).unwrap(), expected_json());
    assert!(
        sections_named(policy_wasm(), METADATA_SECTION).is_empty(),
        "the input had none"
    );
}

#[test]
fn every_other_byte_is_unchanged() {
    // Annotating a module without metadata appends one section: the input is a prefix.
    let (original, annotated) = (policy_wasm(), annotated());
    assert!(annotated.len() > original.len());
    assert_eq!(&annotated[..original.len()], original);
    // And the module keeps every other custom section (name, producers, ...), in order.
    let others = |m: &[u8]| -> Vec<(String, Vec<u8>)> {
        wasmparser::Parser::new(0)
            .parse_all(m)
            .filter_map(|p| match p.unwrap() {
                wasmparser::Payload::CustomSection(r) if r.name() != METADATA_SECTION => {
                    Some((r.name().to_owned(), r.data().to_vec()))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(others(original), others(annotated));
}

#[test]
fn the_annotated_module_still_runs_the_articles_example() {
    let annotated_answer = assert_article_example_mutates(annotated());
    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    let original_answer = host
        .validate(&article_request(), &article_settings())
        .unwrap();
    assert_eq!(
        annotated_answer, original_answer,
        "annotation changed the behaviour"
    );
}

#[test]
fn annotating_twice_needs_force_and_leaves_one_section() {
    let err = xtask::annotate::annotate(annotated(), &policy_yaml(), Some(&usage()), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already annotated"), "{err}");

    let other_usage = "another usage\n";
    let (twice, _) =
        xtask::annotate::annotate(annotated(), &policy_yaml(), Some(other_usage), true).unwrap();
    let sections = sections_named(&twice, METADATA_SECTION);
    assert_eq!(sections.len(), 1, "re-annotating must replace, never add");
    assert!(
        std::str::from_utf8(sections[0])
            .unwrap()
            .contains(r#""io.kubewarden.policy.usage":"another usage\n""#)
    );
    // Same bytes as annotating the original module with that usage.
    let (direct, _) =
        xtask::annotate::annotate(policy_wasm(), &policy_yaml(), Some(other_usage), false).unwrap();
    assert_eq!(twice, direct);
}

#[test]
fn invalid_metadata_is_refused_before_anything_is_written() {
    let no_ops = policy_yaml().replace(r#"operations: ["CREATE"]"#, "operations: []");
    assert_ne!(no_ops, policy_yaml(), "fixture edit did not apply");
    let err = xtask::annotate::annotate(policy_wasm(), &no_ops, None, false).unwrap_err();
    assert!(
        format!("{err:#}").contains("rules[0].operations"),
        "{err:#}"
    );

    let rego_mode = policy_yaml().replace("executionMode: kubewarden-wapc", "executionMode: opa");
    assert_ne!(rego_mode, policy_yaml(), "fixture edit did not apply");
    assert!(xtask::annotate::annotate(policy_wasm(), &rego_mode, None, false).is_err());
}

#[test]
fn the_command_line_writes_the_same_bytes() {
    let dir = TempDir::new("annotate-cli");
    std::fs::write(dir.path("policy.wasm"), policy_wasm()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("annotate")
        .arg("-m")
        .arg(root().join("policy.yaml"))
        .arg("-u")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/usage.md"
        ))
        .arg("-o")
        .arg(dir.path("annotated.wasm"))
        .arg(dir.path("policy.wasm"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path("annotated.wasm")).unwrap(),
        annotated()
    );

    // An annotated input without --force: refused, nothing written.
    let again = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["annotate", "-m"])
        .arg(root().join("policy.yaml"))
        .arg("-o")
        .arg(dir.path("again.wasm"))
        .arg(dir.path("annotated.wasm"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(!dir.path("again.wasm").exists());
}
