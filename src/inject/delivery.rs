//! How the packages reach the containers: the operator's init container, or an image volume.
//!
//! With `delivery: initContainer` (the operator's way) an init container copies the image's
//! package tree into an `emptyDir` (or the claim of `python.volumeClaimTemplate`) mounted in every
//! target container. With `imageVolume` the image itself is the volume (`volumes[].image`,
//! Kubernetes 1.35, or 1.33 with the `ImageVolume` feature gate): each target container mounts its
//! package tree read-only with `subPath`, at the same path, so `PYTHONPATH` is the same; there is
//! no init container, no copy and no `emptyDir`. Either way the settings' `imagePullSecrets` that
//! the pod lacks are appended to its own.

use k8s_openapi::api::core::v1::{Container, ImageVolumeSource, VolumeMount};

use super::{Volume, python};
use crate::image::Delivery;
use crate::instrumentation::InstrumentationSpec;
use crate::operator::{MOUNT_PATH, VOLUME_NAME};
use crate::pod::PodView;

/// What the injection delivers: the image (rewritten and pinned), how, and the pull secrets the
/// settings add.
#[derive(Debug, Clone, Copy)]
pub struct Packages<'a> {
    /// The Python auto-instrumentation image.
    pub image: &'a str,
    /// How it reaches the containers.
    pub delivery: Delivery,
    /// `imagePullSecrets` of the settings.
    pub pull_secrets: &'a [String],
}

impl Packages<'_> {
    /// The packages' volume.
    pub fn volume(&self, spec: &InstrumentationSpec) -> Volume {
        match self.delivery {
            Delivery::InitContainer => python::packages_volume(spec),
            Delivery::ImageVolume => Volume {
                name: VOLUME_NAME.into(),
                image: Some(ImageVolumeSource {
                    reference: Some(self.image.to_string()),
                    // Unset, the API server defaults it as for a container's image.
                    pull_policy: spec.image_pull_policy.clone().filter(|p| !p.is_empty()),
                }),
                ..Default::default()
            },
        }
    }

    /// The packages' mount in a target container; `source` is the tree the init container
    /// copies (`/autoinstrumentation/.`), which an image volume mounts as its `subPath`.
    pub fn mount(&self, source: &str) -> VolumeMount {
        let mut mount = VolumeMount {
            name: VOLUME_NAME.into(),
            mount_path: MOUNT_PATH.into(),
            ..Default::default()
        };
        if self.delivery == Delivery::ImageVolume {
            mount.read_only = Some(true);
            mount.sub_path = Some(sub_path(source).to_string());
        }
        mount
    }

    /// The init container that copies the packages, when they are copied.
    pub fn init_container(
        &self,
        spec: &InstrumentationSpec,
        pod: &PodView,
        source: &str,
    ) -> Option<Container> {
        (self.delivery == Delivery::InitContainer)
            .then(|| python::init_container(spec, self.image, pod, source))
    }

    /// The settings' pull secrets, sorted: the pod lists each once injected.
    pub fn held_pull_secrets(&self) -> Vec<String> {
        let mut names = self.pull_secrets.to_vec();
        names.sort();
        names.dedup();
        names
    }

    /// The settings' pull secrets that the pod does not list yet, in the settings' order.
    pub fn missing_pull_secrets(&self, pod: &PodView) -> Vec<String> {
        let own = &pod.spec.image_pull_secrets;
        self.pull_secrets
            .iter()
            .filter(|name| !own.iter().any(|s| &s.name == *name))
            .cloned()
            .collect()
    }
}

/// The image's directory behind a copy source: `/autoinstrumentation/.` → `autoinstrumentation`.
pub fn sub_path(source: &str) -> &str {
    source.trim_start_matches('/').trim_end_matches("/.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{GLIBC_SOURCE, MUSL_SOURCE};

    #[test]
    fn the_sub_path_is_the_tree_the_init_container_would_copy() {
        assert_eq!(sub_path(GLIBC_SOURCE), "autoinstrumentation");
        assert_eq!(sub_path(MUSL_SOURCE), "autoinstrumentation-musl");
    }
}
