//! The one checker: a case through a backend, compared with its expectation, and for every
//! mutation the two properties that hold for all of them: nothing the user wrote is lost, and the
//! policy applied to its own output changes nothing.

use serde_json::Value;

use crate::backend::{Answer, Backend, Request};
use crate::case::{Case, Expect, Payload};
use crate::cluster::{Call, Stage};
use crate::response::{AdmissionResponse, validate_payload};

/// The outcome of one case on one backend.
#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// Every mismatch found.
    Fail(Vec<String>),
    /// The backend cannot run this case; why.
    Skipped(String),
}

pub fn check(case: &Case, backend: &dyn Backend) -> Verdict {
    match run(case, backend) {
        Ok(v) => v,
        Err(e) => Verdict::Fail(vec![format!("{e:#}")]),
    }
}

fn run(case: &Case, backend: &dyn Backend) -> anyhow::Result<Verdict> {
    let request = match &case.payload {
        Payload::Request(r) => Request::Json(r),
        Payload::Raw(bytes) => Request::Raw(bytes),
        Payload::None => Request::None,
    };
    let mut errs = Vec::new();
    let e = &case.expect;
    let cluster = case.fresh_cluster();
    let evaluation = backend.evaluate(&case.settings, request, cluster.as_ref())?;
    if let Some(calls) = &evaluation.calls {
        host_calls(e, calls, &mut errs);
    }
    match evaluation.answer {
        Answer::Unsupported(why) => return Ok(Verdict::Skipped(why)),
        Answer::SettingsRefused(message) => {
            if e.settings_valid != Some(false) {
                errs.push(format!("the settings were refused: {message}"));
            }
            settings_message(e, &message, &mut errs);
        }
        Answer::SettingsAccepted => {
            if e.settings_valid == Some(false) {
                errs.push("the settings were accepted".into());
            }
        }
        Answer::Response(resp) => {
            if e.settings_valid == Some(false) {
                errs.push("the settings were accepted".into());
            }
            response(case, &resp, &mut errs);
            if let (Some(req), Some(mutated)) = (case.request(), mutated(case, &resp, &mut errs)) {
                pod_details(e, &mutated, &mut errs);
                nothing_lost(&req["object"], &mutated, &mut errs);
                idempotent(case, backend, req, &mutated, &mut errs)?;
            }
        }
    }
    if let Some(v) = &case.validate_expect {
        let payload = match &case.payload {
            Payload::Request(r) => validate_payload(r, &case.settings),
            Payload::Raw(b) => b.clone(),
            Payload::None => validate_payload(&Value::Null, &case.settings),
        };
        if let Some(answer) = backend.validate_only(&payload, case.fresh_cluster().as_ref())?
            && (answer["accepted"] != v.allowed
                || answer["code"].as_u64() != v.code.map(u64::from)
                || answer["message"] != v.message)
        {
            errs.push(format!(
                "validate with the refused settings:\n  got:      {answer}\n  expected: {v:?}"
            ));
        }
    }
    Ok(if errs.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(errs)
    })
}

/// The host calls of a cluster-mode evaluation: every one answerable by the real policy-server
/// and modelled by the cluster, and, when the case states them, exactly those, in that order.
fn host_calls(e: &Expect, calls: &[Call], errs: &mut Vec<String>) {
    never_answered(calls, errs);
    let Some(want) = &e.calls else { return };
    let got: Vec<String> = calls.iter().map(Call::summary).collect();
    if &got != want {
        let lines = |l: &[String]| l.iter().map(|c| format!("\n    {c}")).collect::<String>();
        errs.push(format!(
            "host calls:\n  got:{}\n  expected:{}",
            lines(&got),
            lines(want)
        ));
    }
}

/// Calls no test can vouch for: the real policy-server would wait for them forever, or the
/// cluster does not model them.
fn never_answered(calls: &[Call], errs: &mut Vec<String>) {
    for (i, c) in calls.iter().enumerate() {
        let why = match c.stage {
            Stage::WouldWaitForever => "the real policy-server never answers it",
            Stage::NotModelled => "the test cluster does not model it",
            _ => continue,
        };
        errs.push(format!(
            "host call {i} `{}`: {why}: {}",
            c.summary(),
            c.answer_text()
        ));
    }
}

