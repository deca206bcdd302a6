//! Every name, path, environment variable and default the OpenTelemetry Operator uses when it
//! injects Python (its `internal/instrumentation/python.go`, `sdk.go`, `helper.go`, `exporter.go`
//! and the Instrumentation CR defaults), declared once. The policy writes nothing under a name
//! that is not here.

// ---- python.go ---------------------------------------------------------------------------------

/// The volume the packages are copied into, and the init container that copies them.
pub const VOLUME_NAME: &str = "opentelemetry-auto-instrumentation-python";
pub const INIT_CONTAINER_NAME: &str = "opentelemetry-auto-instrumentation-python";
/// Where the volume is mounted, in the init container and in every instrumented container.
pub const MOUNT_PATH: &str = "/otel-auto-instrumentation-python";
/// Put before the user's `PYTHONPATH` so that `sitecustomize` starts the instrumentation.
pub const PYTHONPATH_PREFIX: &str =
    "/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation";
/// The trees in the image that the init container copies, per platform annotation value.
pub const GLIBC_SOURCE: &str = "/autoinstrumentation/.";
pub const MUSL_SOURCE: &str = "/autoinstrumentation-musl/.";
pub const PLATFORM_GLIBC: &str = "glibc";
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

pub const PYTHONPATH: &str = "PYTHONPATH";
/// Prepended to every target container (downward API), so that user values may refer to them.
pub const NODE_IP_VAR: &str = "OTEL_NODE_IP";
pub const POD_IP_VAR: &str = "OTEL_POD_IP";
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub const PROPAGATORS_VAR: &str = "OTEL_PROPAGATORS";
pub const SAMPLER_VAR: &str = "OTEL_TRACES_SAMPLER";
pub const SAMPLER_ARG_VAR: &str = "OTEL_TRACES_SAMPLER_ARG";
/// The downward-API variables that `$(…)` entries of `OTEL_RESOURCE_ATTRIBUTES` refer to.
pub const POD_NAME_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_NAME";
pub const POD_UID_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_UID";
pub const NODE_NAME_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME";

// ---- exporter.go ---------------------------------------------------------------------------------

pub const CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
pub const CLIENT_CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
pub const CLIENT_KEY_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
pub const TLS_SECRET_VOLUME_PREFIX: &str = "otel-auto-secret-";
pub const TLS_CONFIG_MAP_VOLUME_PREFIX: &str = "otel-auto-configmap-";
pub const TLS_SECRET_MOUNT_PREFIX: &str = "/otel-auto-instrumentation-secret-";
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

// ---- Instrumentation CR defaults (the operator's defaulting webhook) -------------------------------

/// The operator's default Python auto-instrumentation image (its `versions.txt` at the reference commit).
pub const DEFAULT_PYTHON_IMAGE: &str =
    "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-python:0.64b0";
/// Init container limits and requests when the spec sets none.
pub const DEFAULT_LIMIT_CPU: &str = "500m";
pub const DEFAULT_LIMIT_MEMORY: &str = "256Mi";
pub const DEFAULT_REQUEST_CPU: &str = "50m";
pub const DEFAULT_REQUEST_MEMORY: &str = "64Mi";
/// Size limit of the `emptyDir` that receives the packages.
pub const DEFAULT_VOLUME_SIZE_LIMIT: &str = "200Mi";

// ---- this policy's own default ------------------------------------------------------------------------

/// The user the init container runs as when neither the spec nor the pod says (a common
/// "nonroot" uid; the copy only writes to the emptyDir, which every user may write).
pub const INIT_CONTAINER_UID: i64 = 65532;
