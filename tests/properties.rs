//! Properties over generated pods and settings (proptest), and the fuzzers' regressions.
//!
//! Every generated case is a Pod CREATE request (containers, init containers, env with `value` and
//! `valueFrom`, `PYTHONPATH` and `OTEL_*` set or not, volumes and mounts, the annotations with good
//! and malformed values, labels, owner references) and settings built from a generated
//! Instrumentation spec. For every case that the policy mutates:
//!
//! - deterministic: the same payload gives the same bytes;
//! - valid output: the object deserializes as a k8s-openapi Pod, and container names (init and
//!   regular), volume names, env names and mount paths per container stay unique;
//! - nothing lost: every original field is still there verbatim; env entries are kept in order, with
//!   only the documented rewrites (`PYTHONPATH`, `OTEL_RESOURCE_ATTRIBUTES` keep the user's value
//!   inside the new one) and the operator's reordering (`OTEL_NODE_IP`/`OTEL_POD_IP` prepended,
//!   `OTEL_RESOURCE_ATTRIBUTES` moved last); mounts, volumes and init containers are only added;
//! - the user wins: every variable the user set keeps its value, the user's sampler variables and
//!   resource attribute keys are never set a second time;
//! - order: every `$(X)` in an injected value names a variable defined earlier in the container;
//! - idempotent: the mutated object fed back is accepted unchanged;
//! - the record: every injected pod records its instrumentation, the image and the containers;
//!   the hash it records is what it carries, as the policy wrote it and as the API server stores
//!   it (with its defaults, and another webhook's variable and mount in every container); the
//!   audit role passes it, and reports it stale once its instrumentation's spec changes; a pod
//!   admitted without injection keeps its spec and records a one-line reason; the record is the
//!   same whatever the key order of the request's and the settings' objects;
//! - cluster mode: with the settings' instrumentations moved into an in-memory cluster (and the
//!   namespaces and ReplicaSets the pod names), every answer is the settings-mode answer.
//!
//! The number of cases is 10,000 per test, or `PROPTEST_CASES` (`make stress`).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use otel_python_policy::admission;
use otel_python_policy::host::Hosts;
use otel_python_policy::operator::{
    INIT_CONTAINER_NAME, MOUNT_PATH, PREFLIGHT_CONTAINER_NAME, PYTHONPATH_PREFIX, VOLUME_NAME,
};
use otel_python_policy::record;
use otel_python_policy::settings::Settings;
use otel_python_policy::target::Target;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{Map, Value, json};

const INJECT: &str = "instrumentation.opentelemetry.io/inject-python";
const CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/container-names";
const PYTHON_CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/python-container-names";
const PLATFORM: &str = "instrumentation.opentelemetry.io/otel-python-platform";
const ORA: &str = "OTEL_RESOURCE_ATTRIBUTES";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    })
}

fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    match runner().run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => panic!("{why}\nminimal failing input: {input:#?}"),
        Err(e) => panic!("{e}"),
    }
}

// ---- generators ------------------------------------------------------------------------------

/// The generators draw every choice from a tape of random numbers (shrinking moves them towards
/// 0, which is always the plainest choice): far cheaper per case in the debug profile than nested
/// proptest strategies, so that 10,000 cases per property fit in the normal test run.
#[derive(Clone, Debug)]
struct Tape {
    values: Vec<u16>,
    at: std::cell::Cell<usize>,
}

impl Tape {
    /// A choice in `0..n`.
    fn n(&self, n: usize) -> usize {
        let i = self.at.get();
        self.at.set(i + 1);
        self.values[i % self.values.len()] as usize % n.max(1)
    }
    /// True with a chance of `percent` in 100 (0 on the tape is false).
    fn chance(&self, percent: usize) -> bool {
        (100 - self.n(100)) <= percent && percent > 0
    }
    fn pick<T: Copy>(&self, pool: &[T]) -> T {
        pool[self.n(pool.len())]
    }
    /// A weighted choice: the index of the chosen weight.
    fn weighted(&self, weights: &[usize]) -> usize {
        let mut x = self.n(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }
    /// Up to `max` distinct items of `pool`, in a random order.
    fn some<T: Copy>(&self, pool: &[T], max: usize) -> Vec<T> {
        let mut left: Vec<T> = pool.to_vec();
        let count = self.n(max.min(pool.len()) + 1);
        (0..count)
            .map(|_| left.remove(self.n(left.len())))
            .collect()
    }
}

fn tape() -> impl Strategy<Value = Tape> {
    proptest::collection::vec(any::<u16>(), 160).prop_map(|values| Tape {
        values,
        at: std::cell::Cell::new(0),
    })
}

/// Container names (the injected init container's name is used rarely, see `pod_request`).
const CONTAINER_POOL: [&str; 8] = [
    "app",
    "web",
    "worker",
    "sidecar",
    "migrate",
    "seed",
    "otc-container",
    "api",
];
/// Env names a user may set: the ones the policy injects or rewrites, and unrelated ones.
const ENV_POOL: [&str; 15] = [
    "FOO",
    "PYTHONPATH",
    ORA,
    "OTEL_SERVICE_NAME",
    "OTEL_NODE_IP",
    "OTEL_POD_IP",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_PROPAGATORS",
    "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
    "OTEL_RESOURCE_ATTRIBUTES_POD_UID",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "DJANGO_SETTINGS_MODULE",
];
const ENV_VALUES: [&str; 10] = [
    "user",
    "",
    "$(OTEL_POD_IP)",
    "/app/lib",
    "team=shop,service.version=9",
    "k8s.pod.name=mine",
    "a=b,",
    "service.name=explicit",
    "http://mine:4318",
    "0.5",
];
/// Mount paths (unique per container); the names are drawn separately so that they collide with
/// the policy's volumes.
const MOUNT_PATHS: [&str; 4] = [
    "/data",
    "/etc/cfg",
    "/otel-auto-instrumentation-secret-certs",
    "/otel-auto-instrumentation-configmap-ca",
];
const VOLUME_POOL: [&str; 4] = [
    "data",
    "cfg",
    "otel-auto-secret-certs",
    "otel-auto-configmap-ca",
];
/// The policy's own volume name, used rarely by the generated pods (it makes them refused).
const PACKAGES_VOLUME: &str = "opentelemetry-auto-instrumentation-python";
const NAMESPACES: [&str; 3] = ["default", "monitor", "shop"];
const IMAGES: [&str; 4] = [
    "python:3.12",
    "registry.example.com/shop/api:1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "shop/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "",
];

fn env_entry(t: &Tape, name: &str) -> Value {
    match t.weighted(&[16, 1, 1, 1]) {
        0 => json!({"name": name, "value": t.pick(&ENV_VALUES)}),
        1 => {
            json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['x']"}}})
        }
        2 => json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}),
        _ => json!({"name": name}),
    }
}

fn container(t: &Tape, name: &str) -> Value {
    let mut c = json!({"name": name});
    let image = t.pick(&IMAGES);
    if !image.is_empty() {
        c["image"] = image.into();
    }
    if t.chance(80) {
        c["env"] = t
            .some(&ENV_POOL, 6)
            .into_iter()
            .map(|n| env_entry(t, n))
            .collect();
    }
    if t.chance(50) {
        let mut paths = t.some(&MOUNT_PATHS, 3);
        if t.chance(3) {
            paths.push(MOUNT_PATH);
        }
        c["volumeMounts"] = paths
            .into_iter()
            .map(|p| {
                let n = if t.chance(3) {
                    PACKAGES_VOLUME
                } else {
                    t.pick(&VOLUME_POOL)
                };
                json!({"name": n, "mountPath": p})
            })
            .collect();
    }
    // Fields the policy does not model, some from a future API: they must pass through.
    if t.chance(30) {
        c["ports"] = json!([{"containerPort": 8080, "name": "http"}]);
    }
    if t.chance(20) {
        c["futureField"] = json!({"nested": [1, "two", null]});
    }
    if t.chance(20) {
        c["securityContext"] = json!({"runAsUser": 1000});
    }
    c
}

fn annotation_value(t: &Tape) -> Option<String> {
    const MALFORMED: [&str; 9] = [
        "a/b/c",
        "/python",
        "monitor/",
        "Bad_Name",
        "other/nope",
        "shop/other",
        "nope",
        "monitor/python/",
        "x y",
    ];
    Some(
        match t.weighted(&[12, 8, 4, 1, 1, 1, 1, 3]) {
            0 => "true",
            1 => "monitor/python",
            2 => "python",
            3 => "TRUE",
            4 => "false",
            5 => "",
            6 => return None,
            _ => t.pick(&MALFORMED),
        }
        .to_string(),
    )
}

