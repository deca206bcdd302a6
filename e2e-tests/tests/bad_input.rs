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
use std::sync::OnceLock;

use base64::Engine as _;
use e2e_tests::fixtures::{
    Case, Expect, NativeCore, Policy, check_outcome, fixtures_dir, read_built_module, run_case,
};
use e2e_tests::host::{CompiledPolicy, PolicyHost, validate_payload};
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

fn compiled() -> &'static CompiledPolicy {
    static C: OnceLock<CompiledPolicy> = OnceLock::new();
    C.get_or_init(|| {
        let bytes = read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
        CompiledPolicy::compile(&bytes).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

fn host() -> PolicyHost {
    compiled().instantiate().expect("instantiate the module")
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
