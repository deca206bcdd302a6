//! The annotation keys the policy reads (the operator's keys, `annotation.go`).

pub const INJECT_PYTHON: &str = "instrumentation.opentelemetry.io/inject-python";
pub const CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/container-names";
pub const PYTHON_CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/python-container-names";
pub const PYTHON_PLATFORM: &str = "instrumentation.opentelemetry.io/otel-python-platform";
/// Prefix of the annotations that become resource attributes.
pub const RESOURCE_PREFIX: &str = "resource.opentelemetry.io/";
pub const SERVICE_NAME: &str = "resource.opentelemetry.io/service.name";
pub const SERVICE_VERSION: &str = "resource.opentelemetry.io/service.version";
pub const SERVICE_NAMESPACE: &str = "resource.opentelemetry.io/service.namespace";
pub const SERVICE_INSTANCE_ID: &str = "resource.opentelemetry.io/service.instance.id";

/// The other languages' inject annotations, in the operator's order. When one of them is on, the
/// operator needs container names to tell the languages' containers apart.
pub const INJECT_OTHER_LANGUAGES: [&str; 7] = [
    "instrumentation.opentelemetry.io/inject-java",
    "instrumentation.opentelemetry.io/inject-nodejs",
    "instrumentation.opentelemetry.io/inject-dotnet",
    "instrumentation.opentelemetry.io/inject-go",
    "instrumentation.opentelemetry.io/inject-apache-httpd",
    "instrumentation.opentelemetry.io/inject-nginx",
    "instrumentation.opentelemetry.io/inject-sdk",
];

/// An inject annotation value that asks for nothing: absent, empty or `false` (any case).
pub fn is_off(value: &str) -> bool {
    value.is_empty() || value.eq_ignore_ascii_case("false")
}
