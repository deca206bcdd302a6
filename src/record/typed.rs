//! The record's two digests, walked over the plan's and the spec's own types, field by field.
//!
//! [`plan`] and [`spec`] are [`digest::of`] of an `inject::Plan` and of an `InstrumentationSpec`,
//! the same values, computed without the serde walk for the parts every injection has: the field
//! names' digests are constants, the strings, lists and objects are hashed where they are, and
//! only the parts whose rules need the walk (resources, security contexts, probes, volume
//! sources, a variable's `valueFrom`, maps with user keys) go through [`digest::value_at`]. Each
//! struct is taken apart whole (no `..`), so a field added to one of these types does not compile
//! until it is hashed here too. A unit test compares both walks over generated plans and specs,
//! and debug builds compare them on every digest the policy computes.

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;

use super::core_types::{Known, container, env_var, env_var_of, field_source, mount};
use super::digest::{
    self, Failed, NONE, Object, key, list, opt_flag, opt_text, opt_texts, opt_with, text, texts,
    walked,
};
use crate::inject::env::{Entry, EnvList, Fixed, FixedValue};
use crate::inject::{ContainerEdit, Plan, Volume};
use crate::instrumentation::{
    Defaults, Exporter, InstrumentationSpec, Python, Resource, Sampler, Tls,
};
use crate::operator::{VOLUME_NAME, configures_instrumentation};

/// [`digest::of`] `plan`.
pub fn plan(plan: &Plan) -> u64 {
    plan_digest(plan, Known::default()).unwrap_or(NONE)
}

/// [`digest::of`] `spec`.
pub fn spec(spec: &InstrumentationSpec) -> u64 {
    spec_digest(spec, Known::default()).unwrap_or(NONE)
}

/// [`spec`] and [`plan`] of an injection of `spec`, together: the spec's
/// `python.resourceRequirements`, which the init container most often has too, hashed once.
pub fn spec_and_plan(spec: &InstrumentationSpec, plan: &Plan) -> (u64, u64) {
    let python = spec.python.as_ref();
    let known = match python.and_then(|p| p.resource_requirements.as_ref()) {
        Some(r) => Known::new(r),
        None => Ok(Known::default()),
    };
    let Ok(known) = known else {
        return (NONE, plan_digest(plan, Known::default()).unwrap_or(NONE));
    };
    let spec = spec_digest(spec, known).unwrap_or(NONE);
    (spec, plan_digest(plan, known).unwrap_or(NONE))
}

fn plan_digest(plan: &Plan, known: Known<'_>) -> Result<u64, Failed> {
    let Plan {
        edits,
        volumes,
        init_container,
        preflight,
        init_position: _,
        source: _,
        notes: _,
        pull_secrets: _,
        held_pull_secrets,
        annotations: _,
    } = plan;
    let ours = volumes.iter().filter(|v| v.name == VOLUME_NAME);
    let mut object = Object::default();
    object.member(const { key("edits") }, list(edits, edit)?);
    object.member(const { key("volumes") }, list(ours, volume)?);
    if let Some(init) = init_container {
        object.member(const { key("init_container") }, container(init, known)?);
    }
    let preflight = list(preflight, |c| container(c, known))?;
    object.member(const { key("preflight") }, preflight);
    object.member(const { key("pull_secrets") }, texts(held_pull_secrets));
    Ok(object.finish())
}

fn edit(edit: &ContainerEdit) -> Result<u64, Failed> {
    let ContainerEdit {
        slot: _,
        name,
        env,
        mounts,
    } = edit;
    let ours = mounts.iter().filter(|m| m.name == VOLUME_NAME);
    let mut object = Object::default();
    object.member(const { key("name") }, text(name));
    object.member(const { key("env") }, env_list(env)?);
    object.member(const { key("mounts") }, list(ours, mount)?);
    Ok(object.finish())
}

/// The variables of `env` that configure the instrumentation, as `EnvList` serializes.
fn env_list(env: &EnvList) -> Result<u64, Failed> {
    let ours = env.entries.iter();
    list(ours.filter(|e| configures_instrumentation(e.name())), entry)
}

/// A variable of the list: the policy's literals hashed where they are, its constant variables
/// looked up, the others as their Kubernetes type.
fn entry(entry: &Entry) -> Result<u64, Failed> {
    match entry {
        Entry::Literal(name, value) => Ok(env_var_of(name, Some(value), None)),
        Entry::Fixed(f) => match FIXED.get(f.index()) {
            Some(digest) => Ok(*digest),
            None => Ok(fixed(*f)),
        },
        other => env_var(&other.to_var()),
    }
}

