//! The object's head: its kind, its pod's `inject-python` annotation and a workload's own
//! metadata, read before the pod.
//!
//! Read by the strict scanner, in the payload's own pass over the object when the request's
//! target is known by then (so the object is scanned once), else from the object's text; serde_json
//! reads what the scanner leaves to it.

use std::ops::Range;

use serde::Deserialize;
use serde_json::Value;

use crate::keys::{INJECT_PYTHON, is_off};
use crate::syntax::json_text::{Scanner, member, once, value_at};
use crate::target::{Role, Target};

/// What is read of the object before the pod: its kind, the pod's `inject-python` annotation,
/// and a workload's own metadata (empty for a Pod, whose metadata is the pod's).
#[derive(Default, Debug, PartialEq)]
pub struct Head {
    /// The object's own `kind`, when it is a string.
    pub kind: Option<String>,
    /// A workload's own metadata, as far as the policy reads it.
    pub metadata: OwnMeta,
    /// The pod's (template's) `inject-python` annotation, any JSON value.
    pub inject: Option<Value>,
    /// Where a workload's template sits in the object's text (byte offsets), when the scanner
    /// read the head and the template is an object: the pod is then read from there, without
    /// walking the rest of the object again.
    pub template: Option<Range<usize>>,
}

/// What the policy reads of a workload's own metadata (a field of another type reads as absent).
#[derive(Default, Debug, PartialEq)]
pub struct OwnMeta {
    /// `name`.
    pub name: Option<String>,
    /// `generateName`.
    pub generate_name: Option<String>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// Its own `inject-python` annotation, where it does nothing.
    pub inject: Option<String>,
    /// Whether an owner reference says `controller: true`.
    pub controlled: bool,
    /// Whether `deletionTimestamp` is set.
    pub deleting: bool,
}

impl OwnMeta {
    /// The fields read from the metadata as a document.
    fn of(meta: &Value) -> OwnMeta {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let controlled = meta["ownerReferences"]
            .as_array()
            .is_some_and(|owners| owners.iter().any(|o| o["controller"] == Value::Bool(true)));
        OwnMeta {
            name: text(&meta["name"]),
            generate_name: text(&meta["generateName"]),
            namespace: text(&meta["namespace"]),
            inject: text(&meta["annotations"][INJECT_PYTHON]),
            controlled,
            deleting: !meta["deletionTimestamp"].is_null(),
        }
    }
}

/// Whether the object's pods ask for instrumentation, as far as the object says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// No: the annotation is off, or absent outside cluster mode.
    No,
    /// The pod's own annotation asks (a value of the wrong type counts: reading the pod then
    /// says what is wrong with it).
    Itself,
    /// The pod says nothing, and in cluster mode its Namespace may ask for it.
    NamespaceMay,
}

impl Head {
    /// The name a workload object goes by in messages: its name, else its generateName prefix
    /// and `*`.
    pub fn display_name(&self) -> String {
        let meta = &self.metadata;
        crate::pod::display_name(meta.name.as_deref(), meta.generate_name.as_deref())
    }

    /// Whether the pods ask; `cluster_mode` is asked only when the pod says nothing.
    pub fn ask(&self, cluster_mode: impl FnOnce() -> bool) -> Ask {
        let says_nothing = match self.inject.as_ref() {
            Some(v) if !v.as_str().is_some_and(is_off) => return Ask::Itself,
            Some(v) => v.as_str() == Some(""),
            None => true,
        };
        if says_nothing && cluster_mode() {
            Ask::NamespaceMay
        } else {
            Ask::No
        }
    }
}

/// A Pod's kind and `inject-python` annotation, read in one pass.
#[derive(Default, Deserialize)]
struct PodProbe {
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    metadata: Option<ProbeMeta>,
}

#[derive(Default, Deserialize)]
struct ProbeMeta {
    #[serde(default)]
    annotations: Option<ProbeAnnotations>,
}

#[derive(Default, Deserialize)]
struct ProbeAnnotations {
    #[serde(default, rename = "instrumentation.opentelemetry.io/inject-python")]
    inject: Option<Value>,
}

/// The head of the JSON object `object`: by the scanner, else by serde_json.
pub fn read(object: &str, target: &Target) -> Head {
    scan_head(object, target).unwrap_or_else(|| match target.role {
        Role::Pod => pod_head(object),
        Role::Template => workload_head(object, target),
    })
}

/// The head, read by the scanner in one pass over the object: `None` for anything it leaves to
/// serde_json (a field given twice, a key or a name with escapes, a step of the path that is not
/// an object, nesting deeper than the scanner reads).
fn scan_head(object: &str, target: &Target) -> Option<Head> {
    read_in(&mut Scanner::new(object), target)
}

