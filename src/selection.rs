//! Which containers get instrumented, and from which platform's package tree.

use crate::annotations::{CONTAINER_NAMES, PYTHON_CONTAINER_NAMES, PYTHON_PLATFORM, shown};
use crate::names::is_container_list_char;
use crate::pod::{PodView, Slot};

/// The containers to instrument, ordered as the operator orders them: targeted init containers
/// first, in pod order, then regular containers in the order the annotations name them. Without
/// annotations, the first container. Every problem is an error: an unknown name is never skipped.
pub fn targets(pod: &PodView) -> Result<Vec<Slot>, String> {
    let mut names: Vec<&str> = Vec::new();
    for key in [CONTAINER_NAMES, PYTHON_CONTAINER_NAMES] {
        let value = pod.annotation(key);
        if value.is_empty() {
            continue;
        }
        if !value.chars().all(is_container_list_char) {
            return Err(format!(
                "annotation {key}={}: only container names separated by ',' are accepted (letters, digits, '-' and ',')",
                shown(value)
            ));
        }
        for name in value.split(',') {
            if name.is_empty() {
                return Err(format!(
                    "annotation {key}={} has an empty entry; list container names separated by single commas",
                    shown(value)
                ));
            }
            if names.contains(&name) {
                return Err(format!(
                    "container {name:?} is named twice in {CONTAINER_NAMES} and {PYTHON_CONTAINER_NAMES}; name each container once"
                ));
            }
            names.push(name);
        }
    }
    if pod.spec.containers.is_empty() {
        return Err(
            "the pod has no containers to instrument; spec.containers must list at least one"
                .into(),
        );
    }
    if names.is_empty() {
        return Ok(vec![Slot::Regular(0)]);
    }
    let mut init = Vec::new();
    let mut regular = Vec::new();
    for name in names {
        if let Some(i) = pod.spec.containers.iter().position(|c| c.name == name) {
            regular.push(Slot::Regular(i));
        } else if let Some(i) = pod.spec.init_containers.iter().position(|c| c.name == name) {
            init.push(Slot::Init(i));
        } else {
            let known: Vec<String> = pod
                .spec
                .containers
                .iter()
                .chain(&pod.spec.init_containers)
                .map(|c| format!("{:?}", c.name))
                .collect();
            return Err(format!(
                "container {name:?} named by the instrumentation annotations does not exist in the pod; its containers are {}",
                known.join(", ")
            ));
        }
    }
    init.sort_by_key(|s| s.index());
    init.extend(regular);
    Ok(init)
}

pub const GLIBC_SOURCE: &str = "/autoinstrumentation/.";
pub const MUSL_SOURCE: &str = "/autoinstrumentation-musl/.";

/// The directory the init container copies from, chosen by the platform annotation.
pub fn platform_source(pod: &PodView) -> Result<&'static str, String> {
    match pod.annotation(PYTHON_PLATFORM) {
        "" | "glibc" => Ok(GLIBC_SOURCE),
        "musl" => Ok(MUSL_SOURCE),
        other => Err(format!(
            "annotation {PYTHON_PLATFORM}={} is not supported; use \"glibc\" (the default) or \"musl\" (Alpine-based images)",
            shown(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: serde_json::Value) -> PodView {
        serde_json::from_value(json!({
            "metadata": {"annotations": annotations},
            "spec": {
                "initContainers": [{"name": "migrate"}, {"name": "seed"}],
                "containers": [{"name": "istio-proxy"}, {"name": "app"}, {"name": "worker"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn default_is_first_container() {
        assert_eq!(targets(&pod(json!({}))), Ok(vec![Slot::Regular(0)]));
    }

    #[test]
    fn named_containers_init_first_in_pod_order_then_regular_in_annotation_order() {
        let p = pod(json!({CONTAINER_NAMES: "worker,seed", PYTHON_CONTAINER_NAMES: "app,migrate"}));
        assert_eq!(
            targets(&p),
            Ok(vec![
                Slot::Init(0),
                Slot::Init(1),
                Slot::Regular(2),
                Slot::Regular(1)
            ])
        );
    }

    #[test]
    fn refusals() {
        for (ann, fragment) in [
            (
                json!({CONTAINER_NAMES: "app,nope"}),
                "\"nope\" named by the instrumentation annotations does not exist",
            ),
            (
                json!({CONTAINER_NAMES: "app", PYTHON_CONTAINER_NAMES: "app"}),
                "named twice",
            ),
            (json!({CONTAINER_NAMES: "app;rm"}), "only container names"),
            (
                json!({PYTHON_CONTAINER_NAMES: "app,,worker"}),
                "empty entry",
            ),
        ] {
            let err = targets(&pod(ann)).unwrap_err();
            assert!(err.contains(fragment), "{err}");
        }
    }

    #[test]
    fn platforms() {
        assert_eq!(platform_source(&pod(json!({}))), Ok(GLIBC_SOURCE));
        assert_eq!(
            platform_source(&pod(json!({PYTHON_PLATFORM: "glibc"}))),
            Ok(GLIBC_SOURCE)
        );
        assert_eq!(
            platform_source(&pod(json!({PYTHON_PLATFORM: "musl"}))),
            Ok(MUSL_SOURCE)
        );
        assert!(
            platform_source(&pod(json!({PYTHON_PLATFORM: "MUSL"})))
                .unwrap_err()
                .contains("\"MUSL\" is not supported")
        );
    }
}