/// The digest of a variable whose name and value are constants.
const fn fixed(f: Fixed) -> u64 {
    match f.value() {
        FixedValue::Literal(value) => env_var_of(f.name(), Some(value), None),
        FixedValue::Field(path) => env_var_of(f.name(), None, Some(field_source(path))),
    }
}

/// [`fixed`] of each of [`Fixed::ALL`], at its index, computed by the compiler.
const FIXED: [u64; Fixed::ALL.len()] = {
    let mut out = [0; Fixed::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        let f = Fixed::ALL[i];
        out[f.index()] = fixed(f);
        i += 1;
    }
    out
};

fn volume(volume: &Volume) -> Result<u64, Failed> {
    let Volume {
        config_map,
        empty_dir,
        ephemeral,
        image,
        name,
        secret,
    } = volume;
    let mut object = Object::default();
    walked(&mut object, "configMap", config_map)?;
    if let Some(EmptyDirVolumeSource { medium, size_limit }) = empty_dir {
        let mut source = Object::default();
        opt_text(&mut source, const { key("medium") }, medium);
        if let Some(limit) = size_limit {
            let hash = digest::quantity(&limit.0);
            source.member(const { key("sizeLimit") }, hash);
        }
        object.member(const { key("emptyDir") }, source.finish());
    }
    walked(&mut object, "ephemeral", ephemeral)?;
    walked(&mut object, "image", image)?;
    object.member(const { key("name") }, text(name));
    walked(&mut object, "secret", secret)?;
    Ok(object.finish())
}

fn spec_digest(spec: &InstrumentationSpec, known: Known<'_>) -> Result<u64, Failed> {
    let InstrumentationSpec {
        exporter,
        propagators,
        sampler,
        env,
        resource,
        defaults,
        image_pull_policy,
        init_container_security_context,
        python,
        java: _,
        nodejs: _,
        dotnet: _,
        go: _,
        apache_httpd: _,
        nginx: _,
    } = spec;
    let mut object = Object::default();
    if let Some(e) = exporter {
        object.member(const { key("exporter") }, exporter_digest(e));
    }
    opt_texts(&mut object, const { key("propagators") }, propagators);
    if let Some(Sampler { type_, argument }) = sampler {
        let mut s = Object::default();
        opt_text(&mut s, const { key("type") }, type_);
        opt_text(&mut s, const { key("argument") }, argument);
        object.member(const { key("sampler") }, s.finish());
    }
    opt_with(&mut object, const { key("env") }, env, |e| list(e, env_var))?;
    opt_with(
        &mut object,
        const { key("resource") },
        resource,
        resource_digest,
    )?;
    if let Some(Defaults {
        use_labels_for_resource_attributes,
    }) = defaults
    {
        let mut d = Object::default();
        let labels = *use_labels_for_resource_attributes;
        opt_flag(
            &mut d,
            const { key("useLabelsForResourceAttributes") },
            labels,
        );
        object.member(const { key("defaults") }, d.finish());
    }
    if let Some(policy) = image_pull_policy {
        let hash = digest::string_at("", "imagePullPolicy", None, policy).0;
        object.member(const { key("imagePullPolicy") }, hash);
    }
    let context = init_container_security_context;
    walked(&mut object, "initContainerSecurityContext", context)?;
    let python_digest = |p: &Python| python_digest(p, known);
    opt_with(&mut object, const { key("python") }, python, python_digest)?;
    Ok(object.finish())
}

fn exporter_digest(exporter: &Exporter) -> u64 {
    let Exporter { endpoint, tls } = exporter;
    let mut object = Object::default();
    opt_text(&mut object, const { key("endpoint") }, endpoint);
    if let Some(Tls {
        secret_name,
        config_map_name,
        ca_file,
        cert_file,
        key_file,
    }) = tls
    {
        let mut t = Object::default();
        opt_text(&mut t, const { key("secretName") }, secret_name);
        opt_text(&mut t, const { key("configMapName") }, config_map_name);
        opt_text(&mut t, const { key("ca_file") }, ca_file);
        opt_text(&mut t, const { key("cert_file") }, cert_file);
        opt_text(&mut t, const { key("key_file") }, key_file);
        object.member(const { key("tls") }, t.finish());
    }
    object.finish()
}

