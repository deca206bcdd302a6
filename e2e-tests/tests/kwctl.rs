//! Every case under `tests/cases/` through the real `kwctl run` on the annotated module, judged
//! by the same checker as the native core and the project's host (`case_harness::check`), and
//! compared with the project's host answer for answer.
//!
//! Needs kwctl (`KWCTL`, else `PATH`): without it every test here prints one line and passes,
//! unless `REQUIRE_REAL_RUNTIME=1` (CI sets it when the tools are provided), which makes that a failure.
//! Needs the annotated module: `$ANNOTATED_POLICY_WASM`, else `annotated-policy.wasm` at the
//! repository root (`make annotate`), not older than the module the host runs (`$POLICY_WASM`).
//!
//! Run: `make kwctl-tests`, or
//! `cargo test -p e2e-tests -p xtask --profile host --test kwctl -- --nocapture`.
//!
//! What kwctl cannot be given, and what happens instead (each reason is checked against kwctl,
//! not assumed):
//! - a raw `validate` payload (`request_raw`): kwctl builds the payload itself from an
//!   AdmissionRequest, so such a case is skipped;
//! - settings that are not an object: kwctl refuses them itself before calling the policy;
//!   skipped once kwctl has been seen to refuse them;
//! - a request without `uid`, `kind` or `operation`: kwctl (like policy-server)
//!   cannot read it as an AdmissionRequest; skipped once kwctl has been seen to refuse it;
//! - a request without `userInfo` or `resource`: the API server always sends them and kwctl
//!   requires them, so `userInfo: {}` and the resource of the request's kind (`pods` for a Pod) are
//!   added; nothing in the policy reads them;
//! - a settings-only case (no request): kwctl needs a request to run, so a stand-in Pod CREATE is
//!   given; settings are refused before it is read.
//!
//! A cluster-mode case (`cluster:`) is first run through the project's waPC host with a fresh
//! copy of the case's cluster; the calls that reached policy-server's callback handler are
//! written as a session file (`ClusterState::session_yaml`), and kwctl runs the annotated module
//! with `--allow-context-aware --replay-host-capabilities-interactions` on it (and the fixture's
//! host capabilities). kwctl must replay the session exactly (`Kwctl::run_with` fails
//! otherwise). The calls refused before the handler are answered by kwctl itself, with the words
//! the cluster uses (`tests/cluster_host.rs` checks them), provided both grant the same kinds:
//! kwctl grants the module's `contextAwareResources`, the fixture its `granted` list. A case
//! whose calls ask for a kind on which the two disagree is skipped, and says which kinds (a
//! policy.yaml that lacks a kind cluster mode reads shows here, as a fixture that grants less).
//! A call the real policy-server would never answer has no session entry: the case fails.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use case_harness::cluster::{ApiVersionKind, ClusterState};
use case_harness::{Answer, Backend, Evaluation, Request, assert_all, load_all};
use e2e_tests::host::kubewarden_admission_request;
use e2e_tests::input::{resource_of, stand_in_request};
use e2e_tests::kwctl::{Kwctl, KwctlAnswer, RunOptions, TempDir};
use e2e_tests::module::{
    built_module_instance, inputs_dir, module_path, read_built_module, wasm_backend, workspace_root,
};
use serde_json::{Value, json};

fn kwctl() -> Option<Kwctl> {
    Kwctl::for_tests()
}

/// The annotated module kwctl runs; refused when older than the module the host runs.
fn annotated_module() -> PathBuf {
    let path = std::env::var_os("ANNOTATED_POLICY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("annotated-policy.wasm"));
    let annotated = std::fs::metadata(&path)
        .unwrap_or_else(|_| panic!("{} not found: run `make annotate`", path.display()));
    read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
    let built = std::fs::metadata(module_path())
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        annotated.modified().unwrap() >= built,
        "{} is older than {}: run `make annotate`",
        path.display(),
        module_path().display()
    );
    path
}

/// The fields kwctl's AdmissionRequest cannot do without (besides `userInfo` and `resource`,
/// which are completed: see above).
const REQUIRED: [&str; 3] = ["uid", "kind", "operation"];

/// How a skipped cluster case's reason starts.
const CONTEXT_AWARE_SKIP: &str = "cluster mode: kwctl grants";

/// The real `kwctl run` as a case-harness backend.
struct KwctlBackend {
    kwctl: Kwctl,
    module: PathBuf,
    /// The annotated module's contextAwareResources: what kwctl grants in cluster mode.
    granted: BTreeSet<ApiVersionKind>,
}

