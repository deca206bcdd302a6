//! examples/: each manifest parses, agrees with policy.yaml and carries settings the module
//! accepts.

mod common;

use common::*;
use serde_json::Value;

fn example(name: &str) -> Value {
    serde_yaml::from_str(&read_root(&format!("examples/{name}")))
        .unwrap_or_else(|e| panic!("examples/{name} does not parse: {e}"))
}

fn check_against_policy_yaml(doc: &Value, kind: &str) {
    let policy: Value = serde_yaml::from_str(&policy_yaml()).unwrap();
    assert_eq!(doc["apiVersion"], "policies.kubewarden.io/v1");
    assert_eq!(doc["kind"], kind);
    assert!(
        doc["metadata"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    let spec = &doc["spec"];
    let module = spec["module"].as_str().unwrap();
    let oci = policy["annotations"]["io.kubewarden.policy.ociUrl"]
        .as_str()
        .unwrap();
    assert!(
        module.starts_with(&format!("registry://{oci}:v")),
        "{module}"
    );
    assert_eq!(spec["mutating"], true);
    assert_eq!(
        spec["rules"], policy["rules"],
        "rules differ from policy.yaml"
    );
    assert!(spec["settings"].is_object());
}

fn assert_settings_valid(settings: &Value) {
    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    let answer = host.validate_settings(settings).unwrap();
    assert_eq!(answer["valid"], true, "{answer}");
}

#[test]
fn cluster_admission_policy() {
    let doc = example("cluster-admission-policy.yaml");
    check_against_policy_yaml(&doc, "ClusterAdmissionPolicy");
    assert!(doc["metadata"]["namespace"].is_null(), "cluster-scoped");
    // The article's settings, exactly.
    assert_eq!(doc["spec"]["settings"], article_settings());
    assert_settings_valid(&doc["spec"]["settings"]);
}

#[test]
fn namespaced_admission_policy() {
    let doc = example("admission-policy.yaml");
    check_against_policy_yaml(&doc, "AdmissionPolicy");
    let namespace = doc["metadata"]["namespace"].as_str().expect("namespaced");
    // Fields an AdmissionPolicy does not have.
    for field in ["namespaceSelector", "contextAwareResources"] {
        assert!(
            doc["spec"][field].is_null(),
            "AdmissionPolicy has no {field}"
        );
    }
    let settings = &doc["spec"]["settings"];
    assert_settings_valid(settings);
    // Its instrumentations live where the policy can see the pods: its own namespace.
    for i in settings["instrumentations"].as_array().unwrap() {
        assert_eq!(i["metadata"]["namespace"], namespace);
    }
    assert_eq!(settings["allowCrossNamespaceReferences"], false);
}

#[test]
fn a_broken_example_would_be_caught() {
    // The validate_settings check is not vacuous: the CAP's settings with a typo are refused.
    let mut settings = example("cluster-admission-policy.yaml")["spec"]["settings"].clone();
    settings["instrumentations"][0]["spec"]["sampler"]["argument"] = "1.5".into();
    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    assert_eq!(host.validate_settings(&settings).unwrap()["valid"], false);
}

#[test]
fn cluster_mode() {
    let text = read_root("examples/cluster-mode.yaml");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let [policy, role, binding] = docs.as_slice() else {
        panic!("a ClusterAdmissionPolicy, a ClusterRole and a ClusterRoleBinding");
    };
    check_against_policy_yaml(policy, "ClusterAdmissionPolicy");
    let metadata: Value = serde_yaml::from_str(&policy_yaml()).unwrap();
    assert_eq!(
        policy["spec"]["contextAwareResources"], metadata["contextAwareResources"],
        "the policy reads exactly what policy.yaml declares"
    );
    let settings = &policy["spec"]["settings"];
    assert_eq!(settings["instrumentationSource"], "cluster");
    assert_settings_valid(settings);
    // Every kind the policy reads is granted: get, and list and watch for the listed one.
    assert_eq!(role["kind"], "ClusterRole");
    for resource in metadata["contextAwareResources"].as_array().unwrap() {
        let (api_version, kind) = (
            resource["apiVersion"].as_str().unwrap(),
            resource["kind"].as_str().unwrap(),
        );
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let verbs: Vec<&str> = if kind == "Instrumentation" {
            vec!["get", "list", "watch"]
        } else {
            vec!["get"]
        };
        let granted = role["rules"].as_array().unwrap().iter().any(|r| {
            r["apiGroups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == group)
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == &plural)
                && verbs
                    .iter()
                    .all(|v| r["verbs"].as_array().unwrap().iter().any(|x| x == v))
        });
        assert!(granted, "{api_version} {kind} is not granted {verbs:?}");
    }
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = settings["policyServerServiceAccount"].as_str().unwrap();
    let subject = &binding["subjects"][0];
    assert_eq!(
        format!(
            "{}/{}",
            subject["namespace"].as_str().unwrap(),
            subject["name"].as_str().unwrap()
        ),
        sa
    );
}

/// The air-gapped example: the module and every image it names come from the mirror (the module
/// is policy.yaml's ociUrl under the mirror's path, the Python image is moved there by the
/// example's own imageRewrites), pinned, with the mirror's pull secret; its settings pass.
#[test]
fn air_gapped() {
    let mut doc = example("air-gapped.yaml");
    let mirror = "registry.internal.example.com/mirror/";
    let module = doc["spec"]["module"].as_str().unwrap().to_string();
    let canonical = module.replacen(mirror, "", 1);
    assert_ne!(canonical, module, "{module} is not in the mirror {mirror}");
    doc["spec"]["module"] = canonical.into();
    check_against_policy_yaml(&doc, "ClusterAdmissionPolicy");
    let settings = &doc["spec"]["settings"];
    assert_settings_valid(settings);
    assert_eq!(settings["pinImageDigest"], "resolve");
    assert!(!settings["imagePullSecrets"].as_array().unwrap().is_empty());
    for rewrite in settings["imageRewrites"].as_array().unwrap() {
        assert!(
            rewrite["to"].as_str().unwrap().starts_with(mirror),
            "{rewrite}"
        );
    }
    // The article's pod gets the mirror's image, whose digest the mirror is asked for.
    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    let answer = host.validate(&article_request(), settings).unwrap();
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "the digest of image \"{mirror}image.com.tw/library/otel-autoinstrumentation-python:0.43b0\" cannot be read"
        )),
        "{answer}"
    );
}

