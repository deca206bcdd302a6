//! `validate` with structure-aware requests: arbitrary pods and settings built from the shapes the
//! policy reads (names drawn mostly from small pools so that references, container names and env
//! names collide, sometimes arbitrary text), serialized to the payload JSON the host sends.
//! Beyond "no panic" it checks what must hold for every mutation: the policy applied to its own
//! output changes nothing, the same bytes give the same answer, and names stay unique.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// A string: mostly one of a pool of meaningful values, sometimes arbitrary.
#[derive(Arbitrary, Debug)]
enum Text {
    Pool(u8),
    Raw(String),
}

impl Text {
    fn pick(&self, pool: &[&str]) -> String {
        match self {
            Text::Pool(i) => pool[*i as usize % pool.len()].to_string(),
            Text::Raw(s) => s.clone(),
        }
    }
}

const CONTAINERS: &[&str] = &[
    "app",
    "web",
    "worker",
    "migrate",
    "otc-container",
    "opentelemetry-auto-instrumentation-python",
    "",
];
const ENV_NAMES: &[&str] = &[
    "PYTHONPATH",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    "OTEL_NODE_IP",
    "OTEL_POD_IP",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
    "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "FOO",
];
const ENV_VALUES: &[&str] = &[
    "",
    "x",
    "$(OTEL_POD_IP)",
    "k8s.pod.name=p,service.version=1",
    ",",
    "/app:/lib",
    "a=b=",
];
const INJECT: &[&str] = &[
    "true",
    "false",
    "",
    "python",
    "monitor/python",
    "default/python",
    "a/b/c",
    "/",
    "monitor/",
    "TRUE",
    "Bad_Name",
];
const NAMESPACES: &[&str] = &["default", "monitor", "shop", ""];
const VOLUMES: &[&str] = &[
    "data",
    "opentelemetry-auto-instrumentation-python",
    "otel-auto-secret-certs",
    "cfg",
];
const PATHS: &[&str] = &[
    "/data",
    "/otel-auto-instrumentation-python",
    "/otel-auto-instrumentation-secret-certs",
    "/etc/cfg",
];
const KINDS: &[&str] = &[
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Node",
];
const PLATFORMS: &[&str] = &["glibc", "musl", "MUSL", ""];
const NAMES_LISTS: &[&str] = &[
    "app",
    "web,worker",
    "migrate",
    "app,app",
    ",",
    "app;x",
    "nope",
];
const ENDPOINTS: &[&str] = &[
    "http://c:4318",
    "https://c.monitor.svc:4318/v1",
    "ftp://x",
    "http://[::1]:99999",
    "",
];
const SAMPLERS: &[&str] = &[
    "traceidratio",
    "parentbased_traceidratio",
    "jaeger_remote",
    "always_on",
    "bogus",
];
const SAMPLER_ARGS: &[&str] = &[
    "0.5",
    "1.5",
    "endpoint=http://j:14250,pollingIntervalMs=5000,initialSamplingRate=0.25",
    "x",
    "",
];
const QUANTITIES: &[&str] = &["500m", "256Mi", "1e3", "-1", "1.2.3", "Mi", "1e999"];

#[derive(Arbitrary, Debug)]
enum EnvSource {
    Value(Text),
    FieldRef(Text),
    SecretKey,
    Nothing,
}

#[derive(Arbitrary, Debug)]
struct Env {
    name: Text,
    source: EnvSource,
}

#[derive(Arbitrary, Debug)]
struct Mount {
    name: Text,
    path: Text,
}

#[derive(Arbitrary, Debug)]
struct Container {
    name: Text,
    image: Option<Text>,
    env: Option<Vec<Env>>,
    mounts: Option<Vec<Mount>>,
    extra: Option<Text>,
}

#[derive(Arbitrary, Debug)]
struct Pod {
    name: Option<Text>,
    namespace: Option<Text>,
    inject: Option<Text>,
    container_names: Option<Text>,
    python_container_names: Option<Text>,
    platform: Option<Text>,
    service_name_annotation: Option<Text>,
    labels: Vec<(Text, Text)>,
    owner: Option<(Text, Text)>,
    containers: Vec<Container>,
    init_containers: Option<Vec<Container>>,
    volumes: Option<Vec<Text>>,
    run_as_user: Option<i64>,
    node_name: Option<Text>,
}

/// secretName, configMapName, ca_file, cert_file, key_file.
type Tls = (
    Option<Text>,
    Option<Text>,
    Option<Text>,
    Option<Text>,
    Option<Text>,
);