impl KwctlBackend {
    fn run(&self, request: &Value, settings: &Value, options: &RunOptions) -> Result<Answer> {
        Ok(
            match self
                .kwctl
                .run_with(&self.module, request, settings, options)?
            {
                KwctlAnswer::SettingsRefused { message } => Answer::SettingsRefused(message),
                KwctlAnswer::Response(r) => Answer::Response(r),
            },
        )
    }

    /// A cluster-mode run: the project's host with `cluster` records the session, kwctl replays it.
    fn run_in_cluster(
        &self,
        request: &Value,
        settings: &Value,
        cluster: &Arc<ClusterState>,
    ) -> Result<Answer> {
        // What kwctl sends the policy: the request read as a typed AdmissionRequest.
        let typed = kubewarden_admission_request(request)?;
        let host = built_module_instance();
        wasm_backend(&host).evaluate(settings, Request::Json(&typed), Some(cluster))?;
        let mut disagree: Vec<String> = Vec::new();
        for kind in cluster.calls().iter().filter_map(|c| c.asked_kind()) {
            let (module, fixture) = (
                self.granted.contains(&kind),
                cluster.grants(&kind.api_version, &kind.kind),
            );
            let line = format!(
                "{}/{} ({} by the module, {} by the fixture)",
                kind.api_version,
                kind.kind,
                if module { "granted" } else { "not granted" },
                if fixture { "granted" } else { "not granted" }
            );
            if module != fixture && !disagree.contains(&line) {
                disagree.push(line);
            }
        }
        if !disagree.is_empty() {
            return Ok(Answer::Unsupported(format!(
                "{CONTEXT_AWARE_SKIP} the annotated module's contextAwareResources, which differ from the fixture's on {} (policy.yaml declares what cluster mode reads)",
                disagree.join(", ")
            )));
        }
        let options = RunOptions {
            replay_session: Some(cluster.session_yaml()?),
            host_capabilities: Some(cluster.host_capabilities().to_vec()),
            ..RunOptions::default()
        };
        self.run(&typed, settings, &options)
    }

    /// A skip, once kwctl has been seen to refuse the input as `expected` says.
    fn refused(
        &self,
        request: &Value,
        settings: &Value,
        expected: &str,
        why: &str,
    ) -> Result<Answer> {
        match self.kwctl.run(&self.module, request, settings) {
            Err(e) if format!("{e:#}").contains(expected) => Ok(Answer::Unsupported(why.into())),
            other => bail!("skipped because {why}, but kwctl answered {other:?}"),
        }
    }

    fn answer(
        &self,
        settings: &Value,
        request: Request<'_>,
        cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Answer> {
        let request = match request {
            Request::Raw(_) => {
                return Ok(Answer::Unsupported(
                    "a raw validate payload: kwctl builds the payload itself from an AdmissionRequest".into(),
                ));
            }
            Request::None => None,
            Request::Json(r) => Some(r),
        };
        if !(settings.is_object() || settings.is_null()) {
            let why = "settings that are not an object: kwctl refuses them before the policy runs";
            return self.refused(&stand_in_request(), settings, "not an object", why);
        }
        let (request, settings_only) = match request {
            None => (stand_in_request(), true),
            Some(request) => {
                let missing: Vec<&str> = REQUIRED
                    .into_iter()
                    .filter(|f| request.get(f).is_none())
                    .collect();
                if !missing.is_empty() {
                    let why = format!(
                        "a request without {}: kwctl and policy-server cannot read it as an AdmissionRequest",
                        missing.join(", ")
                    );
                    return self.refused(request, settings, "cannot build AdmissionRequest", &why);
                }
                let mut request = request.clone();
                if request.get("userInfo").is_none() {
                    request["userInfo"] = json!({});
                }
                if request.get("resource").is_none() {
                    request["resource"] = resource_of(&request["kind"]);
                }
                (request, false)
            }
        };
        let answer = match cluster {
            None => self.run(&request, settings, &RunOptions::default())?,
            Some(cluster) => self.run_in_cluster(&request, settings, cluster)?,
        };
        Ok(match answer {
            Answer::Response(_) if settings_only => Answer::SettingsAccepted,
            other => other,
        })
    }
}

impl Backend for KwctlBackend {
    fn name(&self) -> &str {
        "the real kwctl run"
    }

