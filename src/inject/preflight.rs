//! The opt-in preflight: an init container per instrumented container, with the app's own image
//! and interpreter, that makes the copied packages inert when they cannot serve the app.
//!
//! It runs after the copy, as `<python> -c <preflight.py> disable|fail /otel-auto-instrumentation-python`
//! in the app's image (so it sees the image's `ENV`, its interpreter and its installed packages),
//! with the container's literal `PYTHONPATH` and `workingDir`, the packages' volume, and the copy's
//! resources and security context. It reads the packages' metadata on both sides and finds: the
//! interpreter outside an injected distribution's `Requires-Python` (the SDK's first); the
//! OpenTelemetry SDK or distro already installed by the app; an injected distribution that would
//! shadow a different version of one the app installed. With `disable` a finding moves the copied
//! tree aside (`.disabled/`), so the app starts exactly as without injection; with `fail` the init
//! container exits 1 and the pod does not start. Either way the reason is the container's
//! termination message and log (`terminationMessagePolicy: FallbackToLogsOnError`). The
//! interpreter is the container's own when its command names one (`/usr/local/bin/python3.12`),
//! else `python3`, which the image must then have.

use k8s_openapi::api::core::v1::{Container, VolumeMount};

use super::env::literal;
use super::python::init_security_context;
use crate::checks::{argv, interpreter};
use crate::instrumentation::InstrumentationSpec;
use crate::operator::{MOUNT_PATH, PREFLIGHT_CONTAINER_NAME, PYTHONPATH};
use crate::pod::{ContainerView, PodView, Slot};
use crate::settings::Preflight;

/// The script the preflight runs, verbatim.
pub const SCRIPT: &str = include_str!("preflight.py");

/// The preflight init containers for `targets` (none when it is off), with the copy's resources
/// and security context, and `mount`, the packages' mount of the target containers.
pub fn containers(
    mode: Preflight,
    spec: &InstrumentationSpec,
    pod: &PodView,
    targets: &[Slot],
    mount: &VolumeMount,
) -> Vec<Container> {
    let mode = match mode {
        Preflight::Off => return Vec::new(),
        Preflight::Disable => "disable",
        Preflight::Fail => "fail",
    };
    targets
        .iter()
        .enumerate()
        .map(|(i, &slot)| {
            let c = pod.container(slot);
            let name = match i {
                0 => PREFLIGHT_CONTAINER_NAME.to_string(),
                _ => format!("{PREFLIGHT_CONTAINER_NAME}-{}", i + 1),
            };
            Container {
                name,
                image: Some(c.image.clone()).filter(|i| !i.is_empty()),
                command: Some(vec![
                    interpreter_of(c).to_string(),
                    "-c".into(),
                    SCRIPT.into(),
                    mode.into(),
                    MOUNT_PATH.into(),
                ]),
                env: pythonpath(c, spec).map(|v| vec![literal(PYTHONPATH, v)]),
                working_dir: Some(c.working_dir.clone()).filter(|w| !w.is_empty()),
                resources: spec.python().resource_requirements.clone(),
                volume_mounts: Some(vec![mount.clone()]),
                termination_message_policy: Some("FallbackToLogsOnError".into()),
                security_context: Some(init_security_context(spec, pod)),
                ..Default::default()
            }
        })
        .collect()
}

/// The interpreter the container's command names, else `python3`.
fn interpreter_of(c: &ContainerView) -> &str {
    argv::invocations(c)
        .into_iter()
        .find(|run| interpreter::is_python(run.program))
        .map_or("python3", |run| run.written)
}

/// The `PYTHONPATH` the app has without the injection: the container's literal value, else
/// `python.env`'s (the injection's precedence; one from `valueFrom` is refused before).
fn pythonpath(c: &ContainerView, spec: &InstrumentationSpec) -> Option<String> {
    let own = c
        .env
        .iter()
        .find(|e| e.name == PYTHONPATH)
        .map(|e| e.value.clone());
    let python_env = || {
        let vars = spec.python().env.as_deref().unwrap_or_default();
        vars.iter()
            .find(|v| v.name == PYTHONPATH)
            .map(|v| v.value.clone())
    };
    own.or_else(python_env).flatten().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn pod(json: &str) -> PodView {
        PodView::read(json, &Target::POD).unwrap()
    }

    #[test]
    fn the_command_runs_the_script_with_the_apps_interpreter() {
        let spec = InstrumentationSpec::default();
        let copy = VolumeMount::default();
        let p = pod(r#"{"spec": {"containers": [{"name": "a", "image": "a:1",
            "command": ["tini", "--", "/usr/local/bin/python3.12", "-m", "app"]}, {"name": "b"}]}}"#);
        let found = containers(
            Preflight::Fail,
            &spec,
            &p,
            &[Slot::Regular(0), Slot::Regular(1)],
            &copy,
        );
        let command = found[0].command.as_deref().unwrap();
        assert_eq!(command[0], "/usr/local/bin/python3.12");
        assert_eq!((command[1].as_str(), command[2].as_str()), ("-c", SCRIPT));
        assert_eq!(&command[3..], ["fail", MOUNT_PATH]);
        assert_eq!(found[1].command.as_deref().unwrap()[0], "python3");
        assert_eq!(found[1].name, format!("{PREFLIGHT_CONTAINER_NAME}-2"));
        assert!(containers(Preflight::Off, &spec, &p, &[Slot::Regular(0)], &copy).is_empty());
    }

    #[test]
    fn the_preflight_follows_the_copy() {
        let text = r#"{"spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "a", "image": "a:1"}]}}"#;
        let p = pod(text);
        let spec = InstrumentationSpec::default();
        let packages = super::super::Packages {
            image: "python:1",
            delivery: crate::image::Delivery::InitContainer,
            pull_secrets: &[],
        };
        let mut plan = super::super::plan(&p, "n", &spec, &packages).unwrap();
        let mount = packages.mount(plan.source);
        plan.preflight = containers(Preflight::Disable, &spec, &p, &[Slot::Regular(0)], &mount);
        let out: serde_json::Value =
            serde_json::from_str(&super::super::apply(&plan, text, &Target::POD).unwrap()).unwrap();
        let names: Vec<&str> = out["spec"]["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "migrate",
                crate::operator::INIT_CONTAINER_NAME,
                PREFLIGHT_CONTAINER_NAME
            ]
        );
    }
}