#[derive(Arbitrary, Debug)]
struct Spec {
    endpoint: Option<Text>,
    tls: Option<Tls>,
    propagators: Option<Vec<Text>>,
    sampler: Option<(Option<Text>, Option<Text>)>,
    env: Option<Vec<Env>>,
    attributes: Option<Vec<(Text, Text)>>,
    uid_attributes: Option<bool>,
    use_labels: Option<bool>,
    pull_policy: Option<Text>,
    image: Option<Text>,
    python_env: Option<Vec<Env>>,
    limits: Option<(Text, Text)>,
    requests: Option<(Text, Text)>,
    volume_limit: Option<Text>,
    claim: bool,
}

#[derive(Arbitrary, Debug)]
struct Named {
    name: Text,
    namespace: Text,
    spec: Spec,
}

#[derive(Arbitrary, Debug)]
struct Settings {
    default: Spec,
    instrumentations: Option<Vec<Named>>,
    admit: Option<bool>,
    cross_namespace: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Option<Text>,
    operation: Option<Text>,
    namespace: Option<Text>,
    sub_resource: bool,
    object_kind: Option<Text>,
    pod: Option<Pod>,
    settings: Settings,
}

fn env_json(e: &Env) -> Value {
    let name = e.name.pick(ENV_NAMES);
    match &e.source {
        EnvSource::Value(v) => json!({"name": name, "value": v.pick(ENV_VALUES)}),
        EnvSource::FieldRef(p) => {
            json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": p.pick(&["metadata.name", "status.podIP"])}}})
        }
        EnvSource::SecretKey => {
            json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
        }
        EnvSource::Nothing => json!({"name": name}),
    }
}

fn container_json(c: &Container) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), c.name.pick(CONTAINERS).into());
    if let Some(i) = &c.image {
        o.insert(
            "image".into(),
            i.pick(&[
                "python:3.12",
                "r.io/a/b:1.0@sha256:0123456789abcdef0123456789abcdef",
                "x",
            ])
            .into(),
        );
    }
    if let Some(env) = &c.env {
        o.insert("env".into(), env.iter().map(env_json).collect());
    }
    if let Some(m) = &c.mounts {
        let list: Vec<Value> = m
            .iter()
            .map(|m| json!({"name": m.name.pick(VOLUMES), "mountPath": m.path.pick(PATHS)}))
            .collect();
        o.insert("volumeMounts".into(), list.into());
    }
    if let Some(x) = &c.extra {
        o.insert(
            "ports".into(),
            json!([{"containerPort": 8080, "name": x.pick(&["http"])}]),
        );
    }
    Value::Object(o)
}

fn pod_json(p: &Pod, kind: Option<&Text>) -> Value {
    let mut ann = Map::new();
    let mut put = |k: &str, v: &Option<Text>, pool: &[&str]| {
        if let Some(v) = v {
            ann.insert(k.into(), v.pick(pool).into());
        }
    };
    put(
        "instrumentation.opentelemetry.io/inject-python",
        &p.inject,
        INJECT,
    );
    put(
        "instrumentation.opentelemetry.io/container-names",
        &p.container_names,
        NAMES_LISTS,
    );
    put(
        "instrumentation.opentelemetry.io/python-container-names",
        &p.python_container_names,
        NAMES_LISTS,
    );
    put(
        "instrumentation.opentelemetry.io/otel-python-platform",
        &p.platform,
        PLATFORMS,
    );
    put(
        "resource.opentelemetry.io/service.name",
        &p.service_name_annotation,
        &["svc", ""],
    );
    let labels: Map<String, Value> = p
        .labels
        .iter()
        .map(|(k, v)| {
            (
                k.pick(&[
                    "app.kubernetes.io/name",
                    "app.kubernetes.io/instance",
                    "app.kubernetes.io/version",
                    "pod-template-hash",
                ]),
                v.pick(&["shop", "1.2.3", "7d9c8b6f5d", ""]).into(),
            )
        })
        .collect();
    let mut meta = json!({"annotations": ann, "labels": labels});
    if let Some(n) = &p.name {
        meta["name"] = n.pick(&["web-7d9c8b6f5d-abcde", "p", ""]).into();
    }
    if let Some(n) = &p.namespace {
        meta["namespace"] = n.pick(NAMESPACES).into();
    }
    if let Some((k, n)) = &p.owner {
        meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": k.pick(KINDS), "name": n.pick(&["web-7d9c8b6f5d", "web", ""]), "uid": "u", "controller": true}]);
    }
    let mut spec =
        json!({"containers": p.containers.iter().map(container_json).collect::<Vec<_>>()});
    if let Some(i) = &p.init_containers {
        spec["initContainers"] = i.iter().map(container_json).collect();
    }
    if let Some(v) = &p.volumes {
        spec["volumes"] = v
            .iter()
            .map(|v| json!({"name": v.pick(VOLUMES), "emptyDir": {}}))
            .collect();
    }
    if let Some(u) = p.run_as_user {
        spec["securityContext"] = json!({"runAsUser": u});
    }
    if let Some(n) = &p.node_name {
        spec["nodeName"] = n.pick(&["node-1"]).into();
    }
    let mut pod = json!({"apiVersion": "v1", "metadata": meta, "spec": spec});
    if let Some(k) = kind {
        pod["kind"] = k.pick(&["Pod", "Deployment"]).into();
    }
    pod
}

