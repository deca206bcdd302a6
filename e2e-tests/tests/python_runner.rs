//! The Python runner (`e2e-tests/python-runner/`, what `make example` evaluates with when kwctl
//! is not found) prints what `policy-run` prints, byte for byte: exit status, the stdout line and
//! stderr (the decoded patch, or the error line).
//!
//! Both runners get the same batch file (`--batch FILE --show-patch`, one compiled module each,
//! a fresh instance per run): every case file under `tests/cases/` that a kwctl-like runner can be
//! given, with its request and settings files as the case names them, or as written here when the
//! case has them inline; the settings once more through `--settings-json`; a request without
//! `userInfo` or `resource` once as it is (refused with serde's words) and once completed as the
//! kwctl test completes it (so the policy answers); and the readers' own inputs below: YAML
//! scalars as serde_yaml resolves them, JSON numbers and escapes as serde_json reads and writes
//! them, malformed requests and settings, requests kwctl cannot read.
//!
//! Skipped, and counted: cluster-mode cases (`policy-run --cluster` alone answers host calls from
//! a fixture) and raw `validate` payloads (neither runner builds them).
//!
//! The Python runner is `e2e-tests/python-runner/run.sh`, which makes its virtualenv on first use
//! (`make python-runner` does it before the tests). Needs the built module, as every test here.

use std::path::{Path, PathBuf};
use std::process::Command;

use case_harness::{Payload, load_all};
use e2e_tests::input::{resource_of, stand_in_request};
use e2e_tests::kwctl::TempDir;
use e2e_tests::module::{cases_dir, inputs_dir, module_path, read_built_module, workspace_root};
use serde_json::{Value, json};

/// The settings of one run.
enum Settings {
    None,
    Path(PathBuf),
    Json(String),
}

/// The batch file both runners read, built up run by run.
struct Batch {
    dir: TempDir,
    lines: Vec<String>,
    labels: Vec<String>,
    files: usize,
}

impl Batch {
    fn new() -> Self {
        Batch {
            dir: TempDir::new("python-runner-parity").expect("a scratch folder"),
            lines: Vec::new(),
            labels: Vec::new(),
            files: 0,
        }
    }

