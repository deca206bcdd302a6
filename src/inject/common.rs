//! What every language gets: the node and pod IPs and the SDK configuration.
//!
//! What every language gets (the operator's `injectCommonEnvVar` and `injectCommonSDKConfig`):
//! the node and pod IPs, and the SDK configuration: service name, exporter, resource attributes,
//! propagators and sampler.

use super::env::{Entry, EnvList, Fixed};
use super::exporter::{self, TlsPlan};
use super::resource_attributes;
use crate::instrumentation::InstrumentationSpec;
use crate::operator::{
    PROPAGATORS_VAR, RESOURCE_ATTRIBUTES_VAR, SAMPLER_ARG_VAR, SAMPLER_VAR, SERVICE_NAME_VAR,
};
use crate::pod::{ContainerView, PodView};
use crate::refusal::Notice;

/// The node and pod IPs, put in front of the env (in this order).
pub fn ip_env() -> [Entry<'static>; 2] {
    [Entry::Fixed(Fixed::NODE_IP), Entry::Fixed(Fixed::POD_IP)]
}

/// The SDK configuration as the lowest layer of `env`, which holds everything above it. The
/// container's `OTEL_RESOURCE_ATTRIBUTES` (set by the user or a layer above) is extended with the
/// generated attributes, or kept as is when it comes from `valueFrom` (the note says so).
pub fn sdk_config<'a>(
    mut env: EnvList<'a>,
    pod: &PodView,
    namespace: &str,
    spec: &'a InstrumentationSpec,
    c: &ContainerView,
    tls: &TlsPlan,
) -> (EnvList<'a>, Option<Notice>) {
    // Whether the env above sets OTEL_RESOURCE_ATTRIBUTES with `valueFrom`, and its literal value.
    let above = env
        .find(RESOURCE_ATTRIBUTES_VAR)
        .map(|v| (v.has_source(), v.value().unwrap_or_default()));
    let user = above.map_or("", |(_, value)| value);
    let resource = resource_attributes::for_container(spec, pod, namespace, c, user);
    let mut generated = Vec::with_capacity(6 + resource.field_refs.len() + tls.env.len());
    generated.push(Entry::literal(SERVICE_NAME_VAR, resource.service_name));
    exporter::env(spec, tls, &mut generated);
    generated.extend(resource.field_refs);
    let mut note = None;
    match above {
        None => generated.push(Entry::literal(RESOURCE_ATTRIBUTES_VAR, resource.attributes)),
        Some((true, _)) => {
            note = Some(Notice::AttributesFromSource {
                container: c.name.clone(),
            })
        }
        Some(_) if resource.attributes.is_empty() => {}
        Some((false, user)) => {
            let joined = extended(user, &resource.attributes);
            env.rewrite(RESOURCE_ATTRIBUTES_VAR, joined);
        }
    }
    if let Some(props) = spec.propagators.as_ref().filter(|p| !p.is_empty()) {
        generated.push(Entry::literal(PROPAGATORS_VAR, props.join(",")));
    }
    sampler(spec, &env, &mut generated);
    env.back(generated);
    env.move_to_end(RESOURCE_ATTRIBUTES_VAR);
    (env, note)
}

/// The user's `OTEL_RESOURCE_ATTRIBUTES` value followed by the generated attributes.
fn extended(user: &str, generated: &str) -> String {
    let mut joined = String::with_capacity(user.len() + 1 + generated.len());
    joined.push_str(user);
    if !user.is_empty() && !user.ends_with(',') {
        joined.push(',');
    }
    joined.push_str(generated);
    joined
}

/// The `OTEL_SERVICE_NAME` that [`sdk_config`] leaves in the env: the one set above the SDK
/// configuration (`set`, the first entry of that name: `None` for a `valueFrom` one), else the one
/// generated below the `OTEL_RESOURCE_ATTRIBUTES` value `user` set above. What a preview shows,
/// without the rest of the SDK's.
pub fn service_name(
    set: Option<Option<&str>>,
    user: &str,
    pod: &PodView,
    namespace: &str,
    spec: &InstrumentationSpec,
    c: &ContainerView,
) -> Option<String> {
    match set {
        Some(set) => set.map(str::to_string),
        None => Some(resource_attributes::service_name_for(
            spec, pod, namespace, c, user,
        )),
    }
}

/// The sampler and its argument, added to `out` together and only when the env sets neither.
fn sampler<'a>(spec: &'a InstrumentationSpec, env: &EnvList, out: &mut Vec<Entry<'a>>) {
    let (sampler, argument) = (spec.sampler_type(), spec.sampler_argument());
    if sampler.is_empty() || env.has(SAMPLER_VAR) || env.has(SAMPLER_ARG_VAR) {
        return;
    }
    out.push(Entry::literal(SAMPLER_VAR, sampler));
    if !argument.is_empty() {
        out.push(Entry::literal(SAMPLER_ARG_VAR, argument));
    }
}
