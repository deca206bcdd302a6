//! Every fixture case (`fixtures/cases/`) and every bad input (`fixtures/bad-input/`) through the
//! real `kwctl run` on the annotated module, checked against the case's expectation exactly as
//! the wasm host backend is (`e2e_tests::fixtures::check_outcome`), and compared with the
//! project's host (`e2e_tests::host`, as `policy-run` uses it) answer for answer.
//!
//! Needs kwctl (`KWCTL`, else `PATH`): without it every test here prints one line and passes,
//! unless `REQUIRE_REAL_RUNTIME=1` (CI sets it when the tools are provided), which makes that a failure.
//! Needs the annotated module: `$ANNOTATED_POLICY_WASM`, else `annotated-policy.wasm` at the
//! repository root (`make annotate`), not older than the module the host runs (`$POLICY_WASM`).
//!
//! Run: `make kwctl-tests`, or
//! `cargo test -p e2e-tests -p xtask --profile host --test kwctl -- --nocapture`.
//!
//! What kwctl cannot be given, and what happens instead (every case is accounted for; the
//! reasons are checked against kwctl, not assumed):
//! - a raw `validate` payload (`request_raw`): kwctl builds the payload itself from an
//!   AdmissionRequest, so such a case is skipped;
//! - settings that are not an object: kwctl refuses them itself before calling the policy; the
//!   case is skipped, and kwctl's refusal is checked;
//! - a request without `uid`, `kind`, `resource` or `operation`: kwctl (like policy-server)
//!   cannot read it as an AdmissionRequest; skipped, and kwctl's refusal is checked;
//! - a request without `userInfo` (every bad input today): the API server always sends one and
//!   kwctl requires it, so `userInfo: {}` is added; nothing in the policy reads it, and the
//!   host's answer for the request as written must still be kwctl's;
//! - a settings-only case (no request): kwctl needs a request to run, so a stand-in Pod CREATE is
//!   given; settings are refused before it is read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine as _;
use e2e_tests::fixtures::{
    Case, Expect, Outcome, check_outcome, fixtures_dir, load_cases, module_path, run_case,
    workspace_root,
};
use e2e_tests::host::PolicyHost;
use e2e_tests::kwctl::{Kwctl, KwctlAnswer};
use serde::Deserialize;
use serde_json::{Value, json};

// ---- the real kwctl and the modules -----------------------------------------------------------

fn kwctl() -> Option<Kwctl> {
    match Kwctl::locate() {
        Ok(Some(k)) => Some(k),
        Ok(None) => {
            let line = "SKIPPED: kwctl not found (set KWCTL=/path/to/kwctl or put kwctl on PATH)";
            assert!(
                std::env::var_os("REQUIRE_REAL_RUNTIME").is_none_or(|v| v.is_empty() || v == "0"),
                "{line}, and REQUIRE_REAL_RUNTIME is set"
            );
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| println!("{line}"));
            None
        }
        Err(e) => panic!("{e:#}"),
    }
}

