//! A Kubernetes cluster for the policy's context-aware host calls: the `kubewarden/kubernetes/*`
//! calls the policy makes, answered from a fixture with the semantics of Kubewarden's
//! policy-server (1.36, policy-evaluator 0.32, kube-rs 3.1), every call logged, and the calls
//! written as the session file `kwctl run --replay-host-capabilities-interactions` replays.
//!
//! ```no_run
//! use std::sync::Arc;
//! use case_harness::case::inputs_dir;
//! use case_harness::cluster::ClusterState;
//! let cluster = Arc::new(ClusterState::from_file(inputs_dir().join("clusters/article.yml")).unwrap());
//! let answer = cluster.answer("kubernetes", "get_resource",
//!     br#"{"api_version":"v1","kind":"Namespace","name":"monitor","namespace":null,"disable_cache":false,"field_masks":null}"#);
//! assert!(answer.is_ok());
//! std::fs::write("session.yml", cluster.session_yaml().unwrap()).unwrap();
//! ```
//!
//! # The calls modelled: the policy's
//!
//! The policy (`src/cluster/lookups.rs`, `Lookups`) makes three calls, always with these payloads (the
//! SDK's request structs); this host answers exactly these:
//! - `get_resource` of one object, `disable_cache: false`, `field_masks` null or `["spec"]`
//!   (the Namespace, a ReplicaSet or Job owner: null; a named Instrumentation: `["spec"]`);
//! - `list_resources_all` of a CRD's objects (Instrumentations), `label_selector` and
//!   `field_selector` null, `field_masks: ["spec"]`;
//! - `can_i`: a SubjectAccessReview of a `user` for a `verb` on a `group`'s `resource` (list
//!   and watch of instrumentations), with `groups`, `name`, `namespace`, `subresource` and
//!   `version` null, `disable_cache: false`.
//!
//! Any other call that passes policy-server's gates (steps 1 to 5 below) is refused as
//! [`Stage::NotModelled`], with a message that says so ([`NOT_MODELLED`]): the other operation
//! (`list_resources_by_namespace`), selectors, other field masks, `disable_cache: true`, a list
//! of a built-in kind (its items differ in shape), an apiVersion that is a bare API group, a
//! namespaced or otherwise narrowed review, and the other host capabilities (oci, net, crypto).
//! A case whose policy made one fails (`crate::check`).
//!
//! # Fixture format (`tests/inputs/clusters/*.yml`)
//!
//! ```yaml
//! # Why this cluster exists.
//! objects:              # the objects as the API server stores them
//!   - apiVersion: opentelemetry.io/v1alpha1
//!     kind: Instrumentation
//!     metadata: {name: python, namespace: shop, uid: ..., resourceVersion: "1", managedFields: [...]}
//!     spec: {...}
//! served:               # optional: the kinds the API server serves (its discovery)
//!   - {apiVersion: v1, kind: Namespace, namespaced: false}
//!   - {apiVersion: opentelemetry.io/v1alpha1, kind: Instrumentation, namespaced: true, plural: instrumentations}
//! granted:              # optional: the policy's contextAwareResources
//!   - {apiVersion: v1, kind: Namespace}
//! host_capabilities: [kubernetes/*]   # optional: the policy's allowed host capabilities
//! user: system:serviceaccount:kubewarden:policy-server   # optional: the PolicyServer's identity
//! rbac:                 # optional: what `user` may do, as ClusterRole rules
//!   - {verbs: [get], apiGroups: [opentelemetry.io], resources: [instrumentations]}
//!   - {verbs: [get], apiGroups: [""], resources: [namespaces], namespaces: [shop]}
//! fail:                 # optional: forced failures of policy-server's callback handler
//!   - {operation: get_resource, apiVersion: v1, kind: Namespace, message: connection refused}
//! ```
//!
//! Unknown keys are refused everywhere. Defaults and rules:
//! - `objects`: `metadata` must be a Kubernetes ObjectMeta exactly as it reads back (known
//!   fields, RFC 3339 times to the second, strings where Kubernetes has strings), with `name`, and
//!   `namespace` exactly when the kind is namespaced. Every object's kind must be served.
//! - `served` (default: the kinds of `objects`, namespaced when their objects have a namespace,
//!   plus the built-in kinds v1 Namespace (cluster-scoped), v1 Secret, ConfigMap, Pod, apps/v1
//!   ReplicaSet, Deployment, StatefulSet, DaemonSet, batch/v1 Job, CronJob). When given, it is
//!   the whole list. A kind that is not served is a CRD that is not installed. `plural` (for RBAC
//!   and the API server's messages) defaults to the lowercase kind plus `s` (`es` after s, x, ch,
//!   sh; `ies` for a consonant and `y`; `endpoints` stays), which is how Kubernetes names the
//!   built-in kinds and how CRD tooling names CRDs.
//! - `granted` (default: every served kind): exact `(apiVersion, kind)` pairs, as policy-server
//!   compares them. A CRD that is not installed must be granted explicitly to be looked up.
//! - `host_capabilities` (default `["*"]`): policy-server's patterns (`*`, `ns/*`, `ns/v1/*`, exact
//!   paths), checked against its capability tree; an empty list denies everything.
//! - `user` (default `system:serviceaccount:kubewarden:policy-server`) and `rbac` (default: `user`
//!   may do everything). A rule matches a verb, an API group (`""` is core), a resource
//!   (`plural` or `*`), optionally `resourceNames`, and optionally `namespaces` (a RoleBinding's
//!   namespaces; without it the rule is cluster-wide).
//! - `fail`: each entry matches an `operation` (`get_resource`, `list_resources_all`, `can_i`),
//!   an `apiVersion` and a `kind`, each optional (absent matches anything; `can_i` has no
//!   apiVersion or kind); the first matching entry fails the call in the callback handler with
//!   `message`, as a connection failure would. The guest then reads
//!   `Callback evaluation failure: <message>`.
//!
//! # What policy-server does, and this host with it
//!
//! In `policy-evaluator/src/runtimes/callback.rs::host_callback` (the strings are its own):
//! 1. a binding other than `kubewarden`: `unknown binding: <binding>` (the e2e crate's waPC host, `e2e_tests::host`);
//! 2. for every namespace but `tracing`, the host-capability gate on `<namespace>/<operation>`:
//!    [`capability_denied`];
//! 3. an unknown namespace or operation: `unknown namespace: <ns>`, `unknown operation: <op>`;
//! 4. the payload parsed into the SDK's request struct (`serde_json`, so a missing field reads
//!    ``missing field `name` at line 1 column 40``);
//! 5. for get and list, the contextAwareResources allow list: [`resource_not_granted`];
//! 6. the request goes to the callback handler; its failures reach the guest as
//!    `Callback evaluation failure: <the error's Debug>` (anyhow's Debug: the message, then
//!    `\n\nCaused by:\n    <source>` when the error has a source).
//!
//! Steps 1 to 5 never reach the callback handler, so kwctl neither records nor replays them
//! ([`Stage::HostCallback`]). A call the policy does not make is refused after them, before the
//! handler. In the handler (`callback_handler/kubernetes/client.rs`):
//! - discovery: `v1` is the core group (always there); any other apiVersion is looked up as a
//!   group/version, and an unknown one fails with
//!   `error finding resource <apiVersion> / <kind>: ApiError: 404 page not found\n: Failed to parse error data (Status { ... })`
//!   (the API server answers an unknown path with Go's plain-text `404 page not found`, which
//!   kube-rs wraps in a Status it builds itself); a served group/version without the kind:
//!   `Cannot find resource <apiVersion>/<kind>`;
//! - `get_resource`: a namespaced kind without a namespace:
//!   `Resource <apiVersion>/<kind> is namespaced, but no namespace was provided`; a missing
//!   object: `Cannot find <apiVersion>/<kind> named '<name>' inside of namespace '<namespace:?>'`
//!   (Rust Debug of the Option: `'Some("apps")'`, `'None'`); a cluster-scoped kind ignores the
//!   namespace. A GET that RBAC refuses fails with kube-rs 3.1's `Error::Api` for the API
//!   server's 403 Status: `ApiError: <message>: Forbidden (Status { ... })` (its Display, with
//!   the Status's derived Debug), then `\n\nCaused by:\n    <message>: Forbidden` in the Debug
//!   the guest reads; the message is the API server's (`responsewriters.Forbidden`,
//!   `apierrors.NewForbidden`): `<plural>.<group> "<name>" is forbidden: User "<user>" cannot get
//!   resource "<plural>" in API group "<group>" in the namespace "<ns>"` (`<plural>` alone for
//!   the core group; `at the cluster scope` for a cluster-scoped kind). The answer is the
//!   object with `apiVersion`, `kind`, `metadata` first, then its other fields, all keys sorted
//!   (serde_json without `preserve_order`), metadata as stored (managedFields included);
//! - `list_resources_all`: `{"apiVersion":"<asked>","kind":"<Kind>List","metadata":{},"items":[...]}`
//!   from a reflector: items (a CRD's keep their `apiVersion` and `kind`) without managedFields
//!   (`[]`) and without the `kubectl.kubernetes.io/last-applied-configuration` annotation
//!   (`annotations` becomes `{}` when that was the only one). Items come in namespace/name order
//!   here; the reflector's order is a hash map's, so a policy must not rely on it;
//! - the field mask `["spec"]` (`field_mask.rs`) prunes everything but `apiVersion`, `kind`,
//!   `metadata` and `spec`;
//! - `can_i`: a SubjectAccessReview created with `user`'s rights, so `user` needs `create` on
//!   `authorization.k8s.io` `subjectaccessreviews` (else the 403 error); the answer is the
//!   review's status, `{"allowed":true}` or `{"allowed":false}`: `rbac` for a review of `user`
//!   at the cluster scope, not allowed for any other user (nothing binds them here). The real
//!   API server adds an RBAC reason naming the binding; the fixture has no binding names, so no
//!   reason is given.
//!
//! Where the real policy-server never answers, this host answers at once with an error that
//! ends with [`WOULD_WAIT_FOREVER`] ([`Stage::WouldWaitForever`]): a list whose `list` RBAC
//! refuses (the reflector's initial list fails with 403 and is retried without end, and the
//! call waits for it). A list that may be listed but not watched is answered (the reflector is
//! ready after its first list), with a [`Call::caveat`]: its data would never be updated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    CanIRequest, GetResourceRequest, ListAllResourcesRequest, SubjectAccessReview,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::registry::{self, RegistryState};

/// The end of every error this host gives where the real policy-server would not answer.
pub const WOULD_WAIT_FOREVER: &str = "the real policy-server would wait forever here";

/// The end of every error this host gives for a call it does not model.
pub const NOT_MODELLED: &str =
    "not modelled by this test host, which answers only the calls the policy makes";

/// The prefix policy-server puts before the callback handler's errors (`runtimes/callback.rs`).
pub const CALLBACK_FAILURE: &str = "Callback evaluation failure: ";

/// The default identity of policy-server: the ServiceAccount `policy-server` that the
/// kubewarden-defaults chart creates in the `kubewarden` namespace.
pub const DEFAULT_USER: &str = "system:serviceaccount:kubewarden:policy-server";

