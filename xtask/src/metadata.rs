//! The policy metadata (`policy.yaml`) as kwctl reads it, validates it and writes it into the
//! `io.kubewarden.metadata` custom section.
//!
//! Field order of [`Metadata`] is the order of the JSON kwctl writes:
//! `protocolVersion, rules, annotations, mutating, backgroundAudit, executionMode, policyType,
//! contextAwareResources[, hostCapabilities][, minimumKubewardenVersion]`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
pub const ANNOTATION_KWCTL: &str = "io.kubewarden.kwctl";
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";
pub const ANNOTATION_VERSION: &str = "io.kubewarden.policy.version";
pub const ANNOTATION_SOURCE: &str = "io.kubewarden.policy.source";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolVersion {
    #[serde(rename = "v1")]
    V1,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "UPDATE")]
    Update,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "*")]
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<Operation>,
}

/// Ordered by apiVersion, then kind: kwctl stores these in a sorted set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExecutionMode {
    #[default]
    #[serde(rename = "kubewarden-wapc")]
    KubewardenWapc,
    #[serde(rename = "opa")]
    Opa,
    #[serde(rename = "gatekeeper")]
    Gatekeeper,
    #[serde(rename = "wasi")]
    Wasi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PolicyType {
    #[default]
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "raw")]
    Raw,
}

fn default_true() -> bool {
    true
}

/// `policy.yaml` / the embedded metadata. Unknown keys are ignored, as kwctl does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub protocol_version: Option<ProtocolVersion>,
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Required: kwctl has no default for it, and neither do we.
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub policy_type: PolicyType,
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<semver::Version>,
}

impl Metadata {
    pub fn from_yaml(text: &str) -> Result<Self> {
        serde_yaml::from_str(text).context("policy metadata is not valid")
    }

    /// The metadata embedded in a module: the first `io.kubewarden.metadata` section, the one
    /// kwctl and policy-server read.
    pub fn from_module(module: &[u8]) -> Result<Option<Self>> {
        match crate::wasm::custom_sections(module, METADATA_SECTION)?.first() {
            None => Ok(None),
            Some(data) => Ok(Some(
                serde_json::from_slice(data).context("embedded metadata is not valid JSON")?,
            )),
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// The checks `kwctl annotate` makes before writing, plus one of ours: at least one rule
    /// (a policy without rules is never called by the API server). Every problem is reported.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.rules.is_empty() {
            problems.push("rules: at least one rule is needed".to_owned());
        }
        for (i, rule) in self.rules.iter().enumerate() {
            for (field, values) in [
                ("apiGroups", &rule.api_groups),
                ("apiVersions", &rule.api_versions),
                ("resources", &rule.resources),
            ] {
                if values.is_empty() {
                    problems.push(format!("rules[{i}].{field}: must not be empty"));
                }
                if field != "resources" && values.len() > 1 && values.iter().any(|v| v == "*") {
                    problems.push(format!(
                        "rules[{i}].{field}: no other elements can be defined when '*' is used"
                    ));
                }
            }
            if let Err(e) = validate_resources(&rule.resources) {
                problems.push(format!("rules[{i}].resources: {e}"));
            }
            if rule.operations.is_empty() {
                problems.push(format!("rules[{i}].operations: must not be empty"));
            } else if rule.operations.len() > 1 && rule.operations.contains(&Operation::All) {
                problems.push(format!(
                    "rules[{i}].operations: no other elements can be defined when '*' is used"
                ));
            }
        }
        match (self.execution_mode, self.protocol_version) {
            (_, None) => problems.push("protocolVersion: missing".to_owned()),
            (ExecutionMode::KubewardenWapc, Some(ProtocolVersion::Unknown)) => problems.push(
                "protocolVersion: a kubewarden-wapc policy needs a valid protocol version"
                    .to_owned(),
            ),
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("Metadata is invalid:\n  {}", problems.join("\n  "))
        }
    }

    /// The exact bytes kwctl puts in the custom section: compact JSON in field order.
    pub fn to_section_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }
}

