//! `policy-run`: evaluate one admission request against the policy module, like `kwctl run`.
//!
//! ```text
//! policy-run --request-path FILE|- [--settings-path FILE | --settings-json JSON] [--show-patch]
//!            [--cluster FIXTURE [--write-session FILE] [--show-calls]] MODULE.wasm
//! ```
//!
//! Prints one line of JSON on stdout: the AdmissionResponse kwctl prints. Invalid settings:
//! `Error: Provided settings are not valid: <message>` on stderr, exit 1. A request that is not
//! an admission/v1 AdmissionRequest (`userInfo` missing, say) is refused before the policy runs,
//! as kwctl refuses it. `--show-patch` also prints the decoded JSON patch, pretty, on stderr.
//!
//! Cluster mode: `--cluster FIXTURE` (a `tests/inputs/clusters/*.yml` file, format in
//! `case_harness::cluster`) answers the policy's `kubernetes/*` host calls from that cluster, as
//! policy-server would; without it host calls are refused. `--write-session FILE` then writes the
//! calls as the session file of `kwctl run --allow-context-aware
//! --replay-host-capabilities-interactions FILE` (exit 1, and no file, when a call has no
//! faithful recording: the real policy-server would wait forever for it). `--show-calls` prints
//! each call on stderr, one `call: <line>` each, in the format of a case's `expect.calls`.
//!
//! `--batch FILE` (without a cluster) compiles the module once and evaluates many runs: FILE holds
//! one JSON object per line, `{"request_path": .., "settings_path": ..}` or `{"request_path": ..,
//! "settings_json": ..}` (the values of the flags of the same names; settings may be left out),
//! and each run prints one line, `{"exit": <status>, "stdout": <what the run prints on stdout>,
//! "stderr": <on stderr>}`, from a fresh instance. The Python runner
//! (`e2e-tests/python-runner/`) reads and writes the same, so that one test compares both runners
//! on every case in seconds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use e2e_tests::cluster::{Call, ClusterState};
use e2e_tests::host::{
    AdmissionResponse, CompiledPolicy, admission_response, kubewarden_admission_request,
};
use e2e_tests::input::{read_request, read_settings_file};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const USAGE: &str = "usage: policy-run --request-path FILE|- [--settings-path FILE | --settings-json JSON] [--show-patch] [--cluster FIXTURE [--write-session FILE] [--show-calls]] MODULE.wasm\n       policy-run --batch FILE [--show-patch] MODULE.wasm";

struct Args {
    request_path: String,
    batch: Option<PathBuf>,
    settings: SettingsSource,
    show_patch: bool,
    cluster: Option<PathBuf>,
    write_session: Option<PathBuf>,
    show_calls: bool,
    module: PathBuf,
}

enum SettingsSource {
    Default,
    Path(PathBuf),
    Json(String),
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut request_path = None;
    let mut batch = None;
    let mut settings = SettingsSource::Default;
    let mut show_patch = false;
    let (mut cluster, mut write_session, mut show_calls) = (None, None, false);
    let mut module = None;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) => Ok(v),
                None => bail!("{name} needs a value\n{USAGE}"),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-r" | "--request-path" => request_path = Some(value("--request-path")?),
            "-s" | "--settings-path" => {
                if !matches!(settings, SettingsSource::Default) {
                    bail!("give either --settings-path or --settings-json, not both");
                }
                settings = SettingsSource::Path(value("--settings-path")?.into());
            }
            "--settings-json" => {
                if !matches!(settings, SettingsSource::Default) {
                    bail!("give either --settings-path or --settings-json, not both");
                }
                settings = SettingsSource::Json(value("--settings-json")?);
            }
            "--show-patch" => show_patch = true,
            "--batch" => batch = Some(PathBuf::from(value("--batch")?)),
            "--cluster" => cluster = Some(value("--cluster")?.into()),
            "--write-session" => write_session = Some(value("--write-session")?.into()),
            "--show-calls" => show_calls = true,
            _ if flag.starts_with('-') && flag != "-" => bail!("unknown option {flag}\n{USAGE}"),
            _ => {
                if module.replace(PathBuf::from(&arg)).is_some() {
                    bail!("only one module path may be given\n{USAGE}");
                }
            }
        }
    }
    let request_path = match (request_path, &batch) {
        (Some(path), None) => path,
        (None, Some(_)) => String::new(),
        (None, None) => bail!("--request-path is required\n{USAGE}"),
        (Some(_), Some(_)) => bail!("--batch takes the requests from its file\n{USAGE}"),
    };
    let Some(module) = module else {
        bail!("the module path is required\n{USAGE}");
    };
    if cluster.is_none() && (write_session.is_some() || show_calls) {
        bail!("--write-session and --show-calls need --cluster\n{USAGE}");
    }
    if batch.is_some() && (cluster.is_some() || !matches!(settings, SettingsSource::Default)) {
        bail!("--batch takes no --cluster, and the settings from its file\n{USAGE}");
    }
    Ok(Some(Args {
        request_path,
        batch,
        settings,
        show_patch,
        cluster,
        write_session,
        show_calls,
        module,
    }))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    let mut module = Module::new(&args.module);
    if let Some(batch) = &args.batch {
        return run_batch(batch, &mut module, args.show_patch);
    }
    let mut out = Outcome::default();
    let result = evaluate(&args, &mut module, &mut out);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    result?;
    Ok(ExitCode::from(out.exit))
}

