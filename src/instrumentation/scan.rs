//! An Instrumentation spec read in one pass of the strict scanner, for the fields specs usually set.
//!
//! `validate` reads the spec of every instrumented pod. The fields most specs set (the exporter's
//! endpoint, propagators, sampler, env lists of names and values, resource attributes, defaults,
//! pull policy, the Python image) are read here into the typed spec, as serde_json reads them.
//! Anything else (TLS, init container resources or security context, `valueFrom`, another
//! language's section, a key or string with escapes, a member twice, ...) makes the read `None`,
//! and serde_json reads the spec: its answer is the one that counts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;

use super::{Defaults, Exporter, InstrumentationSpec, Python, Resource, Sampler};
use crate::syntax::json_text::{Scanner, or_null};

/// The spec at `text`, or `None` when serde_json is to read it.
pub fn read(text: &str) -> Option<InstrumentationSpec> {
    let mut scan = Scanner::new(text);
    let spec = spec(&mut scan)?;
    scan.end()?;
    Some(spec)
}

fn spec(scan: &mut Scanner<'_>) -> Option<InstrumentationSpec> {
    const KEYS: &[&str] = &[
        "exporter",
        "propagators",
        "sampler",
        "env",
        "resource",
        "defaults",
        "imagePullPolicy",
        "python",
    ];
    let mut spec = InstrumentationSpec::default();
    fields(scan, KEYS, |scan, key| {
        match key {
            "exporter" => spec.exporter = or_null(scan, exporter)?,
            "propagators" => spec.propagators = or_null(scan, strings)?,
            "sampler" => spec.sampler = or_null(scan, sampler)?,
            "env" => spec.env = or_null(scan, env)?,
            "resource" => spec.resource = or_null(scan, resource)?,
            "defaults" => spec.defaults = or_null(scan, defaults)?,
            "imagePullPolicy" => spec.image_pull_policy = string(scan)?,
            _ => spec.python = or_null(scan, python)?,
        }
        Some(())
    })?;
    Some(spec)
}

/// The members of the object that starts here, each key one of `keys` and there once (a derived
/// reader refuses a member twice: serde_json is left to say so); `field` reads each value.
fn fields<'a>(
    scan: &mut Scanner<'a>,
    keys: &[&str],
    mut field: impl FnMut(&mut Scanner<'a>, &'a str) -> Option<()>,
) -> Option<()> {
    let mut seen = 0u32;
    scan.members(|scan, key| {
        let bit = 1 << keys.iter().position(|k| *k == key)?;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        field(scan, key)
    })
}

/// `null` or a string.
fn string(scan: &mut Scanner<'_>) -> Option<Option<String>> {
    Some(scan.plain_string_or_null()?.map(str::to_string))
}

/// `null` or a boolean.
fn boolean(scan: &mut Scanner<'_>) -> Option<Option<bool>> {
    match scan.raw_value_or_null()? {
        None => Some(None),
        Some("true") => Some(Some(true)),
        Some("false") => Some(Some(false)),
        Some(_) => None,
    }
}

/// A list of strings.
fn strings(scan: &mut Scanner<'_>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    scan.elements(|scan| {
        out.push(scan.plain_string()?.to_string());
        Some(())
    })?;
    Some(out)
}

fn exporter(scan: &mut Scanner<'_>) -> Option<Exporter> {
    let mut out = Exporter::default();
    fields(scan, &["endpoint", "tls"], |scan, key| match key {
        "endpoint" => {
            out.endpoint = string(scan)?;
            Some(())
        }
        // TLS is left to serde_json.
        _ => scan.null()?.then_some(()),
    })?;
    Some(out)
}

fn sampler(scan: &mut Scanner<'_>) -> Option<Sampler> {
    let mut out = Sampler::default();
    fields(scan, &["type", "argument"], |scan, key| {
        let value = string(scan)?;
        match key {
            "type" => out.type_ = value,
            _ => out.argument = value,
        }
        Some(())
    })?;
    Some(out)
}