/// A container-names annotation: some of the pod's containers, or a malformed list.
fn container_list(t: &Tape, names: &[&str]) -> Option<String> {
    match t.weighted(&[12, 6, 1]) {
        0 => None,
        1 => {
            let mut l = t.some(names, names.len());
            if l.is_empty() {
                l.push(names[0]);
            }
            Some(l.join(","))
        }
        _ => Some(
            t.pick(&[",", "app,,web", "app;x", "nope", "app, web"])
                .to_string(),
        ),
    }
}

#[derive(Debug, Clone)]
struct PodInput {
    request: Value,
}

fn metadata(t: &Tape) -> Value {
    let labels: BTreeMap<&str, &str> = t
        .some(
            &[
                ("app.kubernetes.io/name", "shop"),
                ("app.kubernetes.io/instance", "shop-prod"),
                ("app.kubernetes.io/version", "1.2.3"),
                ("pod-template-hash", "7d9c8b6f5d"),
            ],
            4,
        )
        .into_iter()
        .collect();
    let annotations: BTreeMap<&str, &str> = t
        .some(
            &[
                ("unrelated.example.com/x", "y"),
                ("resource.opentelemetry.io/service.name", "annotated"),
                ("resource.opentelemetry.io/service.version", "2.0"),
                ("resource.opentelemetry.io/team", "payments"),
            ],
            2,
        )
        .into_iter()
        .collect();
    let mut m = json!({"labels": labels, "annotations": annotations});
    if t.chance(70) {
        m["name"] = "web-7d9c8b6f5d-x2x9z".into();
    } else {
        m["generateName"] = "web-7d9c8b6f5d-".into();
    }
    if t.chance(60) {
        let kind = t.pick(&[
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "Node",
        ]);
        let name = t.pick(&["web-7d9c8b6f5d", "web", "nightly-28000000"]);
        m["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "6b1c", "controller": true}]);
    }
    m
}

fn pod_request(t: &Tape) -> PodInput {
    // Unique container names over init and regular containers.
    let mut names = t.some(&CONTAINER_POOL, 5);
    if names.is_empty() {
        names.push(CONTAINER_POOL[0]);
    }
    let init = t.n(3).min(names.len() - 1);
    let (init_names, regular) = names.split_at(init);
    let mut meta = metadata(t);
    let ann = meta["annotations"].as_object_mut().unwrap();
    let platform = if t.chance(20) {
        Some(t.pick(&["glibc", "musl", "MUSL"]).to_string())
    } else {
        None
    };
    for (k, v) in [
        (INJECT, annotation_value(t)),
        (CONTAINER_NAMES, container_list(t, &names)),
        (PYTHON_CONTAINER_NAMES, container_list(t, &names)),
        (PLATFORM, platform),
    ] {
        if let Some(v) = v {
            ann.insert(k.into(), v.into());
        }
    }
    let ns = t.pick(&NAMESPACES);
    if t.chance(50) {
        meta["namespace"] = ns.into();
    }
    let mut spec = json!({
        "containers": regular.iter().map(|n| container(t, n)).collect::<Vec<_>>(),
        "restartPolicy": "Always",
    });
    if !init_names.is_empty() {
        spec["initContainers"] = init_names.iter().map(|n| container(t, n)).collect();
    }
    if t.chance(50) {
        let mut v = t.some(&VOLUME_POOL, 3);
        if t.chance(3) {
            v.push(PACKAGES_VOLUME);
        }
        spec["volumes"] = v
            .iter()
            .map(|n| json!({"name": n, "emptyDir": {}}))
            .collect();
    }
    if t.chance(40) {
        spec["securityContext"] = json!({"runAsUser": t.pick(&[1000, 0])});
    }
    if t.chance(30) {
        spec["nodeName"] = "node-1".into();
    }
    // Rarely, a regular container takes the injected init container's name.
    if t.chance(2) {
        spec["containers"][0]["name"] = INIT_CONTAINER_NAME.into();
    }
    let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
    PodInput {
        request: json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": ns,
            "object": object,
        }),
    }
}

