//! The cluster host (`e2e_tests::cluster`) through real guests: a probe module that makes the
//! host calls it is built with and reports every answer, run in the project's waPC host and in
//! the real `kwctl run`, which replays the session file the project's host recorded. Also: the
//! fixtures under `tests/inputs/clusters/` hold what they are documented to hold.
//!
//! The probe is written in WebAssembly text (no toolchain needed): a waPC guest whose
//! `validate` makes its calls in order and rejects with a message that is the hex of every
//! answer (`S` or `E`, a little-endian u32 length, the bytes), so that both hosts' answers can be
//! compared byte for byte. Its payloads are the SDK's request structs (kubewarden-policy-sdk
//! 0.17.3, the policy's own SDK) serialised with serde_json, as the SDK sends them.
//!
//! The kwctl tests need kwctl (`KWCTL`, else `PATH`): without it they print one line and pass,
//! unless `REQUIRE_REAL_RUNTIME=1`, which makes that a failure.
//!
//! Run: `cargo test -p e2e-tests -p xtask --profile host --test cluster_host -- --nocapture`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use case_harness::cluster::payload;
use e2e_tests::cluster::{CALLBACK_FAILURE, Call, ClusterState, ExchangeResponse, Stage};
use e2e_tests::host::CompiledPolicy;
use e2e_tests::kwctl::{Kwctl, KwctlAnswer, RunOptions, TempDir};
use e2e_tests::module::{cases_dir, inputs_dir, workspace_root};
use serde_json::{Value, json};

/// One host call the probe makes.
#[derive(Debug, Clone)]
struct HostCall {
    binding: &'static str,
    namespace: &'static str,
    operation: &'static str,
    payload: Vec<u8>,
}

fn kubernetes(operation: &'static str, payload: Vec<u8>) -> HostCall {
    HostCall {
        binding: "kubewarden",
        namespace: "kubernetes",
        operation,
        payload,
    }
}

fn get(av: &str, kind: &str, name: &str, ns: Option<&str>, masks: &[&str]) -> HostCall {
    kubernetes(
        "get_resource",
        payload::get(av, kind, name, ns, field_masks(masks)),
    )
}

/// The policy's list: every Instrumentation, specs only.
fn list_instrumentations() -> HostCall {
    let p = payload::list_all(
        "opentelemetry.io/v1alpha1",
        "Instrumentation",
        Some(&["spec"]),
    );
    kubernetes("list_resources_all", p)
}

fn can_i(user: &str, verb: &str, group: &str, resource: &str) -> HostCall {
    kubernetes("can_i", payload::can_i(user, verb, group, resource))
}

fn log_call() -> HostCall {
    HostCall {
        binding: "kubewarden",
        namespace: "tracing",
        operation: "log",
        payload: br#"{"level":"info","message":"probe"}"#.to_vec(),
    }
}