/// The head of the object that starts at `scan`, read as [`read`] reads it by the scanner,
/// past the object: `None` for anything the scanner leaves to serde_json.
pub fn read_in(scan: &mut Scanner<'_>, target: &Target) -> Option<Head> {
    scan.peek()?;
    let origin = scan.position();
    let (mut kind, mut metadata, mut inject, mut template) = (None, None, None, None);
    let (first, steps) = target.template.split_first().unwrap_or((&"metadata", &[]));
    scan.members(|scan, key| match key {
        "kind" => once(&mut kind, scan_text(scan)?),
        _ if key == *first => {
            let read = match target.role {
                Role::Pod => scan_at(scan, &ANNOTATION[1..])?,
                Role::Template => scan_template(scan, steps, origin, &mut template)?,
            };
            once(&mut inject, read)
        }
        "metadata" => once(&mut metadata, scan_own_meta(scan)?),
        _ => scan.skip_value(),
    })?;
    Some(Head {
        kind: kind.flatten().map(str::to_string),
        metadata: metadata.unwrap_or_default(),
        inject: inject.flatten(),
        template,
    })
}

/// Where a pod keeps its `inject-python` annotation.
const ANNOTATION: [&str; 3] = ["metadata", "annotations", INJECT_PYTHON];

/// The template's annotation, the template `steps` below here (every step an object or `null`),
/// and the template's place in the object's text (offsets from `origin`) when it is an object.
fn scan_template(
    scan: &mut Scanner<'_>,
    steps: &[&str],
    origin: usize,
    template: &mut Option<Range<usize>>,
) -> Option<Option<Value>> {
    let Some((step, rest)) = steps.split_first() else {
        let start = (scan.peek()? == b'{').then(|| scan.position());
        let inject = scan_at(scan, &ANNOTATION)?;
        *template = start.map(|start| start - origin..scan.position() - origin);
        return Some(inject);
    };
    if scan.null()? {
        return Some(None);
    }
    member(scan, step, |scan| {
        scan_template(scan, rest, origin, template)
    })
}

/// The value at `path` (`None`: `null`); every step must be an object or `null`.
fn scan_at(scan: &mut Scanner<'_>, path: &[&str]) -> Option<Option<Value>> {
    let Some((step, rest)) = path.split_first() else {
        if scan.peek()? == b'"' {
            return Some(Some(Value::String(scan.plain_string()?.to_string())));
        }
        if scan.null()? {
            return Some(None);
        }
        return serde_json::from_str(scan.raw_value()?).ok().map(Some);
    };
    if scan.null()? {
        return Some(None);
    }
    member(scan, step, |scan| scan_at(scan, rest))
}

/// A string without escapes; `None` for a value of another type.
fn scan_text<'a>(scan: &mut Scanner<'a>) -> Option<Option<&'a str>> {
    if scan.peek()? == b'"' {
        return scan.plain_string().map(Some);
    }
    scan.skip_value()?;
    Some(None)
}