/// A valid Instrumentation spec (as JSON), drawn from every setting the policy reads.
fn spec(t: &Tape) -> Value {
    let mut s = Map::new();
    match t.n(3) {
        0 => {}
        1 => {
            s.insert(
                "exporter".into(),
                json!({"endpoint": "http://otel-collector.monitor.svc:4318"}),
            );
        }
        _ => {
            let (secret, cm, ca, client) = (t.chance(50), t.chance(50), t.chance(50), t.chance(50));
            let mut tls = Map::new();
            if secret {
                tls.insert("secretName".into(), "certs".into());
            }
            if cm {
                tls.insert("configMapName".into(), "ca".into());
            }
            if ca {
                tls.insert(
                    "ca_file".into(),
                    if secret || cm {
                        "ca.crt"
                    } else {
                        "/etc/ssl/ca.crt"
                    }
                    .into(),
                );
            }
            if client {
                let (c, k) = if secret {
                    ("tls.crt", "tls.key")
                } else {
                    ("/etc/tls/tls.crt", "/etc/tls/tls.key")
                };
                tls.insert("cert_file".into(), c.into());
                tls.insert("key_file".into(), k.into());
            }
            s.insert(
                "exporter".into(),
                json!({"endpoint": "https://otel-collector.monitor.svc:4318", "tls": tls}),
            );
        }
    }
    match t.weighted(&[2, 3, 1]) {
        0 => {}
        1 => {
            let mut p = t.some(
                &[
                    "tracecontext",
                    "baggage",
                    "b3",
                    "b3multi",
                    "jaeger",
                    "xray",
                    "ottrace",
                ],
                3,
            );
            if p.is_empty() {
                p.push("tracecontext");
            }
            s.insert("propagators".into(), json!(p));
        }
        _ => {
            s.insert("propagators".into(), json!(["none"]));
        }
    }
    if t.chance(50) {
        let sampler = match t.n(4) {
            0 => json!({"type": "parentbased_traceidratio", "argument": "0.25"}),
            1 => json!({"type": "traceidratio", "argument": "1"}),
            2 => json!({"type": "always_on"}),
            _ => {
                json!({"type": "jaeger_remote", "argument": "endpoint=http://jaeger:14250,pollingIntervalMs=5000,initialSamplingRate=0.25"})
            }
        };
        s.insert("sampler".into(), sampler);
    }
    if t.chance(50) {
        let env: Vec<Value> = t
            .some(&[0, 1, 2, 3, 4, 5], 3)
            .into_iter()
            .map(|i| match i {
                0 => json!({"name": "OTEL_EXPORTER_OTLP_HEADERS", "value": "api-key=1"}),
                1 => json!({"name": "FOO", "value": "from-settings"}),
                2 => json!({"name": "OTEL_SERVICE_NAME", "value": "from-settings"}),
                3 => json!({"name": "NODE", "value": "http://$(OTEL_NODE_IP):4318"}),
                4 => json!({"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}),
                _ => json!({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}),
            })
            .collect();
        s.insert("env".into(), env.into());
    }
    let mut python = Map::new();
    if t.chance(30) {
        python.insert(
            "image".into(),
            t.pick(&[
                "registry.example.com/otel/python:1.0",
                "localhost:5000/python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ])
            .into(),
        );
    }
    if t.chance(30) {
        let env: Vec<Value> = t
            .some(&[0, 1, 2], 2)
            .into_iter()
            .map(|i| match i {
                0 => json!({"name": "OTEL_PYTHON_LOG_CORRELATION", "value": "true"}),
                1 => json!({"name": "FOO", "value": "from-python"}),
                _ => json!({"name": "PYTHONPATH", "value": "/extra"}),
            })
            .collect();
        python.insert("env".into(), env.into());
    }
    match t.n(4) {
        1 => {
            python.insert("volumeLimitSize".into(), "1Gi".into());
        }
        2 => {
            python.insert(
                "volumeClaimTemplate".into(),
                json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
            );
        }
        3 => {
            python.insert(
                "resourceRequirements".into(),
                json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m"}}),
            );
        }
        _ => {}
    }
    if !python.is_empty() {
        s.insert("python".into(), python.into());
    }
    let mut resource = Map::new();
    if t.chance(50) {
        resource.insert("addK8sUIDAttributes".into(), t.chance(50).into());
    }
    if t.chance(30) {
        let attrs: BTreeMap<&str, &str> = t
            .some(
                &[
                    ("team", "platform"),
                    ("k8s.pod.name", "fixed"),
                    ("service.version", "7"),
                ],
                2,
            )
            .into_iter()
            .collect();
        resource.insert("resourceAttributes".into(), json!(attrs));
    }
    if !resource.is_empty() {
        s.insert("resource".into(), resource.into());
    }
    if t.chance(50) {
        s.insert(
            "defaults".into(),
            json!({"useLabelsForResourceAttributes": t.chance(50)}),
        );
    }
    if t.chance(30) {
        s.insert(
            "imagePullPolicy".into(),
            t.pick(&["Always", "IfNotPresent", "Never"]).into(),
        );
    }
    if t.chance(20) {
        s.insert(
            "initContainerSecurityContext".into(),
            json!({"runAsUser": 1000, "runAsNonRoot": true}),
        );
    }
    Value::Object(s)
}

/// Valid settings: a default spec, some whole Instrumentations (unique namespace/name), options.
fn settings(t: &Tape) -> Value {
    let mut s = spec(t);
    let ids = t.some(
        &[
            ("monitor", "python"),
            ("default", "python"),
            ("shop", "python"),
            ("shop", "other"),
            ("monitor", "other"),
        ],
        2,
    );
    if !ids.is_empty() {
        s["instrumentations"] = ids
            .into_iter()
            .map(|(ns, name)| {
                json!({"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
                       "metadata": {"name": name, "namespace": ns}, "spec": spec(t)})
            })
            .collect();
    }
    if t.chance(50) {
        s["failureAction"] = t.pick(&["reject", "admit"]).into();
    }
    if t.chance(50) {
        s["allowCrossNamespaceReferences"] = t.chance(70).into();
    }
    image_options(t, &mut s);
    s
}

/// The options that change what is injected without a registry: the preflight, pull secrets, and
/// the image volume (not with `preflight: disable`, nor with a claim template, which it refuses).
fn image_options(t: &Tape, s: &mut Value) {
    let preflight = t.pick(&["", "", "off", "disable", "fail"]);
    if !preflight.is_empty() {
        s["preflight"] = preflight.into();
    }
    if t.chance(30) {
        s["imagePullSecrets"] = json!(t.some(&["mirror-creds", "regcred", "team-pull"], 2));
    }
    let text = s.to_string();
    let refused = [
        "volumeClaimTemplate",
        "volumeLimitSize",
        "initContainerSecurityContext",
        "resourceRequirements",
    ];
    let copies_only = refused.iter().any(|f| text.contains(f));
    if t.chance(25) && preflight != "disable" && !copies_only {
        s["delivery"] = "imageVolume".into();
    }
}

/// A pod request and valid settings, drawn from one tape.
fn case() -> impl Strategy<Value = (PodInput, Value)> {
    tape().prop_map(|t| {
        let pod = pod_request(&t);
        (pod, settings(&t))
    })
}

// ---- helpers ---------------------------------------------------------------------------------

fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap()
}

fn run(payload: &[u8]) -> Value {
    serde_json::from_slice(&admission::validate(payload).to_json()).unwrap()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn names<'a>(items: &'a [Value], key: &str) -> Vec<&'a str> {
    items
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default())
        .collect()
}

fn unique(names: &[&str]) -> bool {
    let mut seen = HashSet::new();
    names.iter().all(|n| seen.insert(*n))
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

/// `$(NAME)` references in a value (Kubernetes' syntax; `$$(` escapes).
fn references(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("$(") {
        if i > 0 && rest[..i].ends_with('$') {
            rest = &rest[i + 2..];
            continue;
        }
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

fn resource_keys(value: &str) -> Vec<&str> {
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k).trim())
        .collect()
}

// ---- the checks ------------------------------------------------------------------------------

/// Valid output: a Pod, with unique names where Kubernetes requires them.
fn valid_output(original: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    let pod: Result<k8s_openapi::api::core::v1::Pod, _> = serde_json::from_value(mutated.clone());
    ensure!(
        pod.is_ok(),
        "the mutated object is not a Pod: {:?}",
        pod.err()
    );
    let spec = &mutated["spec"];
    let mut all = names(list(spec, "containers"), "name");
    all.extend(names(list(spec, "initContainers"), "name"));
    ensure!(unique(&all), "container names are not unique: {all:?}");
    let volumes = names(list(spec, "volumes"), "name");
    ensure!(unique(&volumes), "volume names are not unique: {volumes:?}");
    for c in list(spec, "containers")
        .iter()
        .chain(list(spec, "initContainers"))
    {
        let env = names(list(c, "env"), "name");
        ensure!(
            unique(&env),
            "env names of {} are not unique: {env:?}",
            c["name"]
        );
        let paths = names(list(c, "volumeMounts"), "mountPath");
        ensure!(
            unique(&paths),
            "mount paths of {} are not unique: {paths:?}",
            c["name"]
        );
        // Every mount the policy added names a volume of the pod.
        let before = list(
            find(original, c["name"].as_str().unwrap()).unwrap_or(&Value::Null),
            "volumeMounts",
        )
        .len();
        for m in list(c, "volumeMounts").iter().skip(before) {
            ensure!(
                volumes.contains(&m["name"].as_str().unwrap_or_default()),
                "mount {m} of {} names no volume",
                c["name"]
            );
        }
    }
    Ok(())
}

fn find<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|l| list(&pod["spec"], l))
        .find(|c| c["name"] == name)
}

/// The documented rewrite of the user's PYTHONPATH / OTEL_RESOURCE_ATTRIBUTES, or verbatim.
fn kept_or_rewritten(orig: &Value, now: &Value) -> Result<(), TestCaseError> {
    if orig == now {
        return Ok(());
    }
    let name = orig["name"].as_str().unwrap_or_default();
    let mut rest_orig = orig.clone();
    let mut rest_now = now.clone();
    rest_orig.as_object_mut().unwrap().remove("value");
    rest_now.as_object_mut().unwrap().remove("value");
    ensure!(
        rest_orig == rest_now,
        "env entry {orig} became {now}: more than its value changed"
    );
    let user = orig["value"].as_str().unwrap_or_default();
    let new = now["value"].as_str().unwrap_or_default();
    match name {
        "PYTHONPATH" => ensure!(
            new == format!("{PYTHONPATH_PREFIX}:{user}:{MOUNT_PATH}"),
            "PYTHONPATH {user:?} became {new:?}, not the documented wrapping"
        ),
        ORA => ensure!(
            orig.get("valueFrom").is_none()
                && new.starts_with(user)
                && (user.is_empty() || user.ends_with(',') || new[user.len()..].starts_with(',')),
            "OTEL_RESOURCE_ATTRIBUTES {user:?} became {new:?}: the user's value is not kept at its head"
        ),
        _ => ensure!(false, "env entry {orig} was changed to {now}"),
    }
    Ok(())
}

