//! Every refusal, settings problem and warning, as typed values with their wording and codes.
//!
//! Each is found where the problem is found, worded here (each type's `Display` is the text users
//! read, one exhaustive match per type, so a new variant does not compile without its text), and
//! mapped here to an HTTP code and to `failureAction`. Tests compare the values; the case files compare the text.
//! One file per family: the payload, references, the plan, the doctor's checks, cluster lookups,
//! registry lookups, the image options, warnings, settings and the spec rules' faults.

mod app_image;
mod audit;
mod checks;
mod image;
mod lookup;
mod notice;
mod payload;
mod plan;
mod reference;
mod registry;
mod settings;
mod spec;

use std::fmt::{self, Display, Formatter};

pub use app_image::{AppImageNotice, AppImageRefusal};
pub use audit::{AuditFault, AuditFinding, Restart};
pub use checks::{
    Check, CheckNotice, CheckProblem, CheckRefusal, EnvSource, Finding, FindingKind, PreFork,
};
pub use image::{ImageFault, ImageProblem, ImageRefusal};
pub use lookup::{ClusterSpecRefusal, Failure, LookupFailure, LookupRefusal};
pub use notice::{AlreadyInstrumented, Notice};
pub use payload::{ApplyProblem, PayloadProblem};
pub use plan::{Conflict, PlanProblem, PlanRefusal, SelectionProblem};
pub use reference::{
    Malformation, ReferenceFault, ReferenceRefusal, Source, WouldWork, WouldWorkRef,
};
pub use registry::{RegistryFailure, RegistryFault};
pub use settings::{
    EmptyField, Fault, MissingField, OptionFault, SettingsErrors, SettingsProblem,
    policy_options_hint,
};
pub use spec::{ObjectFault, PythonFault, SdkFault, TlsFault};

use crate::keys::{INJECT_PYTHON, OPT_INSTRUMENTATIONS};
use crate::operator::INSTRUMENTATION_KIND;

/// Bad input from the API server or from the pod author.
pub const BAD_REQUEST: u16 = 400;
/// The policy itself is misconfigured.
pub const MISCONFIGURED: u16 = 500;
/// A lookup in the cluster failed for a reason that may pass.
pub const UNAVAILABLE: u16 = 503;

/// A value the pod's author wrote, for a message: quoted, and cut after 100 characters so that a
/// huge annotation does not make a huge response (the length says how much there was).
pub fn shown(value: &str) -> String {
    const MAX: usize = 100;
    match value.char_indices().nth(MAX) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

/// `"a", "b", "c"`, written where it is shown, without building a string.
fn quoted_list(items: &[String]) -> QuotedList<'_> {
    QuotedList(items)
}

/// Names quoted as Rust's `{:?}` quotes them, separated by `, `.
struct QuotedList<'a>(&'a [String]);

impl Display for QuotedList<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl QuotedList<'_> {
    /// The list, written into any writer: into a `String` without the formatting machinery.
    fn write_to<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                out.write_str(", ")?;
            }
            quoted(out, item)?;
        }
        Ok(())
    }
}

/// `s` as `{:?}` writes it; printable ASCII other than `"` and `\` is written as it is, which is
/// what `{:?}` does with it, without its escaping machinery.
fn quoted<W: fmt::Write>(out: &mut W, s: &str) -> fmt::Result {
    if s.bytes()
        .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        out.write_char('"')?;
        out.write_str(s)?;
        out.write_char('"')
    } else {
        write!(out, "{s:?}")
    }
}

/// What a message is about: the pod being created, or a workload whose pod template is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A pod being created.
    Pod {
        /// The pod's name, else its generateName prefix and `*`.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// A workload whose pod template is checked.
    Workload {
        /// The workload's kind.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name, else its generateName prefix and `*`.
        name: String,
        /// Where the pod template sits, dotted: `spec.template`.
        template: String,
    },
}

