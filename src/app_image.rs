//! The app's own image, read at admission (`inspectAppImages`, off by default).
//!
//! A container whose spec sets no `PYTHONPATH` runs with its image's (`ENV PYTHONPATH=/app/lib`);
//! the injected `PYTHONPATH` would replace it, and the app's imports break. With the option on,
//! the configuration of each instrumented container's image is read through the
//! `oci/v1/oci_manifest_config` host capability ([`crate::oci::Lookups::image_config`]; one lookup
//! per distinct image, the reference as the pod writes it), and:
//! - a container that sets no `PYTHONPATH` (neither a literal nor `valueFrom`) gets the image's
//!   non-empty value appended to its env, as if its spec ended with it, so the plan keeps it
//!   exactly as it keeps a spec's literal (the packages first, the image's paths, the packages'
//!   root last; the container's value wins over `python.env`'s, as at run time);
//! - an image whose `PYTHON_VERSION` is below the lowest Python the instrumentation image's
//!   packages accept ([`SDK_FLOORS`]) gets a warning; for an image version not listed, none.
//!
//! Only a Pod is inspected: a workload's template is previewed without a registry lookup (its
//! pods are inspected when they are created).

use crate::oci::{ImageConfig, Lookups, Registry};
use crate::operator::PYTHONPATH;
use crate::pod::{ContainerView, EnvEntry, PodView, Slot};
use crate::refusal::{AppImageNotice, RegistryFailure};

/// The variable official Python images set to the interpreter's version.
pub const PYTHON_VERSION: &str = "PYTHON_VERSION";

/// The repository name (its last component) of the operator's Python image.
const PYTHON_IMAGE_NAME: &str = "autoinstrumentation-python";

/// The lowest Python `(major, minor)` each version of the operator's Python image supports: the
/// highest lower bound of the `Requires-Python` of its packages. 0.64b0: every package of
/// `e2e-tests/telemetry/requirements-image-instrumentations.txt` declares `>=3.10` (checked by
/// the telemetry suite, `test_app_image_floor.py`), as do `opentelemetry-sdk` 1.45.1 and
/// `opentelemetry-distro` 0.66b1 of the harness's tree.
pub const SDK_FLOORS: [(&str, (u32, u32)); 1] = [("0.64b0", (3, 10))];

/// What the inspection found: whether a container took its image's `PYTHONPATH` (the plan must
/// then be made again), and the warnings.
#[derive(Debug, Default)]
pub struct Inspected {
    /// Containers that took their image's `PYTHONPATH`.
    pub kept: usize,
    /// The warnings.
    pub notices: Vec<AppImageNotice>,
}

/// A lookup that failed, with the container whose image it was.
#[derive(Debug)]
pub struct Failed {
    /// The container.
    pub container: String,
    /// The lookup's failure.
    pub failure: RegistryFailure,
}

/// Reads the image configuration of the `targets` of `pod` through `registry`, appends the
/// image's `PYTHONPATH` to the containers that set none, and warns about old interpreters
/// (`python_image`: the instrumentation's image, for its Python floor).
pub fn inspect(
    pod: &mut PodView,
    targets: &[Slot],
    python_image: &str,
    registry: &dyn Registry,
) -> Result<Inspected, Failed> {
    let lookups = Lookups { registry };
    let floor = floor(python_image);
    let mut configs: Vec<(String, ImageConfig)> = Vec::new();
    let mut inspected = Inspected::default();
    for &slot in targets {
        let c = container_mut(pod, slot);
        if c.image.is_empty() {
            continue;
        }
        let config = match configs.iter().find(|(image, _)| *image == c.image) {
            Some((_, config)) => config,
            None => {
                let config = lookups.image_config(&c.image).map_err(|failure| Failed {
                    container: c.name.clone(),
                    failure,
                })?;
                configs.push((c.image.clone(), config));
                &configs[configs.len() - 1].1
            }
        };
        if keep_pythonpath(c, config) {
            inspected.kept += 1;
        }
        if let Some(notice) = below_floor(c, config, floor) {
            inspected.notices.push(notice);
        }
    }
    Ok(inspected)
}

fn container_mut(pod: &mut PodView, slot: Slot) -> &mut ContainerView {
    match slot {
        Slot::Init(i) => &mut pod.spec.init_containers[i],
        Slot::Regular(i) => &mut pod.spec.containers[i],
    }
}

/// The image's non-empty `PYTHONPATH` appended to the env of a container that sets none.
fn keep_pythonpath(c: &mut ContainerView, config: &ImageConfig) -> bool {
    if c.env.iter().any(|e| e.name == PYTHONPATH) {
        return false;
    }
    match config.env(PYTHONPATH).filter(|v| !v.is_empty()) {
        Some(value) => {
            c.env.push(EnvEntry {
                name: PYTHONPATH.to_string(),
                value: Some(value.to_string()),
                value_from: None,
            });
            true
        }
        None => false,
    }
}

/// The floor of the instrumentation image `python_image` (its version and the Python), when
/// [`SDK_FLOORS`] knows its tag.
pub fn floor(python_image: &str) -> Option<(&'static str, (u32, u32))> {
    let name_tag = python_image.split('@').next().unwrap_or_default();
    let (name, tag) = name_tag.rsplit_once(':')?;
    let repository = name.rsplit('/').next().unwrap_or_default();
    if repository != PYTHON_IMAGE_NAME {
        return None;
    }
    SDK_FLOORS
        .iter()
        .copied()
        .find(|(version, _)| *version == tag)
}

/// `3.9.18` (or `3.13.0rc1`) as `(3, 9)`.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

fn below_floor(
    c: &ContainerView,
    config: &ImageConfig,
    floor: Option<(&'static str, (u32, u32))>,
) -> Option<AppImageNotice> {
    let (image_version, floor) = floor?;
    let version = config.env(PYTHON_VERSION)?;
    if major_minor(version)? >= floor {
        return None;
    }
    Some(AppImageNotice::PythonBelowFloor {
        container: c.name.clone(),
        image: c.image.clone(),
        version: version.to_string(),
        floor: format!("{}.{}", floor.0, floor.1),
        image_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_known_for_the_operators_image_by_its_tag() {
        for image in [
            "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-python:0.64b0",
            "mirror.example.com/otel/autoinstrumentation-python:0.64b0@sha256:ab",
        ] {
            assert_eq!(floor(image), Some(("0.64b0", (3, 10))), "{image}");
        }
        for image in [
            "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-python:0.43b0",
            "mirror.example.com/otel/otel-autoinstrumentation-python:0.64b0",
            "mirror.example.com/otel/autoinstrumentation-python",
            "localhost:5000/autoinstrumentation-python@sha256:ab",
        ] {
            assert_eq!(floor(image), None, "{image}");
        }
    }

    #[test]
    fn versions_are_read_to_their_minor() {
        assert_eq!(major_minor("3.9.18"), Some((3, 9)));
        assert_eq!(major_minor("3.13.0rc1"), Some((3, 13)));
        assert_eq!(major_minor("3.10"), Some((3, 10)));
        assert_eq!(major_minor("3.1x"), Some((3, 1)));
        for bad in ["3", "", "x.9", "3.x"] {
            assert_eq!(major_minor(bad), None, "{bad}");
        }
    }
}
