//! The plan written into the object's original JSON text, every byte the user wrote kept.
//!
//! Writing a plan into the object's original JSON text at the target's place: the result is the
//! user's text with the policy's additions spliced in, so every byte the user wrote stays (fields
//! the policy does not model, their order, even their spacing), and no document is built. The
//! pod's text is followed with `json_text::members` (nothing decoded), and the policy's own
//! entries are written as text exactly as their k8s-openapi types write them: directly for the
//! shapes the injection makes, through the types for any other.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, ImageVolumeSource, ResourceRequirements,
    SeccompProfile, SecurityContext, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::env::{Entry, FixedValue};
use super::{ContainerEdit, Plan, Volume};
use crate::refusal::ApplyProblem;
use crate::syntax::json_text::{self, Member, Walk, elements, members, push_string};
use crate::target::Target;

/// A replacement of `object[start..end]`.
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// An object of the pod's text, and its members.
struct Obj<'a> {
    text: &'a str,
    fields: Vec<Member<'a>>,
}

/// The pod (or pod template) in the object's text, read in one pass: its members, and inside
/// them what the plan is written into (each the last of its key, the one a JSON reader keeps).
struct Pod<'a> {
    text: &'a str,
    fields: Vec<Member<'a>>,
    /// `metadata`, when an object, and its `annotations`, when an object.
    metadata: Option<(Obj<'a>, Option<Obj<'a>>)>,
    /// `spec`, when an object.
    spec: Option<Spec<'a>>,
}

/// The pod's spec and its two lists of containers.
struct Spec<'a> {
    obj: Obj<'a>,
    /// `initContainers`, when a list: its elements, with the members of those that are objects.
    init_containers: Vec<(&'a str, Option<Vec<Member<'a>>>)>,
    /// `containers`, as `init_containers`.
    containers: Vec<(&'a str, Option<Vec<Member<'a>>>)>,
}

impl<'a> Pod<'a> {
    /// The pod at `target` in `object`, which must be an object.
    fn find(object: &'a str, target: &Target) -> Result<Self, ApplyProblem> {
        let mut text = object;
        for key in target.template {
            text = members(text)
                .and_then(|m| last(&m, key))
                .ok_or(ApplyProblem::SpecNotAnObject)?;
        }
        Self::read(text).ok_or(ApplyProblem::SpecNotAnObject)
    }

    /// The pod `text`, which must be an object.
    fn read(text: &'a str) -> Option<Self> {
        let (mut metadata, mut spec) = (None, None);
        let (text, fields) = Walk::new(text).object(|walk, m| {
            let (is_metadata, is_spec) = (m.key_is("metadata"), m.key_is("spec"));
            if !(is_metadata || is_spec) {
                return walk.skip();
            }
            if walk.peek()? != b'{' {
                if is_metadata {
                    metadata = None;
                } else {
                    spec = None;
                }
                return walk.skip();
            }
            if is_metadata {
                let read = read_metadata(walk)?;
                let text = read.0.text;
                metadata = Some(read);
                return Some(text);
            }
            let read = read_spec(walk)?;
            let text = read.obj.text;
            spec = Some(read);
            Some(text)
        })?;
        Some(Pod {
            text,
            fields,
            metadata,
            spec,
        })
    }
}

/// The object `metadata` that comes next, and its `annotations` when they are an object.
fn read_metadata<'a>(walk: &mut Walk<'a>) -> Option<(Obj<'a>, Option<Obj<'a>>)> {
    let mut annotations = None;
    let (text, fields) = walk.object(|walk, m| {
        if !m.key_is("annotations") {
            return walk.skip();
        }
        if walk.peek()? != b'{' {
            annotations = None;
            return walk.skip();
        }
        let (text, fields) = walk.object(|w, _| w.skip())?;
        annotations = Some(Obj { text, fields });
        Some(text)
    })?;
    Some((Obj { text, fields }, annotations))
}

