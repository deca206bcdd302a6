//! The injection: a plan computed from the pod view and an instrumentation spec (what to add, in
//! the operator's order), then applied to the pod's original JSON so that everything the user wrote
//! stays as written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EphemeralVolumeSource, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;

use crate::annotations::{COLLECTOR_SIDECAR, INJECTED_INIT_CONTAINERS, INJECTED_SIDECAR};
use crate::env::{EnvList, field_ref, literal};
use crate::instrumentation::{DEFAULT_VOLUME_SIZE_LIMIT, InstrumentationSpec};
use crate::pod::{PodView, Slot};
use crate::resource::{self, NODE_NAME_VAR, POD_NAME_VAR, POD_UID_VAR};
use crate::{selection, tls};

pub const VOLUME_NAME: &str = "opentelemetry-auto-instrumentation-python";
pub const INIT_CONTAINER_NAME: &str = "opentelemetry-auto-instrumentation-python";
pub const MOUNT_PATH: &str = "/otel-auto-instrumentation-python";
pub const PYTHONPATH_PREFIX: &str =
    "/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation";
/// The user the init container runs as when neither the spec nor the pod says (a common
/// "nonroot" uid; the copy only writes to the emptyDir, which every user may write).
pub const INIT_CONTAINER_UID: i64 = 65532;
const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// One target container's new env list and the mounts to append.
#[derive(Debug)]
pub struct ContainerEdit {
    pub slot: Slot,
    pub name: String,
    pub env: EnvList,
    pub mounts: Vec<VolumeMount>,
}

/// Everything the injection adds to a pod.
#[derive(Debug)]
pub struct Plan {
    pub edits: Vec<ContainerEdit>,
    /// Appended to `spec.volumes`, in order (TLS volumes first, then the packages' volume).
    pub volumes: Vec<Volume>,
    pub init_container: Container,
    /// Index in `spec.initContainers` to insert at: before the first targeted init container, else the end.
    pub init_position: Option<usize>,
    /// Things the user should know that are not errors.
    pub notes: Vec<String>,
}

/// Why a pod counts as already instrumented (Kubernetes may call a mutating webhook again on its
/// own output); `None` when it does not.
pub fn already_instrumented(pod: &PodView) -> Option<String> {
    if let Some(c) = pod
        .spec
        .init_containers
        .iter()
        .find(|c| INJECTED_INIT_CONTAINERS.contains(&c.name.as_str()))
    {
        return Some(format!("it already has the init container {:?}", c.name));
    }
    if pod
        .spec
        .containers
        .iter()
        .any(|c| c.name == INJECTED_SIDECAR)
    {
        return Some(format!("it already has the container {INJECTED_SIDECAR:?}"));
    }
    if let Some(c) = pod
        .spec
        .containers
        .iter()
        .find(|c| c.name != COLLECTOR_SIDECAR && c.env.iter().any(|e| e.name == NODE_NAME_VAR))
    {
        return Some(format!(
            "container {:?} already sets {NODE_NAME_VAR}",
            c.name
        ));
    }
    None
}