/// The SDK sends `null` for no mask and a sorted list otherwise.
/// An empty list is no mask (`null`), as the SDK's callers send it.
fn field_masks<'a>(masks: &'a [&'a str]) -> Option<&'a [&'a str]> {
    (!masks.is_empty()).then_some(masks)
}

/// The probe module for `calls`.
mod probe {
    use super::*;

    const RAW: u32 = 1 << 20;
    const OUT: u32 = 8 << 20;
    const PREFIX: &[u8] = br#"{"accepted":false,"message":""#;

    /// A waPC guest: `protocol_version` answers `"v1"`, `validate_settings` `{"valid":true}`,
    /// `validate` makes `calls` and rejects with the hex of their answers. The three guest
    /// functions are told apart by the length of their names (16, 17, 8).
    pub fn module(calls: &[HostCall]) -> Vec<u8> {
        let mut data: Vec<u8> = Vec::new();
        let mut place = |bytes: &[u8]| {
            let at = data.len() as u32;
            data.extend_from_slice(bytes);
            while !data.len().is_multiple_of(8) {
                data.push(0);
            }
            at
        };
        let v1 = place(br#""v1""#);
        let valid = place(br#"{"valid":true}"#);
        let prefix = place(PREFIX);
        let hex = place(b"0123456789abcdef");
        let mut table = Vec::new();
        for c in calls {
            for part in [
                c.binding.as_bytes(),
                c.namespace.as_bytes(),
                c.operation.as_bytes(),
                &c.payload,
            ] {
                table.extend_from_slice(&place(part).to_le_bytes());
                table.extend_from_slice(&(part.len() as u32).to_le_bytes());
            }
        }
        let table_at = place(&table);
        assert!((data.len() as u32) < RAW, "the probe's data does not fit");
        let mut escaped = String::new();
        for b in &data {
            let _ = write!(escaped, "\\{b:02x}");
        }
        let n = calls.len();
        let prefix_len = PREFIX.len();
        let text = format!(
            r#"(module
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 256)
  (data (i32.const 0) "{escaped}")
  (func $call_all (result i32)
    (local $i i32) (local $e i32) (local $p i32) (local $len i32)
    (local.set $p (i32.const {RAW}))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const {n})))
        (local.set $e (i32.add (i32.const {table_at}) (i32.mul (local.get $i) (i32.const 32))))
        (if (call $host_call
              (i32.load (local.get $e)) (i32.load offset=4 (local.get $e))
              (i32.load offset=8 (local.get $e)) (i32.load offset=12 (local.get $e))
              (i32.load offset=16 (local.get $e)) (i32.load offset=20 (local.get $e))
              (i32.load offset=24 (local.get $e)) (i32.load offset=28 (local.get $e)))
          (then
            (i32.store8 (local.get $p) (i32.const 83))
            (local.set $len (call $host_response_len))
            (i32.store offset=1 align=1 (local.get $p) (local.get $len))
            (call $host_response (i32.add (local.get $p) (i32.const 5))))
          (else
            (i32.store8 (local.get $p) (i32.const 69))
            (local.set $len (call $host_error_len))
            (i32.store offset=1 align=1 (local.get $p) (local.get $len))
            (call $host_error (i32.add (local.get $p) (i32.const 5)))))
        (local.set $p (i32.add (local.get $p) (i32.add (local.get $len) (i32.const 5))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $p))
  (func $validate
    (local $end i32) (local $src i32) (local $dst i32) (local $b i32)
    (local.set $end (call $call_all))
    (memory.copy (i32.const {OUT}) (i32.const {prefix}) (i32.const {prefix_len}))
    (local.set $dst (i32.const {dst}))
    (local.set $src (i32.const {RAW}))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $b (i32.load8_u (local.get $src)))
        (i32.store8 (local.get $dst)
          (i32.load8_u (i32.add (i32.const {hex}) (i32.shr_u (local.get $b) (i32.const 4)))))
        (i32.store8 offset=1 (local.get $dst)
          (i32.load8_u (i32.add (i32.const {hex}) (i32.and (local.get $b) (i32.const 15)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 2)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $next)))
    (i32.store8 (local.get $dst) (i32.const 34))
    (i32.store8 offset=1 (local.get $dst) (i32.const 125))
    (call $guest_response (i32.const {OUT})
      (i32.sub (i32.add (local.get $dst) (i32.const 2)) (i32.const {OUT}))))
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32) (result i32)
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (call $guest_response (i32.const {v1}) (i32.const 4)) (return (i32.const 1))))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then (call $guest_response (i32.const {valid}) (i32.const 14)) (return (i32.const 1))))
    (if (i32.eq (local.get $op_len) (i32.const 8))
      (then (call $validate) (return (i32.const 1))))
    (i32.const 0)))
