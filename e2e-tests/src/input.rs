//! Reading a request and settings the way `kwctl run` does.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Read a request file (`-` for stdin): an AdmissionReview (its `.request` is taken) or a bare
/// AdmissionRequest.
pub fn read_request(path: &str) -> Result<Value> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the request from stdin")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read request {path}"))?
    };
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("request {path} is not valid JSON"))?;
    admission_request(value)
}

pub use case_harness::case::admission_request;

/// A Pod CREATE that stands in for the request of a settings-only case when a runner needs one
/// (kwctl, `policy-run`): the settings are validated before it is read.
pub fn stand_in_request() -> Value {
    serde_json::json!({"uid": "stand-in", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "default",
        "operation": "CREATE", "userInfo": {"username": "stand-in"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stand-in"},
            "spec": {"containers": [{"name": "app", "image": "python:3.12"}]}}})
}

/// The resource the API server names for `kind` (`{group, version, kind}`): the lowercase plural,
/// which for every kind the cases use is the kind and an `s`.
pub fn resource_of(kind: &Value) -> Value {
    let plural = format!(
        "{}s",
        kind["kind"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    );
    serde_json::json!({"group": kind["group"], "version": kind["version"], "resource": plural})
}

/// Read settings from a YAML or JSON file (JSON is YAML); they must form an object.
pub fn read_settings_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read settings {}", path.display()))?;
    parse_settings(&text).with_context(|| format!("settings file {}", path.display()))
}

/// Parse settings text (YAML or JSON). An empty document counts as `{}`.
pub fn parse_settings(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_yaml::from_str(text).context("settings are not valid YAML/JSON")?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Default::default())),
        other => bail!("settings must be an object, got: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admission_review_is_unwrapped() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "x", "operation": "CREATE"}});
        assert_eq!(
            admission_request(review).unwrap(),
            json!({"uid": "x", "operation": "CREATE"})
        );
        let bare = json!({"uid": "x", "kind": {"kind": "Pod", "version": "v1", "group": ""}});
        assert_eq!(admission_request(bare.clone()).unwrap(), bare);
        assert!(admission_request(json!({"kind": "AdmissionReview"})).is_err());
    }

    #[test]
    fn settings_yaml_and_json_parse_to_the_same_object() {
        let yaml = "a: 1\nb:\n  - x\n";
        let json_text = r#"{"a": 1, "b": ["x"]}"#;
        assert_eq!(
            parse_settings(yaml).unwrap(),
            parse_settings(json_text).unwrap()
        );
    }

    #[test]
    fn settings_must_be_an_object() {
        assert!(parse_settings("[1, 2]").is_err());
        assert_eq!(parse_settings("").unwrap(), json!({}));
    }
}