/// An env list whose entries are a name and a value (`valueFrom` is left to serde_json).
fn env(scan: &mut Scanner<'_>) -> Option<Vec<EnvVar>> {
    let mut out = Vec::new();
    scan.elements(|scan| {
        let (mut name, mut value) = (None, None);
        fields(scan, &["name", "value"], |scan, key| match key {
            "name" => {
                name = Some(scan.plain_string()?.to_string());
                Some(())
            }
            _ => {
                value = string(scan)?;
                Some(())
            }
        })?;
        out.push(EnvVar {
            name: name?,
            value,
            value_from: None,
        });
        Some(())
    })?;
    Some(out)
}

fn resource(scan: &mut Scanner<'_>) -> Option<Resource> {
    let mut out = Resource::default();
    let keys = ["resourceAttributes", "addK8sUIDAttributes"];
    fields(scan, &keys, |scan, key| match key {
        "resourceAttributes" => {
            out.resource_attributes = or_null(scan, attributes)?;
            Some(())
        }
        _ => {
            out.add_k8s_uid_attributes = boolean(scan)?;
            Some(())
        }
    })?;
    Some(out)
}

/// A map of strings, each key once.
fn attributes(scan: &mut Scanner<'_>) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    scan.members(|scan, key| {
        let value = scan.plain_string()?.to_string();
        out.insert(key.to_string(), value).is_none().then_some(())
    })?;
    Some(out)
}

fn defaults(scan: &mut Scanner<'_>) -> Option<Defaults> {
    let mut out = Defaults::default();
    fields(scan, &["useLabelsForResourceAttributes"], |scan, _| {
        out.use_labels_for_resource_attributes = boolean(scan)?;
        Some(())
    })?;
    Some(out)
}

/// `python` with its image and env (resources and volumes are left to serde_json).
fn python(scan: &mut Scanner<'_>) -> Option<Python> {
    let mut out = Python::default();
    fields(scan, &["image", "env"], |scan, key| match key {
        "image" => {
            out.image = string(scan)?;
            Some(())
        }
        _ => {
            out.env = or_null(scan, env)?;
            Some(())
        }
    })?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_reads_what_serde_json_reads() {
        for text in [
            "{}",
            r#" { "env" : null , "python": null, "sampler": {} } "#,
            r#"{"env": null, "exporter": {"endpoint": "http://c.monitor.svc:4318", "tls": null},
                "propagators": ["tracecontext", "baggage"],
                "python": {"image": "image.com.tw/library/otel-python:0.43b0",
                           "env": [{"name": "A", "value": "1"}, {"value": null, "name": "B"}]},
                "sampler": {"argument": "1", "type": "parentbased_traceidratio"},
                "resource": {"resourceAttributes": {"team": "x", "a.b": ""},
                             "addK8sUIDAttributes": true},
                "defaults": {"useLabelsForResourceAttributes": false},
                "imagePullPolicy": "IfNotPresent"}"#,
            r#"{"propagators": [], "env": [], "resource": {"resourceAttributes": null},
                "exporter": {}, "python": {"image": null, "env": null}}"#,
        ] {
            let want: InstrumentationSpec = serde_json::from_str(text).unwrap();
            assert_eq!(read(text), Some(want), "{text}");
        }
    }

    #[test]
    fn what_the_scan_does_not_read_is_left_to_serde_json() {
        for text in [
            r#"{"exporter": {"endpoint": "https://c:4318", "tls": {"secretName": "s"}}}"#,
            r#"{"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}"#,
            r#"{"env": [{"value": "1"}]}"#,
            r#"{"env": [{"name": null}]}"#,
            r#"{"python": {"resourceRequirements": {"limits": {"cpu": "1"}}}}"#,
            r#"{"java": {}}"#,
            r#"{"sampler": {"type": "always_on", "type": "always_off"}}"#,
            r#"{"sampler": null, "sampler": null}"#,
            r#"{"env": null, "propagators": ["b3"], "env": null}"#,
            r#"{"resource": {"resourceAttributes": {"a": "1", "a": "2"}}}"#,
            r#"{"resource": {"addK8sUIDAttributes": "yes"}}"#,
            r#"{"imagePullPolicy": "Alw\u0061ys"}"#,
            r#"{"propagators": "b3"}"#,
            r#"{"unknown": 1}"#,
            "{} {}",
            "[]",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }
}