"#,
            dst = OUT as usize + prefix_len,
        );
        without_name_section(&wat::parse_str(text).expect("the probe is valid WebAssembly text"))
    }

    /// The module without its `name` custom section: kwctl's module parser (walrus) warns about
    /// the local names `wat` writes.
    fn without_name_section(module: &[u8]) -> Vec<u8> {
        fn leb(bytes: &[u8], at: &mut usize) -> usize {
            let (mut value, mut shift) = (0usize, 0);
            loop {
                let b = bytes[*at];
                *at += 1;
                value |= usize::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        let mut out = module[..8].to_vec();
        let mut at = 8;
        while at < module.len() {
            let start = at;
            let id = module[at];
            at += 1;
            let size = leb(module, &mut at);
            let body = at;
            at += size;
            if id == 0 {
                let mut p = body;
                let name_len = leb(module, &mut p);
                if &module[p..p + name_len] == b"name" {
                    continue;
                }
            }
            out.extend_from_slice(&module[start..at]);
        }
        out
    }

    /// The answers in a probe's `validate` answer (its `message`).
    pub fn answers(message: &str) -> Vec<Result<Vec<u8>, String>> {
        let bytes: Vec<u8> = (0..message.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&message[i..i + 2], 16).expect("hex"))
            .collect();
        let (mut out, mut at) = (Vec::new(), 0);
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
            let body = bytes[at + 5..at + 5 + len].to_vec();
            out.push(match bytes[at] {
                b'S' => Ok(body),
                b'E' => Err(String::from_utf8(body).expect("host errors are text")),
                other => panic!("unknown record tag {other}"),
            });
            at += 5 + len;
        }
        out
    }
}

const REQUEST: &str = r#"{"uid":"probe","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"}}}"#;

fn cluster(name: &str) -> ClusterState {
    ClusterState::from_file(inputs_dir().join("clusters").join(name)).unwrap()
}

/// The probe run in the project's host with `cluster`: what the guest got for each call.
fn run_in_host(cluster: &Arc<ClusterState>, calls: &[HostCall]) -> Vec<Result<Vec<u8>, String>> {
    let compiled = CompiledPolicy::compile(&probe::module(calls)).unwrap();
    let host = compiled
        .instantiate_with_cluster(Arc::clone(cluster))
        .unwrap();
    let request: Value = serde_json::from_str(REQUEST).unwrap();
    let answer = host.validate(&request, &json!({})).unwrap();
    assert_eq!(answer["accepted"], false, "{answer}");
    probe::answers(answer["message"].as_str().unwrap())
}

fn text(answer: &Result<Vec<u8>, String>) -> String {
    match answer {
        Ok(p) => format!("Ok({})", String::from_utf8_lossy(p)),
        Err(e) => format!("Err({e})"),
    }
}

#[test]
fn the_probe_reaches_the_cluster_through_the_wasm_host() {
    let cluster = Arc::new(cluster("article.yml"));
    let calls = [
        get("v1", "Namespace", "monitor", None, &[]),
        log_call(),
        get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "missing",
            Some("monitor"),
            &[],
        ),
        HostCall {
            binding: "other",
            ..get("v1", "Namespace", "monitor", None, &[])
        },
    ];
    let got = run_in_host(&cluster, &calls);
    assert_eq!(got.len(), 4);
    assert_eq!(
        text(&got[0]),
        r#"Ok({"apiVersion":"v1","kind":"Namespace","metadata":{"creationTimestamp":"2024-05-06T07:30:00Z","labels":{"kubernetes.io/metadata.name":"monitor"},"name":"monitor","resourceVersion":"812","uid":"5e1f0a9b-3c4d-4e5f-a6b7-c8d9e0f1a2b3"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})"#
    );
    assert_eq!(got[1], Ok(Vec::new()), "logging still works");
    assert_eq!(
        text(&got[2]),
        r#"Err(Callback evaluation failure: Cannot find opentelemetry.io/v1alpha1/Instrumentation named 'missing' inside of namespace 'Some("monitor")')"#
    );
    assert_eq!(text(&got[3]), "Err(unknown binding: other)");
    // The cluster logged the two kubernetes calls that reached it, as the guest got them.
    let logged = cluster.calls();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].answer, got[0]);
    assert_eq!(logged[1].answer, got[2]);
    assert_eq!(logged[0].payload, calls[0].payload);
}

