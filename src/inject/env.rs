//! A container's env list while it is extended, by the operator's precedence.
//!
//! A container's env list while it is being extended: the operator's precedence (what is set
//! first wins; a layer only adds names nobody above it set). The entries borrow what they can:
//! the user's own entries are the pod view's (and `inject::apply` writes them back byte-for-byte
//! from the original JSON), the spec's are the spec's, the policy's own hold their constant names
//! (and are [`Fixed`] where the value is a constant too: downward-API, exporter defaults).

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};
use serde::{Serialize, Serializer};

use crate::operator::{
    NODE_IP_VAR, NODE_NAME_VAR, POD_IP_VAR, POD_NAME_VAR, POD_UID_VAR, PYTHON_DEFAULT_ENV,
    configures_instrumentation,
};
use crate::pod::EnvEntry;

/// One entry of a container's env list while it is being extended; serialized as the variable.
#[derive(Debug, Clone)]
pub enum Entry<'a> {
    /// The user's entry at this index of the container's `env`, untouched.
    User(usize, &'a EnvEntry),
    /// The user's entry at this index with the literal value the policy gives it (PYTHONPATH,
    /// OTEL_RESOURCE_ATTRIBUTES); the rest of it as written.
    Rewritten(usize, &'a EnvEntry, String),
    /// A variable of the spec (`env`, `python.env`), as written there.
    Spec(&'a EnvVar),
    /// A variable with a literal value.
    Literal(&'a str, Cow<'a, str>),
    /// A variable whose name and value are constants.
    Fixed(Fixed),
    /// Any other variable (a spec's `valueFrom` one given a literal value too).
    Other(Box<EnvVar>),
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_var().serialize(serializer)
    }
}

/// A variable the injection writes whose name and value are both constants: a downward-API
/// reference (`OTEL_POD_IP`, ...) or one of the Python image's exporter defaults. One of a closed
/// set (the constants below, numbered by [`Fixed::index`]), so that what depends only on it (the
/// record's digest of the variable) is computed once, by the compiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    name: &'static str,
    /// The `fieldRef` path of a downward-API variable (the first [`DOWNWARD`] indexes), the
    /// literal value of the others.
    text: &'static str,
    index: usize,
}

/// The value of a [`Fixed`] variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedValue {
    /// A literal value.
    Literal(&'static str),
    /// A `fieldRef` to this path, written without `apiVersion` as the operator does.
    Field(&'static str),
}

/// How many downward-API variables there are.
const DOWNWARD: usize = 5;

impl Fixed {
    /// `OTEL_NODE_IP`: `status.hostIP`.
    pub const NODE_IP: Fixed = Fixed::field(0, NODE_IP_VAR, "status.hostIP");
    /// `OTEL_POD_IP`: `status.podIP`.
    pub const POD_IP: Fixed = Fixed::field(1, POD_IP_VAR, "status.podIP");
    /// `OTEL_RESOURCE_ATTRIBUTES_POD_NAME`: `metadata.name`.
    pub const POD_NAME: Fixed = Fixed::field(2, POD_NAME_VAR, "metadata.name");
    /// `OTEL_RESOURCE_ATTRIBUTES_POD_UID`: `metadata.uid`.
    pub const POD_UID: Fixed = Fixed::field(3, POD_UID_VAR, "metadata.uid");
    /// `OTEL_RESOURCE_ATTRIBUTES_NODE_NAME`: `spec.nodeName`.
    pub const NODE_NAME: Fixed = Fixed::field(4, NODE_NAME_VAR, "spec.nodeName");

    /// The Python image's exporter defaults ([`PYTHON_DEFAULT_ENV`]), in order.
    pub const PYTHON_DEFAULTS: [Fixed; PYTHON_DEFAULT_ENV.len()] = {
        let mut out = [Fixed::NODE_IP; PYTHON_DEFAULT_ENV.len()];
        let mut i = 0;
        while i < out.len() {
            let (name, value) = PYTHON_DEFAULT_ENV[i];
            out[i] = Fixed::literal(DOWNWARD + i, name, value);
            i += 1;
        }
        out
    };

    /// Every one, at its index.
    pub const ALL: [Fixed; DOWNWARD + PYTHON_DEFAULT_ENV.len()] = {
        let downward = [
            Fixed::NODE_IP,
            Fixed::POD_IP,
            Fixed::POD_NAME,
            Fixed::POD_UID,
            Fixed::NODE_NAME,
        ];
        let mut out = [Fixed::NODE_IP; DOWNWARD + PYTHON_DEFAULT_ENV.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = if i < DOWNWARD {
                downward[i]
            } else {
                Fixed::PYTHON_DEFAULTS[i - DOWNWARD]
            };
            i += 1;
        }
        out
    };

    const fn literal(index: usize, name: &'static str, value: &'static str) -> Fixed {
        assert!(index >= DOWNWARD);
        Fixed {
            name,
            text: value,
            index,
        }
    }

    const fn field(index: usize, name: &'static str, path: &'static str) -> Fixed {
        assert!(index < DOWNWARD);
        Fixed {
            name,
            text: path,
            index,
        }
    }

    /// The variable's name.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// Its value.
    pub const fn value(self) -> FixedValue {
        if self.index < DOWNWARD {
            FixedValue::Field(self.text)
        } else {
            FixedValue::Literal(self.text)
        }
    }

    /// Its place in [`Fixed::ALL`].
    pub const fn index(self) -> usize {
        self.index
    }
}

/// A container's env list, in order.
#[derive(Debug, Clone, Default)]
pub struct EnvList<'a> {
    /// The entries.
    pub entries: Vec<Entry<'a>>,
}