/// The object `spec` that comes next, with its lists of containers.
fn read_spec<'a>(walk: &mut Walk<'a>) -> Option<Spec<'a>> {
    let (mut init_containers, mut containers) = (Vec::new(), Vec::new());
    let (text, fields) = walk.object(|walk, m| {
        let list = if m.key_is("initContainers") {
            &mut init_containers
        } else if m.key_is("containers") {
            &mut containers
        } else {
            return walk.skip();
        };
        list.clear();
        if walk.peek()? != b'[' {
            return walk.skip();
        }
        let (text, _) = walk.array(|w| {
            if w.peek()? != b'{' {
                let item = w.skip()?;
                list.push((item, None));
                return Some(item);
            }
            let (item, fields) = w.object(|w, _| w.skip())?;
            list.push((item, Some(fields)));
            Some(item)
        })?;
        Some(text)
    })?;
    Some(Spec {
        obj: Obj { text, fields },
        init_containers,
        containers,
    })
}

/// The object text with `plan` written into the pod spec at `target`.
pub fn apply(plan: &Plan, object: &str, target: &Target) -> Result<String, ApplyProblem> {
    let pod = Pod::find(object, target)?;
    let Some(Spec {
        obj: Obj { text: spec, fields },
        init_containers,
        containers,
    }) = &pod.spec
    else {
        return Err(ApplyProblem::SpecNotAnObject);
    };
    let mut splices = Vec::new();
    for (items, edits) in [(init_containers, true), (containers, false)] {
        for edit in plan.edits.iter().filter(|e| e.slot.is_init() == edits) {
            let (container, members) = items
                .get(edit.slot.index())
                .and_then(|(text, members)| Some((*text, members.as_deref()?)))
                .ok_or_else(|| not_an_object(edit))?;
            edit_container(object, container, members, edit, &mut splices);
        }
    }
    let volumes: Vec<String> = plan.volumes.iter().map(volume_json).collect();
    append(object, spec, fields, "volumes", &volumes, &mut splices);
    let inits: Vec<&Container> = plan.init_container.iter().chain(&plan.preflight).collect();
    if !inits.is_empty() {
        let at = plan.init_position.and_then(|i| init_containers.get(i));
        let before = at.map(|(text, _)| *text);
        insert_init_containers(object, spec, fields, &inits, before, &mut splices);
    }
    if !plan.pull_secrets.is_empty() {
        let secrets: Vec<String> = plan
            .pull_secrets
            .iter()
            .map(|name| {
                let mut secret = String::from(r#"{"name":"#);
                push_string(&mut secret, name);
                secret.push('}');
                secret
            })
            .collect();
        append(
            object,
            spec,
            fields,
            "imagePullSecrets",
            &secrets,
            &mut splices,
        );
    }
    if !plan.annotations.is_empty() {
        annotations(object, &pod, &plan.annotations, &mut splices);
    }
    Ok(splice(object, splices))
}

/// The object text with the pod's annotations changed: each key set to its value (`Some`), or
/// removed (`None`); every other annotation is kept.
pub fn annotate(
    object: &str,
    target: &Target,
    changes: &[(&str, Option<String>)],
) -> Result<String, ApplyProblem> {
    let pod = Pod::find(object, target)?;
    let mut splices = Vec::new();
    annotations(object, &pod, changes, &mut splices);
    Ok(splice(object, splices))
}

/// The splice that writes `changes` into the pod's `metadata.annotations`, which it creates when
/// needed. The annotations object is written anew: the members that `changes` does not name, as
/// they were (key and value), then the values set.
fn annotations(
    object: &str,
    pod: &Pod<'_>,
    changes: &[(&str, Option<String>)],
    splices: &mut Vec<Splice>,
) {
    let Some((metadata, existing)) = &pod.metadata else {
        let mut value = String::from(r#"{"annotations":"#);
        annotations_value(&[], changes, &mut value);
        value.push('}');
        set(object, pod.text, &pod.fields, "metadata", value, splices);
        return;
    };
    let kept = existing.as_ref().map_or(&[][..], |a| &a.fields);
    let mut value = String::new();
    annotations_value(kept, changes, &mut value);
    let fields = &metadata.fields;
    set(object, metadata.text, fields, "annotations", value, splices);
}

/// The annotations object written into `out`: the members of `kept` that `changes` does not
/// name, as they were, then the values `changes` sets.
fn annotations_value(kept: &[Member<'_>], changes: &[(&str, Option<String>)], out: &mut String) {
    let kept = kept
        .iter()
        .filter(|m| !changes.iter().any(|(c, _)| m.key_is(c)));
    let set = changes
        .iter()
        .filter_map(|(k, v)| Some((*k, v.as_deref()?)));
    let size: usize = kept.clone().map(|m| m.key.len() + m.value.len() + 2).sum();
    let set_size: usize = set.clone().map(|(k, v)| k.len() + v.len() + 6).sum();
    out.reserve(size + set_size + 2);
    out.push('{');
    let mut first = true;
    for member in kept {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        member.push_key(out);
        out.push(':');
        out.push_str(member.value);
    }
    for (key, value) in set {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        push_name(out, key);
        out.push(':');
        push_string(out, value);
    }
    out.push('}');
}

/// Appends one of the policy's own annotation names as a JSON string. They are qualified names
/// (letters, digits, `-`, `_`, `.`, one `/`): no byte to escape, so none is looked for.
fn push_name(out: &mut String, name: &str) {
    debug_assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
    );
    out.push('"');
    out.push_str(name);
    out.push('"');
}

/// A container's new env (its own entries kept verbatim, the policy's added) and mounts.
fn edit_container(
    object: &str,
    container: &str,
    fields: &[Member<'_>],
    edit: &ContainerEdit,
    splices: &mut Vec<Splice>,
) {
    let original = last(fields, "env").and_then(elements).unwrap_or_default();
    let mut env = String::with_capacity(2 + 64 * edit.env.entries.len());
    env.push('[');
    for (i, entry) in edit.env.entries.iter().enumerate() {
        if i > 0 {
            env.push(',');
        }
        push_env_entry(&mut env, entry, &original);
    }
    env.push(']');
    set(object, container, fields, "env", env, splices);
    let mounts: Vec<String> = edit.mounts.iter().map(mount_json).collect();
    append(object, container, fields, "volumeMounts", &mounts, splices);
}

fn not_an_object(edit: &ContainerEdit) -> ApplyProblem {
    ApplyProblem::ContainerNotAnObject {
        container: edit.name.to_string(),
        list: edit.slot.list_key(),
        index: edit.slot.index(),
    }
}

/// One entry of the new env list, appended to `out`: the user's own text, the user's entry with
/// the policy's new `value` (PYTHONPATH, OTEL_RESOURCE_ATTRIBUTES), or the policy's entry.
fn push_env_entry(out: &mut String, entry: &Entry, original: &[&str]) {
    let orig = entry.origin().and_then(|i| original.get(i).copied());
    match (entry, orig) {
        (Entry::User(..), Some(orig)) => out.push_str(orig),
        (Entry::Rewritten(_, _, new), Some(orig)) => {
            let mut value = String::new();
            push_string(&mut value, new);
            let mut splices = Vec::new();
            if let Some(fields) = members(orig) {
                set(orig, orig, &fields, "value", value, &mut splices);
            }
            out.push_str(&splice(orig, splices));
        }
        (Entry::Literal(name, value), _) => push_literal(out, name, value),
        (Entry::Fixed(f), _) => match f.value() {
            FixedValue::Literal(value) => push_literal(out, f.name(), value),
            FixedValue::Field(path) => push_field_ref(out, f.name(), path),
        },
        _ => push_new_env_entry(out, &entry.to_var()),
    }
}

/// A variable the policy adds, as the operator writes it, appended to `out`. Literals and
/// downward-API references (nearly all of them) are written directly; anything else through its
/// Kubernetes type.
fn push_new_env_entry(out: &mut String, var: &k8s_openapi::api::core::v1::EnvVar) {
    let field = var.value_from.as_ref().and_then(|from| match from {
        k8s_openapi::api::core::v1::EnvVarSource {
            field_ref: Some(f),
            config_map_key_ref: None,
            file_key_ref: None,
            resource_field_ref: None,
            secret_key_ref: None,
        } if f.api_version.is_none() => Some(&f.field_path),
        _ => None,
    });
    match (&var.value, field) {
        (Some(v), None) if var.value_from.is_none() => push_literal(out, &var.name, v),
        (None, Some(path)) => push_field_ref(out, &var.name, path),
        _ => out.push_str(&to_json(var)),
    }
}

/// A variable with a literal value, appended to `out`.
fn push_literal(out: &mut String, name: &str, value: &str) {
    out.push_str(r#"{"name":"#);
    push_string(out, name);
    out.push_str(r#","value":"#);
    push_string(out, value);
    out.push('}');
}

/// A downward-API variable (`fieldRef` without `apiVersion`), appended to `out`.
fn push_field_ref(out: &mut String, name: &str, path: &str) {
    out.push_str(r#"{"name":"#);
    push_string(out, name);
    out.push_str(r#","valueFrom":{"fieldRef":{"fieldPath":"#);
    push_string(out, path);
    out.push_str("}}}");
}

/// The members of a JSON object written one by one, in the order given; absent values are
/// skipped, as Kubernetes' types skip them.
struct Object<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut String) -> Self {
        out.push('{');
        Object { out, first: true }
    }

    /// The key written (a plain one: the types' field names), ready for its value.
    fn key(&mut self, key: &str) -> &mut String {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out
    }

    fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            push_string(self.key(key), value);
        }
    }

    fn strings(&mut self, key: &str, values: Option<&[String]>) {
        if let Some(values) = values {
            push_list(self.key(key), values, |out, v| push_string(out, v));
        }
    }

    fn bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.key(key).push_str(if value { "true" } else { "false" });
        }
    }

    fn int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            json_text::push_integer(self.key(key), value);
        }
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// `items` appended to `out` as a JSON list, each written by `write`.
fn push_list<T>(out: &mut String, items: &[T], write: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// A container the policy adds, appended to `out` as its Kubernetes type writes it. The fields
/// the injection's init containers use are written directly; a container with any other field
/// is written through its type.
fn push_container(out: &mut String, c: &Container) {
    #[rustfmt::skip]
    let Container {
        args: None, command, env: None, env_from: None, image, image_pull_policy,
        lifecycle: None, liveness_probe: None, name, ports: None, readiness_probe: None,
        resize_policy: None, resources, restart_policy: None, restart_policy_rules: None,
        security_context, startup_probe: None, stdin: None, stdin_once: None,
        termination_message_path: None, termination_message_policy: None, tty: None,
        volume_devices: None, volume_mounts, working_dir: None,
    } = c
    else {
        return out.push_str(&to_json(c));
    };
    let mut object = Object::new(out);
    object.strings("command", command.as_deref());
    object.string("image", image.as_deref());
    object.string("imagePullPolicy", image_pull_policy.as_deref());
    object.string("name", Some(name));
    if let Some(resources) = resources {
        push_resources(object.key("resources"), resources);
    }
    if let Some(context) = security_context {
        push_security_context(object.key("securityContext"), context);
    }
    if let Some(mounts) = volume_mounts {
        push_list(object.key("volumeMounts"), mounts, push_mount);
    }
    object.end();
}

/// Resource requirements as their type writes them (limits and requests; with claims, through
/// the type).
fn push_resources(out: &mut String, resources: &ResourceRequirements) {
    let ResourceRequirements {
        claims: None,
        limits,
        requests,
    } = resources
    else {
        return out.push_str(&to_json(resources));
    };
    let mut object = Object::new(out);
    for (key, quantities) in [("limits", limits), ("requests", requests)] {
        if let Some(quantities) = quantities {
            push_quantities(object.key(key), quantities);
        }
    }
    object.end();
}

fn push_quantities(out: &mut String, quantities: &BTreeMap<String, Quantity>) {
    out.push('{');
    for (i, (name, quantity)) in quantities.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, name);
        out.push(':');
        push_string(out, &quantity.0);
    }
    out.push('}');
}

