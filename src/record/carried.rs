//! What a stored pod carries where the injection wrote, read back for the record's hash.
//!
//! The audit recomputes the record's hash from the pod as the API server stored it: the parts the
//! plan serializes (`inject::Plan`), found where the plan writes them — each recorded container's
//! variables that configure the instrumentation (`PYTHONPATH`, `OTEL_*`) and its mount of the
//! packages' volume, that volume, the init container, the preflight init containers, the
//! settings' pull secrets the pod lists — under the names the plan serializes them with. [`digest`] leaves out what the API server adds as defaults, and what
//! other webhooks add to every container (a variable, a mount) is not read, so a pod that carries
//! what was recorded hashes to the recorded hash, and a pod edited or copied after its injection
//! does not.
//!
//! A new part of the plan is in the plan's hash by being serialized (and hashed in
//! [`super::typed`], which does not compile until it is); it must be read here too,
//! or no pod would carry its record (the property
//! `the_record_is_what_the_mutated_pod_carries` in `tests/properties.rs` says so).

use k8s_openapi::api::core::v1::EnvVar;
use serde::Serialize;
use serde_json::Value;

use super::digest;
use crate::operator::{
    INIT_CONTAINER_NAME, PREFLIGHT_CONTAINER_NAME, VOLUME_NAME, configures_instrumentation,
};
use crate::syntax::json_text::value_at;
use crate::target::Target;

/// The plan's serialization, read from a pod.
#[derive(Serialize)]
struct Carried<'a> {
    edits: Vec<Edit<'a>>,
    volumes: Vec<&'a Value>,
    init_container: Option<Value>,
    preflight: Vec<Value>,
    pull_secrets: Vec<&'a str>,
}

/// A container's part: its name, its whole env, its mounts of the injection's volumes.
#[derive(Serialize)]
struct Edit<'a> {
    name: &'a str,
    env: Env,
    mounts: Vec<&'a Value>,
}

/// The variables that configure the instrumentation, read as the plan holds them (Kubernetes'
/// `EnvVar`), or as written when they do not read so.
#[derive(Serialize)]
#[serde(untagged)]
enum Env {
    Typed(Vec<EnvVar>),
    Written(Vec<Value>),
}

fn env(list: &Value) -> Env {
    let ours: Vec<Value> = items(list)
        .filter(|e| e["name"].as_str().is_some_and(configures_instrumentation))
        .cloned()
        .collect();
    match serde_json::from_value::<Vec<EnvVar>>(Value::Array(ours.clone())) {
        Ok(typed) => Env::Typed(typed),
        Err(_) => Env::Written(ours),
    }
}

/// Whether a volume (or a mount of it) is the packages' volume, which the plan serializes.
fn injected_volume(name: &str) -> bool {
    name == VOLUME_NAME
}

fn items(list: &Value) -> impl Iterator<Item = &Value> {
    list.as_array().into_iter().flatten()
}

fn injected_items(list: &Value) -> Vec<&Value> {
    items(list)
        .filter(|v| v["name"].as_str().is_some_and(injected_volume))
        .collect()
}

/// The injection's init container, with what another webhook may have added to it (as to every
/// container) left out: variables that do not configure the instrumentation, mounts of volumes
/// that are not the injection's.
fn init_container(c: &Value) -> Value {
    let env: Vec<Value> = items(&c["env"])
        .filter(|e| e["name"].as_str().is_some_and(configures_instrumentation))
        .cloned()
        .collect();
    let mounts: Vec<Value> = injected_items(&c["volumeMounts"])
        .into_iter()
        .cloned()
        .collect();
    let mut c = c.clone();
    if let Some(fields) = c.as_object_mut() {
        fields.insert("env".into(), Value::Array(env));
        fields.insert("volumeMounts".into(), Value::Array(mounts));
    }
    c
}

/// Whether an init container is one of the preflight's (`<name>`, `<name>-2`, …).
fn preflight(name: &str) -> bool {
    name.strip_prefix(PREFLIGHT_CONTAINER_NAME)
        .is_some_and(|n| {
            n.is_empty()
                || n.strip_prefix('-')
                    .is_some_and(|i| i.parse::<u16>().is_ok())
        })
}