fn resource_digest(resource: &Resource) -> Result<u64, Failed> {
    let Resource {
        resource_attributes,
        add_k8s_uid_attributes,
    } = resource;
    let mut object = Object::default();
    walked(&mut object, "resourceAttributes", resource_attributes)?;
    let uids = *add_k8s_uid_attributes;
    opt_flag(&mut object, const { key("addK8sUIDAttributes") }, uids);
    Ok(object.finish())
}

fn python_digest(python: &Python, known: Known<'_>) -> Result<u64, Failed> {
    let Python {
        image,
        env,
        resource_requirements,
        volume_limit_size,
        volume_claim_template,
    } = python;
    let mut object = Object::default();
    opt_text(&mut object, const { key("image") }, image);
    opt_with(&mut object, const { key("env") }, env, |e| list(e, env_var))?;
    let (requirements, resources) = (resource_requirements, |r: &_| known.resources(r));
    opt_with(
        &mut object,
        const { key("resourceRequirements") },
        requirements,
        resources,
    )?;
    walked(&mut object, "volumeLimitSize", volume_limit_size)?;
    walked(&mut object, "volumeClaimTemplate", volume_claim_template)?;
    Ok(object.finish())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use k8s_openapi::api::core::v1::{Container, EnvVar};
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::inject::EphemeralVolume;
    use crate::inject::env::Entry;
    use crate::pod::Slot;

    /// A small deterministic generator (xorshift).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick(&mut self, pool: &[Value]) -> Value {
            pool[self.below(pool.len())].clone()
        }
        /// An object with some of `fields`, each with one of its values.
        fn object(&mut self, fields: &[(&str, &[Value])]) -> Value {
            let mut out = Map::new();
            for (name, pool) in fields {
                if self.below(3) > 0 {
                    out.insert(name.to_string(), self.pick(pool));
                }
            }
            Value::Object(out)
        }
        fn list(&mut self, max: usize, item: impl Fn(&mut Gen) -> Value) -> Value {
            let n = self.below(max + 1);
            Value::Array((0..n).map(|_| item(self)).collect())
        }
    }

    fn strings() -> Vec<Value> {
        vec![
            json!(""),
            json!("a"),
            json!("/otel-auto-instrumentation-python"),
            json!("x".repeat(23)),
        ]
    }

    fn quantities() -> Vec<Value> {
        [
            "", "500m", "0.5", "1", "0", "32Mi", "33554432", "1.5Gi", "bad",
        ]
        .map(Value::from)
        .to_vec()
    }

    fn resources(g: &mut Gen) -> Value {
        let q = quantities();
        let map = |g: &mut Gen| g.object(&[("cpu", &q), ("memory", &q), ("nvidia.com/gpu", &q)]);
        let (limits, mut requests) = (map(g), map(g));
        if g.below(10) == 0 {
            // A resource named like a key with rules: the serde walk's way.
            requests["divisor"] = "0".into();
        }
        g.object(&[("limits", &[limits]), ("requests", &[requests])])
    }

    fn env_var(g: &mut Gen) -> Value {
        let names = ["PYTHONPATH", "OTEL_SERVICE_NAME", "OTEL_X", "OTHER", ""].map(Value::from);
        let from = [
            json!({"fieldRef": {"fieldPath": "status.hostIP", "apiVersion": "v1"}}),
            json!({"fieldRef": {"fieldPath": "status.podIP", "apiVersion": "v2"}}),
            json!({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}),
            json!({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}),
            json!({"secretKeyRef": {"name": "s", "key": "k", "optional": false}}),
            json!({"configMapKeyRef": {"name": "c", "key": ""}, "fieldRef": {"fieldPath": "x"}}),
        ];
        let mut var = g.object(&[("value", &strings()), ("valueFrom", &from)]);
        var["name"] = g.pick(&names);
        var
    }

    fn mount(g: &mut Gen) -> Value {
        let names = [VOLUME_NAME, "data"].map(Value::from);
        let mut m = g.object(&[
            ("readOnly", &[json!(true), json!(false)]),
            ("subPath", &strings()),
            ("mountPropagation", &["None".into(), "".into()]),
            ("recursiveReadOnly", &["Disabled".into()]),
            ("subPathExpr", &strings()),
        ]);
        m["name"] = g.pick(&names);
        m["mountPath"] = g.pick(&strings());
        m
    }

    fn container(g: &mut Gen) -> Container {
        let images = [
            "python:3.12",
            "python",
            "r:5000/p:latest",
            "p@sha256:ab",
            "",
        ]
        .map(Value::from);
        let policies = ["Always", "IfNotPresent", "Never", ""].map(Value::from);
        let lists = [json!([]), json!(["cp", "-r"]), json!([""])];
        let security = [
            json!({"runAsNonRoot": true, "procMount": "Default"}),
            json!({"procMount": "Unmasked", "capabilities": {"drop": ["ALL"]}}),
            json!({"allowPrivilegeEscalation": false, "seccompProfile": {"type": "RuntimeDefault"}}),
            json!({"runAsUser": 0, "runAsGroup": 1000, "privileged": true, "readOnlyRootFilesystem": false,
                "capabilities": {"add": ["NET_ADMIN"], "drop": []}, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}),
        ];
        let probes = [json!({"exec": {"command": ["true"]}, "periodSeconds": 0})];
        let (env, mounts, res) = (g.list(4, env_var), g.list(3, mount), resources(g));
        let mut c = g.object(&[
            ("args", &lists),
            ("command", &lists),
            ("env", &[env]),
            ("envFrom", &[json!([{"configMapRef": {"name": "c"}}])]),
            ("image", &images),
            ("imagePullPolicy", &policies),
            (
                "lifecycle",
                &[json!({"preStop": {"sleep": {"seconds": 1}}})],
            ),
            ("livenessProbe", &probes),
            (
                "ports",
                &[json!([{"containerPort": 80, "protocol": "TCP"}])],
            ),
            ("readinessProbe", &probes),
            (
                "resizePolicy",
                &[json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}])],
            ),
            ("resources", &[res]),
            ("restartPolicy", &["Always".into(), "".into()]),
            ("securityContext", &security),
            ("startupProbe", &probes),
            ("stdin", &[json!(true), json!(false)]),
            ("stdinOnce", &[json!(true), json!(false)]),
            (
                "terminationMessagePath",
                &["/dev/termination-log".into(), "/tmp/m".into()],
            ),
            (
                "terminationMessagePolicy",
                &["File".into(), "FallbackToLogsOnError".into()],
            ),
            ("tty", &[json!(true), json!(false)]),
            (
                "volumeDevices",
                &[json!([{"name": "d", "devicePath": "/dev/x"}])],
            ),
            ("volumeMounts", &[mounts]),
            ("workingDir", &strings()),
        ]);
        c["name"] = g.pick(&strings());
        serde_json::from_value(c).unwrap()
    }

    fn volume(g: &mut Gen) -> Volume {
        let sources = [
            ("emptyDir", json!({"sizeLimit": "200Mi"})),
            ("emptyDir", json!({"sizeLimit": "209715200", "medium": ""})),
            ("emptyDir", json!({"medium": "Memory"})),
            ("emptyDir", json!({"sizeLimit": "0"})),
            (
                "image",
                json!({"reference": "python:3.12", "pullPolicy": "IfNotPresent"}),
            ),
            (
                "image",
                json!({"reference": "python", "pullPolicy": "IfNotPresent"}),
            ),
            (
                "image",
                json!({"pullPolicy": "Always", "reference": "python:latest"}),
            ),
            ("secret", json!({"secretName": "s", "defaultMode": 420})),
            ("configMap", json!({"name": "c", "defaultMode": 256})),
            (
                "ephemeral",
                json!({"volumeClaimTemplate": {"spec": {"volumeMode": "Filesystem",
                "resources": {"requests": {"storage": "1Gi"}}}}}),
            ),
        ];
        let names = [VOLUME_NAME, "tls"].map(Value::from);
        let mut v = Volume {
            name: g.pick(&names).as_str().unwrap().to_string(),
            ..Default::default()
        };
        let (source, value) = &sources[g.below(sources.len())];
        match *source {
            "emptyDir" => v.empty_dir = serde_json::from_value(value.clone()).unwrap(),
            "image" => v.image = serde_json::from_value(value.clone()).unwrap(),
            "secret" => v.secret = serde_json::from_value(value.clone()).unwrap(),
            "configMap" => v.config_map = serde_json::from_value(value.clone()).unwrap(),
            _ => {
                let template = serde_json::from_value(value["volumeClaimTemplate"].clone());
                v.ephemeral = Some(EphemeralVolume {
                    volume_claim_template: template.unwrap(),
                });
            }
        }
        v
    }

    /// A generated string kept for the test's duration (a plan borrows its entries' names).
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn generated_plan(g: &mut Gen) -> Plan<'static> {
        let edits = (0..g.below(3))
            .map(|i| {
                let env = g.list(5, env_var);
                let entries = serde_json::from_value::<Vec<EnvVar>>(env).unwrap();
                let mounts = g.list(3, mount);
                ContainerEdit {
                    slot: Slot::Regular(i),
                    name: leak(g.pick(&strings()).as_str().unwrap().to_string()),
                    env: EnvList {
                        entries: entries
                            .into_iter()
                            .map(|var| match (&var.value, &var.value_from) {
                                (Some(value), None) if g.below(2) == 0 => {
                                    Entry::Literal(leak(var.name), leak(value.clone()).into())
                                }
                                // The variables whose digests are constants.
                                _ if g.below(4) == 0 => {
                                    Entry::Fixed(Fixed::ALL[g.below(Fixed::ALL.len())])
                                }
                                _ => Entry::Other(Box::new(var)),
                            })
                            .collect(),
                    },
                    mounts: serde_json::from_value(mounts).unwrap(),
                }
            })
            .collect();
        Plan {
            edits,
            volumes: (0..g.below(3)).map(|_| volume(g)).collect(),
            init_container: (g.below(4) > 0).then(|| container(g)),
            preflight: (0..g.below(2)).map(|_| container(g)).collect(),
            held_pull_secrets: (0..g.below(3)).map(|i| format!("s{i}")).collect(),
            pull_secrets: vec!["not hashed".into()],
            ..Default::default()
        }
    }

    fn generated_spec(g: &mut Gen) -> InstrumentationSpec {
        let tls = g.object(&[
            ("secretName", &strings()),
            ("configMapName", &strings()),
            ("ca_file", &strings()),
            ("cert_file", &strings()),
            ("key_file", &strings()),
        ]);
        let attributes = [
            json!({"service.version": "1", "image": "python:3", "imagePullPolicy": "IfNotPresent"}),
            json!({"terminationMessagePath": "/dev/termination-log", "a": ""}),
        ];
        let (env, penv, res) = (g.list(3, env_var), g.list(3, env_var), resources(g));
        let resource =
            json!({"resourceAttributes": g.pick(&attributes), "addK8sUIDAttributes": true});
        let python = g.object(&[
            ("image", &strings()),
            ("env", &[penv]),
            ("resourceRequirements", &[res]),
            ("volumeLimitSize", &["200Mi".into(), "209715200".into()]),
            (
                "volumeClaimTemplate",
                &[json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}})],
            ),
        ]);
        let spec = g.object(&[
            (
                "exporter",
                &[json!({"endpoint": "http://c:4318", "tls": tls}), json!({})],
            ),
            (
                "propagators",
                &[json!(["tracecontext", "baggage"]), json!([])],
            ),
            ("sampler", &[json!({"type": "always_on", "argument": ""})]),
            ("env", &[env]),
            ("resource", &[resource]),
            (
                "defaults",
                &[json!({"useLabelsForResourceAttributes": true}), json!({})],
            ),
            ("imagePullPolicy", &["IfNotPresent".into(), "Always".into()]),
            (
                "initContainerSecurityContext",
                &[json!({"runAsUser": 1000, "procMount": "Default"})],
            ),
            ("python", &[python]),
            ("java", &[json!({"image": "j"})]),
        ]);
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn the_typed_walk_and_the_serde_walk_agree() {
        let mut g = Gen(0x2545_f491_4f6c_dd1d);
        let (mut plans, mut specs) = (HashSet::new(), HashSet::new());
        for _ in 0..3000 {
            let p = generated_plan(&mut g);
            assert_eq!(plan(&p), digest::of(&p), "{p:#?}");
            plans.insert(plan(&p));
            let s = generated_spec(&mut g);
            assert_eq!(spec(&s), digest::of(&s), "{s:#?}");
            specs.insert(spec(&s));
            // Together, the init container with the spec's resources or others.
            let mut p = p;
            let python = s.python.as_ref();
            if let (Some(init), true) = (&mut p.init_container, g.below(2) == 0) {
                init.resources = python.and_then(|p| p.resource_requirements.clone());
            }
            let both = (digest::of(&s), digest::of(&p));
            assert_eq!(spec_and_plan(&s, &p), both, "{s:#?} {p:#?}");
        }
        // The generated values differ in what they hash to: the comparison is not of constants.
        assert!(
            plans.len() > 2500 && specs.len() > 2500,
            "{} {}",
            plans.len(),
            specs.len()
        );
    }
}
