//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, by the operator's layering.
//!
//! OpenTelemetry resource attributes (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`): the
//! operator's layering of the spec's attributes, Kubernetes facts, owner references and
//! `resource.opentelemetry.io/*` annotations, always below what the container's own
//! `OTEL_RESOURCE_ATTRIBUTES` already says (its `createResourceMap` and `injectCommonSDKConfig`).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::EnvVar;

use crate::inject::env::field_ref;
use crate::instrumentation::InstrumentationSpec;
use crate::keys::{
    RESOURCE_PREFIX, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_VERSION,
};
use crate::operator::{NODE_NAME_VAR, POD_NAME_VAR, POD_UID_VAR};
use crate::pod::{ContainerView, PodView};
use crate::syntax::image_ref;

/// What one container gets: its service name, the downward-API variables that the attribute
/// values refer to (in the operator's order), and the attributes as `k=v,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerResource {
    /// `OTEL_SERVICE_NAME`.
    pub service_name: String,
    /// The downward-API variables the attribute values refer to, in the operator's order.
    pub field_refs: Vec<EnvVar>,
    /// `OTEL_RESOURCE_ATTRIBUTES`'s value, `key=value,...`.
    pub attributes: String,
}

/// The resource of `container` in `pod`. `user` is the `OTEL_RESOURCE_ATTRIBUTES` value already
/// set for the container (literal), whose keys are never set again.
pub fn for_container(
    spec: &InstrumentationSpec,
    pod: &PodView,
    namespace: &str,
    container: &ContainerView,
    user: &str,
) -> ContainerResource {
    let existing = existing_keys(user);
    let mut res = resource_map(spec, pod, namespace, &container.name, &existing);
    let service_name = service_name(spec, pod, &res, &container.name);
    let mut field_refs = vec![field_ref(POD_NAME_VAR, "metadata.name")];
    // The `$(VAR)` entries come after the map; the user's keys still win.
    let put = |res: &mut BTreeMap<String, String>, key: &str, value: String| {
        if !existing.contains(key) {
            res.insert(key.to_string(), value);
        }
    };
    put(&mut res, "k8s.pod.name", format!("$({POD_NAME_VAR})"));
    if spec.add_k8s_uid_attributes()
        && !res.contains_key("k8s.pod.uid")
        && !existing.contains("k8s.pod.uid")
    {
        field_refs.push(field_ref(POD_UID_VAR, "metadata.uid"));
        put(&mut res, "k8s.pod.uid", format!("$({POD_UID_VAR})"));
    }
    if !user.contains("service.version")
        && let Some(version) = service_version(spec, pod, &container.image)
    {
        put(&mut res, "service.version", version);
    }
    if !res.contains_key("k8s.node.name") && !existing.contains("k8s.node.name") {
        field_refs.push(field_ref(NODE_NAME_VAR, "spec.nodeName"));
        put(&mut res, "k8s.node.name", format!("$({NODE_NAME_VAR})"));
    }
    ContainerResource {
        service_name,
        field_refs,
        attributes: to_attribute_string(&res),
    }
}

/// The service name [`for_container`] gives, without the rest of the resource.
pub fn service_name_for(
    spec: &InstrumentationSpec,
    pod: &PodView,
    namespace: &str,
    container: &ContainerView,
    user: &str,
) -> String {
    let existing = existing_keys(user);
    let res = resource_map(spec, pod, namespace, &container.name, &existing);
    service_name(spec, pod, &res, &container.name)
}

