//! What in a pod would clash with the injection, checked before anything is planned.
//!
//! What in a pod would clash with the injection (an invalid pod or a user's value overridden),
//! checked before anything is planned. The operator adds duplicates here; the policy refuses.

use k8s_openapi::api::core::v1::VolumeMount;

use super::Volume;
use crate::operator::{INIT_CONTAINER_NAME, MOUNT_PATH, PYTHONPATH, VOLUME_NAME};
use crate::pod::{ContainerView, PodView};
use crate::refusal::Conflict;

/// The pod as a whole: the packages' volume name and the init container's name are free.
pub fn check_pod(pod: &PodView) -> Result<(), Conflict> {
    if pod.spec.volumes.iter().any(|v| v.name == VOLUME_NAME) {
        return Err(Conflict::VolumeExists);
    }
    // Init and regular containers share one name space; an init container of that name means the
    // pod is already instrumented (see `already_instrumented`), a regular one would be duplicated.
    if pod
        .spec
        .containers
        .iter()
        .any(|c| c.name == INIT_CONTAINER_NAME)
    {
        return Err(Conflict::ContainerNamedLikeInit);
    }
    Ok(())
}

/// A target container: `PYTHONPATH` can be extended, and the mount paths are free.
pub fn check_container(c: &ContainerView, tls_mounts: &[VolumeMount]) -> Result<(), Conflict> {
    if c.env
        .iter()
        .any(|e| e.name == PYTHONPATH && e.value_from.is_some())
    {
        return Err(Conflict::PythonPathValueFrom {
            container: c.name.clone(),
        });
    }
    if let Some(m) = c
        .volume_mounts
        .iter()
        .find(|m| m.mount_path == MOUNT_PATH || m.name == VOLUME_NAME)
    {
        return Err(Conflict::MountTaken {
            container: c.name.clone(),
            mount: m.name.clone(),
            path: m.mount_path.clone(),
        });
    }
    // A TLS mount the container does not have yet must not land on a path it already mounts.
    for m in tls_mounts {
        if c.volume_mounts.iter().any(|p| p.name == m.name) {
            continue;
        }
        if let Some(u) = c
            .volume_mounts
            .iter()
            .find(|u| u.mount_path == m.mount_path)
        {
            return Err(Conflict::TlsMountTaken {
                container: c.name.clone(),
                mount: u.name.clone(),
                path: u.mount_path.clone(),
                volume: m.name.clone(),
            });
        }
    }
    Ok(())
}

/// The exporter's volumes that the pod does not have yet.
pub fn new_volumes(pod: &PodView, tls_volumes: &[Volume]) -> Vec<Volume> {
    let mut out: Vec<Volume> = Vec::new();
    for v in tls_volumes {
        if !pod.spec.volumes.iter().any(|p| p.name == v.name)
            && !out.iter().any(|p| p.name == v.name)
        {
            out.push(v.clone());
        }
    }
    out
}
