use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use xtask::{annotate, artifacthub, oci};

const USAGE: &str = "\
xtask: package and publish the policy without kwctl (same bytes as kwctl)

USAGE:
  xtask annotate -m policy.yaml [-u README.md] -o annotated-policy.wasm [--force] policy.wasm
  xtask artifacthub [-m policy.yaml] [-q questions-ui.yml] [-o artifacthub-pkg.yml]
                    [--created-at RFC3339 | --now] [--check]
  xtask push [--force] [-o text|json] annotated-policy.wasm [registry://]HOST[:PORT]/PATH:TAG
  xtask pull [registry://]HOST[:PORT]/PATH(:TAG|@sha256:DIGEST) -o FILE

annotate     embeds policy.yaml, protocolVersion (asked to the module) and the usage file as the
             `io.kubewarden.metadata` custom section; every other byte is kept. An annotated
             input needs --force (its metadata is then replaced, never duplicated).
artifacthub  writes artifacthub-pkg.yml like `kwctl scaffold artifacthub`. createdAt: the value
             of --created-at, else the one already in the output file, else now (--now forces
             now). --check writes nothing and fails when the file is not up to date.
push         pushes to an OCI registry and prints the immutable reference (HOST/PATH@sha256:...),
             or {\"immutable_ref\": ...} with -o json. Plain HTTP for loopback registries only.
             Credentials: auths of $DOCKER_CONFIG/config.json or ~/.docker/config.json.
pull         fetches a policy by tag or digest into FILE and prints HOST/PATH@sha256:DIGEST.
";

struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(raw: impl Iterator<Item = String>, with_value: &[&str]) -> Result<Self> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut raw = raw.peekable();
        while let Some(arg) = raw.next() {
            if let Some((flag, value)) = arg.split_once('=').filter(|(f, _)| f.starts_with("--")) {
                options.push((flag.to_owned(), Some(value.to_owned())));
            } else if with_value.contains(&arg.as_str()) {
                let value = raw.next().with_context(|| format!("{arg} needs a value"))?;
                options.push((arg, Some(value)));
            } else if arg.starts_with('-') && arg.len() > 1 {
                options.push((arg, None));
            } else {
                positional.push(arg);
            }
        }
        Ok(Args {
            positional,
            options,
        })
    }

    fn value(&self, names: &[&str]) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(f, _)| names.contains(&f.as_str()))
            .and_then(|(_, v)| v.as_deref())
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(f, _)| f == name)
    }

    fn check_known(&self, known: &[&str]) -> Result<()> {
        for (f, _) in &self.options {
            if !known.contains(&f.as_str()) {
                bail!("unknown option {f}\n\n{USAGE}");
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn cmd_annotate(args: Args) -> Result<()> {
    args.check_known(&[
        "-m",
        "--metadata-path",
        "-u",
        "--usage-path",
        "-o",
        "--output-path",
        "--force",
    ])?;
    let [wasm] = args.positional.as_slice() else {
        bail!("annotate takes one module\n\n{USAGE}");
    };
    let metadata = args
        .value(&["-m", "--metadata-path"])
        .context("annotate needs -m policy.yaml")?;
    let output = args
        .value(&["-o", "--output-path"])
        .context("annotate needs -o OUTPUT")?;
    let usage = args
        .value(&["-u", "--usage-path"])
        .map(|p| read_text(Path::new(p)))
        .transpose()?;
    let module = read(Path::new(wasm))?;
    let (annotated, _) = annotate::annotate(
        &module,
        &read_text(Path::new(metadata))?,
        usage.as_deref(),
        args.flag("--force"),
    )?;
    write(Path::new(output), &annotated)
}

fn cmd_artifacthub(args: Args) -> Result<()> {
    args.check_known(&[
        "-m",
        "--metadata-path",
        "-q",
        "--questions-path",
        "-o",
        "--output",
        "--created-at",
        "--now",
        "--check",
    ])?;
    if !args.positional.is_empty() {
        bail!("artifacthub takes no positional argument\n\n{USAGE}");
    }
    let metadata = PathBuf::from(
        args.value(&["-m", "--metadata-path"])
            .unwrap_or("policy.yaml"),
    );
    let output = PathBuf::from(
        args.value(&["-o", "--output"])
            .unwrap_or("artifacthub-pkg.yml"),
    );
    let questions = match args.value(&["-q", "--questions-path"]) {
        Some(q) => Some(read_text(Path::new(q))?),
        None => [
            "questions-ui.yml",
            "questions-ui.yaml",
            "questions.yml",
            "questions.yaml",
        ]
        .iter()
        .map(|name| metadata.with_file_name(name))
        .find(|p| p.exists())
        .map(|p| read_text(&p))
        .transpose()?,
    };
    let existing = output.exists().then(|| read_text(&output)).transpose()?;
    let created_at = match (args.value(&["--created-at"]), args.flag("--now"), &existing) {
        (Some(t), _, _) => t.to_owned(),
        (None, true, _) => artifacthub::now(),
        (None, false, Some(text)) => artifacthub::created_at_of(text)?,
        (None, false, None) => artifacthub::now(),
    };
    let generated =
        artifacthub::generate(&read_text(&metadata)?, questions.as_deref(), &created_at)?;
    if args.flag("--check") {
        if existing.as_deref() != Some(generated.as_str()) {
            bail!(
                "{} is not up to date with {}: regenerate it with `make artifacthub` \
                 (xtask artifacthub) and commit it",
                output.display(),
                metadata.display()
            );
        }
        return Ok(());
    }
    write(&output, generated.as_bytes())
}

fn cmd_push(args: Args) -> Result<()> {
    args.check_known(&["--force", "-f", "-o", "--output"])?;
    let [wasm, destination] = args.positional.as_slice() else {
        bail!("push takes a module and a destination\n\n{USAGE}");
    };
    let json = match args.value(&["-o", "--output"]).unwrap_or("text") {
        "json" => true,
        "text" => false,
        other => bail!("-o takes text or json, not {other}"),
    };
    let module = read(Path::new(wasm))?;
    let immutable = oci::push(
        &module,
        destination,
        args.flag("--force") || args.flag("-f"),
    )?;
    if json {
        println!("{}", serde_json::json!({ "immutable_ref": immutable }));
    } else {
        println!("{immutable}");
    }
    Ok(())
}

fn cmd_pull(args: Args) -> Result<()> {
    args.check_known(&["-o", "--output-path"])?;
    let [source] = args.positional.as_slice() else {
        bail!("pull takes one reference\n\n{USAGE}");
    };
    let output = args
        .value(&["-o", "--output-path"])
        .context("pull needs -o FILE")?;
    let pulled = oci::pull(source)?;
    write(Path::new(output), &pulled.module)?;
    let reference = oci::parse_reference(source)?;
    println!(
        "{}/{}@{}",
        reference.registry(),
        reference.repository(),
        pulled.digest
    );
    Ok(())
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().unwrap_or_default();
    let result = match command.as_str() {
        "annotate" => Args::parse(
            raw,
            &[
                "-m",
                "--metadata-path",
                "-u",
                "--usage-path",
                "-o",
                "--output-path",
            ],
        )
        .and_then(cmd_annotate),
        "artifacthub" => Args::parse(
            raw,
            &[
                "-m",
                "--metadata-path",
                "-q",
                "--questions-path",
                "-o",
                "--output",
                "--created-at",
            ],
        )
        .and_then(cmd_artifacthub),
        "push" => Args::parse(raw, &["-o", "--output"]).and_then(cmd_push),
        "pull" => Args::parse(raw, &["-o", "--output-path"]).and_then(cmd_pull),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
