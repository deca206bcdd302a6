//! The policy settings: an Instrumentation spec at the top level (the default instrumentation), a
//! list of whole Instrumentation objects, and the policy's own options. `Settings::parse` is the
//! only way in: it deserializes, applies the operator's defaults and refuses every bad value with a
//! message naming the field, the value and what would be accepted.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::EnvVar;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::instrumentation::{Instrumentation, InstrumentationSpec};
use crate::{image_ref, names, quantity, url};

/// What happens to a pod that asked for instrumentation but cannot get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailureAction {
    /// Refuse the pod with a message that says why (this policy's default).
    #[default]
    Reject,
    /// The operator's behaviour: admit the pod unchanged, with the reason as a warning.
    Admit,
}

#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The top-level spec, with defaults applied: what `inject-python: "true"` gets in a namespace
    /// that has no instrumentation of its own in `instrumentations`.
    pub default: InstrumentationSpec,
    /// Named instrumentations (defaults applied), in the order given.
    pub instrumentations: Vec<Instrumentation>,
    pub failure_action: FailureAction,
    pub allow_cross_namespace_references: bool,
}

pub const OPT_INSTRUMENTATIONS: &str = "instrumentations";
pub const OPT_FAILURE_ACTION: &str = "failureAction";
pub const OPT_ALLOW_CROSS_NAMESPACE: &str = "allowCrossNamespaceReferences";

pub const PROPAGATORS: [&str; 8] = [
    "tracecontext",
    "baggage",
    "b3",
    "b3multi",
    "jaeger",
    "xray",
    "ottrace",
    "none",
];
pub const SAMPLERS: [&str; 8] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "jaeger_remote",
    "xray",
];
pub const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const API_VERSION: &str = "opentelemetry.io/v1alpha1";

