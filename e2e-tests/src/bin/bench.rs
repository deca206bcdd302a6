//! `bench`: how fast the policy module is in a waPC/wasmtime host, as policy-server runs it.
//!
//! ```text
//! bench [--module PATH]... [--peers DIR] [--kwctl-module ANNOTATED.wasm] [--iterations N] [--quick]
//!       [--profile-native N]
//! ```
//!
//! policy-server evaluates every request in a fresh instance rehydrated from the pre-compiled,
//! pre-linked module, so in-instance caches start cold each time. The report, in this order:
//!
//! 1. **fresh instance** per call (instantiate + `wapc_init` + `validate` + drop, what
//!    policy-server pays), and instantiate alone, for three requests: the article's pod with its
//!    settings, the same pod without the annotation, and the pod with `inject-python: "true"`
//!    and settings `{}`; next to the peers `pod-ndots.wasm` and `noop.wasm` (same requests) and
//!    the native floor (serde_json parse + serialise of the payload), as ratios;
//! 2. **warm**: one instance kept across calls, the same requests, peers and floor, plus the same
//!    core compiled natively;
//! 3. `kwctl bench` for the same requests and peers, when `--kwctl-module` is given and kwctl is
//!    found (`KWCTL` or `PATH`). kwctl bench rehydrates one instance and calls it repeatedly, so
//!    its figures are warm, and include kwctl's own request handling and JSON-patch diff;
//! 4. growth with pod size, fresh instance (1, 10, 50 containers x 10, 100 env vars);
//! 5. every `--module` (e.g. the cargo build against `wasm-opt -O3`): size, compile, instantiate,
//!    article pod fresh and warm.
//!
//! All rows of a table are measured in interleaved rounds (one call of each per round), so load
//! from other processes hits them alike and the ratios stay fair. Medians, p90 in brackets.
//! Peers: `--peers DIR`, else `$PEERS_DIR`, else `../shared/kubewarden` beside the checkout; a
//! missing peer is reported in one line and its columns are left out.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e_tests::host::{CompiledPolicy, PolicyHost, admission_response, validate_payload};
use e2e_tests::input::{read_request, read_settings_file};
use e2e_tests::kwctl::{Kwctl, TempDir};
use e2e_tests::module::{inputs_dir, module_path, workspace_root};
use serde_json::{Value, json};

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
}

const USAGE: &str = "usage: bench [--module PATH]... [--peers DIR] [--kwctl-module ANNOTATED.wasm] [--iterations N] [--quick] [--profile-native N] [--try REQUEST SETTINGS]... [--fresh-calls N]";

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
    if o.modules.is_empty() {
        o.modules.push(module_path());
    }
    if o.quick {
        o.iterations = o.iterations.min(200);
    }
    Ok(o)
}

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

/// A module compiled once, from which instances are made.
struct Module {
    name: String,
    compiled: CompiledPolicy,
}

impl Module {
    fn load(name: &str, path: &Path) -> Result<Module> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Module {
            name: name.to_owned(),
            compiled: CompiledPolicy::compile(&bytes)
                .with_context(|| format!("module {}", path.display()))?,
        })
    }

    /// What policy-server does per request: a fresh instance, one call, dropped.
    fn fresh_call(&self, payload: &[u8]) -> Vec<u8> {
        let host = self.compiled.instantiate().expect("instantiate");
        host.call("validate", payload).expect("validate")
    }
}

/// One request for every policy: its `validate` payload for this policy and for each peer.
struct Workload {
    name: String,
    request: Value,
    payload: Vec<u8>,
    /// (settings for this policy, as JSON text), kept for kwctl bench.
    settings: Value,
}

fn peer_settings(peer: &str) -> Value {
    match peer {
        // pod-ndots' one setting: the minimum ndots it enforces.
        "pod-ndots" => json!({"ndots": 2}),
        _ => json!({}),
    }
}

