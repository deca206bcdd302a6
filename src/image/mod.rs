//! The Python image a pod gets: the spec's image moved to a mirror, then pinned to a digest.
//!
//! The order is fixed: `imageRewrites` first (longest matching prefix, see [`rewritten`]), then
//! `pinImageDigest` on the rewritten image, so that the digest is the mirror's. [`prepare`] does
//! everything that needs no host call (the spec checked against the options, the rewrite);
//! [`pin`] then looks a tag's digest up through the `oci/v1/manifest_digest` host capability when
//! `resolve` asks for it. With every option off the spec's image is used as it is.

use serde_json::Value;

use crate::instrumentation::InstrumentationSpec;
use crate::oci::{Lookups, Registry};
use crate::operator::DEFAULT_PYTHON_IMAGE;
use crate::refusal::{ImageFault, ImageProblem, SettingsProblem};
use crate::syntax::image_ref::{self, full_name};

/// One `imageRewrites` entry: images under `from` move under `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The prefix replaced, without a trailing `/`.
    pub from: String,
    /// What replaces it, without a trailing `/`.
    pub to: String,
}

/// `pinImageDigest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PinImageDigest {
    /// The image as written (the default).
    #[default]
    Off,
    /// A tag is resolved to its digest through the registry: `repo:tag@sha256:…`.
    Resolve,
    /// An image without a digest is refused.
    Require,
}

/// `delivery`: how the packages reach the instrumented containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Delivery {
    /// An init container copies them into an `emptyDir` (the operator's way, the default).
    #[default]
    InitContainer,
    /// The image is mounted as a volume (`volumes[].image`), read-only.
    ImageVolume,
}

/// The four options, with their defaults (all off).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ImageOptions {
    /// `imageRewrites`, in the order given.
    pub rewrites: Vec<Rewrite>,
    /// `imagePullSecrets`: Secret names, in the order given.
    pub pull_secrets: Vec<String>,
    /// `pinImageDigest`.
    pub pin: PinImageDigest,
    /// `delivery`.
    pub delivery: Delivery,
}

/// The image of a spec after the steps that need no host call.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The image, rewritten.
    pub image: String,
    /// Whether `resolve` still has to look its digest up (a tag without a digest).
    pub needs_digest: bool,
}

/// The spec's `python.image` (the operator's default when unset).
pub fn spec_image(spec: &InstrumentationSpec) -> &str {
    spec.python()
        .image
        .as_deref()
        .unwrap_or(DEFAULT_PYTHON_IMAGE)
}

/// `image` moved by the longest `from` prefix that matches it, compared with the image's full
/// name (`busybox` is `docker.io/library/busybox`); `None` when none matches. A prefix matches
/// where a component ends: `ghcr.io/otel` matches `ghcr.io/otel/python:1` and `ghcr.io/otel:1`,
/// not `ghcr.io/otel-x/python`; a host alone matches no other port of it.
pub fn rewritten(image: &str, rules: &[Rewrite]) -> Option<String> {
    if rules.is_empty() {
        return None;
    }
    let full = full_name(image);
    let matching = |r: &&Rewrite| {
        full.strip_prefix(r.from.as_str()).is_some_and(|rest| {
            let host_only = !r.from.contains('/');
            rest.starts_with('/') || (!host_only && rest.starts_with([':', '@']))
        })
    };
    let rule = rules.iter().filter(matching).max_by_key(|r| r.from.len())?;
    Some(format!("{}{}", rule.to, &full[rule.from.len()..]))
}

/// The spec checked against the options, then its image rewritten: the image a pod gets, but
/// for the digest `resolve` looks up.
pub fn prepare(
    spec: &InstrumentationSpec,
    options: &ImageOptions,
) -> Result<Prepared, ImageProblem> {
    let image = spec_image(spec);
    if let Some((field, fault)) = faults(spec, options).into_iter().next() {
        return Err(ImageProblem::Spec { field, fault });
    }
    let image = match rewritten(image, &options.rewrites) {
        None => image.to_string(),
        Some(rewritten) => match image_ref::parse(&rewritten) {
            Ok(_) => rewritten,
            Err(why) => {
                let image = image.to_string();
                return Err(ImageProblem::Rewritten {
                    image,
                    rewritten,
                    why,
                });
            }
        },
    };
    let needs_digest = options.pin == PinImageDigest::Resolve && !has_digest(&image);
    Ok(Prepared {
        image,
        needs_digest,
    })
}

