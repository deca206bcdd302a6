//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, by the operator's layering.
//!
//! OpenTelemetry resource attributes (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`): the
//! operator's layering of the spec's attributes, Kubernetes facts, owner references and
//! `resource.opentelemetry.io/*` annotations, always below what the container's own
//! `OTEL_RESOURCE_ATTRIBUTES` already says (its `createResourceMap` and `injectCommonSDKConfig`).
//! The attributes borrow their keys and values from the spec and the pod; only the final
//! `key=value,...` text is written out.

use std::borrow::Cow;

use crate::inject::env::{Entry, Fixed};
use crate::instrumentation::InstrumentationSpec;
use crate::keys::{
    RESOURCE_PREFIX, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_VERSION,
};
use crate::operator::{NODE_NAME_VAR, POD_NAME_VAR, POD_UID_VAR};
use crate::pod::{ContainerView, Owner, PodView};
use crate::syntax::image_ref;

/// What one container gets: its service name, the downward-API variables that the attribute
/// values refer to (in the operator's order), and the attributes as `k=v,...`.
#[derive(Debug, Clone)]
pub struct ContainerResource {
    /// `OTEL_SERVICE_NAME`.
    pub service_name: String,
    /// The downward-API variables the attribute values refer to, in the operator's order.
    pub field_refs: Vec<Entry<'static>>,
    /// `OTEL_RESOURCE_ATTRIBUTES`'s value, `key=value,...`.
    pub attributes: String,
}

/// An attribute's value, as it is written into `OTEL_RESOURCE_ATTRIBUTES`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    /// Text from the spec, the pod or the namespace.
    Text(&'a str),
    /// `$(VAR)`: a downward-API variable the container gets.
    Var(&'static str),
    /// `<namespace>.$(POD_NAME_VAR).<container>`: the generated `service.instance.id`.
    Instance(&'a str, &'a str),
}

impl Value<'_> {
    fn is_empty(&self) -> bool {
        matches!(self, Value::Text(""))
    }

    /// The length of the written value.
    fn len(&self) -> usize {
        let var = |name: &str| name.len() + 3;
        match *self {
            Value::Text(text) => text.len(),
            Value::Var(name) => var(name),
            Value::Instance(namespace, container) => {
                namespace.len() + var(POD_NAME_VAR) + container.len() + 2
            }
        }
    }

    fn write_to(&self, out: &mut String) {
        match *self {
            Value::Text(text) => out.push_str(text),
            Value::Var(var) => push_var(out, var),
            Value::Instance(namespace, container) => {
                out.push_str(namespace);
                out.push('.');
                push_var(out, POD_NAME_VAR);
                out.push('.');
                out.push_str(container);
            }
        }
    }
}

/// `$(VAR)`.
fn push_var(out: &mut String, var: &str) {
    out.push_str("$(");
    out.push_str(var);
    out.push(')');
}

/// The attributes of one container, each key once (a later value replaces an earlier one, as in
/// the operator's map), and the keys the user's `OTEL_RESOURCE_ATTRIBUTES` sets, which are never
/// set again. A few dozen entries at most: a list beats a map.
#[derive(Debug, Default)]
struct Attributes<'a> {
    entries: Vec<(&'a str, Value<'a>)>,
    existing: Vec<&'a str>,
}

impl<'a> Attributes<'a> {
    /// No attributes yet; `user` is the container's `OTEL_RESOURCE_ATTRIBUTES` value (literal).
    fn below(user: &'a str) -> Self {
        Attributes {
            entries: Vec::with_capacity(12),
            existing: existing_keys(user),
        }
    }

    /// Sets `key` unless the user set it.
    fn put(&mut self, key: &'a str, value: Value<'a>) {
        if self.existing.contains(&key) {
            return;
        }
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Sets `key` to `value` when the value is not empty (and the user did not set the key).
    fn put_text(&mut self, key: &'a str, value: &'a str) {
        if !value.is_empty() {
            self.put(key, Value::Text(value));
        }
    }

    /// The value set for `key`.
    fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether `key` is set, here or by the user.
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some() || self.existing.contains(&key)
    }

