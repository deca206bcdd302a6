//! The `policy-run` binary behaves like `kwctl run`: input forms, output line, exit codes.
//! Needs the built module (`cargo build --target wasm32-wasip1 --release`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use e2e_tests::host::AdmissionResponse;
use e2e_tests::module::{inputs_dir, module_path, read_built_module};

/// The article's example, as the README runs it.
const ARTICLE: [&str; 4] = [
    "--request-path",
    "requests/article-pod.json",
    "--settings-path",
    "settings/article.yaml",
];

fn policy_run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    read_built_module().unwrap_or_else(|e| panic!("{e:#}"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy-run"));
    cmd.current_dir(inputs_dir())
        .args(args)
        .arg(module_path())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn policy-run");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn one_line_response(out: &Output) -> AdmissionResponse {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout must be one line: {stdout}"
    );
    serde_json::from_str(stdout.trim_end()).expect("stdout is an AdmissionResponse")
}

#[test]
fn article_example_prints_one_admission_response_line_with_a_json_patch() {
    let out = policy_run(&ARTICLE, None);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = one_line_response(&out);
    assert_eq!(resp.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert!(resp.allowed);
    assert_eq!(resp.patch_type.as_deref(), Some("JSONPatch"));
    assert!(resp.decoded_patch().unwrap().is_some());
}

#[test]
fn request_from_stdin_and_settings_json_give_the_same_answer_as_files() {
    let request = std::fs::read(inputs_dir().join("requests/article-pod.json")).unwrap();
    let settings_yaml =
        std::fs::read_to_string(inputs_dir().join("settings/article.yaml")).unwrap();
    let settings: serde_json::Value = serde_yaml::from_str(&settings_yaml).unwrap();
    let settings_json = serde_json::to_string(&settings).unwrap();
    let from_files = policy_run(&ARTICLE, None);
    let from_stdin = policy_run(
        &["--request-path", "-", "--settings-json", &settings_json],
        Some(&request),
    );
    assert!(
        from_stdin.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&from_stdin.stderr)
    );
    assert_eq!(from_files.stdout, from_stdin.stdout);
}

#[test]
fn invalid_settings_exit_1_with_kwctls_message() {
    let out = policy_run(
        &[
            "--request-path",
            "requests/article-pod.json",
            "--settings-json",
            r#"{"exporter": {"endpoint": "not a url"}}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout when settings are invalid"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: Provided settings are not valid: "),
        "stderr: {stderr}"
    );
}

#[test]
fn show_patch_prints_the_decoded_patch_on_stderr_only() {
    let args = ARTICLE;
    let plain = policy_run(&args, None);
    let mut with_flag_args = args.to_vec();
    with_flag_args.push("--show-patch");
    let shown = policy_run(&with_flag_args, None);
    assert_eq!(
        plain.stdout, shown.stdout,
        "stdout is unchanged by --show-patch"
    );
    let stderr = String::from_utf8_lossy(&shown.stderr);
    let start = stderr.find('[').expect("a JSON array on stderr");
    let patch: serde_json::Value = serde_json::from_str(stderr[start..].trim()).unwrap();
    let expected =
        serde_json::to_value(one_line_response(&plain).decoded_patch().unwrap()).unwrap();
    assert_eq!(patch, expected);
}

#[test]
fn missing_request_path_is_a_usage_error() {
    let out = policy_run(&[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--request-path"));
}

#[test]
fn a_request_kwctl_cannot_read_is_refused_before_the_policy_runs() {
    let text =
        std::fs::read_to_string(inputs_dir().join("requests/pod-no-annotation.json")).unwrap();
    let mut request: serde_json::Value = serde_json::from_str(&text).unwrap();
    request.as_object_mut().unwrap().remove("userInfo");
    let out = policy_run(
        &["--request-path", "-"],
        Some(request.to_string().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing field `userInfo`"),
        "stderr: {stderr}"
    );
}

#[test]
fn null_settings_are_no_settings_as_in_kwctl() {
    let args = ["--request-path", "requests/pod-no-annotation.json"];
    let none = policy_run(&args, None);
    let mut with_null = args.to_vec();
    with_null.extend(["--settings-json", "null"]);
    let null = policy_run(&with_null, None);
    assert!(
        null.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&null.stderr)
    );
    assert_eq!(none.stdout, null.stdout);
    let mut with_list = args.to_vec();
    with_list.extend(["--settings-json", "[1]"]);
    assert_eq!(policy_run(&with_list, None).status.code(), Some(1));
}

/// `--cluster` answers host calls from a fixture, `--write-session` writes them as kwctl's
/// session file; a settings-mode run asks nothing, so its session is empty and its answer the
/// same as without a cluster.
#[test]
fn a_cluster_run_writes_the_session_kwctl_replays() {
    let dir = e2e_tests::kwctl::TempDir::new("policy-run-session").unwrap();
    let session = dir.path().join("session.yml");
    let args = ARTICLE;
    let plain = policy_run(&args, None);
    let session_arg = session.to_str().unwrap();
    let mut with_cluster = args.to_vec();
    with_cluster.extend([
        "--cluster",
        "clusters/article.yml",
        "--write-session",
        session_arg,
        "--show-calls",
    ]);
    let out = policy_run(&with_cluster, None);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, plain.stdout);
    assert_eq!(std::fs::read_to_string(&session).unwrap(), "[]\n");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("call: "));
    // Session options need a cluster; a missing fixture is named.
    let out = policy_run(&[args[0], args[1], "--write-session", session_arg], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --cluster"));
    let out = policy_run(&[args[0], args[1], "--cluster", "clusters/nope.yml"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read clusters/nope.yml"));
}