fn settings_message(e: &Expect, message: &str, errs: &mut Vec<String>) {
    if let Some(m) = &e.settings_message
        && m != message
    {
        errs.push(format!(
            "settings message:\n  got:      {message:?}\n  expected: {m:?}"
        ));
    }
    for frag in &e.settings_message_contains {
        if !message.contains(frag.as_str()) {
            errs.push(format!("settings message {message:?} lacks {frag:?}"));
        }
    }
}

fn response(case: &Case, resp: &AdmissionResponse, errs: &mut Vec<String>) {
    let e = &case.expect;
    if e.allowed.is_some_and(|a| a != resp.allowed) {
        errs.push(format!(
            "allowed = {}, expected {:?}; status: {:?}",
            resp.allowed, e.allowed, resp.status
        ));
    }
    let message = resp.message();
    if let Some(m) = &e.message
        && m != message
    {
        errs.push(format!(
            "message:\n  got:      {message:?}\n  expected: {m:?}"
        ));
    }
    for frag in &e.message_contains {
        if !message.contains(frag.as_str()) {
            errs.push(format!("message {message:?} lacks {frag:?}"));
        }
    }
    let code = resp.status.as_ref().and_then(|s| s.code);
    if e.code.is_some() && code != e.code {
        errs.push(format!("code = {code:?}, expected {:?}", e.code));
    }
    let warnings = resp.warnings.clone().unwrap_or_default();
    if let Some(w) = &e.warnings
        && *w != warnings
    {
        errs.push(format!(
            "warnings:\n  got:      {warnings:?}\n  expected: {w:?}"
        ));
    }
    for frag in &e.warnings_contain {
        if !warnings.iter().any(|w| w.contains(frag.as_str())) {
            errs.push(format!(
                "no warning contains {frag:?}; warnings: {warnings:?}"
            ));
        }
    }
    if e.no_warnings && !warnings.is_empty() {
        errs.push(format!("expected no warnings, got {warnings:?}"));
    }
}

/// The object after the response's patch (None without a patch), checking the patch itself.
fn mutated(case: &Case, resp: &AdmissionResponse, errs: &mut Vec<String>) -> Option<Value> {
    let e = &case.expect;
    let patch = match resp.decoded_patch() {
        Ok(p) => p,
        Err(err) => {
            errs.push(format!("bad patch: {err:#}"));
            return None;
        }
    };
    let patch_json = patch
        .as_ref()
        .map(|p| serde_json::to_value(p).unwrap_or_default());
    if (e.no_patch || !resp.allowed) && patch.is_some() {
        errs.push(format!(
            "expected no patch, got {}",
            serde_json::to_string(&patch_json).unwrap_or_default()
        ));
    }
    if let Some(expected) = &e.patch
        && patch_json.as_ref() != Some(expected)
    {
        errs.push(format!(
            "patch differs:\n  got:      {}\n  expected: {}",
            serde_json::to_string(&patch_json).unwrap_or_default(),
            serde_json::to_string(expected).unwrap_or_default()
        ));
    }
    let mutated = match (patch, case.request()) {
        (Some(patch), Some(req)) => {
            let mut obj = req["object"].clone();
            match json_patch::patch(&mut obj, &patch) {
                Ok(()) => Some(obj),
                Err(err) => {
                    errs.push(format!("the patch does not apply: {err}"));
                    None
                }
            }
        }
        _ => None,
    };
    let expects_change = e.object.is_some()
        || e.env.is_some()
        || e.env_contains.is_some()
        || e.containers.is_some()
        || e.spec.is_some()
        || e.annotations.is_some();
    if expects_change && mutated.is_none() {
        errs.push("expected a mutated object, got no patch".into());
    }
    if let (Some(expected), Some(got)) = (&e.object, &mutated)
        && got != expected
    {
        errs.push(format!(
            "resulting object differs at {}:\n  got:      {}\n  expected: {}",
            first_difference(got, expected),
            serde_json::to_string(got).unwrap_or_default(),
            serde_json::to_string(expected).unwrap_or_default()
        ));
    }
    mutated
}

/// `NAME=value` for literals, `NAME<-fieldPath` for fieldRefs, `NAME<-valueFrom` otherwise.
pub fn env_lines(container: &Value) -> Vec<String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let name = e["name"].as_str().unwrap_or_default();
            match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                (Value::String(v), _) => format!("{name}={v}"),
                (_, Value::String(p)) => format!("{name}<-{p}"),
                _ => format!("{name}<-valueFrom"),
            }
        })
        .collect()
}