    /// `k=v` pairs sorted by key, joined with ','.
    fn into_text(mut self) -> String {
        self.entries.sort_unstable_by_key(|&(k, _)| k);
        let len = self.entries.iter().map(|(k, v)| k.len() + v.len() + 2);
        let mut out = String::with_capacity(len.sum());
        for (k, v) in &self.entries {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            v.write_to(&mut out);
        }
        out
    }
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
    let version = (!user.contains("service.version"))
        .then(|| service_version(spec, pod, &container.image))
        .flatten();
    let mut res = resource_map(spec, pod, namespace, &container.name, user);
    let service_name = service_name(spec, pod, &res, &container.name);
    let mut field_refs = Vec::with_capacity(3);
    field_refs.push(Entry::Fixed(Fixed::POD_NAME));
    // The `$(VAR)` entries come after the map; the user's keys still win.
    res.put("k8s.pod.name", Value::Var(POD_NAME_VAR));
    if spec.add_k8s_uid_attributes() && !res.has("k8s.pod.uid") {
        field_refs.push(Entry::Fixed(Fixed::POD_UID));
        res.put("k8s.pod.uid", Value::Var(POD_UID_VAR));
    }
    if let Some(version) = &version {
        res.put("service.version", Value::Text(version));
    }
    if !res.has("k8s.node.name") {
        field_refs.push(Entry::Fixed(Fixed::NODE_NAME));
        res.put("k8s.node.name", Value::Var(NODE_NAME_VAR));
    }
    ContainerResource {
        service_name,
        field_refs,
        attributes: res.into_text(),
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
    let res = resource_map(spec, pod, namespace, &container.name, user);
    service_name(spec, pod, &res, &container.name)
}

/// The keys a user's `OTEL_RESOURCE_ATTRIBUTES` value sets (pairs with exactly one '=').
fn existing_keys(value: &str) -> Vec<&str> {
    value
        .split(',')
        .filter_map(|kv| {
            let mut parts = kv.trim().split('=');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(k), Some(_), None) => Some(k),
                _ => None,
            }
        })
        .collect()
}

/// The attributes of one container, before the `$(VAR)` entries; keys `user` sets are left out.
fn resource_map<'a>(
    spec: &'a InstrumentationSpec,
    pod: &'a PodView,
    namespace: &'a str,
    container: &'a str,
    user: &'a str,
) -> Attributes<'a> {
    let mut res = Attributes::below(user);
    // 1. The spec's own attributes: the lowest layer.
    if let Some(attrs) = spec
        .resource
        .as_ref()
        .and_then(|r| r.resource_attributes.as_ref())
    {
        for (k, v) in attrs {
            res.put_text(k, v);
        }
    }
    // 2. Kubernetes facts and owners.
    res.put_text("k8s.namespace.name", namespace);
    res.put_text("k8s.container.name", container);
    res.put_text("k8s.pod.name", pod.name());
    res.put_text("k8s.pod.uid", pod.uid());
    res.put_text("k8s.node.name", &pod.spec.node_name);
    match pod.annotation(SERVICE_INSTANCE_ID) {
        "" if !namespace.is_empty() && !container.is_empty() => {
            res.put("service.instance.id", Value::Instance(namespace, container))
        }
        a => res.put_text("service.instance.id", a),
    }
    owner_attributes(pod, spec.add_k8s_uid_attributes(), &mut res);
    // 3. `resource.opentelemetry.io/<key>` annotations, except service.name (that one is OTEL_SERVICE_NAME).
    for (k, v) in pod.metadata.annotations.iter().flatten() {
        if let Some(key) = k.strip_prefix(RESOURCE_PREFIX)
            && !key.is_empty()
            && key != "service.name"
        {
            res.put_text(key, v);
        }
    }
    // 4. service.namespace: the annotation, else the pod's namespace.
    let service_ns = match pod.annotation(SERVICE_NAMESPACE) {
        "" => namespace,
        a => a,
    };
    res.put_text("service.namespace", service_ns);
    res
}

/// The owner kinds that give attributes (lowercase), with their name and uid keys.
const OWNER_KINDS: [(&str, &str, &str); 6] = [
    ("replicaset", "k8s.replicaset.name", "k8s.replicaset.uid"),
    ("deployment", "k8s.deployment.name", "k8s.deployment.uid"),
    ("statefulset", "k8s.statefulset.name", "k8s.statefulset.uid"),
    ("daemonset", "k8s.daemonset.name", "k8s.daemonset.uid"),
    ("job", "k8s.job.name", "k8s.job.uid"),
    ("cronjob", "k8s.cronjob.name", "k8s.cronjob.uid"),
];

