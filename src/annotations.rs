//! The pod annotations the policy reads (the operator's keys).

pub const INJECT_PYTHON: &str = "instrumentation.opentelemetry.io/inject-python";
pub const CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/container-names";
pub const PYTHON_CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/python-container-names";
pub const PYTHON_PLATFORM: &str = "instrumentation.opentelemetry.io/otel-python-platform";
/// Prefix of the annotations that become resource attributes.
pub const RESOURCE_PREFIX: &str = "resource.opentelemetry.io/";

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
/// The collector sidecar, which may carry OTEL_RESOURCE_ATTRIBUTES_NODE_NAME of its own.
pub const COLLECTOR_SIDECAR: &str = "otc-container";
