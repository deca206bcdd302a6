//! An `inject-python` value → the instrumentation it names, or a refusal with what would work.
//!
//! `instrumentation.opentelemetry.io/inject-python` values → the instrumentation they name, or the
//! reason they name none, with the references that would work.

use crate::catalog::{Catalog, Resolved};
use crate::keys::is_off;
use crate::refusal::{
    Malformation, ReferenceFault, ReferenceRefusal, Refusal, Subject, WouldWork, WouldWorkRef,
};
use crate::syntax::k8s_names;

/// What an annotation value says.
#[derive(Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// Absent, empty or `false`: no injection.
    Off,
    /// `true`: the one instrumentation of the pod's namespace, else the catalog's fallback.
    Default,
    /// `NAME`: that instrumentation in the pod's namespace.
    Name(&'a str),
    /// `NAMESPACE/NAME`.
    Qualified(&'a str, &'a str),
}

/// Parses an annotation value; the error says why it is malformed.
pub fn parse(value: &str) -> Result<Reference<'_>, Malformation> {
    if is_off(value) {
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
                return Err(Malformation::TooManySlashes);
            }
            if ns.is_empty() || name.is_empty() {
                return Err(Malformation::EmptyPart);
            }
            if !k8s_names::is_dns1123_label(ns) {
                return Err(Malformation::BadNamespace(ns.to_string()));
            }
            check_name(name)?;
            Ok(Reference::Qualified(ns, name))
        }
    }
}

fn check_name(name: &str) -> Result<(), Malformation> {
    if k8s_names::is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(Malformation::BadName(name.to_string()))
    }
}

/// Resolves the annotation `value` of the subject's pods against `catalog`, in the subject's
/// namespace. `Ok(None)`: no injection wanted.
pub fn resolve(
    value: &str,
    subject: &Subject,
    catalog: &dyn Catalog,
    allow_cross_namespace: bool,
) -> Result<Option<Resolved>, Refusal> {
    let r = Resolution {
        value,
        subject,
        catalog,
        allow_cross_namespace,
    };
    let namespace = subject.namespace();
    match parse(value) {
        Err(why) => Err(r.refuse(ReferenceFault::Malformed {
            why,
            would_work: r.would_work()?,
        })),
        Ok(Reference::Off) => Ok(None),
        Ok(Reference::Default) => r.namespace_default().map(Some),
        Ok(Reference::Name(name)) => r.named(namespace, name).map(Some),
        Ok(Reference::Qualified(ns, _)) if ns != namespace && !allow_cross_namespace => Err(r
            .refuse(ReferenceFault::CrossNamespaceForbidden {
                would_work: r.would_work()?,
            })),
        Ok(Reference::Qualified(ns, name)) => r.named(ns, name).map(Some),
    }
}

/// One value being resolved for one subject.
struct Resolution<'a> {
    value: &'a str,
    subject: &'a Subject,
    catalog: &'a dyn Catalog,
    allow_cross_namespace: bool,
}

impl Resolution<'_> {
    fn refuse(&self, fault: ReferenceFault) -> Refusal {
        Refusal::Reference(Box::new(ReferenceRefusal {
            value: self.value.to_string(),
            subject: self.subject.clone(),
            fault,
            inherited: false,
        }))
    }

    fn would_work(&self) -> Result<WouldWork, Refusal> {
        would_work(
            self.subject.namespace(),
            self.catalog,
            self.allow_cross_namespace,
        )
    }

    /// `true`: the namespace's one instrumentation, else the catalog's fallback.
    fn namespace_default(&self) -> Result<Resolved, Refusal> {
        let namespace = self.subject.namespace();
        let mut here = self.catalog.names(namespace)?;
        match here.len() {
            1 => self.named(namespace, &here.remove(0)),
            0 => match self.catalog.fallback()? {
                Some(default) => Ok(default),
                None => Err(self.refuse(ReferenceFault::NoneAvailable {
                    source: self.catalog.source(),
                    would_work: self.would_work()?,
                })),
            },
            _ => Err(self.refuse(ReferenceFault::Ambiguous {
                source: self.catalog.source(),
                names: here,
            })),
        }
    }

    /// The instrumentation `namespace/name`, which must exist.
    fn named(&self, namespace: &str, name: &str) -> Result<Resolved, Refusal> {
        match self.catalog.get(namespace, name)? {
            Some(found) => Ok(found),
            None => Err(self.refuse(ReferenceFault::Unknown {
                source: self.catalog.source(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                would_work: self.would_work()?,
            })),
        }
    }
}

