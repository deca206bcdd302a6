//! The value a variable will have in an instrumented container, and where it comes from.
//!
//! By the injection's precedence: the container's own entry (the last of that name, as the
//! kubelet keeps it), then the instrumentation's `python.env`, then its `env`, then (for the
//! endpoint) its `exporter.endpoint`. A value from `valueFrom` is not known at admission: the
//! variable then reads as unknown, and no check judges it.

use std::fmt;

use k8s_openapi::api::core::v1::EnvVar;

use crate::instrumentation::InstrumentationSpec;
use crate::operator::ENDPOINT_VAR;
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
        Env {
            container,
            spec,
            path,
        }
    }

    /// The container's path, for messages.
    pub fn path(&self) -> ContainerPath<'a> {
        self.path
    }

    /// The value of `name`, if it is set and known.
    pub fn get(&self, name: &str) -> Option<Setting<'a>> {
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
