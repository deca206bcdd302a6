//! The bad-input catalogue: every file under `fixtures/bad-input/` is one bad input (a settings
//! field with a bad value, a malformed annotation, an unknown or forbidden reference, a request
//! without a Pod, a payload that is not JSON, a huge value) with the EXACT message the BUILT wasm
//! module must give, run in the waPC/wasmtime host as Kubewarden runs it.
//!
//! Needs the module: `cargo build --target wasm32-wasip1 --release` (or `POLICY_WASM`).
//! Run: `cargo test -p e2e-tests --profile host --test bad_input`.
//!
//! Case format (unknown keys are refused):
//!
//! ```yaml
//! reason: why this input is in the catalogue
//! settings: {...}              # inline; default {}
//! request: {...}               # an inline AdmissionRequest, or
//! request_raw: "bytes"         # the validate payload verbatim, or
//! request_raw_base64: "..."    # the same for bytes that are not UTF-8
//! huge: {at: /request/..., text: "x", times: 1000000}   # a JSON pointer into {request, settings}
//! expect: {...}                # as fixtures/cases (e2e_tests::fixtures::Expect); "{huge}" in a
//!                              # message stands for the huge string
//! validate_expect: {allowed: false, code: 500, message: "..."}   # validate called even though
//!                              # the settings are invalid (what a policy-server that skipped
//!                              # validate_settings would get)
//! ```

use std::path::{Path, PathBuf};

use base64::Engine as _;
use e2e_tests::fixtures::{
    Case, Expect, NativeCore, Policy, check_outcome, fixtures_dir, run_case,
};
use e2e_tests::host::{PolicyHost, validate_payload};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Huge {
    at: String,
    text: String,
    times: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateExpect {
    allowed: bool,
    code: Option<u16>,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BadCase {
    reason: String,
    settings: Option<Value>,
    request: Option<Value>,
    request_raw: Option<String>,
    request_raw_base64: Option<String>,
    huge: Option<Huge>,
    expect: Expect,
    validate_expect: Option<ValidateExpect>,
}

/// A loaded case: the e2e library's `Case` plus what the library does not model.
struct Loaded {
    case: Case,
    validate_expect: Option<ValidateExpect>,
}

fn dir() -> PathBuf {
    fixtures_dir().join("bad-input")
}

fn host() -> PolicyHost {
    e2e_tests::fixtures::built_module_instance()
}

fn load(path: &Path) -> Loaded {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let file: BadCase =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        file.reason.trim().len() > 10,
        "{name}: every bad input says why it is in the catalogue"
    );
    let mut whole = json!({
        "request": file.request.clone().unwrap_or(Value::Null),
        "settings": file.settings.clone().unwrap_or_else(|| json!({})),
    });
    let mut expect = file.expect;
    let mut validate_expect = file.validate_expect;
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
        if let Some(v) = &mut validate_expect {
            fill(&mut v.message);
        }
    }
    let raw = match (&file.request_raw, &file.request_raw_base64) {
        (Some(r), None) => Some(r.clone().into_bytes()),
        (None, Some(b)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_else(|e| panic!("{name}: request_raw_base64: {e}")),
        ),
        (None, None) => None,
        _ => panic!("{name}: request_raw or request_raw_base64, not both"),
    };
    assert!(
        raw.is_none() || file.request.is_none(),
        "{name}: request or a raw payload, not both"
    );
    let request = file.request.as_ref().map(|_| whole["request"].clone());
    Loaded {
        case: Case {
            name,
            reason: file.reason,
            // Every bad input's message is what the module says now: none is a known issue.
            known_issue: None,
            request,
            request_raw: raw,
            settings: whole["settings"].clone(),
            expect,
        },
        validate_expect,
    }
}

