//! The rules every Instrumentation spec follows, wherever it comes from.
//!
//! The rules every Instrumentation spec must follow, wherever it comes from: the settings' top
//! level, an entry of `instrumentations`, or (in the same way) any other source. `parse_spec` is
//! the one way from JSON to a usable spec: deserialize, refuse unknown fields, apply the operator's
//! defaults, check every value. Every problem carries its full path, built from a prefix.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::Serialize;
use serde_json::Value;

use super::{Instrumentation, InstrumentationSpec, Tls};
use crate::operator::{
    INSTRUMENTATION_API_VERSION, INSTRUMENTATION_KIND, PROPAGATORS, PULL_POLICIES, SAMPLERS,
};
use crate::refusal::{
    EmptyField, Fault, MissingField, ObjectFault, PythonFault, SdkFault, SettingsProblem, TlsFault,
};
use crate::syntax::{image_ref, k8s_names, quantity, url};

type Problems = Vec<SettingsProblem>;

/// Problems at paths that share a prefix.
struct At<'p> {
    problems: &'p mut Problems,
    prefix: String,
}

impl<'p> At<'p> {
    fn new(problems: &'p mut Problems, prefix: String) -> Self {
        At { problems, prefix }
    }
    fn push(&mut self, field: &str, fault: impl Into<Fault>) {
        let path = format!("{}{field}", self.prefix);
        self.problems.push(SettingsProblem::new(path, fault));
    }
}

/// A spec from its JSON, defaulted and checked. `prefix` is put before every field path
/// (`""`, `"spec."`). A value that does not even deserialize gives that one problem; otherwise
/// every problem is reported.
pub fn parse_spec(value: &Value, prefix: &str) -> Result<InstrumentationSpec, Problems> {
    let mut spec = deserialize(value, prefix.trim_end_matches('.')).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    finish_spec(value, &mut spec, prefix, &mut problems);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// The spec at `text` for `validate`, which meets settings that `validate_settings` has already
/// accepted: read straight from the text (by the one-pass scan for the usual fields, else by
/// serde_json), defaulted, every value checked, but without what
/// only a settings report needs (the path of a field that does not deserialize, the typos inside
/// Kubernetes types, which those types skip). `None` on any problem: the caller then gives the
/// full report.
pub fn read_spec(text: &str) -> Option<InstrumentationSpec> {
    let mut spec = match super::scan::read(text) {
        Some(spec) => spec,
        None => serde_json::from_str(text).ok()?,
    };
    // Only whether there is a problem counts here. The defaults are valid by themselves (a test
    // checks it): a spec without init container resources is checked before they are put in,
    // which spares checking the constants; given resources are checked against the defaults
    // that complete them.
    let given_resources = spec
        .python
        .as_ref()
        .is_some_and(|p| p.resource_requirements.is_some());
    if given_resources {
        spec.apply_defaults();
    }
    let mut problems = Vec::new();
    check_spec(&spec, "", &mut problems);
    if !given_resources {
        spec.apply_defaults();
    }
    problems.is_empty().then_some(spec)
}

/// After deserialization: the fields the Kubernetes types dropped, the operator's defaults, every
/// rule. `given` is the JSON the spec was read from.
pub fn finish_spec(
    given: &Value,
    spec: &mut InstrumentationSpec,
    prefix: &str,
    problems: &mut Problems,
) {
    unknown_k8s_fields(given, spec, prefix, problems);
    spec.apply_defaults();
    check_spec(spec, prefix, problems);
}

/// The same for a whole Instrumentation object, named by `path` (`"instrumentations[0]"`).
pub fn finish_object(
    given: &Value,
    object: &mut Instrumentation,
    path: &str,
    problems: &mut Problems,
) {
    // Only name and namespace of the metadata are read; a misspelt one is reported as missing.
    check_object(object, path, problems);
    let empty = Value::Null;
    finish_spec(
        given.get("spec").unwrap_or(&empty),
        &mut object.spec,
        &format!("{path}.spec."),
        problems,
    );
}

/// Deserializes with the path of the failing field in the problem.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    v: &Value,
    prefix: &str,
) -> Result<T, SettingsProblem> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut inner = e.path().to_string();
        // For an unknown field the path ends with that field; the message names it already.
        if e.inner().to_string().starts_with("unknown field") {
            inner = match inner.rfind('.') {
                Some(0) | None => ".".to_string(),
                Some(i) => inner[..i].to_string(),
            };
        }
        let path = match (prefix, inner.as_str()) {
            ("", ".") => String::new(),
            ("", p) => p.to_string(),
            (pre, ".") => pre.to_string(),
            (pre, p) if p.starts_with('[') => format!("{pre}{p}"),
            (pre, p) => format!("{pre}.{p}"),
        };
        SettingsProblem::new(
            path,
            Fault::Parse {
                message: e.into_inner().to_string(),
            },
        )
    })
}