#[test]
fn without_a_cluster_the_host_refuses_as_before() {
    let calls = [get("v1", "Namespace", "monitor", None, &[]), log_call()];
    let compiled = CompiledPolicy::compile(&probe::module(&calls)).unwrap();
    let host = compiled.instantiate().unwrap();
    let request: Value = serde_json::from_str(REQUEST).unwrap();
    let answer = host.validate(&request, &json!({})).unwrap();
    let got = probe::answers(answer["message"].as_str().unwrap());
    assert_eq!(
        got,
        [
            Err(
                "host capability kubewarden/kubernetes/get_resource is not available in this host"
                    .into()
            ),
            Ok(Vec::new())
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The fixtures.

fn object(cluster: &ClusterState, call: HostCall) -> Value {
    let got = answer_of(cluster, &call);
    serde_json::from_slice(&got.unwrap_or_else(|e| panic!("{e}"))).unwrap()
}

fn answer_of(cluster: &ClusterState, call: &HostCall) -> Result<Vec<u8>, String> {
    cluster.answer(call.namespace, call.operation, &call.payload)
}

#[test]
fn every_fixture_loads_and_says_why_it_exists() {
    let dir = inputs_dir().join("clusters");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# "),
            "{name} does not start with a comment saying why it exists"
        );
        ClusterState::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        names.push(name);
    }
    // Every fixture serves a case file or a bats scenario.
    let mut users = std::fs::read_to_string(workspace_root().join("e2e-tests/e2e.bats")).unwrap();
    for topic in std::fs::read_dir(cases_dir()).unwrap() {
        let topic = topic.unwrap().path();
        if topic.is_dir() {
            for case in std::fs::read_dir(topic).unwrap() {
                users.push_str(&std::fs::read_to_string(case.unwrap().path()).unwrap_or_default());
            }
        }
    }
    for name in &names {
        assert!(
            users.contains(name.as_str()),
            "no case or bats scenario uses clusters/{name}"
        );
    }
}

/// The items of a list answer in `namespace`.
fn items_in(list: &Value, namespace: &str) -> Vec<Value> {
    let items = list["items"].as_array().expect("a list answer has items");
    items
        .iter()
        .filter(|i| i["metadata"]["namespace"] == namespace)
        .cloned()
        .collect()
}

fn read_json(rel: &str) -> Value {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(inputs_dir().join(rel)).unwrap()).unwrap();
    v.get("request").cloned().unwrap_or(v)
}

#[test]
fn the_article_cluster_holds_the_articles_instrumentation_and_pod_owners() {
    let c = Arc::new(cluster("article.yml"));
    let settings: Value = serde_yaml::from_str(
        &std::fs::read_to_string(inputs_dir().join("settings/article.yaml")).unwrap(),
    )
    .unwrap();
    let declared = &settings["instrumentations"][0];
    let stored = object(
        &c,
        get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "python-instrumentation",
            Some("monitor"),
            &[],
        ),
    );
    assert_eq!(stored["spec"], declared["spec"]);
    assert_eq!(stored["status"], json!({}));
    for key in ["uid", "resourceVersion", "managedFields"] {
        assert!(
            !stored["metadata"][key].is_null(),
            "stored metadata has {key}"
        );
    }
    // A list strips what the reflector strips.
    let listed = object(&c, list_instrumentations());
    let item = items_in(&listed, "monitor")
        .into_iter()
        .find(|i| i["metadata"]["name"] == "python-instrumentation")
        .expect("the article's Instrumentation is listed");
    assert_eq!(item["metadata"]["managedFields"], json!([]));
    assert_eq!(item["metadata"]["annotations"], json!({}));
    assert_eq!(item["spec"], declared["spec"]);
    for ns in ["default", "monitor"] {
        object(&c, get("v1", "Namespace", ns, None, &[]));
    }
    // The pod's controller is the ReplicaSet, whose controller is the Deployment.
    let pod = read_json("requests/article-pod.json");
    let owner = &pod["object"]["metadata"]["ownerReferences"][0];
    let rs = object(
        &c,
        get(
            "apps/v1",
            "ReplicaSet",
            owner["name"].as_str().unwrap(),
            Some("default"),
            &[],
        ),
    );
    assert_eq!(rs["metadata"]["uid"], owner["uid"]);
    let rs_owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(
        (rs_owner["kind"].as_str(), rs_owner["controller"].as_bool()),
        (Some("Deployment"), Some(true))
    );
    let deploy = object(
        &c,
        get(
            "apps/v1",
            "Deployment",
            "hello-deploy",
            Some("default"),
            &[],
        ),
    );
    assert_eq!(deploy["metadata"]["uid"], rs_owner["uid"]);
}