    /// A file of the batch's folder with `contents`.
    fn file(&mut self, name: &str, contents: &[u8]) -> PathBuf {
        self.files += 1;
        let path = self.dir.path().join(format!("{:04}-{name}", self.files));
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn run(&mut self, label: &str, request: &Path, settings: Settings) {
        let mut line = json!({"request_path": request.to_str().unwrap()});
        match settings {
            Settings::None => {}
            Settings::Path(p) => line["settings_path"] = json!(p.to_str().unwrap()),
            Settings::Json(text) => line["settings_json"] = json!(text),
        }
        self.lines.push(line.to_string());
        self.labels.push(label.to_owned());
    }

    /// Runs `program` (with `args` before the batch's) on the batch: one record line per run.
    fn through(&mut self, program: &Path, args: &[&str]) -> Vec<String> {
        let batch = self.dir.path().join("batch.jsonl");
        std::fs::write(&batch, self.lines.join("\n") + "\n").unwrap();
        let out = Command::new(program)
            .args(args)
            .arg("--batch")
            .arg(&batch)
            .arg("--show-patch")
            .arg(module_path())
            .env_remove("POLICY_HOST_LOG")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let stdout = String::from_utf8(out.stdout).expect("records are UTF-8");
        assert!(
            out.status.success(),
            "{} --batch failed:\n{}{}",
            program.display(),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().map(str::to_owned).collect()
    }
}

/// The value of `key` in a case file when it names a file under `tests/inputs/` (not inline).
fn named_input(case_file: &Value, key: &str) -> Option<PathBuf> {
    if case_file.get("huge").is_some() {
        return None; // the loaded case differs from the file it names
    }
    case_file
        .get(key)
        .and_then(Value::as_str)
        .map(|rel| inputs_dir().join(rel))
}

/// The request with `userInfo` and `resource` added when missing, as the kwctl test completes it
/// (the API server always sends them), or `None` when it has both or has no `kind` object.
fn completed(request: &Value) -> Option<Value> {
    let kind = request.get("kind").filter(|k| k.is_object())?.clone();
    let mut out = request.as_object()?.clone();
    let missing = !out.contains_key("userInfo") || !out.contains_key("resource");
    out.entry("userInfo").or_insert_with(|| json!({}));
    out.entry("resource").or_insert_with(|| resource_of(&kind));
    missing.then_some(Value::Object(out))
}

/// Every case a kwctl-like runner can be given; returns (cases run, skipped with why).
fn add_cases(batch: &mut Batch) -> (usize, Vec<(String, &'static str)>) {
    let (mut ran, mut skipped) = (0, Vec::new());
    for case in load_all().unwrap_or_else(|e| panic!("{e:#}")) {
        if case.cluster.is_some() {
            skipped.push((case.name, "cluster mode: policy-run --cluster only"));
            continue;
        }
        let text =
            std::fs::read_to_string(cases_dir().join(format!("{}.yaml", case.name))).unwrap();
        let file: Value = serde_yaml::from_str(&text).unwrap();
        let request = match &case.payload {
            Payload::Raw(_) => {
                skipped.push((case.name, "a raw validate payload: no runner builds one"));
                continue;
            }
            Payload::None => stand_in_request(),
            Payload::Request(r) => r.clone(),
        };
        ran += 1;
        let settings_json = serde_json::to_string(&case.settings).unwrap();
        let request_path = match named_input(&file, "request") {
            Some(path) => path,
            None => batch.file("request.json", request.to_string().as_bytes()),
        };
        let settings_path = match named_input(&file, "settings") {
            Some(path) => path,
            None => batch.file("settings.json", settings_json.as_bytes()),
        };
        let name = &case.name;
        batch.run(name, &request_path, Settings::Path(settings_path.clone()));
        batch.run(
            &format!("{name} (--settings-json)"),
            &request_path,
            Settings::Json(settings_json),
        );
        if let Some(full) = completed(&request) {
            let path = batch.file("completed.json", full.to_string().as_bytes());
            batch.run(
                &format!("{name} (completed)"),
                &path,
                Settings::Path(settings_path),
            );
        }
    }
    (ran, skipped)
}

/// YAML scalars whose reading differs between YAML 1.1 (PyYAML's own) and serde_yaml, each as an
/// env value of the article's Instrumentation: a string shows in the patch, anything else in the
/// policy's refusal.
const YAML_SCALARS: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "y",
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "0x1F",
    "0o17",
    "0b101",
    "017",
    "-017",
    "+12",
    "-0",
    "1_000",
    "1:20",
    "2001-12-14",
    ".inf",
    "-.Inf",
    ".NaN",
    "1e3",
    "1.",
    ".5",
    "+.5",
    "1.5e-7",
    "0.1",
    "12345678901234567890",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "-0x10",
    "0x",
    "infinity",
    "nan",
    "'single'",
    "\"double \\t\"",
    "!!str 12",
    "!!int \"12\"",
    "!!int x",
    "!!bool yes",
    "!!bool True",
    "!!float 1",
    "!!null \"\"",
    "!custom x",
    "=",
    "<<",
    "\"\"",
    "|\n            block\n",
    ">-\n            folded\n            text\n",
    "2.5e+400",
    "1e-400",
    "-1e-400",
];

/// Settings documents around the readers: valid and malformed YAML, values that are no object.
const SETTINGS_DOCUMENTS: &[&str] = &[
    "",
    "\n  \n",
    "# only a comment\n",
    "~\n",
    "---\n",
    "[1, 2]\n",
    "just a string\n",
    "a: 1\n---\nb: 2\n",
    "a: [1\n",
    "a:\n\t- b\n",
    "key: value\nkey: other\n",
    "!custom {a: 1}\n",
    "base: &b {x: 1}\n<<: *b\n",
    "? [1, 2]\n: x\n",
    "1: a\ntrue: b\nnull: c\n",
    "instrumentations: [{kind: Instrumentation, spec: {exporter: {endpoint: !!int 12}}}]\n",
    "a: {b: [{c: !!bool maybe}]}\n",
    "{\"json\": true, \"number\": 1e5}\n",
    "1e20\n",
    "1.5e-7\n",
    "0.00001\n",
    "0.000001\n",
    "-0.0\n",
    "123456789.125\n",
    "1e15\n",
    "1e16\n",
];

/// Request documents around the JSON reader, the AdmissionRequest type and the JSON writer.
fn request_documents() -> Vec<String> {
    let article = std::fs::read_to_string(inputs_dir().join("requests/article-pod.json")).unwrap();
    let review: Value = serde_json::from_str(&article).unwrap();
    let request = &review["request"];
    // The request with `key` of the object at `parent` (a JSON pointer) set to `value`.
    let with = |parent: &str, key: &str, value: Value| {
        let mut r = request.clone();
        r.pointer_mut(parent).unwrap()[key] = value;
        r.to_string()
    };
    let without = |field: &str| {
        let mut r = request.clone();
        r.as_object_mut().unwrap().remove(field);
        r.to_string()
    };
    let numbers = r#"[0, -0, -0.0, 0.1, 1e20, 1e21, 1.5e-7, 1e-5, 0.00001234, 123456789012345678901,
        18446744073709551615, 18446744073709551616, -9223372036854775808, -9223372036854775809,
        2.2250738585072014e-308, 5e-324, 1.7976931348623157e308, 3.141592653589793238462643383279,
        1E3, 1e+2, 100e-2, 9007199254740993, 0.30000000000000004]"#;
    let numbered = article.replacen(
        "\"spec\": {",
        &format!("\"spec\": {{\"x-numbers\": {numbers}, "),
        1,
    );
    let escaped = article.replacen(
        "\"labels\": {",
        r#""labels": {"escapes": "tab\t nl\n quote\" bs\\ ctrl\u0001 del\u007f e\u00e9 smile\ud83d\ude00 ls\u2028 slash\/", "#,
        1,
    );
    let mut docs = vec![
        article.clone(),
        numbered,
        escaped,
        request.to_string(),
        without("userInfo"),
        without("uid"),
        without("kind"),
        with("", "uid", json!(5)),
        with("", "kind", json!(["", "v1", "Pod"])),
        with("", "kind", json!(["", "v1"])),
        with("", "kind", json!(["", "v1", "Pod", "extra"])),
        with("", "kind", json!("Pod")),
        with("/userInfo", "groups", json!("system:masters")),
        with("/userInfo", "extra", json!({"b": ["x"], "a": "not a list"})),
        with("", "userInfo", json!({"username": null, "uid": 1.5})),
        with("", "dryRun", json!("yes")),
        // serde's words for a float name it as serde_json writes it: the reader's number, shown.
        request.to_string().replacen(
            "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\"",
            "\"uid\":3.141592653589793238462643383279",
            1,
        ),
        request.to_string().replacen(
            "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\"",
            "\"uid\":123456789012345678901",
            1,
        ),
        request.to_string().replacen(
            "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\"",
            "\"uid\":0.1e-6",
            1,
        ),
        with("", "object", Value::Null),
        with("", "operation", json!(null)),
        with("", "namespace", json!(false)),
        with(
            "/object/metadata/annotations",
            "instrumentation.opentelemetry.io/inject-python",
            json!("monitor/\u{1}python\u{2028}\u{e9}\"\\"),
        ),
    ];
    for malformed in [
        "",
        " ",
        "[1]",
        "\"a string\"",
        "{\"kind\": \"AdmissionReview\"}",
        "{\"kind\": \"AdmissionReview\", \"request\": [1]}",
        "{\"a\":1,}",
        "[1,2",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "{1:2}",
        "nul",
        "tru",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800x\"",
        "\"\\ud800\\u0041\"",
        "\"\u{1}\"",
        "\"\\q\"",
        "\"\\u12G4\"",
        "01",
        "1.",
        "1.e5",
        "1e",
        "-",
        "-a",
        "1e400",
        "-1e400",
        "1e-400",
        "123456789012345678901234567890e400",
        "{} x",
        "[1,]",
        "{\"a\":1}\n\n  x",
        "\"unterminated",
        "\n\n  {\"a\": [1, 2,\n  3 4]}",
    ] {
        docs.push(malformed.to_owned());
    }
    docs.push("[".repeat(130) + &"]".repeat(130));
    docs.push("[".repeat(120) + &"]".repeat(120));
    docs
}

/// The readers' inputs, with the article's request or settings around them.
fn add_reader_inputs(batch: &mut Batch) -> usize {
    let article_request = inputs_dir().join("requests/article-pod.json");
    let article_settings = inputs_dir().join("settings/article.yaml");
    let base = std::fs::read_to_string(&article_settings).unwrap();
    let before = batch.lines.len();
    for (i, scalar) in YAML_SCALARS.iter().enumerate() {
        let doc = base.replace(
            "      env: null\n",
            &format!("      env:\n        - name: V\n          value: {scalar}\n"),
        );
        let path = batch.file(&format!("scalar-{i}.yaml"), doc.as_bytes());
        batch.run(
            &format!("YAML scalar {scalar:?}"),
            &article_request,
            Settings::Path(path),
        );
    }
    for doc in SETTINGS_DOCUMENTS {
        let path = batch.file("settings.yaml", doc.as_bytes());
        batch.run(
            &format!("settings document {doc:?}"),
            &article_request,
            Settings::Path(path),
        );
    }
    for json in [
        "null",
        "[1]",
        "{bad",
        "\"x\"",
        "{\"a\": 1e400}",
        " {} ",
        "{} x",
        // Cluster mode without a cluster: the host refuses the policy's kubernetes/* calls, in
        // words the policy passes on.
        r#"{"instrumentationSource": "cluster"}"#,
        r#"{"instrumentationSource": "cluster", "failureAction": "admit"}"#,
    ] {
        batch.run(
            &format!("--settings-json {json:?}"),
            &article_request,
            Settings::Json(json.into()),
        );
    }
    for doc in request_documents() {
        let path = batch.file("request.json", doc.as_bytes());
        let label = format!(
            "request document {:?}",
            doc.chars().take(60).collect::<String>()
        );
        batch.run(&label, &path, Settings::Path(article_settings.clone()));
    }
    let missing = batch.dir.path().join("missing.json");
    batch.run("a missing request file", &missing, Settings::None);
    batch.run(
        "a missing settings file",
        &article_request,
        Settings::Path(missing),
    );
    let folder = batch.dir.path().to_owned();
    batch.run("a folder as the request", &folder, Settings::None);
    let not_utf8 = batch.file("latin1.json", b"{\"a\": \"\xe9\"}");
    batch.run("a request that is not UTF-8", &not_utf8, Settings::None);
    batch.lines.len() - before
}

#[test]
fn the_python_runner_prints_what_policy_run_prints() {
    read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
    let mut batch = Batch::new();
    let (cases, skipped) = add_cases(&mut batch);
    let readers = add_reader_inputs(&mut batch);
    let rust = batch.through(Path::new(env!("CARGO_BIN_EXE_policy-run")), &[]);
    let python_runner = workspace_root().join("e2e-tests/python-runner/run.sh");
    let python = batch.through(&python_runner, &[]);
    assert_eq!(
        rust.len(),
        batch.labels.len(),
        "policy-run: one record per run"
    );
    assert_eq!(
        python.len(),
        batch.labels.len(),
        "the Python runner: one record per run"
    );
    let differences: Vec<String> = batch
        .labels
        .iter()
        .zip(rust.iter().zip(&python))
        .filter(|(_, (r, p))| r != p)
        .map(|(label, (r, p))| format!("{label}:\n  policy-run: {r}\n  python:     {p}"))
        .collect();
    println!(
        "{} runs through policy-run and the Python runner: {cases} case files ({} skipped), {readers} reader inputs; {} differ",
        batch.labels.len(),
        skipped.len(),
        differences.len()
    );
    for (name, why) in &skipped {
        println!("  skipped {name}: {why}");
    }
    assert!(
        differences.is_empty(),
        "{} of {} runs differ:\n{}",
        differences.len(),
        batch.labels.len(),
        differences.join("\n")
    );
    assert!(cases >= 150, "only {cases} case files ran");
    // The batch reaches the policy's answers, not only the readers' errors: patches and refused
    // settings, each many times.
    let patches = rust
        .iter()
        .filter(|r| r.contains("\\\"patchType\\\":"))
        .count();
    let refused = rust
        .iter()
        .filter(|r| r.contains("Provided settings are not valid"))
        .count();
    assert!(
        patches >= 50 && refused >= 50,
        "{patches} patches, {refused} refused settings"
    );
}
