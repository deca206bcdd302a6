//! The value a variable will have in an instrumented container, and where it comes from.
//!
//! By the injection's precedence: the container's own entry (the last of that name, as the
//! kubelet keeps it), then the instrumentation's `python.env`, then its `env`, then (for the
//! endpoint) its `exporter.endpoint`. A value from `valueFrom` is not known at admission: the
//! variable then reads as unknown, and no check judges it.

use std::fmt;

use k8s_openapi::api::core::v1::EnvVar;

use crate::instrumentation::InstrumentationSpec;
use crate::operator::{ENDPOINT_VAR, is_sdk_var};
use crate::pod::{ContainerView, Slot};
use crate::refusal::EnvSource;

/// A container's path in the object (`spec.containers[0]`), written out only into a finding.
#[derive(Debug, Clone, Copy)]
pub struct ContainerPath<'a> {
    /// Where the pod spec sits (`spec`, `spec.template.spec`).
    pub spec: &'a str,
    /// The container's place in it.
    pub slot: Slot,
}

impl fmt::Display for ContainerPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (list, index) = (self.slot.list_key(), self.slot.index());
        write!(f, "{}.{list}[{index}]", self.spec)
    }
}

/// A container's environment as the injection will leave it, for the checks.
pub struct Env<'a> {
    container: &'a ContainerView,
    spec: &'a InstrumentationSpec,
    /// The container's path, for messages.
    path: ContainerPath<'a>,
    /// Whether any layer names an SDK variable (`OTEL_…`): most pods and specs name none, and
    /// then every lookup of one ends at the exporter's endpoint.
    sdk_vars: bool,
}

/// A variable's known value and its source.
pub struct Setting<'a> {
    /// The value.
    pub value: &'a str,
    /// Where it is set.
    pub from: EnvSource,
}

impl<'a> Env<'a> {
    /// The environment of `container` (at `path`) under `spec`.
    pub fn new(
        container: &'a ContainerView,
        spec: &'a InstrumentationSpec,
        path: ContainerPath<'a>,
    ) -> Self {
        let named =
            |vars: Option<&[EnvVar]>| vars.unwrap_or_default().iter().any(|v| is_sdk_var(&v.name));
        let sdk_vars = container.env.iter().any(|e| is_sdk_var(&e.name))
            || named(spec.python().env.as_deref())
            || named(spec.env.as_deref());
        Env {
            container,
            spec,
            path,
            sdk_vars,
        }
    }

    /// The container's path, for messages.
    pub fn path(&self) -> ContainerPath<'a> {
        self.path
    }

    /// Whether any layer names an SDK variable (`OTEL_…`).
    pub fn names_sdk_vars(&self) -> bool {
        self.sdk_vars
    }

    /// The value of `name`, if it is set and known.
    pub fn get(&self, name: &str) -> Option<Setting<'a>> {
        if !self.sdk_vars && is_sdk_var(name) {
            return self.endpoint(name);
        }
        let own = &self.container.env;
        if let Some(i) = own.iter().rposition(|e| e.name == name) {
            let e = &own[i];
            let from = EnvSource::Container(format!("{}.env[{i}]", self.path));
            return known(e.value.as_deref(), e.value_from.is_some(), from);
        }
        if let Some(v) = find(self.spec.python().env.as_deref(), name) {
            return known(
                v.value.as_deref(),
                v.value_from.is_some(),
                EnvSource::PythonEnv,
            );
        }
        if let Some(v) = find(self.spec.env.as_deref(), name) {
            return known(v.value.as_deref(), v.value_from.is_some(), EnvSource::Env);
        }
        self.endpoint(name)
    }

    /// `exporter.endpoint`, when `name` is the variable it sets and it is set.
    fn endpoint(&self, name: &str) -> Option<Setting<'a>> {
        let endpoint = self.spec.endpoint();
        (name == ENDPOINT_VAR && !endpoint.is_empty()).then_some(Setting {
            value: endpoint,
            from: EnvSource::ExporterEndpoint,
        })
    }
}

fn find<'v>(vars: Option<&'v [EnvVar]>, name: &str) -> Option<&'v EnvVar> {
    vars.unwrap_or_default().iter().find(|v| v.name == name)
}

fn known(value: Option<&str>, from_source: bool, from: EnvSource) -> Option<Setting<'_>> {
    if from_source {
        return None;
    }
    Some(Setting {
        value: value.unwrap_or_default(),
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrumentation::Python;
    use crate::pod::EnvEntry;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.to_string(),
            value: Some(value.to_string()),
            value_from: None,
        }
    }

    #[test]
    fn each_layer_is_read_in_the_injections_order() {
        let path = ContainerPath {
            spec: "spec",
            slot: Slot::Regular(0),
        };
        let mut spec: InstrumentationSpec = serde_json::from_value(serde_json::json!({
            "exporter": {"endpoint": "http://collector:4318"}
        }))
        .unwrap();
        let mut container = ContainerView::default();
        let value = |spec: &InstrumentationSpec, c: &ContainerView, name: &str| {
            let env = Env::new(c, spec, path);
            env.get(name).map(|s| (s.value.to_string(), s.from))
        };
        let endpoint = (
            "http://collector:4318".to_string(),
            EnvSource::ExporterEndpoint,
        );
        // No layer names an SDK variable: the endpoint's variable alone has a value.
        assert_eq!(
            value(&spec, &container, ENDPOINT_VAR),
            Some(endpoint.clone())
        );
        assert_eq!(
            value(&spec, &container, "OTEL_EXPORTER_OTLP_PROTOCOL"),
            None
        );
        spec.env = Some(vec![var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        let protocol = value(&spec, &container, "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert_eq!(protocol, Some(("grpc".to_string(), EnvSource::Env)));
        spec.python = Some(Python {
            env: Some(vec![var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]),
            ..Python::default()
        });
        let protocol = value(&spec, &container, "OTEL_EXPORTER_OTLP_PROTOCOL");
        let python = ("http/protobuf".to_string(), EnvSource::PythonEnv);
        assert_eq!(protocol, Some(python));
        for (name, value) in [(ENDPOINT_VAR, "http://a:1"), (ENDPOINT_VAR, "http://b:2")] {
            container.env.push(EnvEntry {
                name: name.to_string(),
                value: Some(value.to_string()),
                value_from: None,
            });
        }
        let own = (
            "http://b:2".to_string(),
            EnvSource::Container("spec.containers[0].env[1]".into()),
        );
        assert_eq!(
            value(&spec, &container, ENDPOINT_VAR),
            Some(own),
            "the last entry of a name"
        );
        // Only the container names an SDK variable: the spec's layers are still read for others.
        spec.env = None;
        spec.python = None;
        assert_eq!(
            value(&spec, &container, "OTEL_EXPORTER_OTLP_PROTOCOL"),
            None
        );
        spec.env = Some(vec![var("OTEL_TRACES_EXPORTER", "console")]);
        container.env.clear();
        let traces = value(&spec, &container, "OTEL_TRACES_EXPORTER");
        assert_eq!(traces, Some(("console".to_string(), EnvSource::Env)));
    }
}
