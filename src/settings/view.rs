//! The settings as `validate` reads them: only what a request uses, from the payload's text.
//!
//! policy-server checks the settings with
//! `validate_settings` when it loads the policy and then evaluates every request in a fresh
//! instance, so `validate` reads only what a request needs, from the payload's own text: the
//! options, the names of the instrumentations, and the one spec the pod's reference resolves to,
//! which gets every check and default of `rules::read_spec`. Anything it cannot read or use
//! is refused with the message `validate_settings` gives for the same settings.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Options, Settings};
use crate::catalog::{self, Catalog, Entry, Origin, Resolved};
use crate::instrumentation::InstrumentationSpec;
use crate::instrumentation::rules;
use crate::keys::OPT_INSTRUMENTATIONS;
use crate::refusal::{Fault, Refusal, SettingsErrors, SettingsProblem, Source};
use crate::syntax::json_text::Entries;

mod scan;

/// Whether the settings text asks for cluster mode, read without the rest: what a pod that says
/// nothing itself needs to know (in cluster mode its namespace may ask for it).
pub fn cluster_mode(raw: &str) -> bool {
    // The key spelt out, or written with escapes: only then is the text read.
    if !raw.contains("instrumentationSource") && !raw.contains('\\') {
        return false;
    }
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(default, borrow, rename = "instrumentationSource")]
        source: Option<&'a str>,
    }
    serde_json::from_str::<Probe>(raw).is_ok_and(|p| p.source == Some("cluster"))
}

/// The settings of one request, read lazily from `raw`.
pub struct SettingsView<'a> {
    raw: &'a str,
    /// The policy's own options.
    pub options: Options,
    /// The top-level spec as JSON text (the settings without the options), when a spec field is set.
    default: Option<String>,
    instrumentations: Vec<Item<'a>>,
}

struct Item<'a> {
    namespace: Cow<'a, str>,
    name: Cow<'a, str>,
    /// The spec's text (`None`: absent or `null`).
    spec: Option<&'a str>,
}

/// An `instrumentations` entry: only its names are read here.
#[derive(Deserialize)]
struct RawItem<'a> {
    #[serde(default)]
    metadata: Option<RawMeta>,
    #[serde(default, borrow)]
    spec: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

