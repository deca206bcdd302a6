//! Where instrumentations come from. Resolution asks a [`Catalog`] for "the instrumentation named
//! N in namespace S" and "the instrumentations of namespace S". The policy settings are one
//! catalog (`settings`), the cluster's Instrumentations with the settings' another
//! (`cluster::catalog`). What a catalog hands out is shared, not borrowed, so it may build it on
//! the spot.

use std::sync::Arc;

use crate::instrumentation::InstrumentationSpec;
use crate::refusal::{Refusal, Source};

/// Which instrumentation a pod gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The settings' top-level spec.
    Default,
    /// An instrumentation by namespace and name.
    Named {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// An instrumentation a reference resolved to: where it comes from and its checked spec.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Which instrumentation.
    pub origin: Origin,
    /// Its spec, checked and defaulted.
    pub spec: Arc<InstrumentationSpec>,
    /// The object's identity and revision, for an instrumentation read from the cluster (`None`
    /// for the settings': their version is a digest of the spec).
    pub revision: Option<Revision>,
}

/// A cluster object's identity and revision, as its metadata says: `uid` changes when the object
/// is deleted and created again, `generation` when its spec changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: i64,
}

/// How messages name the settings' default instrumentation.
pub const DEFAULT_LABEL: &str = "the policy settings' default instrumentation";

impl Resolved {
    /// How messages name it: `namespace/name`, or the settings' default.
    pub fn label(&self) -> String {
        match &self.origin {
            Origin::Default => DEFAULT_LABEL.to_string(),
            // Without `format!`: the formatting machinery's first use in a fresh instance costs more
            // than the copy.
            Origin::Named { namespace, name } => [namespace.as_str(), "/", name].concat(),
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

/// An instrumentation's place in a catalog that holds a list of them.
pub trait Entry {
    /// Its namespace.
    fn namespace(&self) -> &str;
    /// Its name.
    fn name(&self) -> &str;
}

/// The entry `namespace/name` of `entries`.
pub fn find<'e, E: Entry>(entries: &'e [E], namespace: &str, name: &str) -> Option<&'e E> {
    entries
        .iter()
        .find(|e| e.namespace() == namespace && e.name() == name)
}

/// The names of the entries in `namespace`, in order.
pub fn names_in<E: Entry>(entries: &[E], namespace: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.namespace() == namespace)
        .map(|e| e.name().to_string())
        .collect()
}

/// Every entry's namespace and name, in order.
pub fn ids<E: Entry>(entries: &[E]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.namespace().to_string(), e.name().to_string()))
        .collect()
}