fn spec_json(s: &Spec) -> Value {
    let mut o = Map::new();
    let mut exporter = Map::new();
    if let Some(e) = &s.endpoint {
        exporter.insert("endpoint".into(), e.pick(ENDPOINTS).into());
    }
    if let Some((secret, cm, ca, cert, key)) = &s.tls {
        let mut tls = Map::new();
        let f = |t: &Option<Text>, pool: &[&str]| t.as_ref().map(|t| Value::from(t.pick(pool)));
        for (k, v) in [
            ("secretName", f(secret, &["certs", "Bad.Name", ""])),
            ("configMapName", f(cm, &["ca", ""])),
            ("ca_file", f(ca, &["ca.crt", "/etc/ca.crt", ""])),
            ("cert_file", f(cert, &["tls.crt", ""])),
            ("key_file", f(key, &["tls.key", ""])),
        ] {
            if let Some(v) = v {
                tls.insert(k.into(), v);
            }
        }
        exporter.insert("tls".into(), tls.into());
    }
    if !exporter.is_empty() {
        o.insert("exporter".into(), exporter.into());
    }
    if let Some(p) = &s.propagators {
        o.insert(
            "propagators".into(),
            p.iter()
                .map(|p| p.pick(&["tracecontext", "baggage", "b3", "none", "bogus"]))
                .collect(),
        );
    }
    if let Some((t, a)) = &s.sampler {
        let mut m = Map::new();
        if let Some(t) = t {
            m.insert("type".into(), t.pick(SAMPLERS).into());
        }
        if let Some(a) = a {
            m.insert("argument".into(), a.pick(SAMPLER_ARGS).into());
        }
        o.insert("sampler".into(), m.into());
    }
    if let Some(e) = &s.env {
        o.insert("env".into(), e.iter().map(env_json).collect());
    }
    let mut resource = Map::new();
    if let Some(a) = &s.attributes {
        let m: Map<String, Value> = a
            .iter()
            .map(|(k, v)| {
                (
                    k.pick(&["team", "k8s.pod.name", "a=b", ""]),
                    v.pick(&["shop", "x,y"]).into(),
                )
            })
            .collect();
        resource.insert("resourceAttributes".into(), m.into());
    }
    if let Some(u) = s.uid_attributes {
        resource.insert("addK8sUIDAttributes".into(), u.into());
    }
    if !resource.is_empty() {
        o.insert("resource".into(), resource.into());
    }
    if let Some(u) = s.use_labels {
        o.insert(
            "defaults".into(),
            json!({"useLabelsForResourceAttributes": u}),
        );
    }
    if let Some(p) = &s.pull_policy {
        o.insert(
            "imagePullPolicy".into(),
            p.pick(&["Always", "IfNotPresent", "Never", "Sometimes"])
                .into(),
        );
    }
    let mut python = Map::new();
    if let Some(i) = &s.image {
        python.insert(
            "image".into(),
            i.pick(&["ghcr.io/o/p:1", "UPPER/x", "r:5000/a/b@sha256:abc", ""])
                .into(),
        );
    }
    if let Some(e) = &s.python_env {
        python.insert("env".into(), e.iter().map(env_json).collect());
    }
    let mut rr = Map::new();
    if let Some((c, m)) = &s.limits {
        rr.insert(
            "limits".into(),
            json!({"cpu": c.pick(QUANTITIES), "memory": m.pick(QUANTITIES)}),
        );
    }
    if let Some((c, m)) = &s.requests {
        rr.insert(
            "requests".into(),
            json!({"cpu": c.pick(QUANTITIES), "memory": m.pick(QUANTITIES)}),
        );
    }
    if !rr.is_empty() {
        python.insert("resourceRequirements".into(), rr.into());
    }
    if let Some(v) = &s.volume_limit {
        python.insert("volumeLimitSize".into(), v.pick(QUANTITIES).into());
    }
    if s.claim {
        python.insert(
            "volumeClaimTemplate".into(),
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        );
    }
    if !python.is_empty() {
        o.insert("python".into(), python.into());
    }
    Value::Object(o)
}

