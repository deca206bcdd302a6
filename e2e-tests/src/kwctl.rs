//! The real `kwctl run` as a backend: one AdmissionRequest and one settings object in, the
//! AdmissionResponse kwctl prints (or its settings refusal) out.
//!
//! ```no_run
//! use e2e_tests::kwctl::{Kwctl, KwctlAnswer};
//! use serde_json::json;
//! let Some(kwctl) = Kwctl::locate().unwrap() else { return };
//! let request = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
//!     "resource": {"group": "", "version": "v1", "resource": "pods"},
//!     "operation": "CREATE", "userInfo": {}, "object": {}});
//! match kwctl.run("annotated-policy.wasm".as_ref(), &request, &json!({})).unwrap() {
//!     KwctlAnswer::Response(r) => println!("allowed: {}", r.allowed),
//!     KwctlAnswer::SettingsRefused { message } => println!("refused: {message}"),
//! }
//! ```
//!
//! What kwctl 1.36 does, read from its sources (kubewarden-controller `crates/kwctl`) and
//! checked by `tests/kwctl.rs`:
//!
//! - it reads the request file as JSON, takes `.request` of an AdmissionReview, and deserialises
//!   it into its typed `AdmissionRequest` (`uid`, `kind`, `resource`, `operation`, `userInfo`
//!   required; unknown fields dropped) before building the `validate` payload itself;
//! - settings (`--settings-json`, or `--settings-path` read as YAML) must be an object or null;
//! - it calls `validate_settings` first. Refused settings: nothing on stdout, exit status 1, and
//!   on stderr, after the log lines, `Error: Provided settings are not valid: <message>` (the
//!   message verbatim, newlines included), then nothing more when `RUST_BACKTRACE` is off;
//! - otherwise it prints one line on stdout, the AdmissionResponse, and exits 0.
//!
//! Speed: a run costs about 1 s on a machine without network, almost all of it kwctl trying to
//! fetch the Sigstore trust root (DNS retries) before giving up with a warning. The backend
//! passes `--sigstore-trust-config` with a file that has no `trustedRoot`: kwctl then skips the
//! fetch and goes on without a trust root, exactly as after a failed fetch (the same warning;
//! signatures are not verified by `run` unless asked for). That brings a run to about 30 ms.
//! kwctl keeps compiled modules in wasmtime's cache (`~/.cache/wasmtime`), so only the first
//! run of a module compiles it.
//!
//! Cluster mode ([`Kwctl::run_with`] with [`RunOptions::replay_session`]): `kwctl run
//! --allow-context-aware --replay-host-capabilities-interactions FILE` grants the module's own
//! `contextAwareResources` ([`Kwctl::context_aware_resources`]) and answers each host call that
//! reaches its callback handler with the next entry of the session file (written by
//! [`crate::cluster::ClusterState::session_yaml`]), which must be that exact request, field for
//! field. A request that differs, or one after the last entry, fails in the guest, and entries
//! left over are reported on stderr ([`REPLAY_MISMATCH`]): each makes the run an error here, so
//! that a passing run is one whose host calls were exactly the session's, in order. Calls refused before the handler (the host-capability gate,
//! the contextAwareResources allow list, a payload that does not parse) are answered by kwctl
//! itself with policy-server's words, and are not in the session.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cluster::ApiVersionKind;
use crate::host::AdmissionResponse;

/// What kwctl answered for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum KwctlAnswer {
    /// The AdmissionResponse kwctl printed on stdout (exit status 0).
    Response(AdmissionResponse),
    /// `validate_settings` refused the settings: the policy's message, as kwctl printed it.
    SettingsRefused { message: String },
}

/// The prefix kwctl puts before the policy's settings message (`crates/kwctl/src/command/run.rs`).
pub const SETTINGS_REFUSED_PREFIX: &str = "Error: Provided settings are not valid: ";

/// Settings longer than this go through a temporary file (`--settings-path`) instead of the
/// command line (`--settings-json`): one argument may not exceed 128 KiB on Linux.
const SETTINGS_JSON_ARG_LIMIT: usize = 100_000;

/// What `kwctl run` is given besides the module, the request and the settings.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// A session file's text: passed with `--allow-context-aware
    /// --replay-host-capabilities-interactions`.
    pub replay_session: Option<String>,
    /// `--allowed-host-capabilities` patterns; kwctl's default is `*`.
    pub host_capabilities: Option<Vec<String>>,
    /// `--sources-path`: a sources file (`insecure_sources`, `source_authorities`) for the
    /// registries the policy's `oci/*` host calls reach.
    pub sources_path: Option<PathBuf>,
}

