//! The doctor: what in a container would make the injection fail or send nothing.
//!
//! Pure functions of the pod view, the resolved spec and the containers the plan targets,
//! returning typed findings (worded in [`crate::refusal`]), one file per family:
//! [`interpreter`] (`-S`, `-I`, `-E`), [`exporter`] (a gRPC protocol, a gRPC-looking endpoint),
//! [`prefork`] (gunicorn's workers, uWSGI), [`disabled`] (names that disable nothing), and
//! [`optout`] (the per-pod annotation that turns checks off). [`argv`] reads a command line and
//! [`env`] the environment the injection will leave. Admission runs them for a Pod and for a
//! workload's template alike, so the preview at `kubectl apply` shows the same findings. A check
//! that needs what only the app image knows (its `ENV`, its entrypoint) would take it as one more
//! input here.

pub mod argv;
pub mod disabled;
pub mod env;
pub mod exporter;
pub mod instrumentation_names;
pub mod interpreter;
pub mod optout;
pub mod prefork;

use std::borrow::Cow;

use crate::catalog::Resolved;
use crate::instrumentation::InstrumentationSpec;
use crate::pod::{PodView, Slot};
use crate::refusal::{
    Check, CheckNotice, CheckProblem, CheckRefusal, Finding, Notice, Refusal, Subject,
};
use env::{ContainerPath, Env};
use optout::Skipped;

/// Every finding in the `targets` of `pod` under `spec`, those the pod turns off left out, in
/// container order; `spec_path` is where the pod spec sits (`spec`, `spec.template.spec`).
pub fn examine(
    pod: &PodView,
    spec: &InstrumentationSpec,
    targets: &[Slot],
    spec_path: &str,
) -> Result<Vec<Finding>, CheckProblem> {
    let skipped = Skipped::read(pod)?;
    let mut findings = Vec::new();
    for &slot in targets {
        let c = pod.container(slot);
        let path = ContainerPath {
            spec: spec_path,
            slot,
        };
        let env = Env::new(c, spec, path);
        let runs = argv::invocations(c);
        let mut kinds = Vec::new();
        if skipped.runs(Check::InterpreterFlags) {
            for run in runs.iter().filter(|r| interpreter::is_python(r.program)) {
                kinds.extend(interpreter::findings(&interpreter::read(run), path));
            }
        }
        if skipped.runs(Check::ExporterProtocol) {
            exporter::protocol(&env, &mut kinds);
        }
        if skipped.runs(Check::ExporterEndpoint) {
            exporter::endpoint(&env, &mut kinds);
        }
        if skipped.runs(Check::PreForkServer) {
            prefork::findings(&runs, &env, &mut kinds);
        }
        if skipped.runs(Check::DisabledInstrumentations) {
            disabled::findings(&env, &mut kinds);
        }
        findings.extend(kinds.into_iter().map(|kind| Finding {
            container: c.name.clone(),
            kind,
        }));
    }
    Ok(findings)
}

/// The doctor's verdict on the subject's pods: a refusal when a finding refuses (or the opt-out
/// names no check), else its warnings.
pub fn verdict(
    pod: &PodView,
    resolved: &Resolved,
    targets: &[Slot],
    subject: &Subject,
) -> Result<Vec<Notice>, Refusal> {
    let spec_path = match subject {
        Subject::Pod { .. } => Cow::Borrowed("spec"),
        Subject::Workload { template, .. } => Cow::Owned([template.as_str(), ".spec"].concat()),
    };
    let refuse = |problem| {
        Refusal::Check(Box::new(CheckRefusal {
            subject: subject.clone(),
            label: resolved.label(),
            problem,
        }))
    };
    let findings = match examine(pod, &resolved.spec, targets, &spec_path) {
        Ok(f) => f,
        Err(problem) => return Err(refuse(problem)),
    };
    if findings.iter().any(|f| f.kind.refuses()) {
        let refusing = findings.into_iter().filter(|f| f.kind.refuses()).collect();
        return Err(refuse(CheckProblem::Findings(refusing)));
    }
    Ok(findings
        .into_iter()
        .map(|finding| {
            Notice::Check(Box::new(CheckNotice {
                subject: subject.clone(),
                finding,
            }))
        })
        .collect())
}
