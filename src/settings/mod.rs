//! The policy settings, fully read and checked: what `validate_settings` answers.
//!
//! The settings are an Instrumentation spec at the top level (the default instrumentation), a
//! list of whole Instrumentation objects, and the policy's own options. [`Settings::parse`] is the
//! full check `validate_settings` answers with: it deserializes, applies the operator's defaults
//! and refuses every bad value with a problem naming the field, the value and what would be
//! accepted. `validate` reads the same settings lazily through [`view::SettingsView`]; both read
//! the options through [`options::Options`].

pub mod image_options;
pub mod options;
pub mod view;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use options::{FailureAction, Options, Preflight};

use crate::catalog::{self, Catalog, Entry, Origin, Resolved};
use crate::image::{self, ImageOptions};
use crate::instrumentation::rules::{deserialize, finish_object, finish_spec};
use crate::instrumentation::{Instrumentation, InstrumentationSpec};
use crate::keys::OPT_INSTRUMENTATIONS;
use crate::refusal::{
    Fault, ObjectFault, Refusal, SettingsErrors, SettingsProblem, Source, policy_options_hint,
};

/// An instrumentation the settings define by namespace and name, defaults applied.
#[derive(Clone, Debug)]
pub struct Named {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its spec, checked and defaulted.
    pub spec: Arc<InstrumentationSpec>,
}

/// The settings, fully read and checked.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The top-level spec, with defaults applied: what `inject-python: "true"` gets in a namespace
    /// that has no instrumentation of its own. Only when the settings set a top-level spec field:
    /// otherwise there is no default, and such a pod is refused.
    pub default: Option<Arc<InstrumentationSpec>>,
    /// Named instrumentations, in the order given.
    pub instrumentations: Vec<Named>,
    /// The policy's own options.
    pub options: Options,
}

/// One problem, as the whole report.
fn one(p: SettingsProblem) -> SettingsErrors {
    SettingsErrors(vec![p])
}

impl Settings {
    /// The settings as `validate_settings` receives them: JSON text.
    pub fn from_json(text: &[u8]) -> Result<Settings, SettingsErrors> {
        let value: Value = serde_json::from_slice(text).map_err(|e| {
            one(SettingsProblem::new(
                "",
                Fault::NotJson {
                    error: e.to_string(),
                },
            ))
        })?;
        Settings::parse(&value)
    }

    /// Parses and validates settings. `null` means no settings (all defaults).
    pub fn parse(value: &Value) -> Result<Settings, SettingsErrors> {
        let empty = Map::new();
        let map = match value {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => {
                let found = kind_of(other);
                return Err(one(SettingsProblem::new("", Fault::NotAnObject { found })));
            }
        };
        let mut settings = Settings::default();
        let (spec_map, items) = settings.read_options(map).map_err(one)?;
        let has_default = spec_map.values().any(|v| !v.is_null());
        let spec_value = Value::Object(spec_map);
        // Everything deserializes first: a value of the wrong shape is the one problem reported.
        let mut default = top_level_spec(&spec_value)?;
        let items = instrumentation_items(items)?;
        let objects = items
            .iter()
            .enumerate()
            .map(|(i, item)| deserialize(item, &format!("{OPT_INSTRUMENTATIONS}[{i}]")))
            .collect::<Result<Vec<Instrumentation>, _>>()
            .map_err(one)?;
        let mut problems = Vec::new();
        finish_spec(&spec_value, &mut default, "", &mut problems);
        settings.instrumentations = named(items, objects, &mut problems);
        settings.image_problems(
            &spec_value,
            has_default.then_some(&default),
            items,
            &mut problems,
        );
        settings.default = has_default.then(|| Arc::new(default));
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(SettingsErrors(problems))
        }
    }

    /// What the image options cannot use in the settings' specs (`default`: the top-level one,
    /// when there is one; `items`: the `instrumentations` entries, read into `self`).
    fn image_problems(
        &self,
        spec_value: &Value,
        default: Option<&InstrumentationSpec>,
        items: &[Value],
        problems: &mut Vec<SettingsProblem>,
    ) {
        let options = &self.options.image;
        if *options == ImageOptions::default() {
            return;
        }
        if let Some(spec) = default {
            image::settings_problems(spec_value, spec, options, "", problems);
        }
        for (i, (item, named)) in items.iter().zip(&self.instrumentations).enumerate() {
            let prefix = format!("{OPT_INSTRUMENTATIONS}[{i}].spec.");
            let given = item.get("spec").unwrap_or(&Value::Null);
            image::settings_problems(given, &named.spec, options, &prefix, problems);
        }
    }

    /// Takes the policy's own options out of the settings object; the rest is the top-level
    /// spec, returned with the `instrumentations` value.
    fn read_options<'v>(
        &mut self,
        map: &'v Map<String, Value>,
    ) -> Result<(Map<String, Value>, Option<&'v Value>), SettingsProblem> {
        let mut spec_map = Map::new();
        let mut items = None;
        for (key, v) in map {
            if key == OPT_INSTRUMENTATIONS {
                items = Some(v);
            } else if !self.options.read(key, v)? {
                spec_map.insert(key.clone(), v.clone());
            }
        }
        self.options.check_together()?;
        Ok((spec_map, items))
    }
}

