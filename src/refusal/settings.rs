//! Settings the policy cannot use, each problem with its path, value and what would work.
//!
//! Settings the policy cannot use: every problem, with the path of the field, the value and what
//! would be accepted. `validate_settings` reports them all at once; an Instrumentation read from
//! the cluster is checked by the same rules. The faults of the spec rules are in `spec`.

use std::fmt::{self, Display, Formatter};

use super::image::ImageFault;
use super::spec::{ObjectFault, PythonFault, SdkFault, TlsFault};
use crate::keys::{DEFAULT_SERVICE_ACCOUNT, OPT_IMAGE_REWRITES, OPTIONS};
use crate::operator::{DEFAULT_PYTHON_IMAGE, PULL_POLICIES, SAMPLERS};

/// Every problem found in a settings object, reported together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsErrors(pub Vec<SettingsProblem>);

impl Display for SettingsErrors {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            p.fmt(f)?;
        }
        Ok(())
    }
}

/// One bad settings value: where it is (`instrumentations[0].spec.sampler.argument`; empty for
/// the settings as a whole) and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsProblem {
    /// The dotted path of the field.
    pub path: String,
    /// What is wrong with it.
    pub fault: Fault,
}

impl SettingsProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, fault: impl Into<Fault>) -> Self {
        SettingsProblem {
            path: path.into(),
            fault: fault.into(),
        }
    }
}

impl Display for SettingsProblem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.fault {
            // These read as a sentence about the field.
            Fault::Missing(_)
            | Fault::Tls(TlsFault::WithoutHttps { .. })
            | Fault::Image(ImageFault::Delivery { .. }) => {
                write!(f, "{} {}", self.path, self.fault)
            }
            _ if self.path.is_empty() => self.fault.fmt(f),
            _ => write!(f, "{}: {}", self.path, self.fault),
        }
    }
}

/// What is wrong with a settings value. Values are the user's text, quoted when shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The settings are not JSON.
    NotJson {
        /// The parser's message.
        error: String,
    },
    /// The settings are JSON but not an object.
    NotAnObject {
        /// What they are (`a list`).
        found: &'static str,
    },
    /// The deserializer's own message (wrong type, unknown field of the CRD's own types).
    Parse {
        /// The message.
        message: String,
    },
    /// A field that the Kubernetes type at this place does not have.
    UnknownK8sField {
        /// The field.
        key: String,
    },
    /// An empty string where empty is never valid.
    Empty {
        /// Which field, for what to write instead.
        field: EmptyField,
    },
    /// A field that must be present.
    Missing(MissingField),
    /// A policy option.
    Option(OptionFault),
    /// The SDK configuration of a spec: exporter, propagators, sampler, resource attributes.
    Sdk(SdkFault),
    /// The Python part of a spec: image, env, init container resources, volume.
    Python(PythonFault),
    /// The exporter's TLS.
    Tls(TlsFault),
    /// A whole Instrumentation object: its kind, names, uniqueness.
    Object(ObjectFault),
    /// A spec the image options cannot use.
    Image(ImageFault),
}

impl Display for Fault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NotJson { error } => write!(
                f,
                "settings are not valid JSON ({error}); use a JSON object (an Instrumentation spec plus policy options)"
            ),
            Fault::NotAnObject { found } => write!(
                f,
                "settings must be an object (an Instrumentation spec plus policy options), not {found}"
            ),
            Fault::Parse { message } => f.write_str(message),
            Fault::UnknownK8sField { key } => write!(
                f,
                "unknown field `{key}` (not part of the Kubernetes type at this place; check the spelling)"
            ),
            Fault::Empty { field } => write!(f, "\"\" is empty; {field}"),
            Fault::Missing(MissingField::InstrumentationName) => {
                f.write_str("is missing; every instrumentation needs the name pods refer to")
            }
            Fault::Missing(MissingField::InstrumentationNamespace) => f.write_str(
                "is missing; set the namespace the Instrumentation lives in (references are NAME within it or NAMESPACE/NAME)",
            ),
            Fault::Option(o) => o.fmt(f),
            Fault::Sdk(s) => s.fmt(f),
            Fault::Python(p) => p.fmt(f),
            Fault::Tls(t) => t.fmt(f),
            Fault::Object(o) => o.fmt(f),
            Fault::Image(i) => i.fmt(f),
        }
    }
}

