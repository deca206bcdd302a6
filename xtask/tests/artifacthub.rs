//! artifacthub-pkg.yml is up to date, questions-ui.yml is usable, and the project has one
//! version number.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Map, Value};

#[test]
fn committed_artifacthub_pkg_is_up_to_date() {
    let committed = read_root("artifacthub-pkg.yml");
    let created_at = xtask::artifacthub::created_at_of(&committed).unwrap();
    let generated = xtask::artifacthub::generate(
        &policy_yaml(),
        Some(&read_root("questions-ui.yml")),
        &created_at,
    )
    .unwrap();
    assert!(
        committed == generated,
        "artifacthub-pkg.yml is stale: run `make artifacthub` and commit the result"
    );
    // The command line's --check agrees (it is what `make artifacthub` users run).
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .args(["artifacthub", "--check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_fails_on_a_stale_file() {
    let dir = TempDir::new("artifacthub");
    let stale = read_root("artifacthub-pkg.yml").replace("displayName: ", "displayName: Old ");
    std::fs::write(dir.path("artifacthub-pkg.yml"), stale).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("artifacthub")
        .arg("-m")
        .arg(root().join("policy.yaml"))
        .arg("-q")
        .arg(root().join("questions-ui.yml"))
        .arg("-o")
        .arg(dir.path("artifacthub-pkg.yml"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not up to date"));
}

#[test]
fn one_version_everywhere() {
    let cargo: toml_lite::Package = toml_lite::package(&read_root("Cargo.toml"));
    assert_eq!(cargo.name, "otel-python-policy");
    let policy: serde_yaml::Value = serde_yaml::from_str(&policy_yaml()).unwrap();
    let policy_version = policy["annotations"]["io.kubewarden.policy.version"]
        .as_str()
        .unwrap();
    let hub: serde_yaml::Value = serde_yaml::from_str(&read_root("artifacthub-pkg.yml")).unwrap();
    assert_eq!(cargo.version, policy_version, "Cargo.toml vs policy.yaml");
    assert_eq!(
        hub["version"].as_str(),
        Some(policy_version),
        "artifacthub-pkg.yml"
    );
    let tag = format!(":v{policy_version}");
    let image = hub["containersImages"][0]["image"].as_str().unwrap();
    assert!(image.ends_with(&tag), "{image}");
    for example in [
        "examples/cluster-admission-policy.yaml",
        "examples/admission-policy.yaml",
    ] {
        let doc: serde_yaml::Value = serde_yaml::from_str(&read_root(example)).unwrap();
        let module = doc["spec"]["module"].as_str().unwrap();
        assert!(
            module.ends_with(&tag),
            "{example}: {module} is not the current version"
        );
    }
}

/// Only what `one_version_everywhere` needs from Cargo.toml: `[package]` name and version.
mod toml_lite {
    pub struct Package {
        pub name: String,
        pub version: String,
    }

    pub fn package(text: &str) -> Package {
        let mut in_package = false;
        let (mut name, mut version) = (None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_package = line == "[package]";
                continue;
            }
            if !in_package {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim() {
                    "name" => name = Some(v),
                    "version" => version = Some(v),
                    _ => {}
                }
            }
        }
        Package {
            name: name.expect("[package] name"),
            version: version.expect("[package] version"),
        }
    }
}

/// Every question's variable, dotted paths expanded into `target`, with its default.
fn defaults_into(questions: &[serde_yaml::Value], target: &mut Map<String, Value>) {
    for q in questions {
        let variable = q["variable"]
            .as_str()
            .expect("every question has a variable");
        let default: Value = serde_json::to_value(&q["default"]).unwrap();
        if default.is_null() {
            continue;
        }
        let mut parts: Vec<&str> = variable.split('.').collect();
        let last = parts.pop().unwrap();
        let mut node = &mut *target;
        for p in parts {
            node = node
                .entry(p)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .unwrap();
        }
        node.insert(last.to_owned(), default);
    }
}

#[test]
fn questions_cover_the_settings_and_their_defaults_are_valid_settings() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&read_root("questions-ui.yml")).unwrap();
    let questions = doc["questions"].as_sequence().expect("a questions list");
    let variables: Vec<&str> = questions
        .iter()
        .map(|q| q["variable"].as_str().unwrap())
        .collect();
    for wanted in [
        "exporter.endpoint",
        "propagators",
        "sampler.type",
        "sampler.argument",
        "python.image",
        "instrumentations",
        "failureAction",
        "allowCrossNamespaceReferences",
    ] {
        assert!(variables.contains(&wanted), "no question for {wanted}");
    }
    for q in questions {
        assert!(q["label"].as_str().is_some_and(|l| !l.is_empty()), "{q:?}");
        if q["type"] == "enum" {
            let options = q["options"].as_sequence().expect("enum options");
            assert!(
                options.contains(&q["default"]),
                "default outside options: {q:?}"
            );
        }
    }

    // What the form submits when nobody touches it must be accepted by the module.
    let mut settings = Map::new();
    defaults_into(questions, &mut settings);
    // One named instrumentation filled in from the sequence's own defaults.
    let seq = questions
        .iter()
        .find(|q| q["variable"] == "instrumentations")
        .unwrap()["sequence_questions"]
        .as_sequence()
        .unwrap();
    let mut item = Map::new();
    defaults_into(seq, &mut item);
    item["metadata"]["name"] = "python".into();
    item["metadata"]["namespace"] = "monitor".into();
    settings.insert(
        "instrumentations".into(),
        Value::Array(vec![Value::Object(item)]),
    );
    let settings = Value::Object(settings);

    let host = e2e_tests::host::PolicyHost::new(policy_wasm()).unwrap();
    let answer = host.validate_settings(&settings).unwrap();
    assert_eq!(answer["valid"], true, "settings {settings} -> {answer}");
    // And the check means something: a sampler outside the enum is refused.
    let mut bad = settings.clone();
    bad["sampler"]["type"] = "sometimes".into();
    assert_eq!(host.validate_settings(&bad).unwrap()["valid"], false);
}
