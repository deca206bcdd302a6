//! Fixture cases: one YAML file per behaviour under `fixtures/cases/`, run through a policy
//! implementation (the wasm module in [`crate::host::PolicyHost`], or the native core).
//!
//! Case format (unknown keys are refused so that a typo cannot disable a check):
//!
//! ```yaml
//! reason: why this case exists (required, one line)
//! known_issue: what the core does instead  # optional: the case must currently fail
//! request: requests/article-pod.json     # path under fixtures/: AdmissionReview or AdmissionRequest
//! # or: request_raw: "not json"          # bytes sent verbatim as the validate payload
//! settings: settings/article.yaml        # path under fixtures/, or an inline mapping; default {}
//! expect:
//!   settings_valid: false                # only for settings cases (default true)
//!   settings_message: "exact"            # or settings_message_contains: [fragment, ...]
//!   allowed: true
//!   message: "exact"                     # or message_contains: [fragment, ...]
//!   code: 400
//!   warnings_contain: [fragment, ...]    # each fragment in some warning
//!   no_warnings: true
//!   patch: [ ...exact JSON patch... ]    # one of patch / object / no_patch when allowed
//!   object: { ...exact resulting object... }
//!   no_patch: true
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::host::{
    AdmissionResponse, CompiledPolicy, PolicyHost, admission_response, validate_payload,
};
use crate::input::{admission_request, read_settings_file};

/// The `fixtures/` directory of this crate.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The workspace root (the policy crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e-tests lives inside the workspace")
        .to_path_buf()
}

/// The built policy module: `$POLICY_WASM`, else the release build in `$CARGO_TARGET_DIR`
/// (default: the workspace's `target/`).
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("POLICY_WASM") {
        // Absolute, so that it survives a change of working directory (policy-run tests).
        return std::path::absolute(&p).unwrap_or_else(|_| PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("wasm32-wasip1/release/otel_python_policy.wasm")
}

/// Read the built module, refusing a missing one or one older than the policy sources (a stale
/// module would make every test below meaningless).
/// A fresh instance of the built module, compiled once per test binary (compiling takes about
/// half a second; instantiating, microseconds). Panics with the reason when the module is missing.
pub fn built_module_instance() -> PolicyHost {
    static COMPILED: std::sync::OnceLock<CompiledPolicy> = std::sync::OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let bytes = read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
            CompiledPolicy::compile(&bytes).unwrap_or_else(|e| panic!("{e:#}"))
        })
        .instantiate()
        .expect("instantiate the module")
}

pub fn read_built_module() -> Result<Vec<u8>> {
    let path = module_path();
    const BUILD: &str = "build it first: cargo build --target wasm32-wasip1 --release";
    let meta = std::fs::metadata(&path)
        .with_context(|| format!("policy module {} not found; {BUILD}", path.display()))?;
    if std::env::var_os("POLICY_WASM").is_none() {
        let built = meta.modified()?;
        let root = workspace_root();
        let mut sources = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
        collect_files(&root.join("src"), &mut sources)?;
        for src in sources {
            if let Ok(m) = std::fs::metadata(&src)
                && m.modified()? > built
            {
                bail!(
                    "policy module {} is older than {}; {BUILD}",
                    path.display(),
                    src.display()
                );
            }
        }
    }
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SettingsRef {
    Path(String),
    Inline(Value),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub settings_valid: Option<bool>,
    pub settings_message: Option<String>,
    #[serde(default)]
    pub settings_message_contains: Vec<String>,
    pub allowed: Option<bool>,
    pub message: Option<String>,
    #[serde(default)]
    pub message_contains: Vec<String>,
    pub code: Option<u16>,
    #[serde(default)]
    pub warnings_contain: Vec<String>,
    #[serde(default)]
    pub no_warnings: bool,
    pub patch: Option<Value>,
    pub object: Option<Value>,
    #[serde(default)]
    pub no_patch: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub reason: String,
    /// The expectation is the specified behaviour, but the core does not meet it yet: the runner
    /// then requires the case to FAIL (and says so when it starts passing).
    pub known_issue: Option<String>,
    pub request: Option<String>,
    pub request_raw: Option<String>,
    pub settings: Option<SettingsRef>,
    pub expect: Expect,
}

/// A loaded case: its inputs resolved to values.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub reason: String,
    pub known_issue: Option<String>,
    /// The AdmissionRequest (None for `request_raw` or settings-only cases).
    pub request: Option<Value>,
    pub request_raw: Option<Vec<u8>>,
    pub settings: Value,
    pub expect: Expect,
}