fn find_container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["initContainers", "containers"].iter().find_map(|list| {
        pod["spec"][list]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == name))
    })
}

fn pod_details(e: &Expect, pod: &Value, errs: &mut Vec<String>) {
    for (container, want) in e.env.iter().flatten() {
        let got = find_container(pod, container).map(env_lines);
        let want: Option<Vec<String>> = serde_json::from_value(want.clone()).ok();
        if got != want {
            errs.push(format!(
                "env of {container}:\n  got:      {got:?}\n  expected: {want:?}"
            ));
        }
    }
    for (container, want) in e.env_contains.iter().flatten() {
        let got = find_container(pod, container)
            .map(env_lines)
            .unwrap_or_default();
        for line in want.as_array().into_iter().flatten() {
            if !got.iter().any(|g| Some(g.as_str()) == line.as_str()) {
                errs.push(format!("env of {container} lacks {line}: {got:?}"));
            }
        }
    }
    for (container, want) in e.containers.iter().flatten() {
        let Some(got) = find_container(pod, container) else {
            errs.push(format!("no container {container}"));
            continue;
        };
        for (field, v) in want.as_object().into_iter().flatten() {
            if &got[field] != v {
                errs.push(format!(
                    "{container}.{field} = {}, expected {v}",
                    got[field]
                ));
            }
        }
    }
    for (key, want) in e.spec.iter().flatten() {
        if &pod["spec"][key] != want {
            errs.push(format!(
                "spec.{key} = {}, expected {want}",
                pod["spec"][key]
            ));
        }
    }
    for (key, want) in e.annotations.iter().flatten() {
        let got = &pod["metadata"]["annotations"][key];
        if got != want {
            errs.push(format!("annotation {key} = {got}, expected {want}"));
        }
    }
}

/// The prefix of the policy's record on the pod (its annotations are the policy's to write).
const RECORD_PREFIX: &str = "otel-python-policy.github.io/";
/// The cluster autoscaler's list, which the policy extends.
const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";

/// Every original container field other than env and volumeMounts is unchanged, every original
/// env entry and mount is still there verbatim, except `PYTHONPATH` and `OTEL_RESOURCE_ATTRIBUTES`,
/// whose new value contains the user's; every metadata field is unchanged but the annotations,
/// where each of the pod's own is kept (the autoscaler's list keeps its entries) and only the
/// policy's record may change.
fn nothing_lost(original: &Value, mutated: &Value, errs: &mut Vec<String>) {
    metadata_kept(&original["metadata"], &mutated["metadata"], errs);
    for list in ["initContainers", "containers"] {
        for orig in original["spec"][list].as_array().into_iter().flatten() {
            let name = orig["name"].as_str().unwrap_or_default();
            let Some(now) = find_container(mutated, name) else {
                errs.push(format!("container {name} lost"));
                continue;
            };
            for (k, v) in orig.as_object().into_iter().flatten() {
                if k != "env" && k != "volumeMounts" && &now[k] != v {
                    errs.push(format!("{list}.{name}.{k} changed"));
                }
            }
            let mounts = now["volumeMounts"].as_array().cloned().unwrap_or_default();
            for m in orig["volumeMounts"].as_array().into_iter().flatten() {
                if !mounts.contains(m) {
                    errs.push(format!("{name}: mount {m} lost"));
                }
            }
            let env = now["env"].as_array().cloned().unwrap_or_default();
            for e in orig["env"].as_array().into_iter().flatten() {
                let kept = env.contains(e);
                let wrapped = ["PYTHONPATH", "OTEL_RESOURCE_ATTRIBUTES"]
                    .contains(&e["name"].as_str().unwrap_or_default())
                    && env.iter().any(|n| {
                        n["name"] == e["name"]
                            && n["value"]
                                .as_str()
                                .unwrap_or_default()
                                .contains(e["value"].as_str().unwrap_or("\u{0}"))
                    });
                if !kept && !wrapped {
                    errs.push(format!("{name}: env entry {e} lost"));
                }
            }
        }
    }
    let volumes = mutated["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in original["spec"]["volumes"].as_array().into_iter().flatten() {
        if !volumes.contains(v) {
            errs.push(format!("volume {v} lost"));
        }
    }
}

