//! `instrumentation.opentelemetry.io/inject-python` values → the instrumentation they name, or the
//! reason they name none, with the references that would work.

use crate::annotations::{INJECT_PYTHON, shown};
use crate::instrumentation::InstrumentationSpec;
use crate::names;
use crate::settings::Settings;

/// What an annotation value says.
#[derive(Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// Absent, empty or `false`: no injection.
    Off,
    /// `true`: the one instrumentation of the pod's namespace, else the settings' default.
    Default,
    /// `NAME`: that instrumentation in the pod's namespace.
    Name(&'a str),
    /// `NAMESPACE/NAME`.
    Qualified(&'a str, &'a str),
}

/// The instrumentation a pod gets.
#[derive(Debug)]
pub struct Resolved<'a> {
    pub spec: &'a InstrumentationSpec,
    /// How messages name it: `namespace/name`, or the settings' default.
    pub label: String,
}

pub const DEFAULT_LABEL: &str = "the policy settings' default instrumentation";

/// Parses an annotation value; the error says why it is malformed.
pub fn parse(value: &str) -> Result<Reference<'_>, String> {
    if value.is_empty() || value.eq_ignore_ascii_case("false") {
        return Ok(Reference::Off);
    }
    if value.eq_ignore_ascii_case("true") {
        return Ok(Reference::Default);
    }
    match value.split_once('/') {
        None => {
            check_name(value)?;
            Ok(Reference::Name(value))
        }
        Some((ns, name)) => {
            if name.contains('/') {
                return Err("it has more than one '/'".into());
            }
            if ns.is_empty() || name.is_empty() {
                return Err("a part around '/' is empty".into());
            }
            if !names::is_dns1123_label(ns) {
                return Err(format!(
                    "{} is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
                    shown(ns)
                ));
            }
            check_name(name)?;
            Ok(Reference::Qualified(ns, name))
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if names::is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a valid instrumentation name (lowercase letters, digits, '-' and '.', at most 253 characters)",
            shown(name)
        ))
    }
}

/// Resolves the annotation `value` of a pod in `namespace`. `Ok(None)`: no injection wanted.
pub fn resolve<'a>(
    value: &str,
    namespace: &str,
    settings: &'a Settings,
) -> Result<Option<Resolved<'a>>, String> {
    let reference = parse(value).map_err(|why| {
        format!(
            "{}: it must be \"true\", \"false\", NAME or NAMESPACE/NAME, and {why}. {}",
            head(value, namespace),
            would_work(namespace, settings)
        )
    })?;
    let named = |ns: &str, name: &str| {
        settings.find(ns, name).map(|i| Resolved {
            spec: &i.spec,
            label: format!("{}/{}", i.namespace(), i.name()),
        })
    };
    match reference {
        Reference::Off => Ok(None),
        Reference::Default => {
            let mut here = settings.in_namespace(namespace);
            match (here.next(), here.next()) {
                (None, _) => Ok(Some(Resolved { spec: &settings.default, label: DEFAULT_LABEL.into() })),
                (Some(one), None) => Ok(Some(Resolved { spec: &one.spec, label: format!("{}/{}", one.namespace(), one.name()) })),
                (Some(_), Some(_)) => {
                    let all: Vec<String> = settings.in_namespace(namespace).map(|i| format!("{:?}", i.name())).collect();
                    Err(format!(
                        "{}: \"true\" is ambiguous because the policy settings define {} instrumentations in namespace {namespace:?}; name one of them: {}",
                        head(value, namespace),
                        all.len(),
                        all.join(", ")
                    ))
                }
            }
        }
        Reference::Name(name) => named(namespace, name)
            .map(Some)
            .ok_or_else(|| format!("{}: the policy settings define no instrumentation {name:?} in namespace {namespace:?}. {}", head(value, namespace), would_work(namespace, settings))),
        Reference::Qualified(ns, name) => {
            if ns != namespace && !settings.allow_cross_namespace_references {
                return Err(format!(
                    "{}: references to another namespace are not allowed by this policy (allowCrossNamespaceReferences is false). {}",
                    head(value, namespace),
                    would_work(namespace, settings)
                ));
            }
            named(ns, name)
                .map(Some)
                .ok_or_else(|| format!("{}: the policy settings define no instrumentation {name:?} in namespace {ns:?}. {}", head(value, namespace), would_work(namespace, settings)))
        }
    }
}