#[test]
fn the_namespace_annotated_cluster_resolves_true_to_its_one_instrumentation() {
    let c = Arc::new(cluster("namespace-annotated.yml"));
    let ns = object(&c, get("v1", "Namespace", "shop", None, &[]));
    assert_eq!(
        ns["metadata"]["annotations"]["instrumentation.opentelemetry.io/inject-python"],
        "true"
    );
    let list = object(&c, list_instrumentations());
    let items = items_in(&list, "shop");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "python");
}

#[test]
fn the_no_crd_cluster_fails_instrumentation_lookups_at_discovery() {
    let c = cluster("no-crd.yml");
    for call in [
        get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "python-instrumentation",
            Some("monitor"),
            &[],
        ),
        list_instrumentations(),
    ] {
        let e = answer_of(&c, &call).unwrap_err();
        assert!(
            e.starts_with("Callback evaluation failure: error finding resource opentelemetry.io/v1alpha1 / Instrumentation: ApiError: 404 page not found\n"),
            "{e}"
        );
    }
    assert!(
        answer_of(
            &c,
            &get(
                "apps/v1",
                "ReplicaSet",
                "hello-deploy-7d9c8b6f5d",
                Some("default"),
                &[]
            )
        )
        .is_ok()
    );
}

#[test]
fn the_rbac_no_list_cluster_gets_but_would_hang_on_a_list() {
    let c = cluster("rbac-no-list.yml");
    let user = c.user().to_owned();
    assert!(
        answer_of(
            &c,
            &get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python-instrumentation",
                Some("monitor"),
                &[]
            )
        )
        .is_ok()
    );
    let e = answer_of(&c, &list_instrumentations()).unwrap_err();
    assert!(
        e.ends_with(
            "(the real policy-server would wait forever here: its watch retries a 403 without end)"
        ),
        "{e}"
    );
    assert_eq!(c.calls().last().unwrap().stage, Stage::WouldWaitForever);
    let ask = |verb: &str| {
        String::from_utf8(
            answer_of(
                &c,
                &can_i(&user, verb, "opentelemetry.io", "instrumentations"),
            )
            .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(ask("get"), r#"{"allowed":true}"#);
    assert_eq!(ask("list"), r#"{"allowed":false}"#);
    assert_eq!(ask("watch"), r#"{"allowed":false}"#);
    // Secrets are not in the Kubewarden defaults.
    let e = answer_of(&c, &get("v1", "Secret", "tls", Some("monitor"), &[])).unwrap_err();
    assert!(
        e.contains(
            r#"cannot get resource \"secrets\" in API group \"\" in the namespace \"monitor\""#
        ),
        "{e}"
    );
}

#[test]
fn the_cronjob_cluster_holds_the_pods_job_and_its_cronjob() {
    let c = Arc::new(cluster("cronjob.yml"));
    let pod = read_json("requests/pod-job.json");
    let owner = &pod["object"]["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Job");
    let job = object(
        &c,
        get(
            "batch/v1",
            "Job",
            owner["name"].as_str().unwrap(),
            Some("shop"),
            &[],
        ),
    );
    assert_eq!(job["metadata"]["uid"], owner["uid"]);
    let job_owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            job_owner["kind"].as_str(),
            job_owner["controller"].as_bool()
        ),
        (Some("CronJob"), Some(true))
    );
    let cron = object(
        &c,
        get(
            "batch/v1",
            "CronJob",
            job_owner["name"].as_str().unwrap(),
            Some("shop"),
            &[],
        ),
    );
    assert_eq!(cron["metadata"]["uid"], job_owner["uid"]);
    let list = object(&c, list_instrumentations());
    assert_eq!(items_in(&list, "shop").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// The real kwctl replays what the project's host recorded.

fn kwctl() -> Option<Kwctl> {
    Kwctl::for_tests()
}

/// The probe, annotated with `cluster`'s contextAwareResources, run by kwctl with `cluster`'s
/// host capabilities, replaying `session`, as the case backend runs kwctl (`Kwctl::run_with`):
/// what the probe got, or kwctl's error, which a session not replayed exactly is.
fn run_in_kwctl(
    kwctl: &Kwctl,
    dir: &Path,
    cluster: &ClusterState,
    calls: &[HostCall],
    session: &str,
) -> anyhow::Result<Vec<Result<Vec<u8>, String>>> {
    std::fs::write(dir.join("probe.wasm"), probe::module(calls)).unwrap();
    let metadata = json!({
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}],
        "mutating": false,
        "backgroundAudit": false,
        "contextAwareResources": cluster.granted(),
        "executionMode": "kubewarden-wapc",
        "annotations": {"io.kubewarden.policy.title": "host-call-probe"},
    });
    std::fs::write(
        dir.join("metadata.yml"),
        serde_yaml::to_string(&metadata).unwrap(),
    )
    .unwrap();
    let out = kwctl
        .command("annotate")
        .arg("-m")
        .arg(dir.join("metadata.yml"))
        .arg("-o")
        .arg(dir.join("annotated.wasm"))
        .arg(dir.join("probe.wasm"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kwctl annotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let options = RunOptions {
        replay_session: Some(session.to_owned()),
        host_capabilities: Some(cluster.host_capabilities().to_vec()),
        ..RunOptions::default()
    };
    let request: Value = serde_json::from_str(REQUEST).unwrap();
    match kwctl.run_with(&dir.join("annotated.wasm"), &request, &json!({}), &options)? {
        KwctlAnswer::Response(r) => Ok(probe::answers(r.message())),
        other => panic!("the probe's settings are always valid: {other:?}"),
    }
}

/// What the guest must get from kwctl for a call the project's host answered: the same bytes,
/// the same refusal, or the recorded error behind `Callback evaluation failure: ` (a replayed
/// error has no `Caused by` part: kwctl records the error's Display).
fn expected_from_kwctl(call: &Call) -> Result<Vec<u8>, String> {
    match &call.stage {
        Stage::HostCallback => call.answer.clone(),
        Stage::Handler(exchange) => match &exchange.response {
            ExchangeResponse::Success { payload } => Ok(payload.clone().into_bytes()),
            ExchangeResponse::Error { message } => Err(format!("{CALLBACK_FAILURE}{message}")),
        },
        other => panic!("call without a faithful recording: {other:?}"),
    }
}

/// Run `calls` in the project's host with `cluster`, then in kwctl replaying its session, and
/// compare what the guest got, call for call.
fn replay_matches(kwctl: &Kwctl, fixture: &str, calls: &[HostCall]) -> Vec<Call> {
    let cluster = Arc::new(ClusterState::from_yaml(fixture).unwrap());
    let ours = run_in_host(&cluster, calls);
    let logged = cluster.calls();
    let session = cluster.session_yaml().unwrap();
    let dir = TempDir::new("cluster-host").unwrap();
    // kwctl replayed the session exactly, or this is an error (`Kwctl::run_with`).
    let theirs = run_in_kwctl(kwctl, dir.path(), &cluster, calls, &session)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(ours.len(), calls.len());
    assert_eq!(theirs.len(), calls.len());
    let mut kubernetes = logged.iter();
    for (i, call) in calls.iter().enumerate() {
        if call.namespace == "tracing" || call.binding != "kubewarden" {
            // Answered by the host itself, not logged by the cluster.
            assert_eq!(text(&ours[i]), text(&theirs[i]), "call {i}");
            continue;
        }
        let logged = kubernetes.next().unwrap();
        assert_eq!(
            logged.answer, ours[i],
            "call {i}: the log holds what the guest got"
        );
        let expected = expected_from_kwctl(logged);
        assert_eq!(
            text(&theirs[i]),
            text(&expected),
            "call {i} ({}): kwctl gave the guest something else than the session says\nsession:\n{session}",
            call.operation
        );
        if let (Err(theirs), Err(ours)) = (&theirs[i], &ours[i]) {
            // Only the `Caused by` part of a kube-rs error may differ.
            let rest = ours
                .strip_prefix(theirs.as_str())
                .unwrap_or_else(|| panic!("call {i}: {ours:?} vs {theirs:?}"));
            assert!(
                rest.is_empty() || rest.starts_with("\n\nCaused by:\n    "),
                "call {i}: {rest:?}"
            );
        } else {
            assert_eq!(ours[i], theirs[i], "call {i}");
        }
    }
    assert!(
        kubernetes.next().is_none(),
        "the cluster logged calls the guest did not make"
    );
    logged
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(inputs_dir().join("clusters").join(name)).unwrap()
}

#[test]
fn kwctl_replays_the_article_session_as_the_host_answered_it() {
    let Some(kwctl) = kwctl() else { return };
    let user = cluster("article.yml").user().to_owned();
    let logged = replay_matches(
        &kwctl,
        &fixture("article.yml"),
        &[
            get("v1", "Namespace", "monitor", None, &[]),
            get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python-instrumentation",
                Some("monitor"),
                &["spec"],
            ),
            get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "missing",
                Some("default"),
                &[],
            ),
            log_call(),
            can_i(&user, "list", "opentelemetry.io", "instrumentations"),
            can_i(&user, "watch", "opentelemetry.io", "instrumentations"),
            list_instrumentations(),
            get(
                "apps/v1",
                "ReplicaSet",
                "hello-deploy-7d9c8b6f5d",
                Some("default"),
                &[],
            ),
            get("v1", "Secret", "tls", None, &[]),
            kubernetes("get_resource", br#"{"api_version":"v1"}"#.to_vec()),
            kubernetes("watch", b"{}".to_vec()),
            HostCall {
                namespace: "nope",
                ..kubernetes("x", b"{}".to_vec())
            },
            HostCall {
                binding: "other",
                ..get("v1", "Namespace", "monitor", None, &[])
            },
        ],
    );
    // Every kind of answer was exercised: payloads, handler errors, host-callback refusals
    // (a payload that does not parse, an unknown operation, an unknown namespace).
    let stages: Vec<&str> = logged
        .iter()
        .map(|c| match &c.stage {
            Stage::Handler(e) if matches!(e.response, ExchangeResponse::Success { .. }) => "ok",
            Stage::Handler(_) => "error",
            Stage::HostCallback => "refused",
            _ => "other",
        })
        .collect();
    assert_eq!(
        stages,
        [
            "ok", "ok", "error", "ok", "ok", "ok", "ok", "error", "refused", "refused", "refused"
        ]
    );
}

#[test]
fn kwctl_replays_discovery_rbac_and_forced_failures_as_the_host_answered_them() {
    let Some(kwctl) = kwctl() else { return };
    // The 404 message has a newline in it: it must survive the session file.
    replay_matches(
        &kwctl,
        &fixture("no-crd.yml"),
        &[
            get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python-instrumentation",
                Some("monitor"),
                &[],
            ),
            list_instrumentations(),
            get("v1", "Pod", "p", Some("default"), &[]),
            get(
                "apps/v1",
                "ReplicaSet",
                "hello-deploy-7d9c8b6f5d",
                Some("default"),
                &[],
            ),
        ],
    );
    let user = cluster("rbac-no-list.yml").user().to_owned();
    let logged = replay_matches(
        &kwctl,
        &fixture("rbac-no-list.yml"),
        &[
            can_i(&user, "list", "opentelemetry.io", "instrumentations"),
            can_i(&user, "get", "opentelemetry.io", "instrumentations"),
            get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python-instrumentation",
                Some("monitor"),
                &["spec"],
            ),
            get("v1", "Secret", "tls", Some("monitor"), &[]),
        ],
    );
    assert!(
        logged[3].answer_text().contains("\n\nCaused by:\n    "),
        "{}",
        logged[3].answer_text()
    );
    let forced = format!(
        "{}fail:\n  - {{operation: get_resource, kind: Namespace, message: 'error trying to connect: tcp connect error: Connection refused (os error 111)'}}\n",
        fixture("namespace-annotated.yml")
    );
    replay_matches(
        &kwctl,
        &forced,
        &[
            get("v1", "Namespace", "shop", None, &[]),
            list_instrumentations(),
        ],
    );
}

#[test]
fn kwctl_refuses_before_its_handler_with_the_hosts_words() {
    let Some(kwctl) = kwctl() else { return };
    let fixture = format!(
        "{}host_capabilities: [kubernetes/get_resource]\n\
         granted: [{{apiVersion: v1, kind: Namespace}}]\n",
        fixture("namespace-annotated.yml")
    );
    let user = ClusterState::from_yaml(&fixture).unwrap().user().to_owned();
    let logged = replay_matches(
        &kwctl,
        &fixture,
        &[
            get("v1", "Namespace", "shop", None, &[]),
            get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python",
                Some("shop"),
                &["spec"],
            ),
            list_instrumentations(),
            can_i(&user, "list", "opentelemetry.io", "instrumentations"),
            HostCall {
                namespace: "oci",
                operation: "v1/manifest_digest",
                payload: br#""busybox""#.to_vec(),
                ..log_call()
            },
        ],
    );
    let refused = logged
        .iter()
        .filter(|c| c.stage == Stage::HostCallback)
        .count();
    assert_eq!(refused, 4);
}