fn metadata_kept(original: &Value, mutated: &Value, errs: &mut Vec<String>) {
    for (k, v) in original.as_object().into_iter().flatten() {
        if k != "annotations" && &mutated[k] != v {
            errs.push(format!("metadata.{k} changed"));
        }
    }
    let entries = |v: &Value| -> Vec<String> {
        let list = v.as_str().unwrap_or_default().split(',');
        list.map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect()
    };
    for (k, v) in original["annotations"].as_object().into_iter().flatten() {
        let now = &mutated["annotations"][k];
        if k.starts_with(RECORD_PREFIX) {
            continue;
        }
        if k == SAFE_TO_EVICT {
            let kept = entries(now);
            if !entries(v).iter().all(|e| kept.contains(e)) {
                errs.push(format!(
                    "annotation {k}: the pod's entries {v} are not all in {now}"
                ));
            }
        } else if now != v {
            errs.push(format!("annotation {k} = {v} became {now}"));
        }
    }
}

/// Kubernetes may call a mutating webhook again on its own output: nothing may change then.
fn idempotent(
    case: &Case,
    backend: &dyn Backend,
    request: &Value,
    mutated: &Value,
    errs: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut again = request.clone();
    again["object"] = mutated.clone();
    let cluster = case.fresh_cluster();
    let evaluation = backend.evaluate(&case.settings, Request::Json(&again), cluster.as_ref())?;
    if let Some(calls) = &evaluation.calls {
        never_answered(calls, errs);
    }
    match evaluation.answer {
        Answer::Response(r) if r.allowed && r.patch.is_none() => {}
        Answer::Response(r) => errs.push(format!(
            "second pass on the mutated object: allowed={} patch={:?} status={:?}",
            r.allowed,
            r.decoded_patch()
                .ok()
                .flatten()
                .map(|p| serde_json::to_string(&p).unwrap_or_default()),
            r.status
        )),
        other => errs.push(format!("second pass: {other:?}")),
    }
    Ok(())
}