impl Case {
    /// The bytes sent to the guest's `validate`.
    pub fn validate_payload(&self) -> Option<Vec<u8>> {
        match (&self.request_raw, &self.request) {
            (Some(raw), _) => Some(raw.clone()),
            (None, Some(req)) => Some(validate_payload(req, &self.settings)),
            (None, None) => None,
        }
    }

    pub fn expects_valid_settings(&self) -> bool {
        self.expect.settings_valid.unwrap_or(true)
    }
}

/// Load every `*.yaml` case under `fixtures/cases/`, sorted by name.
pub fn load_cases() -> Result<Vec<Case>> {
    let dir = fixtures_dir().join("cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    paths.sort();
    paths.iter().map(|p| load_case(p)).collect()
}

pub fn load_case(path: &Path) -> Result<Case> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow!("bad case file name {}", path.display()))?
        .to_owned();
    let text = std::fs::read_to_string(path)?;
    let file: CaseFile =
        serde_yaml::from_str(&text).with_context(|| format!("case {}", path.display()))?;
    check_case_shape(&name, &file)?;
    let fixtures = fixtures_dir();
    let request = match &file.request {
        Some(rel) => {
            let p = fixtures.join(rel);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("case {name}: cannot read {}", p.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("case {name}: {} is not JSON", p.display()))?;
            Some(admission_request(value)?)
        }
        None => None,
    };
    let settings = match &file.settings {
        None => json!({}),
        Some(SettingsRef::Path(rel)) => {
            read_settings_file(&fixtures.join(rel)).with_context(|| format!("case {name}"))?
        }
        Some(SettingsRef::Inline(v)) => v.clone(),
    };
    Ok(Case {
        name,
        reason: file.reason,
        known_issue: file.known_issue,
        request,
        request_raw: file.request_raw.map(String::into_bytes),
        settings,
        expect: file.expect,
    })
}

fn check_case_shape(name: &str, f: &CaseFile) -> Result<()> {
    let e = &f.expect;
    if f.reason.trim().is_empty() {
        bail!("case {name}: `reason` is empty");
    }
    if f.known_issue
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        bail!("case {name}: `known_issue` is empty");
    }
    if f.request.is_some() && f.request_raw.is_some() {
        bail!("case {name}: give `request` or `request_raw`, not both");
    }
    if e.settings_valid == Some(false) {
        if e.settings_message.is_none() && e.settings_message_contains.is_empty() {
            bail!("case {name}: invalid settings need settings_message(_contains)");
        }
        if e.allowed.is_some() {
            bail!("case {name}: invalid settings never reach validate; drop `allowed`");
        }
        return Ok(());
    }
    if f.request.is_none() && f.request_raw.is_none() {
        bail!("case {name}: `request` (or `request_raw`) is required");
    }
    let Some(allowed) = e.allowed else {
        bail!("case {name}: expect.allowed is required");
    };
    let outcomes = [e.patch.is_some(), e.object.is_some(), e.no_patch]
        .iter()
        .filter(|b| **b)
        .count();
    if allowed && outcomes != 1 {
        bail!("case {name}: an allowed case needs exactly one of patch / object / no_patch");
    }
    if !allowed && (e.patch.is_some() || e.object.is_some()) {
        bail!("case {name}: a rejection cannot carry a patch");
    }
    Ok(())
}

/// Something that evaluates the policy's guest functions from raw payloads.
pub trait Policy {
    fn validate_settings_raw(&self, settings: &[u8]) -> Result<Vec<u8>>;
    fn validate_raw(&self, payload: &[u8]) -> Result<Vec<u8>>;
}

