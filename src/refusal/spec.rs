//! The spec rules' faults, by part of the spec: SDK, Python, TLS, the whole object.
//!
//! The faults the spec rules find in an Instrumentation (in the settings or the cluster), by part
//! of the spec: the SDK configuration, the Python section, the exporter's TLS, the whole object.

use std::fmt::{self, Display, Formatter};

use crate::operator::{
    DEFAULT_PYTHON_IMAGE, INSTRUMENTATION_API_VERSION, PROPAGATORS, PULL_POLICIES, SAMPLERS,
};

/// Exporter endpoint, propagators, sampler, resource attributes, pull policy.
#[derive(Debug, Clone, PartialEq)]
pub enum SdkFault {
    /// `exporter.endpoint` is not an absolute http(s) URL.
    Endpoint {
        /// The value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A propagator the SDK does not know.
    UnknownPropagator {
        /// The value.
        value: String,
    },
    /// A propagator listed twice.
    PropagatorTwice {
        /// The value.
        value: String,
    },
    /// `none` with other propagators.
    NoneCombined,
    /// `sampler.argument` without `sampler.type`.
    SamplerArgumentWithoutType {
        /// The argument.
        value: String,
    },
    /// A sampler the SDK does not know.
    UnknownSampler {
        /// The value.
        value: String,
    },
    /// A ratio sampler's argument that is not a number in [0, 1].
    RatioArgument {
        /// The argument.
        value: String,
        /// The sampler.
        sampler: String,
    },
    /// A `jaeger_remote` sampler's argument that does not parse.
    JaegerArgument {
        /// The argument.
        value: String,
        /// The sampler.
        sampler: String,
        /// What is wrong with it.
        why: String,
    },
    /// A resource attribute key that cannot be written into `OTEL_RESOURCE_ATTRIBUTES`.
    AttributeKey {
        /// The key.
        key: String,
    },
    /// A resource attribute value with a ','.
    AttributeValueComma {
        /// The value.
        value: String,
    },
    /// An image pull policy Kubernetes does not know.
    PullPolicy {
        /// The value.
        value: String,
    },
}

impl Display for SdkFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let samplers = || SAMPLERS.join(", ");
        match self {
            SdkFault::Endpoint { value, why } => write!(
                f,
                "{value:?} is not accepted: {why}; use an absolute URL such as \"http://otel-collector.monitor.svc:4318\""
            ),
            SdkFault::UnknownPropagator { value } => write!(
                f,
                "{value:?} is not an OpenTelemetry propagator; use one of {}",
                PROPAGATORS.join(", ")
            ),
            SdkFault::PropagatorTwice { value } => {
                write!(f, "{value:?} is listed twice; list each propagator once")
            }
            SdkFault::NoneCombined => f.write_str(
                "\"none\" cannot be combined with other propagators; use [none] alone or remove it",
            ),
            SdkFault::SamplerArgumentWithoutType { value } => write!(
                f,
                "{value:?} is set but sampler.type is not; set sampler.type to one of {}",
                samplers()
            ),
            SdkFault::UnknownSampler { value } => write!(
                f,
                "{value:?} is not an OpenTelemetry sampler; use one of {}",
                samplers()
            ),
            SdkFault::RatioArgument { value, sampler } => write!(
                f,
                "{value:?} is not a number in [0, 1], which sampler type {sampler:?} requires (for example \"0.25\")"
            ),
            SdkFault::JaegerArgument {
                value,
                sampler,
                why,
            } => write!(
                f,
                "{value:?} is not a valid argument for sampler type {sampler:?}: {why}; use for example \"endpoint=http://jaeger:14250,pollingIntervalMs=5000,initialSamplingRate=0.25\""
            ),
            SdkFault::AttributeKey { key } => write!(
                f,
                "key {key:?} is not accepted; keys must be non-empty, without ',', '=' or surrounding spaces (they are written into OTEL_RESOURCE_ATTRIBUTES as key=value,...)"
            ),
            SdkFault::AttributeValueComma { value } => write!(
                f,
                "value {value:?} contains ','; OTEL_RESOURCE_ATTRIBUTES separates pairs with ',', so percent-encode it as %2C"
            ),
            SdkFault::PullPolicy { value } => write!(
                f,
                "{value:?} is not accepted; use one of {}",
                PULL_POLICIES.join(", ")
            ),
        }
    }
}