/// The keys a user's `OTEL_RESOURCE_ATTRIBUTES` value sets (pairs with exactly one '=').
fn existing_keys(value: &str) -> HashSet<String> {
    value
        .split(',')
        .filter_map(|kv| {
            let kv = kv.trim();
            let mut parts = kv.split('=');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(k), Some(_), None) => Some(k.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The attributes of one container, before the `$(VAR)` entries; keys in `existing` are left out.
fn resource_map(
    spec: &InstrumentationSpec,
    pod: &PodView,
    namespace: &str,
    container: &str,
    existing: &HashSet<String>,
) -> BTreeMap<String, String> {
    let mut res = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() && !existing.contains(k) {
            res.insert(k.to_string(), v.to_string());
        }
    };
    // 1. The spec's own attributes: the lowest layer.
    if let Some(attrs) = spec
        .resource
        .as_ref()
        .and_then(|r| r.resource_attributes.as_ref())
    {
        for (k, v) in attrs {
            put(k, v);
        }
    }
    // 2. Kubernetes facts and owners.
    put("k8s.namespace.name", namespace);
    put("k8s.container.name", container);
    put("k8s.pod.name", pod.name());
    put("k8s.pod.uid", pod.uid());
    put("k8s.node.name", &pod.spec.node_name);
    let instance = match pod.annotation(SERVICE_INSTANCE_ID) {
        "" if !namespace.is_empty() && !container.is_empty() => {
            format!("{namespace}.$({POD_NAME_VAR}).{container}")
        }
        a => a.to_string(),
    };
    put("service.instance.id", &instance);
    for (k, v) in owner_attributes(pod, spec.add_k8s_uid_attributes()) {
        put(&k, &v);
    }
    // 3. `resource.opentelemetry.io/<key>` annotations, except service.name (that one is OTEL_SERVICE_NAME).
    if let Some(annotations) = &pod.metadata.annotations {
        for (k, v) in annotations {
            if let Some(key) = k.strip_prefix(RESOURCE_PREFIX)
                && !key.is_empty()
                && key != "service.name"
            {
                put(key, v);
            }
        }
    }
    // 4. service.namespace: the annotation, else the pod's namespace.
    let service_ns = match pod.annotation(SERVICE_NAMESPACE) {
        "" => namespace,
        a => a,
    };
    put("service.namespace", service_ns);
    res
}

/// `k8s.<kind>.name` (and `.uid`) from owner references. A ReplicaSet's Deployment is derived from
/// the ReplicaSet's name and the pod's `pod-template-hash` label in settings-only mode; cluster
/// mode looks it up, as the operator does.
fn owner_attributes(pod: &PodView, with_uid: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for owner in pod.metadata.owner_references.iter().flatten() {
        let kind = owner.kind.to_ascii_lowercase();
        let kind = match kind.as_str() {
            "replicaset" | "deployment" | "statefulset" | "daemonset" | "job" | "cronjob" => kind,
            _ => continue,
        };
        out.push((format!("k8s.{kind}.name"), owner.name.clone()));
        if with_uid {
            out.push((format!("k8s.{kind}.uid"), owner.uid.clone()));
        }
        if kind == "replicaset"
            && pod.metadata.owners_owner.is_none()
            && let Some(deployment) = deployment_of(&owner.name, pod.label("pod-template-hash"))
        {
            out.push(("k8s.deployment.name".to_string(), deployment.to_string()));
        }
    }
    // Cluster mode: the owners' owner, as the cluster says (the operator's lookup).
    for owner in pod.metadata.owners_owner.iter().flatten() {
        let kind = owner.kind.to_ascii_lowercase();
        if matches!(kind.as_str(), "deployment" | "cronjob") {
            out.push((format!("k8s.{kind}.name"), owner.name.clone()));
            if with_uid {
                out.push((format!("k8s.{kind}.uid"), owner.uid.clone()));
            }
        }
    }
    out
}

/// `hello-deploy-7d9c8b6f5d` with hash `7d9c8b6f5d` → `hello-deploy`.
pub fn deployment_of<'a>(replicaset: &'a str, hash: &str) -> Option<&'a str> {
    if hash.is_empty() {
        return None;
    }
    replicaset
        .strip_suffix(hash)?
        .strip_suffix('-')
        .filter(|d| !d.is_empty())
}

/// The service name, in the operator's order of preference.
fn service_name(
    spec: &InstrumentationSpec,
    pod: &PodView,
    res: &BTreeMap<String, String>,
    container: &str,
) -> String {
    let annotation = pod.annotation(SERVICE_NAME);
    if !annotation.is_empty() {
        return annotation.to_string();
    }
    if spec.use_labels() {
        for label in ["app.kubernetes.io/instance", "app.kubernetes.io/name"] {
            if !pod.label(label).is_empty() {
                return pod.label(label).to_string();
            }
        }
    }
    for key in [
        "k8s.deployment.name",
        "k8s.replicaset.name",
        "k8s.statefulset.name",
        "k8s.daemonset.name",
        "k8s.cronjob.name",
        "k8s.job.name",
        "k8s.pod.name",
    ] {
        if let Some(v) = res.get(key).filter(|v| !v.is_empty()) {
            return v.clone();
        }
    }
    container.to_string()
}

/// `service.version`: the annotation, the `app.kubernetes.io/version` label (with labels on), or
/// the container image's tag/digest.
fn service_version(spec: &InstrumentationSpec, pod: &PodView, image: &str) -> Option<String> {
    let annotation = pod.annotation(SERVICE_VERSION);
    if !annotation.is_empty() {
        return Some(annotation.to_string());
    }
    if spec.use_labels() && !pod.label("app.kubernetes.io/version").is_empty() {
        return Some(pod.label("app.kubernetes.io/version").to_string());
    }
    image_ref::parse(image).ok()?.service_version()
}