/// The prepared image, pinned: a tag is resolved through `registry` to `repo:tag@sha256:…` (the
/// tag kept readable; `latest` written out when the image names none).
pub fn pin(prepared: Prepared, registry: &dyn Registry) -> Result<String, ImageProblem> {
    if !prepared.needs_digest {
        return Ok(prepared.image);
    }
    let digest = Lookups { registry }
        .manifest_digest(&prepared.image)
        .map_err(ImageProblem::Lookup)?;
    let tagged = image_ref::parse(&prepared.image).is_ok_and(|r| r.tag.is_some());
    Ok(match tagged {
        true => format!("{}@{digest}", prepared.image),
        false => format!("{}:latest@{digest}", prepared.image),
    })
}

fn has_digest(image: &str) -> bool {
    image.contains('@')
}

/// What of `spec` the options cannot use, typed (what any spec shows, from the settings or the
/// cluster): an image without a digest under `require`, and for an image volume the fields only
/// the init container and its volume use.
fn faults(spec: &InstrumentationSpec, options: &ImageOptions) -> Vec<(&'static str, ImageFault)> {
    let mut out = Vec::new();
    let image = spec_image(spec);
    if options.pin == PinImageDigest::Require && !has_digest(image) {
        let image = image.to_string();
        out.push(("python.image", ImageFault::NotPinned { image }));
    }
    if options.delivery == Delivery::ImageVolume {
        let python = spec.python();
        let set = [
            (
                "python.volumeClaimTemplate",
                python.volume_claim_template.is_some(),
            ),
            ("python.volumeLimitSize", python.volume_limit_size.is_some()),
            (
                "initContainerSecurityContext",
                spec.init_container_security_context.is_some(),
            ),
        ];
        for (field, _) in set.into_iter().filter(|(_, set)| *set) {
            out.push((field, ImageFault::Delivery { field }));
        }
    }
    out
}

/// The problems of a spec in the settings under the options, each at `prefix` + its field:
/// those of any spec, and `python.resourceRequirements` written in `given` (the spec's JSON)
/// next to an image volume. Only the settings are checked for that one: the operator's
/// defaulting webhook writes resource requirements into every Instrumentation of a cluster.
pub fn settings_problems(
    given: &Value,
    spec: &InstrumentationSpec,
    options: &ImageOptions,
    prefix: &str,
    problems: &mut Vec<SettingsProblem>,
) {
    let mut faults = faults(spec, options);
    let resources = given.pointer("/python/resourceRequirements");
    if options.delivery == Delivery::ImageVolume && resources.is_some_and(|r| !r.is_null()) {
        let field = "python.resourceRequirements";
        faults.push((field, ImageFault::Delivery { field }));
    }
    for (field, fault) in faults {
        problems.push(SettingsProblem::new(format!("{prefix}{field}"), fault));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, &str)]) -> Vec<Rewrite> {
        pairs
            .iter()
            .map(|(from, to)| Rewrite {
                from: from.to_string(),
                to: to.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_longest_prefix_wins_where_a_component_ends() {
        let r = rules(&[
            ("ghcr.io", "mirror.io/ghcr"),
            ("ghcr.io/open-telemetry", "mirror.io/otel"),
            ("docker.io/library", "mirror.io/hub"),
            ("localhost", "mirror.io/local"),
        ]);
        for (image, want) in [
            ("ghcr.io/open-telemetry/p:1", Some("mirror.io/otel/p:1")),
            ("ghcr.io/open-telemetry:1", Some("mirror.io/otel:1")),
            (
                "ghcr.io/open-telemetry-x/p:1",
                Some("mirror.io/ghcr/open-telemetry-x/p:1"),
            ),
            ("ghcr.io:443/p:1", None),
            ("busybox:1", Some("mirror.io/hub/busybox:1")),
            ("localhost/p", Some("mirror.io/local/p")),
            ("localhost:5000/p", None),
            ("quay.io/p:1", None),
        ] {
            assert_eq!(rewritten(image, &r).as_deref(), want, "{image}");
        }
    }

    struct Digest(&'static str);
    impl Registry for Digest {
        fn call(&self, _: &str, _: &[u8]) -> Result<Vec<u8>, String> {
            Ok(format!(r#"{{"digest":"{}"}}"#, self.0).into_bytes())
        }
    }

    #[test]
    fn a_tag_is_pinned_with_its_tag_kept_and_latest_written_out() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let registry = Digest(d);
        let pinned = |image: &str, needs_digest| {
            let image = image.to_string();
            pin(
                Prepared {
                    image,
                    needs_digest,
                },
                &registry,
            )
            .unwrap()
        };
        assert_eq!(pinned("r.io/p:1", true), format!("r.io/p:1@{d}"));
        assert_eq!(pinned("r.io/p", true), format!("r.io/p:latest@{d}"));
        assert_eq!(pinned("r.io/p:1", false), "r.io/p:1");
    }
}