/// What a typed value keeps, as JSON. Written out as text and read back, so that the types'
/// `Serialize` code is the one the injection writes with (one copy in the module).
fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_string(t)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

/// The Kubernetes types (from k8s-openapi) skip fields they do not know; a typo inside them must
/// not be ignored, so compare what was given with what the typed value keeps.
fn unknown_k8s_fields(
    given: &Value,
    spec: &InstrumentationSpec,
    prefix: &str,
    problems: &mut Problems,
) {
    let python = given.get("python");
    let typed = spec.python.as_ref();
    let pairs: [(&str, Option<&Value>, Value); 5] = [
        ("env", given.get("env"), to_value(&spec.env)),
        (
            "initContainerSecurityContext",
            given.get("initContainerSecurityContext"),
            to_value(&spec.init_container_security_context),
        ),
        (
            "python.env",
            python.and_then(|p| p.get("env")),
            to_value(&typed.and_then(|p| p.env.as_ref())),
        ),
        (
            "python.resourceRequirements",
            python.and_then(|p| p.get("resourceRequirements")),
            to_value(&typed.and_then(|p| p.resource_requirements.as_ref())),
        ),
        (
            "python.volumeClaimTemplate",
            python.and_then(|p| p.get("volumeClaimTemplate")),
            to_value(&typed.and_then(|p| p.volume_claim_template.as_ref())),
        ),
    ];
    for (name, given, kept) in pairs {
        if let Some(given) = given {
            unknown_fields(given, &kept, &format!("{prefix}{name}"), problems);
        }
    }
}

