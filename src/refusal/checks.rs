//! The doctor's findings: what in a container would make the injection fail or send nothing.
//!
//! Each finding names the container, what was found, where (its exact path), and the fix. The
//! interpreter flags and the gRPC protocol refuse the pod (under `failureAction`); the others are
//! warnings that end with the per-pod opt-out that silences them.

use std::fmt::{self, Display, Formatter};

use super::{Subject, quoted_list, shown};
use crate::keys::SKIP_CHECKS;

/// The doctor's checks, by the names the opt-out annotation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// `-S`, `-I`, `-E` on the Python command line.
    InterpreterFlags,
    /// An OTLP protocol or exporter of gRPC for some signal.
    ExporterProtocol,
    /// An endpoint on the OTLP/gRPC port or with a gRPC scheme.
    ExporterEndpoint,
    /// gunicorn with several workers or `--preload`, uWSGI.
    PreForkServer,
    /// Unknown names in `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`.
    DisabledInstrumentations,
}

impl Check {
    /// Every check, in the order messages list them.
    pub const ALL: [Check; 5] = [
        Check::InterpreterFlags,
        Check::ExporterProtocol,
        Check::ExporterEndpoint,
        Check::PreForkServer,
        Check::DisabledInstrumentations,
    ];

    /// The name the opt-out annotation takes.
    pub fn name(self) -> &'static str {
        match self {
            Check::InterpreterFlags => "interpreter-flags",
            Check::ExporterProtocol => "exporter-protocol",
            Check::ExporterEndpoint => "exporter-endpoint",
            Check::PreForkServer => "pre-fork-server",
            Check::DisabledInstrumentations => "disabled-instrumentations",
        }
    }

    /// The check named `name`, if any.
    pub fn named(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Where an effective environment variable's value comes from, by the injection's precedence.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvSource {
    /// The container's own env entry, at this path.
    Container(String),
    /// The instrumentation's `python.env`.
    PythonEnv,
    /// The instrumentation's `env`.
    Env,
    /// The instrumentation's `exporter.endpoint`.
    ExporterEndpoint,
}

/// One thing the doctor found in a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The container.
    pub container: String,
    /// What was found.
    pub kind: FindingKind,
}

/// What the doctor found.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingKind {
    /// A Python interpreter flag that defeats the injection.
    InterpreterFlag {
        /// `S`, `I` or `E`.
        flag: char,
        /// The argument it was found in (`-uE`, or a shell script).
        argument: String,
        /// The argument's path (`spec.containers[0].command[1]`).
        path: String,
    },
    /// A protocol variable that makes some signal export over gRPC.
    GrpcProtocol {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Where it is set.
        from: EnvSource,
        /// The signals it applies to (`traces`, `metrics`, `logs`).
        signals: Vec<&'static str>,
    },
    /// An exporter variable that names the gRPC exporter.
    GrpcExporter {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Where it is set.
        from: EnvSource,
    },
    /// An endpoint on port 4317 or with a gRPC scheme.
    GrpcEndpoint {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Where it is set.
        from: EnvSource,
        /// `true`: the scheme; `false`: the port.
        scheme: bool,
    },
    /// A pre-fork server that starts the SDK before it forks.
    PreFork {
        /// How the server runs.
        server: PreFork,
        /// Where that is said (an argument's path, or an env entry's).
        path: String,
    },
    /// Names in `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` that no instrumentation has.
    UnknownDisabled {
        /// Where the variable is set.
        from: EnvSource,
        /// Each unknown name with the closest known ones.
        unknown: Vec<(String, Vec<&'static str>)>,
    },
}

/// How a pre-fork server runs the app.
#[derive(Debug, Clone, PartialEq)]
pub enum PreFork {
    /// gunicorn with this many workers (more than one).
    GunicornWorkers(String),
    /// gunicorn with `--preload`.
    GunicornPreload,
    /// uWSGI.
    Uwsgi,
}

impl FindingKind {
    /// The check that found it.
    pub fn check(&self) -> Check {
        match self {
            FindingKind::InterpreterFlag { .. } => Check::InterpreterFlags,
            FindingKind::GrpcProtocol { .. } | FindingKind::GrpcExporter { .. } => {
                Check::ExporterProtocol
            }
            FindingKind::GrpcEndpoint { .. } => Check::ExporterEndpoint,
            FindingKind::PreFork { .. } => Check::PreForkServer,
            FindingKind::UnknownDisabled { .. } => Check::DisabledInstrumentations,
        }
    }

    /// Whether it refuses the pod (else it is a warning).
    pub fn refuses(&self) -> bool {
        matches!(
            self.check(),
            Check::InterpreterFlags | Check::ExporterProtocol
        )
    }
}

/// The pod cannot be instrumented because of what the doctor found, or the opt-out annotation
/// names no check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRefusal {
    /// Whose pods.
    pub subject: Subject,
    /// The instrumentation, as messages name it.
    pub label: String,
    /// What is wrong.
    pub problem: CheckProblem,
}

/// What the doctor refuses.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckProblem {
    /// Findings that refuse the pod, in container order.
    Findings(Vec<Finding>),
    /// The opt-out annotation names a check that does not exist.
    UnknownCheck {
        /// The annotation's value.
        value: String,
        /// The first name that is not a check.
        name: String,
    },
}

/// A warning of the doctor, about a pod or a workload's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckNotice {
    /// The pod or workload.
    pub subject: Subject,
    /// What was found.
    pub finding: Finding,
}