impl Subject {
    /// The namespace references resolve in.
    pub fn namespace(&self) -> &str {
        match self {
            Subject::Pod { namespace, .. } | Subject::Workload { namespace, .. } => namespace,
        }
    }
    /// Whether the subject is a workload (its pods come later).
    pub fn is_workload(&self) -> bool {
        matches!(self, Subject::Workload { .. })
    }
}

impl Display for Subject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl Subject {
    /// How messages name it, written into any writer: piece by piece (it starts most workload
    /// messages), and into a `String` without the formatting machinery.
    fn write_to<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        match self {
            Subject::Pod { name, .. } => {
                out.write_str("pod ")?;
                out.write_str(name)
            }
            Subject::Workload {
                kind,
                namespace,
                name,
                ..
            } => {
                for part in [kind, " ", namespace.as_str(), "/", name.as_str()] {
                    out.write_str(part)?;
                }
                Ok(())
            }
        }
    }
}

/// Why a request gets no instrumentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The payload or the object in it cannot be read.
    Payload(PayloadProblem),
    /// The policy's settings are invalid at evaluation time.
    Settings(SettingsErrors),
    /// The object's namespace is unknown, so no reference can be resolved.
    NoNamespace {
        /// The object's kind.
        kind: &'static str,
    },
    /// The `inject-python` annotation names no usable instrumentation.
    Reference(Box<ReferenceRefusal>),
    /// The instrumentation was found but cannot be injected into this pod.
    Plan(Box<PlanRefusal>),
    /// The doctor found what would make the injection fail in a container.
    Check(Box<CheckRefusal>),
    /// The plan could not be written into the object (its shape changed under the view).
    Apply(ApplyProblem),
    /// Cluster mode: a lookup in the cluster failed.
    Lookup(Box<LookupRefusal>),
    /// Cluster mode: the Instrumentation the reference names is invalid.
    ClusterSpec(Box<ClusterSpecRefusal>),
    /// The image the instrumentation names cannot be given to the pod under the image options.
    Image(Box<ImageRefusal>),
    /// `inspectAppImages`: a container's image configuration cannot be read.
    AppImage(Box<AppImageRefusal>),
    /// Cluster mode: the settings and the cluster both define `namespace/name`.
    DefinedTwice {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// The audit role: the pod's instrumentation is missing or stale.
    Audit(Box<AuditFinding>),
}

impl Refusal {
    /// The HTTP code of the refusal.
    pub fn code(&self) -> u16 {
        match self {
            Refusal::Settings(_) | Refusal::DefinedTwice { .. } | Refusal::ClusterSpec(_) => {
                MISCONFIGURED
            }
            Refusal::Lookup(l) => match l.failure.failure {
                Failure::Transient { .. } => UNAVAILABLE,
                _ => MISCONFIGURED,
            },
            Refusal::Image(i) => i.problem.code(),
            Refusal::AppImage(a) => a.failure.code(),
            _ => BAD_REQUEST,
        }
    }

    /// Whether `failureAction: admit` may admit the request anyway: yes for a pod that asked for
    /// instrumentation and cannot get it, no for input the policy cannot read or its own settings.
    pub fn follows_failure_action(&self) -> bool {
        !matches!(self, Refusal::Payload(_) | Refusal::Settings(_))
    }

    /// Whether the refusal is about a workload's pod template rather than a pod.
    pub fn is_about_workload(&self) -> bool {
        match self {
            Refusal::Reference(r) => r.subject.is_workload(),
            Refusal::Plan(p) => p.subject.is_workload(),
            Refusal::Check(c) => c.subject.is_workload(),
            Refusal::Lookup(l) => l.subject.is_workload(),
            Refusal::ClusterSpec(c) => c.subject.is_workload(),
            Refusal::Image(i) => i.subject.is_workload(),
            Refusal::Audit(a) => a.subject.is_workload(),
            Refusal::AppImage(a) => a.subject.is_workload(),
            Refusal::NoNamespace { kind } => *kind != "Pod",
            _ => false,
        }
    }
}

