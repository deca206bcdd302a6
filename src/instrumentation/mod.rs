//! The OpenTelemetry `Instrumentation` resource: the CRD's types and the operator's defaults.
//!
//! The OpenTelemetry `Instrumentation` resource (opentelemetry.io/v1alpha1), with the CRD's own
//! field names so that a user can paste a spec or a whole object into the settings unchanged.
//! Only the fields the Python injection uses carry meaning; other languages' sections are accepted
//! (they are part of the CRD) and ignored. The operator's defaults are applied here; the rules
//! every spec must follow, wherever it comes from, are in [`rules`].

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
mod scan;

/// `spec` of an Instrumentation.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstrumentationSpec {
    /// `exporter`: the endpoint and TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Exporter>,
    /// `propagators`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagators: Option<Vec<String>>,
    /// `sampler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<Sampler>,
    /// `env`: every language's env, below the language's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// `resource`: resource attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// `defaults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// `imagePullPolicy` of the init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// `initContainerSecurityContext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container_security_context: Option<SecurityContext>,
    /// `python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<Python>,
    // Other languages' sections: part of the CRD, accepted so a pasted spec works, never used.
    /// `java` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub java: Option<serde::de::IgnoredAny>,
    /// `nodejs` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub nodejs: Option<serde::de::IgnoredAny>,
    /// `dotnet` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub dotnet: Option<serde::de::IgnoredAny>,
    /// `go` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub go: Option<serde::de::IgnoredAny>,
    /// `apacheHttpd` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub apache_httpd: Option<serde::de::IgnoredAny>,
    /// `nginx` (accepted, not used).
    #[serde(default, skip_serializing)]
    pub nginx: Option<serde::de::IgnoredAny>,
}

/// `exporter`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exporter {
    /// `endpoint`: the collector's OTLP/HTTP URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// `exporter.tls`; the file fields keep the CRD's snake_case names.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `secretName`: the Secret that holds the files.
    #[serde(
        default,
        rename = "secretName",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_name: Option<String>,
    /// `configMapName`: the ConfigMap that holds the CA.
    #[serde(
        default,
        rename = "configMapName",
        skip_serializing_if = "Option::is_none"
    )]
    pub config_map_name: Option<String>,
    /// `ca_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// `cert_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// `key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
}

/// `sampler`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sampler {
    /// `type`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `argument`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
}

/// `resource`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    /// `resourceAttributes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_attributes: Option<BTreeMap<String, String>>,
    /// `addK8sUIDAttributes`: add `k8s.pod.uid` and the owners' uids.
    #[serde(
        default,
        rename = "addK8sUIDAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub add_k8s_uid_attributes: Option<bool>,
}

/// `defaults`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// `useLabelsForResourceAttributes`: take the service name and version from the well-known labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_labels_for_resource_attributes: Option<bool>,
}

/// `python`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Python {
    /// `image`: the auto-instrumentation image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `env`: the Python env, above `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// `resourceRequirements` of the init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_requirements: Option<ResourceRequirements>,
    /// `volumeLimitSize` of the `emptyDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_limit_size: Option<Quantity>,
    /// `volumeClaimTemplate`: an ephemeral volume instead of the `emptyDir`.
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
    /// `metadata`: labels and annotations only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ClaimTemplateMeta>,
    /// `spec`.
    pub spec: PersistentVolumeClaimSpec,
}

/// The claim template's metadata.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct ClaimTemplateMeta {
    /// `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An Instrumentation's `metadata`: the name and namespace pods refer to. The rest of an object's
/// metadata (uid, labels, managedFields, ...) means nothing to the injection and is not read.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct Metadata {
    /// `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A whole Instrumentation object as stored in a cluster (`kubectl get instrumentation -o yaml`).
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instrumentation {
    /// `apiVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: Metadata,
    /// `spec`.
    #[serde(default)]
    pub spec: InstrumentationSpec,
    /// Written by the operator; accepted so a pasted object works, never used.
    #[serde(default, skip_serializing)]
    pub status: Option<serde::de::IgnoredAny>,
}

impl Instrumentation {
    /// `metadata.name` (empty when absent).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
    /// `metadata.namespace` (empty when absent).
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

    /// `python`, empty when absent.
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
    /// `exporter.endpoint` (empty when absent).
    pub fn endpoint(&self) -> &str {
        self.exporter
            .as_ref()
            .and_then(|e| e.endpoint.as_deref())
            .unwrap_or_default()
    }
    /// `exporter.tls`.
    pub fn tls(&self) -> Option<&Tls> {
        self.exporter.as_ref().and_then(|e| e.tls.as_ref())
    }
    /// `sampler.type` (empty when absent).
    pub fn sampler_type(&self) -> &str {
        self.sampler
            .as_ref()
            .and_then(|s| s.type_.as_deref())
            .unwrap_or_default()
    }
    /// `sampler.argument` (empty when absent).
    pub fn sampler_argument(&self) -> &str {
        self.sampler
            .as_ref()
            .and_then(|s| s.argument.as_deref())
            .unwrap_or_default()
    }
    /// `resource.addK8sUIDAttributes` (default false).
    pub fn add_k8s_uid_attributes(&self) -> bool {
        self.resource
            .as_ref()
            .and_then(|r| r.add_k8s_uid_attributes)
            .unwrap_or(false)
    }
    /// `defaults.useLabelsForResourceAttributes` (default false).
    pub fn use_labels(&self) -> bool {
        self.defaults
            .as_ref()
            .and_then(|d| d.use_labels_for_resource_attributes)
            .unwrap_or(false)
    }
}