fn catalogue() -> Vec<Loaded> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// The message a case produced: the settings refusal, else the validate refusal or warnings.
fn messages(host: &PolicyHost, l: &Loaded) -> Value {
    let out = run_case(host, &l.case).unwrap();
    let status = out
        .response
        .as_ref()
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.message.clone());
    json!({
        "settings_message": out.settings_answer["message"],
        "message": status,
        "warnings": out.response.as_ref().and_then(|r| r.warnings.clone()),
    })
}

#[test]
fn catalogue_is_large_and_every_case_has_an_exact_expectation() {
    let cases = catalogue();
    assert!(cases.len() >= 50, "only {} bad-input cases", cases.len());
    for l in &cases {
        let e = &l.case.expect;
        assert!(
            e.message.is_some() || e.settings_message.is_some() || !e.warnings_contain.is_empty(),
            "{}: no exact message expected",
            l.case.name
        );
    }
}

#[test]
fn every_bad_input_gets_its_exact_message_from_the_wasm_module() {
    let host = host();
    let print = std::env::var_os("BAD_INPUT_PRINT").is_some();
    let mut failures = Vec::new();
    for l in catalogue() {
        if print {
            println!("{} {}", l.case.name, messages(&host, &l));
        }
        match run_case(&host, &l.case) {
            Ok(out) => {
                let errs = check_outcome(&l.case, &out);
                if !errs.is_empty() {
                    failures.push(format!("{}:\n  {}", l.case.name, errs.join("\n  ")));
                }
            }
            Err(e) => failures.push(format!("{}: {e:#}", l.case.name)),
        }
        if let Some(v) = &l.validate_expect {
            let request = l.case.request.clone().unwrap_or(Value::Null);
            let answer = host.validate(&request, &l.case.settings).unwrap();
            if answer["accepted"] != v.allowed
                || answer["code"].as_u64() != v.code.map(u64::from)
                || answer["message"] != v.message
            {
                failures.push(format!(
                    "{} (validate with the invalid settings):\n  got:      {answer}\n  expected: {v:?}",
                    l.case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad input(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The catalogue's answers are the native core's, byte for byte (the wasm build changes nothing).
#[test]
fn the_wasm_module_answers_every_bad_input_as_the_native_core_does() {
    let host = host();
    for l in catalogue() {
        let settings = serde_json::to_vec(&l.case.settings).unwrap();
        assert_eq!(
            host.validate_settings_raw(&settings).unwrap(),
            NativeCore.validate_settings_raw(&settings).unwrap(),
            "{}: validate_settings",
            l.case.name
        );
        let payload = match (&l.case.request_raw, &l.case.request) {
            (Some(raw), _) => raw.clone(),
            (None, Some(r)) => validate_payload(r, &l.case.settings),
            (None, None) => continue,
        };
        assert_eq!(
            String::from_utf8_lossy(&host.validate_raw(&payload).unwrap()),
            String::from_utf8_lossy(&NativeCore.validate_raw(&payload).unwrap()),
            "{}: validate",
            l.case.name
        );
    }
}

/// Every refusal says what would be accepted, not only what is wrong.
#[test]
fn every_refusal_says_what_would_be_accepted() {
    // Each refusal must carry one of these: an instruction or the accepted values.
    const HINTS: [&str; 29] = [
        "use ",
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
        "cannot both be set",
        "the defaults:",
    ];
    let mut missing = Vec::new();
    for l in catalogue() {
        let e = &l.case.expect;
        for m in [&e.settings_message, &e.message].into_iter().flatten() {
            if !HINTS.iter().any(|h| m.contains(h)) {
                missing.push(format!("{}: {m}", l.case.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "refusals that do not say what is accepted:\n{}",
        missing.join("\n")
    );
}

// ---- limits ----------------------------------------------------------------------------------

/// A Pod CREATE with `containers` containers of `env` variables each, all named by the annotation.
fn big_request(containers: usize, env: usize) -> Value {
    let names: Vec<String> = (0..containers).map(|i| format!("c{i}")).collect();
    let list: Vec<Value> = names
        .iter()
        .map(|n| {
            let env: Vec<Value> = (0..env)
                .map(|j| json!({"name": format!("VAR_{j}"), "value": format!("value-{n}-{j}")}))
                .collect();
            json!({"name": n, "image": "python:3.12", "env": env})
        })
        .collect();
    json!({
        "uid": "limits", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "default",
        "object": {"metadata": {"name": "big", "annotations": {
            "instrumentation.opentelemetry.io/inject-python": "true",
            "instrumentation.opentelemetry.io/container-names": names.join(",")}},
            "spec": {"containers": list}}
    })
}

fn many_instrumentations(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| {
            json!({"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
                   "metadata": {"name": format!("python-{i}"), "namespace": format!("team-{}", i % 50)},
                   "spec": {"exporter": {"endpoint": format!("http://collector-{i}.monitor.svc:4318")},
                            "sampler": {"type": "parentbased_traceidratio", "argument": "0.5"}}})
        })
        .collect();
    json!({"instrumentations": list})
}

const SETTINGS: &str =
    r#"{"exporter": {"endpoint": "http://c:4318"}, "propagators": ["tracecontext"]}"#;

/// 200 containers and 2,000 env vars through the wasm module: every container instrumented, and
/// the same answer as the native core.
#[test]
fn the_wasm_module_handles_200_containers_and_2000_env_vars() {
    let host = host();
    let request = big_request(200, 10);
    let settings: Value = serde_json::from_str(SETTINGS).unwrap();
    let payload = validate_payload(&request, &settings);
    let raw = host.validate_raw(&payload).unwrap();
    assert_eq!(raw, NativeCore.validate_raw(&payload).unwrap());
    let answer: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(answer["accepted"], true, "{}", answer["message"]);
    let containers = answer["mutated_object"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 200);
    assert!(containers.iter().all(|c| {
        let env = c["env"].as_array().unwrap();
        env.len() > 10 && env.iter().any(|e| e["name"] == "PYTHONPATH")
    }));
}

#[test]
fn the_wasm_module_validates_settings_with_1000_instrumentations() {
    let answer = host()
        .validate_settings(&many_instrumentations(1000))
        .unwrap();
    assert_eq!(answer["valid"], true, "{answer}");
}

/// The scaling table in docs/robustness.md: median time of `validate` for growing pods, native
/// core (host profile) and wasm module, and of `validate_settings` for growing settings.
/// `cargo test -p e2e-tests --profile host --test bad_input -- --ignored --nocapture scaling`
#[test]
#[ignore = "a measurement, not a check: prints the scaling table"]
fn scaling_table() {
    use std::time::Instant;
    fn median(mut f: impl FnMut(), runs: usize) -> f64 {
        f(); // warm-up
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[runs / 2]
    }
    let host = host();
    let settings: Value = serde_json::from_str(SETTINGS).unwrap();
    println!("| containers | env vars | payload bytes | native ms | wasm ms | wasm µs/container |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [10, 50, 100, 200, 400, 800] {
        let payload = validate_payload(&big_request(n, 10), &settings);
        let native = median(|| drop(NativeCore.validate_raw(&payload).unwrap()), 21);
        let wasm = median(|| drop(host.validate_raw(&payload).unwrap()), 21);
        println!(
            "| {n} | {} | {} | {native:.2} | {wasm:.2} | {:.1} |",
            n * 10,
            payload.len(),
            wasm * 1e3 / n as f64
        );
    }
    println!();
    println!("| instrumentations | settings bytes | native ms | wasm ms |");
    println!("|---:|---:|---:|---:|");
    for n in [10, 100, 500, 1000] {
        let bytes = serde_json::to_vec(&many_instrumentations(n)).unwrap();
        let native = median(
            || drop(NativeCore.validate_settings_raw(&bytes).unwrap()),
            11,
        );
        let wasm = median(|| drop(host.validate_settings_raw(&bytes).unwrap()), 11);
        println!("| {n} | {} | {native:.2} | {wasm:.2} |", bytes.len());
    }
}
