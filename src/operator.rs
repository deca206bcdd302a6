//! The operator's names, paths, environment variables and defaults for Python, declared once.
//!
//! Every name, path, environment variable and default the OpenTelemetry Operator uses when it
//! injects Python (its `internal/instrumentation/python.go`, `sdk.go`, `helper.go`, `exporter.go`
//! and the Instrumentation CR defaults), declared once. The policy writes nothing under a name
//! that is not here.

// ---- python.go ---------------------------------------------------------------------------------

/// The volume the packages are copied into, and the init container that copies them.
pub const VOLUME_NAME: &str = "opentelemetry-auto-instrumentation-python";
/// The init container that copies the packages into the volume.
pub const INIT_CONTAINER_NAME: &str = "opentelemetry-auto-instrumentation-python";
/// Where the volume is mounted, in the init container and in every instrumented container.
pub const MOUNT_PATH: &str = "/otel-auto-instrumentation-python";
/// Put before the user's `PYTHONPATH` so that `sitecustomize` starts the instrumentation.
pub const PYTHONPATH_PREFIX: &str =
    "/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation";
/// The trees in the image that the init container copies, per platform annotation value.
pub const GLIBC_SOURCE: &str = "/autoinstrumentation/.";
/// The tree for musl (Alpine-based) images.
pub const MUSL_SOURCE: &str = "/autoinstrumentation-musl/.";
/// The platform annotation's value for glibc images (the default).
pub const PLATFORM_GLIBC: &str = "glibc";
/// The platform annotation's value for musl images.
pub const PLATFORM_MUSL: &str = "musl";

/// The Python image ships the OTLP/HTTP exporter: the defaults every target container gets when
/// nothing above sets them, in the operator's order.
pub const PYTHON_DEFAULT_ENV: [(&str, &str); 4] = [
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ("OTEL_TRACES_EXPORTER", "otlp"),
    ("OTEL_METRICS_EXPORTER", "otlp"),
    ("OTEL_LOGS_EXPORTER", "otlp"),
];

// ---- environment variables (sdk.go, helper.go) ---------------------------------------------------

/// The variable the packages are put on, before the user's paths.
pub const PYTHONPATH: &str = "PYTHONPATH";
/// The prefix of the OpenTelemetry SDK's environment variables.
pub const OTEL_VAR_PREFIX: &str = "OTEL_";

/// Whether a variable configures the instrumentation: `PYTHONPATH` or an SDK variable.
pub fn configures_instrumentation(name: &str) -> bool {
    name == PYTHONPATH || is_sdk_var(name)
}
/// Whether a variable is one of the SDK's (`OTEL_…`).
pub fn is_sdk_var(name: &str) -> bool {
    name.starts_with(OTEL_VAR_PREFIX)
}
/// The node's IP (downward API). With the pod's IP, prepended to every target container so that
/// user values may refer to them.
pub const NODE_IP_VAR: &str = "OTEL_NODE_IP";
/// The pod's IP (downward API).
pub const POD_IP_VAR: &str = "OTEL_POD_IP";
/// The service name: annotations, then the owner chain, then the container.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
/// The collector's URL, from `exporter.endpoint`.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The resource attributes, `key=value,...`; a user's value is extended.
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// The propagators, from `propagators`.
pub const PROPAGATORS_VAR: &str = "OTEL_PROPAGATORS";
/// The sampler, from `sampler.type`.
pub const SAMPLER_VAR: &str = "OTEL_TRACES_SAMPLER";
/// The sampler's argument, from `sampler.argument`.
pub const SAMPLER_ARG_VAR: &str = "OTEL_TRACES_SAMPLER_ARG";
/// The pod's name: the first of the downward-API variables that `$(…)` entries of
/// `OTEL_RESOURCE_ATTRIBUTES` refer to.
pub const POD_NAME_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_NAME";
/// The pod's uid, with `resource.addK8sUIDAttributes`.
pub const POD_UID_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_UID";
/// The node's name; its presence also marks a container as already instrumented.
pub const NODE_NAME_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME";