#[test]
fn kwctl_notices_a_session_that_does_not_match() {
    let Some(kwctl) = kwctl() else { return };
    let cluster = Arc::new(cluster("article.yml"));
    let calls = [get("v1", "Namespace", "monitor", None, &[])];
    run_in_host(&cluster, &calls);
    let session = cluster.session_yaml().unwrap();
    let dir = TempDir::new("cluster-host").unwrap();
    // A request that differs in one field is not replayed.
    let changed = session.replace("disable_cache: false", "disable_cache: true");
    assert_ne!(changed, session);
    // (The guest reads `Callback evaluation failure: Replay error: unexpected request ...`;
    // kwctl logs the same on stderr.)
    let e = run_in_kwctl(&kwctl, dir.path(), &cluster, &calls, &changed).unwrap_err();
    assert!(
        format!("{e:#}").contains("Replay error: unexpected request"),
        "{e:#}"
    );
    // An entry left over is reported on stderr, although the guest got every answer.
    let twice = format!("{session}{session}");
    let e = run_in_kwctl(&kwctl, dir.path(), &cluster, &calls, &twice).unwrap_err();
    assert!(format!("{e:#}").contains("have not been replayed"), "{e:#}");
    // One call more than the session holds: the guest reads `Callback evaluation failure: the
    // list of recorded responses is empty`.
    let more = [calls[0].clone(), calls[0].clone()];
    let e = run_in_kwctl(&kwctl, dir.path(), &cluster, &more, &session).unwrap_err();
    assert!(
        format!("{e:#}").contains("the list of recorded responses is empty"),
        "{e:#}"
    );
}
