//! A container's env list while it is extended, by the operator's precedence.
//!
//! A container's env list while it is being extended: the operator's precedence (what is set
//! first wins; a layer only adds names nobody above it set) and a record of which entries are the
//! user's untouched originals, so that `inject::apply` writes those back byte-for-byte.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};
use serde::{Serialize, Serializer};

use crate::operator::configures_instrumentation;
use crate::pod::EnvEntry;

/// One entry of a container's env list while it is being extended; serialized as the variable.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Entry {
    /// The variable.
    pub var: EnvVar,
    /// Index in the container's original `env`, for entries the user wrote.
    #[serde(skip)]
    pub origin: Option<usize>,
    /// Set when the policy rewrote a user's entry (PYTHONPATH, OTEL_RESOURCE_ATTRIBUTES).
    #[serde(skip)]
    pub rewritten: bool,
}

/// A container's env list, in order.
#[derive(Debug, Clone, Default)]
pub struct EnvList {
    /// The entries.
    pub entries: Vec<Entry>,
}

/// Serialized (for the record's hash) as the entries that configure the instrumentation
/// (`PYTHONPATH` and the SDK's `OTEL_` variables, the user's and the policy's), in order: the
/// other entries are the user's own, or another webhook's (some add a variable to every
/// container), and say nothing about the instrumentation.
impl Serialize for EnvList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.entries
                .iter()
                .filter(|e| configures_instrumentation(&e.var.name)),
        )
    }
}

/// One layer of variables below what is already in the list: borrowed ones are copied into the
/// list, owned ones moved.
#[derive(Debug, Clone)]
pub enum Layer<'a> {
    /// Appended, in order.
    Back(&'a [EnvVar]),
    /// Appended, in order (moved in).
    BackOwned(Vec<EnvVar>),
    /// Put in front, in order (so that values below may refer to them as `$(NAME)`; moved in).
    FrontOwned(Vec<EnvVar>),
}

impl EnvList {
    /// The container's own entries, in order (`inject::apply` writes them back from the original
    /// JSON). A `valueFrom` of a shape Kubernetes would not accept reads as an empty source.
    pub fn from_original(env: &[EnvEntry]) -> Self {
        // Room for what the injection adds (about a dozen variables).
        let mut entries = Vec::with_capacity(env.len() + 16);
        entries.extend(env.iter().enumerate().map(|(i, v)| {
            Entry {
                var: EnvVar {
                    name: v.name.clone(),
                    value: v.value.clone(),
                    value_from: v
                        .value_from
                        .as_ref()
                        .map(|raw| serde_json::from_str(raw.get()).unwrap_or_default()),
                },
                origin: Some(i),
                rewritten: false,
            }
        }));
        EnvList { entries }
    }

    /// Adds `layers`, highest precedence first: each variable only when no entry (the user's, or
    /// an earlier layer's) has its name. This is the only way variables are added.
    pub fn layered<'a>(mut self, layers: impl IntoIterator<Item = Layer<'a>>) -> Self {
        for layer in layers {
            match layer {
                Layer::Back(vars) => self.back(vars.iter().map(Cow::Borrowed)),
                Layer::BackOwned(vars) => self.back(vars.into_iter().map(Cow::Owned)),
                Layer::FrontOwned(vars) => {
                    let new: Vec<Entry> = vars
                        .into_iter()
                        .filter(|v| !self.has(&v.name))
                        .map(Entry::new)
                        .collect();
                    self.entries.splice(0..0, new);
                }
            }
        }
        self
    }

    /// `vars` appended, each unless an entry has its name.
    fn back<'v>(&mut self, vars: impl Iterator<Item = Cow<'v, EnvVar>>) {
        for v in vars {
            if !self.has(&v.name) {
                self.entries.push(Entry::new(v.into_owned()));
            }
        }
    }

    /// The first entry with that name, as Kubernetes' own lookups and the operator do.
    pub fn find(&self, name: &str) -> Option<&EnvVar> {
        self.entries
            .iter()
            .find(|e| e.var.name == name)
            .map(|e| &e.var)
    }

    /// Whether an entry has that name.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Replaces the literal value of the first entry named `name`.
    pub fn rewrite(&mut self, name: &str, value: String) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.var.name == name) {
            e.var.value = Some(value);
            e.rewritten = true;
        }
    }

    /// Moves the first entry named `name` to the end, so that its `$(VAR)` references resolve.
    pub fn move_to_end(&mut self, name: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.var.name == name) {
            let e = self.entries.remove(i);
            self.entries.push(e);
        }
    }
}

impl Entry {
    fn new(var: EnvVar) -> Self {
        Entry {
            var,
            origin: None,
            rewritten: false,
        }
    }
}

/// A variable with a literal value.
pub fn literal(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// An env var from the downward API (`fieldRef`), written without `apiVersion` as the operator does.
pub fn field_ref(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: field_path.to_string(),
                api_version: None,
            }),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(l: &EnvList) -> Vec<&str> {
        l.entries.iter().map(|e| e.var.name.as_str()).collect()
    }

    fn user(name: &str, value: &str) -> EnvEntry {
        EnvEntry {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    #[test]
    fn the_first_to_set_a_name_wins_and_keeps_its_place() {
        let l = EnvList::from_original(&[user("A", "user"), user("B", "user")]).layered([
            Layer::Back(&[literal("A", "policy"), literal("C", "one")]),
            Layer::FrontOwned(vec![
                literal("P", "policy"),
                literal("Q", "policy"),
                literal("B", "policy"),
            ]),
            Layer::BackOwned(vec![
                literal("C", "two"),
                literal("D", "two"),
                literal("D", "three"),
            ]),
        ]);
        assert_eq!(names(&l), ["P", "Q", "A", "B", "C", "D"]);
        assert_eq!(l.find("A").unwrap().value.as_deref(), Some("user"));
        assert_eq!(l.find("C").unwrap().value.as_deref(), Some("one"));
        assert_eq!(l.find("D").unwrap().value.as_deref(), Some("two"));
        assert_eq!(l.entries[2].origin, Some(0));
        assert_eq!(l.entries[4].origin, None);
    }

    #[test]
    fn rewrite_and_move_mark_the_users_entry() {
        let mut l = EnvList::from_original(&[user("X", "1"), user("Y", "2")]);
        l.rewrite("X", "new".into());
        l.move_to_end("X");
        assert_eq!(names(&l), ["Y", "X"]);
        assert!(l.entries[1].rewritten && l.entries[1].origin == Some(0));
        assert!(!l.entries[0].rewritten);
    }
}