impl Display for Refusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Payload(p) => p.fmt(f),
            Refusal::Settings(e) => write!(
                f,
                "the policy settings are invalid, so the pod's {INJECT_PYTHON} annotation cannot be honoured: {e}"
            ),
            Refusal::NoNamespace { kind: "Pod" } => f.write_str(
                "the request names no namespace for the pod (request.namespace and metadata.namespace are empty), so its instrumentation reference cannot be resolved; set metadata.namespace",
            ),
            Refusal::NoNamespace { kind } => write!(
                f,
                "the request names no namespace for the {kind} (request.namespace and metadata.namespace are empty), so the instrumentation reference of its pods cannot be resolved; set metadata.namespace"
            ),
            Refusal::Reference(r) => r.fmt(f),
            Refusal::Plan(p) => p.fmt(f),
            Refusal::Check(c) => c.fmt(f),
            Refusal::Apply(p) => p.fmt(f),
            Refusal::Lookup(l) => l.fmt(f),
            Refusal::ClusterSpec(c) => c.fmt(f),
            Refusal::Image(i) => i.fmt(f),
            Refusal::Audit(a) => a.fmt(f),
            Refusal::AppImage(a) => a.fmt(f),
            Refusal::DefinedTwice { namespace, name } => write!(
                f,
                "instrumentation {namespace}/{name} is defined twice: in the policy settings ({OPT_INSTRUMENTATIONS}) and in the cluster ({INSTRUMENTATION_KIND} {namespace}/{name}); remove one of them, for example the settings entry to use the cluster's"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_list_quotes_each_name_as_debug_does() {
        let names: Vec<String> = [
            "app",
            "",
            "a b~",
            "quo\"te",
            "back\\slash",
            "tab\t",
            "nul\0",
            "é",
            "\u{301}x",
            "\u{7f}",
            "it's",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let debug: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        assert_eq!(quoted_list(&names).to_string(), debug.join(", "));
        assert_eq!(quoted_list(&names[..1]).to_string(), "\"app\"");
        assert_eq!(quoted_list(&[]).to_string(), "");
    }

    #[test]
    fn shown_quotes_short_values_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(shown("monitor/python"), "\"monitor/python\"");
        let long = "é".repeat(150);
        assert_eq!(
            shown(&long),
            format!("\"{}\"… (150 characters)", "é".repeat(100))
        );
    }

    #[test]
    fn codes_and_failure_action() {
        let payload = Refusal::Payload(PayloadProblem::NoObject {
            kind: "Pod",
            operation: "CREATE",
        });
        let settings = Refusal::Settings(SettingsErrors::default());
        let reference = Refusal::NoNamespace { kind: "Pod" };
        assert_eq!(
            (payload.code(), settings.code(), reference.code()),
            (400, 500, 400)
        );
        assert!(!payload.follows_failure_action());
        assert!(!settings.follows_failure_action());
        assert!(reference.follows_failure_action());
    }

    #[test]
    fn would_work_shows_a_dozen_and_counts_the_rest() {
        let refs = (0..15)
            .map(|i| WouldWorkRef::Name(format!("i{i}")))
            .collect();
        let text = WouldWork { refs }.to_string();
        assert!(
            text.ends_with("\"i11\" and 3 more; or \"false\" for no injection"),
            "{text}"
        );
        assert!(
            WouldWork::default()
                .to_string()
                .starts_with("No reference would work")
        );
    }

    #[test]
    fn settings_problems_join_their_path() {
        let p = SettingsProblem::new(
            "sampler.argument",
            SdkFault::RatioArgument {
                value: "1.5".into(),
                sampler: "traceidratio".into(),
            },
        );
        assert_eq!(
            p.to_string(),
            "sampler.argument: \"1.5\" is not a number in [0, 1], which sampler type \"traceidratio\" requires (for example \"0.25\")"
        );
        let missing = SettingsProblem::new(
            "instrumentations[0].metadata.name",
            Fault::Missing(MissingField::InstrumentationName),
        );
        assert!(
            missing
                .to_string()
                .starts_with("instrumentations[0].metadata.name is missing;")
        );
        let whole = SettingsProblem::new("", Fault::NotAnObject { found: "a list" });
        assert!(whole.to_string().starts_with("settings must be an object"));
    }
}