/// The pod's pull secrets that `settings` (the settings' `imagePullSecrets`) name, sorted.
fn pull_secrets<'a>(list: &'a Value, settings: &[String]) -> Vec<&'a str> {
    let mut names: Vec<&str> = items(list)
        .filter_map(|s| s["name"].as_str())
        .filter(|n| settings.iter().any(|s| s == n))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The hash of what the pod at `target` in `object` carries for the recorded `containers` and
/// the settings' `imagePullSecrets` (as [`super::hash`] writes it); `None` when the pod's spec
/// cannot be read or a recorded container is not there.
pub fn hash(
    object: &str,
    target: &Target,
    containers: &[String],
    settings_pull_secrets: &[String],
) -> Option<String> {
    let path = [target.template, &["spec"]].concat();
    let spec = value_at(object, &path)?;
    let (init, regular) = (&spec["initContainers"], &spec["containers"]);
    let find = |name: &str| {
        items(init)
            .chain(items(regular))
            .find(|c| c["name"] == name)
    };
    let mut edits = Vec::with_capacity(containers.len());
    for name in containers {
        let c = find(name)?;
        edits.push(Edit {
            name,
            env: env(&c["env"]),
            mounts: injected_items(&c["volumeMounts"]),
        });
    }
    let carried = Carried {
        edits,
        volumes: injected_items(&spec["volumes"]),
        init_container: items(init)
            .find(|c| c["name"] == INIT_CONTAINER_NAME)
            .map(init_container),
        preflight: items(init)
            .filter(|c| c["name"].as_str().is_some_and(preflight))
            .map(init_container)
            .collect(),
        pull_secrets: pull_secrets(&spec["imagePullSecrets"], settings_pull_secrets),
    };
    Some(super::hex(digest::of(&carried)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(env: Value, mounts: Value, init_extra: Value) -> String {
        let mut init = json!({"name": INIT_CONTAINER_NAME, "image": "python:1",
            "volumeMounts": [{"name": VOLUME_NAME, "mountPath": "/otel"}]});
        if let (Some(i), Some(extra)) = (init.as_object_mut(), init_extra.as_object()) {
            i.extend(extra.clone());
        }
        json!({"spec": {
            "initContainers": [init],
            "containers": [{"name": "app", "env": env, "volumeMounts": mounts}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": VOLUME_NAME, "emptyDir": {"sizeLimit": "200Mi"}}]
        }})
        .to_string()
    }

    fn hash_of(text: &str) -> Option<String> {
        hash(text, &Target::POD, &["app".to_string()], &[])
    }

    #[test]
    fn what_other_webhooks_add_to_every_container_is_not_counted() {
        let env = json!([{"name": "OTEL_SERVICE_NAME", "value": "app"}]);
        let mounts = json!([{"name": VOLUME_NAME, "mountPath": "/otel"}]);
        let plain = hash_of(&pod(env.clone(), mounts.clone(), json!({})));
        let mut more_env = env.clone();
        more_env
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "DD_AGENT_HOST", "value": "h"}));
        let mut more_mounts = mounts.clone();
        more_mounts
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"name": "data", "mountPath": "/d"}));
        let extra = json!({"env": [{"name": "TZ", "value": "UTC"}],
            "volumeMounts": [{"name": VOLUME_NAME, "mountPath": "/otel"}, {"name": "data", "mountPath": "/d"}]});
        assert!(plain.is_some());
        assert_eq!(plain, hash_of(&pod(more_env, more_mounts, extra)));
        // What configures the instrumentation counts.
        let edited = json!([{"name": "OTEL_SERVICE_NAME", "value": "other"}]);
        assert_ne!(plain, hash_of(&pod(edited, mounts.clone(), json!({}))));
        let image = json!({"image": "python:2"});
        assert_ne!(plain, hash_of(&pod(env.clone(), mounts, image)));
        // A recorded container that is not there: nothing to compare.
        let text = pod(env, json!([]), json!({}));
        assert_eq!(hash(&text, &Target::POD, &["gone".to_string()], &[]), None);
    }
}
