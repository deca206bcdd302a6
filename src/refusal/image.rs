//! An image the image options cannot give a pod: not pinned, not resolvable, not deliverable.
//!
//! What `imageRewrites`, `pinImageDigest` and `delivery` refuse: a spec whose image has no digest
//! under `require`, a spec field an image volume cannot honour, a rewrite that makes no valid
//! reference, and a digest lookup that failed ([`RegistryFailure`]).

use std::fmt::{self, Display, Formatter};

use super::{RegistryFailure, Subject};
use crate::keys::{OPT_DELIVERY, OPT_IMAGE_REWRITES, OPT_PIN_IMAGE_DIGEST};

/// Something in a spec that the image options cannot use.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageFault {
    /// `pinImageDigest: require` and an image without a digest.
    NotPinned {
        /// The spec's `python.image`.
        image: String,
    },
    /// `delivery: imageVolume` and a field that only the init container or its volume uses.
    Delivery {
        /// The field, as a spec path (`python.volumeClaimTemplate`).
        field: &'static str,
    },
}

impl Display for ImageFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ImageFault::NotPinned { image } => write!(
                f,
                "{image:?} has no digest, which {OPT_PIN_IMAGE_DIGEST} \"require\" requires; pin it as \"{image}@sha256:<64 hex digits>\" (the digest of the tag in its registry), or set {OPT_PIN_IMAGE_DIGEST} to \"resolve\" to have the policy look the digest up"
            ),
            ImageFault::Delivery { field } => write!(
                f,
                "cannot be used with {OPT_DELIVERY} \"imageVolume\": {}; remove it, or set {OPT_DELIVERY} to \"initContainer\"",
                delivery_reason(field)
            ),
        }
    }
}

/// Why an image volume leaves `field` nothing to do.
fn delivery_reason(field: &str) -> &'static str {
    match field {
        "python.volumeClaimTemplate" => {
            "the image itself is the volume, so no volume is claimed for the packages"
        }
        "python.volumeLimitSize" => {
            "the image itself is the volume, so there is no emptyDir to size"
        }
        "python.resourceRequirements" => {
            "there is no init container whose resources they would be (an image volume takes none of the pod's)"
        }
        _ => "there is no init container to apply it to",
    }
}

/// Why the image a spec names cannot be given to a pod.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageProblem {
    /// The spec does not fit the options: the field (`python.image`) and what is wrong.
    Spec {
        /// The spec path of the field.
        field: &'static str,
        /// What is wrong.
        fault: ImageFault,
    },
    /// The rewritten image is no valid reference.
    Rewritten {
        /// The spec's image.
        image: String,
        /// What `imageRewrites` made of it.
        rewritten: String,
        /// What is wrong with that.
        why: String,
    },
    /// `pinImageDigest: resolve`: the digest lookup failed.
    Lookup(RegistryFailure),
}

impl ImageProblem {
    /// The HTTP code: a lookup's own, else the policy's configuration (500).
    pub fn code(&self) -> u16 {
        match self {
            ImageProblem::Lookup(l) => l.code(),
            _ => super::MISCONFIGURED,
        }
    }
}

impl Display for ImageProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ImageProblem::Spec { field, fault } => write!(f, "spec.{field} {fault}"),
            ImageProblem::Rewritten {
                image,
                rewritten,
                why,
            } => write!(
                f,
                "{OPT_IMAGE_REWRITES} turn its image {image:?} into {rewritten:?}, which is not an image reference ({why}); change the rewrite's `to` prefix"
            ),
            ImageProblem::Lookup(l) => l.fmt(f),
        }
    }
}

/// An instrumentation whose image cannot be given to the subject's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRefusal {
    /// Whose pods.
    pub subject: Subject,
    /// The instrumentation, as messages name it.
    pub label: String,
    /// Why.
    pub problem: ImageProblem,
}

impl Display for ImageRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::Pod { name, .. } => write!(
                f,
                "pod {name} asked for OpenTelemetry Python instrumentation ({}), but ",
                self.label
            )?,
            Subject::Workload { template, .. } => write!(
                f,
                "{} asks for OpenTelemetry Python instrumentation ({}) in {template}.metadata.annotations, but ",
                self.subject, self.label
            )?,
        }
        match &self.problem {
            ImageProblem::Spec { .. } => write!(f, "its {}", self.problem),
            _ => self.problem.fmt(f),
        }
    }
}