/// What kwctl says on stderr when a replayed session and the guest's calls differ: a request
/// other than the next entry's (`Replay error: unexpected request ...`), one after the last
/// (`the list of recorded responses is empty`), both also what the guest reads after
/// `Callback evaluation failure: `, or entries left over at the end (`... have not been replayed`).
pub const REPLAY_MISMATCH: [&str; 3] = [
    "Replay error",
    "recorded responses is empty",
    "have not been replayed",
];

/// A located kwctl program.
#[derive(Debug)]
pub struct Kwctl {
    program: PathBuf,
    version: String,
    dir: TempDir,
}

impl Kwctl {
    /// `$KWCTL` when it is set and not empty (an error if it does not run), else `kwctl` on
    /// `PATH`; `Ok(None)` when neither exists (`KWCTL=` set to nothing also means "none").
    pub fn locate() -> Result<Option<Kwctl>> {
        let program = match std::env::var_os("KWCTL") {
            Some(p) if p.is_empty() => return Ok(None),
            Some(p) => PathBuf::from(p),
            None => match find_on_path("kwctl") {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        Self::at(program).map(Some)
    }

    /// kwctl for a test: [`Kwctl::locate`]'s. Without one, `None` and one `SKIPPED:` line on
    /// stdout (once per test binary), unless `REQUIRE_REAL_RUNTIME` is set (not empty, not `0`),
    /// which makes that a panic; a kwctl that does not run is a panic too.
    pub fn for_tests() -> Option<Kwctl> {
        match Kwctl::locate() {
            Ok(Some(k)) => Some(k),
            Ok(None) => {
                let line =
                    "SKIPPED: kwctl not found (set KWCTL=/path/to/kwctl or put kwctl on PATH)";
                assert!(
                    std::env::var_os("REQUIRE_REAL_RUNTIME")
                        .is_none_or(|v| v.is_empty() || v == "0"),
                    "{line}, and REQUIRE_REAL_RUNTIME is set"
                );
                static ONCE: std::sync::Once = std::sync::Once::new();
                ONCE.call_once(|| println!("{line}"));
                None
            }
            Err(e) => panic!("{e:#}"),
        }
    }

    /// The kwctl at `program`; fails when it does not run or does not say it is kwctl.
    pub fn at(program: impl Into<PathBuf>) -> Result<Kwctl> {
        let program = program.into();
        let out = Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run kwctl at {}", program.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let version = stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("kwctl "))
            .map(str::trim)
            .filter(|_| out.status.success())
            .ok_or_else(|| {
                anyhow!(
                    "{} --version printed {:?}, expected \"kwctl <version>\"",
                    program.display(),
                    stdout.lines().next().unwrap_or_default()
                )
            })?
            .to_owned();
        let dir = TempDir::new("kwctl")?;
        // No `trustedRoot`: kwctl skips the Sigstore TUF fetch (see the module documentation).
        std::fs::write(dir.path().join("sigstore-trust-config.json"), "{}\n")?;
        Ok(Kwctl {
            program,
            version,
            dir,
        })
    }

    /// The program that is run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// kwctl's version, as `kwctl --version` prints it (`1.36.0-beta.1`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A `kwctl SUBCOMMAND` with the environment this backend relies on: no colours, no
    /// backtraces after the error line, and the trust config that avoids the Sigstore fetch
    /// (for `run` and `bench`, which accept it).
    pub fn command(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .arg("--no-color")
            .arg(subcommand);
        if subcommand == "run" || subcommand == "bench" {
            cmd.arg("--sigstore-trust-config")
                .arg(self.dir.path().join("sigstore-trust-config.json"));
        }
        cmd
    }

    /// `kwctl run` of `module` (a path to an annotated module) on `request` (an
    /// AdmissionRequest, or an AdmissionReview whose `.request` kwctl takes) with `settings`.
    /// Errors are kwctl failures other than refused settings (for example a request kwctl
    /// cannot read as an AdmissionRequest); their message carries kwctl's error line.
    pub fn run(&self, module: &Path, request: &Value, settings: &Value) -> Result<KwctlAnswer> {
        self.run_with(module, request, settings, &RunOptions::default())
    }

    /// [`Kwctl::run`] with `options`. With a session, a run whose host calls did not replay it
    /// exactly (see the module documentation) is an error that carries kwctl's stderr.
    pub fn run_with(
        &self,
        module: &Path,
        request: &Value,
        settings: &Value,
        options: &RunOptions,
    ) -> Result<KwctlAnswer> {
        let module = std::path::absolute(module)
            .with_context(|| format!("module path {}", module.display()))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let request_path = self.dir.path().join(format!("request-{n}.json"));
        std::fs::write(&request_path, serde_json::to_vec(request)?)?;
        let mut cmd = self.command("run");
        cmd.arg("--request-path").arg(&request_path);
        if let Some(sources) = &options.sources_path {
            cmd.arg("--sources-path").arg(sources);
        }
        if let Some(patterns) = &options.host_capabilities {
            // One flag with every pattern (it may not be repeated), ended by the next flag.
            cmd.arg("--allowed-host-capabilities").args(patterns);
        }
        let session_path = self.dir.path().join(format!("session-{n}.yml"));
        if let Some(session) = &options.replay_session {
            std::fs::write(&session_path, session)?;
            cmd.arg("--allow-context-aware")
                .arg("--replay-host-capabilities-interactions")
                .arg(&session_path);
        }
        let settings_text = serde_json::to_string(settings)?;
        let settings_path = self.dir.path().join(format!("settings-{n}.json"));
        let settings_file = settings_text.len() > SETTINGS_JSON_ARG_LIMIT;
        if settings_file {
            // JSON is YAML: kwctl reads the file with serde_yaml into the same JSON value.
            std::fs::write(&settings_path, &settings_text)?;
            cmd.arg("--settings-path").arg(&settings_path);
        } else {
            cmd.arg("--settings-json").arg(&settings_text);
        }
        let mut uri = OsString::from("file://");
        uri.push(module.as_os_str());
        cmd.arg(uri);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.program.display()));
        let _ = std::fs::remove_file(&request_path);
        let _ = std::fs::remove_file(&session_path);
        if settings_file {
            let _ = std::fs::remove_file(&settings_path);
        }
        let out = out?;
        let stdout = String::from_utf8(out.stdout).context("kwctl's stdout is not UTF-8")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if options.replay_session.is_some()
            && let Some(said) = REPLAY_MISMATCH.iter().find(|m| stderr.contains(*m))
        {
            bail!(
                "kwctl's host calls did not replay the session exactly ({said:?}):\n{stderr}\nsession:\n{}",
                options.replay_session.as_deref().unwrap_or_default()
            );
        }
        parse_run_output(out.status.code(), &stdout, &stderr)
    }

