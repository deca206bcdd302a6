//! The policy's own options, one reader each, shared by both ways of reading the settings.
//!
//! The full parse (`validate_settings`) and the per-request view (`validate`) read every option
//! here, so both accept and refuse exactly the same values.

use serde_json::Value;

use crate::image::{Delivery, ImageOptions};
use crate::keys::{
    DEFAULT_SERVICE_ACCOUNT, OPT_ALLOW_CROSS_NAMESPACE, OPT_AUDIT, OPT_AUTOSCALER_SAFE_TO_EVICT,
    OPT_FAILURE_ACTION, OPT_INSPECT_APP_IMAGES, OPT_INSTRUMENTATION_SOURCE, OPT_PREFLIGHT,
    OPT_SERVICE_ACCOUNT,
};
use crate::refusal::{OptionFault, SettingsProblem};
use crate::syntax::k8s_names::{is_dns1123_label, is_dns1123_subdomain};

/// What happens to a pod that asked for instrumentation but cannot get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailureAction {
    /// Refuse the pod with a message that says why (this policy's default).
    #[default]
    Reject,
    /// The operator's behaviour: admit the pod unchanged, with the reason as a warning.
    Admit,
}

/// What each instrumented pod does before its app starts, when the app's own interpreter finds
/// the injected packages unusable (see `crate::inject::preflight`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Preflight {
    /// No preflight: the operator's pod, exactly.
    #[default]
    Off,
    /// On a finding the app starts without instrumentation, the reason recorded.
    Disable,
    /// On a finding the pod does not start, the reason recorded.
    Fail,
}

/// The options besides the instrumentations, with their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `failureAction`.
    pub failure_action: FailureAction,
    /// `allowCrossNamespaceReferences` (default true).
    pub allow_cross_namespace_references: bool,
    /// `instrumentationSource: cluster`: also read the cluster's Instrumentations, namespace
    /// annotations and owners.
    pub cluster_mode: bool,
    /// `policyServerServiceAccount`, `namespace/name`, for the RBAC checks of cluster mode.
    pub service_account: String,
    /// `preflight`.
    pub preflight: Preflight,
    /// `imageRewrites`, `imagePullSecrets`, `pinImageDigest` and `delivery`.
    pub image: ImageOptions,
    /// `autoscalerSafeToEvict` (default true): the packages' `emptyDir` goes in the cluster
    /// autoscaler's safe-to-evict list.
    pub autoscaler_safe_to_evict: bool,
    /// `audit` (default false): the audit role, which never patches and reports pods whose
    /// instrumentation is missing or stale.
    pub audit: bool,
    /// `inspectAppImages` (default false): read each instrumented container's image
    /// configuration at admission (see `crate::app_image`).
    pub inspect_app_images: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            failure_action: FailureAction::Reject,
            allow_cross_namespace_references: true,
            cluster_mode: false,
            service_account: DEFAULT_SERVICE_ACCOUNT.to_string(),
            preflight: Preflight::Off,
            image: ImageOptions::default(),
            autoscaler_safe_to_evict: true,
            audit: false,
            inspect_app_images: false,
        }
    }
}

impl Options {
    /// The keys these options are read from.
    pub const KEYS: [&'static str; 12] = [
        OPT_FAILURE_ACTION,
        OPT_ALLOW_CROSS_NAMESPACE,
        OPT_INSTRUMENTATION_SOURCE,
        OPT_SERVICE_ACCOUNT,
        OPT_PREFLIGHT,
        ImageOptions::KEYS[0],
        ImageOptions::KEYS[1],
        ImageOptions::KEYS[2],
        ImageOptions::KEYS[3],
        OPT_AUTOSCALER_SAFE_TO_EVICT,
        OPT_AUDIT,
        OPT_INSPECT_APP_IMAGES,
    ];

    /// The options that cannot be taken together: `preflight: disable` needs the copied tree,
    /// which `delivery: imageVolume` does not make.
    pub fn check_together(&self) -> Result<(), SettingsProblem> {
        if self.preflight == Preflight::Disable && self.image.delivery == Delivery::ImageVolume {
            let fault = OptionFault::DisableOnImageVolume;
            return Err(SettingsProblem::new(OPT_PREFLIGHT, fault));
        }
        Ok(())
    }