/// Nothing lost: the mutated pod only adds to the original, apart from the documented rewrites
/// and the operator's reordering of env entries.
fn nothing_lost(original: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    for (k, v) in original.as_object().unwrap() {
        if k != "spec" && k != "metadata" {
            ensure!(mutated.get(k) == Some(v), "top-level field {k} changed");
        }
    }
    metadata_kept(&original["metadata"], &mutated["metadata"])?;
    let (os, ms) = (&original["spec"], &mutated["spec"]);
    for (k, v) in os.as_object().unwrap() {
        if ![
            "containers",
            "initContainers",
            "volumes",
            "imagePullSecrets",
        ]
        .contains(&k.as_str())
        {
            ensure!(ms.get(k) == Some(v), "spec.{k} changed");
        }
    }
    let (os_, ms_) = (list(os, "imagePullSecrets"), list(ms, "imagePullSecrets"));
    ensure!(
        ms_.len() >= os_.len() && ms_[..os_.len()] == *os_,
        "spec.imagePullSecrets: the user's secrets are not kept in front"
    );
    let (ov, mv) = (list(os, "volumes"), list(ms, "volumes"));
    ensure!(
        mv.len() > ov.len() && mv[..ov.len()] == *ov,
        "spec.volumes: the user's volumes are not kept in front"
    );
    let (oi, mi) = (list(os, "initContainers"), list(ms, "initContainers"));
    // The policy's init containers (the copy, then the preflight's) are inserted together.
    let policy = |c: &Value| {
        c["name"]
            .as_str()
            .is_some_and(|n| n == INIT_CONTAINER_NAME || n.starts_with(PREFLIGHT_CONTAINER_NAME))
    };
    let added: Vec<usize> = (0..mi.len()).filter(|&i| policy(&mi[i])).collect();
    let kept: Vec<&Value> = mi.iter().filter(|c| !policy(c)).collect();
    ensure!(
        kept.len() == oi.len() && added.windows(2).all(|w| w[1] == w[0] + 1),
        "spec.initContainers: the policy's init containers are not added together: {added:?}"
    );
    let (oc, mc) = (list(os, "containers"), list(ms, "containers"));
    ensure!(
        oc.len() == mc.len(),
        "spec.containers: the number of containers changed"
    );
    let pairs = oi.iter().zip(kept.iter().copied()).chain(oc.iter().zip(mc));
    for (o, m) in pairs {
        let cname = &o["name"];
        ensure!(m["name"] == *cname, "container {cname} moved");
        for (k, v) in o.as_object().unwrap() {
            if k != "env" && k != "volumeMounts" {
                ensure!(m.get(k) == Some(v), "container {cname}: field {k} changed");
            }
        }
        let (om, mm) = (list(o, "volumeMounts"), list(m, "volumeMounts"));
        ensure!(
            mm.len() >= om.len() && mm[..om.len()] == *om,
            "container {cname}: the user's mounts are not kept in front"
        );
        let (oe, me) = (list(o, "env"), list(m, "env"));
        if oe == me {
            continue;
        }
        // me = [new OTEL_NODE_IP/OTEL_POD_IP] ++ oe without ORA (PYTHONPATH rewritten) ++ [new] ++ [ORA]
        let user: HashSet<&str> = names(oe, "name").into_iter().collect();
        let lead = me
            .iter()
            .take_while(|e| {
                let n = e["name"].as_str().unwrap_or_default();
                (n == "OTEL_NODE_IP" || n == "OTEL_POD_IP") && !user.contains(n)
            })
            .count();
        let kept: Vec<&Value> = oe.iter().filter(|e| e["name"] != ORA).collect();
        ensure!(
            me.len() >= lead + kept.len(),
            "container {cname}: env entries lost"
        );
        for (o, n) in kept.iter().zip(&me[lead..]) {
            kept_or_rewritten(o, n)
                .map_err(|e| TestCaseError::fail(format!("container {cname}: {e}")))?;
        }
        let last = me.last().unwrap();
        ensure!(last["name"] == ORA, "container {cname}: {ORA} is not last");
        if let Some(o) = oe.iter().find(|e| e["name"] == ORA) {
            kept_or_rewritten(o, last)?;
        }
        for e in &me[lead + kept.len()..me.len() - 1] {
            let n = e["name"].as_str().unwrap_or_default();
            ensure!(
                !user.contains(n),
                "container {cname}: the user's {n} appears a second time"
            );
        }
    }
    Ok(())
}

/// The pod's metadata is kept but for the annotations the policy owns (its record) and the
/// autoscaler's list, which keeps the pod's entries.
fn metadata_kept(original: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    for (k, v) in original.as_object().into_iter().flatten() {
        if k != "annotations" {
            ensure!(mutated.get(k) == Some(v), "metadata.{k} changed");
        }
    }
    let entries = |v: &Value| -> Vec<String> {
        let text = v.as_str().unwrap_or_default();
        let list = text.split(',').map(|e| e.trim().to_string());
        list.filter(|e| !e.is_empty()).collect()
    };
    for (k, v) in original["annotations"].as_object().into_iter().flatten() {
        let now = &mutated["annotations"][k];
        if k.starts_with(RECORD_PREFIX) {
            continue;
        }
        if k == SAFE_TO_EVICT {
            let kept = entries(now);
            ensure!(
                entries(v).iter().all(|e| kept.contains(e)),
                "annotation {k}: {v} lost entries in {now}"
            );
        } else {
            ensure!(now == v, "annotation {k} = {v} became {now}");
        }
    }
    Ok(())
}

/// The user wins: every variable the user set has the user's value (or, for the two documented
/// rewrites, contains it); sampler variables and resource attribute keys are never doubled.
fn user_wins(original: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    for o in list(&original["spec"], "containers")
        .iter()
        .chain(list(&original["spec"], "initContainers"))
    {
        let m = find(mutated, o["name"].as_str().unwrap()).unwrap();
        let (oe, me) = (list(o, "env"), list(m, "env"));
        if oe == me {
            continue;
        }
        let get = |name: &str| me.iter().find(|e| e["name"] == name);
        for e in oe {
            let name = e["name"].as_str().unwrap_or_default();
            let now = get(name).unwrap();
            match name {
                "PYTHONPATH" | ORA => {
                    let user = e["value"].as_str().unwrap_or_default();
                    ensure!(
                        now["value"].as_str().unwrap_or_default().contains(user)
                            || e.get("valueFrom").is_some() && now == e,
                        "{} lost the user's {name}",
                        o["name"]
                    );
                }
                _ => ensure!(
                    now == e,
                    "{}: the user's {name} = {e} became {now}",
                    o["name"]
                ),
            }
        }
        // The settings' sampler is not mixed with the user's (the generated settings' `env` may
        // set OTEL_TRACES_SAMPLER, never its argument).
        let user_sampler = oe
            .iter()
            .any(|e| e["name"] == "OTEL_TRACES_SAMPLER" || e["name"] == "OTEL_TRACES_SAMPLER_ARG");
        if user_sampler {
            let arg = |l: &[Value]| {
                l.iter()
                    .filter(|e| e["name"] == "OTEL_TRACES_SAMPLER_ARG")
                    .count()
            };
            ensure!(
                arg(me) == arg(oe),
                "{}: a sampler argument was added beside the user's sampler",
                o["name"]
            );
        }
        if let Some(ora) = get(ORA).and_then(|e| e["value"].as_str()) {
            let keys = resource_keys(ora);
            let mut seen = HashSet::new();
            for k in &keys {
                ensure!(
                    seen.insert(*k),
                    "{}: resource attribute {k} is set twice in {ora:?}",
                    o["name"]
                );
            }
        }
    }
    Ok(())
}

/// Order: every `$(X)` in a value the policy wrote names a variable defined earlier.
fn references_resolve(original: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    for m in list(&mutated["spec"], "containers")
        .iter()
        .chain(list(&mutated["spec"], "initContainers"))
    {
        // A preflight container carries the app's own PYTHONPATH as written (its references
        // are the user's, resolved in the app container only).
        if m["name"]
            .as_str()
            .unwrap()
            .starts_with(PREFLIGHT_CONTAINER_NAME)
        {
            continue;
        }
        let orig = find(original, m["name"].as_str().unwrap());
        let oe = orig.map(|o| list(o, "env")).unwrap_or_default();
        let me = list(m, "env");
        if oe == me {
            continue;
        }
        for (i, e) in me.iter().enumerate() {
            let value = e["value"].as_str().unwrap_or_default();
            let injected = match oe.iter().find(|o| o["name"] == e["name"]) {
                None => value,
                Some(o) if o == e => continue,
                // A rewrite: only the part after the user's value is the policy's.
                Some(o) => {
                    let user = o["value"].as_str().unwrap_or_default();
                    value
                        .find(user)
                        .map_or(value, |at| &value[at + user.len()..])
                }
            };
            let earlier: HashSet<&str> = names(&me[..i], "name").into_iter().collect();
            for r in references(injected) {
                ensure!(
                    earlier.contains(r),
                    "container {}: {} = {value:?} refers to $({r}), which is not defined before it",
                    m["name"],
                    e["name"]
                );
            }
        }
    }
    Ok(())
}

static MUTATED: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Every property of one generated (pod, valid settings) case.
fn mutation_case(pod: &PodInput, settings: &Value) -> Result<(), TestCaseError> {
    ensure!(
        Settings::parse(settings).is_ok(),
        "generated settings refused: {:?}",
        Settings::parse(settings).err()
    );
    let bytes = payload(&pod.request, settings);
    let first = admission::validate(&bytes);
    let first_bytes = first.to_json();
    let again = admission::validate(&bytes).to_json();
    ensure!(
        first_bytes == again,
        "not deterministic: the same payload gave two answers"
    );
    if !first.accepted {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        ensure!(
            first.message.as_deref().is_some_and(|m| !m.is_empty()),
            "a refusal without a message"
        );
        ensure!(
            first.code == Some(400),
            "a pod refusal with code {:?}",
            first.code
        );
        return Ok(());
    }
    if first.mutated_object.is_none() {
        return Ok(());
    }
    let Some(mutated) = first.mutated() else {
        return Err(TestCaseError::fail(format!(
            "the mutated object is not JSON: {:?}",
            first.mutated_object
        )));
    };
    let original = &pod.request["object"];
    if mutated["metadata"]["annotations"][RECORD_INJECTED] == "false" {
        return not_injected_record(pod, settings, original, mutated);
    }
    MUTATED.fetch_add(1, Ordering::Relaxed);
    valid_output(original, &mutated)?;
    nothing_lost(original, &mutated)?;
    user_wins(original, &mutated)?;
    references_resolve(original, &mutated)?;
    the_record(pod, settings, &mutated)?;
    // Idempotent: the policy applied to its own output changes nothing.
    let mut again = pod.request.clone();
    again["object"] = mutated;
    let second = run(&payload(&again, settings));
    ensure!(
        second["accepted"] == true && second["mutated_object"].is_null(),
        "the second pass changed the pod: {second}"
    );
    Ok(())
}