impl<'a> SettingsView<'a> {
    /// Reads `raw` (the payload's settings, `null` for none). When they cannot be read, the
    /// refusal is the one `validate_settings` gives.
    pub fn read(raw: &'a str) -> Result<SettingsView<'a>, SettingsErrors> {
        scan::read(raw)
            .or_else(|| Self::try_read(raw))
            .ok_or_else(|| full_problems(raw))
    }

    /// No options set, nothing read yet.
    fn empty(raw: &'a str) -> Self {
        SettingsView {
            raw,
            options: Options::default(),
            default: None,
            instrumentations: Vec::new(),
        }
    }

    /// The settings read with serde_json: what the one-pass scan leaves to it, and the reference
    /// the scan is tested against.
    fn try_read(raw: &'a str) -> Option<SettingsView<'a>> {
        let Entries(entries) = serde_json::from_str(raw).ok()?;
        let mut view = Self::empty(raw);
        let mut spec = Vec::new();
        for (key, value) in entries {
            match key.as_str() {
                k if Options::KEYS.contains(&k) => {
                    let v: Value = serde_json::from_str(value.get()).ok()?;
                    view.options.read(k, &v).ok()?;
                }
                OPT_INSTRUMENTATIONS => {
                    let items: Option<Vec<RawItem>> = serde_json::from_str(value.get()).ok()?;
                    for item in items.unwrap_or_default() {
                        let meta = item.metadata?;
                        view.instrumentations.push(Item {
                            namespace: meta.namespace?.into(),
                            name: meta.name?.into(),
                            spec: item.spec.map(RawValue::get),
                        });
                    }
                }
                _ if value.get() == "null" => {}
                _ => spec.push(format!(
                    "{}:{}",
                    serde_json::to_string(key.as_str()).ok()?,
                    value.get()
                )),
            }
        }
        if !spec.is_empty() {
            view.default = Some(format!("{{{}}}", spec.join(",")));
        }
        Some(view)
    }

    /// The spec at `text` (`None`: absent), checked and defaulted.
    fn spec(&self, text: Option<&str>) -> Result<Arc<InstrumentationSpec>, Refusal> {
        rules::read_spec(text.unwrap_or("{}"))
            .map(Arc::new)
            .ok_or_else(|| self.refusal())
    }

    /// What `validate_settings` says of these settings, as the refusal of a request.
    fn refusal(&self) -> Refusal {
        Refusal::Settings(full_problems(self.raw))
    }
}

/// The settings' problems, from the full check (`Settings::parse`). Settings the view could not
/// use always have one; should the full check find none, the view's own reading is what failed.
fn full_problems(raw: &str) -> SettingsErrors {
    match Settings::from_json(raw.as_bytes()) {
        Err(e) => e,
        Ok(_) => SettingsErrors(vec![SettingsProblem::new(
            "",
            Fault::Parse {
                message: "the settings could not be read".into(),
            },
        )]),
    }
}

impl Catalog for SettingsView<'_> {
    fn source(&self) -> Source {
        Source::Settings
    }
    fn get(&self, namespace: &str, name: &str) -> Result<Option<Resolved>, Refusal> {
        let Some(item) = catalog::find(&self.instrumentations, namespace, name) else {
            return Ok(None);
        };
        let spec = self.spec(item.spec)?;
        Ok(Some(Resolved {
            origin: Origin::Named {
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            spec,
            revision: None,
        }))
    }
    fn names(&self, namespace: &str) -> Result<Vec<String>, Refusal> {
        Ok(catalog::names_in(&self.instrumentations, namespace))
    }
    fn has_fallback(&self) -> bool {
        self.default.is_some()
    }
    fn fallback(&self) -> Result<Option<Resolved>, Refusal> {
        let Some(text) = &self.default else {
            return Ok(None);
        };
        Ok(Some(Resolved {
            origin: Origin::Default,
            spec: self.spec(Some(text))?,
            revision: None,
        }))
    }
    fn known(&self) -> Result<Vec<(String, String)>, Refusal> {
        Ok(catalog::ids(&self.instrumentations))
    }
}

impl Entry for Item<'_> {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// The full settings are the reference for the view: both must read the same instrumentations.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_mode_is_read_from_the_key_however_it_is_spelt() {
        for (raw, want) in [
            (r#"{"instrumentationSource": "cluster"}"#, true),
            (r#"{"instrumentation\u0053ource": "cluster"}"#, true),
            (r#"{"instrumentationSource": "settings"}"#, false),
            (r#"{"exporter": {"endpoint": "http://c:4318"}}"#, false),
            (
                r#"{"note": "a\"b", "instrumentationSource": "cluster"}"#,
                true,
            ),
            ("null", false),
        ] {
            assert_eq!(cluster_mode(raw), want, "{raw}");
        }
    }

    fn both(settings: Value) -> (Settings, String) {
        let text = settings.to_string();
        (Settings::parse(&settings).unwrap(), text)
    }

    #[test]
    fn the_view_reads_what_the_full_settings_read() {
        let (full, text) = both(json!({
            "exporter": {"endpoint": "http://c:4318"},
            "failureAction": "admit",
            "allowCrossNamespaceReferences": false,
            "preflight": "fail",
            "imageRewrites": [{"from": "ghcr.io/", "to": "mirror.example.com/ghcr"}],
            "imagePullSecrets": ["mirror-pull"],
            "pinImageDigest": "resolve",
            "delivery": "imageVolume",
            "instrumentations": [
                {"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
                 "metadata": {"name": "a", "namespace": "x", "uid": "1"},
                 "spec": {"sampler": {"type": "always_on"}}, "status": {}},
                {"metadata": {"name": "b", "namespace": "x"}},
            ]
        }));
        let view = SettingsView::read(&text).unwrap();
        assert_eq!(view.options, full.options);
        assert_eq!(view.options.preflight, super::super::Preflight::Fail);
        assert_eq!(view.options.image.rewrites[0].from, "ghcr.io");
        assert_eq!(view.options.image.pull_secrets, ["mirror-pull"]);
        assert_eq!(view.known().unwrap(), full.known().unwrap());
        assert_eq!(view.names("x").unwrap(), full.names("x").unwrap());
        for name in ["a", "b"] {
            let (v, f) = (
                view.get("x", name).unwrap().unwrap(),
                full.get("x", name).unwrap().unwrap(),
            );
            assert_eq!(v.spec, f.spec);
            assert_eq!(v.label(), f.label());
        }
        assert_eq!(
            view.fallback().unwrap().unwrap().spec,
            full.fallback().unwrap().unwrap().spec
        );
    }

    #[test]
    fn no_top_level_field_means_no_default() {
        let view = SettingsView::read(r#"{"env": null, "instrumentations": []}"#).unwrap();
        assert!(!view.has_fallback());
        assert!(view.fallback().unwrap().is_none());
        assert!(
            SettingsView::read("null")
                .unwrap()
                .known()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bad_spec_in_use_is_refused_with_the_full_message() {
        let text = r#"{"instrumentations": [{"metadata": {"name": "a", "namespace": "x"},
            "spec": {"sampler": {"type": "traceidratio", "argument": "2"}}}]}"#;
        let full = Settings::from_json(text.as_bytes()).unwrap_err();
        let view = SettingsView::read(text).unwrap();
        match view.get("x", "a") {
            Err(Refusal::Settings(e)) => assert_eq!(e, full),
            other => panic!("{other:?}"),
        }
        let bad_option = SettingsView::read(r#"{"failureAction": "ignore"}"#);
        assert!(bad_option.is_err());
    }
}