/// A securityContext as its type writes it; one with AppArmor, SELinux or Windows options
/// through the type.
fn push_security_context(out: &mut String, context: &SecurityContext) {
    #[rustfmt::skip]
    let SecurityContext {
        allow_privilege_escalation, app_armor_profile: None, capabilities, privileged,
        proc_mount, read_only_root_filesystem, run_as_group, run_as_non_root, run_as_user,
        se_linux_options: None, seccomp_profile, windows_options: None,
    } = context
    else {
        return out.push_str(&to_json(context));
    };
    let mut object = Object::new(out);
    object.bool("allowPrivilegeEscalation", *allow_privilege_escalation);
    if let Some(Capabilities { add, drop }) = capabilities {
        let mut inner = Object::new(object.key("capabilities"));
        inner.strings("add", add.as_deref());
        inner.strings("drop", drop.as_deref());
        inner.end();
    }
    object.bool("privileged", *privileged);
    object.string("procMount", proc_mount.as_deref());
    object.bool("readOnlyRootFilesystem", *read_only_root_filesystem);
    object.int("runAsGroup", *run_as_group);
    object.bool("runAsNonRoot", *run_as_non_root);
    object.int("runAsUser", *run_as_user);
    if let Some(SeccompProfile {
        localhost_profile,
        type_,
    }) = seccomp_profile
    {
        let mut inner = Object::new(object.key("seccompProfile"));
        inner.string("localhostProfile", localhost_profile.as_deref());
        inner.string("type", Some(type_));
        inner.end();
    }
    object.end();
}

