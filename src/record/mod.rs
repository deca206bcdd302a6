//! What a pod records about its instrumentation: what it got, or why it got nothing.
//!
//! The record is a set of pod annotations under the policy's own prefix
//! ([`crate::keys::RECORD_PREFIX`]), written whole with the injection (or, under
//! `failureAction: admit`, instead of it) and read by the audit role:
//!
//! - injected: `injected: "true"`, the `instrumentation` (`namespace/name`, or `(default)`), its
//!   `version` ([`version`]), the `hash` of what the plan wrote into the pod spec ([`hash`]), the
//!   `image` and the `containers`;
//! - asked but not injected: `injected: "false"` and the one-line `reason`.
//!
//! The hash is computed from the plan the policy applies ([`digest`] over the plan's
//! serialization, walked field by field by [`typed`]), and in the audit from the same parts of
//! the pod the API server stored ([`carried`]): equal when the pod carries what was recorded.

pub mod carried;
mod core_types;
pub mod digest;
pub mod typed;

use std::collections::BTreeMap;

use crate::catalog::{Origin, Resolved};
use crate::inject::Plan;
use crate::instrumentation::InstrumentationSpec;
use crate::keys::{
    RECORD_CONTAINERS, RECORD_HASH, RECORD_IMAGE, RECORD_INJECTED, RECORD_INSTRUMENTATION,
    RECORD_REASON, RECORD_VERSION,
};
use crate::pod::PodView;

/// How the record names the settings' top-level (default) instrumentation.
pub const DEFAULT_INSTRUMENTATION: &str = "(default)";

/// The longest reason recorded, in characters (a refusal that lists many references is cut).
pub const REASON_MAX: usize = 512;