// ---- the record ------------------------------------------------------------------------------

const RECORD_PREFIX: &str = "otel-python-policy.github.io/";
const RECORD_INJECTED: &str = "otel-python-policy.github.io/injected";
const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";

/// A pod admitted without injection (`failureAction: admit`): its spec untouched, its record says
/// why on one line, and sent again it gets no patch.
fn not_injected_record(
    pod: &PodInput,
    settings: &Value,
    original: &Value,
    mutated: Value,
) -> Result<(), TestCaseError> {
    ensure!(
        original["spec"] == mutated["spec"],
        "the spec of a pod that was not injected changed"
    );
    metadata_kept(&original["metadata"], &mutated["metadata"])?;
    let reason = mutated["metadata"]["annotations"][format!("{RECORD_PREFIX}reason")]
        .as_str()
        .unwrap_or_default();
    ensure!(
        !reason.is_empty() && !reason.contains('\n') && reason.chars().count() <= 513,
        "the recorded reason is not one short line: {reason:?}"
    );
    let mut again = pod.request.clone();
    again["object"] = mutated;
    let second = run(&payload(&again, settings));
    ensure!(
        second["mutated_object"].is_null(),
        "a pod that records why it was not injected is patched again: {second}"
    );
    Ok(())
}

/// An injected pod's record: complete, what the pod carries as written and as stored, passed by
/// the audit role, and stale once its instrumentation's spec changes.
fn the_record(pod: &PodInput, settings: &Value, mutated: &Value) -> Result<(), TestCaseError> {
    let record = &mutated["metadata"]["annotations"];
    let get = |key: &str| {
        record[format!("{RECORD_PREFIX}{key}")]
            .as_str()
            .unwrap_or_default()
    };
    // The packages' image: the init container's, or the image volume's reference.
    let image = match find(mutated, INIT_CONTAINER_NAME) {
        Some(init) => &init["image"],
        None => list(&mutated["spec"], "volumes")
            .iter()
            .find(|v| v["name"] == VOLUME_NAME)
            .map_or(&Value::Null, |v| &v["image"]["reference"]),
    };
    ensure!(
        get("image") == image && !get("image").is_empty(),
        "the recorded image is not the one the pod gets: {image}"
    );
    ensure!(
        !get("version").is_empty() && !get("instrumentation").is_empty(),
        "record: {record}"
    );
    let containers: Vec<String> = get("containers").split(',').map(str::to_string).collect();
    for c in &containers {
        let env = list(find(mutated, c).unwrap(), "env");
        ensure!(
            env.iter().any(|e| e["name"] == "PYTHONPATH"),
            "recorded container {c} was not instrumented"
        );
    }
    for stored in [mutated.clone(), as_stored(mutated)] {
        let secrets: Vec<String> = list(settings, "imagePullSecrets")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        let carried =
            record::carried::hash(&stored.to_string(), &Target::POD, &containers, &secrets);
        ensure!(
            carried.as_deref() == Some(get("hash")),
            "the pod carries {carried:?}, its record says {}: {stored}",
            get("hash")
        );
    }
    let mut audit = pod.request.clone();
    audit["object"] = as_stored(mutated);
    let mut audit_settings = settings.clone();
    audit_settings["audit"] = true.into();
    let answer = run(&payload(&audit, &audit_settings));
    ensure!(
        answer["accepted"] == true,
        "the audit role refuses a pod it injected: {answer}"
    );
    changed_spec(&mut audit_settings, get("instrumentation"));
    let answer = run(&payload(&audit, &audit_settings));
    ensure!(
        answer["accepted"] == false
            && answer["code"] == 400
            && answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(" is stale: instrumentation "),
        "the audit role does not report the pod stale once its spec changed: {answer}"
    );
    Ok(())
}

/// The settings with the spec of the recorded instrumentation changed (its sampler).
fn changed_spec(settings: &mut Value, instrumentation: &str) {
    let sampler = json!({"type": "always_off"});
    if instrumentation == "(default)" {
        settings["sampler"] = sampler;
        return;
    }
    let (ns, name) = instrumentation.split_once('/').unwrap();
    for i in settings["instrumentations"].as_array_mut().unwrap() {
        if i["metadata"]["namespace"] == ns && i["metadata"]["name"] == name {
            i["spec"]["sampler"] = sampler.clone();
        }
    }
}

/// The pod as the API server stores it: its defaults written in (a fieldRef's apiVersion, a
/// container's termination message and pull policy, a volume's mode, requests from limits, a
/// claim's volume mode), quantities in its canonical form, another webhook's variable and mount
/// in every container, a uid and a status.
fn as_stored(pod: &Value) -> Value {
    let mut pod = pod.clone();
    pod["metadata"]["uid"] = "9c1b7a52-1f0e-4d3c-8b2a-0f9e8d7c6b5a".into();
    pod["status"] = json!({"phase": "Running"});
    let spec = &mut pod["spec"];
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            container_defaults(c);
        }
    }
    for v in spec["volumes"].as_array_mut().into_iter().flatten() {
        for source in ["secret", "configMap"] {
            if v[source].is_object() && v[source]["defaultMode"].is_null() {
                v[source]["defaultMode"] = 420.into();
            }
        }
        if let Some(claim) = v.pointer_mut("/ephemeral/volumeClaimTemplate/spec") {
            claim["volumeMode"] = "Filesystem".into();
        }
    }
    let volumes = spec["volumes"].as_array_mut();
    if let Some(volumes) = volumes {
        volumes.push(json!({"name": "tz", "hostPath": {"path": "/etc/localtime"}}));
    }
    pod
}

fn container_defaults(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default();
    let no_image = image.is_empty();
    let tag = image.rsplit('/').next().unwrap_or_default().split_once(':');
    let policy = match tag {
        Some((_, t)) if t != "latest" => "IfNotPresent",
        None if image.contains('@') => "IfNotPresent",
        _ => "Always",
    };
    for (field, value) in [
        ("imagePullPolicy", policy),
        ("terminationMessagePath", "/dev/termination-log"),
        ("terminationMessagePolicy", "File"),
    ] {
        // A container without an image is never stored (the API server refuses the pod).
        if c[field].is_null() && !(field == "imagePullPolicy" && no_image) {
            c[field] = value.into();
        }
    }
    for e in c["env"].as_array_mut().into_iter().flatten() {
        if let Some(r) = e.pointer_mut("/valueFrom/fieldRef")
            && r["apiVersion"].is_null()
        {
            r["apiVersion"] = "v1".into();
        }
    }
    if let Some(limits) = c["resources"]["limits"].as_object().cloned() {
        for (k, v) in limits {
            if c["resources"]["requests"][&k].is_null() {
                c["resources"]["requests"][&k] = v;
            }
        }
    }
    let env = c["env"].as_array_mut();
    match env {
        Some(env) => env.push(json!({"name": "TZ", "value": "UTC"})),
        None => c["env"] = json!([{"name": "TZ", "value": "UTC"}]),
    }
    let mounts = c["volumeMounts"].as_array_mut();
    let tz = json!({"name": "tz", "mountPath": "/etc/localtime", "readOnly": true});
    match mounts {
        Some(mounts) => mounts.push(tz),
        None => c["volumeMounts"] = json!([tz]),
    }
}

#[test]
fn mutations_are_valid_complete_deterministic_and_idempotent() {
    check(case(), |(pod, settings)| mutation_case(&pod, &settings));
    // The generators must reach the interesting paths, not only refusals.
    let (mutated, refused) = (
        MUTATED.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
    );
    let n = cases() as usize;
    eprintln!("{n} cases: {mutated} mutated, {refused} refused, the rest admitted unchanged");
    assert!(
        mutated * 4 >= n,
        "only {mutated} of {n} generated pods were mutated"
    );
    assert!(
        refused * 20 >= n,
        "only {refused} of {n} generated pods were refused"
    );
}

