//! A container's env list while it is being extended: the merge rules (what the user set wins, new
//! variables are appended or prepended only when absent) and a record of which entries are the
//! user's untouched originals, so that `inject::apply` writes those back byte-for-byte.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};

#[derive(Debug, Clone)]
pub struct Entry {
    pub var: EnvVar,
    /// Index in the container's original `env`, for entries the user wrote.
    pub origin: Option<usize>,
    /// Set when the policy rewrote a user's entry (PYTHONPATH, OTEL_RESOURCE_ATTRIBUTES).
    pub rewritten: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EnvList {
    pub entries: Vec<Entry>,
}

impl EnvList {
    pub fn from_original(env: &[EnvVar]) -> Self {
        EnvList {
            entries: env
                .iter()
                .enumerate()
                .map(|(i, v)| Entry {
                    var: v.clone(),
                    origin: Some(i),
                    rewritten: false,
                })
                .collect(),
        }
    }

    /// The first entry with that name, as Kubernetes' own lookups and the operator do.
    pub fn find(&self, name: &str) -> Option<&EnvVar> {
        self.entries
            .iter()
            .find(|e| e.var.name == name)
            .map(|e| &e.var)
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    pub fn append_if_absent(&mut self, var: EnvVar) {
        if !self.has(&var.name) {
            self.entries.push(Entry {
                var,
                origin: None,
                rewritten: false,
            });
        }
    }

    pub fn prepend_if_absent(&mut self, var: EnvVar) {
        if !self.has(&var.name) {
            self.entries.insert(
                0,
                Entry {
                    var,
                    origin: None,
                    rewritten: false,
                },
            );
        }
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

    #[test]
    fn user_values_win_and_order_is_kept() {
        let mut l = EnvList::from_original(&[literal("A", "user"), literal("B", "user")]);
        l.append_if_absent(literal("A", "policy"));
        l.append_if_absent(literal("C", "policy"));
        l.prepend_if_absent(literal("P", "policy"));
        l.prepend_if_absent(literal("B", "policy"));
        assert_eq!(names(&l), ["P", "A", "B", "C"]);
        assert_eq!(l.find("A").unwrap().value.as_deref(), Some("user"));
        assert_eq!(l.entries[1].origin, Some(0));
        assert_eq!(l.entries[3].origin, None);
    }

    #[test]
    fn rewrite_and_move_mark_the_users_entry() {
        let mut l = EnvList::from_original(&[literal("X", "1"), literal("Y", "2")]);
        l.rewrite("X", "new".into());
        l.move_to_end("X");
        assert_eq!(names(&l), ["Y", "X"]);
        assert!(l.entries[1].rewritten && l.entries[1].origin == Some(0));
        assert!(!l.entries[0].rewritten);
    }
}