/// A volume mount as its type writes it.
fn push_mount(out: &mut String, mount: &VolumeMount) {
    #[rustfmt::skip]
    let VolumeMount {
        mount_path, mount_propagation, name, read_only, recursive_read_only, sub_path,
        sub_path_expr,
    } = mount;
    let mut object = Object::new(out);
    object.string("mountPath", Some(mount_path));
    object.string("mountPropagation", mount_propagation.as_deref());
    object.string("name", Some(name));
    object.bool("readOnly", *read_only);
    object.string("recursiveReadOnly", recursive_read_only.as_deref());
    object.string("subPath", sub_path.as_deref());
    object.string("subPathExpr", sub_path_expr.as_deref());
    object.end();
}

/// A volume the policy adds, as its type writes it: the packages' `emptyDir` or image volume
/// directly, any other through the type.
fn volume_json(volume: &Volume) -> String {
    let mut out = String::with_capacity(96);
    let mut object = Object::new(&mut out);
    match volume {
        Volume {
            config_map: None,
            empty_dir: Some(EmptyDirVolumeSource { medium, size_limit }),
            ephemeral: None,
            image: None,
            name,
            secret: None,
        } => {
            let mut inner = Object::new(object.key("emptyDir"));
            inner.string("medium", medium.as_deref());
            inner.string("sizeLimit", size_limit.as_ref().map(|q| q.0.as_str()));
            inner.end();
            object.string("name", Some(name));
        }
        Volume {
            config_map: None,
            empty_dir: None,
            ephemeral: None,
            image:
                Some(ImageVolumeSource {
                    pull_policy,
                    reference,
                }),
            name,
            secret: None,
        } => {
            let mut inner = Object::new(object.key("image"));
            inner.string("pullPolicy", pull_policy.as_deref());
            inner.string("reference", reference.as_deref());
            inner.end();
            object.string("name", Some(name));
        }
        _ => return to_json(volume),
    }
    object.end();
    out
}