impl Settings {
    /// Parses and validates settings. `null` means no settings (all defaults).
    pub fn parse(value: &Value) -> Result<Settings, String> {
        let empty = Map::new();
        let map = match value {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "settings must be an object (an Instrumentation spec plus policy options), not {}",
                    kind_of(other)
                ));
            }
        };
        let mut spec_map = Map::new();
        let mut settings = Settings {
            allow_cross_namespace_references: true,
            ..Default::default()
        };
        let mut instrumentations_value = None;
        for (key, v) in map {
            match key.as_str() {
                OPT_INSTRUMENTATIONS => instrumentations_value = Some(v),
                OPT_FAILURE_ACTION => {
                    settings.failure_action = match v.as_str() {
                        Some("reject") => FailureAction::Reject,
                        Some("admit") => FailureAction::Admit,
                        _ => {
                            return Err(format!(
                                "{OPT_FAILURE_ACTION}: {v} is not accepted; use \"reject\" (refuse a pod that cannot be instrumented, the default) or \"admit\" (admit it unchanged with a warning, as the operator does)"
                            ));
                        }
                    }
                }
                OPT_ALLOW_CROSS_NAMESPACE => {
                    settings.allow_cross_namespace_references = match v {
                        Value::Bool(b) => *b,
                        Value::Null => true,
                        _ => {
                            return Err(format!(
                                "{OPT_ALLOW_CROSS_NAMESPACE}: {v} is not accepted; use true or false"
                            ));
                        }
                    }
                }
                _ => {
                    spec_map.insert(key.clone(), v.clone());
                }
            }
        }
        let spec_value = Value::Object(spec_map);
        settings.default = deserialize::<InstrumentationSpec>(&spec_value, "").map_err(|e| {
            if e.contains("unknown field") && !e.contains(": unknown field") {
                format!("{e}, or a policy option `{OPT_INSTRUMENTATIONS}`, `{OPT_FAILURE_ACTION}`, `{OPT_ALLOW_CROSS_NAMESPACE}`")
            } else {
                e
            }
        })?;
        if let Some(v) = instrumentations_value.filter(|v| !v.is_null()) {
            settings.instrumentations =
                deserialize::<Vec<Instrumentation>>(v, OPT_INSTRUMENTATIONS)?;
        }

        let mut errors = Vec::new();
        check_unknown_k8s_fields(&spec_value, &settings.default, "", &mut errors);
        if let Some(Value::Array(items)) = instrumentations_value {
            for (i, (item, inst)) in items.iter().zip(&settings.instrumentations).enumerate() {
                let path = format!("{OPT_INSTRUMENTATIONS}[{i}]");
                if let Some(meta) = item.get("metadata") {
                    unknown_fields(
                        meta,
                        &to_value(&inst.metadata),
                        &format!("{path}.metadata"),
                        &mut errors,
                    );
                }
                if let Some(spec) = item.get("spec") {
                    check_unknown_k8s_fields(
                        spec,
                        &inst.spec,
                        &format!("{path}.spec."),
                        &mut errors,
                    );
                }
            }
        }

        settings.default.apply_defaults();
        check_spec(&settings.default, "", &mut errors);
        let mut seen = HashSet::new();
        for (i, inst) in settings.instrumentations.iter_mut().enumerate() {
            let path = format!("{OPT_INSTRUMENTATIONS}[{i}]");
            inst.spec.apply_defaults();
            check_object(inst, &path, &mut errors);
            check_spec(&inst.spec, &format!("{path}.spec."), &mut errors);
            if !inst.name().is_empty()
                && !seen.insert((inst.namespace().to_string(), inst.name().to_string()))
            {
                errors.push(format!(
                    "{path}: {}/{} is defined twice; each namespace/name may appear once",
                    inst.namespace(),
                    inst.name()
                ));
            }
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors.join("; "))
        }
    }

    /// The instrumentations defined for `namespace`, in settings order.
    pub fn in_namespace<'a, 'n>(
        &'a self,
        namespace: &'n str,
    ) -> impl Iterator<Item = &'a Instrumentation> + use<'a, 'n> {
        self.instrumentations
            .iter()
            .filter(move |i| i.namespace() == namespace)
    }

    pub fn find(&self, namespace: &str, name: &str) -> Option<&Instrumentation> {
        self.instrumentations
            .iter()
            .find(|i| i.namespace() == namespace && i.name() == name)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Deserializes with the path of the failing field in the message.
fn deserialize<T: serde::de::DeserializeOwned>(v: &Value, prefix: &str) -> Result<T, String> {
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
            ("", p) => format!("{p}: "),
            (pre, ".") => format!("{pre}: "),
            (pre, p) if p.starts_with('[') => format!("{pre}{p}: "),
            (pre, p) => format!("{pre}.{p}: "),
        };
        format!("{path}{}", e.into_inner())
    })
}

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// The Kubernetes types (from k8s-openapi) skip fields they do not know; a typo inside them must
/// not be ignored, so compare what was given with what the typed value keeps.
fn check_unknown_k8s_fields(
    given: &Value,
    spec: &InstrumentationSpec,
    prefix: &str,
    errors: &mut Vec<String>,
) {
    let pairs: [(&str, Option<&Value>, Value); 5] = [
        ("env", given.get("env"), to_value(&spec.env)),
        (
            "initContainerSecurityContext",
            given.get("initContainerSecurityContext"),
            to_value(&spec.init_container_security_context),
        ),
        (
            "python.env",
            given.get("python").and_then(|p| p.get("env")),
            to_value(&spec.python.as_ref().and_then(|p| p.env.as_ref())),
        ),
        (
            "python.resourceRequirements",
            given
                .get("python")
                .and_then(|p| p.get("resourceRequirements")),
            to_value(
                &spec
                    .python
                    .as_ref()
                    .and_then(|p| p.resource_requirements.as_ref()),
            ),
        ),
        (
            "python.volumeClaimTemplate",
            given
                .get("python")
                .and_then(|p| p.get("volumeClaimTemplate")),
            to_value(
                &spec
                    .python
                    .as_ref()
                    .and_then(|p| p.volume_claim_template.as_ref()),
            ),
        ),
    ];
    for (name, given, kept) in pairs {
        if let Some(given) = given {
            unknown_fields(given, &kept, &format!("{prefix}{name}"), errors);
        }
    }
}

