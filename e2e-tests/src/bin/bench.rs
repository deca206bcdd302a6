//! `bench`: how fast the policy module is in a waPC/wasmtime host, as policy-server runs it.
//!
//! ```text
//! bench [--module PATH]... [--peers DIR] [--kwctl-module ANNOTATED.wasm] [--iterations N] [--quick]
//!       [--profile-native N]
//! ```
//!
//! policy-server evaluates every request in a fresh instance rehydrated from the pre-compiled,
//! pre-linked module, so in-instance caches start cold each time. The requests of tables 1 to 3
//! are the rows of [`ROWS`] (the article's pod with its settings, the same with its image moved to
//! a mirror by `imageRewrites`, the same pod without the annotation, the pod with `inject-python: "true"` and only `exporter.endpoint` set, the
//! article's Deployment), each with the answer it must get from this policy and from each peer.
//! The report, in this order:
//!
//! 1. **fresh instance** per call (instantiate + `wapc_init` + `validate` + drop, what
//!    policy-server pays), and instantiate alone, next to the peers `pod-ndots.wasm` and
//!    `noop.wasm` (same requests) and the native floor (serde_json parse + serialise of the
//!    payload), as ratios;
//! 2. **warm**: one instance kept across calls, the same requests, peers and floor, plus the same
//!    core compiled natively;
//! 3. `kwctl bench` for the same requests and peers, when `--kwctl-module` is given and kwctl is
//!    found (`KWCTL` or `PATH`). kwctl bench rehydrates one instance and calls it repeatedly, so
//!    its figures are warm, and include kwctl's own request handling and JSON-patch diff;
//! 4. growth with pod size, fresh instance ([`GROWTH_CONTAINERS`] containers x [`GROWTH_ENVS`]
//!    env vars);
//! 5. every `--module` (e.g. the cargo build against `wasm-opt -O3`): size, compile, instantiate,
//!    article pod fresh and warm;
//! 6. the speed targets ([`Row::target`], [`GROWTH_TARGET`]), each met or missed, with the ratio
//!    measured in table 1 or the time in table 4;
//! 7. the host's share of each answer: what policy-server does with the answer of this policy and
//!    of each peer (parse, diff against `mutated_object`, patch, response), natively.
//!
//! Every answer is checked against what its row expects ([`Expect`]) before it is timed: in the
//! project's host, fresh and warm, for every module, and through `kwctl run` before `kwctl bench`.
//! All rows of a table are measured in interleaved rounds (one call of each per round), so load
//! from other processes hits them alike and the ratios stay fair. Medians, p90 in brackets.
//! Peers ([`PEERS`]): `--peers DIR`, else `$PEERS_DIR` (`make bench` sets it when it finds them);
//! a missing peer is reported in one line and its columns are left out.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e_tests::host::{
    AdmissionResponse, CompiledPolicy, PolicyHost, admission_response, validate_payload,
};
use e2e_tests::input::{read_request, read_settings_file};
use e2e_tests::kwctl::{Kwctl, KwctlAnswer, TempDir};
use e2e_tests::module::{inputs_dir, module_path};
use serde_json::{Value, json};

// ---- what is measured -----------------------------------------------------------------------

/// The answer a policy must give a row. A bench that timed a refusal or an error path by mistake
/// would say nothing about the policy, so every answer is checked before it is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Allowed, with a JSON patch.
    Patch,
    /// Allowed, without a patch.
    NoPatch,
}