fn mount_json(mount: &VolumeMount) -> String {
    let mut out = String::with_capacity(96);
    push_mount(&mut out, mount);
    out
}

/// The policy's init containers (the copy, then the preflight's), before the first targeted
/// init container (the element `before`) or at the end.
fn insert_init_containers(
    object: &str,
    spec: &str,
    fields: &[Member<'_>],
    inits: &[&Container],
    before: Option<&str>,
    splices: &mut Vec<Splice>,
) {
    let mut init = String::with_capacity(1024 * inits.len());
    for (i, container) in inits.iter().enumerate() {
        if i > 0 {
            init.push(',');
        }
        push_container(&mut init, container);
    }
    match before {
        Some(before) => {
            let at = offset(object, before);
            let mut text = init;
            text.push(',');
            splices.push(Splice {
                start: at,
                end: at,
                text,
            });
        }
        None => append(object, spec, fields, "initContainers", &[init], splices),
    }
}

/// `key` of the object `owner` set to `value`: its last occurrence replaced, or added.
fn set(
    base: &str,
    owner: &str,
    fields: &[Member<'_>],
    key: &str,
    value: String,
    splices: &mut Vec<Splice>,
) {
    match last(fields, key) {
        Some(old) => {
            let start = offset(base, old);
            splices.push(Splice {
                start,
                end: start + old.len(),
                text: value,
            });
        }
        None => {
            let end = offset(base, owner) + owner.len() - 1;
            // A member before it: the object's own, or one added here already (an empty
            // container gets both `env` and `volumeMounts`).
            let after_member =
                !fields.is_empty() || splices.iter().any(|s| s.start == end && s.end == end);
            let mut text = String::with_capacity(key.len() + value.len() + 4);
            if after_member {
                text.push(',');
            }
            push_string(&mut text, key);
            text.push(':');
            text.push_str(&value);
            splices.push(Splice {
                start: end,
                end,
                text,
            });
        }
    }
}

/// `items` appended to the list `key` of `owner`; a value that is not a list is replaced.
fn append(
    base: &str,
    owner: &str,
    fields: &[Member<'_>],
    key: &str,
    items: &[String],
    splices: &mut Vec<Splice>,
) {
    let list = last(fields, key).filter(|v| v.starts_with('['));
    match list.and_then(|l| elements(l).map(|e| (l, e))) {
        Some((list, existing)) => {
            let end = offset(base, list) + list.len() - 1;
            let mut text = if existing.is_empty() {
                String::new()
            } else {
                String::from(",")
            };
            push_joined(&mut text, items);
            splices.push(Splice {
                start: end,
                end,
                text,
            });
        }
        None => {
            let mut text = String::from("[");
            push_joined(&mut text, items);
            text.push(']');
            set(base, owner, fields, key, text, splices);
        }
    }
}

/// `items` appended to `out`, separated by commas.
fn push_joined(out: &mut String, items: &[String]) {
    out.reserve(items.iter().map(|i| i.len() + 1).sum());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
}

fn splice(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| (s.start, s.end));
    let extra: usize = splices.iter().map(|s| s.text.len()).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut at = 0;
    for s in splices {
        out.push_str(&text[at..s.start]);
        out.push_str(&s.text);
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where `part`, a slice of `base`, starts in it.
fn offset(base: &str, part: &str) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

/// The value of the last `key` (the one a JSON reader keeps).
fn last<'a>(fields: &[Member<'a>], key: &str) -> Option<&'a str> {
    fields.iter().rev().find(|m| m.key_is(key)).map(|m| m.value)
}

fn to_json<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policys_annotation_names_are_written_as_json_writes_them() {
        let names = crate::keys::RECORD_KEYS.iter();
        for name in names.chain([&crate::keys::SAFE_TO_EVICT_LOCAL_VOLUMES]) {
            let (mut plain, mut escaped) = (String::new(), String::new());
            push_name(&mut plain, name);
            push_string(&mut escaped, name);
            assert_eq!(plain, escaped);
            assert_eq!(plain, serde_json::to_string(name).unwrap_or_default());
        }
    }

    #[test]
    fn splices_keep_the_users_text_and_add_where_keys_are_missing() {
        let text = r#"{ "a" : 1 , "b": [ 1 ] }"#;
        let fields = members(text).unwrap();
        let mut s = Vec::new();
        append(text, text, &fields, "b", &["2".into()], &mut s);
        append(text, text, &fields, "c", &["3".into()], &mut s);
        set(text, text, &fields, "a", "9".into(), &mut s);
        assert_eq!(splice(text, s), r#"{ "a" : 9 , "b": [ 1 ,2] ,"c":[3]}"#);
        let mut s = Vec::new();
        append(
            "{}",
            "{}",
            &members("{}").unwrap(),
            "v",
            &["1".into()],
            &mut s,
        );
        assert_eq!(splice("{}", s), r#"{"v":[1]}"#);
    }

    /// The view and the text disagree only if the object changed under the view; the refusal
    /// then names the exact element.
    #[test]
    fn a_container_that_is_not_an_object_is_named_by_its_path() {
        use crate::pod::Slot;
        let plan = Plan {
            edits: vec![ContainerEdit {
                slot: Slot::Init(1),
                name: "migrate",
                env: Default::default(),
                mounts: Vec::new(),
            }],
            ..Default::default()
        };
        let object = r#"{"spec":{"initContainers":[{"name":"a"},"migrate"],"containers":[{}]}}"#;
        let problem = apply(&plan, object, &Target::POD).unwrap_err();
        assert_eq!(
            problem.to_string(),
            "request.object.spec.initContainers[1] (container \"migrate\") is not an object"
        );
    }

    #[test]
    fn keys_added_to_an_empty_object_are_separated() {
        let text = r#"{"c":{}}"#;
        let inner = last(&members(text).unwrap(), "c").unwrap();
        let fields = members(inner).unwrap();
        let mut s = Vec::new();
        set(text, inner, &fields, "env", "[1]".into(), &mut s);
        append(text, inner, &fields, "volumeMounts", &["2".into()], &mut s);
        assert_eq!(splice(text, s), r#"{"c":{"env":[1],"volumeMounts":[2]}}"#);
    }

    #[test]
    fn the_last_of_duplicate_keys_is_the_one_changed() {
        let text = r#"{"v":[1],"v":null}"#;
        let mut s = Vec::new();
        append(
            text,
            text,
            &members(text).unwrap(),
            "v",
            &["2".into()],
            &mut s,
        );
        assert_eq!(splice(text, s), r#"{"v":[1],"v":[2]}"#);
    }

    /// The containers written directly are the text their types write.
    #[test]
    fn containers_are_written_as_their_types_write_them() {
        let restricted = serde_json::json!({
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": []},
            "readOnlyRootFilesystem": true, "runAsNonRoot": true, "runAsUser": 65532,
            "runAsGroup": -1, "privileged": false, "procMount": "Default",
            "seccompProfile": {"type": "Localhost", "localhostProfile": "p\"1"}});
        let containers = [
            serde_json::json!({"name": "c", "image": "i", "command": ["cp", "-r", "a\\b"],
                "imagePullPolicy": "Always", "securityContext": restricted,
                "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {}},
                "volumeMounts": [{"name": "v", "mountPath": "/p", "readOnly": true,
                    "subPath": "s", "subPathExpr": "e", "mountPropagation": "None",
                    "recursiveReadOnly": "Disabled"}, {"name": "w", "mountPath": "/q"}]}),
            serde_json::json!({"name": "bare", "command": [], "volumeMounts": []}),
            serde_json::json!({"name": "args", "args": ["x"], "image": "i"}),
            serde_json::json!({"name": "claims", "resources": {"claims": [{"name": "gpu"}]}}),
            serde_json::json!({"name": "se", "securityContext": {"seLinuxOptions": {"level": "s0"}}}),
        ];
        for container in containers {
            let container: Container = serde_json::from_value(container).unwrap();
            let mut out = String::new();
            push_container(&mut out, &container);
            assert_eq!(out, serde_json::to_string(&container).unwrap());
        }
    }

    /// The volumes written directly are the text their type writes.
    #[test]
    fn volumes_are_written_as_their_type_writes_them() {
        let volumes = [
            serde_json::json!({"name": "v", "emptyDir": {"sizeLimit": "200Mi"}}),
            serde_json::json!({"name": "v\"", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}),
            serde_json::json!({"name": "v", "emptyDir": {}}),
            serde_json::json!({"name": "v", "image": {"reference": "r:1", "pullPolicy": "Always"}}),
            serde_json::json!({"name": "v", "image": {}}),
            serde_json::json!({"name": "s", "secret": {"secretName": "s"}}),
            serde_json::json!({"name": "both", "emptyDir": {}, "secret": {"secretName": "s"}}),
        ];
        for volume in volumes {
            let volume: Volume = serde_deserialize_volume(volume);
            assert_eq!(
                volume_json(&volume),
                serde_json::to_string(&volume).unwrap()
            );
        }
    }

    /// A `Volume` from its JSON (the type is written, never read, by the policy).
    fn serde_deserialize_volume(value: serde_json::Value) -> Volume {
        let source = |key: &str| value.get(key).cloned();
        let read = |key: &str| source(key).map(|v| serde_json::from_value(v).unwrap());
        Volume {
            name: value["name"].as_str().unwrap().to_string(),
            empty_dir: source("emptyDir").map(|v| serde_json::from_value(v).unwrap()),
            image: source("image").map(|v| serde_json::from_value(v).unwrap()),
            secret: read("secret"),
            ..Default::default()
        }
    }
}