// ---- exporter.go ---------------------------------------------------------------------------------

/// The CA certificate the exporter trusts.
pub const CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// The exporter's client certificate.
pub const CLIENT_CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// The exporter's client key.
pub const CLIENT_KEY_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// Volume name prefix of the TLS Secret.
pub const TLS_SECRET_VOLUME_PREFIX: &str = "otel-auto-secret-";
/// Volume name prefix of the TLS ConfigMap.
pub const TLS_CONFIG_MAP_VOLUME_PREFIX: &str = "otel-auto-configmap-";
/// Mount path prefix of the TLS Secret.
pub const TLS_SECRET_MOUNT_PREFIX: &str = "/otel-auto-instrumentation-secret-";
/// Mount path prefix of the TLS ConfigMap.
pub const TLS_CONFIG_MAP_MOUNT_PREFIX: &str = "/otel-auto-instrumentation-configmap-";

// ---- already instrumented (podmutator.go) ----------------------------------------------------------

/// Init containers whose presence means some auto-instrumentation was already injected.
pub const INJECTED_INIT_CONTAINERS: [&str; 6] = [
    "opentelemetry-auto-instrumentation-python",
    "opentelemetry-auto-instrumentation-java",
    "opentelemetry-auto-instrumentation-nodejs",
    "opentelemetry-auto-instrumentation-dotnet",
    "otel-agent-attach-apache",
    "otel-agent-source-container-clone",
];
/// The Go instrumentation's sidecar.
pub const INJECTED_SIDECAR: &str = "opentelemetry-auto-instrumentation";
/// The collector sidecar, which may carry `OTEL_RESOURCE_ATTRIBUTES_NODE_NAME` of its own.
pub const COLLECTOR_SIDECAR: &str = "otc-container";

// ---- the Instrumentation CRD (opentelemetry.io/v1alpha1) --------------------------------------------

/// The Instrumentation API version this policy reads (the one the operator's CRD serves).
pub const INSTRUMENTATION_API_VERSION: &str = "opentelemetry.io/v1alpha1";
/// The Instrumentation kind.
pub const INSTRUMENTATION_KIND: &str = "Instrumentation";
/// The CRD's propagators.
pub const PROPAGATORS: [&str; 8] = [
    "tracecontext",
    "baggage",
    "b3",
    "b3multi",
    "jaeger",
    "xray",
    "ottrace",
    "none",
];
/// The CRD's samplers.
pub const SAMPLERS: [&str; 8] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "jaeger_remote",
    "xray",
];
/// Kubernetes' image pull policies.
pub const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

// ---- Instrumentation CR defaults (the operator's defaulting webhook) -------------------------------

/// The operator's default Python auto-instrumentation image (its `versions.txt` at the reference commit).
pub const DEFAULT_PYTHON_IMAGE: &str =
    "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-python:0.64b0";
/// Init container CPU limit when the spec sets none.
pub const DEFAULT_LIMIT_CPU: &str = "500m";
/// Init container memory limit when the spec sets none.
pub const DEFAULT_LIMIT_MEMORY: &str = "256Mi";
/// Init container CPU request when the spec sets none.
pub const DEFAULT_REQUEST_CPU: &str = "50m";
/// Init container memory request when the spec sets none.
pub const DEFAULT_REQUEST_MEMORY: &str = "64Mi";
/// Size limit of the `emptyDir` that receives the packages.
pub const DEFAULT_VOLUME_SIZE_LIMIT: &str = "200Mi";

// ---- this policy's own default ------------------------------------------------------------------------

/// The user the init container runs as when neither the spec nor the pod says (a common
/// "nonroot" uid; the copy only writes to the emptyDir, which every user may write).
pub const INIT_CONTAINER_UID: i64 = 65532;

/// The init container that checks, with the app's own image and interpreter, that the copied
/// packages can serve it (`preflight`); `-2`, `-3`… for further instrumented containers.
pub const PREFLIGHT_CONTAINER_NAME: &str = "opentelemetry-auto-instrumentation-python-preflight";