impl Display for CheckRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        super::plan::write_asked(f, &self.subject, &self.label)?;
        match &self.problem {
            CheckProblem::Findings(findings) => {
                for (i, finding) in findings.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    finding.fmt(f)?;
                }
                Ok(())
            }
            CheckProblem::UnknownCheck { value, name } => {
                let names: Vec<String> = Check::ALL.iter().map(|c| c.name().into()).collect();
                write!(
                    f,
                    "annotation {SKIP_CHECKS}={} names no check {name:?}; name one of {}",
                    shown(value),
                    quoted_list(&names)
                )
            }
        }
    }
}

impl Display for CheckNotice {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let place = match &self.subject {
            Subject::Pod { .. } => "metadata.annotations".to_string(),
            Subject::Workload { template, .. } => format!("{template}.metadata.annotations"),
        };
        write!(
            f,
            "{}: {}; to accept this, add {SKIP_CHECKS}: {} to {place}",
            self.subject,
            self.finding,
            self.finding.kind.check().name()
        )
    }
}

impl Display for Finding {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let c = &self.container;
        match &self.kind {
            FindingKind::InterpreterFlag {
                flag,
                argument,
                path,
            } => interpreter_flag(f, c, *flag, argument, path),
            FindingKind::GrpcProtocol {
                var,
                value,
                from,
                signals,
            } => write!(
                f,
                "container {c:?} sets {var}={} ({from}), so its {} would be exported over OTLP/gRPC, which the Python auto-instrumentation image does not ship (it exports over HTTP); set {var} to http/protobuf, or remove it, and use the collector's OTLP/HTTP port 4318",
                shown(value),
                and_list(signals)
            ),
            FindingKind::GrpcExporter { var, value, from } => write!(
                f,
                "container {c:?} sets {var}={} ({from}), the OTLP/gRPC exporter, which the Python auto-instrumentation image does not ship (it exports over HTTP); use otlp (OTLP over HTTP, the injected protocol) or otlp_proto_http in {var}",
                shown(value)
            ),
            FindingKind::GrpcEndpoint {
                var,
                value,
                from,
                scheme,
            } => write!(
                f,
                "container {c:?} sends to {var}={} ({from}), {}, while the Python auto-instrumentation image exports OTLP over HTTP (port 4318 by default); unless the collector serves OTLP/HTTP there, nothing arrives",
                shown(value),
                if *scheme {
                    "a gRPC URL scheme"
                } else {
                    "on port 4317, the OTLP/gRPC port"
                }
            ),
            FindingKind::PreFork { server, path } => pre_fork(f, c, server, path),
            FindingKind::UnknownDisabled { from, unknown } => unknown_disabled(f, c, from, unknown),
        }
    }
}

fn interpreter_flag(
    f: &mut Formatter<'_>,
    c: &str,
    flag: char,
    argument: &str,
    path: &str,
) -> fmt::Result {
    let effect = match flag {
        'S' => "skips the site module, so the injected sitecustomize never runs",
        'I' => {
            "runs Python isolated, which ignores PYTHONPATH, so the injected packages are never found"
        }
        _ => {
            "ignores every PYTHON* variable, PYTHONPATH included, so the injected packages are never found"
        }
    };
    write!(
        f,
        "container {c:?} runs Python with -{flag} ({path} is {}): -{flag} {effect} and nothing would be instrumented; remove -{flag} from the command line, or do not instrument this container",
        shown(argument)
    )
}

fn pre_fork(f: &mut Formatter<'_>, c: &str, server: &PreFork, path: &str) -> fmt::Result {
    match server {
        PreFork::GunicornWorkers(n) => write!(
            f,
            "container {c:?} runs gunicorn with {n} workers ({path}), a pre-fork server"
        )?,
        PreFork::GunicornPreload => write!(
            f,
            "container {c:?} runs gunicorn with --preload ({path}), which loads the app before forking"
        )?,
        PreFork::Uwsgi => write!(f, "container {c:?} runs uWSGI ({path}), a pre-fork server")?,
    }
    f.write_str(
        ": the SDK starts once, before the workers are forked, and its metric export does not survive the fork (metrics go missing or collide between workers); run one worker per container and scale with replicas, or start the SDK in each worker (gunicorn's post_fork hook, uWSGI's @postfork), as the OpenTelemetry docs on pre-fork servers describe",
    )
}

fn unknown_disabled(
    f: &mut Formatter<'_>,
    c: &str,
    from: &EnvSource,
    unknown: &[(String, Vec<&'static str>)],
) -> fmt::Result {
    write!(
        f,
        "container {c:?} sets OTEL_PYTHON_DISABLED_INSTRUMENTATIONS ({from}) with {} that no instrumentation of the Python image has, so {} nothing: ",
        if unknown.len() == 1 {
            "a name"
        } else {
            "names"
        },
        if unknown.len() == 1 {
            "it disables"
        } else {
            "they disable"
        },
    )?;
    for (i, (name, close)) in unknown.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", shown(name))?;
        match close.as_slice() {
            [] => f.write_str(" (no known name is close)")?,
            names => {
                let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                write!(f, " (did you mean {}?)", or_list(&names))?
            }
        }
    }
    f.write_str("; the names are entry point names, listed in the README")
}

impl Display for EnvSource {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Container(path) => write!(f, "in {path}"),
            EnvSource::PythonEnv => f.write_str("from the instrumentation's python.env"),
            EnvSource::Env => f.write_str("from the instrumentation's env"),
            EnvSource::ExporterEndpoint => {
                f.write_str("from the instrumentation's exporter.endpoint")
            }
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn or_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_found_by_its_name() {
        for c in Check::ALL {
            assert_eq!(Check::named(c.name()), Some(c));
        }
        assert_eq!(Check::named("interpreter-flag"), None);
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list(&["traces"]), "traces");
        assert_eq!(
            and_list(&["traces", "metrics", "logs"]),
            "traces, metrics and logs"
        );
        assert_eq!(or_list(&["a".into(), "b".into()]), "\"a\" or \"b\"");
    }
}
