//! The OpenTelemetry `Instrumentation` resource (opentelemetry.io/v1alpha1), with the CRD's own
//! field names so that a user can paste a spec or a whole object into the settings unchanged.
//! Only the fields the Python injection uses carry meaning; other languages' sections are accepted
//! (they are part of the CRD) and ignored.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EnvVar, PersistentVolumeClaimSpec, ResourceRequirements, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

use crate::operator::{
    DEFAULT_LIMIT_CPU, DEFAULT_LIMIT_MEMORY, DEFAULT_PYTHON_IMAGE, DEFAULT_REQUEST_CPU,
    DEFAULT_REQUEST_MEMORY,
};

pub mod rules;

/// `spec` of an Instrumentation.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstrumentationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Exporter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagators: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<Sampler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<Python>,
    // Other languages' sections: part of the CRD, accepted so a pasted spec works, never used.
    #[serde(default, skip_serializing)]
    pub java: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub nodejs: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub dotnet: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub go: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub apache_httpd: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub nginx: Option<serde::de::IgnoredAny>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// `exporter.tls`; the file fields keep the CRD's snake_case names.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    #[serde(
        default,
        rename = "secretName",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_name: Option<String>,
    #[serde(
        default,
        rename = "configMapName",
        skip_serializing_if = "Option::is_none"
    )]
    pub config_map_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sampler {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_attributes: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        rename = "addK8sUIDAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub add_k8s_uid_attributes: Option<bool>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_labels_for_resource_attributes: Option<bool>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Python {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_requirements: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_limit_size: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_template: Option<ClaimTemplate>,
}

/// `python.volumeClaimTemplate`: the Kubernetes `PersistentVolumeClaimTemplate`. Its metadata may
/// only hold labels and annotations (the API server refuses anything else in an ephemeral volume's
/// template), so only those are read; a `creationTimestamp: null` from `kubectl get -o yaml` is
/// skipped like every null, any other key is named as unknown by the settings checks.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ClaimTemplateMeta>,
    pub spec: PersistentVolumeClaimSpec,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct ClaimTemplateMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An Instrumentation's `metadata`: the name and namespace pods refer to. The rest of an object's
/// metadata (uid, labels, managedFields, ...) means nothing to the injection and is not read.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A whole Instrumentation object as stored in a cluster (`kubectl get instrumentation -o yaml`).
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instrumentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: InstrumentationSpec,
    /// Written by the operator; accepted so a pasted object works, never used.
    #[serde(default, skip_serializing)]
    pub status: Option<serde::de::IgnoredAny>,
}

impl Instrumentation {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }
}

impl InstrumentationSpec {
    /// Applies the operator's defaults (its CR defaulting webhook): image and init container
    /// resources. The volume size default is applied when the volume is built. An empty image is
    /// not a missing one: it is refused by the checks, not replaced.
    pub fn apply_defaults(&mut self) {
        let python = self.python.get_or_insert_with(Default::default);
        if python.image.is_none() {
            python.image = Some(DEFAULT_PYTHON_IMAGE.to_string());
        }
        let res = python
            .resource_requirements
            .get_or_insert_with(Default::default);
        if res.limits.is_none() {
            res.limits = Some(BTreeMap::from([
                ("cpu".to_string(), Quantity(DEFAULT_LIMIT_CPU.into())),
                ("memory".to_string(), Quantity(DEFAULT_LIMIT_MEMORY.into())),
            ]));
        }
        if res.requests.is_none() {
            res.requests = Some(BTreeMap::from([
                ("cpu".to_string(), Quantity(DEFAULT_REQUEST_CPU.into())),
                (
                    "memory".to_string(),
                    Quantity(DEFAULT_REQUEST_MEMORY.into()),
                ),
            ]));
        }
    }

    pub fn python(&self) -> &Python {
        static EMPTY: Python = Python {
            image: None,
            env: None,
            resource_requirements: None,
            volume_limit_size: None,
            volume_claim_template: None,
        };
        self.python.as_ref().unwrap_or(&EMPTY)
    }
    pub fn endpoint(&self) -> &str {
        self.exporter
            .as_ref()
            .and_then(|e| e.endpoint.as_deref())
            .unwrap_or_default()
    }
    pub fn tls(&self) -> Option<&Tls> {
        self.exporter.as_ref().and_then(|e| e.tls.as_ref())
    }
    pub fn sampler_type(&self) -> &str {
        self.sampler
            .as_ref()
            .and_then(|s| s.type_.as_deref())
            .unwrap_or_default()
    }
    pub fn sampler_argument(&self) -> &str {
        self.sampler
            .as_ref()
            .and_then(|s| s.argument.as_deref())
            .unwrap_or_default()
    }
    pub fn add_k8s_uid_attributes(&self) -> bool {
        self.resource
            .as_ref()
            .and_then(|r| r.add_k8s_uid_attributes)
            .unwrap_or(false)
    }
    pub fn use_labels(&self) -> bool {
        self.defaults
            .as_ref()
            .and_then(|d| d.use_labels_for_resource_attributes)
            .unwrap_or(false)
    }
}