/// Computes the injection of `spec` into `pod` (in `namespace`), or says why it cannot be done.
pub fn plan(pod: &PodView, namespace: &str, spec: &InstrumentationSpec) -> Result<Plan, String> {
    let targets = selection::targets(pod)?;
    let source = selection::platform_source(pod)?;
    if pod.spec.volumes.iter().any(|v| v.name == VOLUME_NAME) {
        return Err(format!(
            "the pod already has a volume named {VOLUME_NAME:?}, which the instrumentation needs for its packages; rename that volume"
        ));
    }
    // Init and regular containers share one name space; an init container of that name means the
    // pod is already instrumented (see `already_instrumented`), a regular one would be duplicated.
    if pod
        .spec
        .containers
        .iter()
        .any(|c| c.name == INIT_CONTAINER_NAME)
    {
        return Err(format!(
            "the pod already has a container named {INIT_CONTAINER_NAME:?}, the name of the instrumentation's init container; rename that container"
        ));
    }
    let python = spec.python();
    let tls = spec.tls().map(tls::plan).unwrap_or_default();
    let mut volumes: Vec<Volume> = Vec::new();
    let mut edits = Vec::with_capacity(targets.len());
    let mut notes = Vec::new();

    for &slot in &targets {
        let c = pod.container(slot);
        if c.env
            .iter()
            .any(|e| e.name == "PYTHONPATH" && e.value_from.is_some())
        {
            return Err(format!(
                "container {:?} sets PYTHONPATH with valueFrom, which the instrumentation cannot extend; set it with a literal value (it is kept and wrapped) or leave it unset",
                c.name
            ));
        }
        if let Some(m) = c
            .volume_mounts
            .iter()
            .find(|m| m.mount_path == MOUNT_PATH || m.name == VOLUME_NAME)
        {
            return Err(format!(
                "container {:?} already mounts {:?} at {:?}, where the instrumentation mounts its packages; remove that mount",
                c.name, m.name, m.mount_path
            ));
        }
        let mut env = EnvList::from_original(&c.env);
        let mut mounts = vec![VolumeMount {
            name: VOLUME_NAME.into(),
            mount_path: MOUNT_PATH.into(),
            ..Default::default()
        }];

        // The language part: python.env, PYTHONPATH.
        for v in python.env.iter().flatten() {
            env.append_if_absent(v.clone());
        }
        match env
            .find("PYTHONPATH")
            .map(|v| v.value.clone().unwrap_or_default())
        {
            None => env.append_if_absent(literal(
                "PYTHONPATH",
                format!("{PYTHONPATH_PREFIX}:{MOUNT_PATH}"),
            )),
            Some(user) => env.rewrite(
                "PYTHONPATH",
                format!("{PYTHONPATH_PREFIX}:{user}:{MOUNT_PATH}"),
            ),
        }
        // Common vars: the IPs first (so user values can refer to them), then spec.env.
        env.prepend_if_absent(field_ref("OTEL_POD_IP", "status.podIP"));
        env.prepend_if_absent(field_ref("OTEL_NODE_IP", "status.hostIP"));
        for v in spec.env.iter().flatten() {
            env.append_if_absent(v.clone());
        }
        // Python defaults: the image ships the OTLP/HTTP exporter.
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
        ] {
            env.append_if_absent(literal(name, value));
        }

        // SDK configuration.
        let user_attrs = env.find(RESOURCE_ATTRIBUTES).cloned();
        let attrs_from_source = user_attrs.as_ref().is_some_and(|v| v.value_from.is_some());
        let existing = resource::existing_keys(
            user_attrs
                .as_ref()
                .and_then(|v| v.value.as_deref())
                .unwrap_or_default(),
        );
        let mut res = resource::resource_map(spec, pod, namespace, &c.name, &existing);
        if !env.has("OTEL_SERVICE_NAME") {
            env.append_if_absent(literal(
                "OTEL_SERVICE_NAME",
                resource::service_name(spec, pod, &res, &c.name),
            ));
        }
        if !spec.endpoint().is_empty() {
            env.append_if_absent(literal("OTEL_EXPORTER_OTLP_ENDPOINT", spec.endpoint()));
        }
        for v in &tls.env {
            env.append_if_absent(v.clone());
        }
        for v in &tls.volumes {
            if !pod.spec.volumes.iter().any(|p| p.name == v.name)
                && !volumes.iter().any(|p| p.name == v.name)
            {
                volumes.push(v.clone());
            }
        }
        for m in &tls.mounts {
            if !c.volume_mounts.iter().any(|p| p.name == m.name)
                && !mounts.iter().any(|p| p.name == m.name)
            {
                // A second mount at the same path would make the pod invalid.
                if let Some(u) = c
                    .volume_mounts
                    .iter()
                    .find(|u| u.mount_path == m.mount_path)
                {
                    return Err(format!(
                        "container {:?} already mounts {:?} at {:?}, where the instrumentation mounts the exporter's TLS volume {:?}; remove that mount",
                        c.name, u.name, u.mount_path, m.name
                    ));
                }
                mounts.push(m.clone());
            }
        }
        env.append_if_absent(field_ref(POD_NAME_VAR, "metadata.name"));
        put_unless_user(
            &mut res,
            &existing,
            "k8s.pod.name",
            format!("$({POD_NAME_VAR})"),
        );
        if spec.add_k8s_uid_attributes()
            && !res.contains_key("k8s.pod.uid")
            && !existing.contains("k8s.pod.uid")
        {
            env.append_if_absent(field_ref(POD_UID_VAR, "metadata.uid"));
            res.insert("k8s.pod.uid".into(), format!("$({POD_UID_VAR})"));
        }
        if !user_attrs
            .as_ref()
            .and_then(|v| v.value.as_deref())
            .unwrap_or_default()
            .contains("service.version")
            && let Some(version) = resource::service_version(spec, pod, &c.image)
        {
            put_unless_user(&mut res, &existing, "service.version", version);
        }
        if !res.contains_key("k8s.node.name") && !existing.contains("k8s.node.name") {
            env.append_if_absent(field_ref(NODE_NAME_VAR, "spec.nodeName"));
            res.insert("k8s.node.name".into(), format!("$({NODE_NAME_VAR})"));
        }
        let attrs = resource::to_attribute_string(&res);
        match &user_attrs {
            None => env.append_if_absent(literal(RESOURCE_ATTRIBUTES, attrs)),
            Some(_) if attrs_from_source => notes.push(format!(
                "container {:?} sets {RESOURCE_ATTRIBUTES} with valueFrom; it was kept as is and the Kubernetes resource attributes were not added to it",
                c.name
            )),
            Some(v) => {
                let user = v.value.clone().unwrap_or_default();
                if !attrs.is_empty() {
                    let joined = if user.is_empty() || user.ends_with(',') { format!("{user}{attrs}") } else { format!("{user},{attrs}") };
                    env.rewrite(RESOURCE_ATTRIBUTES, joined);
                }
            }
        }
        if let Some(props) = spec.propagators.as_ref().filter(|p| !p.is_empty()) {
            env.append_if_absent(literal("OTEL_PROPAGATORS", props.join(",")));
        }
        let (sampler, argument) = (spec.sampler_type(), spec.sampler_argument());
        if !sampler.is_empty()
            && !env.has("OTEL_TRACES_SAMPLER")
            && !env.has("OTEL_TRACES_SAMPLER_ARG")
        {
            env.append_if_absent(literal("OTEL_TRACES_SAMPLER", sampler));
            if !argument.is_empty() {
                env.append_if_absent(literal("OTEL_TRACES_SAMPLER_ARG", argument));
            }
        }
        env.move_to_end(RESOURCE_ATTRIBUTES);
        edits.push(ContainerEdit {
            slot,
            name: c.name.clone(),
            env,
            mounts,
        });
    }

    volumes.push(packages_volume(spec));
    let init_container = Container {
        name: INIT_CONTAINER_NAME.into(),
        image: python.image.clone(),
        command: Some(vec![
            "cp".into(),
            "-r".into(),
            source.into(),
            MOUNT_PATH.into(),
        ]),
        resources: python.resource_requirements.clone(),
        volume_mounts: Some(vec![VolumeMount {
            name: VOLUME_NAME.into(),
            mount_path: MOUNT_PATH.into(),
            ..Default::default()
        }]),
        image_pull_policy: spec.image_pull_policy.clone().filter(|p| !p.is_empty()),
        security_context: Some(
            spec.init_container_security_context
                .clone()
                .unwrap_or_else(|| restricted_security_context(pod)),
        ),
        ..Default::default()
    };
    let init_position = match targets.first() {
        Some(Slot::Init(i)) => Some(*i),
        _ => None,
    };
    Ok(Plan {
        edits,
        volumes,
        init_container,
        init_position,
        notes,
    })
}

