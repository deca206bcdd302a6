//! The settings view read in one pass of the strict scanner, for settings as they usually come.
//!
//! The settings' members are read in order as [`SettingsView::try_read`] reads them: an option's
//! value through [`Options::read`], the names and the spec text of each `instrumentations` entry,
//! every other member that is not `null` kept as a member of the top-level spec. Whatever the
//! scanner does not read (a key with escapes, an entry's member twice, an entry that is not an
//! object, ...) makes the scan `None`, and the settings are read with serde_json.

use serde_json::Value;

use super::{Item, SettingsView};
use crate::keys::OPT_INSTRUMENTATIONS;
use crate::settings::Options;
use crate::syntax::json_text::{Scanner, once, push_string};

/// The view of `raw`, or `None` when serde_json is to read it.
pub(super) fn read(raw: &str) -> Option<SettingsView<'_>> {
    let mut view = SettingsView::empty(raw);
    // The top-level spec's members, as `"key":value` text separated by commas.
    let mut spec = String::new();
    let mut scan = Scanner::new(raw);
    if !scan.null()? {
        scan.members(|scan, key| member(&mut view, &mut spec, scan, key))?;
    }
    scan.end()?;
    if !spec.is_empty() {
        spec.insert(0, '{');
        spec.push('}');
        view.default = Some(spec);
    }
    Some(view)
}

/// One member of the settings.
fn member<'a>(
    view: &mut SettingsView<'a>,
    spec: &mut String,
    scan: &mut Scanner<'a>,
    key: &'a str,
) -> Option<()> {
    if Options::KEYS.contains(&key) {
        let value: Value = serde_json::from_str(scan.raw_value()?).ok()?;
        view.options.read(key, &value).ok()?;
    } else if key == OPT_INSTRUMENTATIONS {
        if !scan.null()? {
            scan.elements(|scan| {
                view.instrumentations.push(item(scan)?);
                Some(())
            })?;
        }
    } else if !scan.null()? {
        let value = scan.raw_value()?;
        if !spec.is_empty() {
            spec.push(',');
        }
        push_string(spec, key);
        spec.push(':');
        spec.push_str(value);
    }
    Some(())
}

/// An `instrumentations` entry: its metadata's name and namespace (both required) and its spec.
fn item<'a>(scan: &mut Scanner<'a>) -> Option<Item<'a>> {
    let (mut names, mut spec) = (None, None);
    scan.members(|scan, key| match key {
        "metadata" => once(&mut names, metadata(scan)?),
        "spec" => once(&mut spec, scan.raw_value_or_null()?),
        _ => scan.skip_value(),
    })?;
    let (namespace, name) = names?;
    Some(Item {
        namespace: namespace.into(),
        name: name.into(),
        spec: spec.flatten(),
    })
}

/// An entry's `metadata`: (namespace, name).
fn metadata<'a>(scan: &mut Scanner<'a>) -> Option<(&'a str, &'a str)> {
    let (mut namespace, mut name) = (None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, scan.plain_string()?),
        "namespace" => once(&mut namespace, scan.plain_string()?),
        _ => scan.skip_value(),
    })?;
    Some((namespace?, name?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a view holds, to compare the scan with serde_json's reading.
    fn held(view: &SettingsView<'_>) -> String {
        let items: Vec<_> = view
            .instrumentations
            .iter()
            .map(|i| (i.namespace.to_string(), i.name.to_string(), i.spec))
            .collect();
        format!("{:?} {:?} {:?}", view.options, view.default, items)
    }

    #[test]
    fn the_scan_reads_what_serde_json_reads() {
        for text in [
            "null",
            " { } ",
            r#"{"instrumentations": null, "env": null}"#,
            r#"{"exporter": {"endpoint": "http://c:4318"}, "failureAction": "admit",
                "sampler": {"type": "always_on"}, "propagators": ["b3"],
                "imageRewrites": [{"from": "ghcr.io/", "to": "m.example.com/g"}],
                "instrumentations": [
                  {"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
                   "metadata": {"name": "a", "namespace": "x", "labels": {"k": "v\"w"}},
                   "spec": {"env": null, "sampler": {"type": "always_on"}}, "status": {}},
                  {"metadata": {"namespace": "y", "name": "b"}, "spec": null},
                  {"metadata": {"name": "c", "namespace": "y"}}],
                "env": null, "instrumentations": [{"metadata": {"name": "d", "namespace": "z"}}],
                "preflight": "fail", "exporter": {"endpoint": "http://d:4318"}}"#,
        ] {
            let scanned = read(text).unwrap_or_else(|| panic!("{text}"));
            let serde = SettingsView::try_read(text).unwrap();
            assert_eq!(held(&scanned), held(&serde), "{text}");
        }
    }

    #[test]
    fn what_the_scan_does_not_read_is_left_to_serde_json() {
        for text in [
            r#"{"instrumentations": [{"metadata": {"name": "a"}}]}"#,
            r#"{"instrumentations": [{"metadata": null}]}"#,
            r#"{"instrumentations": [{"metadata": {"name": "a", "name": "b", "namespace": "x"}}]}"#,
            r#"{"instrumentations": [{"metadata": {"name": "a\u0062", "namespace": "x"}}]}"#,
            r#"{"instrumentations": [["x"]]}"#,
            r#"{"instrumentations": {}}"#,
            r#"{"exp\u006frter": {}}"#,
            r#"{"failureAction": "ignore"}"#,
            r#"{"env": [] "#,
            "[]",
            "{} x",
        ] {
            assert!(read(text).is_none(), "{text}");
        }
        let escaped =
            r#"{"instrumentations": [{"metadata": {"name": "a\u0062", "namespace": "x"}}]}"#;
        let view = SettingsView::read(escaped).unwrap();
        assert_eq!(view.instrumentations[0].name, "ab");
    }
}