/// The annotated module kwctl runs; refused when older than the module the host runs.
fn annotated_module() -> PathBuf {
    let path = std::env::var_os("ANNOTATED_POLICY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("annotated-policy.wasm"));
    let annotated = std::fs::metadata(&path)
        .unwrap_or_else(|_| panic!("{} not found: run `make annotate`", path.display()));
    e2e_tests::fixtures::read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
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

fn host() -> PolicyHost {
    e2e_tests::fixtures::built_module_instance()
}

// ---- the bad-input catalogue (its own format, read as tests/bad_input.rs reads it) ------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Huge {
    at: String,
    text: String,
    times: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // `reason` and `validate_expect` are read only by tests/bad_input.rs
struct BadCase {
    reason: String,
    settings: Option<Value>,
    request: Option<Value>,
    request_raw: Option<String>,
    request_raw_base64: Option<String>,
    huge: Option<Huge>,
    expect: Expect,
    validate_expect: Option<Value>,
}

fn load_bad_input(path: &Path) -> Case {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let file: BadCase =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut whole = json!({
        "request": file.request.clone().unwrap_or(Value::Null),
        "settings": file.settings.clone().unwrap_or_else(|| json!({})),
    });
    let mut expect = file.expect;
    if let Some(h) = &file.huge {
        let big = h.text.repeat(h.times);
        *whole
            .pointer_mut(&h.at)
            .unwrap_or_else(|| panic!("{name}: huge.at {} names nothing", h.at)) =
            Value::String(big.clone());
        let fill = |s: &mut String| *s = s.replace("{huge}", &big);
        for m in [&mut expect.message, &mut expect.settings_message]
            .into_iter()
            .flatten()
        {
            fill(m);
        }
        expect.warnings_contain.iter_mut().for_each(fill);
    }
    let raw = match (&file.request_raw, &file.request_raw_base64) {
        (Some(r), _) => Some(r.clone().into_bytes()),
        (None, Some(b)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_else(|e| panic!("{name}: request_raw_base64: {e}")),
        ),
        (None, None) => None,
    };
    Case {
        name: format!("bad-input/{name}"),
        reason: file.reason,
        known_issue: None,
        request: file.request.as_ref().map(|_| whole["request"].clone()),
        request_raw: raw,
        settings: whole["settings"].clone(),
        expect,
    }
}

fn bad_inputs() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("bad-input"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_bad_input(p)).collect()
}

fn all_cases() -> Vec<Case> {
    let mut cases = load_cases().unwrap_or_else(|e| panic!("{e:#}"));
    for c in &mut cases {
        c.name = format!("cases/{}", c.name);
    }
    cases.extend(bad_inputs());
    cases
}

// ---- what kwctl is given for a case -------------------------------------------------------------

/// The fields kwctl's AdmissionRequest cannot do without (besides `userInfo`, see below).
const REQUIRED: [&str; 4] = ["uid", "kind", "resource", "operation"];

enum Plan {
    /// Run kwctl on this request (`completed`: `userInfo: {}` was added).
    Run { request: Value, completed: bool },
    /// kwctl cannot be given this case: why, and (when kwctl can be asked) the request whose
    /// refusal by kwctl shows it.
    Skip {
        reason: String,
        refused: Option<(Value, &'static str)>,
    },
}

/// A Pod CREATE for settings-only cases: kwctl validates the settings before reading it.
fn stand_in_request() -> Value {
    json!({"uid": "stand-in", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "default",
        "operation": "CREATE", "userInfo": {"username": "stand-in"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stand-in"},
            "spec": {"containers": [{"name": "app", "image": "python:3.12"}]}}})
}

fn plan(case: &Case) -> Plan {
    if case.request_raw.is_some() {
        return Plan::Skip {
            reason:
                "a raw validate payload: kwctl builds the payload itself from an AdmissionRequest"
                    .into(),
            refused: None,
        };
    }
    if !(case.settings.is_object() || case.settings.is_null()) {
        return Plan::Skip {
            reason: "settings that are not an object: kwctl refuses them before the policy runs"
                .into(),
            refused: Some((stand_in_request(), "not an object")),
        };
    }
    let Some(request) = &case.request else {
        return Plan::Run {
            request: stand_in_request(),
            completed: false,
        };
    };
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|f| request.get(f).is_none())
        .collect();
    if !missing.is_empty() {
        return Plan::Skip {
            reason: format!(
                "a request without {}: kwctl and policy-server cannot read it as an AdmissionRequest",
                missing.join(", ")
            ),
            refused: Some((request.clone(), "cannot build AdmissionRequest")),
        };
    }
    let mut request = request.clone();
    let completed = request.get("userInfo").is_none();
    if completed {
        request["userInfo"] = json!({});
    }
    Plan::Run { request, completed }
}

/// kwctl's answer as the fixtures library's `Outcome`, so that `check_outcome` judges it.
fn outcome(answer: KwctlAnswer, request: &Value) -> Outcome {
    match answer {
        KwctlAnswer::SettingsRefused { message } => Outcome {
            settings_answer: json!({"valid": false, "message": message}),
            response: None,
            mutated: None,
        },
        KwctlAnswer::Response(response) => {
            let mutated = response.decoded_patch().unwrap().map(|patch| {
                let mut obj = request.get("object").cloned().unwrap_or(Value::Null);
                json_patch::patch(&mut obj, &patch).expect("kwctl's patch applies to the object");
                obj
            });
            Outcome {
                settings_answer: json!({"valid": true, "message": null}),
                response: Some(response),
                mutated,
            }
        }
    }
}

/// Differences between kwctl's outcome and the host's for the same case.
fn differences(kwctl: &Outcome, host: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let valid = |o: &Outcome| o.settings_answer["valid"] == true;
    let message = |o: &Outcome| {
        o.settings_answer["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    if valid(kwctl) != valid(host) || (!valid(host) && message(kwctl) != message(host)) {
        out.push(format!(
            "settings: kwctl {}, host {}",
            kwctl.settings_answer, host.settings_answer
        ));
    }
    if valid(host) && valid(kwctl) && kwctl.response != host.response {
        out.push(format!(
            "response:\n    kwctl: {}\n    host:  {}",
            serde_json::to_string(&kwctl.response).unwrap(),
            serde_json::to_string(&host.response).unwrap()
        ));
    }
    out
}

/// Run `jobs` through `f` on `workers` threads; results in input order.
fn parallel<T: Sync, R: Send>(jobs: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = f(job);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

fn workers() -> usize {
    std::env::var("KWCTL_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

#[test]
fn every_case_and_bad_input_through_the_real_kwctl_matches_its_expectation_and_the_host() {
    let Some(kwctl) = kwctl() else { return };
    let module = annotated_module();
    let host = host();
    let cases = all_cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let plans: Vec<(usize, Plan)> = cases.iter().map(plan).enumerate().collect();

    let start = Instant::now();
    let answers = parallel(&plans, workers(), |(i, plan)| match plan {
        Plan::Run { request, .. } => Some(kwctl.run(&module, request, &cases[*i].settings)),
        Plan::Skip {
            refused: Some((request, _)),
            ..
        } => Some(kwctl.run(&module, request, &cases[*i].settings)),
        Plan::Skip { refused: None, .. } => None,
    });
    let elapsed = start.elapsed();

    let mut failures = Vec::new();
    let (mut ran, mut completed, mut skipped) = (0, Vec::new(), Vec::new());
    for ((i, plan), answer) in plans.iter().zip(answers) {
        let case = &cases[*i];
        match plan {
            Plan::Skip { reason, refused } => {
                skipped.push(format!("{}: {reason}", case.name));
                // The reason must be true: kwctl does refuse what is said it refuses.
                if let Some((_, expected)) = refused {
                    match answer.unwrap() {
                        Err(e) if format!("{e:#}").contains(expected) => {}
                        other => failures.push(format!(
                            "{}: skipped because {reason}, but kwctl answered {other:?}",
                            case.name
                        )),
                    }
                }
            }
            Plan::Run {
                request,
                completed: was_completed,
            } => {
                ran += 1;
                if *was_completed {
                    completed.push(case.name.clone());
                }
                let got = match answer.unwrap() {
                    Ok(a) => outcome(a, request),
                    Err(e) => {
                        failures.push(format!("{}: {e:#}", case.name));
                        continue;
                    }
                };
                let errs = check_outcome(case, &got);
                match (&case.known_issue, errs.is_empty()) {
                    (None, false) => {
                        failures.push(format!("{}:\n  {}", case.name, errs.join("\n  ")))
                    }
                    (Some(_), true) => failures.push(format!(
                        "{}: passes through kwctl but is marked known_issue",
                        case.name
                    )),
                    _ => {}
                }
                // The host, on the request as the case wrote it (without the added userInfo).
                let host_out = run_case(&host, case).expect("the host runs every case");
                for d in differences(&got, &host_out) {
                    failures.push(format!("{} (kwctl vs host): {d}", case.name));
                }
            }
        }
    }
    println!(
        "kwctl {}: {ran} of {} cases run through `kwctl run` in {:.1} s ({} at a time, {:.0} ms per run), {} skipped, {} with `userInfo: {{}}` added",
        kwctl.version(),
        cases.len(),
        elapsed.as_secs_f64(),
        workers(),
        elapsed.as_secs_f64() * 1000.0 * workers() as f64 / ran.max(1) as f64,
        skipped.len(),
        completed.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    if !completed.is_empty() {
        println!("  userInfo added: {}", completed.join(", "));
    }
    assert!(
        ran >= 140,
        "only {ran} cases ran through kwctl; skipped:\n{}",
        skipped.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} difference(s) through kwctl:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
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
    let request =
        std::fs::read_to_string(fixtures_dir().join("requests/article-pod.json")).unwrap();
    let request: Value = serde_json::from_str(&request).unwrap();
    let settings =
        e2e_tests::input::read_settings_file(&fixtures_dir().join("settings/article.yaml"))
            .unwrap();
    let KwctlAnswer::Response(response) =
        kwctl.run(&annotated_module(), &request, &settings).unwrap()
    else {
        panic!("the article's settings are valid");
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-run"))
        .current_dir(fixtures_dir())
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
    let jobs: Vec<usize> = (0..20).collect();
    for workers in [1, 2] {
        let start = Instant::now();
        parallel(&jobs, workers, |_| {
            kwctl.run(&module, &request, &json!({})).unwrap();
        });
        let per = start.elapsed() / jobs.len() as u32;
        println!("kwctl run, {workers} at a time: {per:?} per run (wall clock)");
    }
    let dir = e2e_tests::kwctl::TempDir::new("kwctl-cost").unwrap();
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
