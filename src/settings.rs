//! The policy settings: an Instrumentation spec at the top level (the default instrumentation), a
//! list of whole Instrumentation objects, and the policy's own options. `Settings::parse` is the
//! only way in: it deserializes, applies the operator's defaults and refuses every bad value with a
//! problem naming the field, the value and what would be accepted.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::instrumentation::{Instrumentation, InstrumentationSpec};
use crate::refusal::{Fault, SettingsErrors, SettingsProblem, policy_options_hint};
use crate::validation::{deserialize, finish_object, finish_spec};

/// What happens to a pod that asked for instrumentation but cannot get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailureAction {
    /// Refuse the pod with a message that says why (this policy's default).
    #[default]
    Reject,
    /// The operator's behaviour: admit the pod unchanged, with the reason as a warning.
    Admit,
}

/// An instrumentation the settings define by namespace and name, defaults applied.
#[derive(Clone, Debug)]
pub struct Named {
    pub namespace: String,
    pub name: String,
    pub spec: Arc<InstrumentationSpec>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// The top-level spec, with defaults applied: what `inject-python: "true"` gets in a namespace
    /// that has no instrumentation of its own. Only when the settings set a top-level spec field:
    /// otherwise there is no default, and such a pod is refused.
    pub default: Option<Arc<InstrumentationSpec>>,
    /// Named instrumentations, in the order given.
    pub instrumentations: Vec<Named>,
    pub failure_action: FailureAction,
    pub allow_cross_namespace_references: bool,
    /// Cluster mode: also read the cluster's Instrumentations, namespace annotations and owners.
    pub cluster_mode: bool,
    /// The PolicyServer's ServiceAccount, `namespace/name`, for the RBAC checks of cluster mode.
    pub service_account: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default: None,
            instrumentations: Vec::new(),
            failure_action: FailureAction::Reject,
            allow_cross_namespace_references: true,
            cluster_mode: false,
            service_account: crate::cluster::DEFAULT_SERVICE_ACCOUNT.to_string(),
        }
    }
}

pub const OPT_INSTRUMENTATIONS: &str = "instrumentations";
pub const OPT_FAILURE_ACTION: &str = "failureAction";
pub const OPT_ALLOW_CROSS_NAMESPACE: &str = "allowCrossNamespaceReferences";
pub const OPT_INSTRUMENTATION_SOURCE: &str = "instrumentationSource";
pub const OPT_SERVICE_ACCOUNT: &str = "policyServerServiceAccount";

impl Settings {
    /// Parses and validates settings. `null` means no settings (all defaults).
    pub fn parse(value: &Value) -> Result<Settings, SettingsErrors> {
        let one = |p: SettingsProblem| SettingsErrors(vec![p]);
        let empty = Map::new();
        let map = match value {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => {
                return Err(one(SettingsProblem::new(
                    "",
                    Fault::NotAnObject {
                        found: kind_of(other),
                    },
                )));
            }
        };
        let mut settings = Settings::default();
        let (spec_map, items_value) = settings.read_options(map).map_err(one)?;
        let has_default = spec_map.values().any(|v| !v.is_null());
        let spec_value = Value::Object(spec_map);
        // Everything deserializes first: a value of the wrong shape is the one problem reported.
        let mut default: InstrumentationSpec = deserialize(&spec_value, "").map_err(|mut p| {
            if let Fault::Parse { message } = &mut p.fault
                && p.path.is_empty()
                && message.starts_with("unknown field")
            {
                message.push_str(&policy_options_hint());
            }
            one(p)
        })?;
        let items = instrumentation_items(items_value)?;
        let mut objects = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let object: Instrumentation =
                deserialize(item, &format!("{OPT_INSTRUMENTATIONS}[{i}]")).map_err(one)?;
            objects.push(object);
        }