/// Where a row's request comes from.
#[derive(Clone, Copy, Debug)]
enum RequestFrom {
    /// A request file (AdmissionReview or AdmissionRequest), relative to the case files.
    File(&'static str),
    /// [`ARTICLE_POD`] with its `inject-python` annotation set to this value, or with no
    /// annotations at all (`None`).
    ArticlePod { inject_python: Option<&'static str> },
}

/// Where this policy's settings for a row come from.
#[derive(Clone, Copy, Debug)]
enum SettingsFrom {
    /// A settings file (YAML), relative to the case files.
    File(&'static str),
    /// JSON text.
    Json(&'static str),
}

/// One request of tables 1 to 3, for this policy and every peer.
#[derive(Debug)]
struct Row {
    /// The first column of the tables.
    label: &'static str,
    request: RequestFrom,
    settings: SettingsFrom,
    /// This policy's answer.
    ours: Expect,
    /// pod-ndots' answer: it adds `dnsConfig` to pods and leaves other kinds alone.
    pod_ndots: Expect,
    /// noop's answer: it accepts everything unchanged.
    noop: Expect,
    /// The issue's speed target for this row, fresh instance: at most `at_most` times `peer`.
    target: Option<Target>,
}

/// A speed target: this policy's fresh-instance median at most `at_most` times a peer's.
#[derive(Clone, Copy, Debug)]
struct Target {
    peer: &'static str,
    at_most: f64,
}

const ARTICLE_POD: &str = "requests/article-pod.json";
const ARTICLE_SETTINGS: SettingsFrom = SettingsFrom::File("settings/article.yaml");

/// The rows of tables 1 to 3, in the tables' order. Table 5 times the first.
static ROWS: [Row; 5] = [
    Row {
        label: "article pod, article settings",
        request: RequestFrom::File(ARTICLE_POD),
        settings: ARTICLE_SETTINGS,
        ours: Expect::Patch,
        pod_ndots: Expect::Patch,
        noop: Expect::NoPatch,
        target: Some(Target {
            peer: "pod-ndots",
            at_most: 1.0,
        }),
    },
    Row {
        label: "article pod, article settings with imageRewrites",
        request: RequestFrom::File(ARTICLE_POD),
        settings: SettingsFrom::File("settings/article-mirror.yaml"),
        ours: Expect::Patch,
        pod_ndots: Expect::Patch,
        noop: Expect::NoPatch,
        target: None,
    },
    Row {
        label: "pod without the annotation, article settings",
        request: RequestFrom::ArticlePod {
            inject_python: None,
        },
        settings: ARTICLE_SETTINGS,
        ours: Expect::NoPatch,
        pod_ndots: Expect::Patch,
        noop: Expect::NoPatch,
        target: Some(Target {
            peer: "noop",
            at_most: 1.2,
        }),
    },
    Row {
        label: "pod with inject-python \"true\", only exporter.endpoint set",
        request: RequestFrom::ArticlePod {
            inject_python: Some("true"),
        },
        settings: SettingsFrom::Json(
            r#"{"exporter": {"endpoint": "http://otel-collector.monitor.svc:4318"}}"#,
        ),
        ours: Expect::Patch,
        pod_ndots: Expect::Patch,
        noop: Expect::NoPatch,
        target: None,
    },
    Row {
        label: "the article's Deployment (checked, not patched), article settings",
        request: RequestFrom::File("requests/article-deployment.json"),
        settings: ARTICLE_SETTINGS,
        ours: Expect::NoPatch,
        pod_ndots: Expect::NoPatch,
        noop: Expect::NoPatch,
        target: Some(Target {
            peer: "noop",
            at_most: 1.5,
        }),
    },
];

/// A peer policy: `<name>.wasm` in the peers' folder, its settings (JSON), and its answer to a row.
struct PeerSpec {
    name: &'static str,
    settings: &'static str,
    answer: fn(&Row) -> Expect,
}

/// The peers, in the tables' column order.
static PEERS: [PeerSpec; 2] = [
    PeerSpec {
        name: "pod-ndots",
        // Its one setting: the minimum ndots it enforces.
        settings: r#"{"ndots": 2}"#,
        answer: |row| row.pod_ndots,
    },
    PeerSpec {
        name: "noop",
        settings: "{}",
        answer: |row| row.noop,
    },
];

/// Table 4: generated pods of each number of env vars per container (outer) and containers
/// (inner), in this order, with the article's settings; every container is targeted, so every
/// pod must be patched.
const GROWTH_ENVS: [usize; 2] = [10, 100];
const GROWTH_CONTAINERS: [usize; 3] = [1, 10, 50];
const GROWTH_SETTINGS: SettingsFrom = ARTICLE_SETTINGS;
const GROWTH_EXPECT: Expect = Expect::Patch;
/// The growth table's target: the largest pod (50 containers x 100 env vars), fresh instance,
/// under this many milliseconds.
const GROWTH_TARGET: (usize, usize, f64) = (50, 100, 5.0);

// ---- arguments ------------------------------------------------------------------------------

struct Opts {
    modules: Vec<PathBuf>,
    peers: Option<PathBuf>,
    kwctl_module: Option<PathBuf>,
    iterations: usize,
    quick: bool,
    /// Only loop the native core on the article's payload this many times (for perf/callgrind).
    profile_native: Option<usize>,
    /// `--try REQUEST SETTINGS`: only the fresh-instance and warm medians of these requests
    /// (files), for every `--module`, next to noop; for finding where the time goes.
    tries: Vec<(PathBuf, PathBuf)>,
    /// `--fresh-calls N`: with one `--try`, only N fresh-instance calls of the first module and
    /// nothing else (run under `valgrind --tool=callgrind` to count instructions per call).
    fresh_calls: Option<usize>,
    /// `--perf-map`: with `--fresh-calls`, that module is compiled in an engine that writes a perf
    /// map naming its compiled functions ([`CompiledPolicy::compile_with_perf_map`]), for
    /// `e2e-tests/bench/wasm-profile.sh`.
    perf_map: bool,
}

impl Opts {
    fn warmup(&self) -> usize {
        (self.iterations / 10).max(10)
    }
}

const USAGE: &str = "usage: bench [--module PATH]... [--peers DIR] [--kwctl-module ANNOTATED.wasm] [--iterations N] [--quick] [--profile-native N] [--try REQUEST SETTINGS]... [--fresh-calls N [--perf-map]]";

fn parse_opts() -> Result<Opts> {
    let mut o = Opts {
        modules: Vec::new(),
        peers: None,
        kwctl_module: None,
        iterations: 2000,
        quick: false,
        profile_native: None,
        tries: Vec::new(),
        fresh_calls: None,
        perf_map: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--module" => o.modules.push(value("--module")?.into()),
            "--peers" => o.peers = Some(value("--peers")?.into()),
            "--kwctl-module" => o.kwctl_module = Some(value("--kwctl-module")?.into()),
            "--iterations" => o.iterations = value("--iterations")?.parse()?,
            "--quick" => o.quick = true,
            "--profile-native" => o.profile_native = Some(value("--profile-native")?.parse()?),
            "--fresh-calls" => o.fresh_calls = Some(value("--fresh-calls")?.parse()?),
            "--perf-map" => o.perf_map = true,
            "--try" => {
                let request = value("--try")?.into();
                o.tries.push((request, value("--try")?.into()));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if o.perf_map && o.fresh_calls.is_none() {
        bail!("--perf-map goes with --fresh-calls N and one --try\n{USAGE}");
    }
    if o.modules.is_empty() {
        o.modules.push(module_path());
    }
    if o.quick {
        o.iterations = o.iterations.min(200);
    }
    Ok(o)
}

fn main() -> Result<()> {
    let opts = parse_opts()?;
    if let Some(count) = opts.profile_native {
        return profile_native(&opts, count);
    }
    let policies = load_policies(&opts)?;
    if let (Some(calls), [(request, settings)]) = (opts.fresh_calls, opts.tries.as_slice()) {
        let compile = if opts.perf_map {
            CompiledPolicy::compile_with_perf_map
        } else {
            CompiledPolicy::compile
        };
        return fresh_calls(&opts.modules[0], compile, (request, settings), calls);
    }
    if !opts.tries.is_empty() {
        return tries(&opts, &policies.peers);
    }
    let work = workloads()?;
    print_header(&opts, &policies.path);
    let measured = work
        .iter()
        .map(|w| measure_row(&policies, w, opts.iterations, opts.warmup()))
        .collect::<Result<Vec<_>>>()?;
    fresh_table(&policies, &measured);
    warm_table(&policies, &measured);
    kwctl_table(&opts, &policies, &work)?;
    let growth = growth_table(&policies.ours, opts.iterations)?;
    builds_table(&opts, &work[0])?;
    targets_table(&policies, &measured, &growth);
    answers_table(&policies, &work, opts.iterations, opts.warmup());
    Ok(())
}

// ---- timing ---------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    p90: Duration,
}

impl Stats {
    fn us(&self) -> f64 {
        self.median.as_secs_f64() * 1e6
    }
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    Stats {
        median: times[times.len() / 2],
        p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
    }
}

/// Run `warmup` rounds, then `n` timed rounds; each round calls every function once, in turn.
fn interleaved(warmup: usize, n: usize, fs: &mut [Box<dyn FnMut() + '_>]) -> Vec<Stats> {
    for _ in 0..warmup {
        for f in fs.iter_mut() {
            f();
        }
    }
    let mut times: Vec<Vec<Duration>> = fs.iter().map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
            let start = Instant::now();
            f();
            t.push(start.elapsed());
        }
    }
    times.into_iter().map(stats).collect()
}

fn fmt_us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} us")
    } else {
        format!("{us:.1} us")
    }
}

fn cell(s: &Stats) -> String {
    format!("{} ({})", fmt_us(s.median), fmt_us(s.p90))
}

fn ratio(a: &Stats, b: &Stats) -> String {
    format!("{:.1}x", a.us() / b.us())
}

fn floor(payload: &[u8]) {
    let v: Value = serde_json::from_slice(black_box(payload)).unwrap();
    black_box(serde_json::to_vec(&v).unwrap());
}

fn native_core(payload: &[u8]) {
    black_box(otel_python_policy::admission::validate(black_box(payload)).to_json());
}

// ---- modules, peers and requests ------------------------------------------------------------

/// How a module is compiled: [`CompiledPolicy::compile`], or
/// [`CompiledPolicy::compile_with_perf_map`] for `--perf-map`.
type Compile = fn(&[u8]) -> Result<CompiledPolicy>;

/// A module compiled once, from which instances are made.
struct Module {
    name: String,
    compiled: CompiledPolicy,
}

impl Module {
    /// The module at `path` compiled with `compile` (`CompiledPolicy::compile` but for
    /// `--perf-map`).
    fn load(name: &str, path: &Path, compile: Compile) -> Result<Module> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Module {
            name: name.to_owned(),
            compiled: compile(&bytes).with_context(|| format!("module {}", path.display()))?,
        })
    }

    /// What policy-server does per request: a fresh instance, one call, dropped.
    fn fresh_call(&self, payload: &[u8]) -> Vec<u8> {
        let host = self.compiled.instantiate().expect("instantiate");
        host.call("validate", payload).expect("validate")
    }
}

