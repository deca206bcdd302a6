//! A small in-memory cluster for the native tests of cluster mode: objects answered with
//! policy-server's shapes and messages (not found, the CRD not served, the list of
//! `{apiVersion, kind: <Kind>List, items}`), `can_i` answering one fixed verdict, and a log of
//! the calls. The fixture cluster of `tests/inputs/clusters/` models far more (RBAC, grants,
//! field masks); this one keeps a property's thousands of cases cheap.

#![allow(dead_code)]

use std::cell::RefCell;

use otel_python_policy::cluster::Cluster;
use serde_json::{Value, json};

/// Objects by kind, answering as policy-server does; `calls` logs `operation kind name`.
#[derive(Default)]
pub struct Fake {
    pub objects: Vec<Value>,
    pub crd_missing: bool,
    pub list_allowed: Option<bool>,
    pub calls: RefCell<Vec<String>>,
}

impl Cluster for Fake {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let p: Value = serde_json::from_slice(payload).unwrap();
        let kind = p["kind"].as_str().unwrap_or("");
        self.calls.borrow_mut().push(format!(
            "{operation} {kind} {}",
            p["name"].as_str().unwrap_or(
                p["subject_access_review"]["resource_attributes"]["verb"]
                    .as_str()
                    .unwrap_or("")
            )
        ));
        if self.crd_missing && kind == "Instrumentation" {
            return Err("Callback evaluation failure: Cannot find resource opentelemetry.io/v1alpha1/Instrumentation".into());
        }
        match operation {
            "get_resource" => self
                .objects
                .iter()
                .find(|o| {
                    o["kind"] == p["kind"]
                        && o["metadata"]["name"] == p["name"]
                        && (p["namespace"].is_null() || o["metadata"]["namespace"] == p["namespace"])
                })
                .map(|o| o.to_string().into_bytes())
                .ok_or_else(|| {
                    format!(
                        "Callback evaluation failure: Cannot find {}/{kind} named '{}' inside of namespace '{:?}'",
                        p["api_version"].as_str().unwrap(),
                        p["name"].as_str().unwrap(),
                        p["namespace"].as_str()
                    )
                }),
            "can_i" => Ok(json!({"allowed": self.list_allowed.unwrap_or(true)})
                .to_string()
                .into_bytes()),
            "list_resources_all" => {
                let items: Vec<&Value> =
                    self.objects.iter().filter(|o| o["kind"] == p["kind"]).collect();
                Ok(json!({"apiVersion": p["api_version"], "kind": format!("{kind}List"), "metadata": {}, "items": items})
                    .to_string()
                    .into_bytes())
            }
            other => Err(format!("unknown operation: {other}")),
        }
    }
}
