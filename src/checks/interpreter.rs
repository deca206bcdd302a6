//! Interpreter flags that defeat the injection: `-S`, `-I`, `-E`, alone or combined (`-uE`).
//!
//! The injection works through `PYTHONPATH` and the `sitecustomize` module on it: `-S` skips the
//! `site` module (so `sitecustomize` never runs), `-E` ignores every `PYTHON*` variable and `-I`
//! (isolated mode) implies it. Only the interpreter's own options count: they end at the script,
//! `-m module`, `-c command`, `-` or `--`, and what follows belongs to the app (`python app.py -S`
//! passes `-S` to the app). The interpreter is `python`, `python3` or `python3.X`, by name or path.

use super::argv::{Arg, Invocation};
use super::env::ContainerPath;
use crate::refusal::FindingKind;

/// Whether `program` (a file name) is a CPython interpreter.
pub fn is_python(program: &str) -> bool {
    let Some(version) = program.strip_prefix("python") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match version.split_once('.') {
        None => version.is_empty() || version == "3",
        Some((major, minor)) => major == "3" && digits(minor),
    }
}

/// What an interpreter's command line runs, once its options are read.
pub struct Python<'i, 'a> {
    /// The flags that defeat the injection, each with the argument that holds it.
    pub flags: Vec<(char, Arg<'a>)>,
    /// `-m module`: the module and its arguments.
    pub module: Option<(&'a str, &'i [Arg<'a>])>,
}

/// The interpreter options of `run` (a Python invocation).
pub fn read<'i, 'a>(run: &'i Invocation<'a>) -> Python<'i, 'a> {
    let mut python = Python {
        flags: Vec::new(),
        module: None,
    };
    let args = &run.args;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let t = arg.text;
        i += 1;
        if t == "--check-hash-based-pycs" {
            i += 1;
            continue;
        }
        if t.starts_with("--") || t == "-" || !t.starts_with('-') {
            // `--` and `-` end the options; a word is the script; other long options take none.
            if t.starts_with("--") && t != "--" {
                continue;
            }
            break;
        }
        let cluster = &t[1..];
        for (at, flag) in cluster.char_indices() {
            match flag {
                'S' | 'I' | 'E' => python.flags.push((flag, *arg)),
                'c' => return python,
                'm' => {
                    let rest = &cluster[at + 1..];
                    python.module = if rest.is_empty() {
                        args.get(i).map(|m| (m.text, &args[i + 1..]))
                    } else {
                        Some((rest, &args[i..]))
                    };
                    return python;
                }
                // A value follows, in the same word or the next.
                'W' | 'X' => {
                    if at + 1 == cluster.len() {
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    python
}

/// A finding per defeating flag of a Python `run`, the container's path prefixing the argument's.
pub fn findings(python: &Python<'_, '_>, container_path: ContainerPath<'_>) -> Vec<FindingKind> {
    python
        .flags
        .iter()
        .map(|(flag, arg)| FindingKind::InterpreterFlag {
            flag: *flag,
            argument: arg.entry.to_string(),
            path: format!("{container_path}.{}", arg.at.field()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::argv::invocations;
    use super::*;
    use crate::pod::ContainerView;

    fn flags(command: &[&str]) -> Vec<(char, String)> {
        let c = ContainerView {
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let runs = invocations(&c);
        let python = read(&runs[0]);
        python
            .flags
            .iter()
            .map(|(f, a)| (*f, a.at.field()))
            .collect()
    }

    #[test]
    fn interpreters_are_recognised_by_name() {
        for p in ["python", "python3", "python3.12", "python3.9"] {
            assert!(is_python(p), "{p}");
        }
        for p in [
            "python2",
            "python3-config",
            "python3.",
            "python3.x",
            "pythonw",
            "ipython",
            "gunicorn",
        ] {
            assert!(!is_python(p), "{p}");
        }
    }

    #[test]
    fn flags_count_only_before_the_script_module_or_command() {
        assert_eq!(
            flags(&["python", "-S", "-m", "app"]),
            [('S', "command[1]".into())]
        );
        assert_eq!(
            flags(&["/usr/bin/python3", "-uE", "app.py"]),
            [('E', "command[1]".into())]
        );
        assert_eq!(
            flags(&["python3.12", "-IS", "app.py"]),
            [('I', "command[1]".into()), ('S', "command[1]".into())]
        );
        assert!(flags(&["python", "-u", "-m", "app"]).is_empty());
        assert!(flags(&["python", "app.py", "-S"]).is_empty());
        assert!(flags(&["python", "-m", "app", "-E"]).is_empty());
        // -c's command and -W/-X values are not flags.
        assert!(flags(&["python", "-c", "-S"]).is_empty());
        assert!(flags(&["python", "-cS"]).is_empty());
        assert!(flags(&["python", "-W", "-E", "app.py"]).is_empty());
        assert!(flags(&["python", "-Xdev", "app.py"]).is_empty());
        assert_eq!(
            flags(&["python", "-X", "dev", "-E", "x.py"]),
            [('E', "command[3]".into())]
        );
        assert!(flags(&["python", "--", "-S"]).is_empty());
        assert!(flags(&["python", "--check-hash-based-pycs", "always", "app.py"]).is_empty());
    }

    #[test]
    fn a_module_and_its_arguments_are_read() {
        let c = ContainerView {
            command: ["python", "-um", "gunicorn", "-w", "2"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        let runs = invocations(&c);
        let python = read(&runs[0]);
        let (module, rest) = python.module.unwrap();
        assert_eq!((module, rest.len()), ("gunicorn", 2));
    }
}
