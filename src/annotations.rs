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

/// A value the pod's author wrote, for a message: quoted, and cut after 100 characters so that a
/// huge annotation does not make a huge response (the length says how much there was).
pub fn shown(value: &str) -> String {
    const MAX: usize = 100;
    match value.char_indices().nth(MAX) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_quotes_short_values_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(super::shown("monitor/python"), "\"monitor/python\"");
        let long = "é".repeat(150);
        assert_eq!(
            super::shown(&long),
            format!("\"{}\"… (150 characters)", "é".repeat(100))
        );
    }
}