    /// Reads `key` when it is one of these options: `Ok(true)`, or the problem with its value;
    /// `Ok(false)` for any other key.
    pub fn read(&mut self, key: &str, v: &Value) -> Result<bool, SettingsProblem> {
        match key {
            OPT_FAILURE_ACTION => self.failure_action = failure_action(v)?,
            OPT_ALLOW_CROSS_NAMESPACE => {
                self.allow_cross_namespace_references = boolean(OPT_ALLOW_CROSS_NAMESPACE, v, true)?
            }
            OPT_AUTOSCALER_SAFE_TO_EVICT => {
                self.autoscaler_safe_to_evict = boolean(OPT_AUTOSCALER_SAFE_TO_EVICT, v, true)?
            }
            OPT_AUDIT => self.audit = boolean(OPT_AUDIT, v, false)?,
            OPT_INSTRUMENTATION_SOURCE => self.cluster_mode = cluster_mode(v)?,
            OPT_PREFLIGHT => self.preflight = preflight(v)?,
            OPT_INSPECT_APP_IMAGES => {
                self.inspect_app_images = boolean(OPT_INSPECT_APP_IMAGES, v, false)?
            }
            OPT_SERVICE_ACCOUNT => {
                if let Some(sa) = service_account(v)? {
                    self.service_account = sa;
                }
            }
            _ => return self.image.read(key, v),
        }
        Ok(true)
    }
}

/// `failureAction`: `reject` or `admit`.
fn failure_action(v: &Value) -> Result<FailureAction, SettingsProblem> {
    match v.as_str() {
        Some("reject") => Ok(FailureAction::Reject),
        Some("admit") => Ok(FailureAction::Admit),
        _ => Err(SettingsProblem::new(
            OPT_FAILURE_ACTION,
            OptionFault::FailureAction {
                value: v.to_string(),
            },
        )),
    }
}

/// A boolean option `key` (`null`: its default).
fn boolean(key: &str, v: &Value, default: bool) -> Result<bool, SettingsProblem> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(default),
        _ => Err(SettingsProblem::new(
            key,
            OptionFault::NotABool {
                value: v.to_string(),
            },
        )),
    }
}

/// `instrumentationSource`: `settings` (or absent) or `cluster`.
fn cluster_mode(v: &Value) -> Result<bool, SettingsProblem> {
    match v {
        Value::Null => Ok(false),
        Value::String(s) if s == "settings" => Ok(false),
        Value::String(s) if s == "cluster" => Ok(true),
        _ => Err(SettingsProblem::new(
            OPT_INSTRUMENTATION_SOURCE,
            OptionFault::InstrumentationSource {
                value: v.to_string(),
            },
        )),
    }
}

/// `policyServerServiceAccount`: `NAMESPACE/NAME`, both Kubernetes names (`None`: the default).
fn service_account(v: &Value) -> Result<Option<String>, SettingsProblem> {
    let valid = |s: &str| {
        s.split_once('/')
            .is_some_and(|(ns, name)| is_dns1123_label(ns) && is_dns1123_subdomain(name))
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) if valid(s) => Ok(Some(s.clone())),
        _ => Err(SettingsProblem::new(
            OPT_SERVICE_ACCOUNT,
            OptionFault::ServiceAccount {
                value: v.to_string(),
            },
        )),
    }
}

/// `preflight`: `off` (or absent), `disable` or `fail`.
fn preflight(v: &Value) -> Result<Preflight, SettingsProblem> {
    match v {
        Value::Null => Ok(Preflight::Off),
        Value::String(s) if s == "off" => Ok(Preflight::Off),
        Value::String(s) if s == "disable" => Ok(Preflight::Disable),
        Value::String(s) if s == "fail" => Ok(Preflight::Fail),
        _ => Err(SettingsProblem::new(
            OPT_PREFLIGHT,
            OptionFault::Preflight {
                value: v.to_string(),
            },
        )),
    }
}
