//! `bench`: how fast the policy module is in a waPC/wasmtime host (what policy-server does).
//!
//! ```text
//! bench [--module PATH]... [--iterations N] [--quick] [--profile-native N]
//! ```
//!
//! Measures module compile time, instantiation, and warm `validate` latency for the article's
//! pod and generated pods (1/10/50 containers x 10/50 env vars, every container targeted), each
//! next to a native floor: serde_json parse + serialise of the same payload in this process.
//! Reports medians (and p90) after a warm-up; prints markdown tables on stdout. Several
//! `--module` flags compare builds (e.g. the cargo build against `wasm-opt -O3` / `-Oz` output).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e_tests::host::{CompiledPolicy, admission_response, validate_payload};
use e2e_tests::input::{read_request, read_settings_file};
use e2e_tests::module::{cases_dir, module_path};
use serde_json::{Value, json};

struct Opts {
    modules: Vec<PathBuf>,
    iterations: usize,
    quick: bool,
    /// Only loop the native core on the article's payload this many times (for perf/callgrind).
    profile_native: Option<usize>,
}

fn parse_opts() -> Result<Opts> {
    let mut o = Opts {
        modules: Vec::new(),
        iterations: 2000,
        quick: false,
        profile_native: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--module" => o
                .modules
                .push(it.next().context("--module needs a path")?.into()),
            "--iterations" => {
                o.iterations = it.next().context("--iterations needs a number")?.parse()?
            }
            "--quick" => o.quick = true,
            "--profile-native" => {
                o.profile_native = Some(
                    it.next()
                        .context("--profile-native needs a count")?
                        .parse()?,
                )
            }
            "-h" | "--help" => {
                println!(
                    "usage: bench [--module PATH]... [--iterations N] [--quick] [--profile-native N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
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

/// Run `f` `warmup` times, then `n` timed times; median and p90 of the single-call times.
fn measure(warmup: usize, n: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    stats(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    Stats {
        median: times[times.len() / 2],
        p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
    }
}

/// Time several functions in interleaved rounds (one call of each per round), so that load
/// from other processes on a shared machine hits all of them alike and their ratios stay fair.
fn measure_interleaved<const K: usize>(
    warmup: usize,
    n: usize,
    fs: &mut [&mut dyn FnMut(); K],
) -> [Stats; K] {
    for _ in 0..warmup {
        for f in fs.iter_mut() {
            f();
        }
    }
    let mut times: [Vec<Duration>; K] = std::array::from_fn(|_| Vec::with_capacity(n));
    for _ in 0..n {
        for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
            let start = Instant::now();
            f();
            t.push(start.elapsed());
        }
    }
    times.map(stats)
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} us")
    } else {
        format!("{us:.1} us")
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

/// Cost per unit of pod size: the marginal cost per container between 1, 10 and 50 containers
/// (same env count), and per payload byte. Roughly equal marginal costs mean linear cost.
fn linearity(rows: &[(String, usize, Duration)]) {
    let find = |c: usize, e: usize| {
        rows.iter()
            .find(|r| r.0 == format!("{c} containers x {e} env"))
            .map(|r| (r.1, r.2.as_secs_f64() * 1e6))
    };
    println!("Linearity (marginal cost of one more container, and time per payload KiB):\n");
    println!(
        "| env per container | us/container 1->10 | us/container 10->50 | us/KiB at 1 | us/KiB at 10 | us/KiB at 50 |"
    );
    println!("|---|---|---|---|---|---|");
    for e in [10usize, 50] {
        if let (Some(a), Some(b), Some(c)) = (find(1, e), find(10, e), find(50, e)) {
            let kib = |x: (usize, f64)| x.1 / (x.0 as f64 / 1024.0);
            println!(
                "| {e} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                (b.1 - a.1) / 9.0,
                (c.1 - b.1) / 40.0,
                kib(a),
                kib(b),
                kib(c)
            );
        }
    }
    println!();
}

struct Workload {
    name: String,
    request: Value,
    payload: Vec<u8>,
}

fn main() -> Result<()> {
    let opts = parse_opts()?;
    let settings = read_settings_file(&cases_dir().join("settings/article.yaml"))?;
    let article = read_request(
        cases_dir()
            .join("requests/article-pod.json")
            .to_str()
            .unwrap(),
    )?;
    if let Some(count) = opts.profile_native {
        let payload = validate_payload(&article, &settings);
        for _ in 0..count {
            black_box(
                serde_json::to_vec(&otel_python_policy::admission::validate(black_box(
                    &payload,
                )))
                .unwrap(),
            );
        }
        return Ok(());
    }
    let mut workloads = vec![Workload {
        name: "article pod (1 container, 0 env)".into(),
        payload: validate_payload(&article, &settings),
        request: article,
    }];
    for c in [1usize, 10, 50] {
        for e in [10usize, 50] {
            let request = generated_pod(c, e);
            workloads.push(Workload {
                name: format!("{c} containers x {e} env"),
                payload: validate_payload(&request, &settings),
                request,
            });
        }
    }
    let n = opts.iterations;
    let compile_n = if opts.quick { 2 } else { 5 };
    let inst_n = if opts.quick { 20 } else { 200 };

    println!("## Policy module benchmark\n");
    println!(
        "{n} timed calls per row after {} warm-up calls; times are medians (p90 in brackets) of single calls.\n",
        n / 10
    );
    let mut summary = Vec::new();
    for module in &opts.modules {
        let bytes =
            std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
        println!(
            "### `{}` ({} bytes, {:.1} KiB)\n",
            module.display(),
            bytes.len(),
            bytes.len() as f64 / 1024.0
        );
        let compile = measure(0, compile_n, || {
            black_box(CompiledPolicy::compile(&bytes).unwrap());
        });
        let compiled = CompiledPolicy::compile(&bytes)?;
        let instantiate = measure(inst_n / 10, inst_n, || {
            black_box(compiled.instantiate().unwrap());
        });
        println!("| step | median | p90 |\n|---|---|---|");
        println!(
            "| compile (wasmtime/cranelift, {compile_n} runs) | {} | {} |",
            us(compile.median),
            us(compile.p90)
        );
        println!(
            "| instantiate + wapc_init ({inst_n} runs) | {} | {} |\n",
            us(instantiate.median),
            us(instantiate.p90)
        );

        let host = compiled.instantiate()?;
        println!(
            "| workload | payload | patch | wasm validate | native core validate | native floor (serde parse+serialise) | wasm / floor | wasm / native core |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let mut rows = Vec::new();
        for w in &workloads {
            // Sanity: the call succeeds and mutates (otherwise we would time an error path).
            let answer: Value = serde_json::from_slice(&host.call("validate", &w.payload)?)?;
            let resp = admission_response(&w.request, &answer)?;
            let patch_len = resp
                .decoded_patch()?
                .map(|p| serde_json::to_vec(&p).map(|v| v.len()).unwrap_or(0))
                .unwrap_or(0);
            let mut wasm_call = || {
                black_box(host.call("validate", black_box(&w.payload)).unwrap());
            };
            let mut native_call = || {
                black_box(
                    serde_json::to_vec(&otel_python_policy::admission::validate(black_box(
                        &w.payload,
                    )))
                    .unwrap(),
                );
            };
            let mut floor_call = || {
                let v: Value = serde_json::from_slice(black_box(&w.payload)).unwrap();
                black_box(serde_json::to_vec(&v).unwrap());
            };
            let [wasm, native, floor] = measure_interleaved(
                n / 10,
                n,
                &mut [&mut wasm_call, &mut native_call, &mut floor_call],
            );
            rows.push((w.name.clone(), w.payload.len(), wasm.median));
            let ratio = wasm.median.as_secs_f64() / floor.median.as_secs_f64();
            let ratio_core = wasm.median.as_secs_f64() / native.median.as_secs_f64();
            println!(
                "| {} | {} B | {} B | {} ({}) | {} ({}) | {} ({}) | {ratio:.1}x | {ratio_core:.1}x |",
                w.name,
                w.payload.len(),
                patch_len,
                us(wasm.median),
                us(wasm.p90),
                us(native.median),
                us(native.p90),
                us(floor.median),
                us(floor.p90),
            );
            if w.name.starts_with("article") {
                summary.push((
                    module.display().to_string(),
                    bytes.len(),
                    wasm.median,
                    ratio,
                ));
            }
        }
        println!();
        linearity(&rows);
    }
    println!("### Article pod, per module\n");
    println!("| module | size | warm validate | vs floor | targets (<= 100 us, <= 4x, <= 1 MB) |");
    println!("|---|---|---|---|---|");
    for (m, size, med, ratio) in summary {
        let ok = med <= Duration::from_micros(100) && ratio <= 4.0 && size <= 1 << 20;
        println!(
            "| `{m}` | {:.1} KiB | {} | {ratio:.1}x | {} |",
            size as f64 / 1024.0,
            us(med),
            if ok { "met" } else { "MISSED" }
        );
    }
    Ok(())
}
