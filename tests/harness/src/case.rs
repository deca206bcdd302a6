//! The case format: one YAML file per behaviour under `tests/cases/<topic>/`, an admission (or a
//! settings object) and what the policy must answer. Unknown keys are refused, so a typo cannot
//! switch a check off. The file's name says the behaviour; the case is named `<topic>/<file>`.
//!
//! `tests/cases/` holds case files only (every `.yaml` of every folder is loaded as one). The
//! inputs that several cases, the e2e tests and the docs share live apart, in `tests/inputs/`:
//! `requests/*.json`, `settings/*.yaml` and `clusters/*.yml`. A case names one by its path
//! relative to `tests/inputs/` (`request: requests/article-pod.json` is
//! `tests/inputs/requests/article-pod.json`), the same path whatever the case's topic.
//!
//! ```yaml
//! reason: why this case exists                  # required
//! settings: settings/article.yaml              # a file under tests/inputs/, or inline; default {}
//! request: requests/article-pod.json           # a file under tests/inputs/ (AdmissionReview or
//!                                              #   AdmissionRequest), or inline;
//! # or request_raw: "bytes"                    #   the validate payload verbatim (not JSON, say)
//! # or request_raw_base64: "..."               #   the same for bytes that are not UTF-8
//! huge: {at: /request/object/..., text: x, times: 1000000}   # a JSON pointer into {request, settings}
//! cluster: clusters/article.yml                # cluster mode: the cluster that answers the host calls
//!                                              #   (a file under tests/inputs/)
//! registry: registries/mirror.yml              # the registries that answer the oci/* host calls
//!                                              #   (a file under tests/inputs/; crate::registry)
//! expect:
//!   calls: ["get_resource v1/Namespace default", ...]  # the host calls, exactly and in order
//!   settings_valid: false                      # settings cases: validate_settings refuses, with
//!   settings_message: "exact"                  #   this message (or settings_message_contains)
//!   allowed: true                              # required when the settings are valid
//!   code: 400
//!   message: "exact status.message"            # or message_contains: [fragment, ...]
//!   warnings: ["exact", ...]                   # or warnings_contain: [fragment, ...], or no_warnings
//!   patch: [...]                               # the exact JSON patch, or
//!   object: {...}                              # the exact object after the patch, or
//!   no_patch: true
//!   env: {container: ["NAME=value", "NAME<-fieldPath", ...]}   # exact env of a container after the patch
//!   env_contains: {container: ["NAME=value", ...]}             # lines that env has
//!   containers: {name: {field: value}}         # fields of a container after the patch
//!   spec: {field: value}                       # fields of the pod spec after the patch
//!   annotations: {key: value}                  # the pod's annotations after the patch (null: absent)
//! validate_expect: {allowed: false, code: 500, message: "..."}  # validate called although the
//!                                              # settings are invalid (a host that skipped validate_settings)
//! ```
//! In `huge` cases, `{huge}` in an expected message stands for the huge string.
//!
//! `cluster` names a fixture under `tests/inputs/clusters/` (format: [`crate::cluster`]): in
//! cluster mode (settings `instrumentationSource: cluster`) the policy reads Instrumentations,
//! Namespaces and pod owners through Kubewarden's `kubernetes/*` host capabilities, and this is
//! the cluster that answers them, with policy-server's semantics, on every backend. It is a file,
//! not inline, because one cluster serves many cases and the bats scenarios (whose kwctl session
//! files are generated from the same fixture), and because a fixture is checked against what the
//! API server stores, which an inline copy in each case would escape. A case without `cluster`
//! has none: its host calls are refused, as by a host that offers none. A missing or malformed
//! fixture fails the loading of every case, naming the case and the file.
//!
//! `registry` names a fixture under `tests/inputs/registries/` (format: [`crate::registry`]): the
//! registries that answer the `oci/v1/manifest_digest` and `oci/v1/oci_manifest_config` calls
//! (`pinImageDigest: resolve`, `inspectAppImages`). With a `cluster` too, both answer through one host, whose log and
//! kwctl session hold their calls in the order made; without one, the case's `kubernetes` calls
//! are not modelled.
//!
//! `calls` states what the policy asks its host, one line a call ([`crate::cluster::call_summary`]:
//! the operation, then what it asks for, as `get_resource <apiVersion>/<kind> [<ns>/]<name>`,
//! `list_resources_all <apiVersion>/<kind>`, `can_i <verb> <resource>.<group>`, with
//! `masks=[spec]` when the payload masks, `manifest_digest <image>`, `oci_manifest_config <image>`; a call the host does not
//! model shows its payload).
//! Why: which calls, with which exact
//! payloads, in which order is behaviour of its own in cluster mode; kwctl replays a session
//! only if every request matches field for field, policy-server caches by the exact request, and
//! a list the PolicyServer may not list never returns. It is checked exactly and in order by the
//! backends that see the calls (the native core and the project's waPC host; kwctl replays them
//! instead), on the first evaluation (the idempotence pass may ask less). A case without `calls`
//! is not checked for them: most cases are about the outcome; give `calls: []` to say "no host
//! call at all". Whether `calls` is given or not, a call that the real policy-server would never
//! answer, or that the cluster does not model, fails a cluster case. Each evaluation starts
//! from the fixture as loaded, with an empty call log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cluster::ClusterState;
use crate::registry::RegistryState;