/// A workload's own metadata, as [`OwnMeta::of`] reads it.
fn scan_own_meta(scan: &mut Scanner<'_>) -> Option<OwnMeta> {
    if scan.null()? {
        return Some(OwnMeta::default());
    }
    let (mut name, mut generate_name, mut namespace) = (None, None, None);
    let (mut inject, mut controlled, mut deleting) = (None, None, None);
    scan.members(|scan, key| match key {
        "name" => once(&mut name, scan_text(scan)?),
        "generateName" => once(&mut generate_name, scan_text(scan)?),
        "namespace" => once(&mut namespace, scan_text(scan)?),
        "annotations" => once(&mut inject, scan_at(scan, &[INJECT_PYTHON])?),
        "ownerReferences" => once(&mut controlled, scan_controlled(scan)?),
        "deletionTimestamp" => {
            let set = !scan.null()?;
            if set {
                scan.skip_value()?;
            }
            once(&mut deleting, set)
        }
        _ => scan.skip_value(),
    })?;
    let text = |field: Option<Option<&str>>| field.flatten().map(str::to_string);
    Some(OwnMeta {
        name: text(name),
        generate_name: text(generate_name),
        namespace: text(namespace),
        inject: match inject.flatten() {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        controlled: controlled.unwrap_or_default(),
        deleting: deleting.unwrap_or_default(),
    })
}

/// Whether an owner reference in the list says `controller: true`.
fn scan_controlled(scan: &mut Scanner<'_>) -> Option<bool> {
    if scan.peek()? != b'[' {
        scan.skip_value()?;
        return Some(false);
    }
    let mut any = false;
    scan.elements(|scan| {
        if scan.peek()? != b'{' {
            return scan.skip_value();
        }
        let mut controller = None;
        scan.members(|scan, key| match key {
            "controller" => {
                let is_true = scan.peek()? == b't';
                scan.skip_value()?;
                once(&mut controller, is_true)
            }
            _ => scan.skip_value(),
        })?;
        any |= controller == Some(true);
        Some(())
    })?;
    Some(any)
}

/// A workload's head, read by serde_json: its kind and metadata as documents, the template's
/// annotation at its path.
fn workload_head(object: &str, target: &Target) -> Head {
    #[derive(Default, Deserialize)]
    struct Raw {
        #[serde(default)]
        kind: Value,
        #[serde(default)]
        metadata: Value,
    }
    let raw: Raw = serde_json::from_str(object).unwrap_or_default();
    let path = [target.template, &ANNOTATION].concat();
    Head {
        kind: raw.kind.as_str().map(str::to_string),
        metadata: OwnMeta::of(&raw.metadata),
        inject: value_at(object, &path),
        template: None,
    }
}

/// A Pod's head. A field of an unexpected type reads as "asks": reading the pod then says what
/// is wrong.
fn pod_head(object: &str) -> Head {
    match serde_json::from_str::<PodProbe>(object) {
        Ok(probe) => Head {
            kind: probe.kind.as_str().map(str::to_string),
            metadata: OwnMeta::default(),
            inject: probe
                .metadata
                .and_then(|m| m.annotations)
                .and_then(|a| a.inject),
            template: None,
        },
        Err(_) => Head {
            inject: Some(Value::Bool(true)),
            ..Head::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json alone reads of the object's head.
    fn by_serde(object: &str, target: &Target) -> Head {
        match target.role {
            Role::Pod => pod_head(object),
            Role::Template => workload_head(object, target),
        }
    }

    #[test]
    fn the_scanner_reads_the_head_serde_json_reads_or_leaves_it() {
        let deployment = Target::workload("apps", "Deployment").unwrap();
        let cronjob = Target::workload("batch", "CronJob").unwrap();
        let inject = INJECT_PYTHON;
        let read = [
            format!(r#"{{"kind":"Pod","metadata":{{"name":"a","annotations":{{"{inject}":"true","x":1}}}},"spec":{{}}}}"#),
            format!(r#"{{"metadata":{{"annotations":{{"{inject}":{{"a":[1]}}}}}}}}"#),
            format!(r#"{{"metadata":{{"annotations":{{"{inject}":null}}}}}}"#),
            r#"{"kind":5,"metadata":null}"#.to_string(),
            format!(r#"{{"kind":"Deployment","metadata":{{"name":"d","generateName":7,"namespace":"n","annotations":{{"{inject}":"x"}},"ownerReferences":[1,{{"controller":false}},{{"controller":true,"kind":"K"}}],"deletionTimestamp":"t"}},"spec":{{"template":{{"metadata":{{"annotations":{{"{inject}":"monitor/python"}}}}}}}}}}"#),
            format!(r#"{{"spec":{{"jobTemplate":{{"spec":{{"template":{{"metadata":{{"annotations":{{"{inject}":false}}}}}}}}}}}}}}"#),
            r#"{"metadata":{"ownerReferences":{"controller":true},"deletionTimestamp":null},"spec":null}"#.to_string(),
            r#"{}"#.to_string(),
        ];
        let mut placed_count = 0;
        for object in &read {
            for target in [&Target::POD, &deployment, &cronjob] {
                let mut scanned = scan_head(object, target).expect(object);
                // The template's place: the bytes of the value at its path, when an object.
                let at = value_at(object, target.template).filter(Value::is_object);
                let placed = scanned.template.take().map(|r| {
                    serde_json::from_str::<Value>(&object[r]).expect("the template's text")
                });
                let template_read = target.role == Role::Template && at.is_some();
                placed_count += usize::from(placed.is_some());
                assert_eq!(placed, at.filter(|_| template_read), "{object} {target:?}");
                assert_eq!(scanned, by_serde(object, target), "{object} {target:?}");
            }
        }
        assert_eq!(
            placed_count, 2,
            "a Deployment's and a CronJob's template placed"
        );
        let left = [
            r#"{"kind":"Pod","kind":"Job"}"#.to_string(),
            r#"{"metadata":{},"metadata":{}}"#.to_string(),
            r#"{"metadata":[]}"#.to_string(),
            r#"{"kind":"P\u006fd"}"#.to_string(),
            format!(r#"{{"metadata":{{"annotations":{{"{inject}":"a","{inject}":"b"}}}}}}"#),
            format!(
                r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"{inject}":"a\"b"}}}}}}}}}}"#
            ),
            r#"{"spec":{"template":[]}}"#.to_string(),
        ];
        for object in &left {
            let target = if object.contains("spec") {
                &deployment
            } else {
                &Target::POD
            };
            assert!(scan_head(object, target).is_none(), "{object}");
        }
    }
}
