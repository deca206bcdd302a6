//! The Python part: `PYTHONPATH`, the language env, the mount, the volume, the init container.
//!
//! The Python part of the injection (the operator's `python.go` and `injectPythonSDKToPod`): the
//! language env and `PYTHONPATH`, the mount, the packages' volume and the init container.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, SeccompProfile, SecurityContext,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::env::{Entry, Fixed};
use super::{EphemeralVolume, Volume};
use crate::instrumentation::InstrumentationSpec;
use crate::operator::{
    DEFAULT_VOLUME_SIZE_LIMIT, INIT_CONTAINER_NAME, INIT_CONTAINER_UID, MOUNT_PATH,
    PYTHON_DEFAULT_ENV, PYTHONPATH, PYTHONPATH_PREFIX, VOLUME_NAME,
};
use crate::pod::{ContainerView, EnvEntry, PodView};

/// What happens to `PYTHONPATH`: added, or the value set above wrapped (the packages first, so
/// that their `sitecustomize` runs, the user's paths kept, the packages' root last).
pub enum PythonPath {
    Add(String),
    Wrap(String),
}

impl PythonPath {
    /// The variable to add (none or one), and the value to rewrite the one set above with.
    pub fn split(self) -> (Option<Entry<'static>>, Option<String>) {
        match self {
            PythonPath::Add(v) => (Some(Entry::literal(PYTHONPATH, v)), None),
            PythonPath::Wrap(value) => (None, Some(value)),
        }
    }
}

/// `PYTHONPATH` for a container with `own` env and the spec's `python.env`, the first that sets
/// it winning. (One set with `valueFrom` is refused before: see `conflicts`.)
pub fn pythonpath(own: &[EnvEntry], python_env: &[EnvVar]) -> PythonPath {
    let set = own
        .iter()
        .map(|v| (&v.name, &v.value))
        .chain(python_env.iter().map(|v| (&v.name, &v.value)))
        .find(|(name, _)| *name == PYTHONPATH);
    match set {
        None => PythonPath::Add(wrapped(None)),
        Some((_, value)) => PythonPath::Wrap(wrapped(Some(value.as_deref().unwrap_or_default()))),
    }
}

/// `PYTHONPATH`'s value: the packages, the `user`'s paths when set, the packages' root.
fn wrapped(user: Option<&str>) -> String {
    let mut out = String::with_capacity(
        PYTHONPATH_PREFIX.len() + MOUNT_PATH.len() + user.map_or(1, |u| u.len() + 2),
    );
    out.push_str(PYTHONPATH_PREFIX);
    out.push(':');
    if let Some(user) = user {
        out.push_str(user);
        out.push(':');
    }
    out.push_str(MOUNT_PATH);
    out
}

/// The Python image's exporter defaults.
pub fn default_env() -> [Entry<'static>; PYTHON_DEFAULT_ENV.len()] {
    Fixed::PYTHON_DEFAULTS.map(Entry::Fixed)
}

fn packages_mount() -> VolumeMount {
    VolumeMount {
        name: VOLUME_NAME.into(),
        mount_path: MOUNT_PATH.into(),
        ..Default::default()
    }
}

/// The mounts a target container gets: the packages' `mount`, then the exporter's TLS volumes it
/// does not mount yet.
pub fn container_mounts(
    c: &ContainerView,
    packages: VolumeMount,
    tls_mounts: &[VolumeMount],
) -> Vec<VolumeMount> {
    let mut mounts = vec![packages];
    for m in tls_mounts {
        if !c.volume_mounts.iter().any(|p| p.name == m.name)
            && !mounts.iter().any(|p| p.name == m.name)
        {
            mounts.push(m.clone());
        }
    }
    mounts
}

/// The emptyDir (or, with `volumeClaimTemplate`, the ephemeral volume) the packages are copied into.
pub fn packages_volume(spec: &InstrumentationSpec) -> Volume {
    let python = spec.python();
    let mut volume = Volume {
        name: VOLUME_NAME.into(),
        ..Default::default()
    };
    match &python.volume_claim_template {
        Some(template) => {
            volume.ephemeral = Some(EphemeralVolume {
                volume_claim_template: template.clone(),
            })
        }
        None => {
            let size = python.volume_limit_size.clone();
            volume.empty_dir = Some(EmptyDirVolumeSource {
                size_limit: Some(
                    size.unwrap_or_else(|| Quantity(DEFAULT_VOLUME_SIZE_LIMIT.into())),
                ),
                ..Default::default()
            })
        }
    }
    volume
}

/// The init container that copies the packages from `source` in `image`.
pub fn init_container(
    spec: &InstrumentationSpec,
    image: &str,
    pod: &PodView,
    source: &str,
) -> Container {
    let python = spec.python();
    Container {
        name: INIT_CONTAINER_NAME.into(),
        image: Some(image.to_string()),
        command: Some(vec![
            "cp".into(),
            "-r".into(),
            source.into(),
            MOUNT_PATH.into(),
        ]),
        resources: python.resource_requirements.clone(),
        volume_mounts: Some(vec![packages_mount()]),
        image_pull_policy: spec.image_pull_policy.clone().filter(|p| !p.is_empty()),
        security_context: Some(init_security_context(spec, pod)),
        ..Default::default()
    }
}

/// The injected init containers' securityContext: `initContainerSecurityContext`, else one the
/// PodSecurity "restricted" profile accepts.
pub fn init_security_context(spec: &InstrumentationSpec, pod: &PodView) -> SecurityContext {
    spec.init_container_security_context
        .clone()
        .unwrap_or_else(|| restricted_security_context(pod))
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