impl Policy for PolicyHost {
    fn validate_settings_raw(&self, settings: &[u8]) -> Result<Vec<u8>> {
        self.call("validate_settings", settings)
    }
    fn validate_raw(&self, payload: &[u8]) -> Result<Vec<u8>> {
        self.call("validate", payload)
    }
}

/// The native core, linked as an rlib: the same functions the guest exports.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeCore;

impl Policy for NativeCore {
    fn validate_settings_raw(&self, settings: &[u8]) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(
            &otel_python_policy::admission::validate_settings(settings),
        )?)
    }
    fn validate_raw(&self, payload: &[u8]) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(
            &otel_python_policy::admission::validate(payload),
        )?)
    }
}

/// What a case produced.
#[derive(Debug)]
pub struct Outcome {
    pub settings_answer: Value,
    /// None when settings were invalid (validate is not called, as with kwctl).
    pub response: Option<AdmissionResponse>,
    /// The request object with the patch applied (None without a patch).
    pub mutated: Option<Value>,
}

pub fn run_case(policy: &dyn Policy, case: &Case) -> Result<Outcome> {
    let settings_answer: Value = serde_json::from_slice(
        &policy.validate_settings_raw(&serde_json::to_vec(&case.settings)?)?,
    )?;
    if settings_answer.get("valid").and_then(Value::as_bool) != Some(true) {
        return Ok(Outcome {
            settings_answer,
            response: None,
            mutated: None,
        });
    }
    let Some(payload) = case.validate_payload() else {
        return Ok(Outcome {
            settings_answer,
            response: None,
            mutated: None,
        });
    };
    let answer: Value = serde_json::from_slice(&policy.validate_raw(&payload)?)
        .context("validate answer is not JSON")?;
    let request = case.request.clone().unwrap_or(Value::Null);
    let response = admission_response(&request, &answer)?;
    let mutated = match response.decoded_patch()? {
        Some(patch) => {
            let mut obj = request.get("object").cloned().unwrap_or(Value::Null);
            json_patch::patch(&mut obj, &patch).context("the patch does not apply")?;
            Some(obj)
        }
        None => None,
    };
    Ok(Outcome {
        settings_answer,
        response: Some(response),
        mutated,
    })
}

