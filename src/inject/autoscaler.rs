//! The cluster autoscaler's annotation for the `emptyDir` the injection adds.
//!
//! The cluster autoscaler does not drain a node to scale it down while a pod on it has a local
//! volume (`emptyDir`) that the pod's `cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes`
//! annotation does not list. The packages' `emptyDir` holds nothing but a copy of the image's
//! files, made again when the pod starts elsewhere, so its name is added to that list (the pod's
//! own entries kept). An ephemeral volume (`python.volumeClaimTemplate`) is not local storage to
//! the autoscaler: nothing is added for it. The operator adds nothing: a deliberate difference.

use super::Plan;
use crate::keys::SAFE_TO_EVICT_LOCAL_VOLUMES;
use crate::pod::PodView;

/// The annotation with the plan's `emptyDir` volumes added to the pod's list, or `None` when the
/// plan adds none or the pod lists them all already.
pub fn safe_to_evict(pod: &PodView, plan: &Plan) -> Option<(&'static str, Option<String>)> {
    let own = pod.annotation(SAFE_TO_EVICT_LOCAL_VOLUMES);
    let listed: Vec<&str> = own.split(',').map(str::trim).collect();
    let missing: Vec<&str> = plan
        .volumes
        .iter()
        .filter(|v| v.empty_dir.is_some() && !listed.contains(&v.name.as_str()))
        .map(|v| v.name.as_str())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let kept = own.trim().trim_end_matches(',');
    let value = if kept.is_empty() {
        missing.join(",")
    } else {
        format!("{kept},{}", missing.join(","))
    };
    Some((SAFE_TO_EVICT_LOCAL_VOLUMES, Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::Volume;
    use k8s_openapi::api::core::v1::EmptyDirVolumeSource;

    fn plan(volumes: &[(&str, bool)]) -> Plan<'static> {
        Plan {
            volumes: volumes
                .iter()
                .map(|(name, empty_dir)| Volume {
                    name: name.to_string(),
                    empty_dir: empty_dir.then(EmptyDirVolumeSource::default),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn pod(own: Option<&str>) -> PodView {
        let annotations = own.map(|v| serde_json::json!({SAFE_TO_EVICT_LOCAL_VOLUMES: v}));
        serde_json::from_value(serde_json::json!({"metadata": {"annotations": annotations}}))
            .unwrap()
    }

    #[test]
    fn the_emptydir_joins_the_pods_own_list_once() {
        let p = plan(&[("otel-auto-secret-tls", false), ("packages", true)]);
        let value = |own| safe_to_evict(&pod(own), &p).and_then(|(_, v)| v);
        assert_eq!(value(None).as_deref(), Some("packages"));
        assert_eq!(value(Some("")).as_deref(), Some("packages"));
        assert_eq!(value(Some("cache")).as_deref(), Some("cache,packages"));
        assert_eq!(
            value(Some("cache, tmp,")).as_deref(),
            Some("cache, tmp,packages")
        );
        assert_eq!(value(Some("cache, packages")), None);
        assert_eq!(safe_to_evict(&pod(None), &plan(&[("claim", false)])), None);
    }
}