fn unknown_fields(given: &Value, kept: &Value, path: &str, errors: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, gv) in g {
                if gv.is_null() {
                    continue;
                }
                match k.get(key) {
                    Some(kv) => unknown_fields(gv, kv, &format!("{path}.{key}"), errors),
                    None => errors.push(format!("{path}: unknown field `{key}` (not part of the Kubernetes type at this place; check the spelling)")),
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                unknown_fields(gv, kv, &format!("{path}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn check_object(inst: &Instrumentation, path: &str, errors: &mut Vec<String>) {
    if let Some(v) = inst.api_version.as_deref().filter(|v| *v != API_VERSION) {
        errors.push(format!(
            "{path}.apiVersion: {v:?} is not accepted; use {API_VERSION:?}"
        ));
    }
    if let Some(k) = inst.kind.as_deref().filter(|k| *k != "Instrumentation") {
        errors.push(format!(
            "{path}.kind: {k:?} is not accepted; use \"Instrumentation\""
        ));
    }
    match inst.metadata.name.as_deref() {
        None | Some("") => errors.push(format!("{path}.metadata.name is missing; every instrumentation needs the name pods refer to")),
        Some(n) if !names::is_dns1123_subdomain(n) => errors.push(format!(
            "{path}.metadata.name: {n:?} is not a valid name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
        )),
        _ => {}
    }
    match inst.metadata.namespace.as_deref() {
        None | Some("") => errors.push(format!(
            "{path}.metadata.namespace is missing; an Instrumentation lives in a namespace (references are NAME within it or NAMESPACE/NAME)"
        )),
        Some(n) if !names::is_dns1123_label(n) => errors.push(format!(
            "{path}.metadata.namespace: {n:?} is not a valid namespace; use lowercase letters, digits and '-' (a DNS-1123 label, at most 63 characters)"
        )),
        _ => {}
    }
}

/// Every semantic rule on a spec; `p` is the path prefix ("" or "instrumentations[i].spec.").
fn check_spec(spec: &InstrumentationSpec, p: &str, errors: &mut Vec<String>) {
    let endpoint = spec.endpoint();
    if !endpoint.is_empty()
        && let Err(why) = url::check_endpoint(endpoint)
    {
        errors.push(format!("{p}exporter.endpoint: {endpoint:?} is not accepted: {why}; use an absolute URL such as \"http://otel-collector.monitor.svc:4318\""));
    }
    if let Some(tls) = spec.tls() {
        check_tls(tls, endpoint, p, errors);
    }
    if let Some(props) = &spec.propagators {
        let mut seen = HashSet::new();
        for (i, prop) in props.iter().enumerate() {
            if !PROPAGATORS.contains(&prop.as_str()) {
                errors.push(format!("{p}propagators[{i}]: {prop:?} is not an OpenTelemetry propagator; use one of {}", PROPAGATORS.join(", ")));
            } else if !seen.insert(prop.as_str()) {
                errors.push(format!(
                    "{p}propagators[{i}]: {prop:?} is listed twice; list each propagator once"
                ));
            }
        }
        if props.len() > 1 && seen.contains("none") {
            errors.push(format!("{p}propagators: \"none\" cannot be combined with other propagators; use [none] alone or remove it"));
        }
    }
    check_sampler(spec, p, errors);
    check_env(spec.env.as_deref(), &format!("{p}env"), errors);
    if let Some(attrs) = spec
        .resource
        .as_ref()
        .and_then(|r| r.resource_attributes.as_ref())
    {
        for (k, v) in attrs {
            if k.is_empty() || k.contains([',', '=']) || k.trim() != k {
                errors.push(format!("{p}resource.resourceAttributes: key {k:?} is not accepted; keys must be non-empty, without ',', '=' or surrounding spaces (they are written into OTEL_RESOURCE_ATTRIBUTES as key=value,...)"));
            }
            if v.contains(',') {
                errors.push(format!("{p}resource.resourceAttributes.{k}: value {v:?} contains ','; OTEL_RESOURCE_ATTRIBUTES separates pairs with ',', so percent-encode it as %2C"));
            }
        }
    }
    if let Some(pp) = spec.image_pull_policy.as_deref().filter(|s| !s.is_empty())
        && !PULL_POLICIES.contains(&pp)
    {
        errors.push(format!(
            "{p}imagePullPolicy: {pp:?} is not accepted; use one of {}",
            PULL_POLICIES.join(", ")
        ));
    }
    let python = spec.python();
    if let Some(image) = python.image.as_deref()
        && let Err(why) = image_ref::parse(image)
    {
        errors.push(format!("{p}python.image: {image:?} is not a valid OCI image reference: {why}; use [registry/]repository[:tag][@sha256:digest], for example {:?}", crate::instrumentation::DEFAULT_PYTHON_IMAGE));
    }
    check_env(python.env.as_deref(), &format!("{p}python.env"), errors);
    if let Some(res) = &python.resource_requirements {
        check_resources(
            res.limits.as_ref(),
            res.requests.as_ref(),
            &format!("{p}python.resourceRequirements"),
            errors,
        );
    }
    if let Some(size) = &python.volume_limit_size {
        match quantity::parse(&size.0) {
            Some(v) if v > 0.0 => {}
            _ => errors.push(format!("{p}python.volumeLimitSize: {:?} is not a positive Kubernetes quantity; use for example \"200Mi\" or \"1Gi\"", size.0)),
        }
        if python.volume_claim_template.is_some() {
            errors.push(format!("{p}python: volumeLimitSize and volumeClaimTemplate cannot both be set; volumeLimitSize sizes the emptyDir, volumeClaimTemplate replaces it with an ephemeral volume"));
        }
    }
}

fn check_tls(tls: &crate::instrumentation::Tls, endpoint: &str, p: &str, errors: &mut Vec<String>) {
    let secret = tls.secret_name.as_deref().unwrap_or_default();
    let config_map = tls.config_map_name.as_deref().unwrap_or_default();
    for (field, name) in [("secretName", secret), ("configMapName", config_map)] {
        if name.is_empty() {
            continue;
        }
        if !names::is_dns1123_subdomain(name) {
            errors.push(format!(
                "{p}exporter.tls.{field}: {name:?} is not a valid object name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
            ));
        } else if name.contains('.') {
            errors.push(format!(
                "{p}exporter.tls.{field}: {name:?} contains '.', but it becomes part of a volume name, which may not; use a name with lowercase letters, digits and '-' only"
            ));
        }
    }
    let has = |f: &Option<String>| f.as_deref().is_some_and(|s| !s.is_empty());
    let relative = |f: &Option<String>| {
        f.as_deref()
            .is_some_and(|s| !s.is_empty() && !s.starts_with('/'))
    };
    if has(&tls.cert_file) != has(&tls.key_file) {
        errors.push(format!("{p}exporter.tls: cert_file and key_file must be set together (a client certificate needs its key)"));
    }
    if relative(&tls.ca_file) && secret.is_empty() && config_map.is_empty() {
        errors.push(format!("{p}exporter.tls.ca_file: {:?} is a relative path but neither secretName nor configMapName is set; name the Secret or ConfigMap that holds it, or give an absolute path", tls.ca_file.as_deref().unwrap_or_default()));
    }
    for (field, f) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
        if relative(f) && secret.is_empty() {
            errors.push(format!("{p}exporter.tls.{field}: {:?} is a relative path but secretName is not set; name the Secret that holds it, or give an absolute path", f.as_deref().unwrap_or_default()));
        }
    }
    if !endpoint.to_ascii_lowercase().starts_with("https://") {
        errors.push(format!("{p}exporter.tls is set but exporter.endpoint {endpoint:?} does not use https://; TLS settings only apply to an https:// endpoint"));
    }
}

fn check_sampler(spec: &InstrumentationSpec, p: &str, errors: &mut Vec<String>) {
    let (ty, arg) = (spec.sampler_type(), spec.sampler_argument());
    if ty.is_empty() {
        if !arg.is_empty() {
            errors.push(format!("{p}sampler.argument: {arg:?} is set but sampler.type is not; set sampler.type to one of {}", SAMPLERS.join(", ")));
        }
        return;
    }
    if !SAMPLERS.contains(&ty) {
        errors.push(format!(
            "{p}sampler.type: {ty:?} is not an OpenTelemetry sampler; use one of {}",
            SAMPLERS.join(", ")
        ));
        return;
    }
    if arg.is_empty() {
        return;
    }
    match ty {
        "traceidratio" | "parentbased_traceidratio" => match arg.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => {}
            _ => errors.push(format!("{p}sampler.argument: {arg:?} is not a number in [0, 1], which sampler type {ty:?} requires (for example \"0.25\")")),
        },
        "jaeger_remote" => {
            if let Err(why) = check_jaeger_remote_argument(arg) {
                errors.push(format!("{p}sampler.argument: {arg:?} is not a valid argument for sampler type {ty:?}: {why}; use for example \"endpoint=http://jaeger:14250,pollingIntervalMs=5000,initialSamplingRate=0.25\""));
            }
        }
        _ => {}
    }
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

fn check_env(env: Option<&[EnvVar]>, path: &str, errors: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (i, var) in env.unwrap_or_default().iter().enumerate() {
        if !names::is_env_var_name(&var.name) {
            errors.push(format!("{path}[{i}].name: {:?} is not a valid environment variable name; use letters, digits, '_', '-' and '.', not starting with a digit", var.name));
        } else if !seen.insert(var.name.as_str()) {
            errors.push(format!(
                "{path}[{i}].name: {:?} is defined twice in {path}; define each variable once",
                var.name
            ));
        }
        if var.name == "PYTHONPATH" && var.value_from.is_some() {
            errors.push(format!("{path}[{i}]: PYTHONPATH is set with valueFrom, which the instrumentation cannot extend; give it a literal value"));
        }
        if var.value.is_some() && var.value_from.is_some() {
            errors.push(format!(
                "{path}[{i}]: {:?} sets both value and valueFrom; Kubernetes accepts only one",
                var.name
            ));
        }
    }
}

type Quantities = BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;

fn check_resources(
    limits: Option<&Quantities>,
    requests: Option<&Quantities>,
    path: &str,
    errors: &mut Vec<String>,
) {
    let mut parsed = |field: &str, map: Option<&Quantities>| -> BTreeMap<String, (f64, String)> {
        let mut out = BTreeMap::new();
        for (name, q) in map.into_iter().flatten() {
            match quantity::parse(&q.0) {
                Some(v) if v >= 0.0 => {
                    out.insert(name.clone(), (v, q.0.clone()));
                }
                _ => errors.push(format!(
                    "{path}.{field}.{name}: {:?} is not a Kubernetes quantity; use for example \"500m\" for cpu or \"256Mi\" for memory",
                    q.0
                )),
            }
        }
        out
    };
    let limits = parsed("limits", limits);
    let requests = parsed("requests", requests);
    for (name, (req, req_text)) in &requests {
        if let Some((_, lim_text)) = limits.get(name).filter(|(lim, _)| req > lim) {
            errors.push(format!(
                "{path}: requests.{name} {req_text:?} is larger than limits.{name} {lim_text:?}; Kubernetes refuses such a pod (unset fields take the defaults: limits cpu 500m memory 256Mi, requests cpu 50m memory 64Mi)"
            ));
        }
    }
}