/// `k=v` pairs sorted by key, joined with ','.
fn to_attribute_string(res: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in res {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> PodView {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn existing_keys_take_only_single_equals_pairs() {
        let keys = existing_keys(" a=1 ,b=2=3,c,d=, =x");
        assert!(keys.contains("a") && keys.contains("d") && keys.contains(""));
        assert!(!keys.contains("b") && !keys.contains("c"));
    }

    #[test]
    fn deployment_derivation() {
        assert_eq!(
            deployment_of("hello-deploy-7d9c8b6f5d", "7d9c8b6f5d"),
            Some("hello-deploy")
        );
        assert_eq!(deployment_of("hello-deploy-7d9c8b6f5d", ""), None);
        assert_eq!(deployment_of("hello-deploy-7d9c8b6f5d", "other"), None);
        assert_eq!(deployment_of("-7d9c", "7d9c"), None);
        assert_eq!(deployment_of("x7d9c", "7d9c"), None);
    }

    #[test]
    fn layers_and_precedence() {
        let spec: InstrumentationSpec = serde_json::from_value(json!({
            "resource": {"resourceAttributes": {"team": "a", "k8s.namespace.name": "spec-loses", "env": "prod"}}
        }))
        .unwrap();
        let p = pod(json!({
            "metadata": {
                "labels": {"pod-template-hash": "abc12"},
                "annotations": {"resource.opentelemetry.io/team": "b", "resource.opentelemetry.io/service.name": "ignored-here"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc12", "uid": "u1"}]
            },
            "spec": {"containers": [{"name": "app"}]}
        }));
        let existing = existing_keys("env=staging");
        let res = resource_map(&spec, &p, "shop", "app", &existing);
        assert_eq!(
            res.get("team").map(String::as_str),
            Some("b"),
            "annotations beat the spec"
        );
        assert_eq!(
            res.get("k8s.namespace.name").map(String::as_str),
            Some("shop"),
            "facts beat the spec"
        );
        assert!(
            !res.contains_key("env"),
            "the user's own value is never overridden"
        );
        assert!(!res.contains_key("service.name"));
        assert_eq!(
            res.get("k8s.replicaset.name").map(String::as_str),
            Some("web-abc12")
        );
        assert_eq!(
            res.get("k8s.deployment.name").map(String::as_str),
            Some("web")
        );
        assert_eq!(
            res.get("service.instance.id").map(String::as_str),
            Some("shop.$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME).app")
        );
        assert_eq!(
            res.get("service.namespace").map(String::as_str),
            Some("shop")
        );
        assert!(!res.contains_key("k8s.replicaset.uid"));
        assert_eq!(
            service_name(&spec, &p, &res, "app"),
            "ignored-here",
            "the annotation wins the service name"
        );
    }

    #[test]
    fn service_name_order() {
        let spec = InstrumentationSpec::default();
        let p = pod(json!({"metadata": {"labels": {"app.kubernetes.io/name": "lbl"}}}));
        let mut res = BTreeMap::new();
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "ctr");
        res.insert("k8s.pod.name".to_string(), "pod-1".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "pod-1");
        res.insert("k8s.job.name".to_string(), "job".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "job");
        res.insert("k8s.cronjob.name".to_string(), "cron".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "cron");
        res.insert("k8s.statefulset.name".to_string(), "sts".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "sts");
        res.insert("k8s.replicaset.name".to_string(), "rs".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "rs");
        res.insert("k8s.deployment.name".to_string(), "dep".to_string());
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "dep");
        let labelled: InstrumentationSpec =
            serde_json::from_value(json!({"defaults": {"useLabelsForResourceAttributes": true}}))
                .unwrap();
        assert_eq!(service_name(&labelled, &p, &res, "ctr"), "lbl");
    }

    #[test]
    fn service_version_sources() {
        let spec = InstrumentationSpec::default();
        let labelled: InstrumentationSpec =
            serde_json::from_value(json!({"defaults": {"useLabelsForResourceAttributes": true}}))
                .unwrap();
        let p = pod(json!({"metadata": {"labels": {"app.kubernetes.io/version": "9"}}}));
        assert_eq!(service_version(&spec, &p, "app:1.2"), Some("1.2".into()));
        assert_eq!(service_version(&labelled, &p, "app:1.2"), Some("9".into()));
        assert_eq!(service_version(&spec, &p, "registry:10443/img"), None);
        let annotated = pod(
            json!({"metadata": {"annotations": {"resource.opentelemetry.io/service.version": "v7"}}}),
        );
        assert_eq!(
            service_version(&spec, &annotated, "app:1.2"),
            Some("v7".into())
        );
    }

    #[test]
    fn attribute_string_is_sorted() {
        let m = BTreeMap::from([
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        assert_eq!(to_attribute_string(&m), "a=1,b=2");
    }
}
