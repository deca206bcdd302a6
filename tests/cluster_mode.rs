//! Cluster mode against a small in-memory cluster, for what a case file cannot say: the article
//! with its Instrumentation in the cluster gives byte for byte the answer it gets with it in the
//! settings, the owner's owner comes from the cluster and not from the names, and policy.yaml
//! declares what cluster mode reads. The behaviours with their messages and host calls are case
//! files (`tests/cases/cluster-mode/`), run through every backend with the fixture clusters
//! (`tests/inputs/clusters/`).

mod common;

use common::Fake;
use otel_python_policy::admission;
use otel_python_policy::cluster::Cluster;
use otel_python_policy::host::Hosts;
use serde_json::{Value, json};

fn article_settings() -> Value {
    let text =
        std::fs::read_to_string(case_harness::case::inputs_dir().join("settings/article.yaml"))
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
    let text =
        std::fs::read_to_string(case_harness::case::inputs_dir().join("requests").join(name))
            .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v.get("request").cloned().unwrap_or(v)
}

fn run(request: &Value, settings: &Value, cluster: &dyn Cluster) -> Value {
    let payload = json!({"request": request, "settings": settings}).to_string();
    serde_json::from_slice(
        &admission::validate_with(payload.as_bytes(), Hosts::cluster(cluster)).to_json(),
    )
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

/// policy.yaml declares exactly the kinds cluster mode reads.
#[test]
fn the_metadata_lists_what_cluster_mode_reads() {
    let root = case_harness::case::tests_dir().join("..");
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