/// The image, env lists and init container resources.
#[derive(Debug, Clone, PartialEq)]
pub enum PythonFault {
    /// `python.image` is not an OCI image reference.
    Image {
        /// The value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// An env entry's name Kubernetes refuses.
    EnvName {
        /// The name.
        value: String,
    },
    /// A variable defined twice in one env list.
    EnvTwice {
        /// The name.
        value: String,
        /// Which list (`env`, `python.env`).
        list: String,
    },
    /// `PYTHONPATH` set with `valueFrom` in the spec.
    PythonPathValueFrom,
    /// An env entry with both `value` and `valueFrom`.
    ValueAndValueFrom {
        /// The name.
        name: String,
    },
    /// A resource quantity that does not parse.
    Quantity {
        /// The value.
        value: String,
    },
    /// An init container request above its limit.
    RequestAboveLimit {
        /// `cpu` or `memory`.
        resource: String,
        /// The request.
        request: String,
        /// The limit.
        limit: String,
    },
    /// `python.volumeLimitSize` that is not a positive quantity.
    VolumeSize {
        /// The value.
        value: String,
    },
    /// Both `volumeLimitSize` and `volumeClaimTemplate`.
    VolumeSizeAndClaim,
}

impl Display for PythonFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PythonFault::Image { value, why } => write!(
                f,
                "{value:?} is not a valid OCI image reference: {why}; use [registry/]repository[:tag][@sha256:digest], for example {DEFAULT_PYTHON_IMAGE:?}"
            ),
            PythonFault::EnvName { value } => write!(
                f,
                "{value:?} is not a valid environment variable name; use letters, digits, '_', '-' and '.', not starting with a digit"
            ),
            PythonFault::EnvTwice { value, list } => write!(
                f,
                "{value:?} is defined twice in {list}; define each variable once"
            ),
            PythonFault::PythonPathValueFrom => f.write_str(
                "PYTHONPATH is set with valueFrom, which the instrumentation cannot extend; give it a literal value",
            ),
            PythonFault::ValueAndValueFrom { name } => write!(
                f,
                "{name:?} sets both value and valueFrom; Kubernetes accepts only one"
            ),
            PythonFault::Quantity { value } => write!(
                f,
                "{value:?} is not a Kubernetes quantity; use for example \"500m\" for cpu or \"256Mi\" for memory"
            ),
            PythonFault::RequestAboveLimit {
                resource,
                request,
                limit,
            } => write!(
                f,
                "requests.{resource} {request:?} is larger than limits.{resource} {limit:?}; Kubernetes refuses such a pod (unset fields take the defaults: limits cpu 500m memory 256Mi, requests cpu 50m memory 64Mi)"
            ),
            PythonFault::VolumeSize { value } => write!(
                f,
                "{value:?} is not a positive Kubernetes quantity; use for example \"200Mi\" or \"1Gi\""
            ),
            PythonFault::VolumeSizeAndClaim => f.write_str(
                "volumeLimitSize and volumeClaimTemplate cannot both be set; volumeLimitSize sizes the emptyDir, volumeClaimTemplate replaces it with an ephemeral volume",
            ),
        }
    }
}

/// `exporter.tls`.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsFault {
    /// A Secret or ConfigMap name Kubernetes refuses.
    ObjectName {
        /// The name.
        value: String,
    },
    /// A Secret or ConfigMap name with '.', which a volume name may not hold.
    NameWithDot {
        /// The name.
        value: String,
    },
    /// `cert_file` without `key_file`, or the reverse.
    CertWithoutKey,
    /// A relative `ca_file` without a Secret or ConfigMap to hold it.
    CaRelativeWithoutSource {
        /// The path.
        value: String,
    },
    /// A relative `cert_file` or `key_file` without a Secret to hold it.
    FileRelativeWithoutSecret {
        /// The path.
        value: String,
    },
    /// TLS settings with an endpoint that is not `https://`.
    WithoutHttps {
        /// The endpoint.
        endpoint: String,
    },
}

impl Display for TlsFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TlsFault::ObjectName { value } => write!(
                f,
                "{value:?} is not a valid object name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
            ),
            TlsFault::NameWithDot { value } => write!(
                f,
                "{value:?} contains '.', but it becomes part of a volume name, which may not; use a name with lowercase letters, digits and '-' only"
            ),
            TlsFault::CertWithoutKey => f.write_str(
                "cert_file and key_file must be set together (a client certificate needs its key)",
            ),
            TlsFault::CaRelativeWithoutSource { value } => write!(
                f,
                "{value:?} is a relative path but neither secretName nor configMapName is set; name the Secret or ConfigMap that holds it, or give an absolute path"
            ),
            TlsFault::FileRelativeWithoutSecret { value } => write!(
                f,
                "{value:?} is a relative path but secretName is not set; name the Secret that holds it, or give an absolute path"
            ),
            TlsFault::WithoutHttps { endpoint } => write!(
                f,
                "is set but exporter.endpoint {endpoint:?} does not use https://; TLS settings only apply to an https:// endpoint"
            ),
        }
    }
}

/// A whole Instrumentation object (an entry of `instrumentations`).
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectFault {
    /// `apiVersion` of another API.
    ApiVersion {
        /// The value.
        value: String,
    },
    /// `kind` other than Instrumentation.
    Kind {
        /// The value.
        value: String,
    },
    /// `metadata.name` Kubernetes refuses.
    Name {
        /// The value.
        value: String,
    },
    /// `metadata.namespace` Kubernetes refuses.
    Namespace {
        /// The value.
        value: String,
    },
    /// The same namespace/name twice.
    DefinedTwice {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
}

impl Display for ObjectFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ObjectFault::ApiVersion { value } => {
                write!(
                    f,
                    "{value:?} is not accepted; use {INSTRUMENTATION_API_VERSION:?}"
                )
            }
            ObjectFault::Kind { value } => {
                write!(f, "{value:?} is not accepted; use \"Instrumentation\"")
            }
            ObjectFault::Name { value } => write!(
                f,
                "{value:?} is not a valid name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
            ),
            ObjectFault::Namespace { value } => write!(
                f,
                "{value:?} is not a valid namespace; use lowercase letters, digits and '-' (a DNS-1123 label, at most 63 characters)"
            ),
            ObjectFault::DefinedTwice { namespace, name } => write!(
                f,
                "{namespace}/{name} is defined twice; each namespace/name may appear once"
            ),
        }
    }
}
