//! The pod (or a workload's pod template) as the policy reads it: a narrow typed view.
//!
//! What the policy reads of a pod, or of a workload's pod template: a narrow typed view over
//! k8s-openapi types, read at the place a [`Target`] names. The mutation is applied to the
//! original JSON (see `inject::apply`), so fields this view does not name — and fields newer than
//! this build's Kubernetes API version — pass through untouched.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::syntax::json_text::{At, ObjectOnly, without_position};

use crate::target::Target;

mod scan;

/// A pod, or a workload's pod template, as the injection reads it.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    /// Its metadata.
    #[serde(default, deserialize_with = "object_meta")]
    pub metadata: PodMeta,
    /// Its spec.
    #[serde(default, deserialize_with = "null_default")]
    pub spec: PodSpecView,
}

/// The pod metadata the injection reads (the fields of `ObjectMeta` it needs, with their names).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PodMeta {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `generateName`.
    #[serde(default)]
    pub generate_name: Option<String>,
    /// `namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `uid`.
    #[serde(default)]
    pub uid: Option<String>,
    /// `labels`.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// `annotations` (in cluster mode completed with the Namespace's).
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    /// `ownerReferences`.
    #[serde(default)]
    pub owner_references: Option<Vec<Owner>>,
    /// Cluster mode: the controller of the pod's controller (a ReplicaSet's Deployment, a Job's
    /// CronJob) as the cluster says; `None` when not looked up.
    #[serde(skip)]
    pub owners_owner: Option<Vec<Owner>>,
}

/// An owner reference: who created the pod.
#[derive(Deserialize, Default, Debug, Clone)]
pub struct Owner {
    /// The owner's kind.
    #[serde(default, deserialize_with = "null_default")]
    pub kind: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Its uid.
    #[serde(default, deserialize_with = "null_default")]
    pub uid: String,
    /// Whether it is the controller.
    #[serde(default)]
    pub controller: Option<bool>,
}

/// The pod spec the injection reads.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView {
    /// `containers`.
    #[serde(default, deserialize_with = "null_default")]
    pub containers: Vec<ContainerView>,
    /// `initContainers`.
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<ContainerView>,
    /// `volumes` (their names, and whether they are image volumes).
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: Vec<VolumeView>,
    /// `imagePullSecrets` (their names).
    #[serde(default, deserialize_with = "null_default")]
    pub image_pull_secrets: Vec<NamedItem>,
    /// `nodeName`.
    #[serde(default, deserialize_with = "null_default")]
    pub node_name: String,
    /// `securityContext`.
    #[serde(default, deserialize_with = "null_default")]
    pub security_context: PodSecurityView,
}

/// The pod's security context, as far as the init container's depends on it.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityView {
    /// `runAsUser`.
    #[serde(default)]
    pub run_as_user: Option<i64>,
}

/// A container, as the injection reads it.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    /// `name`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `image`.
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    /// `env`.
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<EnvEntry>,
    /// `command` (empty: the image's entrypoint).
    #[serde(default, deserialize_with = "null_default")]
    pub command: Vec<String>,
    /// `args` (empty: the image's command, when `command` is empty too).
    #[serde(default, deserialize_with = "null_default")]
    pub args: Vec<String>,
    /// `workingDir`.
    #[serde(default, deserialize_with = "null_default")]
    pub working_dir: String,
    /// `volumeMounts`.
    #[serde(default, deserialize_with = "null_default")]
    pub volume_mounts: Vec<MountView>,
}

/// A container's env entry as the injection sees it: its name, its literal value, and where else
/// it takes its value from (the user's entry itself is kept verbatim).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvEntry {
    /// `name`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `value`.
    #[serde(default)]
    pub value: Option<String>,
    /// `valueFrom`, as written (the user's entry itself is written back verbatim).
    #[serde(default)]
    pub value_from: Option<Box<RawValue>>,
}

/// A volume mount: its volume and path.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MountView {
    /// `name`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `mountPath`.
    #[serde(default, deserialize_with = "null_default")]
    pub mount_path: String,
}

