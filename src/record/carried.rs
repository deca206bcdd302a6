//! What a stored pod carries where the injection wrote, read back for the record's hash.
//!
//! The audit recomputes the record's hash from the pod as the API server stored it: the parts the
//! plan serializes (`inject::Plan`), found where the plan writes them — each recorded container's
//! whole `env` and its mounts of the injection's volumes, the injection's volumes, its init
//! container — under the names the plan serializes them with. [`digest`] leaves out what the API
//! server adds as defaults, so a pod that carries what was recorded hashes to the recorded hash,
//! and a pod edited or copied after its injection does not.
//!
//! A new part of the plan is in the plan's hash by being serialized; it must be read here too,
//! or no pod would carry its record (the property
//! `the_record_is_what_the_mutated_pod_carries` in `tests/properties.rs` says so).

use k8s_openapi::api::core::v1::EnvVar;
use serde::Serialize;
use serde_json::Value;

use super::digest;
use crate::operator::{
    INIT_CONTAINER_NAME, TLS_CONFIG_MAP_VOLUME_PREFIX, TLS_SECRET_VOLUME_PREFIX, VOLUME_NAME,
};
use crate::syntax::json_text::value_at;
use crate::target::Target;

/// The plan's serialization, read from a pod.
#[derive(Serialize)]
struct Carried<'a> {
    edits: Vec<Edit<'a>>,
    volumes: Vec<&'a Value>,
    init_container: Option<&'a Value>,
}

/// A container's part: its name, its whole env, its mounts of the injection's volumes.
#[derive(Serialize)]
struct Edit<'a> {
    name: &'a str,
    env: Env<'a>,
    mounts: Vec<&'a Value>,
}

/// The env, read as the plan holds it (Kubernetes' `EnvVar`), or as written when it does not
/// read so.
#[derive(Serialize)]
#[serde(untagged)]
enum Env<'a> {
    Typed(Vec<EnvVar>),
    Written(&'a Value),
}

/// Whether a volume (or a mount of it) is one the injection adds: the packages' volume and the
/// exporter's TLS volumes.
fn injected_volume(name: &str) -> bool {
    name == VOLUME_NAME
        || name.starts_with(TLS_SECRET_VOLUME_PREFIX)
        || name.starts_with(TLS_CONFIG_MAP_VOLUME_PREFIX)
}

fn items(list: &Value) -> impl Iterator<Item = &Value> {
    list.as_array().into_iter().flatten()
}

fn injected_items(list: &Value) -> Vec<&Value> {
    items(list)
        .filter(|v| v["name"].as_str().is_some_and(injected_volume))
        .collect()
}

/// The hash of what the pod at `target` in `object` carries for the recorded `containers` (as
/// [`super::hash`] writes it); `None` when the pod's spec cannot be read or a recorded container
/// is not there.
pub fn hash(object: &str, target: &Target, containers: &[String]) -> Option<String> {
    let path = [target.template, &["spec"]].concat();
    let spec = value_at(object, &path)?;
    let (init, regular) = (&spec["initContainers"], &spec["containers"]);
    let find = |name: &str| items(init).chain(items(regular)).find(|c| c["name"] == name);
    let mut edits = Vec::with_capacity(containers.len());
    for name in containers {
        let c = find(name)?;
        let env = match serde_json::from_value::<Vec<EnvVar>>(c["env"].clone()) {
            Ok(typed) => Env::Typed(typed),
            Err(_) => Env::Written(&c["env"]),
        };
        edits.push(Edit {
            name,
            env,
            mounts: injected_items(&c["volumeMounts"]),
        });
    }
    let carried = Carried {
        edits,
        volumes: injected_items(&spec["volumes"]),
        init_container: items(init).find(|c| c["name"] == INIT_CONTAINER_NAME),
    };
    Some(super::hex(digest::of(&carried)))
}