/// The references a pod in `namespace` may use: its namespace's names, `true` when it gets
/// something, and (when allowed) every other namespace's instrumentations.
pub fn would_work(
    namespace: &str,
    catalog: &dyn Catalog,
    allow_cross_namespace: bool,
) -> Result<WouldWork, Refusal> {
    let known = catalog.known()?;
    let mut refs: Vec<WouldWorkRef> = known
        .iter()
        .filter(|(ns, _)| ns == namespace)
        .map(|(_, name)| WouldWorkRef::Name(name.clone()))
        .collect();
    match refs.as_slice() {
        [] if catalog.has_fallback() => refs.push(WouldWorkRef::TrueDefault),
        [WouldWorkRef::Name(one)] => refs.push(WouldWorkRef::TrueIs(one.clone())),
        _ => {}
    }
    if allow_cross_namespace {
        refs.extend(
            known
                .into_iter()
                .filter(|(ns, _)| ns != namespace)
                .map(|(ns, name)| WouldWorkRef::Qualified(ns, name)),
        );
    }
    Ok(WouldWork { refs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DEFAULT_LABEL, Origin};
    use crate::refusal::Source;
    use crate::settings::Settings;
    use serde_json::json;

    fn settings(default: bool) -> Settings {
        let mut s = json!({
            "instrumentations": [
                {"metadata": {"name": "python-instrumentation", "namespace": "monitor"}, "spec": {}},
                {"metadata": {"name": "a", "namespace": "team"}, "spec": {}},
                {"metadata": {"name": "b", "namespace": "team"}, "spec": {}},
                {"metadata": {"name": "only", "namespace": "solo"}, "spec": {}},
            ]
        });
        if default {
            s["exporter"] = json!({"endpoint": "http://c:4318"});
        }
        Settings::parse(&s).unwrap()
    }

    fn pod(namespace: &str) -> Subject {
        Subject::Pod {
            name: "p".into(),
            namespace: namespace.into(),
        }
    }

    fn label(value: &str, namespace: &str, s: &Settings) -> String {
        resolve(value, &pod(namespace), s, true)
            .unwrap()
            .unwrap()
            .label()
    }

    fn fault(value: &str, namespace: &str, s: &Settings, cross: bool) -> ReferenceFault {
        match resolve(value, &pod(namespace), s, cross) {
            Err(Refusal::Reference(r)) => {
                assert_eq!((r.value.as_str(), &r.subject), (value, &pod(namespace)));
                r.fault.clone()
            }
            other => panic!("{value}: {other:?}"),
        }
    }

    fn q(ns: &str, n: &str) -> WouldWorkRef {
        WouldWorkRef::Qualified(ns.into(), n.into())
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(""), Ok(Reference::Off));
        assert_eq!(parse("FALSE"), Ok(Reference::Off));
        assert_eq!(parse("True"), Ok(Reference::Default));
        assert_eq!(parse("inst"), Ok(Reference::Name("inst")));
        assert_eq!(parse("ns/inst"), Ok(Reference::Qualified("ns", "inst")));
        assert_eq!(parse("a/b/c"), Err(Malformation::TooManySlashes));
        assert_eq!(parse("/x"), Err(Malformation::EmptyPart));
        assert_eq!(parse("NS/x"), Err(Malformation::BadNamespace("NS".into())));
        assert_eq!(
            parse("ns/In_st"),
            Err(Malformation::BadName("In_st".into()))
        );
        for bad in ["x/", "/", "Inst", " true", "a b"] {
            assert!(parse(bad).is_err(), "{bad:?} must be malformed");
        }
    }

    #[test]
    fn resolves_each_form() {
        let s = settings(true);
        assert!(
            resolve("false", &pod("default"), &s, true)
                .unwrap()
                .is_none()
        );
        assert_eq!(label("true", "default", &s), DEFAULT_LABEL);
        assert_eq!(label("true", "solo", &s), "solo/only");
        assert_eq!(label("only", "solo", &s), "solo/only");
        assert_eq!(
            label("monitor/python-instrumentation", "default", &s),
            "monitor/python-instrumentation"
        );
        assert_eq!(
            fault("true", "team", &s, true),
            ReferenceFault::Ambiguous {
                source: Source::Settings,
                names: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn a_miss_lists_the_references_that_would_work() {
        let s = settings(true);
        let all = vec![
            WouldWorkRef::TrueDefault,
            q("monitor", "python-instrumentation"),
            q("team", "a"),
            q("team", "b"),
            q("solo", "only"),
        ];
        assert_eq!(
            fault("monitor/python-instrumentaton", "default", &s, true),
            ReferenceFault::Unknown {
                source: Source::Settings,
                namespace: "monitor".into(),
                name: "python-instrumentaton".into(),
                would_work: WouldWork { refs: all.clone() },
            }
        );
        assert_eq!(
            fault("a/b/c", "default", &s, true),
            ReferenceFault::Malformed {
                why: Malformation::TooManySlashes,
                would_work: WouldWork { refs: all },
            }
        );
        let ReferenceFault::Unknown { would_work, .. } = fault("x", "solo", &s, true) else {
            panic!()
        };
        assert_eq!(
            would_work.refs[..2],
            [
                WouldWorkRef::Name("only".into()),
                WouldWorkRef::TrueIs("only".into())
            ]
        );
    }

    #[test]
    fn cross_namespace_can_be_forbidden() {
        let s = settings(true);
        let ReferenceFault::CrossNamespaceForbidden { would_work } =
            fault("monitor/python-instrumentation", "default", &s, false)
        else {
            panic!()
        };
        assert_eq!(would_work.refs, [WouldWorkRef::TrueDefault]);
        // The pod's own namespace written out in full is not a cross-namespace reference.
        let found = resolve("solo/only", &pod("solo"), &s, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            found.origin,
            Origin::Named {
                namespace: "solo".into(),
                name: "only".into()
            }
        );
    }

    #[test]
    fn true_never_falls_back_to_a_default_nobody_wrote() {
        let s = settings(false);
        assert!(s.default.is_none());
        assert_eq!(
            fault("true", "default", &s, true),
            ReferenceFault::NoneAvailable {
                source: Source::Settings,
                would_work: WouldWork {
                    refs: vec![
                        q("monitor", "python-instrumentation"),
                        q("team", "a"),
                        q("team", "b"),
                        q("solo", "only"),
                    ]
                },
            }
        );
        assert_eq!(label("true", "solo", &s), "solo/only");
    }
}
