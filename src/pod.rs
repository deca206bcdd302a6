//! What the policy reads of a pod, or of a workload's pod template: a narrow typed view over
//! k8s-openapi types, read at the place a [`Target`] names. The mutation is applied to the
//! original JSON (see `inject::apply`), so fields this view does not name — and fields newer than
//! this build's Kubernetes API version — pass through untouched.

use k8s_openapi::api::core::v1::{EnvVar, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::target::Target;

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_default")]
    pub spec: PodSpecView,
}

/// Why an object cannot be read as a pod: the dotted path of the bad field and the reason.
#[derive(Debug, PartialEq)]
pub struct ReadError {
    pub path: String,
    pub error: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView {
    #[serde(default, deserialize_with = "null_default")]
    pub containers: Vec<ContainerView>,
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<ContainerView>,
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: Vec<NamedItem>,
    #[serde(default, deserialize_with = "null_default")]
    pub node_name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub security_context: PodSecurityView,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityView {
    #[serde(default)]
    pub run_as_user: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<EnvVar>,
    #[serde(default, deserialize_with = "null_default")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Kept as JSON: only compared, never interpreted.
    #[serde(default)]
    pub security_context: Option<Value>,
}

#[derive(Deserialize, Default, Debug)]
pub struct NamedItem {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

fn read_at<T: serde::de::DeserializeOwned + Default>(
    object: &Value,
    pointer: &str,
) -> Result<T, ReadError> {
    match object.pointer(pointer) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
            let place = pointer.trim_start_matches('/').replace('/', ".");
            let inner = e.path().to_string();
            let path = match inner.as_str() {
                "." => place,
                p if p.starts_with('[') => format!("{place}{p}"),
                p => format!("{place}.{p}"),
            };
            ReadError {
                path,
                error: e.into_inner().to_string(),
            }
        }),
    }
}

/// `null` reads as the default, as the API server treats it.
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl PodView {
    /// The pod metadata and spec at `target`'s places in `object`; absent or `null` read as empty.
    pub fn read(object: &Value, target: &Target) -> Result<PodView, ReadError> {
        Ok(PodView {
            metadata: read_at(object, target.metadata)?,
            spec: read_at(object, target.spec)?,
        })
    }

    pub fn annotation(&self, key: &str) -> &str {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
            .unwrap_or_default()
    }
    pub fn label(&self, key: &str) -> &str {
        self.metadata
            .labels
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
            .unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
    pub fn uid(&self) -> &str {
        self.metadata.uid.as_deref().unwrap_or_default()
    }
    /// A name for messages: the pod's name, else its generateName prefix.
    pub fn display_name(&self) -> String {
        match (
            self.metadata.name.as_deref(),
            self.metadata.generate_name.as_deref(),
        ) {
            (Some(n), _) if !n.is_empty() => n.to_string(),
            (_, Some(g)) if !g.is_empty() => format!("{g}*"),
            _ => "(unnamed)".to_string(),
        }
    }
    pub fn container(&self, slot: Slot) -> &ContainerView {
        match slot {
            Slot::Init(i) => &self.spec.init_containers[i],
            Slot::Regular(i) => &self.spec.containers[i],
        }
    }
}

/// Where a container sits in the pod spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Init(usize),
    Regular(usize),
}

impl Slot {
    pub fn list_key(self) -> &'static str {
        match self {
            Slot::Init(_) => "initContainers",
            Slot::Regular(_) => "containers",
        }
    }
    pub fn index(self) -> usize {
        match self {
            Slot::Init(i) | Slot::Regular(i) => i,
        }
    }
}
