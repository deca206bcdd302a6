//! The injection: the operator's steps as a plan, then the plan written into the object.
//!
//! A plan is computed from the pod view and an instrumentation spec (what to add, in
//! the operator's order), then applied to the pod's original JSON so that everything the user wrote
//! stays as written. `plan` reads as the operator's `injectPython`: its steps are the functions of
//! `python` (the language part and the init container), `common` (the env every language gets and
//! the SDK configuration), `exporter` and `conflicts`; [`preflight`] adds the opt-in check that
//! runs in the app's image before it starts.

mod apply;
pub mod autoscaler;
mod common;
mod conflicts;
pub mod delivery;
pub mod env;
mod exporter;
pub mod preflight;
mod python;
pub mod resource_attributes;
pub mod selection;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, ImageVolumeSource, SecretVolumeSource,
    VolumeMount,
};
use serde::Serialize;

pub use apply::{annotate, apply};
pub use delivery::Packages;
pub use python::restricted_security_context;

use crate::instrumentation::{ClaimTemplate, InstrumentationSpec};
use crate::operator::{
    COLLECTOR_SIDECAR, INJECTED_INIT_CONTAINERS, INJECTED_SIDECAR, NODE_NAME_VAR, PYTHONPATH,
    RESOURCE_ATTRIBUTES_VAR, SERVICE_NAME_VAR, VOLUME_NAME,
};
use crate::pod::{ContainerView, PodView, Slot};
use crate::refusal::{AlreadyInstrumented, Notice, PlanProblem};
use env::{Entry, EnvList};

/// One target container's new env list and the mounts to append. Serialized as what it writes
/// (the record's hash): the container's name, its whole new env, the mounts it gets.
#[derive(Debug, Serialize)]
pub struct ContainerEdit<'a> {
    /// Where the container sits.
    #[serde(skip)]
    pub slot: Slot,
    /// Its name.
    pub name: &'a str,
    /// Its new env list.
    pub env: EnvList<'a>,
    /// The mounts appended to it.
    #[serde(serialize_with = "packages_only")]
    pub mounts: Vec<VolumeMount>,
}

/// The packages' volume or mount, alone: only it is surely the injection's (a pod that has one of
/// that name is refused). A TLS volume or mount of the name the injection would add may be the
/// pod's own, which the injection then uses; the TLS names come from the spec (the record's
/// version), the certificate variables are in the env.
fn packages_only<S: serde::Serializer, T: Serialize + Named>(
    items: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(items.iter().filter(|i| i.name() == VOLUME_NAME))
}

/// A volume or mount, by the volume's name.
trait Named {
    fn name(&self) -> &str;
}

impl Named for Volume {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for VolumeMount {
    fn name(&self) -> &str {
        &self.name
    }
}

/// A volume the injection adds, with the five sources it uses (the Kubernetes `Volume` has some
/// thirty; its serializer is not needed in the module). Written as Kubernetes writes a `Volume`.
#[derive(Serialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// A ConfigMap (exporter TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    /// The packages' `emptyDir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    /// The packages' ephemeral volume (`python.volumeClaimTemplate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralVolume>,
    /// The packages' image volume (`delivery: imageVolume`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageVolumeSource>,
    /// The volume's name.
    pub name: String,
    /// A Secret (exporter TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}

/// `ephemeral`: the claim template, copied from `python.volumeClaimTemplate`.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralVolume {
    /// The claim's template.
    pub volume_claim_template: ClaimTemplate,
}

/// Everything the injection adds to a pod. Its serialization is what it writes into the pod
/// spec, and nothing else (the record's hash, `crate::record`): a field that holds no written
/// value is `#[serde(skip)]`, and a new part of the plan is in the hash by being serialized.
#[derive(Debug, Default, Serialize)]
pub struct Plan<'a> {
    /// The target containers' edits, in the operator's order.
    pub edits: Vec<ContainerEdit<'a>>,
    /// Appended to `spec.volumes`, in order (TLS volumes first, then the packages' volume).
    #[serde(serialize_with = "packages_only")]
    pub volumes: Vec<Volume>,
    /// The init container that copies the packages; none for an image volume.
    pub init_container: Option<Container>,
    /// The preflight init containers that follow it (`preflight`; none by default).
    pub preflight: Vec<Container>,
    /// Index in `spec.initContainers` to insert at: before the first targeted init container, else the end.
    #[serde(skip)]
    pub init_position: Option<usize>,
    /// The tree the init container copies (glibc or musl).
    #[serde(skip)]
    pub source: &'static str,
    /// Things the user should know that are not errors.
    #[serde(skip)]
    pub notes: Vec<Notice>,
    /// Appended to `spec.imagePullSecrets`: the settings' secrets the pod lacks.
    #[serde(skip)]
    pub pull_secrets: Vec<String>,
    /// The settings' pull secrets, sorted: after the injection the pod lists each of them (what
    /// the record's hash covers of `spec.imagePullSecrets`).
    #[serde(rename = "pull_secrets")]
    pub held_pull_secrets: Vec<String>,
    /// Pod annotations set (`Some`) or removed (`None`) with the injection: metadata, which
    /// anyone may edit later, so not part of what the record's hash covers.
    #[serde(skip)]
    pub annotations: Vec<(&'static str, Option<String>)>,
}

