//! What `inspectAppImages` says: an app image whose configuration cannot be read, and an app
//! image whose Python is older than the instrumentation supports.

use std::fmt::{self, Display, Formatter};

use super::{RegistryFailure, Subject};
use crate::keys::OPT_INSPECT_APP_IMAGES;

/// A container's image whose configuration cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct AppImageRefusal {
    /// The pod.
    pub subject: Subject,
    /// The instrumentation, as messages name it.
    pub label: String,
    /// The container whose image it is.
    pub container: String,
    /// The lookup's failure (it names the image and the cause).
    pub failure: RegistryFailure,
}

impl Display for AppImageRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} asked for OpenTelemetry Python instrumentation ({}), but {OPT_INSPECT_APP_IMAGES} cannot inspect the image of its container {:?}: {}",
            self.subject, self.label, self.container, self.failure
        )
    }
}

/// A warning about a container's image.
#[derive(Debug, Clone, PartialEq)]
pub enum AppImageNotice {
    /// The image's `PYTHON_VERSION` is below the instrumentation image's floor.
    PythonBelowFloor {
        /// The container.
        container: String,
        /// Its image.
        image: String,
        /// The image's `PYTHON_VERSION`.
        version: String,
        /// The lowest Python the instrumentation image supports, `3.10`.
        floor: String,
        /// The instrumentation image's version.
        image_version: &'static str,
    },
}

impl Display for AppImageNotice {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AppImageNotice::PythonBelowFloor {
                container,
                image,
                version,
                floor,
                image_version,
            } => write!(
                f,
                "container {container:?}: its image {image:?} has Python {version} (PYTHON_VERSION), below the Python {floor} that the OpenTelemetry Python image {image_version} requires (Requires-Python >={floor}), so the injected packages may fail to load and the app send nothing or crash; use an app image with Python {floor} or later, or an instrumentation image that supports Python {version}"
            ),
        }
    }
}
