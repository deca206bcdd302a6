//! Cluster mode against a small in-memory cluster: the article's scenario with the
//! Instrumentation read from the cluster gives the same pod as with it in the settings, and each
//! kind of lookup failure gets its own message. The case files run the same through the
//! fixture cluster of `tests/cases/clusters/` (see tests/cases.rs).

mod common;

use common::Fake;
use otel_python_policy::admission;
use otel_python_policy::cluster::Cluster;
use serde_json::{Value, json};

fn article_settings() -> Value {
    let text =
        std::fs::read_to_string(case_harness::case::cases_dir().join("settings/article.yaml"))
            .unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn article_cluster() -> Fake {
    let instrumentation = article_settings()["instrumentations"][0].clone();
    Fake {
        objects: vec![
            instrumentation,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "hello-deploy-7d9c8b6f5d", "namespace": "default",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-deploy",
                       "uid": "d-1", "controller": true}]}}),
        ],
        ..Fake::default()
    }
}

fn request(name: &str) -> Value {
    let text = std::fs::read_to_string(case_harness::case::cases_dir().join("requests").join(name))
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v.get("request").cloned().unwrap_or(v)
}

fn run(request: &Value, settings: &Value, cluster: &dyn Cluster) -> Value {
    let payload = json!({"request": request, "settings": settings}).to_string();
    serde_json::from_slice(&admission::validate_with(payload.as_bytes(), cluster).to_json())
        .unwrap()
}

#[test]
fn the_article_in_cluster_mode_is_the_article_in_settings_mode() {
    let cluster = article_cluster();
    let cluster_mode = run(
        &request("article-pod.json"),
        &json!({"instrumentationSource": "cluster"}),
        &cluster,
    );
    let settings_mode = run(&request("article-pod.json"), &article_settings(), &cluster);
    assert_eq!(cluster_mode["accepted"], true, "{cluster_mode}");
    assert!(cluster_mode["mutated_object"].is_object());
    assert_eq!(cluster_mode, settings_mode);
    // The pod names its instrumentation: no Namespace read; the get, then the owner.
    assert_eq!(
        *cluster.calls.borrow(),
        [
            "get_resource Instrumentation python-instrumentation",
            "get_resource ReplicaSet hello-deploy-7d9c8b6f5d",
        ]
    );
}

#[test]
fn a_misspelt_reference_lists_what_the_cluster_has() {
    let cluster = article_cluster();
    let answer = run(
        &request("article-pod-typo.json"),
        &json!({"instrumentationSource": "cluster"}),
        &cluster,
    );
    assert_eq!(answer["accepted"], false);
    assert_eq!(
        answer["message"],
        "annotation instrumentation.opentelemetry.io/inject-python=\"monitor/python-instrumentaton\" on a pod in namespace \"default\" cannot be honoured: the cluster's Instrumentation resources define no instrumentation \"python-instrumentaton\" in namespace \"monitor\". References that would work: \"monitor/python-instrumentation\"; or \"false\" for no injection"
    );
    assert_eq!(
        *cluster.calls.borrow(),
        [
            "get_resource Instrumentation python-instrumentaton",
            "can_i  list",
            "can_i  watch",
            "list_resources_all Instrumentation ",
        ]
    );
}

#[test]
fn the_owner_comes_from_the_cluster() {
    let mut cluster = article_cluster();
    // A Deployment whose name the ReplicaSet's name does not give away.
    cluster.objects[2]["metadata"]["ownerReferences"][0]["name"] = json!("renamed");
    let answer = run(
        &request("article-pod.json"),
        &json!({"instrumentationSource": "cluster"}),
        &cluster,
    );
    let env = answer["mutated_object"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(r#"{"name":"OTEL_SERVICE_NAME","value":"renamed"}"#),
        "{env}"
    );
    assert!(env.contains("k8s.deployment.name=renamed"), "{env}");
}

#[test]
fn a_namespace_annotation_asks_for_its_pods() {
    let mut cluster = article_cluster();
    cluster.objects[1]["metadata"]["annotations"] =
        json!({"instrumentation.opentelemetry.io/inject-python": "monitor/python-instrumentation"});
    let mut pod = request("article-pod.json");
    pod["object"]["metadata"]["annotations"] = json!({});
    let answer = run(&pod, &json!({"instrumentationSource": "cluster"}), &cluster);
    assert!(answer["mutated_object"].is_object(), "{answer}");
    // The pod's own "false" wins over its namespace.
    pod["object"]["metadata"]["annotations"] =
        json!({"instrumentation.opentelemetry.io/inject-python": "false"});
    let answer = run(&pod, &json!({"instrumentationSource": "cluster"}), &cluster);
    assert!(answer["mutated_object"].is_null(), "{answer}");
    // Settings mode reads no namespace.
    pod["object"]["metadata"]["annotations"] = json!({});
    let before = cluster.calls.borrow().len();
    let answer = run(&pod, &article_settings(), &cluster);
    assert!(answer["mutated_object"].is_null());
    assert_eq!(cluster.calls.borrow().len(), before);
}

#[test]
fn a_missing_crd_and_missing_rbac_say_so() {
    let mut cluster = article_cluster();
    cluster.crd_missing = true;
    let answer = run(
        &request("article-pod.json"),
        &json!({"instrumentationSource": "cluster"}),
        &cluster,
    );
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("CRD instrumentations.opentelemetry.io is not installed"),
        "{message}"
    );
    assert_eq!(answer["code"], 500);

    let mut cluster = article_cluster();
    cluster.list_allowed = Some(false);
    let mut pod = request("article-pod.json");
    pod["object"]["metadata"]["annotations"] =
        json!({"instrumentation.opentelemetry.io/inject-python": "true"});
    let answer = run(&pod, &json!({"instrumentationSource": "cluster"}), &cluster);
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("kubewarden/policy-server may not list instrumentations.opentelemetry.io in all namespaces"),
        "{message}"
    );
    assert!(!cluster.calls.borrow().iter().any(|c| c.starts_with("list")));
}

#[test]
fn a_name_in_the_settings_and_the_cluster_is_refused() {
    let cluster = article_cluster();
    let mut settings = article_settings();
    settings["instrumentationSource"] = json!("cluster");
    let answer = run(&request("article-pod.json"), &settings, &cluster);
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.starts_with("instrumentation monitor/python-instrumentation is defined twice"),
        "{message}"
    );
}

#[test]
fn a_bad_spec_in_the_cluster_names_the_resource() {
    let mut cluster = article_cluster();
    cluster.objects[0]["spec"]["sampler"]["argument"] = json!("2");
    let answer = run(
        &request("article-pod.json"),
        &json!({"instrumentationSource": "cluster"}),
        &cluster,
    );
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("Instrumentation monitor/python-instrumentation in the cluster is invalid: spec.sampler.argument"),
        "{message}"
    );
}

/// policy.yaml declares exactly the kinds cluster mode reads.
#[test]
fn the_metadata_lists_what_cluster_mode_reads() {
    let root = case_harness::case::cases_dir().join("../..");
    let metadata: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("policy.yaml")).unwrap()).unwrap();
    let mut declared: Vec<(String, String)> = metadata["contextAwareResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["apiVersion"].as_str().unwrap().into(),
                r["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut read: Vec<(String, String)> = otel_python_policy::cluster::KINDS
        .iter()
        .map(|k| (k.api_version.into(), k.kind.into()))
        .collect();
    declared.sort();
    read.sort();
    assert_eq!(declared, read);
}