fn set_annotation(request: &mut Value, value: Option<&str>) {
    let annotations = &mut request["object"]["metadata"]["annotations"];
    match value {
        Some(v) => annotations["instrumentation.opentelemetry.io/inject-python"] = json!(v),
        None => *annotations = Value::Null,
    }
    if annotations.is_null() {
        request["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
    }
}

fn workloads(article: &Value, article_settings: &Value) -> Result<Vec<Workload>> {
    let mut plain = article.clone();
    set_annotation(&mut plain, None);
    let mut inject_true = article.clone();
    set_annotation(&mut inject_true, Some("true"));
    let deployment = read_request(
        inputs_dir()
            .join("requests/article-deployment.json")
            .to_str()
            .unwrap(),
    )?;
    Ok([
        (
            "article pod, article settings",
            article.clone(),
            article_settings.clone(),
        ),
        (
            "pod without the annotation, article settings",
            plain,
            article_settings.clone(),
        ),
        (
            "pod with inject-python \"true\", only exporter.endpoint set",
            inject_true,
            json!({"exporter": {"endpoint": "http://otel-collector.monitor.svc:4318"}}),
        ),
        (
            "the article's Deployment (checked, not patched), article settings",
            deployment,
            article_settings.clone(),
        ),
    ]
    .into_iter()
    .map(|(name, request, settings)| Workload {
        name: name.to_owned(),
        payload: validate_payload(&request, &settings),
        request,
        settings,
    })
    .collect())
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

fn floor(payload: &[u8]) {
    let v: Value = serde_json::from_slice(black_box(payload)).unwrap();
    black_box(serde_json::to_vec(&v).unwrap());
}

fn native_core(payload: &[u8]) {
    black_box(otel_python_policy::admission::validate(black_box(payload)).to_json());
}

/// Sanity: the call succeeds, and the answer is the one expected (otherwise we would time an
/// error path). Returns the patch size in bytes.
fn check_answer(module: &Module, request: &Value, payload: &[u8], mutates: bool) -> Result<usize> {
    let answer: Value = serde_json::from_slice(&module.fresh_call(payload))?;
    let resp = admission_response(request, &answer)?;
    if !resp.allowed {
        bail!("{} refused the request: {:?}", module.name, resp.status);
    }
    let patch = resp.decoded_patch()?;
    if patch.is_some() != mutates {
        bail!(
            "{}: patch {}expected, got {patch:?}",
            module.name,
            if mutates { "" } else { "not " }
        );
    }
    Ok(patch
        .map(|p| serde_json::to_vec(&p).map(|v| v.len()).unwrap_or(0))
        .unwrap_or(0))
}

fn locate_peers(opt: Option<PathBuf>) -> Vec<(String, PathBuf)> {
    let dir = opt
        .or_else(|| {
            std::env::var_os("PEERS_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| workspace_root().join("../shared/kubewarden"));
    let mut found = Vec::new();
    for name in ["pod-ndots", "noop"] {
        let path = dir.join(format!("{name}.wasm"));
        if path.is_file() {
            found.push((name.to_owned(), path));
        } else {
            println!(
                "peer {name}: not found at {} (set PEERS_DIR or --peers); its columns are left out\n",
                path.display()
            );
        }
    }
    found
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

/// `--try`: fresh and warm medians of each given request, for every module, next to noop.
fn tries(opts: &Opts, peers: &[(String, Module, PathBuf)], n: usize, warmup: usize) -> Result<()> {
    let modules: Vec<Module> = opts
        .modules
        .iter()
        .map(|p| Module::load(&p.display().to_string(), p))
        .collect::<Result<_>>()?;
    let noop = peers.iter().find(|p| p.0 == "noop").map(|p| &p.1);
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
        let s = interleaved(warmup, n, &mut fs);
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

fn main() -> Result<()> {
    let opts = parse_opts()?;
    let article_settings = read_settings_file(&inputs_dir().join("settings/article.yaml"))?;
    let article = read_request(
        inputs_dir()
            .join("requests/article-pod.json")
            .to_str()
            .unwrap(),
    )?;
    if let Some(count) = opts.profile_native {
        let payload = match opts.tries.first() {
            Some((request, settings)) => validate_payload(
                &read_request(request.to_str().context("path")?)?,
                &read_settings_file(settings)?,
            ),
            None => validate_payload(&article, &article_settings),
        };
        for _ in 0..count {
            native_core(&payload);
        }
        return Ok(());
    }
    let n = opts.iterations;
    let warmup = (n / 10).max(10);
    let primary_path = opts.modules.last().unwrap().clone();
    let ours = Module::load("this policy", &primary_path)?;
    let peers: Vec<(String, Module, PathBuf)> = locate_peers(opts.peers.clone())
        .into_iter()
        .map(|(name, path)| Ok((name.clone(), Module::load(&name, &path)?, path)))
        .collect::<Result<_>>()?;
    if let (Some(calls), [(request, settings)]) = (opts.fresh_calls, opts.tries.as_slice()) {
        let module = Module::load("module", &opts.modules[0])?;
        let req = read_request(request.to_str().context("path")?)?;
        let payload = validate_payload(&req, &read_settings_file(settings)?);
        for _ in 0..calls {
            drop(black_box(module.fresh_call(black_box(&payload))));
        }
        return Ok(());
    }
    if !opts.tries.is_empty() {
        return tries(&opts, &peers, n, warmup);
    }
    let work = workloads(&article, &article_settings)?;

    println!("## Policy module benchmark\n");
    println!(
        "`{}`; {n} timed rounds after {warmup} warm-up rounds; medians of single calls (p90 in brackets). \
         Machine: {} CPUs ({}), load average {}.\n",
        primary_path.display(),
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

    // ---- fresh instance and warm, interleaved in the same rounds ----
    let peer_names: Vec<&str> = peers.iter().map(|p| p.0.as_str()).collect();
    let mut fresh_rows = Vec::new();
    let mut warm_rows = Vec::new();
    for w in &work {
        // Pods that ask for instrumentation are patched; the others, and workloads, are not.
        let mutates = !w.name.starts_with("pod without") && !w.name.contains("Deployment");
        let patch = check_answer(&ours, &w.request, &w.payload, mutates)?;
        let peer_payloads: Vec<Vec<u8>> = peers
            .iter()
            .map(|(name, m, _)| {
                let payload = validate_payload(&w.request, &peer_settings(name));
                check_answer(
                    m,
                    &w.request,
                    &payload,
                    name == "pod-ndots" && !w.name.contains("Deployment"),
                )
                .map(|_| payload)
            })
            .collect::<Result<_>>()?;
        let warm_ours: PolicyHost = ours.compiled.instantiate()?;
        let warm_peers: Vec<PolicyHost> = peers
            .iter()
            .map(|(_, m, _)| m.compiled.instantiate())
            .collect::<Result<_>>()?;
        let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
        fs.push(Box::new(|| {
            drop(black_box(ours.fresh_call(black_box(&w.payload))))
        }));
        fs.push(Box::new(|| {
            drop(black_box(ours.compiled.instantiate().unwrap()))
        }));
        for ((_, m, _), p) in peers.iter().zip(&peer_payloads) {
            fs.push(Box::new(move || {
                drop(black_box(m.fresh_call(black_box(p))))
            }));
        }
        fs.push(Box::new(|| {
            drop(black_box(
                warm_ours.call("validate", black_box(&w.payload)).unwrap(),
            ))
        }));
        for (h, p) in warm_peers.iter().zip(&peer_payloads) {
            fs.push(Box::new(move || {
                drop(black_box(h.call("validate", black_box(p)).unwrap()))
            }));
        }
        fs.push(Box::new(|| native_core(&w.payload)));
        fs.push(Box::new(|| floor(&w.payload)));
        let s = interleaved(warmup, n, &mut fs);
        let k = peers.len();
        let (fresh, inst, fresh_peers) = (s[0], s[1], s[2..2 + k].to_vec());
        let (warm, warm_peers_s) = (s[2 + k], s[3 + k..3 + 2 * k].to_vec());
        let (native, fl) = (s[3 + 2 * k], s[4 + 2 * k]);
        fresh_rows.push((w, w.payload.len(), patch, fresh, inst, fresh_peers, fl));
        warm_rows.push((w, warm, warm_peers_s, native, fl));
    }

    println!("### 1. Fresh instance per call (what policy-server does for every request)\n");
    print!(
        "| request | payload | patch | this policy: instantiate + validate | of which instantiate |"
    );
    for p in &peer_names {
        print!(" {p} |");
    }
    for p in &peer_names {
        print!(" vs {p} |");
    }
    println!(" vs native floor |");
    println!(
        "|---|---|---|---|---|{}---|",
        "---|".repeat(2 * peer_names.len())
    );
    for (w, payload, patch, fresh, inst, peers_s, fl) in &fresh_rows {
        print!(
            "| {} | {payload} B | {patch} B | {} | {} |",
            w.name,
            cell(fresh),
            cell(inst)
        );
        for p in peers_s {
            print!(" {} |", cell(p));
        }
        for p in peers_s {
            print!(" {} |", ratio(fresh, p));
        }
        println!(" {} |", ratio(fresh, fl));
    }
    println!();

    println!("### 2. Warm: one instance kept across calls\n");
    print!("| request | this policy: validate |");
    for p in &peer_names {
        print!(" {p} |");
    }
    print!(" native core | native floor |");
    for p in &peer_names {
        print!(" vs {p} |");
    }
    println!(" vs native core | vs native floor |");
    println!(
        "|---|---|{}---|---|---|---|{}",
        "---|".repeat(peer_names.len()),
        "---|".repeat(peer_names.len())
    );
    for (w, warm, peers_s, native, fl) in &warm_rows {
        print!("| {} | {} |", w.name, cell(warm));
        for p in peers_s {
            print!(" {} |", cell(p));
        }
        print!(" {} | {} |", cell(native), cell(fl));
        for p in peers_s {
            print!(" {} |", ratio(warm, p));
        }
        println!(" {} | {} |", ratio(warm, native), ratio(warm, fl));
    }
    println!();

    // ---- kwctl bench ----
    println!(
        "### 3. `kwctl bench` (one instance per run, so warm; medians as kwctl prints them)\n"
    );
    match (&opts.kwctl_module, Kwctl::locate()?) {
        (None, _) => println!(
            "kwctl bench skipped: give --kwctl-module ANNOTATED.wasm (make bench does when kwctl is found)\n"
        ),
        (Some(_), None) => {
            println!("kwctl bench skipped: kwctl not found (set KWCTL or put kwctl on PATH)\n")
        }
        (Some(annotated), Some(kwctl)) => {
            print!("| request | this policy |");
            for p in &peer_names {
                print!(" {p} |");
            }
            for p in &peer_names {
                print!(" vs {p} |");
            }
            println!();
            println!("|---|---|{}", "---|".repeat(2 * peer_names.len()));
            for w in &work {
                let mine = kwctl_bench(&kwctl, annotated, &w.request, &w.settings, opts.quick)?;
                let theirs: Vec<Duration> = peers
                    .iter()
                    .map(|(name, _, path)| {
                        kwctl_bench(&kwctl, path, &w.request, &peer_settings(name), opts.quick)
                    })
                    .collect::<Result<_>>()?;
                print!("| {} | {} |", w.name, fmt_us(mine));
                for t in &theirs {
                    print!(" {} |", fmt_us(*t));
                }
                for t in &theirs {
                    print!(" {:.1}x |", mine.as_secs_f64() / t.as_secs_f64());
                }
                println!();
            }
            println!(
                "\n`kwctl {}` bench --warm-up-time 1 --measurement-time {} --num-samples 50, same requests and settings.\n",
                kwctl.version(),
                if opts.quick { 1 } else { 3 }
            );
        }
    }

    // ---- growth with pod size, fresh instance ----
    println!("### 4. Growth with pod size, fresh instance per call\n");
    println!(
        "| pod | payload | patch | instantiate + validate | warm validate | native floor | fresh vs floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    let warm_host = ours.compiled.instantiate()?;
    let mut growth = Vec::new();
    for envs in [10usize, 100] {
        for containers in [1usize, 10, 50] {
            let request = generated_pod(containers, envs);
            let payload = validate_payload(&request, &article_settings);
            let patch = check_answer(&ours, &request, &payload, true)?;
            // Fewer rounds for big pods, so that the table takes seconds, not minutes.
            let rounds = (n * 2000 / payload.len()).clamp(30, n);
            let mut fs: Vec<Box<dyn FnMut() + '_>> = vec![
                Box::new(|| drop(black_box(ours.fresh_call(black_box(&payload))))),
                Box::new(|| {
                    drop(black_box(
                        warm_host.call("validate", black_box(&payload)).unwrap(),
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
            growth.push((containers, envs, payload.len(), s[0]));
        }
    }
    println!();
    println!(
        "| env per container | us per container 1->10 | us per container 10->50 | us per payload KiB at 1 / 10 / 50 |"
    );
    println!("|---|---|---|---|");
    for envs in [10usize, 100] {
        let at = |c: usize| growth.iter().find(|g| g.0 == c && g.1 == envs).unwrap();
        let (a, b, c) = (at(1), at(10), at(50));
        let kib = |g: &(usize, usize, usize, Stats)| g.3.us() / (g.2 as f64 / 1024.0);
        println!(
            "| {envs} | {:.1} | {:.1} | {:.1} / {:.1} / {:.1} |",
            (b.3.us() - a.3.us()) / 9.0,
            (c.3.us() - b.3.us()) / 40.0,
            kib(a),
            kib(b),
            kib(c)
        );
    }
    println!();

    // ---- the builds ----
    println!("### 5. Builds\n");
    let compile_runs = if opts.quick { 2 } else { 5 };
    println!(
        "| module | size | compile ({compile_runs} runs) | instantiate | article pod, fresh | article pod, warm |"
    );
    println!("|---|---|---|---|---|---|");
    let payload = &work[0].payload;
    let mut builds = Vec::new();
    for path in &opts.modules {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let compile = stats(
            (0..compile_runs)
                .map(|_| {
                    let t = Instant::now();
                    black_box(CompiledPolicy::compile(&bytes).unwrap());
                    t.elapsed()
                })
                .collect(),
        );
        builds.push((path, bytes.len(), compile, Module::load("build", path)?));
    }
    let warm_hosts: Vec<PolicyHost> = builds
        .iter()
        .map(|b| b.3.compiled.instantiate())
        .collect::<Result<_>>()?;
    let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
    for (b, h) in builds.iter().zip(&warm_hosts) {
        fs.push(Box::new(move || {
            drop(black_box(b.3.compiled.instantiate().unwrap()))
        }));
        fs.push(Box::new(move || {
            drop(black_box(b.3.fresh_call(black_box(payload))))
        }));
        fs.push(Box::new(move || {
            drop(black_box(h.call("validate", black_box(payload)).unwrap()))
        }));
    }
    let s = interleaved(warmup, n, &mut fs);
    for (i, (path, size, compile, _)) in builds.iter().enumerate() {
        println!(
            "| `{}` | {size} B ({:.1} KiB) | {} | {} | {} | {} |",
            path.display(),
            *size as f64 / 1024.0,
            fmt_us(compile.median),
            cell(&s[3 * i]),
            cell(&s[3 * i + 1]),
            cell(&s[3 * i + 2])
        );
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
}