/// Serialized (for the record's hash) as the entries that configure the instrumentation
/// (`PYTHONPATH` and the SDK's `OTEL_` variables, the user's and the policy's), in order: the
/// other entries are the user's own, or another webhook's (some add a variable to every
/// container), and say nothing about the instrumentation.
impl Serialize for EnvList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.entries
                .iter()
                .filter(|e| configures_instrumentation(e.name())),
        )
    }
}

impl<'a> EnvList<'a> {
    /// The container's own entries, in order (`inject::apply` writes them back from the original
    /// JSON).
    pub fn from_original(env: &'a [EnvEntry]) -> Self {
        // Room for what the injection adds (about a dozen variables).
        let mut entries = Vec::with_capacity(env.len() + 16);
        entries.extend(env.iter().enumerate().map(|(i, v)| Entry::User(i, v)));
        EnvList { entries }
    }

    /// `vars` appended, each unless an entry has its name (a layer below the list). Layers are
    /// added highest precedence first, with this and [`EnvList::front`]: the only ways variables
    /// are added.
    pub fn back(&mut self, vars: impl IntoIterator<Item = Entry<'a>>) {
        for v in vars {
            if !self.has(v.name()) {
                self.entries.push(v);
            }
        }
    }

    /// `vars` put in front, in order, each unless an entry of the list has its name (a layer
    /// below the list, in front so that the values below may refer to them as `$(NAME)`).
    pub fn front(&mut self, vars: impl IntoIterator<Item = Entry<'a>>) {
        let mut added = 0;
        for v in vars {
            if !self.entries[added..].iter().any(|e| e.name() == v.name()) {
                self.entries.insert(added, v);
                added += 1;
            }
        }
    }

    /// The first entry with that name, as Kubernetes' own lookups and the operator do.
    pub fn find(&self, name: &str) -> Option<&Entry<'a>> {
        self.entries.iter().find(|e| e.name() == name)
    }

    /// Whether an entry has that name.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Replaces the literal value of the first entry named `name`.
    pub fn rewrite(&mut self, name: &str, value: String) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.name() == name) {
            *e = std::mem::replace(e, Entry::Literal("", Cow::Borrowed(""))).with_value(value);
        }
    }

    /// Moves the first entry named `name` to the end, so that its `$(VAR)` references resolve.
    pub fn move_to_end(&mut self, name: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.name() == name) {
            let e = self.entries.remove(i);
            self.entries.push(e);
        }
    }
}

impl<'a> Entry<'a> {
    /// A variable with a literal value.
    pub fn literal(name: &'a str, value: impl Into<Cow<'a, str>>) -> Self {
        Entry::Literal(name, value.into())
    }

    /// The variable's name.
    pub fn name(&self) -> &str {
        match self {
            Entry::User(_, e) | Entry::Rewritten(_, e, _) => &e.name,
            Entry::Spec(v) => &v.name,
            Entry::Literal(name, _) => name,
            Entry::Fixed(f) => f.name(),
            Entry::Other(v) => &v.name,
        }
    }