macro_rules! fault_from {
    ($($family:ident => $variant:ident),*) => {
        $(impl From<$family> for Fault {
            fn from(f: $family) -> Fault {
                Fault::$variant(f)
            }
        })*
    };
}
fault_from!(OptionFault => Option, SdkFault => Sdk, PythonFault => Python, TlsFault => Tls, ObjectFault => Object, ImageFault => Image);

/// A field that must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingField {
    /// `metadata.name` of an entry of `instrumentations`.
    InstrumentationName,
    /// `metadata.namespace` of an entry of `instrumentations`.
    InstrumentationNamespace,
}

/// The string fields that may be left out but not given empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyField {
    /// `exporter.endpoint`.
    Endpoint,
    /// `python.image`.
    Image,
    /// `imagePullPolicy`.
    PullPolicy,
    /// `sampler.type`.
    SamplerType,
    /// `exporter.tls.secretName` or `configMapName`.
    TlsName,
    /// `exporter.tls.ca_file`, `cert_file` or `key_file`.
    TlsFile,
}

impl Display for EmptyField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            EmptyField::Endpoint => f.write_str(
                "set the collector's OTLP/HTTP URL (for example \"http://otel-collector.monitor.svc:4318\"), or leave the field out for the SDK's default http://localhost:4318",
            ),
            EmptyField::Image => write!(
                f,
                "set an image reference, or leave the field out for the default {DEFAULT_PYTHON_IMAGE:?}"
            ),
            EmptyField::PullPolicy => write!(
                f,
                "use one of {}, or leave the field out for the cluster's default",
                PULL_POLICIES.join(", ")
            ),
            EmptyField::SamplerType => write!(
                f,
                "use one of {}, or leave sampler out for the SDK's default (parentbased_always_on)",
                SAMPLERS.join(", ")
            ),
            EmptyField::TlsName => f.write_str("set the object's name, or leave the field out"),
            EmptyField::TlsFile => {
                f.write_str("set a file name or an absolute path, or leave the field out")
            }
        }
    }
}

/// A policy option's value that is not accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionFault {
    /// `failureAction`.
    FailureAction {
        /// The value, as JSON.
        value: String,
    },
    /// `instrumentationSource`.
    InstrumentationSource {
        /// The value, as JSON.
        value: String,
    },
    /// `policyServerServiceAccount`.
    ServiceAccount {
        /// The value, as JSON.
        value: String,
    },
    /// `preflight`.
    Preflight {
        /// The value, as JSON.
        value: String,
    },
    /// An option that takes `true` or `false`.
    NotABool {
        /// The value, as JSON.
        value: String,
    },
    /// `imageRewrites` is not a list.
    ImageRewrites {
        /// The value, as JSON.
        value: String,
    },
    /// An `imageRewrites` entry that is not `{from, to}`.
    RewriteEntry {
        /// The entry, as JSON.
        value: String,
    },
    /// An `imageRewrites` prefix that is not one.
    Prefix {
        /// The value, as JSON.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// An `imageRewrites` prefix given twice.
    RewriteTwice {
        /// The prefix (without a trailing `/`).
        prefix: String,
        /// The index of the entry that has it first.
        first: usize,
    },
    /// `imagePullSecrets` is not a list.
    PullSecrets {
        /// The value, as JSON.
        value: String,
    },
    /// An `imagePullSecrets` entry that is not a Secret name.
    PullSecretName {
        /// The value, as JSON.
        value: String,
    },
    /// A Secret listed twice in `imagePullSecrets`.
    PullSecretTwice {
        /// The Secret's name.
        name: String,
    },
    /// `pinImageDigest`.
    PinImageDigest {
        /// The value, as JSON.
        value: String,
    },
    /// `delivery`.
    Delivery {
        /// The value, as JSON.
        value: String,
    },
    /// `preflight: disable` with `delivery: imageVolume`: the preflight cannot move a read-only
    /// volume's tree aside.
    DisableOnImageVolume,
}