/// The repository's `tests/`, the folder that holds `cases/` and `inputs/`. Found from the running
/// test's package (cargo sets `CARGO_MANIFEST_DIR` when it runs a test), so a harness built in
/// another checkout sharing the target directory still reads this checkout's cases; the harness's
/// own build-time folder is the fallback.
pub fn tests_dir() -> PathBuf {
    let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    running
        .iter()
        .flat_map(|dir| dir.ancestors())
        .map(|dir| dir.join("tests"))
        .find(|tests| tests.join("cases").is_dir())
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the harness lives in tests/")
                .to_path_buf()
        })
}

/// `tests/cases/`: the case files, one folder per topic, and nothing else.
pub fn cases_dir() -> PathBuf {
    tests_dir().join("cases")
}

/// `tests/inputs/`: the requests, settings and clusters that cases name by path, relative to it.
pub fn inputs_dir() -> PathBuf {
    tests_dir().join("inputs")
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Input {
    Path(String),
    Inline(Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Huge {
    at: String,
    text: String,
    times: usize,
}

/// What the policy must answer.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub settings_valid: Option<bool>,
    pub settings_message: Option<String>,
    #[serde(default)]
    pub settings_message_contains: Vec<String>,
    pub allowed: Option<bool>,
    pub code: Option<u16>,
    pub message: Option<String>,
    #[serde(default)]
    pub message_contains: Vec<String>,
    pub warnings: Option<Vec<String>>,
    #[serde(default)]
    pub warnings_contain: Vec<String>,
    #[serde(default)]
    pub no_warnings: bool,
    pub patch: Option<Value>,
    pub object: Option<Value>,
    #[serde(default)]
    pub no_patch: bool,
    pub env: Option<Map<String, Value>>,
    pub env_contains: Option<Map<String, Value>>,
    pub containers: Option<Map<String, Value>>,
    pub spec: Option<Map<String, Value>>,
    pub annotations: Option<Map<String, Value>>,
    /// The host calls, one [`crate::cluster::call_summary`] line each; `None`: not checked.
    pub calls: Option<Vec<String>>,
}

/// `validate` called with settings that `validate_settings` refuses.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ValidateExpect {
    pub allowed: bool,
    pub code: Option<u16>,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    reason: String,
    settings: Option<Input>,
    request: Option<Input>,
    request_raw: Option<String>,
    request_raw_base64: Option<String>,
    huge: Option<Huge>,
    cluster: Option<String>,
    registry: Option<String>,
    expect: Expect,
    validate_expect: Option<ValidateExpect>,
}

/// What a case sends to `validate`.
#[derive(Debug, Clone)]
pub enum Payload {
    /// An AdmissionRequest; the host builds `{"request": .., "settings": ..}`.
    Request(Value),
    /// The validate payload, verbatim.
    Raw(Vec<u8>),
    /// Nothing: a settings-only case.
    None,
}

/// A loaded case, its inputs resolved.
#[derive(Debug, Clone)]
pub struct Case {
    /// `topic/file-name`, without `.yaml`.
    pub name: String,
    pub reason: String,
    pub settings: Value,
    pub payload: Payload,
    pub expect: Expect,
    pub validate_expect: Option<ValidateExpect>,
    /// The host of a case with a cluster or a registry (the cluster, with the registry joined),
    /// as loaded (its call log stays empty: use [`Case::fresh_cluster`] for an evaluation).
    pub cluster: Option<Arc<ClusterState>>,
}

impl Case {
    pub fn request(&self) -> Option<&Value> {
        match &self.payload {
            Payload::Request(r) => Some(r),
            _ => None,
        }
    }

    /// The case's cluster with an empty call log, for one evaluation.
    pub fn fresh_cluster(&self) -> Option<Arc<ClusterState>> {
        self.cluster.as_ref().map(|c| Arc::new(c.fresh()))
    }
}

/// Every case under `tests/cases/`, sorted by name, its inputs read from `tests/inputs/`.
pub fn load_all() -> Result<Vec<Case>> {
    let (root, inputs) = (cases_dir(), inputs_dir());
    let mut paths = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))?
    {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir)? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let (mut cases, mut errors) = (Vec::new(), Vec::new());
    for p in &paths {
        match load(&root, &inputs, p) {
            Ok(c) => cases.push(c),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} case file(s) are malformed:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    Ok(cases)
}