fn put_unless_user(
    res: &mut BTreeMap<String, String>,
    existing: &std::collections::HashSet<String>,
    key: &str,
    value: String,
) {
    if !existing.contains(key) {
        res.insert(key.to_string(), value);
    }
}

/// The emptyDir (or, with `volumeClaimTemplate`, the ephemeral volume) the packages are copied into.
fn packages_volume(spec: &InstrumentationSpec) -> Volume {
    let python = spec.python();
    match &python.volume_claim_template {
        Some(template) => Volume {
            name: VOLUME_NAME.into(),
            ephemeral: Some(EphemeralVolumeSource {
                volume_claim_template: Some(template.clone()),
            }),
            ..Default::default()
        },
        None => Volume {
            name: VOLUME_NAME.into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(
                    python
                        .volume_limit_size
                        .clone()
                        .unwrap_or_else(|| Quantity(DEFAULT_VOLUME_SIZE_LIMIT.into())),
                ),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// A securityContext the PodSecurity "restricted" profile accepts. The uid is left to the pod when
/// the pod sets a non-root one.
pub fn restricted_security_context(pod: &PodView) -> SecurityContext {
    let pod_uid = pod.spec.security_context.run_as_user.filter(|u| *u != 0);
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: if pod_uid.is_some() {
            None
        } else {
            Some(INIT_CONTAINER_UID)
        },
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// Applies `plan` to the pod JSON `object`. Entries the user wrote are copied from the original
/// JSON; only the policy's own entries are serialized from k8s-openapi types.
pub fn apply(plan: &Plan, object: &mut Value) -> Result<(), String> {
    let spec = object
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .ok_or("request.object.spec is not an object")?;
    for edit in &plan.edits {
        let container = spec
            .get_mut(edit.slot.list_key())
            .and_then(Value::as_array_mut)
            .and_then(|list| list.get_mut(edit.slot.index()))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                format!(
                    "container {:?} is not an object in request.object.spec",
                    edit.name
                )
            })?;
        let original = match container.get("env") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let mut env = Vec::with_capacity(edit.env.entries.len());
        for entry in &edit.env.entries {
            match entry.origin.and_then(|i| original.get(i)) {
                Some(orig) if !entry.rewritten => env.push(orig.clone()),
                Some(orig) => {
                    let mut orig = orig.clone();
                    if let Some(o) = orig.as_object_mut() {
                        o.insert(
                            "value".into(),
                            Value::String(entry.var.value.clone().unwrap_or_default()),
                        );
                    }
                    env.push(orig);
                }
                None => env.push(to_json(&entry.var)),
            }
        }
        container.insert("env".into(), Value::Array(env));
        push_all(
            container.entry("volumeMounts").or_insert(Value::Null),
            edit.mounts.iter().map(to_json),
        );
    }
    push_all(
        spec.entry("volumes").or_insert(Value::Null),
        plan.volumes.iter().map(to_json),
    );
    let init = spec.entry("initContainers").or_insert(Value::Null);
    if !init.is_array() {
        *init = Value::Array(Vec::new());
    }
    if let Value::Array(list) = init {
        let at = plan.init_position.unwrap_or(list.len()).min(list.len());
        list.insert(at, to_json(&plan.init_container));
    }
    Ok(())
}

fn push_all(slot: &mut Value, items: impl Iterator<Item = Value>) {
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(list) = slot {
        list.extend(items);
    }
}

fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}