/// `k8s.<kind>.name` (and `.uid`) from owner references. A ReplicaSet's Deployment is derived from
/// the ReplicaSet's name and the pod's `pod-template-hash` label in settings-only mode; cluster
/// mode looks it up, as the operator does.
fn owner_attributes<'a>(pod: &'a PodView, with_uid: bool, res: &mut Attributes<'a>) {
    let keys = |owner: &Owner| {
        OWNER_KINDS
            .into_iter()
            .find(|(kind, _, _)| owner.kind.eq_ignore_ascii_case(kind))
    };
    let put = |res: &mut Attributes<'a>, owner: &'a Owner, name_key, uid_key| {
        res.put_text(name_key, &owner.name);
        if with_uid {
            res.put_text(uid_key, &owner.uid);
        }
    };
    for owner in pod.metadata.owner_references.iter().flatten() {
        let Some((kind, name_key, uid_key)) = keys(owner) else {
            continue;
        };
        put(res, owner, name_key, uid_key);
        if kind == "replicaset"
            && pod.metadata.owners_owner.is_none()
            && let Some(deployment) = deployment_of(&owner.name, pod.label("pod-template-hash"))
        {
            res.put_text("k8s.deployment.name", deployment);
        }
    }
    // Cluster mode: the owners' owner, as the cluster says (the operator's lookup).
    for owner in pod.metadata.owners_owner.iter().flatten() {
        if let Some((kind, name_key, uid_key)) = keys(owner)
            && matches!(kind, "deployment" | "cronjob")
        {
            put(res, owner, name_key, uid_key);
        }
    }
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
    res: &Attributes<'_>,
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
            let mut name = String::new();
            v.write_to(&mut name);
            return name;
        }
    }
    container.to_string()
}

/// `service.version`: the annotation, the `app.kubernetes.io/version` label (with labels on), or
/// the container image's tag/digest.
fn service_version<'a>(
    spec: &InstrumentationSpec,
    pod: &'a PodView,
    image: &str,
) -> Option<Cow<'a, str>> {
    let annotation = pod.annotation(SERVICE_VERSION);
    if !annotation.is_empty() {
        return Some(Cow::Borrowed(annotation));
    }
    if spec.use_labels() {
        let label = pod.label("app.kubernetes.io/version");
        if !label.is_empty() {
            return Some(Cow::Borrowed(label));
        }
    }
    image_ref::parse(image)
        .ok()?
        .service_version()
        .map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> PodView {
        serde_json::from_value(v).unwrap()
    }

    /// The text of the value set for `key`.
    fn text(res: &Attributes<'_>, key: &str) -> Option<String> {
        res.get(key).map(|v| {
            let mut out = String::new();
            v.write_to(&mut out);
            out
        })
    }

    #[test]
    fn existing_keys_take_only_single_equals_pairs() {
        let keys = existing_keys(" a=1 ,b=2=3,c,d=, =x");
        assert_eq!(keys, ["a", "d", ""]);
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
        let res = resource_map(&spec, &p, "shop", "app", "env=staging");
        assert_eq!(
            text(&res, "team"),
            Some("b".into()),
            "annotations beat the spec"
        );
        assert_eq!(
            text(&res, "k8s.namespace.name"),
            Some("shop".into()),
            "facts beat the spec"
        );
        assert!(
            res.get("env").is_none(),
            "the user's own value is never overridden"
        );
        assert!(res.get("service.name").is_none());
        assert_eq!(text(&res, "k8s.replicaset.name"), Some("web-abc12".into()));
        assert_eq!(text(&res, "k8s.deployment.name"), Some("web".into()));
        assert_eq!(
            text(&res, "service.instance.id"),
            Some("shop.$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME).app".into())
        );
        assert_eq!(text(&res, "service.namespace"), Some("shop".into()));
        assert!(res.get("k8s.replicaset.uid").is_none());
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
        let mut res = Attributes::default();
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "ctr");
        res.put_text("k8s.pod.name", "pod-1");
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "pod-1");
        res.put_text("k8s.job.name", "job");
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "job");
        res.put_text("k8s.cronjob.name", "cron");
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "cron");
        res.put_text("k8s.statefulset.name", "sts");
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "sts");
        res.put_text("k8s.replicaset.name", "rs");
        assert_eq!(service_name(&spec, &p, &res, "ctr"), "rs");
        res.put_text("k8s.deployment.name", "dep");
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
    fn attributes_are_written_sorted_once_each_below_the_user() {
        let mut res = Attributes::below("b=user,c=1=2");
        res.put_text("z", "last");
        res.put_text("a", "first");
        res.put_text("a", "");
        res.put_text("b", "policy");
        res.put("c", Value::Var(POD_UID_VAR));
        res.put("i", Value::Instance("ns", "ctr"));
        res.put_text("a", "replaced");
        assert!(res.has("b") && res.get("y").is_none());
        for (_, v) in &res.entries {
            let mut written = String::new();
            v.write_to(&mut written);
            assert_eq!(v.len(), written.len(), "{written}");
        }
        assert_eq!(
            res.into_text(),
            "a=replaced,c=$(OTEL_RESOURCE_ATTRIBUTES_POD_UID),\
             i=ns.$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME).ctr,z=last"
        );
    }
}