impl Plan<'_> {
    /// The image the instrumentation's packages come from: the init container's, or the image
    /// volume's reference.
    pub fn image(&self) -> &str {
        if let Some(init) = &self.init_container {
            return init.image.as_deref().unwrap_or_default();
        }
        self.volumes
            .iter()
            .filter(|v| v.name == VOLUME_NAME)
            .find_map(|v| v.image.as_ref()?.reference.as_deref())
            .unwrap_or_default()
    }

    /// The packages' image set to `image` (once its digest is known), wherever the plan uses it.
    pub fn set_image(&mut self, image: &str) {
        if let Some(init) = &mut self.init_container {
            init.image = Some(image.to_string());
        }
        for volume in &mut self.volumes {
            if let Some(source) = volume.image.as_mut().filter(|_| volume.name == VOLUME_NAME) {
                source.reference = Some(image.to_string());
            }
        }
    }
}

/// Why a pod counts as already instrumented (Kubernetes may call a mutating webhook again on its
/// own output); `None` when it does not.
pub fn already_instrumented(pod: &PodView) -> Option<AlreadyInstrumented> {
    let spec = &pod.spec;
    if let Some(c) = spec
        .init_containers
        .iter()
        .find(|c| INJECTED_INIT_CONTAINERS.contains(&c.name.as_str()))
    {
        return Some(AlreadyInstrumented::InitContainer(c.name.clone()));
    }
    if spec
        .volumes
        .iter()
        .any(|v| v.name == VOLUME_NAME && v.image.is_some())
    {
        return Some(AlreadyInstrumented::ImageVolume);
    }
    if spec.containers.iter().any(|c| c.name == INJECTED_SIDECAR) {
        return Some(AlreadyInstrumented::Sidecar);
    }
    spec.containers
        .iter()
        .find(|c| c.name != COLLECTOR_SIDECAR && c.env.iter().any(|e| e.name == NODE_NAME_VAR))
        .map(|c| AlreadyInstrumented::NodeNameVar {
            container: c.name.clone(),
        })
}

/// Whether `spec` can be injected into `pod`: the containers, the platform tree and the exporter
/// TLS the plan will use, once nothing clashes. A workload's template gets exactly these checks.
pub struct Checked {
    /// The containers to instrument, in the operator's order.
    pub targets: Vec<Slot>,
    /// The tree the init container copies (glibc or musl).
    pub source: &'static str,
    tls: exporter::TlsPlan,
}

/// The checks of [`Checked`], or the first problem.
pub fn check(pod: &PodView, spec: &InstrumentationSpec) -> Result<Checked, PlanProblem> {
    let targets = selection::targets(pod).map_err(PlanProblem::Selection)?;
    let source = selection::platform_source(pod)?;
    conflicts::check_pod(pod).map_err(PlanProblem::Conflict)?;
    let tls = exporter::tls(spec);
    for &slot in &targets {
        conflicts::check_container(pod.container(slot), &tls.mounts)
            .map_err(PlanProblem::Conflict)?;
    }
    Ok(Checked {
        targets,
        source,
        tls,
    })
}

/// The `OTEL_SERVICE_NAME` the first target container gets.
pub fn service_name(
    pod: &PodView,
    namespace: &str,
    spec: &InstrumentationSpec,
    checked: &Checked,
) -> Option<String> {
    let c = pod.container(*checked.targets.first()?);
    let user = set_above_sdk(spec, c, RESOURCE_ATTRIBUTES_VAR).flatten();
    let set = set_above_sdk(spec, c, SERVICE_NAME_VAR);
    common::service_name(set, user.unwrap_or_default(), pod, namespace, spec, c)
}

/// The value of the first entry named `name` in [`env_above_sdk`] (`Some(None)` for a
/// `valueFrom` one), without building that list: for a variable that the policy's own layers
/// there (`PYTHONPATH`, the IPs, the Python defaults) never set, that is the first of the
/// container's env, `python.env` and `env`.
fn set_above_sdk<'a>(
    spec: &'a InstrumentationSpec,
    c: &'a ContainerView,
    name: &str,
) -> Option<Option<&'a str>> {
    let own = c.env.iter().map(|v| (v.name.as_str(), v.value.as_deref()));
    let python_env = spec.python().env.as_deref().unwrap_or_default();
    let spec_env = spec.env.as_deref().unwrap_or_default();
    let layers = python_env.iter().chain(spec_env);
    own.chain(layers.map(|v| (v.name.as_str(), v.value.as_deref())))
        .find(|&(n, _)| n == name)
        .map(|(_, value)| value)
}

