//! Writing a plan into the object's original JSON at the target's place. Entries the user wrote
//! are copied from the original JSON; only the policy's own entries are serialized from
//! k8s-openapi types, so fields the policy does not model pass through byte for byte.

use serde_json::{Map, Value};

use super::{ContainerEdit, Plan};
use crate::refusal::ApplyProblem;
use crate::target::Target;

pub fn apply(plan: &Plan, object: &mut Value, target: &Target) -> Result<(), ApplyProblem> {
    let spec = object
        .pointer_mut(target.spec)
        .and_then(Value::as_object_mut)
        .ok_or(ApplyProblem::SpecNotAnObject)?;
    for edit in &plan.edits {
        let container = spec
            .get_mut(edit.slot.list_key())
            .and_then(Value::as_array_mut)
            .and_then(|list| list.get_mut(edit.slot.index()))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApplyProblem::ContainerNotAnObject {
                container: edit.name.clone(),
            })?;
        apply_container(edit, container);
    }
    push_all(
        spec.entry("volumes").or_insert(Value::Null),
        plan.volumes.iter().map(to_json),
    );
    let init = spec.entry("initContainers").or_insert(Value::Null);
    if !init.is_array() {
        *init = Value::Array(Vec::new());
    }
    if let Value::Array(list) = init {
        let at = plan.init_position.unwrap_or(list.len()).min(list.len());
        list.insert(at, to_json(&plan.init_container));
    }
    Ok(())
}

fn apply_container(edit: &ContainerEdit, container: &mut Map<String, Value>) {
    let original = match container.get_mut("env") {
        Some(Value::Array(a)) => std::mem::take(a),
        _ => Vec::new(),
    };
    let mut env = Vec::with_capacity(edit.env.entries.len());
    for entry in &edit.env.entries {
        match entry.origin.and_then(|i| original.get(i)) {
            Some(orig) if !entry.rewritten => env.push(orig.clone()),
            Some(orig) => {
                let mut orig = orig.clone();
                if let Some(o) = orig.as_object_mut() {
                    o.insert(
                        "value".into(),
                        Value::String(entry.var.value.clone().unwrap_or_default()),
                    );
                }
                env.push(orig);
            }
            None => env.push(to_json(&entry.var)),
        }
    }
    container.insert("env".into(), Value::Array(env));
    push_all(
        container.entry("volumeMounts").or_insert(Value::Null),
        edit.mounts.iter().map(to_json),
    );
}

fn push_all(slot: &mut Value, items: impl Iterator<Item = Value>) {
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(list) = slot {
        list.extend(items);
    }
}

fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}