/// The case file at `path` (under `root`, which gives its name), its input paths taken relative to
/// `inputs`.
fn load(root: &Path, inputs: &Path, path: &Path) -> Result<Case> {
    let name = path
        .strip_prefix(root)?
        .with_extension("")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(path)?;
    let file: CaseFile =
        serde_yaml::from_str(&text).with_context(|| format!("case {}", path.display()))?;
    let label = format!("case {name}");
    let ctx = || label.clone();
    check_shape(&name, &file)?;
    let settings = match &file.settings {
        None => json!({}),
        Some(Input::Path(rel)) => read_settings(&inputs.join(rel)).with_context(ctx)?,
        Some(Input::Inline(v)) => v.clone(),
    };
    let request = match &file.request {
        None => None,
        Some(Input::Path(rel)) => Some(read_request(&inputs.join(rel)).with_context(ctx)?),
        Some(Input::Inline(v)) => Some(admission_request(v.clone())?),
    };
    let cluster = match &file.cluster {
        None => None,
        Some(rel) => Some(
            ClusterState::from_file(inputs.join(rel))
                .with_context(|| format!("{}: cluster {rel}", ctx()))?,
        ),
    };
    let registry = match &file.registry {
        None => None,
        Some(rel) => Some(
            RegistryState::from_file(inputs.join(rel))
                .with_context(|| format!("{}: registry {rel}", ctx()))?,
        ),
    };
    let cluster = match (cluster, registry) {
        (None, None) => None,
        (Some(c), None) => Some(Arc::new(c)),
        (Some(c), Some(r)) => Some(Arc::new(c.with_registry(r))),
        (None, Some(r)) => Some(Arc::new(ClusterState::registry_only(r))),
    };
    let mut case = Case {
        name,
        reason: file.reason,
        settings,
        payload: match (request, &file.request_raw, &file.request_raw_base64) {
            (Some(r), None, None) => Payload::Request(r),
            (None, Some(raw), None) => Payload::Raw(raw.clone().into_bytes()),
            (None, None, Some(b64)) => Payload::Raw(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .with_context(ctx)?,
            ),
            (None, None, None) => Payload::None,
            _ => bail!(
                "{}: give one of request, request_raw, request_raw_base64",
                ctx()
            ),
        },
        expect: file.expect,
        validate_expect: file.validate_expect,
        cluster,
    };
    if let Some(huge) = &file.huge {
        make_huge(&mut case, huge)?;
    }
    Ok(case)
}