/// Anything with a name (a pull secret's reference).
#[derive(Deserialize, Default, Debug)]
pub struct NamedItem {
    /// `name`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

/// A volume: its name, and whether it is an image volume.
#[derive(Deserialize, Default, Debug)]
pub struct VolumeView {
    /// `name`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `image`, only whether it is there (`null` is absent).
    #[serde(default)]
    pub image: Option<IgnoredAny>,
}

/// Why an object cannot be read as a pod: the dotted path of the bad field and the reason.
#[derive(Debug, PartialEq)]
pub struct ReadError {
    /// The dotted path of the field.
    pub path: String,
    /// What is wrong with it.
    pub error: String,
}

/// The metadata object (`null` reads as empty). Only an object, as Kubernetes' `ObjectMeta`
/// reads it (a derived struct would also take a list).
fn object_meta<'de, D: Deserializer<'de>>(d: D) -> Result<PodMeta, D::Error> {
    struct Meta;
    impl<'de> Visitor<'de> for Meta {
        type Value = PodMeta;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("ObjectMeta")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PodMeta, A::Error> {
            PodMeta::deserialize(de::value::MapAccessDeserializer::new(map))
        }
        fn visit_unit<E: de::Error>(self) -> Result<PodMeta, E> {
            Ok(PodMeta::default())
        }
    }
    d.deserialize_any(Meta)
}

/// `null` reads as the default, as the API server treats it.
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl PodView {
    /// The pod (template) at `target`'s place in the object's JSON text, read in one pass that
    /// skips the rest; absent or `null` reads as empty. The strict scanner reads it; what the
    /// scanner leaves to serde_json is read by the derived readers. The error names the dotted
    /// path: only a pod that does not read is read again, tracking the path (which costs every
    /// pod that reads about half as much again).
    pub fn read(object: &str, target: &Target) -> Result<PodView, ReadError> {
        Self::read_placed(object, target, None)
    }

    /// [`PodView::read`] where the object's head says which bytes of `object` the template is
    /// (`template`, an object's text): the scanner reads only those. Read as the whole object
    /// reads, so a template the scanner leaves to serde_json is read (and its error's path named)
    /// from the whole object.
    pub fn read_placed(
        object: &str,
        target: &Target,
        template: Option<Range<usize>>,
    ) -> Result<PodView, ReadError> {
        let scanned = match template.and_then(|at| object.get(at)) {
            Some(text) => scan::read(text, &[]),
            None => scan::read(object, target.template),
        };
        match scanned {
            Some(pod) => Ok(pod),
            None => Self::read_derived(object, target),
        }
    }

    /// [`PodView::read`] by the derived serde readers.
    fn read_derived(object: &str, target: &Target) -> Result<PodView, ReadError> {
        let at = At::<ObjectOnly<PodView>>(target.template, PhantomData);
        match at.deserialize(&mut serde_json::Deserializer::from_str(object)) {
            Ok(pod) => Ok(pod.and_then(|p| p.0).unwrap_or_default()),
            Err(_) => Self::read_tracked(object, target),
        }
    }

    /// [`PodView::read`] with the path of the field being read tracked, for the error.
    fn read_tracked(object: &str, target: &Target) -> Result<PodView, ReadError> {
        let mut json = serde_json::Deserializer::from_str(object);
        let mut track = serde_path_to_error::Track::new();
        let read = At::<ObjectOnly<PodView>>(target.template, PhantomData).deserialize(
            serde_path_to_error::Deserializer::new(&mut json, &mut track),
        );
        match read {
            Ok(pod) => Ok(pod.and_then(|p| p.0).unwrap_or_default()),
            Err(e) => Err(ReadError {
                path: track.path().to_string(),
                error: without_position(&e),
            }),
        }
    }

    /// An annotation's value (empty when absent).
    pub fn annotation(&self, key: &str) -> &str {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
            .unwrap_or_default()
    }
    /// A label's value (empty when absent).
    pub fn label(&self, key: &str) -> &str {
        self.metadata
            .labels
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
            .unwrap_or_default()
    }
    /// `metadata.name` (empty when absent).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
    /// `metadata.uid` (empty when absent).
    pub fn uid(&self) -> &str {
        self.metadata.uid.as_deref().unwrap_or_default()
    }
    /// A name for messages: the pod's name, else its generateName prefix.
    pub fn display_name(&self) -> String {
        display_name(
            self.metadata.name.as_deref(),
            self.metadata.generate_name.as_deref(),
        )
    }
    /// The container at `slot`.
    pub fn container(&self, slot: Slot) -> &ContainerView {
        match slot {
            Slot::Init(i) => &self.spec.init_containers[i],
            Slot::Regular(i) => &self.spec.containers[i],
        }
    }
}

/// How messages name an object: its name, else its generateName prefix and `*`.
pub fn display_name(name: Option<&str>, generate_name: Option<&str>) -> String {
    match (name, generate_name) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(g)) if !g.is_empty() => [g, "*"].concat(),
        _ => "(unnamed)".to_string(),
    }
}

/// Where a container sits in the pod spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `initContainers[i]`.
    Init(usize),
    /// `containers[i]`.
    Regular(usize),
}

impl Slot {
    /// Whether it is an init container.
    pub fn is_init(self) -> bool {
        matches!(self, Slot::Init(_))
    }
    /// `initContainers` or `containers`.
    pub fn list_key(self) -> &'static str {
        match self {
            Slot::Init(_) => "initContainers",
            Slot::Regular(_) => "containers",
        }
    }
    /// The index in its list.
    pub fn index(self) -> usize {
        match self {
            Slot::Init(i) | Slot::Regular(i) => i,
        }
    }
}
