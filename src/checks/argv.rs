//! A container's command line as the checks read it: which programs it runs, with which arguments.
//!
//! `args` append to `command`. Without `command` the image's entrypoint runs, which admission
//! cannot see: `args` are then read only when they start with a program themselves (the common
//! `ENTRYPOINT ["tini", "--"]` or `docker-entrypoint.sh` that runs its arguments), and
//! flags-only `args` are not guessed at. Wrappers that run their arguments are looked through:
//! `env` (its options and `NAME=value` assignments), `tini` and `dumb-init` (their options), and
//! `sh`/`bash`/`dash`/`ash -c SCRIPT`, whose script is split into simple commands on `;`, `&&`,
//! `||`, `|`, `&` and new lines (a leading `exec` and `NAME=value` assignments skipped; quotes
//! around a word dropped; no expansion).

use crate::pod::ContainerView;

/// Where an argument was written: `command[i]` or `args[i]` of the container (a word of a shell
/// script is where the script is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// In `args` (else in `command`).
    pub args: bool,
    /// The index in that list.
    pub index: usize,
}

impl At {
    /// `command[1]`, `args[0]`.
    pub fn field(self) -> String {
        let list = if self.args { "args" } else { "command" };
        format!("{list}[{}]", self.index)
    }
}

/// One argument, with the text of the list entry it is written in.
#[derive(Clone, Copy, Debug)]
pub struct Arg<'a> {
    /// The argument.
    pub text: &'a str,
    /// The whole entry it comes from (the argument itself, or a shell script).
    pub entry: &'a str,
    /// Where that entry is.
    pub at: At,
}

/// A program the command line runs, and its arguments.
#[derive(Debug)]
pub struct Invocation<'a> {
    /// The program's file name (`python3.12` for `/usr/local/bin/python3.12`).
    pub program: &'a str,
    /// The program as written (a path, or a name looked up on `PATH`).
    pub written: &'a str,
    /// Where the program's word is.
    pub at: At,
    /// Its arguments.
    pub args: Vec<Arg<'a>>,
}

/// The programs `c` runs, looked through wrappers (several for a shell script).
pub fn invocations(c: &ContainerView) -> Vec<Invocation<'_>> {
    let entries = c.command.iter().map(|s| (s, false));
    let entries: Vec<Arg<'_>> = entries
        .chain(c.args.iter().map(|s| (s, true)))
        .enumerate()
        .map(|(i, (text, args))| Arg {
            text,
            entry: text,
            at: At {
                args,
                index: if args { i - c.command.len() } else { i },
            },
        })
        .collect();
    let mut out = Vec::new();
    unwrap(&entries, &mut out, 0);
    out
}

/// The file name of a path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Looks through the wrappers at the start of `argv`; `depth` bounds shells within shells.
fn unwrap<'a>(argv: &[Arg<'a>], out: &mut Vec<Invocation<'a>>, depth: u8) {
    let Some(first) = argv.first().filter(|a| !a.text.starts_with('-')) else {
        return;
    };
    let program = base_name(first.text);
    let rest = &argv[1..];
    match program {
        "env" => unwrap(skip_env_options(rest), out, depth),
        "tini" | "dumb-init" => unwrap(skip_options(rest), out, depth),
        "sh" | "bash" | "dash" | "ash" if depth < 2 => shell(rest, out, depth),
        _ => out.push(Invocation {
            program,
            written: first.text,
            at: first.at,
            args: rest.to_vec(),
        }),
    }
}

/// After `env`: its options (`-u NAME` takes a value) and `NAME=value` assignments.
fn skip_env_options<'b, 'a>(mut argv: &'b [Arg<'a>]) -> &'b [Arg<'a>] {
    while let Some(first) = argv.first() {
        let t = first.text;
        let skip = match t {
            "-u" | "--unset" | "-C" | "--chdir" | "-S" | "--split-string" => 2,
            "--" => {
                argv = &argv[1..];
                break;
            }
            _ if t.starts_with('-') || is_assignment(t) => 1,
            _ => break,
        };
        argv = argv.get(skip..).unwrap_or_default();
    }
    argv
}

/// After `tini` or `dumb-init`: options up to `--` or the first word that is not one.
fn skip_options<'b, 'a>(argv: &'b [Arg<'a>]) -> &'b [Arg<'a>] {
    let first_word = argv
        .iter()
        .position(|a| a.text == "--" || !a.text.starts_with('-'))
        .unwrap_or(argv.len());
    match argv.get(first_word) {
        Some(a) if a.text == "--" => &argv[first_word + 1..],
        _ => &argv[first_word..],
    }
}

/// `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A shell's options up to `-c`, then its script's simple commands.
fn shell<'a>(argv: &[Arg<'a>], out: &mut Vec<Invocation<'a>>, depth: u8) {
    let mut takes_script = false;
    for a in argv {
        let t = a.text;
        if takes_script {
            for command in t.split(['\n', ';', '|', '&']) {
                let words: Vec<Arg<'a>> = command
                    .split_whitespace()
                    .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
                    .filter(|w| !w.is_empty())
                    .map(|w| Arg {
                        text: w,
                        entry: a.entry,
                        at: a.at,
                    })
                    .collect();
                let start = words
                    .iter()
                    .position(|w| w.text != "exec" && !is_assignment(w.text))
                    .unwrap_or(words.len());
                unwrap(&words[start..], out, depth + 1);
            }
            return;
        }
        match t.strip_prefix('-') {
            Some(opts) if !opts.starts_with('-') && opts.contains('c') => takes_script = true,
            Some(_) => {}
            // `sh script.sh`: a script file, which admission cannot read.
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: &[&str], args: &[&str]) -> ContainerView {
        ContainerView {
            command: command.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn programs(c: &ContainerView) -> Vec<(String, Vec<String>)> {
        invocations(c)
            .into_iter()
            .map(|i| {
                let args = i.args.iter().map(|a| a.text.to_string()).collect();
                (i.program.to_string(), args)
            })
            .collect()
    }

    #[test]
    fn args_append_to_command() {
        let c = container(&["/usr/local/bin/python3.12", "-u"], &["-m", "app"]);
        let found = invocations(&c);
        assert_eq!(found[0].program, "python3.12");
        let at: Vec<String> = found[0].args.iter().map(|a| a.at.field()).collect();
        assert_eq!(at, ["command[1]", "args[0]", "args[1]"]);
    }

    #[test]
    fn wrappers_are_looked_through() {
        let c = container(
            &["env", "-i", "A=1", "-u", "B", "python3", "-S", "x.py"],
            &[],
        );
        assert_eq!(
            programs(&c),
            [("python3".into(), vec!["-S".into(), "x.py".into()])]
        );
        let c = container(&["tini", "-s", "--"], &["gunicorn", "-w", "4"]);
        assert_eq!(programs(&c)[0].0, "gunicorn");
        let c = container(
            &["/bin/sh", "-ec"],
            &["cd /app && PORT=1 exec python -E 'app.py'; echo done"],
        );
        let found = programs(&c);
        assert_eq!(
            found[1],
            ("python".into(), vec!["-E".into(), "app.py".into()])
        );
        assert_eq!(invocations(&c)[1].args[0].at.field(), "args[0]");
    }

    #[test]
    fn what_admission_cannot_see_is_not_guessed() {
        assert!(programs(&container(&["sh", "start.sh"], &[])).is_empty());
        // Flags-only args run under the image's unknown entrypoint.
        assert!(programs(&container(&[], &["-S", "app.py"])).is_empty());
        assert!(programs(&container(&[], &[])).is_empty());
    }
}