fn check_shape(name: &str, f: &CaseFile) -> Result<()> {
    let e = &f.expect;
    if f.reason.trim().len() < 10 {
        bail!("case {name}: `reason` must say why the case exists");
    }
    if e.calls.is_some() && f.cluster.is_none() && f.registry.is_none() {
        bail!(
            "case {name}: expect.calls needs a `cluster` or a `registry` (without one the host answers no call)"
        );
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
    let no_request =
        f.request.is_none() && f.request_raw.is_none() && f.request_raw_base64.is_none();
    if no_request && e.settings_valid == Some(true) && e.allowed.is_none() {
        return Ok(()); // a settings case: the settings are accepted
    }
    if no_request {
        bail!("case {name}: a request is required unless it is a settings case (settings_valid)");
    }
    let Some(allowed) = e.allowed else {
        bail!("case {name}: expect.allowed is required");
    };
    let pod_checks = [e.patch.is_some(), e.object.is_some(), e.no_patch];
    let outcomes = pod_checks.iter().filter(|b| **b).count();
    if outcomes > 1 {
        bail!("case {name}: give at most one of patch / object / no_patch");
    }
    let details = e.env.is_some()
        || e.env_contains.is_some()
        || e.containers.is_some()
        || e.spec.is_some()
        || e.annotations.is_some();
    if allowed && outcomes == 0 && !details {
        bail!(
            "case {name}: an allowed case says what happens to the pod (patch, object, no_patch, env, env_contains, containers, spec or annotations)"
        );
    }
    if !allowed && (e.patch.is_some() || e.object.is_some() || details) {
        bail!("case {name}: a refusal carries no patch");
    }
    if e.message.is_none() && e.message_contains.is_empty() && !allowed {
        bail!("case {name}: a refusal says which message it gives");
    }
    Ok(())
}

fn make_huge(case: &mut Case, huge: &Huge) -> Result<()> {
    let big = huge.text.repeat(huge.times);
    let mut whole = json!({"request": case.request().cloned().unwrap_or(Value::Null), "settings": case.settings});
    *whole
        .pointer_mut(&huge.at)
        .ok_or_else(|| anyhow!("case {}: huge.at {} names nothing", case.name, huge.at))? =
        Value::String(big.clone());
    case.settings = whole["settings"].take();
    if let Payload::Request(r) = &mut case.payload {
        *r = whole["request"].take();
    }
    let fill = |s: &mut String| *s = s.replace("{huge}", &big);
    let e = &mut case.expect;
    for m in [&mut e.message, &mut e.settings_message]
        .into_iter()
        .flatten()
    {
        fill(m);
    }
    e.warnings_contain.iter_mut().for_each(fill);
    e.warnings.iter_mut().flatten().for_each(fill);
    for lines in e
        .env
        .iter_mut()
        .chain(&mut e.env_contains)
        .flat_map(|m| m.values_mut())
    {
        for line in lines.as_array_mut().into_iter().flatten() {
            if let Value::String(s) = line {
                fill(s);
            }
        }
    }
    if let Some(v) = &mut case.validate_expect {
        fill(&mut v.message);
    }
    Ok(())
}

/// A request file: an AdmissionReview (its `.request` is taken) or a bare AdmissionRequest.
pub fn read_request(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read request {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("request {} is not JSON", path.display()))?;
    admission_request(value)
}

/// An AdmissionReview's `.request`, or the value itself when it is a bare AdmissionRequest.
pub fn admission_request(value: Value) -> Result<Value> {
    if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        match value.get("request") {
            Some(req) if req.is_object() => Ok(req.clone()),
            _ => bail!("the AdmissionReview has no `request` object"),
        }
    } else {
        Ok(value)
    }
}

/// A settings file, YAML or JSON; empty means `{}`.
pub fn read_settings(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read settings {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    let value: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("settings {} are not YAML/JSON", path.display()))?;
    Ok(if value.is_null() { json!({}) } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch `tests/` with one case file in `cases/topic/` and one cluster in
    /// `inputs/clusters/`, where the case's `clusters/one.yml` resolves.
    fn load_one(case: &str) -> Result<Case> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tests = std::env::temp_dir().join(format!("case-harness-{}-{n}", std::process::id()));
        let (root, inputs) = (tests.join("cases"), tests.join("inputs"));
        std::fs::create_dir_all(root.join("topic")).unwrap();
        std::fs::create_dir_all(inputs.join("clusters")).unwrap();
        std::fs::write(
            inputs.join("clusters/one.yml"),
            "# one namespace\nobjects: [{apiVersion: v1, kind: Namespace, metadata: {name: default}}]\n",
        )
        .unwrap();
        let path = root.join("topic/case.yaml");
        std::fs::write(&path, case).unwrap();
        let loaded = load(&root, &inputs, &path);
        std::fs::remove_dir_all(&tests).unwrap();
        loaded
    }

    const CASE: &str = "reason: a cluster-mode case for the loader\nrequest: {uid: u, operation: CREATE, object: {}}\n";

    #[test]
    fn a_cluster_is_loaded_from_its_file_and_a_missing_one_is_named() {
        let case = load_one(&format!(
            "{CASE}cluster: clusters/one.yml\nexpect: {{allowed: true, no_patch: true, calls: []}}\n"
        ))
        .unwrap();
        let cluster = case.fresh_cluster().unwrap();
        assert!(cluster.calls().is_empty());
        assert_eq!(case.expect.calls, Some(vec![]));
        let e = format!(
            "{:#}",
            load_one(&format!(
                "{CASE}cluster: clusters/nope.yml\nexpect: {{allowed: true, no_patch: true}}\n"
            ))
            .unwrap_err()
        );
        assert!(
            e.starts_with("case topic/case: cluster clusters/nope.yml: cannot read "),
            "{e}"
        );
        assert!(e.contains("clusters/nope.yml"), "{e}");
    }

    #[test]
    fn calls_without_a_cluster_are_refused() {
        let e = load_one(&format!(
            "{CASE}expect: {{allowed: true, no_patch: true, calls: []}}\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("expect.calls needs a `cluster` or a `registry`"),
            "{e}"
        );
        // Without a cluster, nothing is loaded for one.
        let case = load_one(&format!(
            "{CASE}expect: {{allowed: true, no_patch: true}}\n"
        ))
        .unwrap();
        assert!(case.fresh_cluster().is_none());
    }
}