    /// The `contextAwareResources` of an annotated module, as `kwctl inspect` reads its metadata:
    /// what `kwctl run --allow-context-aware` grants.
    pub fn context_aware_resources(&self, module: &Path) -> Result<Vec<ApiVersionKind>> {
        let out = self
            .command("inspect")
            .arg("-o")
            .arg("yaml")
            .arg(module)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        if !out.status.success() {
            bail!(
                "kwctl inspect {}: {}",
                module.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Metadata {
            #[serde(default)]
            context_aware_resources: Vec<ApiVersionKind>,
        }
        let metadata: Metadata = serde_yaml::from_slice(&out.stdout)
            .with_context(|| format!("kwctl inspect -o yaml {}", module.display()))?;
        Ok(metadata.context_aware_resources)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Turn what `kwctl run` printed into an answer (see the module documentation for the format).
pub fn parse_run_output(status: Option<i32>, stdout: &str, stderr: &str) -> Result<KwctlAnswer> {
    if status == Some(0) {
        let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
        let (Some(line), None) = (lines.next(), lines.next()) else {
            bail!("kwctl run exited 0 but did not print exactly one line on stdout: {stdout:?}");
        };
        let printed: Value = serde_json::from_str(line)
            .with_context(|| format!("kwctl's stdout is not JSON: {line}"))?;
        let response: AdmissionResponse = serde_json::from_value(printed.clone())
            .with_context(|| format!("kwctl's stdout is not an AdmissionResponse: {line}"))?;
        // Every field kwctl printed must be one the host's AdmissionResponse models: otherwise
        // comparing the two would silently ignore it.
        let reprinted = serde_json::to_value(&response)?;
        if reprinted != printed {
            bail!(
                "kwctl printed an AdmissionResponse with fields the host does not model:\n  kwctl: {printed}\n  host:  {reprinted}"
            );
        }
        return Ok(KwctlAnswer::Response(response));
    }
    if let Some(message) = settings_refusal(stderr) {
        if !stdout.trim().is_empty() {
            bail!("kwctl refused the settings but printed on stdout: {stdout:?}");
        }
        if status != Some(1) {
            bail!("kwctl refused the settings with exit status {status:?}, expected 1");
        }
        return Ok(KwctlAnswer::SettingsRefused { message });
    }
    bail!(
        "kwctl run failed (exit status {status:?}): {}",
        error_line(stderr).unwrap_or("no `Error:` line on stderr")
    )
}

/// The policy's message from kwctl's stderr: everything after the last
/// `Error: Provided settings are not valid: ` at the start of a line, without the final newline
/// and without anyhow's `Caused by:` / `Stack backtrace:` sections, if any.
pub fn settings_refusal(stderr: &str) -> Option<String> {
    let start =
        line_start_of_last(stderr, SETTINGS_REFUSED_PREFIX)? + SETTINGS_REFUSED_PREFIX.len();
    let mut message = &stderr[start..];
    for tail in ["\n\nCaused by:", "\n\nStack backtrace:"] {
        if let Some(i) = message.find(tail) {
            message = &message[..i];
        }
    }
    Some(message.strip_suffix('\n').unwrap_or(message).to_owned())
}

/// kwctl's own error line (`Error: ...`), for failures that are not a settings refusal.
fn error_line(stderr: &str) -> Option<&str> {
    let start = line_start_of_last(stderr, "Error: ")?;
    stderr[start..].lines().next()
}

fn line_start_of_last(text: &str, prefix: &str) -> Option<usize> {
    if let Some(i) = text.rfind(&format!("\n{prefix}")) {
        return Some(i + 1);
    }
    text.starts_with(prefix).then_some(0)
}

/// `name` in one of the `PATH` directories, if it is there and executable.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A directory under the system's temporary directory, removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "otel-python-policy-{label}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str =
        "\u{1b}[2m2026-12-01T09:57:31Z\u{1b}[0m  WARN kwctl: Cannot create Sigstore trust root\n";

    #[test]
    fn a_settings_refusal_is_read_from_the_last_error_line_with_its_newlines() {
        let stderr = format!(
            "{LOG}{SETTINGS_REFUSED_PREFIX}a: \"x\" is wrong; use \"y\"\nb: unknown field `c`\n"
        );
        assert_eq!(
            parse_run_output(Some(1), "", &stderr).unwrap(),
            KwctlAnswer::SettingsRefused {
                message: "a: \"x\" is wrong; use \"y\"\nb: unknown field `c`".into()
            }
        );
    }

    #[test]
    fn a_backtrace_after_the_message_is_not_part_of_it() {
        let stderr =
            format!("{LOG}{SETTINGS_REFUSED_PREFIX}bad\n\nStack backtrace:\n   0: <unknown>\n");
        assert_eq!(settings_refusal(&stderr).as_deref(), Some("bad"));
    }

    #[test]
    fn the_prefix_inside_a_log_line_is_not_a_refusal() {
        let stderr = format!("{LOG}  INFO x: {SETTINGS_REFUSED_PREFIX}in a log line\n");
        assert_eq!(settings_refusal(&stderr), None);
        let err = parse_run_output(Some(1), "", &stderr).unwrap_err();
        assert!(err.to_string().contains("no `Error:` line"), "{err}");
    }

    #[test]
    fn other_failures_carry_kwctls_error_line() {
        let stderr = format!(
            "{LOG}Error: cannot build AdmissionRequest object from given input: missing field `uid`\n"
        );
        let err = parse_run_output(Some(1), "", &stderr).unwrap_err();
        assert!(err.to_string().contains("missing field `uid`"), "{err}");
    }

    #[test]
    fn a_response_line_is_parsed_and_must_be_fully_modelled() {
        let line = r#"{"uid":"u","allowed":false,"status":{"message":"no","code":400},"auditAnnotations":null,"warnings":["w"]}"#;
        let KwctlAnswer::Response(r) =
            parse_run_output(Some(0), &format!("{line}\n"), LOG).unwrap()
        else {
            panic!("expected a response");
        };
        assert!(!r.allowed);
        assert_eq!(r.warnings, Some(vec!["w".to_owned()]));
        let extra = r#"{"uid":"u","allowed":false,"status":{"message":"no","reason":"Forbidden"},"auditAnnotations":null,"warnings":null}"#;
        let err = parse_run_output(Some(0), extra, "").unwrap_err();
        assert!(err.to_string().contains("does not model"), "{err}");
    }

    #[test]
    fn two_lines_on_stdout_are_an_error() {
        let line = r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":null}"#;
        assert!(parse_run_output(Some(0), &format!("{line}\n{line}\n"), "").is_err());
    }
}
