//! Where instrumentations come from. Resolution asks a [`Catalog`] for "the instrumentation named
//! N in namespace S" and "the instrumentations of namespace S"; the policy settings are one
//! catalog. What it hands out is shared, not borrowed, so a catalog may build it on the spot.

use std::sync::Arc;

use crate::instrumentation::InstrumentationSpec;
use crate::refusal::{Refusal, Source};
use crate::settings::{Named, Settings};

/// Which instrumentation a pod gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The settings' top-level spec.
    Default,
    Named {
        namespace: String,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub origin: Origin,
    pub spec: Arc<InstrumentationSpec>,
}

pub const DEFAULT_LABEL: &str = "the policy settings' default instrumentation";

impl Resolved {
    /// How messages name it: `namespace/name`, or the settings' default.
    pub fn label(&self) -> String {
        match &self.origin {
            Origin::Default => DEFAULT_LABEL.to_string(),
            Origin::Named { namespace, name } => format!("{namespace}/{name}"),
        }
    }
}

/// A source of instrumentations. Lookups may fail (a source may have to ask someone, or read
/// what it holds only when asked); the failure is the refusal to give.
pub trait Catalog {
    /// How messages name the source.
    fn source(&self) -> Source;
    /// The instrumentation `name` in `namespace`, if there is one.
    fn get(&self, namespace: &str, name: &str) -> Result<Option<Resolved>, Refusal>;
    /// The names of the instrumentations of `namespace`, in a stable order.
    fn names(&self, namespace: &str) -> Result<Vec<String>, Refusal>;
    /// Whether `true` has something to get in a namespace without instrumentations.
    fn has_fallback(&self) -> bool;
    /// What `true` gets in a namespace without instrumentations, if anything.
    fn fallback(&self) -> Result<Option<Resolved>, Refusal>;
    /// Every namespace/name the source knows, for "references that would work".
    fn known(&self) -> Result<Vec<(String, String)>, Refusal>;
}

fn resolved(named: &Named) -> Resolved {
    Resolved {
        origin: Origin::Named {
            namespace: named.namespace.clone(),
            name: named.name.clone(),
        },
        spec: named.spec.clone(),
    }
}

impl Catalog for Settings {
    fn source(&self) -> Source {
        Source::Settings
    }
    fn get(&self, namespace: &str, name: &str) -> Result<Option<Resolved>, Refusal> {
        Ok(self.find(namespace, name).map(resolved))
    }
    fn names(&self, namespace: &str) -> Result<Vec<String>, Refusal> {
        Ok(self
            .in_namespace(namespace)
            .map(|i| i.name.clone())
            .collect())
    }
    fn has_fallback(&self) -> bool {
        self.default.is_some()
    }
    fn fallback(&self) -> Result<Option<Resolved>, Refusal> {
        Ok(self.default.as_ref().map(|spec| Resolved {
            origin: Origin::Default,
            spec: spec.clone(),
        }))
    }
    fn known(&self) -> Result<Vec<(String, String)>, Refusal> {
        Ok(self
            .instrumentations
            .iter()
            .map(|i| (i.namespace.clone(), i.name.clone()))
            .collect())
    }
}