impl Display for OptionFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OptionFault::FailureAction { value } => write!(
                f,
                "{value} is not accepted; use \"reject\" (refuse a pod that cannot be instrumented, the default) or \"admit\" (admit it unchanged with a warning, as the operator does)"
            ),
            OptionFault::InstrumentationSource { value } => write!(
                f,
                "{value} is not accepted; use \"settings\" (instrumentations come from these settings only, the default) or \"cluster\" (also read the cluster's Instrumentation resources, namespace annotations and pod owners; needs a ClusterAdmissionPolicy with contextAwareResources)"
            ),
            OptionFault::ServiceAccount { value } => write!(
                f,
                "{value} is not accepted; use NAMESPACE/NAME of the ServiceAccount the PolicyServer runs as, for example \"{DEFAULT_SERVICE_ACCOUNT}\""
            ),
            OptionFault::Preflight { value } => write!(
                f,
                "{value} is not accepted; use \"off\" (no preflight, the operator's pod: the default), \"disable\" (on a finding the app starts without instrumentation, the reason in the preflight init container's termination message) or \"fail\" (on a finding the pod does not start)"
            ),
            OptionFault::NotABool { value } => {
                write!(f, "{value} is not accepted; use true or false")
            }
            OptionFault::ImageRewrites { value } => write!(
                f,
                "{value} is not accepted; use a list of {{from: PREFIX, to: PREFIX}} entries, for example [{{from: \"{REWRITE_FROM}\", to: \"{REWRITE_TO}\"}}]"
            ),
            OptionFault::RewriteEntry { value } => write!(
                f,
                "{value} is not accepted; use {{from: PREFIX, to: PREFIX}} with exactly these two image prefixes, for example {{from: \"{REWRITE_FROM}\", to: \"{REWRITE_TO}\"}}"
            ),
            OptionFault::Prefix { value, why } => write!(
                f,
                "{value} is not an image prefix: {why}; use a registry host and an optional repository path, for example \"ghcr.io/open-telemetry/\" or \"mirror.example.com:5000/otel/\""
            ),
            OptionFault::RewriteTwice { prefix, first } => write!(
                f,
                "\"{prefix}\" is already rewritten by {OPT_IMAGE_REWRITES}[{first}]; list each prefix once"
            ),
            OptionFault::PullSecrets { value } => write!(
                f,
                "{value} is not accepted; use a list of Secret names in the pods' namespaces, for example [\"regcred\"]"
            ),
            OptionFault::PullSecretName { value } => write!(
                f,
                "{value} is not a Secret name; use a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), for example \"regcred\""
            ),
            OptionFault::PullSecretTwice { name } => {
                write!(f, "\"{name}\" is listed twice; list each Secret once")
            }
            OptionFault::PinImageDigest { value } => write!(
                f,
                "{value} is not accepted; use \"off\" (the image as written, the default), \"resolve\" (the tag's digest is looked up in the registry and the image becomes repo:tag@sha256:...) or \"require\" (an image without a digest is refused)"
            ),
            OptionFault::Delivery { value } => write!(
                f,
                "{value} is not accepted; use \"initContainer\" (an init container copies the packages into an emptyDir, as the operator does; the default) or \"imageVolume\" (the image is mounted as a read-only volume; Kubernetes 1.35, or 1.33 with the ImageVolume feature gate)"
            ),
            OptionFault::DisableOnImageVolume => f.write_str(DISABLE_ON_IMAGE_VOLUME),
        }
    }
}

/// `preflight: disable` with `delivery: imageVolume`.
const DISABLE_ON_IMAGE_VOLUME: &str = "\"disable\" is not accepted with delivery \"imageVolume\": the packages are a read-only volume the preflight cannot move aside; use preflight \"fail\" (on a finding the pod does not start) or delivery \"initContainer\"";

/// The example prefixes of the `imageRewrites` messages.
const REWRITE_FROM: &str = "ghcr.io/open-telemetry/opentelemetry-operator/";
/// See [`REWRITE_FROM`].
const REWRITE_TO: &str = "mirror.example.com/otel/";

/// The message suffix for an unknown top-level settings field: the policy's own options.
pub fn policy_options_hint() -> String {
    let options: Vec<String> = OPTIONS.iter().map(|o| format!("`{o}`")).collect();
    format!(", or a policy option {}", options.join(", "))
}