/// policy-server's host-capability gate message for `path` (`<namespace>/<operation>`).
pub fn capability_denied(path: &str) -> String {
    format!(
        "Policy has not been granted access to the '{path}' host capability. The violation has been reported."
    )
}

/// policy-server's contextAwareResources message.
pub fn resource_not_granted(api_version: &str, kind: &str) -> String {
    format!(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported."
    )
}

/// The leaves of policy-server's host-capability tree (`policy-evaluator/src/host_capabilities.rs`).
const CAPABILITY_LEAVES: [&str; 11] = [
    "oci/v1/verify",
    "oci/v1/manifest_digest",
    "oci/v1/oci_manifest",
    "oci/v1/oci_manifest_config",
    "oci/v2/verify",
    "net/v1/dns_lookup_host",
    "crypto/v1/is_certificate_trusted",
    "kubernetes/list_resources_by_namespace",
    "kubernetes/list_resources_all",
    "kubernetes/get_resource",
    "kubernetes/can_i",
];

/// The `kubernetes` operations the policy makes, the ones this host answers.
const MODELLED_OPERATIONS: [&str; 3] = ["get_resource", "list_resources_all", "can_i"];

/// The built-in kinds served when the fixture has no `served` list: `(apiVersion, kind, namespaced)`.
const BUILT_IN_KINDS: [(&str, &str, bool); 10] = [
    ("v1", "Namespace", false),
    ("v1", "Secret", true),
    ("v1", "ConfigMap", true),
    ("v1", "Pod", true),
    ("apps/v1", "ReplicaSet", true),
    ("apps/v1", "Deployment", true),
    ("apps/v1", "StatefulSet", true),
    ("apps/v1", "DaemonSet", true),
    ("batch/v1", "Job", true),
    ("batch/v1", "CronJob", true),
];

/// An `(apiVersion, kind)` pair, as in a policy's `contextAwareResources`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiVersionKind {
    pub api_version: String,
    pub kind: String,
}

/// A kind the API server serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServedKind {
    pub api_version: String,
    pub kind: String,
    pub namespaced: bool,
    /// The resource name (`instrumentations`); derived from the kind when absent.
    #[serde(default)]
    pub plural: Option<String>,
}

impl ServedKind {
    /// The resource name RBAC and the API server's messages use.
    pub fn plural(&self) -> String {
        self.plural
            .clone()
            .unwrap_or_else(|| default_plural(&self.kind))
    }
}

/// One RBAC rule of the PolicyServer's ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RbacRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// The namespaces a RoleBinding grants the rule in; `None`: cluster-wide.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
}

impl RbacRule {
    /// Kubernetes' `RuleAllows` for a resource request (`plugin/pkg/auth/authorizer/rbac`),
    /// plus the binding's scope. `namespace` is empty for cluster-scoped requests.
    fn allows(&self, verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        any(&self.verbs, verb)
            && any(&self.api_groups, group)
            && any(&self.resources, resource)
            && (self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name))
            && self
                .namespaces
                .as_ref()
                .is_none_or(|ns| !namespace.is_empty() && ns.iter().any(|n| n == namespace))
    }
}

/// A forced failure of the callback handler.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForcedFailure {
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub message: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    objects: Vec<Value>,
    served: Option<Vec<ServedKind>>,
    granted: Option<Vec<ApiVersionKind>>,
    host_capabilities: Option<Vec<String>>,
    user: Option<String>,
    rbac: Option<Vec<RbacRule>>,
    #[serde(default)]
    fail: Vec<ForcedFailure>,
}

/// The Kubernetes host-capability requests as kwctl records them: policy-evaluator's
/// `CallbackRequestType` (`callback_requests.rs`), the variants of the operations modelled, with
/// the same names, fields and field order, so that serde_yaml writes and reads them as kwctl does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackRequest {
    KubernetesListResourceAll {
        api_version: String,
        kind: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesGetResource {
        api_version: String,
        kind: String,
        name: String,
        namespace: Option<String>,
        disable_cache: bool,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesCanI {
        request: SubjectAccessReview,
        disable_cache: bool,
    },
    /// `oci/v1/manifest_digest` (answered by the case's registry, [`crate::registry`]).
    OciManifestDigest { image: String },
    /// `oci/v1/oci_manifest_config` (answered by the case's registry).
    OciManifestAndConfig { image: String },
}

/// One entry of a kwctl session file (`crates/kwctl/src/callback_handler/proxy.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct Exchange {
    /// The [`CallbackRequest`] as a serde_yaml document (`!KubernetesGetResource\n...`).
    pub request: String,
    pub response: ExchangeResponse,
}

/// The callback handler's answer, as kwctl records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ExchangeResponse {
    /// The payload given to the guest, verbatim.
    Success { payload: String },
    /// The handler's error as it displays (anyhow's Display: no `Caused by`); on replay the
    /// guest reads `Callback evaluation failure: <message>`.
    Error { message: String },
}

/// Steps 3 and 4 of policy-server's host callback for the `kubernetes` namespace: the operation
/// known, the payload read into the SDK's request struct (`serde_json`'s message when it is not).
/// `list_resources_by_namespace`, which the policy does not call, is not read ([`NOT_MODELLED`]).
pub fn read_request(operation: &str, payload: &[u8]) -> Result<CallbackRequest, String> {
    let read = |e: serde_json::Error| e.to_string();
    Ok(match operation {
        "list_resources_by_namespace" => return Err(format!("{operation}: {NOT_MODELLED}")),
        "list_resources_all" => {
            let r: ListAllResourcesRequest = serde_json::from_slice(payload).map_err(read)?;
            CallbackRequest::KubernetesListResourceAll {
                api_version: r.api_version,
                kind: r.kind,
                label_selector: r.label_selector,
                field_selector: r.field_selector,
                field_masks: r.field_masks,
            }
        }
        "get_resource" => {
            let r: GetResourceRequest = serde_json::from_slice(payload).map_err(read)?;
            CallbackRequest::KubernetesGetResource {
                api_version: r.api_version,
                kind: r.kind,
                name: r.name,
                namespace: r.namespace,
                disable_cache: r.disable_cache,
                field_masks: r.field_masks,
            }
        }
        "can_i" => {
            let r: CanIRequest = serde_json::from_slice(payload).map_err(read)?;
            CallbackRequest::KubernetesCanI {
                request: r.subject_access_review,
                disable_cache: r.disable_cache,
            }
        }
        _ => return Err(format!("unknown operation: {operation}")),
    })
}

/// An `oci` call the case's registry models, as policy-server reads it; else why not.
fn oci_request(operation: &str, payload: &[u8]) -> Result<CallbackRequest, String> {
    let image = RegistryState::modelled(operation, payload)?;
    Ok(match operation {
        registry::MANIFEST_DIGEST => CallbackRequest::OciManifestDigest { image },
        _ => CallbackRequest::OciManifestAndConfig { image },
    })
}

impl CallbackRequest {
    /// The waPC operation (in its namespace, `kubernetes` or `oci`) that makes this request.
    pub fn operation(&self) -> &'static str {
        match self {
            CallbackRequest::KubernetesListResourceAll { .. } => "list_resources_all",
            CallbackRequest::KubernetesGetResource { .. } => "get_resource",
            CallbackRequest::KubernetesCanI { .. } => "can_i",
            CallbackRequest::OciManifestDigest { .. } => registry::MANIFEST_DIGEST,
            CallbackRequest::OciManifestAndConfig { .. } => registry::MANIFEST_CONFIG,
        }
    }

    /// The kind a get or list asks for: what the contextAwareResources allow list checks.
    pub fn asked_kind(&self) -> Option<ApiVersionKind> {
        let (api_version, kind) = match self {
            CallbackRequest::KubernetesListResourceAll {
                api_version, kind, ..
            }
            | CallbackRequest::KubernetesGetResource {
                api_version, kind, ..
            } => (api_version, kind),
            _ => return None,
        };
        Some(ApiVersionKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })
    }

    /// `None` for a request the policy makes (see the module documentation), else what makes it
    /// one this host does not answer, ending with [`NOT_MODELLED`].
    pub fn not_modelled(&self) -> Option<String> {
        const API_VERSION: &str = "an apiVersion other than v1 or group/version";
        let spec_only = |m: &Option<BTreeSet<String>>| {
            m.as_ref()
                .is_some_and(|m| m.len() == 1 && m.contains("spec"))
        };
        let why = match self {
            CallbackRequest::KubernetesGetResource {
                api_version,
                disable_cache,
                field_masks,
                ..
            } => vec![
                (!api_version_modelled(api_version), API_VERSION),
                (*disable_cache, "disable_cache"),
                (
                    field_masks.is_some() && !spec_only(field_masks),
                    "field masks other than [spec]",
                ),
            ],
            CallbackRequest::KubernetesListResourceAll {
                api_version,
                label_selector,
                field_selector,
                field_masks,
                ..
            } => vec![
                (!api_version_modelled(api_version), API_VERSION),
                (is_built_in_group(group_of(api_version)), "a built-in kind"),
                (
                    label_selector.is_some() || field_selector.is_some(),
                    "a selector",
                ),
                (!spec_only(field_masks), "field masks other than [spec]"),
            ],
            CallbackRequest::KubernetesCanI {
                request,
                disable_cache,
            } => {
                let a = &request.resource_attributes;
                let narrowed = [&a.name, &a.namespace, &a.subresource, &a.version];
                vec![
                    (request.groups.is_some(), "groups"),
                    (
                        narrowed.iter().any(|f| f.is_some()),
                        "a name, namespace, subresource or version",
                    ),
                    (*disable_cache, "disable_cache"),
                ]
            }
            // Checked when the registry reads the payload (`RegistryState::modelled`).
            CallbackRequest::OciManifestDigest { .. }
            | CallbackRequest::OciManifestAndConfig { .. } => Vec::new(),
        };
        let why: Vec<&str> = why.iter().filter(|w| w.0).map(|w| w.1).collect();
        (!why.is_empty()).then(|| {
            format!(
                "{} with {}: {NOT_MODELLED}",
                self.operation(),
                why.join(", ")
            )
        })
    }

    /// A request the policy makes as one line: see [`call_summary`].
    fn summary(&self) -> String {
        match self {
            CallbackRequest::KubernetesGetResource {
                api_version,
                kind,
                name,
                namespace,
                field_masks,
                ..
            } => {
                let namespace = namespace
                    .as_ref()
                    .map_or(String::new(), |ns| format!("{ns}/"));
                let masks = if field_masks.is_some() {
                    " masks=[spec]"
                } else {
                    ""
                };
                format!("get_resource {api_version}/{kind} {namespace}{name}{masks}")
            }
            CallbackRequest::KubernetesListResourceAll {
                api_version, kind, ..
            } => format!("list_resources_all {api_version}/{kind} masks=[spec]"),
            CallbackRequest::KubernetesCanI { request, .. } => {
                let a = &request.resource_attributes;
                let group = a.group.as_deref().filter(|g| !g.is_empty());
                let group = group.map_or(String::new(), |g| format!(".{g}"));
                format!("can_i {} {}{group}", a.verb, a.resource)
            }
            CallbackRequest::OciManifestDigest { image } => format!("manifest_digest {image}"),
            CallbackRequest::OciManifestAndConfig { image } => {
                format!("oci_manifest_config {image}")
            }
        }
    }
}