/// Kubernetes' own rule for resource lists (admissionregistration validation): `*` with plain
/// resources, `*/*` with anything, `x/*` with `x/y`, `*/y` with `x/y` are contradictions.
fn validate_resources(resources: &[String]) -> Result<(), String> {
    let mut wildcard_sub_of: BTreeSet<&str> = BTreeSet::new(); // x in x/*
    let mut wildcard_res_for: BTreeSet<&str> = BTreeSet::new(); // y in */y
    let mut plain = false;
    for r in resources {
        if r.is_empty() {
            return Err("empty resource is not allowed".into());
        }
        if r == "*/*" && resources.len() > 1 {
            return Err("if '*/*' is present, must not specify other resources".into());
        }
        match r.split_once('/') {
            None => plain |= r != "*",
            Some((res, sub)) => {
                if wildcard_sub_of.contains(res) {
                    return Err(format!("if '{res}/*' is present, must not specify {r}"));
                }
                if wildcard_res_for.contains(sub) {
                    return Err(format!("if '*/{sub}' is present, must not specify {r}"));
                }
                if sub == "*" {
                    wildcard_sub_of.insert(res);
                }
                if res == "*" {
                    wildcard_res_for.insert(sub);
                }
            }
        }
    }
    if plain && resources.iter().any(|r| r == "*") {
        return Err(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "rules:\n- apiGroups: ['']\n  apiVersions: [v1]\n  resources: [pods]\n  operations: [CREATE]\nmutating: true\n";

    fn with_v1(text: &str) -> Metadata {
        let mut m = Metadata::from_yaml(text).unwrap();
        m.protocol_version = Some(ProtocolVersion::V1);
        m
    }

    #[test]
    fn defaults_and_key_order_match_kwctl() {
        let m = with_v1(MINIMAL);
        assert_eq!(
            String::from_utf8(m.to_section_json().unwrap()).unwrap(),
            r#"{"protocolVersion":"v1","rules":[{"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"operations":["CREATE"]}],"mutating":true,"backgroundAudit":true,"executionMode":"kubewarden-wapc","policyType":"kubernetes","contextAwareResources":[]}"#
        );
        m.validate().unwrap();
    }

    #[test]
    fn optional_fields_are_sorted_and_written_when_present() {
        let text = format!(
            "{MINIMAL}contextAwareResources:\n- {{apiVersion: v1, kind: Namespace}}\n- {{apiVersion: apps/v1, kind: Deployment}}\n\
             hostCapabilities: [kubernetes/list_resources_by_namespace, kubernetes/get_resource]\n\
             minimumKubewardenVersion: 1.2.3\nannotations: {{b: '2', a: '1'}}\n"
        );
        let json = String::from_utf8(with_v1(&text).to_section_json().unwrap()).unwrap();
        assert!(
            json.contains(r#""annotations":{"a":"1","b":"2"},"mutating""#),
            "{json}"
        );
        assert!(json.ends_with(
            r#""contextAwareResources":[{"apiVersion":"apps/v1","kind":"Deployment"},{"apiVersion":"v1","kind":"Namespace"}],"hostCapabilities":["kubernetes/get_resource","kubernetes/list_resources_by_namespace"],"minimumKubewardenVersion":"1.2.3"}"#
        ), "{json}");
    }

    #[test]
    fn mutating_is_required_and_operations_are_checked() {
        let no_mutating = MINIMAL.replace("mutating: true\n", "");
        assert!(Metadata::from_yaml(&no_mutating).is_err());
        let bad_op = MINIMAL.replace("CREATE", "PATCH");
        assert!(Metadata::from_yaml(&bad_op).is_err());
        // serde_yaml (kwctl's parser too) reads a plain `true` as the string "true".
        let m = Metadata::from_yaml(&format!("{MINIMAL}annotations: {{x: true}}\n")).unwrap();
        assert_eq!(m.annotation("x"), Some("true"));
    }

    #[test]
    fn invalid_rules_are_all_reported() {
        let m = with_v1(
            "rules:\n- apiGroups: ['', '*']\n  apiVersions: []\n  resources: ['*', pods]\n  operations: ['*', CREATE]\nmutating: false\n",
        );
        let err = m.validate().unwrap_err().to_string();
        for needle in ["apiGroups", "apiVersions", "resources", "operations"] {
            assert!(
                err.contains(&format!("rules[0].{needle}")),
                "{needle} missing in {err}"
            );
        }
        assert!(with_v1("rules: []\nmutating: false\n").validate().is_err());
    }

    #[test]
    fn protocol_version_must_be_known_for_wapc() {
        let mut m = with_v1(MINIMAL);
        m.protocol_version = Some(ProtocolVersion::Unknown);
        assert!(m.validate().is_err());
        m.execution_mode = ExecutionMode::Wasi;
        m.validate().unwrap();
        m.protocol_version = None;
        assert!(m.validate().is_err());
    }

    #[test]
    fn kubernetes_resource_rules() {
        let ok =
            |r: &[&str]| validate_resources(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["pods", "pods/status"]).is_ok());
        // Order matters, as in Kubernetes: `a/b` before `a/*` is accepted.
        assert!(ok(&["*", "a/b", "a/*", "*/b"]).is_ok());
        assert!(ok(&["*", "pods/status"]).is_ok());
        assert!(ok(&["*", "pods"]).is_err());
        assert!(ok(&["*/*", "pods"]).is_err());
        assert!(ok(&["a/*", "a/x"]).is_err());
        assert!(ok(&["*/x", "a/x"]).is_err());
        assert!(ok(&["a/*", "a"]).is_ok());
        assert!(ok(&[""]).is_err());
    }
}
