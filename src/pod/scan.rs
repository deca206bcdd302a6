//! The pod read by the strict one-pass scanner, field for field as the derived serde readers
//! read it: `None` for anything the scanner leaves to serde_json (a string or key with escapes,
//! a field given twice, a value of an unexpected type, `null` where serde_json refuses it), which
//! then reads the pod again and says what is wrong.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{
    ContainerView, EnvEntry, MountView, NamedItem, Owner, PodMeta, PodSecurityView, PodSpecView,
    PodView, VolumeView,
};
use crate::syntax::json_text::{Scanner, member, once, or_null};

/// The pod at `path` (object keys from the root) in `object`, as `PodView::read` reads it;
/// absent, `null` or not an object reads as empty.
pub(super) fn read(object: &str, path: &[&str]) -> Option<PodView> {
    Some(at(&mut Scanner::new(object), path)?.unwrap_or_default())
}

/// The pod at `path` from here: `Some(None)` when a step is absent or not an object.
fn at(scan: &mut Scanner<'_>, path: &[&str]) -> Option<Option<PodView>> {
    if scan.peek()? != b'{' {
        scan.skip_value()?;
        return Some(None);
    }
    let Some((step, rest)) = path.split_first() else {
        return pod(scan).map(Some);
    };
    member(scan, step, |scan| at(scan, rest))
}

/// An array (`null`: empty) of what `item` reads.
fn list<'a, T>(
    scan: &mut Scanner<'a>,
    mut item: impl FnMut(&mut Scanner<'a>) -> Option<T>,
) -> Option<Option<Vec<T>>> {
    or_null(scan, |scan| {
        let mut items = Vec::new();
        scan.elements(|scan| {
            items.push(item(scan)?);
            Some(())
        })?;
        Some(items)
    })
}

/// A string without escapes, as an owned string.
fn string(scan: &mut Scanner<'_>) -> Option<String> {
    scan.plain_string().map(str::to_string)
}

/// A string without escapes or `null` (`None`).
fn string_or_null(scan: &mut Scanner<'_>) -> Option<Option<String>> {
    Some(scan.plain_string_or_null()?.map(str::to_string))
}

/// A value read once, absent or `null` as its default.
fn value<T: Default>(slot: Option<Option<T>>) -> T {
    slot.flatten().unwrap_or_default()
}

/// The pod object that starts here.
fn pod(scan: &mut Scanner<'_>) -> Option<PodView> {
    let (mut metadata, mut spec) = (None, None);
    scan.members(|scan, key| match key {
        "metadata" => once(&mut metadata, or_null(scan, meta)?),
        "spec" => once(&mut spec, or_null(scan, pod_spec)?),
        _ => scan.skip_value(),
    })?;
    Some(PodView {
        metadata: value(metadata),
        spec: value(spec),
    })
}

/// The pod's metadata.
fn meta(scan: &mut Scanner<'_>) -> Option<PodMeta> {
    let (mut name, mut generate_name, mut namespace, mut uid) = (None, None, None, None);
    let (mut labels, mut annotations, mut owners) = (None, None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        "generateName" => once(&mut generate_name, string_or_null(scan)?),
        "namespace" => once(&mut namespace, string_or_null(scan)?),
        "uid" => once(&mut uid, string_or_null(scan)?),
        "labels" => once(&mut labels, or_null(scan, string_map)?),
        "annotations" => once(&mut annotations, or_null(scan, string_map)?),
        "ownerReferences" => once(&mut owners, list(scan, owner)?),
        _ => scan.skip_value(),
    })?;
    Some(PodMeta {
        name: name.flatten(),
        generate_name: generate_name.flatten(),
        namespace: namespace.flatten(),
        uid: uid.flatten(),
        labels: labels.flatten(),
        annotations: annotations.flatten(),
        owner_references: owners.flatten(),
        owners_owner: None,
    })
}

/// An object of strings (a key given twice keeps its last value, as serde_json's map does).
fn string_map(scan: &mut Scanner<'_>) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    scan.members(|scan, key| {
        map.insert(key.to_string(), string(scan)?);
        Some(())
    })?;
    Some(map)
}

/// An owner reference.
fn owner(scan: &mut Scanner<'_>) -> Option<Owner> {
    let (mut kind, mut name, mut uid, mut controller) = (None, None, None, None);
    scan.members(|scan, key| match key {
        "kind" => once(&mut kind, string_or_null(scan)?),
        "name" => once(&mut name, string_or_null(scan)?),
        "uid" => once(&mut uid, string_or_null(scan)?),
        "controller" => once(&mut controller, or_null(scan, boolean)?),
        _ => scan.skip_value(),
    })?;
    Some(Owner {
        kind: value(kind),
        name: value(name),
        uid: value(uid),
        controller: controller.flatten(),
    })
}