    fn evaluate(
        &self,
        settings: &Value,
        request: Request<'_>,
        cluster: Option<&Arc<ClusterState>>,
    ) -> Result<Evaluation> {
        self.answer(settings, request, cluster)
            .map(Evaluation::unseen)
    }
}

fn backend() -> Option<KwctlBackend> {
    let kwctl = kwctl()?;
    let module = annotated_module();
    let granted = kwctl
        .context_aware_resources(&module)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .into_iter()
        .collect();
    Some(KwctlBackend {
        kwctl,
        module,
        granted,
    })
}

#[test]
fn every_case_through_the_real_kwctl() {
    let Some(kwctl) = backend() else { return };
    let start = Instant::now();
    let skipped = assert_all(&kwctl);
    let cases = load_all().unwrap().len();
    println!(
        "kwctl {}: {} of {cases} cases through `kwctl run` in {:.1} s, {} skipped",
        kwctl.kwctl.version(),
        cases - skipped.len(),
        start.elapsed().as_secs_f64(),
        skipped.len()
    );
    for (name, why) in &skipped {
        println!("  skipped {name}: {why}");
    }
    // Cluster cases skipped for contextAwareResources are listed above; the others are capped.
    let others: Vec<_> = skipped
        .iter()
        .filter(|(_, why)| !why.starts_with(CONTEXT_AWARE_SKIP))
        .collect();
    assert!(others.len() <= 10, "too many cases skipped: {others:?}");
}

/// kwctl and the project's host give the same AdmissionResponse for every case kwctl runs.
#[test]
fn kwctl_and_the_project_host_answer_every_case_alike() {
    let Some(kwctl) = backend() else { return };
    let host = built_module_instance();
    let host = wasm_backend(&host);
    let mut differences = Vec::new();
    for case in load_all().unwrap() {
        let request = match &case.payload {
            case_harness::Payload::Request(r) => Request::Json(r),
            case_harness::Payload::Raw(b) => Request::Raw(b),
            case_harness::Payload::None => Request::None,
        };
        let k = kwctl
            .evaluate(&case.settings, request, case.fresh_cluster().as_ref())
            .unwrap()
            .answer;
        let h = host
            .evaluate(&case.settings, request, case.fresh_cluster().as_ref())
            .unwrap()
            .answer;
        let same = match (&k, &h) {
            (Answer::Unsupported(_), _) => true,
            (Answer::Response(a), Answer::Response(b)) => a == b,
            (Answer::SettingsRefused(a), Answer::SettingsRefused(b)) => a == b,
            (Answer::SettingsAccepted, Answer::SettingsAccepted) => true,
            _ => false,
        };
        if !same {
            differences.push(format!(
                "{}:\n    kwctl: {k:?}\n    host:  {h:?}",
                case.name
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// kwctl requires `userInfo` in an AdmissionRequest (the reason the runner above adds one).
#[test]
fn kwctl_refuses_a_request_without_user_info() {
    let Some(kwctl) = kwctl() else { return };
    let mut request = stand_in_request();
    request.as_object_mut().unwrap().remove("userInfo");
    let err = kwctl
        .run(&annotated_module(), &request, &json!({}))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("missing field `userInfo`"),
        "{err:#}"
    );
}

/// The article's example through kwctl: the same line `policy-run` prints, byte for byte.
#[test]
fn the_article_example_prints_the_same_line_as_policy_run() {
    let Some(kwctl) = kwctl() else { return };
    let request = std::fs::read_to_string(inputs_dir().join("requests/article-pod.json")).unwrap();
    let request: Value = serde_json::from_str(&request).unwrap();
    let settings =
        e2e_tests::input::read_settings_file(&inputs_dir().join("settings/article.yaml")).unwrap();
    let KwctlAnswer::Response(response) =
        kwctl.run(&annotated_module(), &request, &settings).unwrap()
    else {
        panic!("the article's settings are valid");
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-run"))
        .current_dir(inputs_dir())
        .args([
            "--request-path",
            "requests/article-pod.json",
            "--settings-path",
            "settings/article.yaml",
        ])
        .arg(module_path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        serde_json::to_string(&response).unwrap()
    );
    assert!(response.patch.is_some());
}

/// kwctl's per-run cost, with and without the trust config the backend passes, and one against
/// two runs at a time (printed; nothing asserted about time).
#[test]
#[ignore = "a measurement: cargo test ... --test kwctl -- --ignored --nocapture"]
fn kwctl_run_cost() {
    let Some(kwctl) = kwctl() else { return };
    let module = annotated_module();
    let request = stand_in_request();
    let start = Instant::now();
    for _ in 0..20 {
        kwctl.run(&module, &request, &json!({})).unwrap();
    }
    println!("kwctl run: {:?} per run", start.elapsed() / 20);
    let dir = TempDir::new("kwctl-cost").unwrap();
    let path = dir.path().join("request.json");
    std::fs::write(&path, request.to_string()).unwrap();
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let out = std::process::Command::new(kwctl.program())
            .env("NO_COLOR", "1")
            .args(["run", "--request-path"])
            .arg(&path)
            .arg(&module)
            .output()
            .unwrap();
        assert!(out.status.success());
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "kwctl run without --sigstore-trust-config: {:?} per run (median of 3)",
        times[1]
    );
}