    /// Its literal value, if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Entry::User(_, e) => e.value.as_deref(),
            Entry::Rewritten(_, _, value) => Some(value),
            Entry::Spec(v) => v.value.as_deref(),
            Entry::Literal(_, value) => Some(value),
            Entry::Fixed(f) => match f.value() {
                FixedValue::Literal(value) => Some(value),
                FixedValue::Field(_) => None,
            },
            Entry::Other(v) => v.value.as_deref(),
        }
    }

    /// Whether it has a `valueFrom`.
    pub fn has_source(&self) -> bool {
        match self {
            Entry::User(_, e) | Entry::Rewritten(_, e, _) => e.value_from.is_some(),
            Entry::Spec(v) => v.value_from.is_some(),
            Entry::Literal(..) => false,
            Entry::Fixed(f) => matches!(f.value(), FixedValue::Field(_)),
            Entry::Other(v) => v.value_from.is_some(),
        }
    }

    /// The same variable with the literal `value`, the rest of it kept.
    fn with_value(self, value: String) -> Self {
        match self {
            Entry::User(i, e) | Entry::Rewritten(i, e, _) => Entry::Rewritten(i, e, value),
            Entry::Spec(v) if v.value_from.is_none() => Entry::Literal(&v.name, value.into()),
            Entry::Literal(name, _) => Entry::Literal(name, value.into()),
            Entry::Fixed(f) if matches!(f.value(), FixedValue::Literal(_)) => {
                Entry::Literal(f.name(), value.into())
            }
            other => {
                let mut var = other.to_var().into_owned();
                var.value = Some(value);
                Entry::Other(Box::new(var))
            }
        }
    }

    /// The variable as its Kubernetes type. A user's `valueFrom` of a shape Kubernetes would not
    /// accept reads as an empty source.
    pub fn to_var(&self) -> Cow<'_, EnvVar> {
        let user = |e: &EnvEntry, value: Option<String>| EnvVar {
            name: e.name.clone(),
            value,
            value_from: e
                .value_from
                .as_ref()
                .map(|raw| serde_json::from_str(raw.get()).unwrap_or_default()),
        };
        match self {
            Entry::User(_, e) => Cow::Owned(user(e, e.value.clone())),
            Entry::Rewritten(_, e, value) => Cow::Owned(user(e, Some(value.clone()))),
            Entry::Spec(v) => Cow::Borrowed(v),
            Entry::Literal(name, value) => Cow::Owned(literal(name, value.as_ref())),
            Entry::Fixed(f) => Cow::Owned(match f.value() {
                FixedValue::Literal(value) => literal(f.name(), value),
                FixedValue::Field(path) => field_ref(f.name(), path),
            }),
            Entry::Other(v) => Cow::Borrowed(v),
        }
    }

    /// Index in the container's original `env`, for entries the user wrote.
    pub fn origin(&self) -> Option<usize> {
        match self {
            Entry::User(i, _) | Entry::Rewritten(i, _, _) => Some(*i),
            _ => None,
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

    #[test]
    fn each_fixed_variable_is_at_its_index_and_reads_as_the_operator_writes_it() {
        for (i, f) in Fixed::ALL.iter().enumerate() {
            assert_eq!(f.index(), i, "{f:?}");
        }
        let defaults = Fixed::PYTHON_DEFAULTS.map(|f| (f.name(), f.value()));
        let literal = PYTHON_DEFAULT_ENV.map(|(n, v)| (n, FixedValue::Literal(v)));
        assert_eq!(defaults, literal);
        let entry = Entry::Fixed(Fixed::PYTHON_DEFAULTS[1]);
        assert_eq!(entry.value(), Some(PYTHON_DEFAULT_ENV[1].1));
        assert!(!entry.has_source());
        let pod_name = Entry::Fixed(Fixed::POD_NAME);
        assert!(pod_name.has_source() && pod_name.value().is_none());
        let var = pod_name.to_var();
        let path = var.value_from.as_ref().and_then(|f| f.field_ref.as_ref());
        assert_eq!(path.map(|r| r.field_path.as_str()), Some("metadata.name"));
        let rewritten = Entry::Fixed(Fixed::PYTHON_DEFAULTS[0]).with_value("grpc".into());
        assert!(
            matches!(rewritten, Entry::Literal(n, v) if n == PYTHON_DEFAULT_ENV[0].0 && v == "grpc")
        );
    }

    fn names<'l>(l: &'l EnvList) -> Vec<&'l str> {
        l.entries.iter().map(|e| e.name()).collect()
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
        let own = [user("A", "user"), user("B", "user")];
        let spec = [literal("A", "policy"), literal("C", "one")];
        let mut l = EnvList::from_original(&own);
        l.back(spec.iter().map(Entry::Spec));
        l.front([
            Entry::literal("P", "policy"),
            Entry::literal("Q", "policy"),
            Entry::literal("B", "policy"),
        ]);
        l.back([
            Entry::literal("C", "two"),
            Entry::literal("D", "two"),
            Entry::literal("D", "three"),
        ]);
        assert_eq!(names(&l), ["P", "Q", "A", "B", "C", "D"]);
        assert_eq!(l.find("A").unwrap().value(), Some("user"));
        assert_eq!(l.find("C").unwrap().value(), Some("one"));
        assert_eq!(l.find("D").unwrap().value(), Some("two"));
        assert_eq!(l.entries[2].origin(), Some(0));
        assert_eq!(l.entries[4].origin(), None);
    }

    #[test]
    fn rewrite_and_move_mark_the_users_entry() {
        let own = [user("X", "1"), user("Y", "2")];
        let mut l = EnvList::from_original(&own);
        l.rewrite("X", "new".into());
        l.move_to_end("X");
        assert_eq!(names(&l), ["Y", "X"]);
        assert!(matches!(l.entries[1], Entry::Rewritten(0, _, _)));
        assert!(matches!(l.entries[0], Entry::User(1, _)));
    }
}