fn settings_json(s: &Settings) -> Value {
    let mut v = spec_json(&s.default);
    if let Some(list) = &s.instrumentations {
        v["instrumentations"] = list
            .iter()
            .map(|n| {
                json!({
                    "apiVersion": "opentelemetry.io/v1alpha1",
                    "kind": "Instrumentation",
                    "metadata": {"name": n.name.pick(&["python", "other", ""]), "namespace": n.namespace.pick(NAMESPACES)},
                    "spec": spec_json(&n.spec),
                })
            })
            .collect();
    }
    if let Some(a) = s.admit {
        v["failureAction"] = if a { "admit" } else { "reject" }.into();
    }
    if let Some(c) = s.cross_namespace {
        v["allowCrossNamespaceReferences"] = c.into();
    }
    v
}

fn unique<'a>(names: impl Iterator<Item = &'a str>) -> bool {
    let mut seen = HashSet::new();
    names.into_iter().all(|n| seen.insert(n))
}

fn names_of<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i[key].as_str())
        .collect()
}

fuzz_target!(|input: Input| {
    let mut request = json!({
        "uid": "u",
        "kind": {"group": "", "version": "v1", "kind": input.kind.as_ref().map(|k| k.pick(&["Pod", "Deployment"])).unwrap_or("Pod".into())},
        "operation": input.operation.as_ref().map(|o| o.pick(&["CREATE", "UPDATE"])).unwrap_or("CREATE".into()),
    });
    if let Some(n) = &input.namespace {
        request["namespace"] = n.pick(NAMESPACES).into();
    }
    if input.sub_resource {
        request["subResource"] = "status".into();
    }
    if let Some(p) = &input.pod {
        request["object"] = pod_json(p, input.object_kind.as_ref());
    }
    let settings = settings_json(&input.settings);
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    // To turn a crash into a regression payload: FUZZ_DUMP_PAYLOAD=file cargo fuzz run ... crash-file
    if let Some(path) = std::env::var_os("FUZZ_DUMP_PAYLOAD") {
        std::fs::write(path, &payload).unwrap();
    }

    let first = otel_python_policy::admission::validate(&payload);
    let first_bytes = first.to_json();
    let again = otel_python_policy::admission::validate(&payload).to_json();
    assert_eq!(
        first_bytes, again,
        "the same payload gave two different answers"
    );
    if !first.accepted {
        assert!(
            first.message.as_deref().is_some_and(|m| !m.is_empty()),
            "a refusal without a message"
        );
    }
    if first.mutated_object.is_none() {
        return;
    }
    let mutated = first.mutated().expect("the mutated object is JSON");
    let original = &request["object"];
    let (os, ms) = (&original["spec"], &mutated["spec"]);
    // Names the policy adds never collide with the user's (when the user's were unique).
    let before: Vec<&str> = names_of(&os["containers"], "name")
        .into_iter()
        .chain(names_of(&os["initContainers"], "name"))
        .collect();
    if unique(before.iter().copied()) {
        let after = names_of(&ms["containers"], "name")
            .into_iter()
            .chain(names_of(&ms["initContainers"], "name"));
        assert!(unique(after), "duplicate container names after injection");
    }
    if unique(names_of(&os["volumes"], "name").into_iter()) {
        assert!(
            unique(names_of(&ms["volumes"], "name").into_iter()),
            "duplicate volume names"
        );
    }
    // Containers are matched by name, so only when the user's names are unique.
    for list in ["containers", "initContainers"] {
        if !unique(before.iter().copied()) {
            break;
        }
        for c in ms[list].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let orig = os[list]
                .as_array()
                .into_iter()
                .flatten()
                .find(|o| o["name"] == name);
            let Some(orig) = orig else { continue };
            if unique(names_of(&orig["env"], "name").into_iter()) {
                assert!(
                    unique(names_of(&c["env"], "name").into_iter()),
                    "duplicate env names in {name}"
                );
            }
            if unique(names_of(&orig["volumeMounts"], "mountPath").into_iter()) {
                assert!(
                    unique(names_of(&c["volumeMounts"], "mountPath").into_iter()),
                    "duplicate mount paths in {name}"
                );
            }
        }
    }
    // Reinvocation: the policy applied to its own output changes nothing.
    request["object"] = mutated;
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let second = otel_python_policy::admission::validate(&payload);
    assert!(
        second.accepted,
        "the mutated pod is refused: {:?}",
        second.message
    );
    assert!(
        second.mutated_object.is_none(),
        "the second pass mutates again"
    );
});