/// `true` or `false`.
fn boolean(scan: &mut Scanner<'_>) -> Option<bool> {
    match scan.raw_value()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A non-negative integer that fits an `i64`, written without sign, fraction or exponent.
fn integer(scan: &mut Scanner<'_>) -> Option<i64> {
    let text = scan.raw_value()?;
    text.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
    text.parse().ok()
}

/// The pod's spec.
fn pod_spec(scan: &mut Scanner<'_>) -> Option<PodSpecView> {
    let (mut containers, mut init_containers, mut volumes) = (None, None, None);
    let (mut secrets, mut node_name, mut security) = (None, None, None);
    scan.members(|scan, key| match key {
        "containers" => once(&mut containers, list(scan, container)?),
        "initContainers" => once(&mut init_containers, list(scan, container)?),
        "volumes" => once(&mut volumes, list(scan, volume)?),
        "imagePullSecrets" => once(&mut secrets, list(scan, named)?),
        "nodeName" => once(&mut node_name, string_or_null(scan)?),
        "securityContext" => once(&mut security, or_null(scan, pod_security)?),
        _ => scan.skip_value(),
    })?;
    Some(PodSpecView {
        containers: value(containers),
        init_containers: value(init_containers),
        volumes: value(volumes),
        image_pull_secrets: value(secrets),
        node_name: value(node_name),
        security_context: value(security),
    })
}

/// The pod's security context.
fn pod_security(scan: &mut Scanner<'_>) -> Option<PodSecurityView> {
    let mut run_as_user = None;
    scan.members(|scan, key| match key {
        "runAsUser" => once(&mut run_as_user, or_null(scan, integer)?),
        _ => scan.skip_value(),
    })?;
    Some(PodSecurityView {
        run_as_user: run_as_user.flatten(),
    })
}

/// A container.
fn container(scan: &mut Scanner<'_>) -> Option<ContainerView> {
    let (mut name, mut image, mut env, mut working_dir) = (None, None, None, None);
    let (mut command, mut args, mut mounts) = (None, None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        "image" => once(&mut image, string_or_null(scan)?),
        "env" => once(&mut env, list(scan, env_entry)?),
        "command" => once(&mut command, list(scan, string)?),
        "args" => once(&mut args, list(scan, string)?),
        "workingDir" => once(&mut working_dir, string_or_null(scan)?),
        "volumeMounts" => once(&mut mounts, list(scan, mount)?),
        _ => scan.skip_value(),
    })?;
    Some(ContainerView {
        name: value(name),
        image: value(image),
        env: value(env),
        command: value(command),
        args: value(args),
        working_dir: value(working_dir),
        volume_mounts: value(mounts),
    })
}

/// A container's env entry (`valueFrom` kept as written).
fn env_entry(scan: &mut Scanner<'_>) -> Option<EnvEntry> {
    let (mut name, mut literal, mut value_from) = (None, None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        "value" => once(&mut literal, string_or_null(scan)?),
        "valueFrom" => once(&mut value_from, scan.raw_value_or_null()?),
        _ => scan.skip_value(),
    })?;
    let value_from = match value_from.flatten() {
        Some(text) => Some(RawValue::from_string(text.to_string()).ok()?),
        None => None,
    };
    Some(EnvEntry {
        name: value(name),
        value: literal.flatten(),
        value_from,
    })
}

/// A volume mount.
fn mount(scan: &mut Scanner<'_>) -> Option<MountView> {
    let (mut name, mut mount_path) = (None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        "mountPath" => once(&mut mount_path, string_or_null(scan)?),
        _ => scan.skip_value(),
    })?;
    Some(MountView {
        name: value(name),
        mount_path: value(mount_path),
    })
}

/// A pull secret's reference.
fn named(scan: &mut Scanner<'_>) -> Option<NamedItem> {
    let mut name = None;
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        _ => scan.skip_value(),
    })?;
    Some(NamedItem { name: value(name) })
}

