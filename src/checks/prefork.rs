//! Pre-fork servers: gunicorn with several workers or `--preload`, and uWSGI.
//!
//! The injected `sitecustomize` starts the SDK in the server's master process, which then forks
//! its workers; the SDK's background exporters do not survive a fork well (the OpenTelemetry
//! docs on pre-fork servers: metrics break with several workers). gunicorn is recognised as a
//! program or as `python -m gunicorn`; its worker count comes from `-w N`, `-wN`, `--workers N`
//! or `--workers=N`, else `GUNICORN_CMD_ARGS`, else `WEB_CONCURRENCY` (gunicorn's default for
//! `workers`); a config file's `workers` is not visible at admission. One worker without
//! `--preload` is clean. Any uWSGI is a finding: it embeds the interpreter in its master.

use super::argv::{Arg, Invocation};
use super::env::Env;
use super::interpreter;
use crate::refusal::{FindingKind, PreFork};

/// The pre-fork findings of a container's programs.
pub fn findings(runs: &[Invocation<'_>], env: &Env<'_>, out: &mut Vec<FindingKind>) {
    for run in runs {
        let args: &[Arg<'_>] = match run.program {
            "uwsgi" => {
                let path = format!("in {}.{}", env.path(), run.at.field());
                out.push(FindingKind::PreFork {
                    server: PreFork::Uwsgi,
                    path,
                });
                continue;
            }
            "gunicorn" => &run.args,
            p if interpreter::is_python(p) => match interpreter::read(run).module {
                Some(("gunicorn", rest)) => rest,
                _ => continue,
            },
            _ => continue,
        };
        gunicorn(args, env, out);
    }
}

/// gunicorn's options on its command line, then in `GUNICORN_CMD_ARGS`, then `WEB_CONCURRENCY`.
fn gunicorn(args: &[Arg<'_>], env: &Env<'_>, out: &mut Vec<FindingKind>) {
    let words = args
        .iter()
        .map(|a| (a.text, format!("in {}.{}", env.path(), a.at.field())));
    let mut options = Options::read(words);
    if let Some(set) = env.get("GUNICORN_CMD_ARGS") {
        let at = set.from.to_string();
        let from_env = Options::read(set.value.split_whitespace().map(|w| (w, at.clone())));
        options.workers = options.workers.or(from_env.workers);
        options.preload = options.preload.or(from_env.preload);
    }
    if options.workers.is_none()
        && let Some(set) = env.get("WEB_CONCURRENCY")
    {
        options.workers = Some((set.value.to_string(), set.from.to_string()));
    }
    if let Some((n, path)) = options.workers
        && n.trim().parse::<u32>().is_ok_and(|n| n > 1)
    {
        out.push(FindingKind::PreFork {
            server: PreFork::GunicornWorkers(n.trim().to_string()),
            path,
        });
        return;
    }
    if let Some(path) = options.preload {
        out.push(FindingKind::PreFork {
            server: PreFork::GunicornPreload,
            path,
        });
    }
}

/// The gunicorn options the check reads, each with where it was written.
#[derive(Default)]
struct Options {
    workers: Option<(String, String)>,
    preload: Option<String>,
}

impl Options {
    fn read<'w>(words: impl Iterator<Item = (&'w str, String)>) -> Options {
        let mut options = Options::default();
        let mut words = words.peekable();
        while let Some((w, at)) = words.next() {
            let value = match w {
                "-w" | "--workers" => words.next().map(|(v, _)| v),
                "--preload" => {
                    options.preload = Some(at);
                    continue;
                }
                _ => w
                    .strip_prefix("--workers=")
                    .or_else(|| w.strip_prefix("-w").filter(|v| !v.is_empty())),
            };
            if let Some(v) = value {
                options.workers = Some((v.to_string(), at));
            }
        }
        options
    }
}