/// The top-level spec, deserialized; an unknown field there may be a misspelt policy option.
fn top_level_spec(spec_value: &Value) -> Result<InstrumentationSpec, SettingsErrors> {
    deserialize(spec_value, "").map_err(|mut p| {
        if let Fault::Parse { message } = &mut p.fault
            && p.path.is_empty()
            && message.starts_with("unknown field")
        {
            message.push_str(&policy_options_hint());
        }
        one(p)
    })
}

/// The entries of `instrumentations`, checked and defaulted, each namespace/name once.
fn named(
    items: &[Value],
    objects: Vec<Instrumentation>,
    problems: &mut Vec<SettingsProblem>,
) -> Vec<Named> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(objects.len());
    for (i, (item, mut object)) in items.iter().zip(objects).enumerate() {
        let path = format!("{OPT_INSTRUMENTATIONS}[{i}]");
        finish_object(item, &mut object, &path, problems);
        let (namespace, name) = (object.namespace().to_string(), object.name().to_string());
        if !name.is_empty() && !seen.insert((namespace.clone(), name.clone())) {
            let fault = ObjectFault::DefinedTwice {
                namespace: namespace.clone(),
                name: name.clone(),
            };
            problems.push(SettingsProblem::new(path, fault));
        }
        out.push(Named {
            namespace,
            name,
            spec: Arc::new(object.spec),
        });
    }
    out
}

/// The entries of `instrumentations` (absent or `null`: none).
fn instrumentation_items(value: Option<&Value>) -> Result<&[Value], SettingsErrors> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        // Not a list: the deserializer says so, with the path.
        Some(other) => Err(one(deserialize::<Vec<Value>>(other, OPT_INSTRUMENTATIONS)
            .err()
            .unwrap_or_else(|| {
                SettingsProblem::new(
                    OPT_INSTRUMENTATIONS,
                    Fault::Parse {
                        message: "expected a list".into(),
                    },
                )
            }))),
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

fn resolved(named: &Named) -> Resolved {
    Resolved {
        origin: Origin::Named {
            namespace: named.namespace.clone(),
            name: named.name.clone(),
        },
        spec: named.spec.clone(),
        revision: None,
    }
}

/// The full settings are a catalog too: the reference the per-request view is tested against.
impl Catalog for Settings {
    fn source(&self) -> Source {
        Source::Settings
    }
    fn get(&self, namespace: &str, name: &str) -> Result<Option<Resolved>, Refusal> {
        Ok(catalog::find(&self.instrumentations, namespace, name).map(resolved))
    }
    fn names(&self, namespace: &str) -> Result<Vec<String>, Refusal> {
        Ok(catalog::names_in(&self.instrumentations, namespace))
    }
    fn has_fallback(&self) -> bool {
        self.default.is_some()
    }
    fn fallback(&self) -> Result<Option<Resolved>, Refusal> {
        Ok(self.default.as_ref().map(|spec| Resolved {
            origin: Origin::Default,
            spec: spec.clone(),
            revision: None,
        }))
    }
    fn known(&self) -> Result<Vec<(String, String)>, Refusal> {
        Ok(catalog::ids(&self.instrumentations))
    }
}

impl Entry for Named {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}
