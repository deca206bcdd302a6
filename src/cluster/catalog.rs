//! The cluster's Instrumentations, with the settings', as a catalog.
//!
//! Cluster mode's catalog: the cluster's Instrumentation resources, read through [`Lookups`],
//! together with the instrumentations of the settings. A named reference is one `get`; `true`
//! and the "references that would work" of a refusal need the list, made at most once per
//! admission. A spec read from the cluster gets the checks and defaults of a spec in the
//! settings (`rules::parse_spec`), and a bad one refuses with the resource's name.

use std::cell::OnceCell;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::lookups::{Listed, Lookups, RevisionMeta};
use crate::catalog::{Catalog, Origin, Resolved, Revision};
use crate::instrumentation::InstrumentationSpec;
use crate::instrumentation::rules;
use crate::keys::INSTRUMENTATION;
use crate::refusal::{
    ClusterSpecRefusal, LookupFailure, LookupRefusal, Refusal, SettingsErrors, Source, Subject,
};
use crate::settings::view::SettingsView;

/// The settings' instrumentations and the cluster's, for one subject's lookups.
pub struct ClusterCatalog<'a> {
    settings: &'a SettingsView<'a>,
    lookups: &'a Lookups<'a>,
    subject: &'a Subject,
    listed: OnceCell<Result<Vec<Listed>, LookupFailure>>,
}

/// A `get` answer (masked to `spec`; metadata is never masked): the spec and the revision.
#[derive(Deserialize)]
struct SpecOnly {
    #[serde(default)]
    metadata: RevisionMeta,
    #[serde(default)]
    spec: Option<Box<RawValue>>,
}

/// A cluster Instrumentation's spec text and revision.
type Found = (String, Option<Revision>);

impl<'a> ClusterCatalog<'a> {
    /// A catalog for `subject`, reading the cluster through `lookups`.
    pub fn new(
        settings: &'a SettingsView<'a>,
        lookups: &'a Lookups<'a>,
        subject: &'a Subject,
    ) -> Self {
        ClusterCatalog {
            settings,
            lookups,
            subject,
            listed: OnceCell::new(),
        }
    }

    fn lookup_refusal(&self, failure: LookupFailure) -> Refusal {
        Refusal::Lookup(Box::new(LookupRefusal {
            subject: self.subject.clone(),
            failure,
        }))
    }

    /// Every Instrumentation of the cluster, listed once.
    fn list(&self) -> Result<&[Listed], Refusal> {
        match self
            .listed
            .get_or_init(|| self.lookups.list_all(&INSTRUMENTATION))
        {
            Ok(items) => Ok(items),
            Err(failure) => Err(self.lookup_refusal(failure.clone())),
        }
    }

    /// The cluster's Instrumentation `namespace/name`, as its spec text and revision (`None`: no
    /// such object).
    fn cluster_spec(&self, namespace: &str, name: &str) -> Result<Option<Found>, Refusal> {
        if let Some(Ok(items)) = self.listed.get() {
            return Ok(items
                .iter()
                .find(|i| i.namespace == namespace && i.name == name)
                .map(|i| {
                    let spec = i.spec.as_ref().map_or("{}", |s| s.get()).to_string();
                    (spec, i.revision.clone())
                }));
        }
        let Some(answer) = self
            .lookups
            .get(&INSTRUMENTATION, namespace, name, true)
            .map_err(|f| self.lookup_refusal(f))?
        else {
            return Ok(None);
        };
        let object: SpecOnly = serde_json::from_str(&answer).map_err(|e| {
            let object = format!("{namespace}/{name}");
            self.lookup_refusal(self.lookups.unreadable(&INSTRUMENTATION, object, "get", e))
        })?;
        let spec = object.spec.as_ref().map_or("{}", |s| s.get()).to_string();
        Ok(Some((spec, object.metadata.revision())))
    }

    /// A cluster spec, checked and defaulted like one in the settings.
    fn checked(
        &self,
        namespace: &str,
        name: &str,
        text: &str,
    ) -> Result<Arc<InstrumentationSpec>, Refusal> {
        let refuse = |problems| {
            Refusal::ClusterSpec(Box::new(ClusterSpecRefusal {
                subject: self.subject.clone(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                problems: SettingsErrors(problems),
            }))
        };
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let value = if value.is_null() {
            Value::Object(Default::default())
        } else {
            value
        };
        rules::parse_spec(&value, "spec.")
            .map(Arc::new)
            .map_err(refuse)
    }
}

impl Catalog for ClusterCatalog<'_> {
    fn source(&self) -> Source {
        match self.settings.known() {
            Ok(known) if known.is_empty() => Source::Cluster,
            _ => Source::SettingsAndCluster,
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Result<Option<Resolved>, Refusal> {
        let in_settings = self.settings.get(namespace, name)?;
        let in_cluster = self.cluster_spec(namespace, name)?;
        match (in_settings, in_cluster) {
            (Some(_), Some(_)) => Err(Refusal::DefinedTwice {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            (Some(found), None) => Ok(Some(found)),
            (None, Some((text, revision))) => Ok(Some(Resolved {
                origin: Origin::Named {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                },
                spec: self.checked(namespace, name, &text)?,
                revision,
            })),
            (None, None) => Ok(None),
        }
    }

    fn names(&self, namespace: &str) -> Result<Vec<String>, Refusal> {
        let mut names = Vec::new();
        for name in self.settings.names(namespace)? {
            insert_sorted(&mut names, name);
        }
        for item in self.list()?.iter().filter(|i| i.namespace == namespace) {
            if !insert_sorted(&mut names, item.name.clone()) {
                return Err(Refusal::DefinedTwice {
                    namespace: namespace.to_string(),
                    name: item.name.clone(),
                });
            }
        }
        Ok(names)
    }

    fn has_fallback(&self) -> bool {
        self.settings.has_fallback()
    }

    fn fallback(&self) -> Result<Option<Resolved>, Refusal> {
        self.settings.fallback()
    }

    fn known(&self) -> Result<Vec<(String, String)>, Refusal> {
        let mut known = Vec::new();
        for id in self.settings.known()? {
            insert_sorted(&mut known, id);
        }
        for i in self.list()? {
            insert_sorted(&mut known, (i.namespace.clone(), i.name.clone()));
        }
        Ok(known)
    }
}

/// Inserts `item` into the sorted `list` unless it is there; `false` when it was. The lists are a
/// cluster's Instrumentations, short, and in the host's unstable order until sorted here.
fn insert_sorted<T: Ord>(list: &mut Vec<T>, item: T) -> bool {
    match list.binary_search(&item) {
        Ok(_) => false,
        Err(at) => {
            list.insert(at, item);
            true
        }
    }
}