/// An apiVersion the policy sends: `v1`, or `group/version`.
fn api_version_modelled(api_version: &str) -> bool {
    api_version == "v1"
        || api_version
            .split_once('/')
            .is_some_and(|(g, v)| !g.is_empty() && !v.is_empty() && !v.contains('/'))
}

impl Exchange {
    /// The recorded request, read back as kwctl reads it.
    pub fn parsed_request(&self) -> Result<CallbackRequest> {
        serde_yaml::from_str(&self.request).context("the recorded request is not a CallbackRequest")
    }
}

/// Where a call was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// In policy-server's host callback, before the callback handler: a gate, an unknown
    /// namespace or operation, a payload that does not parse, or a log record. kwctl records
    /// nothing and replays nothing for it.
    HostCallback,
    /// By the callback handler: what kwctl records, and replays.
    Handler(Exchange),
    /// The real policy-server would never answer; no faithful recording exists.
    WouldWaitForever,
    /// This host does not model the call; no faithful recording exists.
    NotModelled,
}

/// One host call and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The waPC namespace (`kubernetes`).
    pub namespace: String,
    pub operation: String,
    /// The payload the guest sent.
    pub payload: Vec<u8>,
    /// The request policy-server read from the payload, when it reached the callback handler.
    pub request: Option<CallbackRequest>,
    /// What the guest got: the payload, or the host error text.
    pub answer: Result<Vec<u8>, String>,
    pub stage: Stage,
    /// Set when the answer is right only at first, as for a list that may not be watched.
    pub caveat: Option<String>,
}

impl Call {
    /// The answer as text (payload or error), for messages and assertions.
    pub fn answer_text(&self) -> String {
        match &self.answer {
            Ok(p) => String::from_utf8_lossy(p).into_owned(),
            Err(e) => e.clone(),
        }
    }

    /// The kind a get or list asks for (what the contextAwareResources gate checks), when the
    /// payload reads as the operation's request.
    pub fn asked_kind(&self) -> Option<ApiVersionKind> {
        (self.namespace == "kubernetes")
            .then(|| read_request(&self.operation, &self.payload).ok())
            .flatten()
            .and_then(|r| r.asked_kind())
    }

    /// The call as one line, what a case's `expect.calls` lists: [`call_summary`].
    pub fn summary(&self) -> String {
        call_summary(&self.namespace, &self.operation, &self.payload)
    }
}

/// One host call as one line: the operation and what it asks for, read from the payload (the
/// SDK's request struct), every field that tells two of the policy's payloads apart included:
///
/// ```text
/// get_resource <apiVersion>/<kind> [<namespace>/]<name>[ masks=[spec]]
/// list_resources_all <apiVersion>/<kind> masks=[spec]
/// can_i <verb> <resource>[.<group>]
/// manifest_digest <image>
/// oci_manifest_config <image>
/// ```
///
/// For example `get_resource v1/Namespace default`,
/// `get_resource opentelemetry.io/v1alpha1/Instrumentation monitor/python-instrumentation masks=[spec]`,
/// `can_i list instrumentations.opentelemetry.io`. The user of a `can_i` review is not shown:
/// the cluster allows only its own `user`, so a review of anyone else shows as a refusal in the
/// case's outcome. A call outside the `kubernetes` namespace is `<namespace>/<operation>`, and a
/// payload that is not the operation's request struct, or not one the policy makes (see the
/// module documentation), is `<operation> (payload: <the payload as text>)`.
pub fn call_summary(namespace: &str, operation: &str, payload: &[u8]) -> String {
    if namespace == "oci" {
        return match oci_request(operation, payload) {
            Ok(request) => request.summary(),
            Err(_) => format!(
                "oci/{operation} (payload: {})",
                String::from_utf8_lossy(payload)
            ),
        };
    }
    if namespace != "kubernetes" {
        return format!("{namespace}/{operation}");
    }
    match read_request(operation, payload) {
        Ok(request) if request.not_modelled().is_none() => request.summary(),
        _ => format!(
            "{operation} (payload: {})",
            String::from_utf8_lossy(payload)
        ),
    }
}

/// The answer of the callback handler.
enum Handled {
    Ok {
        payload: Vec<u8>,
        caveat: Option<String>,
    },
    /// `recorded`: the error's Display (what kwctl records); `guest`: its Debug.
    Err {
        recorded: String,
        guest: String,
    },
    WaitForever(String),
}

impl Handled {
    /// An error made with `anyhow!(...)`: no source, Display and Debug alike.
    fn message(message: impl Into<String>) -> Self {
        let message = message.into();
        Handled::Err {
            recorded: message.clone(),
            guest: message,
        }
    }
}

/// An error Status from the API server, as kube-rs 3.1 reads it into `kube_core::Status`, and
/// the `kube::Error::Api` around it: Display `ApiError: {0} ({0:?})`, the Status displaying as
/// `{message}: {reason}`; wrapped with `anyhow::Error::new`, whose Debug adds the Status as the
/// one cause.
struct ApiStatus {
    code: u16,
    message: String,
    reason: String,
    /// The Status came as JSON (with `"metadata":{}`), rather than as text kube-rs wrapped.
    from_json: bool,
    /// `details`: name, group, kind.
    details: Option<(String, String, String)>,
}

impl ApiStatus {
    /// `Status`'s derived Debug (kube-core 3.1 `response.rs`; `ListMeta` from k8s-openapi).
    fn debug(&self) -> String {
        let metadata = if self.from_json {
            "Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None })"
        } else {
            "None"
        };
        let details = match &self.details {
            Some((name, group, kind)) => format!(
                "Some(StatusDetails {{ name: {name:?}, group: {group:?}, kind: {kind:?}, uid: \"\", causes: [], retry_after_seconds: 0 }})"
            ),
            None => "None".to_owned(),
        };
        format!(
            "Status {{ status: Some(Failure), code: {}, message: {:?}, metadata: {metadata}, reason: {:?}, details: {details} }}",
            self.code, self.message, self.reason
        )
    }

    fn display(&self) -> String {
        format!("{}: {}", self.message, self.reason)
    }

    fn error_display(&self) -> String {
        format!("ApiError: {} ({})", self.display(), self.debug())
    }

    /// anyhow's Debug of `anyhow::Error::new(kube::Error::Api(..))`: one cause, indented.
    fn anyhow_debug(&self) -> String {
        format!(
            "{}\n\nCaused by:\n    {}",
            self.error_display(),
            self.display().replace('\n', "\n    ")
        )
    }

    fn handled(&self) -> Handled {
        Handled::Err {
            recorded: self.error_display(),
            guest: self.anyhow_debug(),
        }
    }
}

/// An object as stored.
#[derive(Debug, Clone)]
struct Stored {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    metadata: ObjectMeta,
    /// Everything but apiVersion, kind and metadata.
    data: Map<String, Value>,
}

#[derive(Debug, Clone)]
enum Capabilities {
    All,
    Patterns {
        prefixes: BTreeSet<String>,
        exact: BTreeSet<String>,
    },
}

impl Capabilities {
    /// policy-server's pattern parsing (`HostCapabilities::new`).
    fn parse(patterns: &[String]) -> Result<Self> {
        let (mut prefixes, mut exact) = (BTreeSet::new(), BTreeSet::new());
        for pattern in patterns {
            let p = pattern.trim();
            if p.is_empty() {
                bail!("host_capabilities: a pattern must not be empty");
            }
            if p == "*" {
                return Ok(Capabilities::All);
            }
            if let Some(prefix) = p.strip_suffix("/*") {
                if prefix.contains('*')
                    || !CAPABILITY_LEAVES
                        .iter()
                        .any(|l| l.starts_with(&format!("{prefix}/")))
                {
                    bail!(
                        "host_capabilities: {pattern:?} is not a prefix of policy-server's capabilities"
                    );
                }
                prefixes.insert(format!("{prefix}/"));
            } else if CAPABILITY_LEAVES.contains(&p) {
                exact.insert(p.to_owned());
            } else {
                bail!(
                    "host_capabilities: {pattern:?} is not one of policy-server's capabilities ({})",
                    CAPABILITY_LEAVES.join(", ")
                );
            }
        }
        Ok(Capabilities::Patterns { prefixes, exact })
    }

    fn allows(&self, path: &str) -> bool {
        match self {
            Capabilities::All => true,
            Capabilities::Patterns { prefixes, exact } => {
                exact.contains(path) || prefixes.iter().any(|p| path.starts_with(p.as_str()))
            }
        }
    }
}

/// A cluster, its policy-server configuration, and the log of the calls it answered.
#[derive(Debug)]
pub struct ClusterState {
    objects: Vec<Stored>,
    served: Vec<ServedKind>,
    granted: BTreeSet<ApiVersionKind>,
    host_capabilities: Vec<String>,
    capabilities: Capabilities,
    user: String,
    rbac: Option<Vec<RbacRule>>,
    fail: Vec<ForcedFailure>,
    /// Whether a cluster answers at all (a case may name only a registry).
    kubernetes: bool,
    /// The registry of the case, answering the `oci` calls.
    registry: Option<RegistryState>,
    calls: Mutex<Vec<Call>>,
}

impl ClusterState {
    /// This host with `registry` answering the `oci` calls.
    pub fn with_registry(mut self, registry: RegistryState) -> Self {
        self.registry = Some(registry);
        self
    }

    /// A host with a registry and no cluster: its `kubernetes` calls are not modelled (a case
    /// that makes one names a cluster), every host capability is allowed.
    pub fn registry_only(registry: RegistryState) -> Self {
        let mut host = Self::from_fixture(Fixture::default()).expect("an empty fixture is valid");
        host.kubernetes = false;
        host.with_registry(registry)
    }

