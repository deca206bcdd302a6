//! Which containers get instrumented, and from which platform's package tree.

use std::collections::BTreeMap;

use crate::keys::{
    CONTAINER_NAMES, INJECT_OTHER_LANGUAGES, INJECT_PREFIX, PYTHON_CONTAINER_NAMES,
    PYTHON_PLATFORM, is_off,
};
use crate::operator::{GLIBC_SOURCE, MUSL_SOURCE, PLATFORM_GLIBC, PLATFORM_MUSL};
use crate::pod::{PodView, Slot};
use crate::refusal::{PlanProblem, SelectionProblem};
use crate::syntax::k8s_names::is_container_list_char;

/// The containers to instrument, ordered as the operator orders them: targeted init containers
/// first, in pod order, then regular containers in the order the annotations name them. Without
/// annotations, the first container. Every problem is an error: an unknown name is never skipped.
pub fn targets(pod: &PodView) -> Result<Vec<Slot>, SelectionProblem> {
    let names = named_containers(pod)?;
    if pod.spec.containers.is_empty() {
        return Err(SelectionProblem::NoContainers);
    }
    if names.is_empty() {
        other_languages_need_names(pod)?;
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
            return Err(SelectionProblem::UnknownContainer {
                name: name.to_string(),
                known: pod
                    .spec
                    .containers
                    .iter()
                    .chain(&pod.spec.init_containers)
                    .map(|c| c.name.clone())
                    .collect(),
            });
        }
    }
    init.sort_by_key(|s| s.index());
    init.extend(regular);
    Ok(init)
}

/// The names in `container-names` then `python-container-names` (the operator appends the
/// second to the first), each checked.
fn named_containers(pod: &PodView) -> Result<Vec<&str>, SelectionProblem> {
    let mut names: Vec<&str> = Vec::new();
    for key in [CONTAINER_NAMES, PYTHON_CONTAINER_NAMES] {
        let value = pod.annotation(key);
        if value.is_empty() {
            continue;
        }
        if !value.chars().all(is_container_list_char) {
            return Err(SelectionProblem::BadCharacters {
                key,
                value: value.to_string(),
            });
        }
        for name in value.split(',') {
            if name.is_empty() {
                return Err(SelectionProblem::EmptyEntry {
                    key,
                    value: value.to_string(),
                });
            }
            if names.contains(&name) {
                return Err(SelectionProblem::NamedTwice {
                    name: name.to_string(),
                });
            }
            names.push(name);
        }
    }
    Ok(names)
}

/// With another language asked for too, "the first container" may be that language's: the
/// operator then refuses to choose, and so does the policy.
fn other_languages_need_names(pod: &PodView) -> Result<(), SelectionProblem> {
    // The pod's own few annotations first: the seven lookups, whose keys share a long prefix
    // (compared byte by byte), are made only when one of its keys may be another language's.
    let mut keys = pod.metadata.annotations.iter().flat_map(BTreeMap::keys);
    if !keys.any(|k| {
        k.strip_prefix(INJECT_PREFIX)
            .is_some_and(|lang| lang != "python")
    }) {
        return Ok(());
    }
    let annotations: Vec<(String, String)> = INJECT_OTHER_LANGUAGES
        .iter()
        .map(|&key| (key, pod.annotation(key)))
        .filter(|(_, value)| !is_off(value))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    if annotations.is_empty() {
        Ok(())
    } else {
        Err(SelectionProblem::OtherLanguages { annotations })
    }
}

/// The directory the init container copies from, chosen by the platform annotation.
pub fn platform_source(pod: &PodView) -> Result<&'static str, PlanProblem> {
    match pod.annotation(PYTHON_PLATFORM) {
        "" | PLATFORM_GLIBC => Ok(GLIBC_SOURCE),
        PLATFORM_MUSL => Ok(MUSL_SOURCE),
        other => Err(PlanProblem::UnsupportedPlatform {
            value: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::INJECT_PYTHON;
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
        let known = ["istio-proxy", "app", "worker", "migrate", "seed"]
            .map(String::from)
            .to_vec();
        for (ann, problem) in [
            (
                json!({CONTAINER_NAMES: "app,nope"}),
                SelectionProblem::UnknownContainer {
                    name: "nope".into(),
                    known,
                },
            ),
            (
                json!({CONTAINER_NAMES: "app", PYTHON_CONTAINER_NAMES: "app"}),
                SelectionProblem::NamedTwice { name: "app".into() },
            ),
            (
                json!({CONTAINER_NAMES: "app;rm"}),
                SelectionProblem::BadCharacters {
                    key: CONTAINER_NAMES,
                    value: "app;rm".into(),
                },
            ),
            (
                json!({PYTHON_CONTAINER_NAMES: "app,,worker"}),
                SelectionProblem::EmptyEntry {
                    key: PYTHON_CONTAINER_NAMES,
                    value: "app,,worker".into(),
                },
            ),
        ] {
            assert_eq!(targets(&pod(ann)), Err(problem));
        }
    }

    #[test]
    fn another_language_without_container_names_is_refused() {
        let nodejs = "instrumentation.opentelemetry.io/inject-nodejs";
        assert_eq!(
            targets(&pod(json!({nodejs: "true"}))),
            Err(SelectionProblem::OtherLanguages {
                annotations: vec![(nodejs.into(), "true".into())]
            })
        );
        // Each of them, next to the Python one; two in the operator's order, not the pod's.
        for key in INJECT_OTHER_LANGUAGES {
            let both = json!({INJECT_PYTHON: "true", key: "true"});
            let annotations = vec![(key.to_string(), "true".to_string())];
            let problem = SelectionProblem::OtherLanguages { annotations };
            assert_eq!(targets(&pod(both)), Err(problem), "{key}");
        }
        let [java, .., sdk] = INJECT_OTHER_LANGUAGES;
        let Err(SelectionProblem::OtherLanguages { annotations }) =
            targets(&pod(json!({sdk: "true", java: "true"})))
        else {
            panic!("two other languages are refused");
        };
        let keys: Vec<&str> = annotations.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [java, sdk]);
        // Off, or with the Python containers named, the other language does not matter.
        assert_eq!(
            targets(&pod(json!({nodejs: "False"}))),
            Ok(vec![Slot::Regular(0)])
        );
        assert_eq!(
            targets(&pod(json!({nodejs: "true", PYTHON_CONTAINER_NAMES: "app"}))),
            Ok(vec![Slot::Regular(1)])
        );
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
        assert_eq!(
            platform_source(&pod(json!({PYTHON_PLATFORM: "MUSL"}))),
            Err(PlanProblem::UnsupportedPlatform {
                value: "MUSL".into()
            })
        );
    }
}
