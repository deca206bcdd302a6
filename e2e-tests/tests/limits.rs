//! Limits through the built module: a 200-container × 2,000-env-var pod and 1,000
//! instrumentations, with the same answers as the native core; and the scaling table of
//! docs/robustness.md (ignored: a measurement, not a check).
//!
//! Needs the module: `cargo build --target wasm32-wasip1 --release` (or `POLICY_WASM`).

use e2e_tests::host::{PolicyHost, validate_payload};
use otel_python_policy::admission;
use serde_json::{Value, json};

fn host() -> PolicyHost {
    e2e_tests::module::built_module_instance()
}

/// The native core's raw answer.
fn native(payload: &[u8]) -> Vec<u8> {
    admission::validate(payload).to_json()
}

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
    let raw = host.call("validate", &payload).unwrap();
    assert_eq!(raw, native(&payload));
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
        let native_ms = median(|| drop(native(&payload)), 21);
        let wasm = median(|| drop(host.call("validate", &payload).unwrap()), 21);
        println!(
            "| {n} | {} | {} | {native_ms:.2} | {wasm:.2} | {:.1} |",
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
        let native_ms = median(|| drop(admission::validate_settings(&bytes)), 11);
        let wasm = median(|| drop(host.call("validate_settings", &bytes).unwrap()), 11);
        println!("| {n} | {} | {native_ms:.2} | {wasm:.2} |", bytes.len());
    }
}