/// A volume: its name, and whether it has an `image` (`null` is absent).
fn volume(scan: &mut Scanner<'_>) -> Option<VolumeView> {
    let (mut name, mut image) = (None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, string_or_null(scan)?),
        "image" => once(&mut image, or_null(scan, Scanner::skip_value)?),
        _ => scan.skip_value(),
    })?;
    Some(VolumeView {
        name: value(name),
        image: image.flatten().map(|()| IgnoredAny),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    /// The scanner's pod, which must be the derived readers' pod (compared as printed).
    fn scanned(object: &str, template: &'static [&'static str]) -> Option<PodView> {
        let pod = read(object, template)?;
        let target = Target {
            template,
            ..Target::POD
        };
        let derived = PodView::read_derived(object, &target).unwrap();
        assert_eq!(format!("{pod:?}"), format!("{derived:?}"), "{object}");
        Some(pod)
    }

    #[test]
    fn the_scanner_reads_pods_as_the_derived_readers_do() {
        let full = r#"{"kind": "Pod", "metadata": {"name": "p", "generateName": "g-",
            "namespace": "ns", "uid": "u", "labels": {"a": "1", "a": "2", "b": "x"},
            "annotations": {}, "ownerReferences": [{"kind": "ReplicaSet", "name": "r",
            "uid": "v", "controller": true, "extra": [1, {"x": null}]}, {"controller": null}]},
            "spec": {"nodeName": "n", "securityContext": {"runAsUser": 1000, "fsGroup": 2},
            "imagePullSecrets": [{"name": "s"}, {}], "volumes": [{"name": "v",
            "image": {"reference": "i"}}, {"name": "w", "image": null, "emptyDir": {}}],
            "containers": [{"name": "app", "image": "python:3", "command": ["python"],
            "args": [], "workingDir": "/app", "env": [{"name": "A", "value": "1"},
            {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "C", "value": null, "valueFrom": null}],
            "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": true}]}],
            "initContainers": null}, "status": {"phase": "Pending"}}"#;
        let pod = scanned(full, &[]).expect("the scanner reads it");
        assert_eq!(pod.label("a"), "2");
        assert_eq!(pod.spec.containers[0].env.len(), 3);
        for (request, template) in [
            (
                include_str!("../../tests/inputs/requests/article-pod.json"),
                &[][..],
            ),
            (
                include_str!("../../tests/inputs/requests/article-deployment.json"),
                &["spec", "template"][..],
            ),
        ] {
            let object = crate::syntax::json_text::value_at(request, &["request", "object"]);
            let object = object.expect("the request has an object").to_string();
            let article = scanned(&object, template).expect("the scanner reads the article");
            assert!(!article.spec.containers.is_empty());
        }
        for plain in [
            "{}",
            "null",
            "[]",
            r#"{"metadata": null, "spec": null}"#,
            r#"{"spec": {"containers": null, "securityContext": null}}"#,
            r#"{"spec": {"securityContext": {"runAsUser": 0}}}"#,
        ] {
            scanned(plain, &[]).expect(plain);
        }
        for (template, wrong_place) in [
            (
                r#"{"spec": {"template": {"spec": {"nodeName": "n"}}}}"#,
                false,
            ),
            (r#"{"spec": {"template": null}}"#, true),
            (r#"{"spec": {"template": [1]}}"#, true),
            (r#"{"spec": "x"}"#, true),
            (r#"{"kind": "Deployment"}"#, true),
        ] {
            let pod = scanned(template, &["spec", "template"]).expect(template);
            assert_eq!(pod.spec.node_name.is_empty(), wrong_place, "{template}");
        }
    }

    #[test]
    fn what_the_scanner_does_not_read_is_left_to_serde_json() {
        for odd in [
            r#"{"metadata": {"name": "a\"b"}}"#,
            r#"{"metadata": {"na\u006de": "a"}}"#,
            r#"{"metadata": {"name": "a", "name": "b"}}"#,
            r#"{"metadata": null, "metadata": {}}"#,
            r#"{"metadata": []}"#,
            r#"{"metadata": {"name": 1}}"#,
            r#"{"metadata": {"labels": {"a": null}}}"#,
            r#"{"metadata": {"ownerReferences": [{"controller": "yes"}]}}"#,
            r#"{"spec": {"containers": [{"command": [null]}]}}"#,
            r#"{"spec": {"containers": [["app"]]}}"#,
            r#"{"spec": {"containers": {"name": "app"}}}"#,
            r#"{"spec": {"securityContext": {"runAsUser": -1}}}"#,
            r#"{"spec": {"securityContext": {"runAsUser": 1.0}}}"#,
            r#"{"spec": {"securityContext": {"runAsUser": 99999999999999999999}}}"#,
            r#"{"spec": {"nodeName": "n\u0041"}}"#,
            r#"{"spec": {}, "spec": {}}"#,
            r#"{"spec": {"volumes": [{"image": {"x": "\q"}}]}}"#,
        ] {
            assert!(read(odd, &[]).is_none(), "{odd}");
        }
        let twice = r#"{"spec": {"template": {}, "template": {}}}"#;
        assert!(read(twice, &["spec", "template"]).is_none());
    }
}