/// Annotations to set (`Some`) or remove (`None`).
pub type Changes = Vec<(&'static str, Option<String>)>;

/// How the record names an instrumentation: `namespace/name`, or `(default)`.
pub fn instrumentation(resolved: &Resolved) -> String {
    match &resolved.origin {
        Origin::Default => DEFAULT_INSTRUMENTATION.to_string(),
        Origin::Named { namespace, name } => {
            let mut out = String::with_capacity(namespace.len() + 1 + name.len());
            for part in [namespace.as_str(), "/", name] {
                out.push_str(part);
            }
            out
        }
    }
}

/// The instrumentation's version: `<uid>/<generation>` of an object read from the cluster,
/// `spec:<digest>` of the checked and defaulted spec of one in the settings (the Python part: the
/// other languages' sections are not read, and do not change it).
pub fn version(resolved: &Resolved) -> String {
    match &resolved.revision {
        Some(r) => format!("{}/{}", r.uid, r.generation),
        None => {
            let spec = &*resolved.spec;
            spec_version(typed::spec(spec), spec)
        }
    }
}

/// The version `spec:<digest>` of `spec`, its digest computed field by field (debug builds check
/// it against the serde walk).
fn spec_version(digest: u64, spec: &InstrumentationSpec) -> String {
    debug_assert_eq!(digest, digest::of(spec), "the spec's two walks disagree");
    let mut out = String::with_capacity(5 + 16);
    out.push_str("spec:");
    push_hex(&mut out, digest);
    out
}

/// The hash of what the plan writes into the pod spec (the plan's serialization).
pub fn hash(plan: &Plan) -> String {
    plan_hash(typed::plan(plan), plan)
}

/// [`hash`] of `plan` computed field by field (debug builds check it against the serde walk).
fn plan_hash(digest: u64, plan: &Plan) -> String {
    debug_assert_eq!(digest, digest::of(plan), "the plan's two walks disagree");
    hex(digest)
}

/// [`version`] and [`hash`] of the injection of `resolved` that `plan` writes.
fn version_and_hash(resolved: &Resolved, plan: &Plan) -> (String, String) {
    if resolved.revision.is_some() {
        return (version(resolved), hash(plan));
    }
    let spec = &*resolved.spec;
    let (spec_digest, plan_digest) = typed::spec_and_plan(spec, plan);
    (
        spec_version(spec_digest, spec),
        plan_hash(plan_digest, plan),
    )
}

/// A digest as the record writes it: 16 lowercase hex digits.
fn hex(digest: u64) -> String {
    let mut out = String::with_capacity(16);
    push_hex(&mut out, digest);
    out
}

/// `digest` appended to `out` as 16 lowercase hex digits: each half's eight nibbles spread into
/// the eight bytes of a word, then turned into digits all at once (a nibble of 10 or more gets
/// `a`'s offset rather than `0`'s).
fn push_hex(out: &mut String, digest: u64) {
    const BYTES: u64 = 0x0101_0101_0101_0101;
    let mut digits = [0u8; 16];
    for (half, chunk) in [digest >> 32, digest & 0xffff_ffff]
        .into_iter()
        .zip(digits.chunks_exact_mut(8))
    {
        let mut spread = ((half & 0xffff_0000) << 16) | (half & 0xffff);
        spread = ((spread & 0x0000_ff00_0000_ff00) << 8) | (spread & 0x0000_00ff_0000_00ff);
        spread = ((spread & 0x00f0_00f0_00f0_00f0) << 4) | (spread & 0x000f_000f_000f_000f);
        let letters = ((spread + 6 * BYTES) >> 4) & BYTES;
        let ascii = spread + u64::from(b'0') * BYTES + letters * u64::from(b'a' - b'0' - 10);
        chunk.copy_from_slice(&ascii.to_be_bytes());
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

/// The record of `plan`, the injection of `resolved`.
pub fn injected(plan: &Plan, resolved: &Resolved) -> Changes {
    let mut containers = String::new();
    for (i, edit) in plan.edits.iter().enumerate() {
        if i > 0 {
            containers.push(',');
        }
        containers.push_str(edit.name);
    }
    let (version, hash) = version_and_hash(resolved, plan);
    Record {
        injected: "true",
        instrumentation: Some(instrumentation(resolved)),
        version: Some(version),
        hash: Some(hash),
        image: Some(plan.image().to_string()),
        containers: Some(containers),
        reason: None,
    }
    .changes()
}

/// The record of a pod admitted without instrumentation, and why.
pub fn not_injected(reason: &str) -> Changes {
    Record {
        injected: "false",
        instrumentation: None,
        version: None,
        hash: None,
        image: None,
        containers: None,
        reason: Some(one_line(reason)),
    }
    .changes()
}

/// The values of a record, one per key: every key is written, the ones without a value removed.
struct Record {
    injected: &'static str,
    instrumentation: Option<String>,
    version: Option<String>,
    hash: Option<String>,
    image: Option<String>,
    containers: Option<String>,
    reason: Option<String>,
}

impl Record {
    /// Every key of the record with its value, in the order of [`RECORD_KEYS`] (each key is named
    /// where its value is: no search by key).
    fn changes(self) -> Changes {
        let Record {
            injected,
            instrumentation,
            version,
            hash,
            image,
            containers,
            reason,
        } = self;
        vec![
            (RECORD_INJECTED, Some(injected.to_string())),
            (RECORD_INSTRUMENTATION, instrumentation),
            (RECORD_VERSION, version),
            (RECORD_HASH, hash),
            (RECORD_IMAGE, image),
            (RECORD_CONTAINERS, containers),
            (RECORD_REASON, reason),
        ]
    }
}

/// Whether `annotations` already hold exactly the record `changes` writes.
pub fn holds(annotations: &BTreeMap<String, String>, changes: &Changes) -> bool {
    changes
        .iter()
        .all(|(key, value)| annotations.get(*key) == value.as_ref())
}

/// `text` on one line (control characters and runs of spaces become one space), cut after
/// [`REASON_MAX`] characters.
pub fn one_line(text: &str) -> String {
    let words = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty());
    let mut out = String::with_capacity(text.len().min(REASON_MAX + 4));
    let mut count = 0;
    for (i, word) in words.enumerate() {
        let space = (i > 0).then_some(' ');
        for c in space.into_iter().chain(word.chars()) {
            if count == REASON_MAX {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// An injection as a pod records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    /// `namespace/name`, or `(default)`.
    pub instrumentation: String,
    /// [`version`] when it was injected.
    pub version: String,
    /// [`hash`] of what was written.
    pub hash: String,
    /// The image.
    pub image: String,
    /// The instrumented containers.
    pub containers: Vec<String>,
}

/// What a pod's annotations say about its instrumentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Nothing: the pod was not admitted through this policy (or before it recorded).
    Nothing,
    /// Admitted without instrumentation, for this reason.
    NotInjected {
        /// The recorded reason.
        reason: String,
    },
    /// Injected.
    Injected(Injected),
}

/// The record `pod` carries.
pub fn read(pod: &PodView) -> Recorded {
    let get = |key| pod.annotation(key).to_string();
    match pod.annotation(RECORD_INJECTED) {
        "true" => Recorded::Injected(Injected {
            instrumentation: get(RECORD_INSTRUMENTATION),
            version: get(RECORD_VERSION),
            hash: get(RECORD_HASH),
            image: get(RECORD_IMAGE),
            containers: pod
                .annotation(RECORD_CONTAINERS)
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        }),
        "false" => Recorded::NotInjected {
            reason: get(RECORD_REASON),
        },
        _ => Recorded::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RECORD_KEYS;

    #[test]
    fn a_digest_is_written_as_sixteen_lowercase_hex_digits() {
        let mut state = 0x0123_4567_89ab_cdefu64;
        let mut digests = vec![
            0,
            u64::MAX,
            0xa,
            0x9,
            0xf0f0_f0f0_0f0f_0f0f,
            0x0123_4567_89ab_cdef,
        ];
        for _ in 0..1000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            digests.push(state);
        }
        for d in digests {
            let mut out = String::from("x");
            push_hex(&mut out, d);
            assert_eq!(out, format!("x{d:016x}"));
        }
    }

    #[test]
    fn a_reason_is_one_line_and_short() {
        assert_eq!(one_line("a\nb\t\tc  d\r\n"), "a b c d");
        let long = "é".repeat(600);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), REASON_MAX + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line(&"x".repeat(REASON_MAX)), "x".repeat(REASON_MAX));
    }

    #[test]
    fn a_record_is_written_whole() {
        let changes = not_injected("no such instrumentation");
        let keys: Vec<&str> = changes.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys, RECORD_KEYS,
            "every key, in the order the audit lists them"
        );
        let set: Vec<_> = changes.iter().filter(|(_, v)| v.is_some()).collect();
        assert_eq!(set.len(), 2);
        let mut annotations = BTreeMap::new();
        annotations.insert(RECORD_INJECTED.to_string(), "false".to_string());
        assert!(!holds(&annotations, &changes));
        annotations.insert(
            RECORD_REASON.to_string(),
            "no such instrumentation".to_string(),
        );
        assert!(holds(&annotations, &changes));
        annotations.insert(RECORD_HASH.to_string(), "0".to_string());
        assert!(
            !holds(&annotations, &changes),
            "a key left from another record"
        );
    }
}
