//! Every fixture case under `fixtures/cases/` through the BUILT wasm module (as Kubewarden runs
//! it), the idempotence of every mutation, and byte-for-byte parity with the native core.
//!
//! Needs the module: `cargo build --target wasm32-wasip1 --release` first.

use e2e_tests::fixtures::{Case, NativeCore, Policy, load_cases, request_with_object, run_case};
use e2e_tests::host::{PolicyHost, admission_response, validate_payload};
use serde_json::Value;

fn host() -> PolicyHost {
    e2e_tests::fixtures::built_module_instance()
}

fn cases() -> Vec<Case> {
    load_cases().unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn module_speaks_wapc_protocol_v1() {
    assert_eq!(host().protocol_version().unwrap(), "v1");
}

#[test]
fn fixture_set_is_complete() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} fixture cases", cases.len());
    for c in &cases {
        assert!(!c.reason.trim().is_empty(), "case {} has no reason", c.name);
    }
}

#[test]
fn every_case_matches_its_expectation_in_the_wasm_module() {
    let host = host();
    let mut failures = Vec::new();
    for case in cases() {
        let errs = match run_case(&host, &case) {
            Ok(out) => e2e_tests::fixtures::check_outcome(&case, &out),
            Err(e) => vec![format!("{e:#}")],
        };
        match (&case.known_issue, errs.is_empty()) {
            (None, true) => {}
            (None, false) => failures.push(format!("case {}:\n  {}", case.name, errs.join("\n  "))),
            // A known issue must still show: report it, and fail once it is fixed so that the
            // marker is removed and the case guards the fix.
            (Some(issue), false) => eprintln!(
                "known issue, case {} (expected failure): {issue}\n  {}",
                case.name,
                errs.join("\n  ")
            ),
            (Some(_), true) => failures.push(format!(
                "case {} now passes: remove its `known_issue` line",
                case.name
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Kubernetes may call a mutating webhook again on its own output (reinvocationPolicy); the
/// policy must then change nothing. Checked for every case that mutates.
#[test]
fn every_mutation_fed_back_yields_no_patch() {
    let host = host();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let Ok(out) = run_case(&host, &case) else {
            continue;
        };
        let (Some(mutated), Some(request)) = (&out.mutated, &case.request) else {
            continue;
        };
        checked += 1;
        let again = request_with_object(request, mutated);
        let answer = host.validate(&again, &case.settings).expect("validate");
        let resp = admission_response(&again, &answer).expect("response");
        if !resp.allowed || resp.patch.is_some() {
            failures.push(format!(
                "case {}: second pass allowed={} patch={:?} status={:?}",
                case.name,
                resp.allowed,
                resp.decoded_patch()
                    .ok()
                    .flatten()
                    .map(|p| serde_json::to_string(&p).unwrap()),
                resp.status
            ));
        }
    }
    assert!(checked >= 10, "only {checked} mutating cases were fed back");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The native core (rlib) and the wasm module must answer with the same bytes for the same
/// payload: for every case's settings, request, and the idempotence second pass.
#[test]
fn native_core_answers_byte_identically_to_the_module() {
    let host = host();
    let native = NativeCore;
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut compare = |name: &str, what: &str, wasm: Vec<u8>, nat: Vec<u8>| {
        compared += 1;
        if wasm != nat {
            failures.push(format!(
                "case {name} ({what}):\n  wasm:   {}\n  native: {}",
                String::from_utf8_lossy(&wasm),
                String::from_utf8_lossy(&nat)
            ));
        }
    };
    for case in cases() {
        let settings = serde_json::to_vec(&case.settings).unwrap();
        compare(
            &case.name,
            "validate_settings",
            host.validate_settings_raw(&settings).unwrap(),
            native.validate_settings_raw(&settings).unwrap(),
        );
        let Some(payload) = case.validate_payload() else {
            continue;
        };
        let wasm = host.validate_raw(&payload).unwrap();
        compare(
            &case.name,
            "validate",
            wasm.clone(),
            native.validate_raw(&payload).unwrap(),
        );
        // Second pass on the mutated object, when there is one.
        let answer: Value = serde_json::from_slice(&wasm).unwrap();
        if let (Some(mutated), Some(request)) = (answer.get("mutated_object"), &case.request)
            && !mutated.is_null()
        {
            let again = validate_payload(&request_with_object(request, mutated), &case.settings);
            compare(
                &case.name,
                "validate, second pass",
                host.validate_raw(&again).unwrap(),
                native.validate_raw(&again).unwrap(),
            );
        }
    }
    assert!(compared >= 60, "only {compared} comparisons");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