/// What one evaluation prints on stdout and stderr, and its exit status (a batch's record).
#[derive(Debug, Default, Serialize)]
struct Outcome {
    exit: u8,
    stdout: String,
    stderr: String,
}

/// The module, read and compiled once, on first use (after a run's inputs are read).
struct Module {
    path: PathBuf,
    compiled: Option<CompiledPolicy>,
}

impl Module {
    fn new(path: &Path) -> Self {
        Module {
            path: path.to_owned(),
            compiled: None,
        }
    }

    fn compiled(&mut self) -> Result<&CompiledPolicy> {
        if self.compiled.is_none() {
            let bytes = std::fs::read(&self.path)
                .with_context(|| format!("cannot read module {}", self.path.display()))?;
            let compiled = CompiledPolicy::compile(&bytes)
                .with_context(|| format!("module {}", self.path.display()))?;
            self.compiled = Some(compiled);
        }
        Ok(self.compiled.as_ref().expect("compiled just above"))
    }
}

fn read_settings(source: &SettingsSource) -> Result<Value> {
    Ok(match source {
        SettingsSource::Default => Value::Object(Default::default()),
        SettingsSource::Path(p) => read_settings_file(p)?,
        SettingsSource::Json(text) => {
            let v: Value = serde_json::from_str(text).context("--settings-json is not JSON")?;
            match v {
                // kwctl reads null settings as no settings.
                Value::Null => Value::Object(Default::default()),
                Value::Object(_) => v,
                _ => bail!("--settings-json must be a JSON object (or null), got: {text}"),
            }
        }
    })
}

/// One run: what it prints goes to `out`; an error is what `main` prints as `Error: ...`.
fn evaluate(args: &Args, module: &mut Module, out: &mut Outcome) -> Result<()> {
    let settings = read_settings(&args.settings)?;
    // What kwctl sends the policy: the request read as a typed AdmissionRequest.
    let request = kubewarden_admission_request(&read_request(&args.request_path)?)?;
    let cluster = match &args.cluster {
        Some(path) => Some(Arc::new(ClusterState::from_file(path)?)),
        None => None,
    };
    let compiled = module.compiled()?;
    let host = match &cluster {
        Some(c) => compiled.instantiate_with_cluster(Arc::clone(c))?,
        None => compiled.instantiate()?,
    };

    let answer = host.validate_settings(&settings)?;
    if answer.get("valid").and_then(Value::as_bool) != Some(true) {
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        writeln!(
            out.stderr,
            "Error: Provided settings are not valid: {message}"
        )?;
        out.exit = 1;
        return Ok(());
    }

    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let response = match host
        .validate(&request, &settings)
        .and_then(|v| admission_response(&request, &v))
    {
        Ok(r) => r,
        Err(e) => AdmissionResponse::internal_error(uid, &format!("{e:#}")),
    };
    writeln!(out.stdout, "{}", serde_json::to_string(&response)?)?;
    if let Some(cluster) = &cluster {
        if args.show_calls {
            for call in cluster.calls() {
                writeln!(out.stderr, "call: {}", Call::summary(&call))?;
            }
        }
        if let Some(path) = &args.write_session {
            let session = cluster.session_yaml()?;
            std::fs::write(path, session)
                .with_context(|| format!("cannot write the session {}", path.display()))?;
        }
    }
    if args.show_patch {
        match response.decoded_patch()? {
            Some(patch) => writeln!(out.stderr, "{}", serde_json::to_string_pretty(&patch)?)?,
            None => writeln!(out.stderr, "(no patch)")?,
        }
    }
    Ok(())
}

/// One line of a batch file: the request and settings flags of one run.
#[derive(Deserialize)]
struct BatchRun {
    request_path: String,
    #[serde(default)]
    settings_path: Option<PathBuf>,
    #[serde(default)]
    settings_json: Option<String>,
}

/// Every run of the batch file, one record line each (see the module's documentation).
fn run_batch(path: &Path, module: &mut Module, show_patch: bool) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read batch {}", path.display()))?;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let run: BatchRun = serde_json::from_str(line)
            .with_context(|| format!("batch {} line {}", path.display(), number + 1))?;
        let settings = match (run.settings_path, run.settings_json) {
            (None, None) => SettingsSource::Default,
            (Some(p), None) => SettingsSource::Path(p),
            (None, Some(json)) => SettingsSource::Json(json),
            (Some(_), Some(_)) => bail!(
                "batch {} line {}: give either settings_path or settings_json",
                path.display(),
                number + 1
            ),
        };
        let args = Args {
            request_path: run.request_path,
            batch: None,
            settings,
            show_patch,
            cluster: None,
            write_session: None,
            show_calls: false,
            module: module.path.clone(),
        };
        let mut out = Outcome::default();
        if let Err(e) = evaluate(&args, module, &mut out) {
            writeln!(out.stderr, "Error: {e:#}")?;
            out.exit = 1;
        }
        println!("{}", serde_json::to_string(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}