fn head(value: &str, namespace: &str) -> String {
    format!(
        "annotation {INJECT_PYTHON}={} on a pod in namespace {namespace:?} cannot be honoured",
        shown(value)
    )
}

/// The references a pod in `namespace` may use, at most a dozen of them.
pub fn would_work(namespace: &str, settings: &Settings) -> String {
    const SHOWN: usize = 12;
    let mut refs = Vec::new();
    let mut local = 0;
    for i in settings.in_namespace(namespace) {
        refs.push(format!("{:?}", i.name()));
        local += 1;
    }
    match local {
        0 => refs.push(format!("\"true\" ({DEFAULT_LABEL})")),
        1 => refs.push(format!("\"true\" (= {:?})", refs[0].trim_matches('"'))),
        _ => {}
    }
    if settings.allow_cross_namespace_references {
        for i in settings
            .instrumentations
            .iter()
            .filter(|i| i.namespace() != namespace)
        {
            refs.push(format!("\"{}/{}\"", i.namespace(), i.name()));
        }
    }
    let total = refs.len();
    let mut text = refs.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if total > SHOWN {
        text.push_str(&format!(" and {} more", total - SHOWN));
    }
    format!("References that would work: {text}; or \"false\" for no injection")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(cross: bool) -> Settings {
        Settings::parse(&json!({
            "allowCrossNamespaceReferences": cross,
            "instrumentations": [
                {"metadata": {"name": "python-instrumentation", "namespace": "monitor"}, "spec": {}},
                {"metadata": {"name": "a", "namespace": "team"}, "spec": {}},
                {"metadata": {"name": "b", "namespace": "team"}, "spec": {}},
                {"metadata": {"name": "only", "namespace": "solo"}, "spec": {}},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(""), Ok(Reference::Off));
        assert_eq!(parse("FALSE"), Ok(Reference::Off));
        assert_eq!(parse("True"), Ok(Reference::Default));
        assert_eq!(parse("inst"), Ok(Reference::Name("inst")));
        assert_eq!(parse("ns/inst"), Ok(Reference::Qualified("ns", "inst")));
        for bad in [
            "a/b/c", "/x", "x/", "/", "Inst", "ns/In_st", "NS/x", " true", "a b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be malformed");
        }
    }

    #[test]
    fn resolves_like_the_issue_says() {
        let s = settings(true);
        assert!(resolve("false", "default", &s).unwrap().is_none());
        assert_eq!(
            resolve("true", "default", &s).unwrap().unwrap().label,
            DEFAULT_LABEL
        );
        assert_eq!(
            resolve("true", "solo", &s).unwrap().unwrap().label,
            "solo/only"
        );
        assert_eq!(
            resolve("only", "solo", &s).unwrap().unwrap().label,
            "solo/only"
        );
        assert_eq!(
            resolve("monitor/python-instrumentation", "default", &s)
                .unwrap()
                .unwrap()
                .label,
            "monitor/python-instrumentation"
        );
        let err = resolve("true", "team", &s).unwrap_err();
        assert!(
            err.contains("ambiguous") && err.contains("\"a\", \"b\""),
            "{err}"
        );
    }

    #[test]
    fn refusals_name_annotation_value_namespace_and_alternatives() {
        let s = settings(true);
        let err = resolve("monitor/python-instrumentaton", "default", &s).unwrap_err();
        assert!(err.contains(INJECT_PYTHON), "{err}");
        assert!(err.contains("\"monitor/python-instrumentaton\""), "{err}");
        assert!(err.contains("namespace \"default\""), "{err}");
        assert!(err.contains("\"monitor/python-instrumentation\""), "{err}");
        let err = resolve("a/b/c", "default", &s).unwrap_err();
        assert!(err.contains("more than one '/'"), "{err}");
        let err = resolve("python-instrumentation", "default", &s).unwrap_err();
        assert!(
            err.contains("no instrumentation \"python-instrumentation\" in namespace \"default\""),
            "{err}"
        );
    }

    #[test]
    fn cross_namespace_can_be_forbidden() {
        let s = settings(false);
        let err = resolve("monitor/python-instrumentation", "default", &s).unwrap_err();
        assert!(
            err.contains("allowCrossNamespaceReferences is false"),
            "{err}"
        );
        assert!(
            !err.contains("\"monitor/python-instrumentation\"\""),
            "{err}"
        );
        // The pod's own namespace written out in full is not a cross-namespace reference.
        assert_eq!(
            resolve("solo/only", "solo", &s).unwrap().unwrap().label,
            "solo/only"
        );
    }
}