        let mut problems = Vec::new();
        finish_spec(&spec_value, &mut default, "", &mut problems);
        let mut seen = HashSet::new();
        for (i, (item, mut object)) in items.iter().zip(objects).enumerate() {
            let path = format!("{OPT_INSTRUMENTATIONS}[{i}]");
            finish_object(item, &mut object, &path, &mut problems);
            let (namespace, name) = (object.namespace().to_string(), object.name().to_string());
            if !name.is_empty() && !seen.insert((namespace.clone(), name.clone())) {
                problems.push(SettingsProblem::new(
                    path,
                    Fault::DefinedTwice {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    },
                ));
            }
            settings.instrumentations.push(Named {
                namespace,
                name,
                spec: Arc::new(object.spec),
            });
        }
        settings.default = has_default.then(|| Arc::new(default));
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(SettingsErrors(problems))
        }
    }

    /// Takes the policy's own options out of the settings object; the rest is the top-level
    /// spec, returned with the `instrumentations` value.
    fn read_options<'v>(
        &mut self,
        map: &'v Map<String, Value>,
    ) -> Result<(Map<String, Value>, Option<&'v Value>), SettingsProblem> {
        let mut spec_map = Map::new();
        let mut items_value = None;
        for (key, v) in map {
            match key.as_str() {
                OPT_INSTRUMENTATIONS => items_value = Some(v),
                OPT_FAILURE_ACTION => self.failure_action = failure_action(v)?,
                OPT_INSTRUMENTATION_SOURCE => self.cluster_mode = cluster_mode(v)?,
                OPT_SERVICE_ACCOUNT => {
                    if let Some(sa) = service_account(v)? {
                        self.service_account = sa;
                    }
                }
                OPT_ALLOW_CROSS_NAMESPACE => {
                    self.allow_cross_namespace_references = match v {
                        Value::Bool(b) => *b,
                        Value::Null => true,
                        _ => {
                            return Err(SettingsProblem::new(
                                OPT_ALLOW_CROSS_NAMESPACE,
                                Fault::NotABool {
                                    value: v.to_string(),
                                },
                            ));
                        }
                    }
                }
                _ => {
                    spec_map.insert(key.clone(), v.clone());
                }
            }
        }
        Ok((spec_map, items_value))
    }

    /// The instrumentations defined for `namespace`, in settings order.
    pub fn in_namespace<'a, 'n>(
        &'a self,
        namespace: &'n str,
    ) -> impl Iterator<Item = &'a Named> + use<'a, 'n> {
        self.instrumentations
            .iter()
            .filter(move |i| i.namespace == namespace)
    }

    pub fn find(&self, namespace: &str, name: &str) -> Option<&Named> {
        self.instrumentations
            .iter()
            .find(|i| i.namespace == namespace && i.name == name)
    }
}

fn failure_action(v: &Value) -> Result<FailureAction, SettingsProblem> {
    match v.as_str() {
        Some("reject") => Ok(FailureAction::Reject),
        Some("admit") => Ok(FailureAction::Admit),
        _ => Err(SettingsProblem::new(
            OPT_FAILURE_ACTION,
            Fault::FailureAction {
                value: v.to_string(),
            },
        )),
    }
}

/// `instrumentationSource`: `settings` (or absent) or `cluster`.
pub fn cluster_mode(v: &Value) -> Result<bool, SettingsProblem> {
    match v {
        Value::Null => Ok(false),
        Value::String(s) if s == "settings" => Ok(false),
        Value::String(s) if s == "cluster" => Ok(true),
        _ => Err(SettingsProblem::new(
            OPT_INSTRUMENTATION_SOURCE,
            Fault::InstrumentationSource {
                value: v.to_string(),
            },
        )),
    }
}

/// `policyServerServiceAccount`: `NAMESPACE/NAME`, both Kubernetes names (`None`: the default).
pub fn service_account(v: &Value) -> Result<Option<String>, SettingsProblem> {
    let bad = || {
        SettingsProblem::new(
            OPT_SERVICE_ACCOUNT,
            Fault::ServiceAccount {
                value: v.to_string(),
            },
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) => match s.split_once('/') {
            Some((ns, name))
                if crate::k8s_names::is_dns1123_label(ns)
                    && crate::k8s_names::is_dns1123_subdomain(name) =>
            {
                Ok(Some(s.clone()))
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// The entries of `instrumentations` (absent or `null`: none).
fn instrumentation_items(value: Option<&Value>) -> Result<&[Value], SettingsErrors> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        // Not a list: the deserializer says so, with the path.
        Some(other) => Err(SettingsErrors(vec![
            deserialize::<Vec<Value>>(other, OPT_INSTRUMENTATIONS)
                .err()
                .unwrap_or_else(|| {
                    SettingsProblem::new(
                        OPT_INSTRUMENTATIONS,
                        Fault::Parse {
                            message: "expected a list".into(),
                        },
                    )
                }),
        ])),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
