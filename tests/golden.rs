//! Golden cases: `tests/golden/*.yaml`, one admission per file (request + settings → expected
//! decision, pod or message), and `tests/golden/settings/*.yaml`, lists of settings with the exact
//! message `validate_settings` must give. Each file says why it exists in `reason`.

use std::path::{Path, PathBuf};

use otel_python_policy::admission;
use serde_json::{Value, json};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        v["reason"].as_str().is_some_and(|r| r.len() > 20),
        "{}: every golden case says why it exists",
        path.display()
    );
    v
}

fn run(request: &Value, settings: &Value) -> Value {
    let payload = json!({"request": request, "settings": settings});
    serde_json::to_value(admission::validate(&serde_json::to_vec(&payload).unwrap())).unwrap()
}

/// `NAME=value` for literals, `NAME<-fieldPath` for fieldRefs, `NAME<-valueFrom` otherwise.
fn env_lines(container: &Value) -> Vec<String> {
    container["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|e| {
                    let name = e["name"].as_str().unwrap();
                    match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                        (Value::String(v), _) => format!("{name}={v}"),
                        (_, Value::String(p)) => format!("{name}<-{p}"),
                        _ => format!("{name}<-valueFrom"),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn find_container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    for list in ["initContainers", "containers"] {
        if let Some(c) = pod["spec"][list]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == name))
        {
            return c;
        }
    }
    panic!("no container {name}")
}

fn check_case(path: &Path) {
    let case = load(path);
    let name = path.file_name().unwrap().to_string_lossy();
    let request = &case["request"];
    let settings = &case["settings"];
    let expect = &case["expect"];
    let resp = run(request, settings);
    let ctx = || {
        format!(
            "{name}: response {}",
            serde_json::to_string_pretty(&resp).unwrap()
        )
    };

    assert_eq!(resp["accepted"], expect["allowed"], "{}", ctx());
    if let Some(m) = expect["message"].as_str() {
        assert_eq!(resp["message"].as_str(), Some(m), "{}", ctx());
    }
    for fragment in expect["message_contains"].as_array().into_iter().flatten() {
        let m = resp["message"].as_str().unwrap_or_default();
        assert!(
            m.contains(fragment.as_str().unwrap()),
            "{}: message lacks {fragment}",
            ctx()
        );
    }
    for fragment in expect["warnings_contain"].as_array().into_iter().flatten() {
        let all = resp["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        assert!(
            all.contains(fragment.as_str().unwrap()),
            "{}: warnings lack {fragment}",
            ctx()
        );
    }
    if expect["unchanged"] == json!(true) {
        assert!(resp["mutated_object"].is_null(), "{}", ctx());
    }
    if let Some(object) = expect.get("object") {
        assert_eq!(&resp["mutated_object"], object, "{}", ctx());
    }
    if let Some(envs) = expect["env"].as_object() {
        for (container, want) in envs {
            let got = env_lines(find_container(&resp["mutated_object"], container));
            let want: Vec<String> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(got, want, "{name}: env of {container}");
        }
    }
    for (key, want) in expect["spec"].as_object().into_iter().flatten() {
        assert_eq!(
            &resp["mutated_object"]["spec"][key], want,
            "{name}: spec.{key}"
        );
    }
    for (container, want) in expect["containers"].as_object().into_iter().flatten() {
        let got = find_container(&resp["mutated_object"], container);
        for (field, v) in want.as_object().unwrap() {
            assert_eq!(&got[field], v, "{name}: {container}.{field}");
        }
    }

    // Nothing the user wrote is lost: every original container field other than env and
    // volumeMounts is unchanged, every original env entry and mount is still there verbatim, except
    // PYTHONPATH and OTEL_RESOURCE_ATTRIBUTES, whose new value contains the user's.
    if let Some(mutated) = resp["mutated_object"].as_object() {
        for list in ["initContainers", "containers"] {
            for orig in request["object"]["spec"][list]
                .as_array()
                .into_iter()
                .flatten()
            {
                let now = find_container(
                    &Value::Object(mutated.clone()),
                    orig["name"].as_str().unwrap(),
                )
                .clone();
                for (k, v) in orig.as_object().unwrap() {
                    if k != "env" && k != "volumeMounts" {
                        assert_eq!(&now[k], v, "{name}: {list}.{k} changed");
                    }
                }
                for m in orig["volumeMounts"].as_array().into_iter().flatten() {
                    assert!(
                        now["volumeMounts"].as_array().unwrap().contains(m),
                        "{name}: mount {m} lost"
                    );
                }
                for e in orig["env"].as_array().into_iter().flatten() {
                    let kept = now["env"].as_array().unwrap().contains(e);
                    let wrapped = ["PYTHONPATH", "OTEL_RESOURCE_ATTRIBUTES"]
                        .contains(&e["name"].as_str().unwrap())
                        && now["env"].as_array().unwrap().iter().any(|n| {
                            n["name"] == e["name"]
                                && n["value"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .contains(e["value"].as_str().unwrap_or("\u{0}"))
                        });
                    assert!(kept || wrapped, "{name}: env entry {e} lost");
                }
            }
        }
    }

    // Every mutation is idempotent: the policy applied to its own output changes nothing.
    if let Some(mutated) = resp["mutated_object"].as_object() {
        let mut again = request.clone();
        again["object"] = Value::Object(mutated.clone());
        let second = run(&again, settings);
        assert_eq!(second["accepted"], json!(true), "{name}: second pass");
        assert!(
            second["mutated_object"].is_null(),
            "{name}: the second pass must not mutate: {second}"
        );
    }
}

#[test]
fn admission_cases() {
    let cases = files("tests/golden");
    assert!(
        cases.len() >= 20,
        "expected the golden admission cases, found {}",
        cases.len()
    );
    for path in cases {
        check_case(&path);
    }
}

#[test]
fn settings_cases() {
    let mut count = 0;
    for path in files("tests/golden/settings") {
        let file = load(&path);
        for case in file["cases"].as_array().unwrap() {
            count += 1;
            let why = case["reason"].as_str().unwrap_or_default();
            assert!(
                !why.is_empty(),
                "{}: every settings case says why it exists",
                path.display()
            );
            let resp =
                admission::validate_settings(&serde_json::to_vec(&case["settings"]).unwrap());
            match case["message"].as_str() {
                None => assert!(
                    resp.valid,
                    "{} ({why}): refused: {:?}",
                    path.display(),
                    resp.message
                ),
                Some(m) => {
                    assert!(!resp.valid, "{} ({why}): accepted", path.display());
                    assert_eq!(
                        resp.message.as_deref(),
                        Some(m),
                        "{} ({why})",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        count >= 25,
        "expected the settings catalogue, found {count}"
    );
}