/// Computes the injection of `spec` into `pod` (in `namespace`), with `packages` delivered, or
/// says why it cannot be done.
pub fn plan<'a>(
    pod: &'a PodView,
    namespace: &str,
    spec: &'a InstrumentationSpec,
    packages: &Packages<'_>,
) -> Result<Plan<'a>, PlanProblem> {
    Ok(plan_checked(
        pod,
        namespace,
        spec,
        packages,
        check(pod, spec)?,
    ))
}

/// [`plan`] of a pod that passed [`check`].
pub fn plan_checked<'a>(
    pod: &'a PodView,
    namespace: &str,
    spec: &'a InstrumentationSpec,
    packages: &Packages<'_>,
    checked: Checked,
) -> Plan<'a> {
    let Checked {
        targets,
        source,
        tls,
    } = checked;
    let mut volumes = conflicts::new_volumes(pod, &tls.volumes);
    let mut edits = Vec::with_capacity(targets.len());
    let mut notes = Vec::new();
    for &slot in &targets {
        let c = pod.container(slot);
        let (env, note) = container_env(pod, namespace, spec, c, &tls);
        notes.extend(note);
        edits.push(ContainerEdit {
            slot,
            name: &c.name,
            env,
            mounts: python::container_mounts(c, packages.mount(source), &tls.mounts),
        });
    }
    volumes.push(packages.volume(spec));
    Plan {
        edits,
        volumes,
        init_container: packages.init_container(spec, pod, source),
        preflight: Vec::new(),
        init_position: match targets.first() {
            Some(Slot::Init(i)) => Some(*i),
            _ => None,
        },
        source,
        notes,
        pull_secrets: packages.missing_pull_secrets(pod),
        held_pull_secrets: packages.held_pull_secrets(),
        annotations: Vec::new(),
    }
}

/// A target container's env. The operator's precedence, highest first: what the container sets,
/// `python.env`, the generated `PYTHONPATH`, the node and pod IPs, `env`, the Python defaults,
/// then the SDK configuration computed from all of those. Two values the user set are changed
/// rather than kept: a literal `PYTHONPATH` is wrapped and `OTEL_RESOURCE_ATTRIBUTES` extended.
fn container_env<'a>(
    pod: &PodView,
    namespace: &str,
    spec: &'a InstrumentationSpec,
    c: &'a ContainerView,
    tls: &exporter::TlsPlan,
) -> (EnvList<'a>, Option<Notice>) {
    common::sdk_config(env_above_sdk(spec, c), pod, namespace, spec, c, tls)
}

/// The env [`container_env`] puts above the SDK configuration: everything but the SDK's.
fn env_above_sdk<'a>(spec: &'a InstrumentationSpec, c: &'a ContainerView) -> EnvList<'a> {
    let python_env = spec.python().env.as_deref().unwrap_or_default();
    let (pythonpath, wrap) = python::pythonpath(&c.env, python_env).split();
    let spec_env = spec.env.as_deref().unwrap_or_default();
    let mut env = EnvList::from_original(&c.env);
    env.back(python_env.iter().map(Entry::Spec));
    env.back(pythonpath);
    env.front(common::ip_env());
    env.back(spec_env.iter().map(Entry::Spec));
    env.back(python::default_env());
    if let Some(value) = wrap {
        env.rewrite(PYTHONPATH, value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_above_sdk_reads_what_env_above_sdk_holds() {
        let spec: InstrumentationSpec = serde_json::from_value(json!({
            "env": [
                {"name": "OTEL_SERVICE_NAME", "value": "from-env"},
                {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "a=env"}
            ],
            "python": {"env": [{"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "a=python"}]}
        }))
        .unwrap();
        let pod: PodView = serde_json::from_value(json!({"spec": {"containers": [
            {"name": "bare"},
            {"name": "own", "env": [
                {"name": "OTEL_SERVICE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                {"name": "OTEL_SERVICE_NAME", "value": "second"},
                {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "a=own"}
            ]}
        ]}}))
        .unwrap();
        let names = [
            SERVICE_NAME_VAR,
            RESOURCE_ATTRIBUTES_VAR,
            "OTEL_SDK_DISABLED",
        ];
        for c in &pod.spec.containers {
            let env = env_above_sdk(&spec, c);
            for name in names {
                let built = env.find(name).map(|v| v.value());
                assert_eq!(set_above_sdk(&spec, c, name), built, "{} {name}", c.name);
            }
        }
        let own = &pod.spec.containers[1];
        assert_eq!(set_above_sdk(&spec, own, SERVICE_NAME_VAR), Some(None));
    }
}