fn unknown_fields(given: &Value, kept: &Value, path: &str, problems: &mut Problems) {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, gv) in g {
                if gv.is_null() {
                    continue;
                }
                match k.get(key) {
                    Some(kv) => unknown_fields(gv, kv, &format!("{path}.{key}"), problems),
                    None => problems.push(SettingsProblem::new(
                        path,
                        Fault::UnknownK8sField { key: key.clone() },
                    )),
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                unknown_fields(gv, kv, &format!("{path}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

fn check_object(inst: &Instrumentation, path: &str, problems: &mut Problems) {
    let mut at = At::new(problems, format!("{path}."));
    if let Some(v) = inst
        .api_version
        .as_deref()
        .filter(|v| *v != INSTRUMENTATION_API_VERSION)
    {
        at.push("apiVersion", ObjectFault::ApiVersion { value: v.into() });
    }
    if let Some(k) = inst.kind.as_deref().filter(|k| *k != INSTRUMENTATION_KIND) {
        at.push("kind", ObjectFault::Kind { value: k.into() });
    }
    match inst.metadata.name.as_deref() {
        None | Some("") => at.push(
            "metadata.name",
            Fault::Missing(MissingField::InstrumentationName),
        ),
        Some(n) if !k8s_names::is_dns1123_subdomain(n) => {
            at.push("metadata.name", ObjectFault::Name { value: n.into() })
        }
        _ => {}
    }
    match inst.metadata.namespace.as_deref() {
        None | Some("") => at.push(
            "metadata.namespace",
            Fault::Missing(MissingField::InstrumentationNamespace),
        ),
        Some(n) if !k8s_names::is_dns1123_label(n) => at.push(
            "metadata.namespace",
            ObjectFault::Namespace { value: n.into() },
        ),
        _ => {}
    }
}

/// Every semantic rule on a (defaulted) spec; `p` is the path prefix.
pub fn check_spec(spec: &InstrumentationSpec, p: &str, problems: &mut Problems) {
    check_exporter(spec, p, problems);
    check_propagators(spec.propagators.as_deref(), p, problems);
    check_sampler(spec, p, problems);
    check_env(spec.env.as_deref(), p, "env", problems);
    check_resource_attributes(spec, p, problems);
    let path = || format!("{p}imagePullPolicy");
    match spec.image_pull_policy.as_deref() {
        Some("") => problems.push(SettingsProblem::new(
            path(),
            Fault::Empty {
                field: EmptyField::PullPolicy,
            },
        )),
        Some(pp) if !PULL_POLICIES.contains(&pp) => problems.push(SettingsProblem::new(
            path(),
            SdkFault::PullPolicy { value: pp.into() },
        )),
        _ => {}
    }
    check_python(spec, p, problems);
}

fn check_exporter(spec: &InstrumentationSpec, p: &str, problems: &mut Problems) {
    let endpoint = spec.exporter.as_ref().and_then(|e| e.endpoint.as_deref());
    let path = || format!("{p}exporter.endpoint");
    match endpoint {
        Some("") => problems.push(SettingsProblem::new(
            path(),
            Fault::Empty {
                field: EmptyField::Endpoint,
            },
        )),
        Some(e) => {
            if let Err(why) = url::check_endpoint(e) {
                problems.push(SettingsProblem::new(
                    path(),
                    SdkFault::Endpoint {
                        value: e.into(),
                        why,
                    },
                ));
            }
        }
        None => {}
    }
    if let Some(tls) = spec.tls() {
        check_tls(tls, spec.endpoint(), p, problems);
    }
}

fn check_propagators(props: Option<&[String]>, p: &str, problems: &mut Problems) {
    let Some(props) = props else { return };
    for (i, prop) in props.iter().enumerate() {
        let path = || format!("{p}propagators[{i}]");
        if !PROPAGATORS.contains(&prop.as_str()) {
            let value = prop.clone();
            problems.push(SettingsProblem::new(
                path(),
                SdkFault::UnknownPropagator { value },
            ));
        } else if props[..i].contains(prop) {
            // An earlier equal one is a known one too.
            let value = prop.clone();
            problems.push(SettingsProblem::new(
                path(),
                SdkFault::PropagatorTwice { value },
            ));
        }
    }
    if props.len() > 1 && props.iter().any(|prop| prop == "none") {
        problems.push(SettingsProblem::new(
            format!("{p}propagators"),
            SdkFault::NoneCombined,
        ));
    }
}

fn check_resource_attributes(spec: &InstrumentationSpec, p: &str, problems: &mut Problems) {
    let attrs = spec
        .resource
        .as_ref()
        .and_then(|r| r.resource_attributes.as_ref());
    for (k, v) in attrs.into_iter().flatten() {
        if k.is_empty() || k.contains([',', '=']) || k.trim() != k {
            problems.push(SettingsProblem::new(
                format!("{p}resource.resourceAttributes"),
                SdkFault::AttributeKey { key: k.clone() },
            ));
        }
        if v.contains(',') {
            problems.push(SettingsProblem::new(
                format!("{p}resource.resourceAttributes.{k}"),
                SdkFault::AttributeValueComma { value: v.clone() },
            ));
        }
    }
}

fn check_python(spec: &InstrumentationSpec, p: &str, problems: &mut Problems) {
    let python = spec.python();
    match python.image.as_deref() {
        Some("") => problems.push(SettingsProblem::new(
            format!("{p}python.image"),
            Fault::Empty {
                field: EmptyField::Image,
            },
        )),
        Some(image) => {
            if let Err(why) = image_ref::parse(image) {
                problems.push(SettingsProblem::new(
                    format!("{p}python.image"),
                    PythonFault::Image {
                        value: image.into(),
                        why,
                    },
                ));
            }
        }
        None => {}
    }
    check_env(python.env.as_deref(), p, "python.env", problems);
    if let Some(res) = &python.resource_requirements {
        check_resources(res.limits.as_ref(), res.requests.as_ref(), p, problems);
    }
    if let Some(size) = &python.volume_limit_size {
        if !quantity::parse(&size.0).is_some_and(|v| v > 0.0) {
            problems.push(SettingsProblem::new(
                format!("{p}python.volumeLimitSize"),
                PythonFault::VolumeSize {
                    value: size.0.clone(),
                },
            ));
        }
        if python.volume_claim_template.is_some() {
            problems.push(SettingsProblem::new(
                format!("{p}python"),
                PythonFault::VolumeSizeAndClaim,
            ));
        }
    }
}

fn check_tls(tls: &Tls, endpoint: &str, p: &str, problems: &mut Problems) {
    let mut at = At::new(problems, format!("{p}exporter.tls"));
    check_tls_fields(tls, &mut at);
    let has = |f: &Option<String>| f.as_deref().is_some_and(|s| !s.is_empty());
    let relative = |f: &Option<String>| {
        f.as_deref()
            .is_some_and(|s| !s.is_empty() && !s.starts_with('/'))
    };
    let has_secret = has(&tls.secret_name);
    if has(&tls.cert_file) != has(&tls.key_file) {
        at.push("", TlsFault::CertWithoutKey);
    }
    if relative(&tls.ca_file) && !has_secret && !has(&tls.config_map_name) {
        let value = tls.ca_file.clone().unwrap_or_default();
        at.push(".ca_file", TlsFault::CaRelativeWithoutSource { value });
    }
    for (field, f) in [(".cert_file", &tls.cert_file), (".key_file", &tls.key_file)] {
        if relative(f) && !has_secret {
            let value = f.clone().unwrap_or_default();
            at.push(field, TlsFault::FileRelativeWithoutSecret { value });
        }
    }
    if !endpoint.to_ascii_lowercase().starts_with("https://") {
        let endpoint = endpoint.into();
        at.push("", TlsFault::WithoutHttps { endpoint });
    }
}

/// Each TLS field on its own: object names that can become volume names, no empty strings.
fn check_tls_fields(tls: &Tls, at: &mut At<'_>) {
    let names = [
        (".secretName", tls.secret_name.as_deref()),
        (".configMapName", tls.config_map_name.as_deref()),
    ];
    for (field, name) in names {
        match name {
            None => {}
            Some("") => at.push(
                field,
                Fault::Empty {
                    field: EmptyField::TlsName,
                },
            ),
            Some(n) if !k8s_names::is_dns1123_subdomain(n) => {
                at.push(field, TlsFault::ObjectName { value: n.into() })
            }
            Some(n) if n.contains('.') => at.push(field, TlsFault::NameWithDot { value: n.into() }),
            _ => {}
        }
    }
    for (field, file) in [
        (".ca_file", &tls.ca_file),
        (".cert_file", &tls.cert_file),
        (".key_file", &tls.key_file),
    ] {
        if file.as_deref() == Some("") {
            at.push(
                field,
                Fault::Empty {
                    field: EmptyField::TlsFile,
                },
            );
        }
    }
}

fn check_sampler(spec: &InstrumentationSpec, p: &str, problems: &mut Problems) {
    if let Some((field, fault)) = sampler_fault(spec) {
        problems.push(SettingsProblem::new(format!("{p}sampler.{field}"), fault));
    }
}

/// What is wrong with `sampler`, if anything: the field (`type`, `argument`) and why.
fn sampler_fault(spec: &InstrumentationSpec) -> Option<(&'static str, Fault)> {
    let ty = spec.sampler.as_ref().and_then(|s| s.type_.as_deref());
    let (sampler, value) = (spec.sampler_type(), spec.sampler_argument());
    if ty == Some("") {
        let field = EmptyField::SamplerType;
        return Some(("type", Fault::Empty { field }));
    }
    if sampler.is_empty() {
        let value = (!value.is_empty()).then(|| value.to_string())?;
        return Some((
            "argument",
            SdkFault::SamplerArgumentWithoutType { value }.into(),
        ));
    }
    if !SAMPLERS.contains(&sampler) {
        let value = sampler.to_string();
        return Some(("type", SdkFault::UnknownSampler { value }.into()));
    }
    if value.is_empty() {
        return None;
    }
    let is_ratio = |v: &str| {
        v.trim()
            .parse::<f64>()
            .is_ok_and(|r| (0.0..=1.0).contains(&r))
    };
    let fault = match sampler {
        "traceidratio" | "parentbased_traceidratio" if !is_ratio(value) => {
            let (value, sampler) = (value.to_string(), sampler.to_string());
            SdkFault::RatioArgument { value, sampler }
        }
        "jaeger_remote" => {
            let why = check_jaeger_remote_argument(value).err()?;
            let (value, sampler) = (value.to_string(), sampler.to_string());
            SdkFault::JaegerArgument {
                value,
                sampler,
                why,
            }
        }
        _ => return None,
    };
    Some(("argument", fault.into()))
}

fn check_jaeger_remote_argument(arg: &str) -> Result<(), String> {
    for part in arg.split(',') {
        let Some((k, v)) = part.split_once('=').filter(|(_, v)| !v.contains('=')) else {
            return Err(format!("{part:?} is not a single key=value pair"));
        };
        match k.trim() {
            "endpoint" if v.trim().is_empty() => return Err("endpoint is empty".into()),
            "pollingIntervalMs" if v.trim().parse::<u64>().is_err() => {
                return Err(format!("pollingIntervalMs {v:?} is not a whole number"));
            }
            "initialSamplingRate"
                if !v
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|r| (0.0..=1.0).contains(&r)) =>
            {
                return Err(format!(
                    "initialSamplingRate {v:?} is not a number in [0, 1]"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An env list at `{p}{list}`: valid, unique names, no PYTHONPATH from a source, value or
/// valueFrom.
fn check_env(env: Option<&[EnvVar]>, p: &str, list: &str, problems: &mut Problems) {
    let env = env.unwrap_or_default();
    for (i, var) in env.iter().enumerate() {
        let at = || format!("{p}{list}[{i}]");
        let name = || var.name.clone();
        if !k8s_names::is_env_var_name(&var.name) {
            problems.push(SettingsProblem::new(
                format!("{}.name", at()),
                PythonFault::EnvName { value: name() },
            ));
        } else if env[..i].iter().any(|v| v.name == var.name) {
            // An earlier one of the same name is a valid name too.
            problems.push(SettingsProblem::new(
                format!("{}.name", at()),
                PythonFault::EnvTwice {
                    value: name(),
                    list: format!("{p}{list}"),
                },
            ));
        }
        if var.name == crate::operator::PYTHONPATH && var.value_from.is_some() {
            problems.push(SettingsProblem::new(at(), PythonFault::PythonPathValueFrom));
        }
        if var.value.is_some() && var.value_from.is_some() {
            problems.push(SettingsProblem::new(
                at(),
                PythonFault::ValueAndValueFrom { name: name() },
            ));
        }
    }
}

type Quantities = BTreeMap<String, Quantity>;

/// The init container's resources at `{p}python.resourceRequirements`: valid quantities, no
/// request above its limit.
fn check_resources(
    limits: Option<&Quantities>,
    requests: Option<&Quantities>,
    p: &str,
    problems: &mut Problems,
) {
    let path = || format!("{p}python.resourceRequirements");
    let mut parsed = |field: &str, map: Option<&'_ Quantities>| {
        let mut out = Vec::new();
        for (name, q) in map.into_iter().flatten() {
            match quantity::parse(&q.0) {
                Some(v) if v >= 0.0 => out.push((name.clone(), v, q.0.clone())),
                _ => problems.push(SettingsProblem::new(
                    format!("{}.{field}.{name}", path()),
                    PythonFault::Quantity { value: q.0.clone() },
                )),
            }
        }
        out
    };
    let limits = parsed("limits", limits);
    let requests = parsed("requests", requests);
    for (name, req, req_text) in &requests {
        if let Some((_, _, lim_text)) = limits.iter().find(|(n, lim, _)| n == name && req > lim) {
            problems.push(SettingsProblem::new(
                path(),
                PythonFault::RequestAboveLimit {
                    resource: name.clone(),
                    request: req_text.clone(),
                    limit: lim_text.clone(),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(spec: Value) -> Problems {
        parse_spec(&spec, "x.").unwrap_err()
    }

    #[test]
    fn a_spec_is_defaulted_and_its_paths_carry_the_prefix() {
        let spec = parse_spec(&json!({"sampler": {"type": "always_on"}}), "").unwrap();
        assert_eq!(
            spec.python().image.as_deref(),
            Some(crate::operator::DEFAULT_PYTHON_IMAGE)
        );
        assert_eq!(
            problems(json!({"sampler": {"type": "traceidratio", "argument": "2"}})),
            [SettingsProblem::new(
                "x.sampler.argument",
                SdkFault::RatioArgument {
                    value: "2".into(),
                    sampler: "traceidratio".into()
                }
            )]
        );
    }

    #[test]
    fn the_defaults_pass_every_check_by_themselves() {
        // `read_spec` relies on it: it checks a spec without resources before the defaults.
        let mut spec = InstrumentationSpec::default();
        spec.apply_defaults();
        let mut found = Vec::new();
        check_spec(&spec, "", &mut found);
        assert_eq!(found, []);
        let with = |image: Option<&str>, limit: &str| {
            let text = json!({"python": {"image": image,
                "resourceRequirements": {"limits": {"cpu": limit}}}});
            read_spec(&text.to_string()).is_some()
        };
        // Given resources are still checked against the defaults that complete them.
        assert!(with(None, "1"));
        assert!(!with(None, "10m"), "a default request above a given limit");
        assert!(!with(Some("App:1"), "1"));
        assert!(read_spec(r#"{"python": {"image": "App:1"}}"#).is_none());
    }

    #[test]
    fn empty_strings_are_refused_not_treated_as_unset() {
        for (spec, path, field) in [
            (
                json!({"python": {"image": ""}}),
                "x.python.image",
                EmptyField::Image,
            ),
            (
                json!({"exporter": {"endpoint": ""}}),
                "x.exporter.endpoint",
                EmptyField::Endpoint,
            ),
            (
                json!({"imagePullPolicy": ""}),
                "x.imagePullPolicy",
                EmptyField::PullPolicy,
            ),
            (
                json!({"sampler": {"type": ""}}),
                "x.sampler.type",
                EmptyField::SamplerType,
            ),
        ] {
            assert_eq!(
                problems(spec.clone()),
                [SettingsProblem::new(path, Fault::Empty { field })],
                "{spec}"
            );
        }
        let tls = problems(
            json!({"exporter": {"endpoint": "https://c:4318", "tls": {"secretName": "", "ca_file": ""}}}),
        );
        assert_eq!(
            tls.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["x.exporter.tls.secretName", "x.exporter.tls.ca_file"]
        );
        // An empty sampler argument is "no argument", as in the operator.
        assert!(
            parse_spec(
                &json!({"sampler": {"type": "traceidratio", "argument": ""}}),
                ""
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_fields_inside_kubernetes_types_are_found() {
        assert_eq!(
            problems(json!({"env": [{"name": "A", "vaule": "1"}]})),
            [SettingsProblem::new(
                "x.env[0]",
                Fault::UnknownK8sField {
                    key: "vaule".into()
                }
            )]
        );
    }
}