/// A JSON pointer to the first place where two values differ (for readable failures).
pub fn first_difference(a: &Value, b: &Value) -> String {
    fn walk(a: &Value, b: &Value, path: &mut String) -> bool {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    match (x.get(k), y.get(k)) {
                        (Some(va), Some(vb)) if !walk(va, vb, path) => path.truncate(len),
                        _ => return true,
                    }
                }
                false
            }
            (Value::Array(x), Value::Array(y)) => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    if walk(va, vb, path) {
                        return true;
                    }
                    path.truncate(len);
                }
                if x.len() != y.len() {
                    path.push_str(&format!(" (length {} vs {})", x.len(), y.len()));
                    return true;
                }
                false
            }
            _ => a != b,
        }
    }
    let mut path = String::new();
    if walk(a, b, &mut path) {
        if path.is_empty() { "/".into() } else { path }
    } else {
        "(equal)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_difference_points_at_the_changed_leaf() {
        let a = json!({"spec": {"containers": [{"env": [{"name": "A"}]}]}});
        let b = json!({"spec": {"containers": [{"env": [{"name": "B"}]}]}});
        assert_eq!(first_difference(&a, &b), "/spec/containers/0/env/0/name");
        assert_eq!(first_difference(&a, &a), "(equal)");
    }

    #[test]
    fn a_lost_env_entry_and_a_changed_field_are_found() {
        let original = json!({"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "K", "value": "v"}]}]}});
        let mutated = json!({"spec": {"containers": [{"name": "a", "image": "x:2", "env": []}]}});
        let mut errs = Vec::new();
        nothing_lost(&original, &mutated, &mut errs);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn a_lost_or_changed_annotation_is_found_and_the_record_is_the_policys() {
        let original = json!({"metadata": {"name": "p", "annotations": {
            "team": "a", SAFE_TO_EVICT: "cache", "otel-python-policy.github.io/injected": "false"}}});
        let kept = json!({"metadata": {"name": "p", "annotations": {
            "team": "a", SAFE_TO_EVICT: "cache,packages", "otel-python-policy.github.io/injected": "true"}}});
        let mut errs = Vec::new();
        nothing_lost(&original, &kept, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        let lost = json!({"metadata": {"name": "q", "annotations": {SAFE_TO_EVICT: "packages"}}});
        nothing_lost(&original, &lost, &mut errs);
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    /// A guest that makes the host calls `calls` (operation, payload) through the case's cluster
    /// and admits the pod unchanged: the checker's side of cluster mode, without the policy.
    fn calling_guest(calls: Vec<(&'static str, String)>) -> crate::Guest<'static> {
        crate::Guest {
            name: "a guest that calls its host".into(),
            validate_settings: Box::new(|_| Ok(br#"{"valid":true}"#.to_vec())),
            validate: Box::new(move |_, cluster| {
                for (operation, payload) in &calls {
                    if let Some(c) = cluster {
                        let _ = c.answer("kubernetes", operation, payload.as_bytes());
                    }
                }
                Ok(br#"{"accepted":true}"#.to_vec())
            }),
        }
    }

    fn cluster_case(calls: Option<&[&str]>) -> Case {
        let cluster = crate::cluster::ClusterState::from_yaml(
            "objects:\n\
             - {apiVersion: v1, kind: Namespace, metadata: {name: default}}\n\
             - {apiVersion: opentelemetry.io/v1alpha1, kind: Instrumentation, metadata: {name: python, namespace: default}}\n\
             rbac: [{verbs: [get], apiGroups: [''], resources: [namespaces]}]\n",
        )
        .unwrap();
        Case {
            name: "cluster/example".into(),
            reason: "the checker in cluster mode".into(),
            settings: json!({}),
            payload: Payload::Request(json!({"uid": "u", "operation": "CREATE",
                "object": {"metadata": {"name": "p"}, "spec": {"containers": []}}})),
            expect: Expect {
                allowed: Some(true),
                no_patch: true,
                calls: calls.map(|c| c.iter().map(|s| s.to_string()).collect()),
                ..Expect::default()
            },
            validate_expect: None,
            cluster: Some(std::sync::Arc::new(cluster)),
        }
    }

    const GET_NS: &str = r#"{"api_version":"v1","kind":"Namespace","name":"default","namespace":null,"disable_cache":false,"field_masks":null}"#;
    const LIST_ALL: &str = r#"{"api_version":"opentelemetry.io/v1alpha1","kind":"Instrumentation","label_selector":null,"field_selector":null,"field_masks":["spec"]}"#;

    fn errors(v: Verdict) -> Vec<String> {
        match v {
            Verdict::Fail(errs) => errs,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn stated_calls_are_checked_exactly_and_in_order() {
        let guest = calling_guest(vec![("get_resource", GET_NS.into())]);
        let case = cluster_case(Some(&["get_resource v1/Namespace default"]));
        assert!(matches!(check(&case, &guest), Verdict::Pass));
        // One call more than stated, or calls where none are stated: a failure.
        let twice = calling_guest(vec![
            ("get_resource", GET_NS.into()),
            ("get_resource", GET_NS.into()),
        ]);
        let errs = errors(check(&case, &twice));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("host calls:"), "{}", errs[0]);
        assert!(errors(check(&cluster_case(Some(&[])), &guest))[0].starts_with("host calls:"));
    }

    #[test]
    fn unstated_calls_are_not_checked_but_a_call_that_never_returns_fails() {
        let guest = calling_guest(vec![("get_resource", GET_NS.into())]);
        assert!(matches!(check(&cluster_case(None), &guest), Verdict::Pass));
        // The ServiceAccount may not list Instrumentations: policy-server would wait forever.
        let listing = calling_guest(vec![("list_resources_all", LIST_ALL.into())]);
        let errs = errors(check(&cluster_case(None), &listing));
        assert!(
            errs.iter().any(|e| e.starts_with(
                "host call 0 `list_resources_all opentelemetry.io/v1alpha1/Instrumentation masks=[spec]`: the real policy-server never answers it"
            )),
            "{errs:?}"
        );
        // A call the policy does not make is not modelled, and fails the case too.
        let uncached = GET_NS.replace(r#""disable_cache":false"#, r#""disable_cache":true"#);
        let errs = errors(check(
            &cluster_case(None),
            &calling_guest(vec![("get_resource", uncached)]),
        ));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("host call 0 `get_resource (payload: ")
                    && e.contains("the test cluster does not model it")),
            "{errs:?}"
        );
    }
}