/// Check an outcome against the case's expectations; returns every mismatch found.
pub fn check_outcome(case: &Case, out: &Outcome) -> Vec<String> {
    let mut errs = Vec::new();
    let e = &case.expect;
    let valid = out.settings_answer.get("valid").and_then(Value::as_bool) == Some(true);
    let settings_msg = out
        .settings_answer
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("");
    if valid != case.expects_valid_settings() {
        errs.push(format!(
            "settings valid = {valid}, expected {} (message: {settings_msg:?})",
            case.expects_valid_settings()
        ));
        return errs;
    }
    if let Some(m) = &e.settings_message
        && m != settings_msg
    {
        errs.push(format!(
            "settings message:\n  got:      {settings_msg:?}\n  expected: {m:?}"
        ));
    }
    for frag in &e.settings_message_contains {
        if !settings_msg.contains(frag.as_str()) {
            errs.push(format!("settings message {settings_msg:?} lacks {frag:?}"));
        }
    }
    if !valid {
        return errs;
    }
    let Some(resp) = &out.response else {
        errs.push("no validate response".into());
        return errs;
    };
    if Some(resp.allowed) != e.allowed {
        errs.push(format!(
            "allowed = {}, expected {:?}; status: {:?}",
            resp.allowed, e.allowed, resp.status
        ));
    }
    let message = resp
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    if let Some(m) = &e.message
        && *m != message
    {
        errs.push(format!(
            "message:\n  got:      {message:?}\n  expected: {m:?}"
        ));
    }
    for frag in &e.message_contains {
        if !message.contains(frag.as_str()) {
            errs.push(format!("message {message:?} lacks {frag:?}"));
        }
    }
    if e.code.is_some() && resp.status.as_ref().and_then(|s| s.code) != e.code {
        errs.push(format!(
            "code = {:?}, expected {:?}",
            resp.status.as_ref().and_then(|s| s.code),
            e.code
        ));
    }
    let warnings = resp.warnings.clone().unwrap_or_default();
    for frag in &e.warnings_contain {
        if !warnings.iter().any(|w| w.contains(frag.as_str())) {
            errs.push(format!(
                "no warning contains {frag:?}; warnings: {warnings:?}"
            ));
        }
    }
    if e.no_warnings && !warnings.is_empty() {
        errs.push(format!("expected no warnings, got {warnings:?}"));
    }
    let patch = match resp.decoded_patch() {
        Ok(p) => p.map(|p| serde_json::to_value(p).expect("patch serialises")),
        Err(err) => {
            errs.push(format!("bad patch: {err:#}"));
            None
        }
    };
    if (e.no_patch || !resp.allowed) && patch.is_some() {
        errs.push(format!(
            "expected no patch, got {}",
            serde_json::to_string_pretty(&patch).unwrap_or_default()
        ));
    }
    if let Some(expected) = &e.patch
        && patch.as_ref() != Some(expected)
    {
        errs.push(format!(
            "patch differs:\n  got:      {}\n  expected: {}",
            serde_json::to_string(&patch).unwrap_or_default(),
            serde_json::to_string(expected).unwrap_or_default()
        ));
    }
    if let Some(expected) = &e.object {
        match &out.mutated {
            None => errs.push("expected a mutated object, got no patch".into()),
            Some(got) if got != expected => errs.push(format!(
                "resulting object differs at {}:\n  got:      {}\n  expected: {}",
                first_difference(got, expected),
                serde_json::to_string(got).unwrap_or_default(),
                serde_json::to_string(expected).unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    errs
}

/// A JSON pointer to the first place where two values differ (for readable failures).
pub fn first_difference(a: &Value, b: &Value) -> String {
    fn walk(a: &Value, b: &Value, path: &mut String) -> bool {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    match (x.get(k), y.get(k)) {
                        (Some(va), Some(vb)) => {
                            if walk(va, vb, path) {
                                return true;
                            }
                        }
                        _ => return true,
                    }
                    path.truncate(len);
                }
                false
            }
            (Value::Array(x), Value::Array(y)) => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    if walk(va, vb, path) {
                        return true;
                    }
                    path.truncate(len);
                }
                if x.len() != y.len() {
                    path.push_str(&format!(" (length {} vs {})", x.len(), y.len()));
                    return true;
                }
                false
            }
            _ => a != b,
        }
    }
    let mut path = String::new();
    if walk(a, b, &mut path) {
        if path.is_empty() { "/".into() } else { path }
    } else {
        "(equal)".into()
    }
}

/// The request of a case with its object replaced by `object` (for the idempotence check:
/// Kubernetes may reinvoke a mutating webhook on its own output).
pub fn request_with_object(request: &Value, object: &Value) -> Value {
    let mut r = request.clone();
    r["object"] = object.clone();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_points_at_the_changed_leaf() {
        let a = json!({"spec": {"containers": [{"env": [{"name": "A"}]}]}});
        let b = json!({"spec": {"containers": [{"env": [{"name": "B"}]}]}});
        assert_eq!(first_difference(&a, &b), "/spec/containers/0/env/0/name");
        assert_eq!(first_difference(&a, &a), "(equal)");
    }

    #[test]
    fn allowed_case_needs_one_outcome() {
        let f: CaseFile =
            serde_yaml::from_str("reason: r\nrequest: requests/x.json\nexpect: {allowed: true}\n")
                .unwrap();
        assert!(check_case_shape("c", &f).is_err());
        let f: CaseFile = serde_yaml::from_str(
            "reason: r\nrequest: requests/x.json\nexpect: {allowed: true, no_patch: true}\n",
        )
        .unwrap();
        assert!(check_case_shape("c", &f).is_ok());
    }

    #[test]
    fn unknown_expect_keys_are_refused() {
        let r: Result<CaseFile, _> = serde_yaml::from_str(
            "reason: r\nrequest: requests/x.json\nexpect: {allowed: true, no_pach: true}\n",
        );
        assert!(r.is_err());
    }
}