/// The audit role's example: the mutating policy's module, rules and settings with `audit: true`,
/// deployed not mutating, in monitor mode, for the audit scanner; the article's pod created before
/// the policy, as the scanner sends it, is reported (400: a failure, not an error).
#[test]
fn audit_role() {
    let doc = example("audit.yaml");
    let spec = &doc["spec"];
    assert_eq!(spec["mutating"], false);
    assert_eq!(spec["mode"], "monitor");
    assert_eq!(spec["backgroundAudit"], true);
    let mut as_mutating = doc.clone();
    as_mutating["spec"]["mutating"] = true.into();
    check_against_policy_yaml(&as_mutating, "ClusterAdmissionPolicy");
    let mutating = example("cluster-admission-policy.yaml");
    assert_ne!(doc["metadata"]["name"], mutating["metadata"]["name"]);
    assert_eq!(spec["module"], mutating["spec"]["module"]);
    let settings = &spec["settings"];
    assert_eq!(settings["audit"], true);
    assert_settings_valid(settings);
    let mut same = settings.clone();
    same.as_object_mut().unwrap().remove("audit");
    assert_eq!(
        same, mutating["spec"]["settings"],
        "the audit compares pods with what the mutating policy injects"
    );
    let text = read_root("tests/inputs/requests/audit-article-pod-before-the-policy.json");
    let request =
        e2e_tests::input::admission_request(serde_json::from_str(&text).unwrap()).unwrap();
    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    let answer = host.validate(&request, settings).unwrap();
    assert_eq!(
        (&answer["accepted"], &answer["code"]),
        (&false.into(), &400.into()),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("carries no record of it"), "{answer}");
    assert!(answer["mutated_object"].is_null());
}