    /// Read a fixture file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_yaml(&text).with_context(|| format!("cluster fixture {}", path.display()))
    }

    /// Read a fixture from its YAML text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let fixture: Fixture = serde_yaml::from_str(text)
            .context("not a cluster fixture (see case_harness::cluster)")?;
        Self::from_fixture(fixture)
    }

    fn from_fixture(f: Fixture) -> Result<Self> {
        let mut objects = Vec::new();
        for (i, value) in f.objects.into_iter().enumerate() {
            objects.push(stored(value).with_context(|| format!("objects[{i}]"))?);
        }
        let served = match f.served {
            Some(list) => list,
            None => default_served(&objects)?,
        };
        let mut seen = BTreeSet::new();
        for s in &served {
            if s.api_version != "v1"
                && s.api_version
                    .split_once('/')
                    .is_none_or(|(g, v)| g.is_empty() || v.is_empty())
            {
                bail!(
                    "served: apiVersion {:?} is neither v1 nor group/version",
                    s.api_version
                );
            }
            if !seen.insert((s.api_version.clone(), s.kind.clone())) {
                bail!("served: {}/{} is listed twice", s.api_version, s.kind);
            }
        }
        let mut keys = BTreeSet::new();
        for o in &objects {
            let s = served
                .iter()
                .find(|s| s.api_version == o.api_version && s.kind == o.kind)
                .ok_or_else(|| {
                    anyhow!(
                        "object {}/{} {:?} is of a kind that is not served",
                        o.api_version,
                        o.kind,
                        o.name
                    )
                })?;
            match (s.namespaced, &o.namespace) {
                (true, None) => bail!(
                    "object {}/{} {:?} has no namespace, but the kind is namespaced",
                    o.api_version,
                    o.kind,
                    o.name
                ),
                (false, Some(ns)) => bail!(
                    "object {}/{} {:?} has namespace {ns:?}, but the kind is cluster-scoped",
                    o.api_version,
                    o.kind,
                    o.name
                ),
                _ => {}
            }
            if !keys.insert((&o.api_version, &o.kind, &o.namespace, &o.name)) {
                bail!(
                    "object {}/{} {:?} in namespace {:?} is listed twice",
                    o.api_version,
                    o.kind,
                    o.name,
                    o.namespace
                );
            }
        }
        let granted = match f.granted {
            Some(list) => list.into_iter().collect(),
            None => served
                .iter()
                .map(|s| ApiVersionKind {
                    api_version: s.api_version.clone(),
                    kind: s.kind.clone(),
                })
                .collect(),
        };
        let host_capabilities = f.host_capabilities.unwrap_or_else(|| vec!["*".to_owned()]);
        let capabilities = Capabilities::parse(&host_capabilities)?;
        for fail in &f.fail {
            if let Some(op) = &fail.operation
                && !MODELLED_OPERATIONS.contains(&op.as_str())
            {
                bail!(
                    "fail: operation {op:?} is not one of {}",
                    MODELLED_OPERATIONS.join(", ")
                );
            }
            if fail.message.starts_with(CALLBACK_FAILURE) {
                bail!(
                    "fail: the message is the handler's error; policy-server adds {CALLBACK_FAILURE:?} itself"
                );
            }
        }
        objects.sort_by(|a, b| {
            (&a.api_version, &a.kind, &a.namespace, &a.name).cmp(&(
                &b.api_version,
                &b.kind,
                &b.namespace,
                &b.name,
            ))
        });
        Ok(ClusterState {
            objects,
            served,
            granted,
            host_capabilities,
            capabilities,
            user: f.user.unwrap_or_else(|| DEFAULT_USER.to_owned()),
            rbac: f.rbac,
            fail: f.fail,
            kubernetes: true,
            registry: None,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// The same cluster with an empty call log: each evaluation of a case starts from it, so
    /// that its calls are its own.
    pub fn fresh(&self) -> ClusterState {
        ClusterState {
            objects: self.objects.clone(),
            served: self.served.clone(),
            granted: self.granted.clone(),
            host_capabilities: self.host_capabilities.clone(),
            capabilities: self.capabilities.clone(),
            user: self.user.clone(),
            rbac: self.rbac.clone(),
            fail: self.fail.clone(),
            kubernetes: self.kubernetes,
            registry: self.registry.clone(),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Whether the policy's contextAwareResources hold `(api_version, kind)`.
    pub fn grants(&self, api_version: &str, kind: &str) -> bool {
        self.granted.contains(&ApiVersionKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        })
    }

    /// The policy's contextAwareResources (what `kwctl run --allow-context-aware` takes from
    /// the module's metadata).
    pub fn granted(&self) -> Vec<ApiVersionKind> {
        self.granted.iter().cloned().collect()
    }

    /// The allowed host-capability patterns, as given (kwctl's `--allowed-host-capabilities`).
    pub fn host_capabilities(&self) -> &[String] {
        &self.host_capabilities
    }

    /// The served kinds.
    pub fn served(&self) -> &[ServedKind] {
        &self.served
    }

    /// The identity RBAC applies to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Answer one host call as policy-server would, and log it (logging calls excepted).
    /// `namespace` is the waPC namespace (`kubernetes`); the binding is `kubewarden`.
    pub fn answer(
        &self,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let call = self.evaluate(namespace, operation, payload);
        let answer = call.answer.clone();
        if !(namespace == "tracing" && operation == "log") {
            self.calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(call);
        }
        answer
    }

    /// The calls answered so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forget the calls answered so far.
    pub fn clear_calls(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The calls so far as a kwctl session file (`--replay-host-capabilities-interactions`):
    /// the calls that reached the callback handler, in order, written as kwctl's recorder writes
    /// them. Fails when a call has no faithful recording (it would wait forever, or is not
    /// modelled).
    pub fn session_yaml(&self) -> Result<String> {
        let mut exchanges = Vec::new();
        for (i, call) in self.calls().into_iter().enumerate() {
            match call.stage {
                Stage::HostCallback => {}
                Stage::Handler(exchange) => exchanges.push(exchange),
                Stage::WouldWaitForever | Stage::NotModelled => bail!(
                    "call {i} ({}/{}) has no faithful recording: {}",
                    call.namespace,
                    call.operation,
                    call.answer_text()
                ),
            }
        }
        serde_yaml::to_string(&exchanges).context("cannot write the session")
    }

    /// Answer one host call as policy-server would, without logging it.
    pub fn evaluate(&self, namespace: &str, operation: &str, payload: &[u8]) -> Call {
        let mut call = Call {
            namespace: namespace.to_owned(),
            operation: operation.to_owned(),
            payload: payload.to_vec(),
            request: None,
            answer: Err(String::new()),
            stage: Stage::HostCallback,
            caveat: None,
        };
        let refuse = |mut call: Call, message: String| {
            call.answer = Err(message);
            call
        };
        let not_modelled = |mut call: Call, message: String| {
            call.stage = Stage::NotModelled;
            call.answer = Err(message);
            call
        };
        if namespace != "tracing" {
            let path = format!("{namespace}/{operation}");
            if !self.capabilities.allows(&path) {
                return refuse(call, capability_denied(&path));
            }
        }
        let request = match namespace {
            "tracing" => {
                if operation == "log" {
                    call.answer = Ok(Vec::new());
                    return call;
                }
                return refuse(call, format!("unknown operation: {operation}"));
            }
            "kubernetes" if !self.kubernetes => {
                let why = format!(
                    "kubernetes/{operation}, in a case that names no cluster: {NOT_MODELLED}"
                );
                return not_modelled(call, why);
            }
            "kubernetes" if operation == "list_resources_by_namespace" => {
                return not_modelled(call, format!("{operation}: {NOT_MODELLED}"));
            }
            "kubernetes" => match self.parse_request(operation, payload) {
                Ok(request) => request,
                Err(message) => return refuse(call, message),
            },
            "oci" | "net" | "crypto" => {
                if !CAPABILITY_LEAVES.contains(&format!("{namespace}/{operation}").as_str()) {
                    return refuse(call, format!("unknown operation: {operation}"));
                }
                return match (namespace, &self.registry) {
                    ("oci", Some(registry)) => self.oci(call, registry),
                    _ => not_modelled(call, format!("{namespace}/{operation}: {NOT_MODELLED}")),
                };
            }
            _ => return refuse(call, format!("unknown namespace: {namespace}")),
        };
        call.request = Some(request.clone());
        if let Some(message) = request.not_modelled() {
            return not_modelled(call, message);
        }
        let request_yaml = serde_yaml::to_string(&request).expect("a request serialises");
        match self.handle(&request) {
            Handled::Ok { payload, caveat } => {
                call.stage = Stage::Handler(Exchange {
                    request: request_yaml,
                    response: ExchangeResponse::Success {
                        payload: String::from_utf8(payload.clone()).expect("answers are JSON text"),
                    },
                });
                call.answer = Ok(payload);
                call.caveat = caveat;
            }
            Handled::Err { recorded, guest } => {
                call.stage = Stage::Handler(Exchange {
                    request: request_yaml,
                    response: ExchangeResponse::Error { message: recorded },
                });
                call.answer = Err(format!("{CALLBACK_FAILURE}{guest}"));
            }
            Handled::WaitForever(message) => {
                call.stage = Stage::WouldWaitForever;
                call.answer = Err(message);
            }
        }
        call
    }

    /// An `oci` call past the gates: read as policy-server reads it, then answered by `registry`.
    fn oci(&self, mut call: Call, registry: &RegistryState) -> Call {
        let request = match oci_request(&call.operation, &call.payload) {
            Ok(request) => request,
            Err(why) => {
                call.stage = Stage::NotModelled;
                call.answer = Err(why);
                return call;
            }
        };
        let (CallbackRequest::OciManifestDigest { image }
        | CallbackRequest::OciManifestAndConfig { image }) = &request
        else {
            unreachable!("an oci request")
        };
        let answer = registry.answer(&call.operation, image);
        let request_yaml = serde_yaml::to_string(&request).expect("a request serialises");
        let response = match &answer {
            Ok(payload) => ExchangeResponse::Success {
                payload: String::from_utf8(payload.clone()).expect("answers are JSON text"),
            },
            Err(message) => ExchangeResponse::Error {
                message: message.clone(),
            },
        };
        call.stage = Stage::Handler(Exchange {
            request: request_yaml,
            response,
        });
        call.answer = answer.map_err(|e| format!("{CALLBACK_FAILURE}{e}"));
        call.request = Some(request);
        call
    }

    /// Steps 3 to 5 of policy-server's host callback for the `kubernetes` namespace.
    fn parse_request(&self, operation: &str, payload: &[u8]) -> Result<CallbackRequest, String> {
        let request = read_request(operation, payload)?;
        if let Some(ApiVersionKind { api_version, kind }) = request.asked_kind()
            && !self.grants(&api_version, &kind)
        {
            return Err(resource_not_granted(&api_version, &kind));
        }
        Ok(request)
    }

    /// The callback handler, for a request the policy makes.
    fn handle(&self, request: &CallbackRequest) -> Handled {
        if let Some(fail) = self.forced_failure(request) {
            return Handled::message(fail.message.clone());
        }
        match request {
            CallbackRequest::KubernetesGetResource {
                api_version,
                kind,
                name,
                namespace,
                field_masks,
                ..
            } => self.get(
                api_version,
                kind,
                name,
                namespace.as_deref(),
                field_masks.is_some(),
            ),
            CallbackRequest::KubernetesListResourceAll {
                api_version, kind, ..
            } => self.list_all(api_version, kind),
            CallbackRequest::KubernetesCanI { request, .. } => self.can_i(request),
            CallbackRequest::OciManifestDigest { .. }
            | CallbackRequest::OciManifestAndConfig { .. } => {
                Handled::message(format!("the registry answers oci calls: {NOT_MODELLED}"))
            }
        }
    }

    fn forced_failure(&self, request: &CallbackRequest) -> Option<&ForcedFailure> {
        let (operation, avk) = (request.operation(), request.asked_kind());
        self.fail.iter().find(|f| {
            f.operation.as_deref().is_none_or(|o| o == operation)
                && f.api_version
                    .as_ref()
                    .is_none_or(|a| avk.as_ref().is_some_and(|k| &k.api_version == a))
                && f.kind
                    .as_ref()
                    .is_none_or(|k| avk.as_ref().is_some_and(|x| &x.kind == k))
        })
    }

    /// `Client::build_kube_resource`: discovery of `(api_version, kind)`.
    fn discover(&self, api_version: &str, kind: &str) -> Result<&ServedKind, Handled> {
        let group_version_served = self.served.iter().any(|s| s.api_version == api_version);
        if api_version != "v1" && !group_version_served {
            let status = ApiStatus {
                code: 404,
                message: "404 page not found\n".to_owned(),
                reason: "Failed to parse error data".to_owned(),
                from_json: false,
                details: None,
            };
            return Err(Handled::message(format!(
                "error finding resource {api_version} / {kind}: {}",
                status.error_display()
            )));
        }
        self.served
            .iter()
            .find(|s| s.api_version == api_version && s.kind == kind)
            .ok_or_else(|| Handled::message(format!("Cannot find resource {api_version}/{kind}")))
    }

    /// Whether `user` may `verb` the `resource` of `group`, in `namespace` (empty: at the
    /// cluster scope), the object `name` (empty: any).
    fn rbac_allows(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> bool {
        match &self.rbac {
            None => true,
            Some(rules) => rules
                .iter()
                .any(|r| r.allows(verb, group, resource, namespace, name)),
        }
    }

    /// The API server's 403 for a request of `user` (`responsewriters.Forbidden` and
    /// `apierrors.NewForbidden`), as kube-rs reads it.
    fn forbidden(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> ApiStatus {
        let scope = if namespace.is_empty() {
            " at the cluster scope".to_owned()
        } else {
            format!(" in the namespace {}", go_quote(namespace))
        };
        let why = format!(
            "User {} cannot {verb} resource {} in API group {}{scope}",
            go_quote(&self.user),
            go_quote(resource),
            go_quote(group)
        );
        let qualified = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        let message = if name.is_empty() {
            format!("{qualified} is forbidden: {why}")
        } else {
            format!("{qualified} {} is forbidden: {why}", go_quote(name))
        };
        ApiStatus {
            code: 403,
            message,
            reason: "Forbidden".to_owned(),
            from_json: true,
            details: Some((name.to_owned(), group.to_owned(), resource.to_owned())),
        }
    }

    /// `get_resource`; `spec_only`: the field mask `["spec"]`.
    fn get(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        spec_only: bool,
    ) -> Handled {
        let served = match self.discover(api_version, kind) {
            Ok(s) => s,
            Err(h) => return h,
        };
        let scope = if served.namespaced {
            match namespace {
                Some(ns) => Some(ns),
                None => {
                    return Handled::message(format!(
                        "Resource {api_version}/{kind} is namespaced, but no namespace was provided"
                    ));
                }
            }
        } else {
            None
        };
        let (group, plural) = (group_of(api_version), served.plural());
        let rbac_namespace = scope.unwrap_or("");
        if !self.rbac_allows("get", group, &plural, rbac_namespace, name) {
            return self
                .forbidden("get", group, &plural, rbac_namespace, name)
                .handled();
        }
        let found = self.objects.iter().find(|o| {
            o.api_version == api_version
                && o.kind == kind
                && o.name == name
                && o.namespace.as_deref() == scope
        });
        match found {
            Some(o) => Handled::Ok {
                payload: object_json(o, &o.metadata, spec_only).into_bytes(),
                caveat: None,
            },
            None => Handled::message(format!(
                "Cannot find {api_version}/{kind} named '{name}' inside of namespace '{namespace:?}'"
            )),
        }
    }

    /// `list_resources_all` of a CRD's objects, specs only.
    fn list_all(&self, api_version: &str, kind: &str) -> Handled {
        let served = match self.discover(api_version, kind) {
            Ok(s) => s,
            Err(h) => return h,
        };
        let (group, plural) = (group_of(api_version), served.plural());
        if !self.rbac_allows("list", group, &plural, "", "") {
            let status = self.forbidden("list", group, &plural, "", "");
            return Handled::WaitForever(format!(
                "{} ({WOULD_WAIT_FOREVER}: its watch retries a 403 without end)",
                status.message
            ));
        }
        let items: Vec<String> = self
            .objects
            .iter()
            .filter(|o| o.api_version == api_version && o.kind == kind)
            .map(|o| {
                let mut metadata = o.metadata.clone();
                metadata.managed_fields = Some(Vec::new());
                metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .remove("kubectl.kubernetes.io/last-applied-configuration");
                object_json(o, &metadata, true)
            })
            .collect();
        let payload = format!(
            "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{{}},\"items\":[{}]}}",
            json_string(api_version),
            json_string(&format!("{kind}List")),
            items.join(",")
        );
        let caveat = (!self.rbac_allows("watch", group, &plural, "", "")).then(|| {
            format!(
                "{} may list but not watch {plural}: the real policy-server answers this first list and never updates it",
                self.user
            )
        });
        Handled::Ok {
            payload: payload.into_bytes(),
            caveat,
        }
    }

    /// `can_i` for a review at the cluster scope.
    fn can_i(&self, review: &SubjectAccessReview) -> Handled {
        let (group, resource) = ("authorization.k8s.io", "subjectaccessreviews");
        if !self.rbac_allows("create", group, resource, "", "") {
            return self.forbidden("create", group, resource, "", "").handled();
        }
        let a = &review.resource_attributes;
        let allowed = review.user == self.user
            && self.rbac_allows(
                &a.verb,
                a.group.as_deref().unwrap_or(""),
                &a.resource,
                "",
                "",
            );
        let status = SubjectAccessReviewStatus {
            allowed,
            ..Default::default()
        };
        Handled::Ok {
            payload: serde_json::to_vec(&status).expect("a status serialises"),
            caveat: None,
        }
    }
}

/// Check and split one fixture object.
fn stored(value: Value) -> Result<Stored> {
    let Value::Object(mut map) = value else {
        bail!("an object must be a mapping");
    };
    let mut take_string = |key: &str| match map.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(anyhow!("`{key}` must be a non-empty string")),
    };
    let api_version = take_string("apiVersion")?;
    let kind = take_string("kind")?;
    let raw_metadata = map
        .remove("metadata")
        .ok_or_else(|| anyhow!("{api_version}/{kind}: `metadata` is missing"))?;
    let metadata: ObjectMeta = serde_json::from_value(raw_metadata.clone())
        .with_context(|| format!("{api_version}/{kind}: `metadata` is not an ObjectMeta"))?;
    let read_back = serde_json::to_value(&metadata)?;
    if read_back != raw_metadata {
        bail!(
            "{api_version}/{kind}: `metadata` is not as the API server stores it; it reads back as {read_back}"
        );
    }
    let name = metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| anyhow!("{api_version}/{kind}: `metadata.name` is missing"))?;
    Ok(Stored {
        namespace: metadata.namespace.clone(),
        api_version,
        kind,
        name,
        metadata,
        data: map,
    })
}

fn default_served(objects: &[Stored]) -> Result<Vec<ServedKind>> {
    let mut served: Vec<ServedKind> = BUILT_IN_KINDS
        .iter()
        .map(|(api_version, kind, namespaced)| ServedKind {
            api_version: (*api_version).to_owned(),
            kind: (*kind).to_owned(),
            namespaced: *namespaced,
            plural: None,
        })
        .collect();
    for o in objects {
        if served
            .iter()
            .any(|s| s.api_version == o.api_version && s.kind == o.kind)
        {
            continue;
        }
        let of_kind: Vec<&Stored> = objects
            .iter()
            .filter(|x| x.api_version == o.api_version && x.kind == o.kind)
            .collect();
        let namespaced = of_kind.iter().filter(|x| x.namespace.is_some()).count();
        if namespaced != 0 && namespaced != of_kind.len() {
            bail!(
                "objects of {}/{} have a namespace and not: list the kind under `served`",
                o.api_version,
                o.kind
            );
        }
        served.push(ServedKind {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            namespaced: namespaced != 0,
            plural: None,
        });
    }
    Ok(served)
}

/// The resource name of a kind, as Kubernetes and CRD tooling pluralise.
pub fn default_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower == "endpoints" {
        return lower;
    }
    if ["s", "x", "ch", "sh"].iter().any(|e| lower.ends_with(e)) {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

/// The API group of an apiVersion (`""` for `v1`).
fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// Kubernetes' own groups (core, `apps`, `*.k8s.io`); CRD groups always have a dot.
fn is_built_in_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Go's `%q` for the strings that appear in the API server's messages.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A `DynamicObject` as serde_json writes it: `apiVersion`, `kind`, `metadata` (k8s-openapi's
/// ObjectMeta), then the other keys, sorted; `spec_only`: `spec` alone (the field mask `["spec"]`).
fn object_json(o: &Stored, metadata: &ObjectMeta, spec_only: bool) -> String {
    let mut out = format!(
        "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{}",
        json_string(&o.api_version),
        json_string(&o.kind),
        serde_json::to_string(metadata).expect("metadata serialises")
    );
    for (k, v) in &o.data {
        if !spec_only || k == "spec" {
            let _ = write!(
                out,
                ",{}:{}",
                json_string(k),
                serde_json::to_string(v).expect("a value serialises")
            );
        }
    }
    out.push('}');
    out
}

/// The payloads the SDK sends for each `kubernetes/*` call the policy makes: its own request
/// structs, serialised as it serialises them, for tests that make those calls (`m`: the field
/// masks, which tests also set to others, to see them refused).
pub mod payload {
    use std::collections::BTreeSet;

    use kubewarden_policy_sdk::host_capabilities::kubernetes::{
        CanIRequest, GetResourceRequest, ListAllResourcesRequest, ResourceAttributes,
        SubjectAccessReview,
    };

    fn masks(m: Option<&[&str]>) -> Option<BTreeSet<String>> {
        m.map(|m| m.iter().map(|s| s.to_string()).collect())
    }

    fn json<T: serde::Serialize>(request: &T) -> Vec<u8> {
        serde_json::to_vec(request).expect("the SDK's request structs serialise")
    }

    pub fn get(av: &str, kind: &str, name: &str, ns: Option<&str>, m: Option<&[&str]>) -> Vec<u8> {
        json(&GetResourceRequest {
            api_version: av.into(),
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(Into::into),
            disable_cache: false,
            field_masks: masks(m),
        })
    }

    pub fn list_all(av: &str, kind: &str, m: Option<&[&str]>) -> Vec<u8> {
        json(&ListAllResourcesRequest {
            api_version: av.into(),
            kind: kind.into(),
            label_selector: None,
            field_selector: None,
            field_masks: masks(m),
        })
    }

    /// A review at the cluster scope, of `user` for `verb` on `group`'s `resource`.
    pub fn can_i(user: &str, verb: &str, group: &str, resource: &str) -> Vec<u8> {
        json(&CanIRequest {
            subject_access_review: SubjectAccessReview {
                groups: None,
                resource_attributes: ResourceAttributes {
                    group: Some(group.into()),
                    name: None,
                    namespace: None,
                    resource: resource.into(),
                    subresource: None,
                    verb: verb.into(),
                    version: None,
                },
                user: user.into(),
            },
            disable_cache: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small cluster: Instrumentations in two namespaces, their Namespaces, a Secret.
    const CLUSTER: &str = r#"
objects:
  - apiVersion: opentelemetry.io/v1alpha1
    kind: Instrumentation
    metadata:
      annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}", note: kept}
      labels: {team: web, tier: front}
      managedFields: [{apiVersion: opentelemetry.io/v1alpha1, manager: kubectl, operation: Update}]
      name: python
      namespace: shop
    spec:
      env: [{name: A, value: "1"}, {name: B, value: "2"}]
      exporter: {endpoint: "http://c:4318"}
    status: {}
  - apiVersion: opentelemetry.io/v1alpha1
    kind: Instrumentation
    metadata: {name: batch, namespace: shop, labels: {team: data}}
    spec: {}
  - apiVersion: opentelemetry.io/v1alpha1
    kind: Instrumentation
    metadata: {name: python, namespace: monitor}
    spec: {exporter: {endpoint: "http://m:4318"}}
  - apiVersion: v1
    kind: Namespace
    metadata: {name: shop, labels: {env: prod}, annotations: {instrumentation.opentelemetry.io/inject-python: "true"}}
    spec: {finalizers: [kubernetes]}
    status: {phase: Active}
  - apiVersion: v1
    kind: Namespace
    metadata: {name: monitor}
  - apiVersion: v1
    kind: Secret
    metadata: {name: tls, namespace: shop}
    type: kubernetes.io/tls
    data: {tls.crt: Y3J0, tls.key: a2V5}
"#;

    const OTEL: &str = "opentelemetry.io/v1alpha1";

    fn cluster(extra: &str) -> ClusterState {
        ClusterState::from_yaml(&format!("{CLUSTER}{extra}")).unwrap()
    }

    use super::payload::{can_i, get};

    /// The policy's list: every Instrumentation, specs only.
    fn list_instrumentations() -> Vec<u8> {
        super::payload::list_all(OTEL, "Instrumentation", Some(&["spec"]))
    }

    fn ok(c: &ClusterState, op: &str, payload: &[u8]) -> String {
        let answer = c.answer("kubernetes", op, payload);
        String::from_utf8(answer.unwrap_or_else(|e| panic!("{op}: {e}"))).unwrap()
    }

    fn err(c: &ClusterState, op: &str, payload: &[u8]) -> String {
        match c.answer("kubernetes", op, payload) {
            Ok(p) => panic!("{op} answered {}", String::from_utf8_lossy(&p)),
            Err(e) => e,
        }
    }

    fn last(c: &ClusterState) -> Call {
        c.calls().pop().unwrap()
    }

    fn recorded_error(c: &ClusterState) -> String {
        match last(c).stage {
            Stage::Handler(Exchange {
                response: ExchangeResponse::Error { message },
                ..
            }) => message,
            other => panic!("not a recorded error: {other:?}"),
        }
    }

    fn names(payload: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(payload).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let m = &i["metadata"];
                format!(
                    "{}/{}",
                    m["namespace"].as_str().unwrap(),
                    m["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn get_answers_type_and_metadata_first_then_the_other_keys_sorted() {
        let c = cluster("");
        assert_eq!(
            ok(
                &c,
                "get_resource",
                &get("v1", "Secret", "tls", Some("shop"), None)
            ),
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls","namespace":"shop"},"data":{"tls.crt":"Y3J0","tls.key":"a2V5"},"type":"kubernetes.io/tls"}"#
        );
        // metadata in ObjectMeta's order, kept whole (managedFields, last-applied) by a get.
        assert_eq!(
            ok(
                &c,
                "get_resource",
                &get(
                    "opentelemetry.io/v1alpha1",
                    "Instrumentation",
                    "python",
                    Some("shop"),
                    None
                )
            ),
            r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}","note":"kept"},"labels":{"team":"web","tier":"front"},"managedFields":[{"apiVersion":"opentelemetry.io/v1alpha1","manager":"kubectl","operation":"Update"}],"name":"python","namespace":"shop"},"spec":{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"exporter":{"endpoint":"http://c:4318"}},"status":{}}"#
        );
        let call = last(&c);
        assert_eq!(call.caveat, None);
        assert!(matches!(call.stage, Stage::Handler(_)));
    }

    #[test]
    fn a_call_reads_as_one_line_of_what_it_asks_for() {
        let line = |op: &str, payload: &[u8]| call_summary("kubernetes", op, payload);
        assert_eq!(
            line(
                "get_resource",
                &get("v1", "Namespace", "default", None, None)
            ),
            "get_resource v1/Namespace default"
        );
        let instrumentation = get(
            OTEL,
            "Instrumentation",
            "python-instrumentation",
            Some("monitor"),
            Some(&["spec"]),
        );
        assert_eq!(
            line("get_resource", &instrumentation),
            "get_resource opentelemetry.io/v1alpha1/Instrumentation monitor/python-instrumentation masks=[spec]"
        );
        assert_eq!(
            line("list_resources_all", &list_instrumentations()),
            "list_resources_all opentelemetry.io/v1alpha1/Instrumentation masks=[spec]"
        );
        assert_eq!(
            line(
                "can_i",
                &can_i(DEFAULT_USER, "list", "opentelemetry.io", "instrumentations")
            ),
            "can_i list instrumentations.opentelemetry.io"
        );
        assert_eq!(
            line("can_i", &can_i(DEFAULT_USER, "get", "", "namespaces")),
            "can_i get namespaces"
        );
        // A payload that does not parse, or that the policy never sends, reads as it is.
        assert_eq!(
            line("get_resource", br#"{"api_version":"v1"}"#),
            r#"get_resource (payload: {"api_version":"v1"})"#
        );
        let masked = br#"{"api_version":"v1","kind":"Namespace","name":"a","namespace":null,"disable_cache":false,"field_masks":["status"]}"#;
        assert_eq!(
            line("get_resource", masked),
            format!(
                "get_resource (payload: {})",
                String::from_utf8_lossy(masked)
            )
        );
        assert_eq!(
            call_summary("oci", "v1/verify", b"{}"),
            "oci/v1/verify (payload: {})"
        );
        assert_eq!(
            call_summary("oci", "v1/manifest_digest", br#""r.io/p:1""#),
            "manifest_digest r.io/p:1"
        );
        assert_eq!(
            call_summary("net", "v1/dns_lookup_host", b"{}"),
            "net/v1/dns_lookup_host"
        );
        // A logged call reads the same, and names the kind it asked for.
        let c = cluster("");
        ok(&c, "list_resources_all", &list_instrumentations());
        assert_eq!(
            last(&c).summary(),
            "list_resources_all opentelemetry.io/v1alpha1/Instrumentation masks=[spec]"
        );
        assert_eq!(
            last(&c).asked_kind(),
            Some(ApiVersionKind {
                api_version: OTEL.into(),
                kind: "Instrumentation".into()
            })
        );
        // A fresh copy answers alike, with its own empty log.
        let fresh = c.fresh();
        assert!(fresh.calls().is_empty());
        assert_eq!(c.calls().len(), 1);
        assert_eq!(
            ok(&fresh, "list_resources_all", &list_instrumentations()),
            ok(&c, "list_resources_all", &list_instrumentations())
        );
    }

    #[test]
    fn a_missing_object_is_named_with_the_namespace_as_rust_debug() {
        let c = cluster("");
        let payload = get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "missing",
            Some("shop"),
            None,
        );
        assert_eq!(
            err(&c, "get_resource", &payload),
            r#"Callback evaluation failure: Cannot find opentelemetry.io/v1alpha1/Instrumentation named 'missing' inside of namespace 'Some("shop")'"#
        );
        assert_eq!(
            recorded_error(&c),
            r#"Cannot find opentelemetry.io/v1alpha1/Instrumentation named 'missing' inside of namespace 'Some("shop")'"#
        );
        assert_eq!(
            err(
                &c,
                "get_resource",
                &get("v1", "Namespace", "nope", None, None)
            ),
            "Callback evaluation failure: Cannot find v1/Namespace named 'nope' inside of namespace 'None'"
        );
        // The namespace of an object elsewhere does not find it.
        err(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("monitor"), None),
        );
    }

    #[test]
    fn a_namespaced_kind_needs_a_namespace_and_a_cluster_scoped_one_ignores_it() {
        let c = cluster("");
        assert_eq!(
            err(&c, "get_resource", &get("v1", "Secret", "tls", None, None)),
            "Callback evaluation failure: Resource v1/Secret is namespaced, but no namespace was provided"
        );
        let ns = ok(
            &c,
            "get_resource",
            &get("v1", "Namespace", "shop", Some("elsewhere"), None),
        );
        assert!(
            ns.starts_with(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"annotations""#),
            "{ns}"
        );
    }

    #[test]
    fn a_crd_that_is_not_installed_fails_discovery_with_the_404_kube_rs_builds() {
        let c = ClusterState::from_yaml(
            "served: [{apiVersion: v1, kind: Namespace, namespaced: false}]\n\
             granted: [{apiVersion: opentelemetry.io/v1alpha1, kind: Instrumentation}, {apiVersion: v1, kind: Pod}]\n",
        )
        .unwrap();
        let recorded = "error finding resource opentelemetry.io/v1alpha1 / Instrumentation: ApiError: 404 page not found\n: Failed to parse error data (Status { status: Some(Failure), code: 404, message: \"404 page not found\\n\", metadata: None, reason: \"Failed to parse error data\", details: None })";
        let payload = get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "python",
            Some("shop"),
            None,
        );
        assert_eq!(
            err(&c, "get_resource", &payload),
            format!("{CALLBACK_FAILURE}{recorded}")
        );
        assert_eq!(recorded_error(&c), recorded);
        assert_eq!(
            err(&c, "list_resources_all", &list_instrumentations()),
            format!("{CALLBACK_FAILURE}{recorded}")
        );
        // The core group is always there: a kind it lacks is not found in it.
        assert_eq!(
            err(
                &c,
                "get_resource",
                &get("v1", "Pod", "p", Some("shop"), None)
            ),
            "Callback evaluation failure: Cannot find resource v1/Pod"
        );
    }

    #[test]
    fn a_served_group_without_the_kind_cannot_find_the_resource() {
        let c = cluster(
            "granted: [{apiVersion: opentelemetry.io/v1alpha1, kind: OpAMPBridge}, {apiVersion: apps, kind: Deployment}]\n",
        );
        let payload = get(
            "opentelemetry.io/v1alpha1",
            "OpAMPBridge",
            "b",
            Some("shop"),
            None,
        );
        assert_eq!(
            err(&c, "get_resource", &payload),
            "Callback evaluation failure: Cannot find resource opentelemetry.io/v1alpha1/OpAMPBridge"
        );
        // A bare group (no version), which the API server answers with its group document: not
        // modelled.
        let e = err(
            &c,
            "get_resource",
            &get("apps", "Deployment", "d", Some("shop"), None),
        );
        assert_eq!(
            e,
            format!(
                "get_resource with an apiVersion other than v1 or group/version: {NOT_MODELLED}"
            )
        );
        assert_eq!(last(&c).stage, Stage::NotModelled);
    }

    #[test]
    fn the_spec_mask_keeps_type_metadata_and_spec() {
        let c = cluster("");
        let python = |m: Option<&[&str]>| {
            let payload = get(OTEL, "Instrumentation", "python", Some("shop"), m);
            let v: Value = serde_json::from_str(&ok(&c, "get_resource", &payload)).unwrap();
            assert_eq!(v["kind"], "Instrumentation");
            assert_eq!(v["metadata"]["name"], "python");
            assert!(v["metadata"]["managedFields"].is_array(), "{v}");
            let mut rest = v.as_object().unwrap().clone();
            for k in ["apiVersion", "kind", "metadata"] {
                rest.remove(k);
            }
            Value::Object(rest)
        };
        let spec = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "exporter": {"endpoint": "http://c:4318"}});
        assert_eq!(python(Some(&["spec"])), json!({"spec": spec}));
        assert_eq!(python(None), json!({"spec": spec, "status": {}}));
        // An object without a spec: type and metadata alone.
        let secret = ok(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("shop"), Some(&["spec"])),
        );
        assert_eq!(
            secret,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls","namespace":"shop"}}"#
        );
    }

    #[test]
    fn a_list_is_the_asked_kind_list_with_reflector_items() {
        let c = cluster("");
        let all = ok(&c, "list_resources_all", &list_instrumentations());
        // Every namespace, in namespace/name order; specs only.
        assert_eq!(names(&all), ["monitor/python", "shop/batch", "shop/python"]);
        assert!(
            all.starts_with(r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"InstrumentationList","metadata":{},"items":[{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation","metadata":{"annotations":{},"managedFields":[],"name":"python","namespace":"monitor"},"spec":{"exporter":{"endpoint":"http://m:4318"}}},"#),
            "{all}"
        );
        // managedFields emptied, last-applied-configuration gone, other annotations kept.
        assert!(all.ends_with(r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation","metadata":{"annotations":{"note":"kept"},"labels":{"team":"web","tier":"front"},"managedFields":[],"name":"python","namespace":"shop"},"spec":{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"exporter":{"endpoint":"http://c:4318"}}}]}"#), "{all}");
        // A kind without objects: an empty list.
        let empty = ClusterState::from_yaml(
            "served: [{apiVersion: opentelemetry.io/v1alpha1, kind: Instrumentation, namespaced: true}]\n",
        )
        .unwrap();
        assert_eq!(
            ok(&empty, "list_resources_all", &list_instrumentations()),
            r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"InstrumentationList","metadata":{},"items":[]}"#
        );
    }

    #[test]
    fn calls_the_policy_does_not_make_are_refused_as_not_modelled() {
        let c = cluster("");
        let refused = |op: &str, payload: &[u8], why: &str| {
            let e = err(&c, op, payload);
            assert_eq!(e, format!("{op} with {why}: {NOT_MODELLED}"));
            let call = last(&c);
            assert_eq!(call.stage, Stage::NotModelled, "{e}");
            assert!(call.request.is_some());
        };
        let list = |labels: &str, fields: &str, masks: &str| {
            format!(
                r#"{{"api_version":"{OTEL}","kind":"Instrumentation","label_selector":{labels},"field_selector":{fields},"field_masks":{masks}}}"#
            )
        };
        let spec = r#"["spec"]"#;
        let selectors = "a selector";
        refused(
            "list_resources_all",
            list(r#""team=web""#, "null", spec).as_bytes(),
            selectors,
        );
        refused(
            "list_resources_all",
            list("null", r#""metadata.name=python""#, spec).as_bytes(),
            selectors,
        );
        let masks = "field masks other than [spec]";
        refused(
            "list_resources_all",
            list("null", "null", "null").as_bytes(),
            masks,
        );
        refused(
            "list_resources_all",
            list("null", "null", r#"["spec","status"]"#).as_bytes(),
            masks,
        );
        let namespaces = super::payload::list_all("v1", "Namespace", Some(&["spec"]));
        refused("list_resources_all", &namespaces, "a built-in kind");
        let status = get("v1", "Namespace", "shop", None, Some(&["status"]));
        refused("get_resource", &status, masks);
        let uncached =
            br#"{"api_version":"v1","kind":"Namespace","name":"shop","disable_cache":true}"#;
        refused("get_resource", uncached, "disable_cache");
        let review = |attributes: &str, groups: &str| {
            format!(
                r#"{{"subject_access_review":{{"groups":{groups},"resource_attributes":{{"group":"","resource":"pods","verb":"get"{attributes}}},"user":"{DEFAULT_USER}"}},"disable_cache":false}}"#
            )
        };
        let narrowed = "a name, namespace, subresource or version";
        refused(
            "can_i",
            review(r#","namespace":"shop""#, "null").as_bytes(),
            narrowed,
        );
        refused(
            "can_i",
            review(r#","subresource":"log""#, "null").as_bytes(),
            narrowed,
        );
        refused("can_i", review("", r#"["admins"]"#).as_bytes(), "groups");
        ok(&c, "can_i", review("", "null").as_bytes());
        // The other operation, after the capability gate.
        let by_namespace = br#"{"api_version":"v1","kind":"Namespace","namespace":"shop"}"#;
        assert_eq!(
            err(&c, "list_resources_by_namespace", by_namespace),
            format!("list_resources_by_namespace: {NOT_MODELLED}")
        );
        assert_eq!(last(&c).stage, Stage::NotModelled);
        let e = c.session_yaml().unwrap_err().to_string();
        assert!(e.contains("no faithful recording"), "{e}");
        // policy-server's gates come first: their refusals are faithful whatever the payload.
        let gated = cluster("host_capabilities: [kubernetes/get_resource]\ngranted: []\n");
        assert!(
            err(&gated, "list_resources_by_namespace", by_namespace)
                .starts_with("Policy has not been granted access to the 'kubernetes/list_resources_by_namespace' host capability")
        );
        assert!(
            err(&gated, "get_resource", &status)
                .starts_with("Policy has not been granted access to Kubernetes v1/Namespace")
        );
        assert!(gated.calls().iter().all(|c| c.stage == Stage::HostCallback));
        assert_eq!(gated.session_yaml().unwrap(), "[]\n");
    }

    #[test]
    fn the_host_capability_gate_comes_first_with_policy_servers_patterns() {
        let payload = get("v1", "Namespace", "shop", None, None);
        for (patterns, allowed) in [
            ("['*']", true),
            ("[kubernetes/*]", true),
            ("[kubernetes/get_resource]", true),
            ("[kubernetes/can_i, oci/*]", false),
            ("[]", false),
        ] {
            // Not granted either: the capability gate must answer first.
            let c = cluster(&format!("host_capabilities: {patterns}\ngranted: []\n"));
            let e = err(&c, "get_resource", &payload);
            let denied = "Policy has not been granted access to the 'kubernetes/get_resource' host capability. The violation has been reported.";
            assert_eq!(e == denied, !allowed, "{patterns}: {e}");
            assert_eq!(last(&c).stage, Stage::HostCallback);
        }
        let c = cluster("host_capabilities: [kubernetes/list_resources_all]\n");
        // Logging is never gated; other namespaces are, then refused as unknown or unmodelled.
        assert_eq!(c.answer("tracing", "log", b"{}"), Ok(Vec::new()));
        assert_eq!(
            c.answer("oci", "v1/manifest_digest", b"\"busybox\""),
            Err("Policy has not been granted access to the 'oci/v1/manifest_digest' host capability. The violation has been reported.".into())
        );
        let all = cluster("");
        assert_eq!(
            all.answer("nope", "x", b""),
            Err("unknown namespace: nope".into())
        );
        assert_eq!(
            all.answer("kubernetes", "delete", b""),
            Err("unknown operation: delete".into())
        );
        assert!(
            all.answer("oci", "v1/manifest_digest", b"\"busybox\"")
                .is_err()
        );
        assert_eq!(last(&all).stage, Stage::NotModelled);
        // Logging is not logged as a call.
        assert_eq!(all.calls().len(), 3);
        assert!(ClusterState::from_yaml("host_capabilities: [kubernetes/get]\n").is_err());
        assert!(ClusterState::from_yaml("host_capabilities: [oci/v1/oci_*]\n").is_err());
        assert!(ClusterState::from_yaml("host_capabilities: [oci/v1]\n").is_err());
        assert!(ClusterState::from_yaml("host_capabilities: [oci/v1/*]\n").is_ok());
    }

    #[test]
    fn the_allow_list_is_exact_and_does_not_gate_can_i() {
        let c = cluster("granted: [{apiVersion: v1, kind: Namespace}]\n");
        assert_eq!(
            err(
                &c,
                "get_resource",
                &get("v1", "Secret", "tls", Some("shop"), None)
            ),
            "Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported."
        );
        assert_eq!(
            err(&c, "list_resources_all", &list_instrumentations()),
            "Policy has not been granted access to Kubernetes opentelemetry.io/v1alpha1/Instrumentation resources. The violation has been reported."
        );
        // Case-sensitive, no plural forms.
        err(
            &c,
            "get_resource",
            &get("v1", "namespace", "shop", None, None),
        );
        assert_eq!(last(&c).stage, Stage::HostCallback);
        ok(
            &c,
            "get_resource",
            &get("v1", "Namespace", "shop", None, None),
        );
        ok(&c, "can_i", &can_i(DEFAULT_USER, "get", "", "secrets"));
    }

    #[test]
    fn a_payload_that_does_not_parse_gets_serdes_message_and_no_recording() {
        let c = cluster("");
        assert_eq!(
            err(
                &c,
                "get_resource",
                br#"{"api_version":"v1","kind":"Namespace"}"#
            ),
            "missing field `name` at line 1 column 39"
        );
        assert_eq!(last(&c).stage, Stage::HostCallback);
        assert_eq!(c.session_yaml().unwrap(), "[]\n");
        // Fields the SDK always sends may be left out when they are Options.
        ok(
            &c,
            "get_resource",
            br#"{"api_version":"v1","kind":"Namespace","name":"shop","disable_cache":false}"#,
        );
    }

    #[test]
    fn a_get_that_rbac_refuses_fails_with_kube_rs_error_for_the_403() {
        let c = cluster("rbac: [{verbs: [get], apiGroups: [''], resources: [secrets]}]\n");
        let payload = get(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "python",
            Some("shop"),
            None,
        );
        let message = r#"instrumentations.opentelemetry.io "python" is forbidden: User "system:serviceaccount:kubewarden:policy-server" cannot get resource "instrumentations" in API group "opentelemetry.io" in the namespace "shop""#;
        let recorded = format!(
            "ApiError: {message}: Forbidden (Status {{ status: Some(Failure), code: 403, message: {message:?}, metadata: Some(ListMeta {{ continue_: None, remaining_item_count: None, resource_version: None, self_link: None }}), reason: \"Forbidden\", details: Some(StatusDetails {{ name: \"python\", group: \"opentelemetry.io\", kind: \"instrumentations\", uid: \"\", causes: [], retry_after_seconds: 0 }}) }})"
        );
        assert_eq!(
            err(&c, "get_resource", &payload),
            format!(
                "Callback evaluation failure: {recorded}\n\nCaused by:\n    {message}: Forbidden"
            )
        );
        assert_eq!(recorded_error(&c), recorded);
        // Core group, cluster scope; RBAC comes before existence.
        let e = err(
            &c,
            "get_resource",
            &get("v1", "Namespace", "nowhere", None, None),
        );
        assert!(e.starts_with(r#"Callback evaluation failure: ApiError: namespaces "nowhere" is forbidden: User "system:serviceaccount:kubewarden:policy-server" cannot get resource "namespaces" in API group "" at the cluster scope: Forbidden (Status {"#), "{e}");
        assert!(
            e.contains(
                r#"details: Some(StatusDetails { name: "nowhere", group: "", kind: "namespaces","#
            ),
            "{e}"
        );
        ok(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("shop"), None),
        );
    }

    #[test]
    fn a_list_rbac_refuses_would_wait_forever_and_one_it_may_not_watch_never_updates() {
        // A RoleBinding's namespace does not reach the cluster scope of a list of all.
        let c = cluster(
            "rbac: [{verbs: [list, watch], apiGroups: ['*'], resources: ['*'], namespaces: [monitor]}]\n",
        );
        assert_eq!(
            err(&c, "list_resources_all", &list_instrumentations()),
            format!(
                "instrumentations.opentelemetry.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot list resource \"instrumentations\" in API group \"opentelemetry.io\" at the cluster scope ({WOULD_WAIT_FOREVER}: its watch retries a 403 without end)"
            )
        );
        assert_eq!(last(&c).stage, Stage::WouldWaitForever);
        let e = c.session_yaml().unwrap_err().to_string();
        assert!(e.contains("no faithful recording"), "{e}");
        let rules = |verbs: &str| {
            cluster(&format!(
                "rbac: [{{verbs: [{verbs}], apiGroups: [opentelemetry.io], resources: [instrumentations]}}]\n"
            ))
        };
        let c = rules("list, watch");
        ok(&c, "list_resources_all", &list_instrumentations());
        assert_eq!(last(&c).caveat, None);
        let c = rules("list");
        ok(&c, "list_resources_all", &list_instrumentations());
        let caveat = last(&c).caveat.unwrap();
        assert!(
            caveat.contains("may list but not watch instrumentations"),
            "{caveat}"
        );
    }

    #[test]
    fn can_i_answers_from_rbac_for_the_service_account_only() {
        let c = cluster(
            "rbac:\n  - {verbs: [create], apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews]}\n  - {verbs: [list, watch], apiGroups: [opentelemetry.io], resources: [instrumentations]}\n  - {verbs: [get], apiGroups: [''], resources: [namespaces], namespaces: [shop]}\n",
        );
        let ask = |user: &str, verb: &str, group: &str, resource: &str| {
            ok(&c, "can_i", &can_i(user, verb, group, resource))
        };
        assert_eq!(
            ask(DEFAULT_USER, "list", "opentelemetry.io", "instrumentations"),
            r#"{"allowed":true}"#
        );
        assert_eq!(
            ask(DEFAULT_USER, "get", "opentelemetry.io", "instrumentations"),
            r#"{"allowed":false}"#
        );
        assert_eq!(
            ask("jane", "list", "opentelemetry.io", "instrumentations"),
            r#"{"allowed":false}"#
        );
        // A review at the cluster scope is not allowed by a RoleBinding's rule.
        assert_eq!(
            ask(DEFAULT_USER, "get", "", "namespaces"),
            r#"{"allowed":false}"#
        );
        // Without the right to create SubjectAccessReviews, the review itself is refused.
        let c =
            cluster("rbac: [{verbs: ['*'], apiGroups: [opentelemetry.io], resources: ['*']}]\n");
        assert_eq!(
            err(
                &c,
                "can_i",
                &can_i(DEFAULT_USER, "list", "opentelemetry.io", "instrumentations")
            ),
            "Callback evaluation failure: ApiError: subjectaccessreviews.authorization.k8s.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope: Forbidden (Status { status: Some(Failure), code: 403, message: \"subjectaccessreviews.authorization.k8s.io is forbidden: User \\\"system:serviceaccount:kubewarden:policy-server\\\" cannot create resource \\\"subjectaccessreviews\\\" in API group \\\"authorization.k8s.io\\\" at the cluster scope\", metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None }), reason: \"Forbidden\", details: Some(StatusDetails { name: \"\", group: \"authorization.k8s.io\", kind: \"subjectaccessreviews\", uid: \"\", causes: [], retry_after_seconds: 0 }) })\n\nCaused by:\n    subjectaccessreviews.authorization.k8s.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope: Forbidden"
        );
        // The default RBAC allows everything, to the service account.
        let c = cluster("user: system:serviceaccount:kw:ps\n");
        assert_eq!(
            ok(
                &c,
                "can_i",
                &can_i("system:serviceaccount:kw:ps", "delete", "", "secrets")
            ),
            r#"{"allowed":true}"#
        );
        assert_eq!(
            ok(&c, "can_i", &can_i(DEFAULT_USER, "delete", "", "secrets")),
            r#"{"allowed":false}"#
        );
    }

    #[test]
    fn a_forced_failure_fails_the_matching_calls_in_the_handler() {
        let c = cluster(
            "fail:\n  - {operation: get_resource, apiVersion: v1, kind: Namespace, message: 'connection refused'}\n  - {operation: can_i, message: timeout}\n",
        );
        assert_eq!(
            err(
                &c,
                "get_resource",
                &get("v1", "Namespace", "shop", None, None)
            ),
            "Callback evaluation failure: connection refused"
        );
        assert_eq!(recorded_error(&c), "connection refused");
        ok(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("shop"), None),
        );
        ok(&c, "list_resources_all", &list_instrumentations());
        assert_eq!(
            err(&c, "can_i", &can_i(DEFAULT_USER, "get", "", "pods")),
            "Callback evaluation failure: timeout"
        );
        // The gates still come first.
        let c = cluster("granted: []\nfail: [{message: down}]\n");
        assert!(
            err(
                &c,
                "get_resource",
                &get("v1", "Namespace", "shop", None, None)
            )
            .starts_with("Policy has not been granted")
        );
        assert!(
            ClusterState::from_yaml("fail: [{message: 'Callback evaluation failure: x'}]\n")
                .is_err()
        );
        assert!(ClusterState::from_yaml("fail: [{operation: get, message: x}]\n").is_err());
    }

    #[test]
    fn the_session_is_kwctls_recording_of_the_handler_calls_in_order() {
        let c = cluster("granted: [{apiVersion: v1, kind: Namespace}]\n");
        ok(
            &c,
            "get_resource",
            &get("v1", "Namespace", "monitor", None, Some(&["spec"])),
        );
        err(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("shop"), None),
        );
        err(
            &c,
            "get_resource",
            &get("v1", "Namespace", "nope", None, None),
        );
        ok(
            &c,
            "can_i",
            &can_i(DEFAULT_USER, "list", "opentelemetry.io", "instrumentations"),
        );
        let session = c.session_yaml().unwrap();
        assert_eq!(
            session,
            r#"- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: monitor
    namespace: null
    disable_cache: false
    field_masks:
    - spec
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monitor"}}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: nope
    namespace: null
    disable_cache: false
    field_masks: null
  response:
    type: Error
    message: Cannot find v1/Namespace named 'nope' inside of namespace 'None'
- type: Exchange
  request: |
    !KubernetesCanI
    request:
      groups: null
      resource_attributes:
        group: opentelemetry.io
        name: null
        namespace: null
        resource: instrumentations
        subresource: null
        verb: list
        version: null
      user: system:serviceaccount:kubewarden:policy-server
    disable_cache: false
  response:
    type: Success
    payload: '{"allowed":true}'
"#
        );
        // Read back as kwctl reads it: the same requests.
        let exchanges: Vec<Exchange> = serde_yaml::from_str(&session).unwrap();
        let handled: Vec<Call> = c
            .calls()
            .into_iter()
            .filter(|c| matches!(c.stage, Stage::Handler(_)))
            .collect();
        assert_eq!(exchanges.len(), handled.len());
        for (e, call) in exchanges.iter().zip(&handled) {
            assert_eq!(Some(e.parsed_request().unwrap()), call.request);
        }
        c.clear_calls();
        assert_eq!(c.session_yaml().unwrap(), "[]\n");
    }

    #[test]
    fn fixtures_are_refused_when_they_are_not_what_an_api_server_stores() {
        let bad = |yaml: &str, wanted: &str| {
            let e = format!("{:#}", ClusterState::from_yaml(yaml).unwrap_err());
            assert!(e.contains(wanted), "{yaml}\n=> {e}");
        };
        bad("objectz: []\n", "unknown field `objectz`");
        bad(
            "objects: [{apiVersion: v1, kind: Secret, metadata: {name: s}}]\n",
            "has no namespace",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: n, namespace: x}}]\n",
            "cluster-scoped",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: n, lables: {}}}]\n",
            "reads back as",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: n, creationTimestamp: '2024-01-01T00:00:00.5Z'}}]\n",
            "reads back as",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: n, resourceVersion: 1}}]\n",
            "not an ObjectMeta",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {}}]\n",
            "metadata.name",
        );
        bad(
            "objects: [{apiVersion: v1, kind: Namespace, metadata: {name: n}}, {apiVersion: v1, kind: Namespace, metadata: {name: n}}]\n",
            "listed twice",
        );
        bad(
            "served: [{apiVersion: v1, kind: Namespace, namespaced: false}]\nobjects: [{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: x}}]\n",
            "not served",
        );
        bad(
            "served: [{apiVersion: apps, kind: Deployment, namespaced: true}]\n",
            "neither v1 nor group/version",
        );
        bad(
            "objects: [{apiVersion: x.io/v1, kind: Thing, metadata: {name: a, namespace: n}}, {apiVersion: x.io/v1, kind: Thing, metadata: {name: b}}]\n",
            "have a namespace and not",
        );
        bad(
            "rbac: [{verbs: [get], apiGroups: [''], resource: [pods]}]\n",
            "unknown field `resource`",
        );
        // A CRD kind is served, namespaced as its objects are.
        let c = ClusterState::from_yaml(
            "objects: [{apiVersion: x.io/v1, kind: Policy, metadata: {name: a, namespace: n}}]\n",
        )
        .unwrap();
        let s = c.served().iter().find(|s| s.kind == "Policy").unwrap();
        assert!(s.namespaced);
        assert_eq!(s.plural(), "policies");
    }

    #[test]
    fn plurals_are_derived_as_kubernetes_names_them() {
        for (kind, plural) in [
            ("Instrumentation", "instrumentations"),
            ("Namespace", "namespaces"),
            ("ReplicaSet", "replicasets"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Gateway", "gateways"),
            ("Endpoints", "endpoints"),
            ("Job", "jobs"),
        ] {
            assert_eq!(default_plural(kind), plural);
        }
    }
}