/// A peer found in the peers' folder.
struct Peer {
    spec: &'static PeerSpec,
    path: PathBuf,
    module: Module,
    settings: Value,
}

/// What tables 1 to 4 measure: this policy (the last `--module`) and the peers found.
struct Policies {
    path: PathBuf,
    ours: Module,
    peers: Vec<Peer>,
}

fn load_policies(opts: &Opts) -> Result<Policies> {
    let path = opts.modules.last().unwrap().clone();
    let ours = Module::load("this policy", &path, CompiledPolicy::compile)?;
    let dir = opts.peers.clone().or_else(|| {
        std::env::var_os("PEERS_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    });
    let mut peers = Vec::new();
    for spec in &PEERS {
        let path = dir.as_ref().map(|d| d.join(format!("{}.wasm", spec.name)));
        match path.filter(|p| p.is_file()) {
            Some(path) => peers.push(Peer {
                spec,
                module: Module::load(spec.name, &path, CompiledPolicy::compile)?,
                settings: serde_json::from_str(spec.settings)?,
                path,
            }),
            None => println!(
                "peer {}: not found in {} (set PEERS_DIR or --peers); its columns are left out\n",
                spec.name,
                dir.as_ref()
                    .map_or("no folder".into(), |d| d.display().to_string())
            ),
        }
    }
    Ok(Policies { path, ours, peers })
}

/// One row, loaded: its request, this policy's settings and `validate` payload.
struct Workload {
    row: &'static Row,
    request: Value,
    settings: Value,
    payload: Vec<u8>,
}

fn workloads() -> Result<Vec<Workload>> {
    ROWS.iter()
        .map(|row| {
            let request = request_of(row.request)?;
            let settings = settings_of(row.settings)?;
            Ok(Workload {
                row,
                payload: validate_payload(&request, &settings),
                request,
                settings,
            })
        })
        .collect()
}

fn request_of(from: RequestFrom) -> Result<Value> {
    let file = |rel: &str| read_request(inputs_dir().join(rel).to_str().context("path")?);
    match from {
        RequestFrom::File(rel) => file(rel),
        RequestFrom::ArticlePod { inject_python } => {
            let mut request = file(ARTICLE_POD)?;
            let metadata = request["object"]["metadata"]
                .as_object_mut()
                .context("the article's pod has no metadata")?;
            match inject_python {
                Some(v) => {
                    metadata["annotations"]["instrumentation.opentelemetry.io/inject-python"] =
                        json!(v)
                }
                None => drop(metadata.remove("annotations")),
            }
            Ok(request)
        }
    }
}

fn settings_of(from: SettingsFrom) -> Result<Value> {
    match from {
        SettingsFrom::File(rel) => read_settings_file(&inputs_dir().join(rel)),
        SettingsFrom::Json(text) => Ok(serde_json::from_str(text)?),
    }
}

/// A Deployment-style pod in `default` with `containers` containers of `envs` env vars each,
/// every container targeted through python-container-names.
fn generated_pod(containers: usize, envs: usize) -> Value {
    let names: Vec<String> = (0..containers).map(|i| format!("app-{i}")).collect();
    let containers: Vec<Value> = names
        .iter()
        .map(|name| {
            let env: Vec<Value> = (0..envs)
                .map(|j| json!({"name": format!("APP_SETTING_{j}"), "value": format!("value-{j}-of-{name}")}))
                .collect();
            json!({
                "name": name,
                "image": format!("registry.example.com/bench/{name}:1.2.3"),
                "ports": [{"containerPort": 8000, "protocol": "TCP"}],
                "env": env,
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
            })
        })
        .collect();
    json!({
        "uid": "bench-0000",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
        "object": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": "bench-7d9c8b6f5d-",
                "namespace": "default",
                "labels": {"app": "bench", "pod-template-hash": "7d9c8b6f5d"},
                "annotations": {
                    "instrumentation.opentelemetry.io/inject-python": "monitor/python-instrumentation",
                    "instrumentation.opentelemetry.io/python-container-names": names.join(","),
                },
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "bench-7d9c8b6f5d", "uid": "6f1f2a3b-1111-4222-8333-444455556666",
                    "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": {"containers": containers, "restartPolicy": "Always"},
        },
    })
}

// ---- answer checks --------------------------------------------------------------------------

/// `who`'s AdmissionResponse is the `expected` kind of answer; returns the patch size in bytes.
fn check_response(who: &str, response: &AdmissionResponse, expected: Expect) -> Result<usize> {
    if !response.allowed {
        bail!(
            "{who} refused the request ({expected:?} expected): {:?}",
            response.status
        );
    }
    let patch = response.decoded_patch()?;
    let got = if patch.is_some() {
        Expect::Patch
    } else {
        Expect::NoPatch
    };
    if got != expected {
        bail!("{who}: {expected:?} expected, got {got:?} ({patch:?})");
    }
    Ok(patch.map_or(0, |p| serde_json::to_vec(&p).map_or(0, |v| v.len())))
}

/// `who`'s raw `validate` answer to `request` is the `expected` kind; returns the patch size.
fn check_answer(who: &str, request: &Value, answer: &[u8], expected: Expect) -> Result<usize> {
    let answer: Value = serde_json::from_slice(answer)
        .with_context(|| format!("{who}: the validate answer is not JSON"))?;
    check_response(who, &admission_response(request, &answer)?, expected)
}

/// A fresh instance's answer and a warm instance's first answer are both `expected`; returns
/// the patch size.
fn check_module(
    module: &Module,
    warm: &PolicyHost,
    request: &Value,
    payload: &[u8],
    expected: Expect,
) -> Result<usize> {
    let fresh = format!("{} (fresh instance)", module.name);
    let patch = check_answer(&fresh, request, &module.fresh_call(payload), expected)?;
    let warm_name = format!("{} (warm instance)", module.name);
    check_answer(
        &warm_name,
        request,
        &warm.call("validate", payload)?,
        expected,
    )?;
    Ok(patch)
}

// ---- tables 1 and 2: fresh instance and warm, measured in the same rounds -------------------

/// One row of tables 1 and 2. Peer figures are in [`Policies::peers`]' order.
struct Measured<'w> {
    work: &'w Workload,
    patch: usize,
    fresh: Stats,
    instantiate: Stats,
    fresh_peers: Vec<Stats>,
    warm: Stats,
    warm_peers: Vec<Stats>,
    native: Stats,
    floor: Stats,
}

fn measure_row<'w>(p: &Policies, w: &'w Workload, n: usize, warmup: usize) -> Result<Measured<'w>> {
    let warm_ours = p.ours.compiled.instantiate()?;
    let patch = check_module(&p.ours, &warm_ours, &w.request, &w.payload, w.row.ours)?;
    let mut peer_payloads = Vec::new();
    let mut warm_peers = Vec::new();
    for peer in &p.peers {
        let payload = validate_payload(&w.request, &peer.settings);
        let warm = peer.module.compiled.instantiate()?;
        let expected = (peer.spec.answer)(w.row);
        check_module(&peer.module, &warm, &w.request, &payload, expected)?;
        peer_payloads.push(payload);
        warm_peers.push(warm);
    }
    let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
    fs.push(Box::new(|| {
        drop(black_box(p.ours.fresh_call(black_box(&w.payload))))
    }));
    fs.push(Box::new(|| {
        drop(black_box(p.ours.compiled.instantiate().unwrap()))
    }));
    for (peer, payload) in p.peers.iter().zip(&peer_payloads) {
        fs.push(Box::new(move || {
            drop(black_box(peer.module.fresh_call(black_box(payload))))
        }));
    }
    fs.push(Box::new(|| {
        drop(black_box(
            warm_ours.call("validate", black_box(&w.payload)).unwrap(),
        ))
    }));
    for (host, payload) in warm_peers.iter().zip(&peer_payloads) {
        fs.push(Box::new(move || {
            drop(black_box(
                host.call("validate", black_box(payload)).unwrap(),
            ))
        }));
    }
    fs.push(Box::new(|| native_core(&w.payload)));
    fs.push(Box::new(|| floor(&w.payload)));
    let s = interleaved(warmup, n, &mut fs);
    let k = p.peers.len();
    Ok(Measured {
        work: w,
        patch,
        fresh: s[0],
        instantiate: s[1],
        fresh_peers: s[2..2 + k].to_vec(),
        warm: s[2 + k],
        warm_peers: s[3 + k..3 + 2 * k].to_vec(),
        native: s[3 + 2 * k],
        floor: s[4 + 2 * k],
    })
}