/// JSON text of `v` with every object's members in another order (a rotation, reversed or not,
/// drawn from the tape); lists keep their order.
fn reordered(v: &Value, t: &Tape, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            let turn = t.n(keys.len());
            keys.rotate_left(turn);
            if t.chance(50) {
                keys.reverse();
            }
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                reordered(&m[k], t, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reordered(item, t, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The answer with the mutated object read as a document, so that two texts of one object compare
/// equal.
fn answer_value(payload: &[u8]) -> Value {
    let mut answer = run(payload);
    if let Some(text) = answer["mutated_object"].as_str().map(str::to_string) {
        answer["mutated_object"] = serde_json::from_str(&text).unwrap();
    }
    answer
}

#[test]
fn the_record_is_the_same_whatever_the_key_order_of_the_inputs() {
    let recorded = AtomicUsize::new(0);
    check((case(), tape()), |((pod, settings), t)| {
        let plain = answer_value(&payload(&pod.request, &settings));
        let mut text = String::from(r#"{"request":"#);
        reordered(&pod.request, &t, &mut text);
        text.push_str(r#","settings":"#);
        reordered(&settings, &t, &mut text);
        text.push('}');
        let shuffled = answer_value(text.as_bytes());
        if plain["mutated_object"]["metadata"]["annotations"][RECORD_INJECTED] == "true" {
            recorded.fetch_add(1, Ordering::Relaxed);
        }
        ensure!(
            plain == shuffled,
            "another key order, another answer:\n{plain}\n{shuffled}"
        );
        Ok(())
    });
    let n = cases() as usize;
    assert!(
        recorded.load(Ordering::Relaxed) * 4 >= n,
        "too few pods were injected"
    );
}

// ---- cluster mode ----------------------------------------------------------------------------

/// The case in cluster mode: the settings' instrumentations moved into a cluster, beside the
/// namespaces and the ReplicaSets the pod's owners name (each controlled by the Deployment the
/// Deployment controller's naming gives, as in a real cluster).
fn in_cluster(pod: &PodInput, settings: &Value) -> (Value, common::Fake) {
    let mut settings = settings.clone();
    let mut objects: Vec<Value> = settings
        .as_object_mut()
        .and_then(|s| s.remove("instrumentations"))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    settings["instrumentationSource"] = "cluster".into();
    for ns in NAMESPACES {
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    let meta = &pod.request["object"]["metadata"];
    let hash = meta["labels"]["pod-template-hash"].as_str().unwrap_or("");
    for owner in list(meta, "ownerReferences") {
        if owner["kind"] != "ReplicaSet" {
            continue;
        }
        let name = owner["name"].as_str().unwrap_or("");
        let owners: Vec<Value> =
            otel_python_policy::inject::resource_attributes::deployment_of(name, hash)
                .map(|d| json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": d, "uid": "", "controller": true}))
                .into_iter()
                .collect();
        objects.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": pod.request["namespace"], "ownerReferences": owners}}));
    }
    let cluster = common::Fake {
        objects,
        ..Default::default()
    };
    (settings, cluster)
}

/// An answer with the source's name written the same way in both modes, and the references
/// that would work in one order (the cluster's are sorted, the settings' in their order), wherever
/// the answer says them (the message, a warning, the record's reason).
fn same_source(answer: &Value) -> String {
    let text = answer.to_string().replace(
        "the cluster's Instrumentation resources",
        "the policy settings",
    );
    const START: &str = "References that would work: ";
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(START).map(|i| i + START.len()) {
        let end = rest[at..].find("; or").map_or(rest.len(), |i| at + i);
        let mut refs: Vec<&str> = rest[at..end].split(", ").collect();
        refs.sort();
        out.push_str(&rest[..at]);
        out.push_str(&refs.join(", "));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn cluster_mode_answers_as_settings_mode() {
    check(case(), |(pod, settings)| {
        let (cluster_settings, cluster) = in_cluster(&pod, &settings);
        let from_settings = run(&payload(&pod.request, &settings));
        let bytes = payload(&pod.request, &cluster_settings);
        let from_cluster: Value = serde_json::from_slice(
            &admission::validate_with(&bytes, Hosts::cluster(&cluster)).to_json(),
        )
        .unwrap();
        if from_settings.to_string().contains("is ambiguous") {
            // The cluster's names are listed sorted, the settings' in their order.
            ensure!(
                from_cluster.to_string().contains("is ambiguous"),
                "cluster mode: {from_cluster}"
            );
            return Ok(());
        }
        ensure!(
            same_source(&from_cluster) == same_source(&from_settings),
            "cluster mode: {from_cluster}\nsettings mode: {from_settings}"
        );
        Ok(())
    });
}

// ---- workloads -------------------------------------------------------------------------------

/// The workload kinds, the pointer to their pod template, and the owner their pods get.
const WORKLOADS: [(&str, &str, &str, &str); 7] = [
    ("apps", "Deployment", "/spec/template", "ReplicaSet"),
    ("apps", "StatefulSet", "/spec/template", "StatefulSet"),
    ("apps", "DaemonSet", "/spec/template", "DaemonSet"),
    ("apps", "ReplicaSet", "/spec/template", "ReplicaSet"),
    ("batch", "Job", "/spec/template", "Job"),
    ("batch", "CronJob", "/spec/jobTemplate/spec/template", "Job"),
    (
        "",
        "ReplicationController",
        "/spec/template",
        "ReplicationController",
    ),
];

/// A generated pod's metadata and spec as a pod template (no name, namespace or owners).
fn as_template(pod: &Value) -> Value {
    let mut meta = pod["metadata"].clone();
    if let Some(m) = meta.as_object_mut() {
        for key in ["name", "generateName", "namespace", "ownerReferences"] {
            m.remove(key);
        }
    }
    json!({"metadata": meta, "spec": pod["spec"]})
}

/// `kind` named `web` holding `template`, and the pod its controller creates from it.
fn workload_and_its_pod(pod: &PodInput, which: usize) -> (Value, Value) {
    let (group, kind, at, owner) = WORKLOADS[which % WORKLOADS.len()];
    let template = as_template(&pod.request["object"]);
    let mut object = json!({"apiVersion": if group.is_empty() { "v1".to_string() } else { format!("{group}/v1") },
        "kind": kind, "metadata": {"name": "web"}});
    if let Some(ns) = pod.request["object"]["metadata"].get("namespace") {
        object["metadata"]["namespace"] = ns.clone();
    }
    let mut spec = json!({});
    let mut slot = &mut spec;
    for part in at.trim_start_matches("/spec/").split('/') {
        slot = &mut slot[part];
    }
    *slot = template.clone();
    object["spec"] = spec;
    let mut workload = pod.request.clone();
    workload["kind"] = json!({"group": group, "version": "v1", "kind": kind});
    workload["operation"] = if which.is_multiple_of(2) {
        "CREATE"
    } else {
        "UPDATE"
    }
    .into();
    workload["object"] = object;
    let mut created = pod.request.clone();
    let mut meta = template["metadata"].clone();
    meta["generateName"] = "web-".into();
    meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": owner, "name": "web", "uid": "6b1c", "controller": true}]);
    if let Some(ns) = pod.request["object"]["metadata"].get("namespace") {
        meta["namespace"] = ns.clone();
    }
    created["object"]["metadata"] = meta;
    (workload, created)
}

/// The reason of a refusal without who it is about (a pod, or a workload's template).
fn reason(message: &str) -> String {
    if let Some(i) = message.find(" cannot be honoured: ") {
        return message[i..].to_string();
    }
    if message.contains(" OpenTelemetry Python instrumentation (")
        && let Some(i) = message.find(", but ")
    {
        return message[i..].to_string();
    }
    if let Some(rest) = message.strip_prefix("request.object is not a valid ") {
        let at = rest.find(": at ").map_or(rest, |i| &rest[i..]);
        return at
            .replacen(": at spec.jobTemplate.spec.template.", ": at ", 1)
            .replacen(": at spec.template.", ": at ", 1);
    }
    message.to_string()
}

fn workload_case(pod: &PodInput, settings: &Value, which: usize) -> Result<(), TestCaseError> {
    let (workload, created) = workload_and_its_pod(pod, which);
    let w = run(&payload(&workload, settings));
    let p = run(&payload(&created, settings));
    let kind = &workload["kind"]["kind"];
    ensure!(
        w["mutated_object"].is_null(),
        "{kind}: a workload response carries a patch"
    );
    ensure!(
        w["accepted"] == p["accepted"],
        "{kind}: accepted {} but its pod {}:\n  workload: {w}\n  pod:      {p}",
        w["accepted"],
        p["accepted"]
    );
    let warnings = |v: &Value| -> Vec<String> {
        list(v, "warnings")
            .iter()
            .map(|w| w.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let previewed = warnings(&w)
        .iter()
        .any(|x| x.contains(": pods will get OpenTelemetry"));
    let injected = p["mutated_object"]["metadata"]["annotations"][RECORD_INJECTED] == "true";
    ensure!(
        previewed == injected,
        "{kind}: previewed {previewed} but the pod mutated {injected}:\n  workload: {w}\n  pod:      {p}"
    );
    if p["accepted"] == false {
        let (wm, pm) = (
            w["message"].as_str().unwrap_or_default(),
            p["message"].as_str().unwrap_or_default(),
        );
        ensure!(
            reason(wm) == reason(pm) && w["code"] == p["code"],
            "{kind}: refused for another reason:\n  workload: {wm}\n  pod:      {pm}"
        );
    }
    let not_injected = |v: &Value| {
        warnings(v)
            .iter()
            .find(|x| x.starts_with("no instrumentation injected: ") || x.contains("(failureAction: admit)"))
            .map(|x| reason(x.trim_start_matches("no instrumentation injected: ").trim_end_matches(
                "; admitted anyway (failureAction: admit), so its pods will start without instrumentation",
            )))
    };
    ensure!(
        not_injected(&w) == not_injected(&p),
        "{kind}: admitted for another reason:\n  workload: {w}\n  pod:      {p}"
    );
    Ok(())
}

/// For every generated pod template in a workload (each kind in turn, CREATE and UPDATE): the
/// workload gets the verdict of the pod its controller creates from that template (the same
/// refusal reason; accepted when the pod is; previewed exactly when the pod is injected), and
/// its response never carries a patch.
#[test]
fn a_workload_gets_the_verdict_of_the_pods_it_creates() {
    let counter = AtomicUsize::new(0);
    check(case(), |(pod, settings)| {
        workload_case(&pod, &settings, counter.fetch_add(1, Ordering::Relaxed))
    });
}

// ---- settings --------------------------------------------------------------------------------

/// A single bad value put into valid settings, and the field path the refusal must name.
const CORRUPTIONS: [(&str, &str, &str); 12] = [
    ("/sampler", r#"{"type": "bogus"}"#, "sampler.type"),
    (
        "/sampler",
        r#"{"type": "traceidratio", "argument": "2"}"#,
        "sampler.argument",
    ),
    (
        "/exporter",
        r#"{"endpoint": "ftp://collector:4318"}"#,
        "exporter.endpoint",
    ),
    (
        "/propagators",
        r#"["tracecontext", "zipkin"]"#,
        "propagators[1]",
    ),
    ("/imagePullPolicy", r#""Sometimes""#, "imagePullPolicy"),
    ("/python", r#"{"image": "UPPER/Case"}"#, "python.image"),
    (
        "/python",
        r#"{"volumeLimitSize": "-1Gi"}"#,
        "python.volumeLimitSize",
    ),
    ("/env", r#"[{"name": "1BAD", "value": "x"}]"#, "env[0].name"),
    (
        "/resource",
        r#"{"resourceAttributes": {"a=b": "c"}}"#,
        "resource.resourceAttributes",
    ),
    ("/failureAction", r#""ignore""#, "failureAction"),
    (
        "/allowCrossNamespaceReferences",
        r#""yes""#,
        "allowCrossNamespaceReferences",
    ),
    ("/samplr", r#"{}"#, "unknown field `samplr`"),
];

#[test]
fn generated_settings_are_accepted_and_one_bad_value_is_named() {
    check(
        (
            tape().prop_map(|t| settings(&t)),
            proptest::sample::select(&CORRUPTIONS[..]),
            0usize..4,
        ),
        |(settings, (pointer, bad, field), place)| {
            let answer = admission::validate_settings(&serde_json::to_vec(&settings).unwrap());
            ensure!(
                answer.valid,
                "valid settings refused: {:?}\n{settings}",
                answer.message
            );
            // Put the bad value at the top level or into one of the instrumentations' specs.
            let mut broken = settings.clone();
            let items = broken["instrumentations"].as_array().map_or(0, Vec::len);
            let (target, prefix) = if place < items
                && !["/failureAction", "/allowCrossNamespaceReferences"].contains(&pointer)
            {
                (
                    &mut broken["instrumentations"][place]["spec"],
                    format!("instrumentations[{place}].spec."),
                )
            } else {
                (&mut broken, String::new())
            };
            target[&pointer[1..]] = serde_json::from_str(bad).unwrap();
            let answer = admission::validate_settings(&serde_json::to_vec(&broken).unwrap());
            let message = answer.message.unwrap_or_default();
            ensure!(!answer.valid, "{pointer} = {bad} accepted");
            // An unknown field is named after the path of the object that has it.
            let named = if field.starts_with("unknown field") {
                format!("{}: {field}", prefix.trim_end_matches('.'))
            } else {
                format!("{prefix}{field}")
            };
            let named = named.trim_start_matches(": ");
            ensure!(
                message.contains(named),
                "the refusal of {pointer} = {bad} does not name {named}: {message}"
            );
            ensure!(
                ["use", "expected", "must", "for example"]
                    .iter()
                    .any(|w| message.contains(w)),
                "the refusal does not say what is accepted: {message}"
            );
            // The same settings met at evaluation (a policy-server that skipped validate_settings).
            // `validate` reads only what the pod needs: when the bad value is there (the options,
            // or the spec the pod's `true` resolves to), the pod is refused with 500 and the same
            // reason; elsewhere, the pod gets what the valid settings give it.
            let mut request = json!({
                "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "default",
                "object": {"metadata": {"name": "p", "annotations": {INJECT: "true"}}, "spec": {"containers": [{"name": "app"}]}}
            });
            let answer = admission::validate(&payload(&request, &broken));
            let refused_alike = !answer.accepted
                && answer.code == Some(500)
                && answer.message.as_deref().is_some_and(|m| {
                    m.starts_with("the policy settings are invalid") && m.ends_with(&message)
                });
            let in_default: Vec<usize> = (0..items)
                .filter(|&i| settings["instrumentations"][i]["metadata"]["namespace"] == "default")
                .collect();
            let used = prefix.is_empty()
                && (pointer.starts_with("/failureAction")
                    || pointer.starts_with("/allowCrossNamespaceReferences")
                    || in_default.is_empty())
                || in_default == [place];
            let unbroken = admission::validate(&payload(&request, &settings));
            ensure!(
                refused_alike || !used && answer.to_json() == unbroken.to_json(),
                "invalid settings at evaluation ({pointer} = {bad} at {prefix:?}, read by the pod: {used}): {:?} {:?}",
                answer.code,
                answer.message
            );
            request["object"]["metadata"]["annotations"][INJECT] = "false".into();
            let answer = admission::validate(&payload(&request, &broken));
            ensure!(
                answer.accepted && answer.mutated_object.is_none(),
                "a pod that asks for nothing was not admitted untouched"
            );
            Ok(())
        },
    );
}

// ---- never panics ----------------------------------------------------------------------------

/// Odd JSON to put anywhere in a request.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(u64::MAX)),
        Just(json!(true)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null, 1, "x"])),
        Just(json!({"name": null, "value": 5})),
        "\\PC{0,8}".prop_map(Value::from),
        Just(Value::from("é".repeat(70))),
    ]
}

/// Replaces the value at a random place of `v` (chosen by `path`) with `new`.
fn replace_at(v: &mut Value, path: &[usize], new: Value) {
    let Some((&step, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(step % m.len()).unwrap().clone();
            replace_at(m.get_mut(&key).unwrap(), rest, new);
        }
        Value::Array(a) if !a.is_empty() => {
            let i = step % a.len();
            replace_at(&mut a[i], rest, new);
        }
        _ => *v = new,
    }
}

#[test]
fn never_panics_on_damaged_requests() {
    check(
        (
            case(),
            proptest::collection::vec(
                (proptest::collection::vec(any::<usize>(), 1..8), odd_value()),
                1..4,
            ),
            any::<Option<prop::sample::Index>>(),
        ),
        |((pod, settings), damage, cut)| {
            let mut whole = json!({"request": pod.request, "settings": settings});
            for (path, new) in damage {
                replace_at(&mut whole, &path, new);
            }
            let mut bytes = serde_json::to_vec(&whole).unwrap();
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            let answer = admission::validate(&bytes);
            ensure!(
                answer.accepted || answer.message.as_deref().is_some_and(|m| !m.is_empty()),
                "a refusal without a message"
            );
            ensure!(
                serde_json::from_slice::<Value>(&answer.to_json()).is_ok(),
                "the answer is not JSON"
            );
            let answer =
                admission::validate_settings(&serde_json::to_vec(&whole["settings"]).unwrap());
            ensure!(
                answer.valid || answer.message.is_some(),
                "a settings refusal without a message"
            );
            Ok(())
        },
    );
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    check(proptest::collection::vec(any::<u8>(), 0..256), |bytes| {
        let answer = admission::validate(&bytes);
        ensure!(
            !answer.accepted || answer.mutated_object.is_none(),
            "garbage was mutated"
        );
        admission::validate_settings(&bytes);
        Ok(())
    });
}

// ---- regressions -----------------------------------------------------------------------------

/// Payloads that once broke a property or crashed a fuzzer (`fuzz/regressions/validate/*.json`,
/// written by the structured fuzz target with FUZZ_DUMP_PAYLOAD): they must now be answered and,
/// when mutated, satisfy every property above.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut count = 0;
    for target in ["validate", "validate_bytes", "validate_settings"] {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            count += 1;
            let bytes = std::fs::read(&path).unwrap();
            if target == "validate_settings" {
                admission::validate_settings(&bytes);
                continue;
            }
            let answer = admission::validate(&bytes);
            let Ok(whole) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if let Some(mutated) = &answer.mutated() {
                let original = &whole["request"]["object"];
                let result = valid_output(original, mutated)
                    .and_then(|_| nothing_lost(original, mutated))
                    .and_then(|_| user_wins(original, mutated))
                    .and_then(|_| references_resolve(original, mutated));
                assert!(result.is_ok(), "{}: {result:?}", path.display());
                let mut again = whole["request"].clone();
                again["object"] = mutated.clone();
                let second = run(&payload(&again, &whole["settings"]));
                assert!(
                    second["mutated_object"].is_null(),
                    "{}: second pass mutates",
                    path.display()
                );
            }
        }
    }
    assert!(
        count >= 1,
        "no fuzz regressions found under {}",
        dir.display()
    );
}

/// The first fuzz finding, as a readable case: a regular container may not take the init
/// container's name (init and regular containers share one name space).
#[test]
fn a_container_named_like_the_init_container_is_refused_with_its_name() {
    let request = json!({
        "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "default",
        "object": {"metadata": {"name": "p", "annotations": {INJECT: "true"}},
                   "spec": {"containers": [{"name": INIT_CONTAINER_NAME, "image": "python:3.12"}]}}
    });
    let settings = json!({"exporter": {"endpoint": "http://collector:4318"}});
    let answer = run(&payload(&request, &settings));
    assert_eq!(answer["accepted"], false);
    assert_eq!(
        answer["message"],
        format!(
            "pod p asked for OpenTelemetry Python instrumentation (the policy settings' default instrumentation), but the pod already has a container named {INIT_CONTAINER_NAME:?}, the name of the instrumentation's init container; rename that container"
        )
    );
}

/// Found by the properties: a user's mount at the path where the exporter's TLS Secret goes was
/// duplicated (an invalid pod). The pod is refused, naming the mount.
#[test]
fn a_mount_at_the_tls_secret_path_is_refused_with_its_name() {
    let request = json!({
        "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "default",
        "object": {"metadata": {"name": "p", "annotations": {INJECT: "true"}},
                   "spec": {"containers": [{"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/otel-auto-instrumentation-secret-certs"}]}],
                            "volumes": [{"name": "data", "emptyDir": {}}]}}
    });
    let settings = json!({"exporter": {"endpoint": "https://c:4318", "tls": {"secretName": "certs", "ca_file": "ca.crt"}}});
    let answer = run(&payload(&request, &settings));
    assert_eq!(answer["accepted"], false);
    assert_eq!(
        answer["message"],
        "pod p asked for OpenTelemetry Python instrumentation (the policy settings' default instrumentation), but container \"app\" already mounts \"data\" at \"/otel-auto-instrumentation-secret-certs\", where the instrumentation mounts the exporter's TLS volume \"otel-auto-secret-certs\"; remove that mount"
    );
    // The same mount under the policy's own volume name is the user's doing it already: kept, not doubled.
    let mut same = request.clone();
    same["object"]["spec"]["containers"][0]["volumeMounts"][0]["name"] =
        "otel-auto-secret-certs".into();
    same["object"]["spec"]["volumes"][0]["name"] = "otel-auto-secret-certs".into();
    let answer = run(&payload(&same, &settings));
    assert_eq!(answer["accepted"], true, "{answer}");
    let mounts = &answer["mutated_object"]["spec"]["containers"][0]["volumeMounts"];
    assert_eq!(mounts.as_array().unwrap().len(), 2, "{mounts}");
}

// ---- limits ----------------------------------------------------------------------------------

/// A pod with `containers` containers of `env` variables each, all named by the annotation.
fn big_pod(containers: usize, env: usize) -> Value {
    let names: Vec<String> = (0..containers).map(|i| format!("c{i}")).collect();
    let list: Vec<Value> = names
        .iter()
        .map(|n| {
            let env: Vec<Value> = (0..env)
                .map(|j| json!({"name": format!("VAR_{j}"), "value": format!("value-{n}-{j}")}))
                .collect();
            json!({"name": n, "image": "python:3.12", "env": env, "volumeMounts": [{"name": "data", "mountPath": "/data"}]})
        })
        .collect();
    json!({
        "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "default",
        "object": {"metadata": {"name": "big", "annotations": {INJECT: "true", CONTAINER_NAMES: names.join(",")}},
                   "spec": {"containers": list, "volumes": [{"name": "data", "emptyDir": {}}]}}
    })
}

#[test]
fn a_pod_with_200_containers_and_2000_env_vars_is_handled() {
    let request = big_pod(200, 10);
    let settings =
        json!({"exporter": {"endpoint": "http://c:4318"}, "propagators": ["tracecontext"]});
    let answer = admission::validate(&payload(&request, &settings));
    assert!(answer.accepted, "{:?}", answer.message);
    let mutated = answer.mutated().expect("the big pod is mutated");
    let original = &request["object"];
    for check in [valid_output, nothing_lost, user_wins, references_resolve] {
        check(original, &mutated).unwrap();
    }
    let containers = mutated["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 200);
    for c in containers {
        let env = c["env"].as_array().unwrap();
        assert!(
            env.iter().any(|e| e["name"] == "PYTHONPATH"),
            "{} not instrumented",
            c["name"]
        );
        assert_eq!(
            env.iter()
                .filter(|e| e["name"].as_str().unwrap().starts_with("VAR_"))
                .count(),
            10
        );
    }
    let mut again = request.clone();
    again["object"] = mutated;
    assert!(run(&payload(&again, &settings))["mutated_object"].is_null());
}

/// Settings with `n` instrumentations spread over 50 namespaces.
fn many_instrumentations(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| {
            json!({"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
                   "metadata": {"name": format!("python-{i}"), "namespace": format!("team-{}", i % 50)},
                   "spec": {"exporter": {"endpoint": format!("http://collector-{i}.monitor.svc:4318")},
                            "sampler": {"type": "parentbased_traceidratio", "argument": "0.5"},
                            "env": [{"name": "TEAM", "value": format!("{i}")}]}})
        })
        .collect();
    json!({"instrumentations": list})
}

#[test]
fn settings_with_1000_instrumentations_validate_and_resolve() {
    let settings = many_instrumentations(1000);
    let answer = admission::validate_settings(&serde_json::to_vec(&settings).unwrap());
    assert!(answer.valid, "{:?}", answer.message);
    // The last one is found by reference, and its spec is the one injected.
    let mut request = big_pod(1, 1);
    request["namespace"] = "team-49".into();
    request["object"]["metadata"]["annotations"][INJECT] = "team-49/python-999".into();
    let answer = run(&payload(&request, &settings));
    let env = &answer["mutated_object"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "TEAM" && e["value"] == "999"),
        "{answer}"
    );
    // A duplicate among the thousand is still found and named.
    let mut dup = settings.clone();
    dup["instrumentations"][999]["metadata"] = json!({"name": "python-0", "namespace": "team-0"});
    let answer = admission::validate_settings(&serde_json::to_vec(&dup).unwrap());
    assert_eq!(
        answer.message.as_deref(),
        Some(
            "instrumentations[999]: team-0/python-0 is defined twice; each namespace/name may appear once"
        )
    );
}