fn print_header(opts: &Opts, primary: &Path) {
    println!("## Policy module benchmark\n");
    println!(
        "`{}`; {} timed rounds after {} warm-up rounds; medians of single calls (p90 in brackets). \
         Machine: {} CPUs ({}), load average {}.\n",
        primary.display(),
        opts.iterations,
        opts.warmup(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// ` name |` for every peer, prefixed.
fn peer_columns(p: &Policies, prefix: &str) -> String {
    p.peers
        .iter()
        .map(|peer| format!(" {prefix}{} |", peer.spec.name))
        .collect()
}

fn fresh_table(p: &Policies, rows: &[Measured]) {
    println!("### 1. Fresh instance per call (what policy-server does for every request)\n");
    println!(
        "| request | payload | patch | this policy: instantiate + validate | of which instantiate |{}{} vs native floor |",
        peer_columns(p, ""),
        peer_columns(p, "vs ")
    );
    println!(
        "|---|---|---|---|---|{}---|",
        "---|".repeat(2 * p.peers.len())
    );
    for m in rows {
        print!(
            "| {} | {} B | {} B | {} | {} |",
            m.work.row.label,
            m.work.payload.len(),
            m.patch,
            cell(&m.fresh),
            cell(&m.instantiate)
        );
        for s in &m.fresh_peers {
            print!(" {} |", cell(s));
        }
        for s in &m.fresh_peers {
            print!(" {} |", ratio(&m.fresh, s));
        }
        println!(" {} |", ratio(&m.fresh, &m.floor));
    }
    println!();
}

fn warm_table(p: &Policies, rows: &[Measured]) {
    println!("### 2. Warm: one instance kept across calls\n");
    println!(
        "| request | this policy: validate |{} native core | native floor |{} vs native core | vs native floor |",
        peer_columns(p, ""),
        peer_columns(p, "vs ")
    );
    let peers = "---|".repeat(p.peers.len());
    println!("|---|---|{peers}---|---|---|---|{peers}");
    for m in rows {
        print!("| {} | {} |", m.work.row.label, cell(&m.warm));
        for s in &m.warm_peers {
            print!(" {} |", cell(s));
        }
        print!(" {} | {} |", cell(&m.native), cell(&m.floor));
        for s in &m.warm_peers {
            print!(" {} |", ratio(&m.warm, s));
        }
        println!(
            " {} | {} |",
            ratio(&m.warm, &m.native),
            ratio(&m.warm, &m.floor)
        );
    }
    println!();
}

// ---- table 3: kwctl bench -------------------------------------------------------------------

fn kwctl_table(opts: &Opts, p: &Policies, work: &[Workload]) -> Result<()> {
    println!(
        "### 3. `kwctl bench` (one instance per run, so warm; medians as kwctl prints them)\n"
    );
    let (annotated, kwctl) = match (&opts.kwctl_module, Kwctl::locate()?) {
        (None, _) => {
            println!(
                "kwctl bench skipped: give --kwctl-module ANNOTATED.wasm (make bench does when kwctl is found)\n"
            );
            return Ok(());
        }
        (Some(_), None) => {
            println!("kwctl bench skipped: kwctl not found (set KWCTL or put kwctl on PATH)\n");
            return Ok(());
        }
        (Some(annotated), Some(kwctl)) => (annotated, kwctl),
    };
    println!(
        "| request | this policy |{}{}",
        peer_columns(p, ""),
        peer_columns(p, "vs ")
    );
    println!("|---|---|{}", "---|".repeat(2 * p.peers.len()));
    for w in work {
        let mut runs = vec![(annotated.as_path(), &w.settings, w.row.ours, "this policy")];
        for peer in &p.peers {
            let expected = (peer.spec.answer)(w.row);
            runs.push((
                peer.path.as_path(),
                &peer.settings,
                expected,
                peer.spec.name,
            ));
        }
        let mut medians = Vec::new();
        for (module, settings, expected, who) in runs {
            check_kwctl_answer(&kwctl, module, who, &w.request, settings, expected)?;
            medians.push(kwctl_bench(
                &kwctl, module, &w.request, settings, opts.quick,
            )?);
        }
        print!("| {} |", w.row.label);
        for m in &medians {
            print!(" {} |", fmt_us(*m));
        }
        for t in &medians[1..] {
            print!(" {:.1}x |", medians[0].as_secs_f64() / t.as_secs_f64());
        }
        println!();
    }
    println!(
        "\n`kwctl {}` bench --warm-up-time 1 --measurement-time {} --num-samples 50, same requests and settings.\n",
        kwctl.version(),
        if opts.quick { 1 } else { 3 }
    );
    Ok(())
}

/// `kwctl run`'s answer is the `expected` kind, so that `kwctl bench` times the right path.
fn check_kwctl_answer(
    kwctl: &Kwctl,
    module: &Path,
    who: &str,
    request: &Value,
    settings: &Value,
    expected: Expect,
) -> Result<()> {
    let who = format!("{who} (kwctl run)");
    match kwctl.run(module, request, settings)? {
        KwctlAnswer::Response(r) => check_response(&who, &r, expected).map(drop),
        KwctlAnswer::SettingsRefused { message } => {
            bail!("{who}: the settings were refused: {message}")
        }
    }
}

/// The median of `kwctl bench`'s `validate` benchmark for one request and policy.
fn kwctl_bench(
    kwctl: &Kwctl,
    module: &Path,
    request: &Value,
    settings: &Value,
    quick: bool,
) -> Result<Duration> {
    let dir = TempDir::new("kwctl-bench")?;
    let request_path = dir.path().join("request.json");
    std::fs::write(&request_path, serde_json::to_vec(request)?)?;
    let (warm_up, measure) = if quick { ("1", "1") } else { ("1", "3") };
    let out = kwctl
        .command("bench")
        .args([
            "--warm-up-time",
            warm_up,
            "--measurement-time",
            measure,
            "--num-samples",
            "50",
        ])
        .arg("--request-path")
        .arg(&request_path)
        .arg("--settings-json")
        .arg(settings.to_string())
        .arg(module)
        .stdin(Stdio::null())
        .output()
        .context("cannot run kwctl bench")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "kwctl bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rfind(|l| l.starts_with("Error"))
                .unwrap_or("")
        );
    }
    parse_kwctl_bench(&stdout).with_context(|| format!("kwctl bench output: {stdout}"))
}

/// `validate [N iterations in Xs with M samples]:` then a line with `(sample data: med = 102.16µs, ...)`.
/// kwctl bench colours its output whatever `--no-color` says: ANSI escapes are dropped first.
fn parse_kwctl_bench(stdout: &str) -> Result<Duration> {
    let stdout = strip_ansi(stdout);
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("validate ["));
    lines.next().context("no `validate [` line")?;
    let line = lines.next().context("no line after `validate [`")?;
    let med = line
        .split("med = ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .context("no `med = ` on the line")?
        .trim();
    let (number, unit) = med.split_at(
        med.find(|c: char| c.is_alphabetic() || c == 'µ')
            .context("no unit")?,
    );
    let n: f64 = number.parse().context("median is not a number")?;
    let scale = match unit {
        "ns" => 1e-9,
        "µs" | "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        other => bail!("unknown unit {other}"),
    };
    Ok(Duration::from_secs_f64(n * scale))
}

// ---- table 4: growth with pod size ----------------------------------------------------------

/// One generated pod of table 4.
struct Growth {
    containers: usize,
    envs: usize,
    payload: usize,
    fresh: Stats,
}

fn growth_table(ours: &Module, n: usize) -> Result<Vec<Growth>> {
    println!("### 4. Growth with pod size, fresh instance per call\n");
    println!(
        "| pod | payload | patch | instantiate + validate | warm validate | native floor | fresh vs floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    let settings = settings_of(GROWTH_SETTINGS)?;
    let warm = ours.compiled.instantiate()?;
    let mut growth = Vec::new();
    for envs in GROWTH_ENVS {
        for containers in GROWTH_CONTAINERS {
            let request = generated_pod(containers, envs);
            let payload = validate_payload(&request, &settings);
            let patch = check_module(ours, &warm, &request, &payload, GROWTH_EXPECT)?;
            // Fewer rounds for big pods, so that the table takes seconds, not minutes.
            let rounds = (n * 2000 / payload.len()).clamp(30, n);
            let mut fs: Vec<Box<dyn FnMut() + '_>> = vec![
                Box::new(|| drop(black_box(ours.fresh_call(black_box(&payload))))),
                Box::new(|| {
                    drop(black_box(
                        warm.call("validate", black_box(&payload)).unwrap(),
                    ))
                }),
                Box::new(|| floor(&payload)),
            ];
            let s = interleaved((rounds / 10).max(3), rounds, &mut fs);
            println!(
                "| {containers} container(s) x {envs} env | {} B | {patch} B | {} | {} | {} | {} |",
                payload.len(),
                cell(&s[0]),
                cell(&s[1]),
                cell(&s[2]),
                ratio(&s[0], &s[2])
            );
            growth.push(Growth {
                containers,
                envs,
                payload: payload.len(),
                fresh: s[0],
            });
        }
    }
    println!();
    growth_summary(&growth);
    Ok(growth)
}

/// Cost per added container between the sizes of [`GROWTH_CONTAINERS`], and per payload KiB.
fn growth_summary(growth: &[Growth]) {
    let [c0, c1, c2] = GROWTH_CONTAINERS;
    println!(
        "| env per container | us per container {c0}->{c1} | us per container {c1}->{c2} | us per payload KiB at {c0} / {c1} / {c2} |"
    );
    println!("|---|---|---|---|");
    for envs in GROWTH_ENVS {
        let at = |c: usize| {
            growth
                .iter()
                .find(|g| g.containers == c && g.envs == envs)
                .unwrap()
        };
        let (a, b, c) = (at(c0), at(c1), at(c2));
        let kib = |g: &Growth| g.fresh.us() / (g.payload as f64 / 1024.0);
        println!(
            "| {envs} | {:.1} | {:.1} | {:.1} / {:.1} / {:.1} |",
            (b.fresh.us() - a.fresh.us()) / (c1 - c0) as f64,
            (c.fresh.us() - b.fresh.us()) / (c2 - c1) as f64,
            kib(a),
            kib(b),
            kib(c)
        );
    }
    println!();
}

// ---- table 6: the targets -------------------------------------------------------------------

/// Each target, met or missed, from the medians measured above. A target whose peer was not found
/// is reported as not measured.
fn targets_table(p: &Policies, rows: &[Measured], growth: &[Growth]) {
    println!("\n### 6. Targets (fresh instance, medians of this run)\n");
    println!("| target | measured | result |");
    println!("|---|---|---|");
    for m in rows {
        let Some(t) = m.work.row.target else { continue };
        let goal = format!("{}: at most {:.1}x {}", m.work.row.label, t.at_most, t.peer);
        match p.peers.iter().position(|peer| peer.spec.name == t.peer) {
            Some(i) => {
                let x = m.fresh.us() / m.fresh_peers[i].us();
                println!("| {goal} | {x:.2}x | {} |", verdict(x <= t.at_most));
            }
            None => println!("| {goal} | | not measured: {} not found |", t.peer),
        }
    }
    let (containers, envs, ms) = GROWTH_TARGET;
    if let Some(g) = growth
        .iter()
        .find(|g| g.containers == containers && g.envs == envs)
    {
        let took = g.fresh.us() / 1000.0;
        println!(
            "| {containers} containers x {envs} env vars: under {ms:.0} ms | {took:.1} ms | {} |",
            verdict(took < ms)
        );
    }
    println!();
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

// ---- table 7: the host's share of each answer ----------------------------------------------

/// What policy-server does with a policy's answer before it writes the response, natively, as
/// the case harness does it (after policy-evaluator): parse the answer, diff the object against
/// `mutated_object`, encode the patch, serialise the AdmissionResponse.
fn host_share(request: &Value, answer: &[u8]) {
    let answer: Value = serde_json::from_slice(black_box(answer)).unwrap();
    let response = admission_response(black_box(request), &answer).unwrap();
    black_box(serde_json::to_vec(&response).unwrap());
}

/// Table 7: per request, each policy's answer (size) and the host's share of it, measured in
/// interleaved rounds.
fn answers_table(p: &Policies, work: &[Workload], n: usize, warmup: usize) {
    println!("### 7. The host's share of each answer\n");
    println!(
        "What policy-server does with a policy's answer before it writes the response: parse it, \
         diff the object against `mutated_object`, encode the patch, serialise the \
         AdmissionResponse. Done natively as the case harness does it, medians of single calls \
         (p90 in brackets). It grows with the patch, outside the module.\n"
    );
    let columns: String = p
        .peers
        .iter()
        .map(|peer| format!(" {0}: answer | {0}: host's share |", peer.spec.name))
        .collect();
    println!("| request | this policy: answer | this policy: host's share |{columns}");
    println!("|---|---|---|{}", "---|---|".repeat(p.peers.len()));
    for w in work {
        let mut answers = vec![p.ours.fresh_call(&w.payload)];
        for peer in &p.peers {
            let payload = validate_payload(&w.request, &peer.settings);
            answers.push(peer.module.fresh_call(&payload));
        }
        let mut fs: Vec<Box<dyn FnMut() + '_>> = answers
            .iter()
            .map(|a| Box::new(|| host_share(&w.request, a)) as Box<dyn FnMut()>)
            .collect();
        let s = interleaved(warmup, n, &mut fs);
        print!("| {} |", w.row.label);
        for (answer, s) in answers.iter().zip(&s) {
            print!(" {} B | {} |", answer.len(), cell(s));
        }
        println!();
    }
    println!();
}

// ---- table 5: the builds --------------------------------------------------------------------

/// One `--module`: its size, compile time and the compiled module.
struct Build {
    path: PathBuf,
    size: usize,
    compile: Stats,
    module: Module,
}

fn load_build(path: &Path, compile_runs: usize) -> Result<Build> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let compile = stats(
        (0..compile_runs)
            .map(|_| {
                let t = Instant::now();
                black_box(CompiledPolicy::compile(&bytes).unwrap());
                t.elapsed()
            })
            .collect(),
    );
    Ok(Build {
        path: path.to_owned(),
        size: bytes.len(),
        compile,
        module: Module::load(&path.display().to_string(), path, CompiledPolicy::compile)?,
    })
}

/// Every `--module` on `w` (the article's pod): instantiate, fresh call, warm call.
fn builds_table(opts: &Opts, w: &Workload) -> Result<()> {
    println!("### 5. Builds\n");
    let compile_runs = if opts.quick { 2 } else { 5 };
    println!(
        "| module | size | compile ({compile_runs} runs) | instantiate | article pod, fresh | article pod, warm |"
    );
    println!("|---|---|---|---|---|---|");
    let builds: Vec<Build> = opts
        .modules
        .iter()
        .map(|path| load_build(path, compile_runs))
        .collect::<Result<_>>()?;
    let mut warm = Vec::new();
    for b in &builds {
        let host = b.module.compiled.instantiate()?;
        check_module(&b.module, &host, &w.request, &w.payload, w.row.ours)?;
        warm.push(host);
    }
    let payload = &w.payload;
    let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
    for (b, h) in builds.iter().zip(&warm) {
        fs.push(Box::new(move || {
            drop(black_box(b.module.compiled.instantiate().unwrap()))
        }));
        fs.push(Box::new(move || {
            drop(black_box(b.module.fresh_call(black_box(payload))))
        }));
        fs.push(Box::new(move || {
            drop(black_box(h.call("validate", black_box(payload)).unwrap()))
        }));
    }
    let s = interleaved(opts.warmup(), opts.iterations, &mut fs);
    for (i, b) in builds.iter().enumerate() {
        println!(
            "| `{}` | {} B ({:.1} KiB) | {} | {} | {} | {} |",
            b.path.display(),
            b.size,
            b.size as f64 / 1024.0,
            fmt_us(b.compile.median),
            cell(&s[3 * i]),
            cell(&s[3 * i + 1]),
            cell(&s[3 * i + 2])
        );
    }
    Ok(())
}

// ---- the diagnostic modes: --profile-native, --fresh-calls, --try ----------------------------

/// `--profile-native N`: the native core on one payload N times (the first `--try`, else the
/// article's pod with its settings), nothing else.
fn profile_native(opts: &Opts, count: usize) -> Result<()> {
    let payload = match opts.tries.first() {
        Some((request, settings)) => validate_payload(
            &read_request(request.to_str().context("path")?)?,
            &read_settings_file(settings)?,
        ),
        None => validate_payload(
            &request_of(RequestFrom::File(ARTICLE_POD))?,
            &settings_of(ARTICLE_SETTINGS)?,
        ),
    };
    for _ in 0..count {
        native_core(&payload);
    }
    Ok(())
}

/// `--fresh-calls N` with one `--try`: N fresh-instance calls of `module` compiled with
/// `compile`, nothing else.
fn fresh_calls(
    module: &Path,
    compile: Compile,
    (request, settings): (&Path, &Path),
    calls: usize,
) -> Result<()> {
    let module = Module::load("module", module, compile)?;
    let req = read_request(request.to_str().context("path")?)?;
    let payload = validate_payload(&req, &read_settings_file(settings)?);
    for _ in 0..calls {
        drop(black_box(module.fresh_call(black_box(&payload))));
    }
    Ok(())
}

/// `--try`: fresh and warm medians of each given request, for every module, next to noop.
fn tries(opts: &Opts, peers: &[Peer]) -> Result<()> {
    let modules: Vec<Module> = opts
        .modules
        .iter()
        .map(|p| Module::load(&p.display().to_string(), p, CompiledPolicy::compile))
        .collect::<Result<_>>()?;
    let noop = peers
        .iter()
        .find(|p| p.spec.name == "noop")
        .map(|p| &p.module);
    println!("| request | module | fresh | warm | fresh / noop fresh |\n|---|---|---|---|---|");
    for (request, settings) in &opts.tries {
        let req = read_request(request.to_str().context("path")?)?;
        let payload = validate_payload(&req, &read_settings_file(settings)?);
        let warm: Vec<PolicyHost> = modules
            .iter()
            .map(|m| m.compiled.instantiate())
            .collect::<Result<_>>()?;
        let noop_payload = validate_payload(&req, &json!({}));
        let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
        for (m, h) in modules.iter().zip(&warm) {
            fs.push(Box::new(|| {
                drop(black_box(m.fresh_call(black_box(&payload))))
            }));
            fs.push(Box::new(|| {
                drop(black_box(h.call("validate", black_box(&payload)).unwrap()))
            }));
        }
        if let Some(noop) = noop {
            fs.push(Box::new(|| {
                drop(black_box(noop.fresh_call(black_box(&noop_payload))))
            }));
        }
        let s = interleaved(opts.warmup(), opts.iterations, &mut fs);
        let noop_us = noop.map(|_| s[s.len() - 1].us());
        for (i, m) in opts.modules.iter().enumerate() {
            let (fresh, warm) = (s[2 * i], s[2 * i + 1]);
            println!(
                "| {} | {} | {:.1} us | {:.1} us | {} |",
                request.display(),
                m.file_name().unwrap_or_default().to_string_lossy(),
                fresh.us(),
                warm.us(),
                noop_us.map_or("-".into(), |u| format!("{:.2}x", fresh.us() / u))
            );
        }
    }
    Ok(())
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_of_another_kind_than_the_rows_is_an_error() {
        let request = json!({"uid": "u", "object": {"a": 1}});
        let patched = json!({"accepted": true, "mutated_object": {"a": 2}});
        let unchanged = json!({"accepted": true});
        let refused = json!({"accepted": false, "message": "no"});
        let check = |answer: &Value, expected| {
            check_answer("p", &request, answer.to_string().as_bytes(), expected)
        };
        assert!(check(&patched, Expect::Patch).unwrap() > 0);
        assert_eq!(check(&unchanged, Expect::NoPatch).unwrap(), 0);
        assert!(check(&patched, Expect::NoPatch).is_err());
        assert!(check(&unchanged, Expect::Patch).is_err());
        for expected in [Expect::Patch, Expect::NoPatch] {
            let e = check(&refused, expected).unwrap_err().to_string();
            assert!(e.contains("refused"), "{e}");
        }
    }

    #[test]
    fn kwctl_bench_median_is_read_from_the_validate_block() {
        let out = "validate_settings [146.4 thousand iterations in 1.98s with 100.0 samples]:\n\
            \telapsed\t[min mean max]:\t[13.23µs 13.51µs 19.82µs] (sample data: med = 13.38µs, var = 450.22µs², stddev = 670.98ns)\n\
            validate [20.2 thousand iterations in 2.07s with 100.0 samples]:\n\
            \telapsed\t[min mean max]:\t[99.43µs 102.33µs 110.29µs] (sample data: med = 102.16µs, var = 1.50ms², stddev = 1.23µs)\n";
        let d = parse_kwctl_bench(out).unwrap();
        assert!((d.as_secs_f64() - 102.16e-6).abs() < 1e-9, "{d:?}");
        assert!(parse_kwctl_bench("validate_settings [1]:\n").is_err());
        let coloured = "\u{1b}[1;32mvalidate\u{1b}[0m [10 iterations]:\n\t(sample data: med = \u{1b}[0;97m1.5ms\u{1b}[0m, var)\n";
        assert_eq!(
            parse_kwctl_bench(coloured).unwrap(),
            Duration::from_micros(1500)
        );
    }

    /// `make wasm-profile`'s parser and report (`bench/wasm_profile.py`) on a small callgrind
    /// output written by hand in the shape callgrind 3.19 writes with `--dump-instr=yes`
    /// (compressed names, relative and absolute positions, call lines, wasm entered from the host,
    /// wasm calling a libcall, loader code outside the perf map): a real profile takes minutes of
    /// callgrind, too slow for `make test`, and this keeps the script's arithmetic checked. The
    /// expected report was checked by hand against the sample's figures.
    #[test]
    fn the_wasm_profile_script_reads_a_callgrind_sample() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/testdata");
        let module = wat::parse_str(
            r#"(module (func $helper) (func $wapc_init (export "wapc_init"))
                 (func $__guest_call (export "__guest_call") (param i32 i32) (result i32)
                   i32.const 1))"#,
        )
        .unwrap();
        let path = std::env::temp_dir().join(format!("wasm-profile-{}.wasm", std::process::id()));
        std::fs::write(&path, module).unwrap();
        let out = std::process::Command::new("python3")
            .arg(data.join("../wasm_profile.py"))
            .arg(data.join("sample.callgrind"))
            .arg(data.join("sample.perf-map"))
            .args(["2".as_ref(), path.as_os_str(), "5".as_ref()])
            .output()
            .expect("python3");
        std::fs::remove_file(&path).unwrap();
        let report = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read_to_string(data.join("sample.expected")).unwrap();
        assert_eq!(report, expected, "report:\n{report}");
    }
}
