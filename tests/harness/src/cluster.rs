//! A Kubernetes cluster for the policy's context-aware host calls: the `kubewarden/kubernetes/*`
//! calls answered from a fixture with the semantics of Kubewarden's policy-server (1.36,
//! policy-evaluator 0.32, kube-rs 3.1), every call logged, and the calls written as the session
//! file `kwctl run --replay-host-capabilities-interactions` replays.
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
//!   - {verbs: [list, watch], apiGroups: [""], resources: [namespaces], namespaces: [shop]}
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
//!   (`plural`, `plural/subresource`, or `*`), optionally `resourceNames`, and optionally
//!   `namespaces` (a RoleBinding's namespaces; without it the rule is cluster-wide).
//! - `fail`: each entry matches an `operation` (the waPC operation: `get_resource`,
//!   `list_resources_by_namespace`, `list_resources_all`, `can_i`), an `apiVersion` and a `kind`,
//!   each optional (absent matches anything; `can_i` has no apiVersion or kind); the first
//!   matching entry fails the call in the callback handler with `message`, as a connection
//!   failure would. The guest then reads `Callback evaluation failure: <message>`.
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
//! ([`Stage::HostCallback`]). In the handler (`callback_handler/kubernetes/client.rs`):
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
//! - `list_resources_*`: `{"apiVersion":"<asked>","kind":"<Kind>List","metadata":{},"items":[...]}`
//!   from a reflector: items without managedFields (`[]`) and without the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation (`annotations` becomes `{}`
//!   when that was the only one). Items of built-in kinds have no `apiVersion`/`kind` (the API
//!   server's list leaves them out and the reflector keeps the list's items); CRD items keep them.
//!   Items come in namespace/name order here; the reflector's order is a hash map's, so a
//!   policy must not rely on it. `list_resources_by_namespace` on a cluster-scoped kind:
//!   `resource <apiVersion>/<kind> is cluster wide. Cannot search for it inside of a namespace`;
//! - field masks (`field_mask.rs`) prune everything but `apiVersion`, `kind` and `metadata`:
//!   dotted paths are kept, arrays are transparent, an absent or empty mask keeps everything. A
//!   mask such as `metadata.annotations` therefore drops `spec` and `status` and keeps metadata;
//! - `can_i`: a SubjectAccessReview created with `user`'s rights, so `user` needs `create` on
//!   `authorization.k8s.io` `subjectaccessreviews` (else the 403 error); the answer is the
//!   review's status, `{"allowed":true}` or `{"allowed":false}`: `rbac` for a review of `user`,
//!   not allowed for any other user (nothing binds them here). The real API server adds an
//!   RBAC reason naming the binding; the fixture has no binding names, so no reason is given.
//!
//! Where the real policy-server never answers, this host answers at once with an error that
//! ends with [`WOULD_WAIT_FOREVER`] ([`Stage::WouldWaitForever`]): a list whose `list` RBAC
//! refuses (the reflector's initial list fails with 403 and is retried without end, and the
//! call waits for it), or whose field selector the API server refuses (400, retried the same
//! way). A list that may be listed but not watched is answered (the reflector is ready after
//! its first list), with a [`Call::caveat`]: its data would never be updated. Selectors this
//! host does not understand, bare API groups and the other host capabilities (oci, net,
//! crypto) are refused as [`Stage::NotModelled`].
//!
//! Selectors: labels `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, joined by
//! commas; fields `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`. A list with an
//! unsupported field of a CRD is refused by the API server (the 400 above); of a built-in kind,
//! not modelled here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    CanIRequest, GetResourceRequest, ListAllResourcesRequest, ListResourcesByNamespaceRequest,
    SubjectAccessReview,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The end of every error this host gives where the real policy-server would not answer.
pub const WOULD_WAIT_FOREVER: &str = "the real policy-server would wait forever here";

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

const KUBERNETES_OPERATIONS: [&str; 4] = [
    "get_resource",
    "list_resources_by_namespace",
    "list_resources_all",
    "can_i",
];

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
        let subresource_wildcard = resource
            .split_once('/')
            .is_some_and(|(_, sub)| self.resources.iter().any(|r| r == &format!("*/{sub}")));
        any(&self.verbs, verb)
            && any(&self.api_groups, group)
            && (any(&self.resources, resource) || subresource_wildcard)
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

#[derive(Debug, Deserialize)]
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
/// `CallbackRequestType` (`callback_requests.rs`), its Kubernetes variants, with the same names,
/// fields and field order, so that serde_yaml writes and reads them as kwctl does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackRequest {
    KubernetesListResourceNamespace {
        api_version: String,
        kind: String,
        namespace: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
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
pub fn read_request(operation: &str, payload: &[u8]) -> Result<CallbackRequest, String> {
    let read = |e: serde_json::Error| e.to_string();
    Ok(match operation {
        "list_resources_by_namespace" => {
            let r: ListResourcesByNamespaceRequest =
                serde_json::from_slice(payload).map_err(read)?;
            CallbackRequest::KubernetesListResourceNamespace {
                api_version: r.api_version,
                kind: r.kind,
                namespace: r.namespace,
                label_selector: r.label_selector,
                field_selector: r.field_selector,
                field_masks: r.field_masks,
            }
        }
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

impl CallbackRequest {
    /// The waPC operation in the `kubernetes` namespace that makes this request.
    pub fn operation(&self) -> &'static str {
        match self {
            CallbackRequest::KubernetesListResourceNamespace { .. } => {
                "list_resources_by_namespace"
            }
            CallbackRequest::KubernetesListResourceAll { .. } => "list_resources_all",
            CallbackRequest::KubernetesGetResource { .. } => "get_resource",
            CallbackRequest::KubernetesCanI { .. } => "can_i",
        }
    }

    /// The kind a get or list asks for: what the contextAwareResources allow list checks.
    pub fn asked_kind(&self) -> Option<ApiVersionKind> {
        let (api_version, kind) = match self {
            CallbackRequest::KubernetesListResourceNamespace {
                api_version, kind, ..
            }
            | CallbackRequest::KubernetesListResourceAll {
                api_version, kind, ..
            }
            | CallbackRequest::KubernetesGetResource {
                api_version, kind, ..
            } => (api_version, kind),
            CallbackRequest::KubernetesCanI { .. } => return None,
        };
        Some(ApiVersionKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })
    }

    /// The request as one line: see [`call_summary`].
    pub fn summary(&self) -> String {
        let mut line = self.operation().to_owned();
        let (labels, fields, masks, disable_cache) = match self {
            CallbackRequest::KubernetesGetResource {
                api_version,
                kind,
                name,
                namespace,
                disable_cache,
                field_masks,
            } => {
                let _ = write!(line, " {api_version}/{kind} ");
                if let Some(ns) = namespace {
                    let _ = write!(line, "{ns}/");
                }
                line.push_str(name);
                (None, None, field_masks.as_ref(), *disable_cache)
            }
            CallbackRequest::KubernetesListResourceNamespace {
                api_version,
                kind,
                namespace,
                label_selector,
                field_selector,
                field_masks,
            } => {
                let _ = write!(line, " {api_version}/{kind} {namespace}");
                (
                    label_selector.as_deref(),
                    field_selector.as_deref(),
                    field_masks.as_ref(),
                    false,
                )
            }
            CallbackRequest::KubernetesListResourceAll {
                api_version,
                kind,
                label_selector,
                field_selector,
                field_masks,
            } => {
                let _ = write!(line, " {api_version}/{kind}");
                (
                    label_selector.as_deref(),
                    field_selector.as_deref(),
                    field_masks.as_ref(),
                    false,
                )
            }
            CallbackRequest::KubernetesCanI {
                request,
                disable_cache,
            } => {
                let a = &request.resource_attributes;
                let _ = write!(line, " {} {}", a.verb, a.resource);
                if let Some(sub) = a.subresource.as_deref().filter(|s| !s.is_empty()) {
                    let _ = write!(line, "/{sub}");
                }
                if let Some(group) = a.group.as_deref().filter(|g| !g.is_empty()) {
                    let _ = write!(line, ".{group}");
                }
                for (label, value) in [
                    ("in", &a.namespace),
                    ("name", &a.name),
                    ("version", &a.version),
                ] {
                    if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                        let _ = write!(line, " {label} {v}");
                    }
                }
                (None, None, None, *disable_cache)
            }
        };
        if let Some(l) = labels {
            let _ = write!(line, " labels={l}");
        }
        if let Some(f) = fields {
            let _ = write!(line, " fields={f}");
        }
        if let Some(m) = masks {
            let m: Vec<&str> = m.iter().map(String::as_str).collect();
            let _ = write!(line, " masks=[{}]", m.join(","));
        }
        if disable_cache {
            line.push_str(" disable_cache");
        }
        line
    }
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

    /// The successful answer as JSON.
    pub fn answer_json(&self) -> Option<Value> {
        self.answer
            .as_ref()
            .ok()
            .and_then(|p| serde_json::from_slice(p).ok())
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
/// SDK's request struct), every field that tells two payloads apart included:
///
/// ```text
/// get_resource <apiVersion>/<kind> [<namespace>/]<name>
/// list_resources_by_namespace <apiVersion>/<kind> <namespace>
/// list_resources_all <apiVersion>/<kind>
/// can_i <verb> <resource>[/<subresource>][.<group>] [in <namespace>] [name <name>] [version <version>]
/// ```
///
/// then, when the payload has them, ` labels=<label selector>`, ` fields=<field selector>`,
/// ` masks=[<mask>,...]` (the field masks, sorted as the SDK sends them; `masks=[]` is an empty
/// list, which differs from none) and ` disable_cache`. For example
/// `get_resource v1/Namespace default`,
/// `get_resource opentelemetry.io/v1alpha1/Instrumentation monitor/python-instrumentation masks=[spec]`,
/// `can_i list instrumentations.opentelemetry.io`. The user and groups of a `can_i` review are
/// not shown: the cluster allows only its own `user`, so a review of anyone else shows as a
/// refusal in the case's outcome. A call outside the `kubernetes` namespace is
/// `<namespace>/<operation>`, and a payload that is not the operation's request struct is
/// `<operation> (payload: <the payload as text>)`.
pub fn call_summary(namespace: &str, operation: &str, payload: &[u8]) -> String {
    if namespace != "kubernetes" {
        return format!("{namespace}/{operation}");
    }
    match read_request(operation, payload) {
        Ok(request) => request.summary(),
        Err(_) => format!(
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
    NotModelled(String),
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
    calls: Mutex<Vec<Call>>,
}

impl ClusterState {
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
                && !KUBERNETES_OPERATIONS.contains(&op.as_str())
            {
                bail!(
                    "fail: operation {op:?} is not one of {}",
                    KUBERNETES_OPERATIONS.join(", ")
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
            "kubernetes" => match self.parse_request(operation, payload) {
                Ok(request) => request,
                Err(message) => return refuse(call, message),
            },
            "oci" | "net" | "crypto" => {
                if !CAPABILITY_LEAVES.contains(&format!("{namespace}/{operation}").as_str()) {
                    return refuse(call, format!("unknown operation: {operation}"));
                }
                call.stage = Stage::NotModelled;
                return refuse(
                    call,
                    format!(
                        "{namespace}/{operation} is not modelled by this test host (only kubernetes/* is)"
                    ),
                );
            }
            _ => return refuse(call, format!("unknown namespace: {namespace}")),
        };
        call.request = Some(request.clone());
        let handled = self.handle(&request);
        let request_yaml = serde_yaml::to_string(&request).expect("a request serialises");
        match handled {
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
            Handled::NotModelled(message) => {
                call.stage = Stage::NotModelled;
                call.answer = Err(message);
            }
        }
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

    /// The callback handler.
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
                field_masks.as_ref(),
            ),
            CallbackRequest::KubernetesListResourceNamespace {
                api_version,
                kind,
                namespace,
                label_selector,
                field_selector,
                field_masks,
            } => self.list(
                api_version,
                kind,
                Some(namespace),
                label_selector.as_deref(),
                field_selector.as_deref(),
                field_masks.as_ref(),
            ),
            CallbackRequest::KubernetesListResourceAll {
                api_version,
                kind,
                label_selector,
                field_selector,
                field_masks,
            } => self.list(
                api_version,
                kind,
                None,
                label_selector.as_deref(),
                field_selector.as_deref(),
                field_masks.as_ref(),
            ),
            CallbackRequest::KubernetesCanI { request, .. } => self.can_i(request),
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
            if !api_version.contains('/')
                && self
                    .served
                    .iter()
                    .any(|s| s.api_version.starts_with(&format!("{api_version}/")))
            {
                return Err(Handled::NotModelled(format!(
                    "error finding resource {api_version} / {kind}: {api_version:?} names a served API group without a version; \
                     the API server answers its group document, which this test host does not model"
                )));
            }
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

    fn get(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        field_masks: Option<&BTreeSet<String>>,
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
                payload: object_json(o, true, &o.metadata, field_masks).into_bytes(),
                caveat: None,
            },
            None => Handled::message(format!(
                "Cannot find {api_version}/{kind} named '{name}' inside of namespace '{namespace:?}'"
            )),
        }
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        field_masks: Option<&BTreeSet<String>>,
    ) -> Handled {
        let served = match self.discover(api_version, kind) {
            Ok(s) => s,
            Err(h) => return h,
        };
        if namespace.is_some() && !served.namespaced {
            return Handled::message(format!(
                "resource {api_version}/{kind} is cluster wide. Cannot search for it inside of a namespace"
            ));
        }
        let (group, plural) = (group_of(api_version), served.plural());
        let rbac_namespace = namespace.unwrap_or("");
        if !self.rbac_allows("list", group, &plural, rbac_namespace, "") {
            let status = self.forbidden("list", group, &plural, rbac_namespace, "");
            return Handled::WaitForever(format!(
                "{} ({WOULD_WAIT_FOREVER}: its watch retries a 403 without end)",
                status.message
            ));
        }
        let labels = match label_selector.map(parse_label_selector).transpose() {
            Ok(l) => l.unwrap_or_default(),
            Err(e) => {
                return Handled::NotModelled(format!(
                    "label selector {:?}: {e} (this test host does not say what the API server makes of it)",
                    label_selector.unwrap_or_default()
                ));
            }
        };
        let fields = match field_selector.map(parse_field_selector).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => {
                return Handled::NotModelled(format!(
                    "field selector {:?}: {e} (this test host does not say what the API server makes of it)",
                    field_selector.unwrap_or_default()
                ));
            }
        };
        if let Some(f) = fields
            .iter()
            .find(|f| f.field != "metadata.name" && f.field != "metadata.namespace")
        {
            if is_built_in_group(group) {
                return Handled::NotModelled(format!(
                    "field selector on {:?} of a built-in kind: not modelled by this test host",
                    f.field
                ));
            }
            return Handled::WaitForever(format!(
                "field label not supported: {} ({WOULD_WAIT_FOREVER}: its watch retries a 400 without end)",
                f.field
            ));
        }
        let with_types = !is_built_in_group(group);
        let items: Vec<String> = self
            .objects
            .iter()
            .filter(|o| o.api_version == api_version && o.kind == kind)
            .filter(|o| namespace.is_none_or(|ns| o.namespace.as_deref() == Some(ns)))
            .filter(|o| labels.iter().all(|r| r.matches(o.metadata.labels.as_ref())))
            .filter(|o| fields.iter().all(|f| f.matches(o)))
            .map(|o| {
                let mut metadata = o.metadata.clone();
                metadata.managed_fields = Some(Vec::new());
                metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .remove("kubectl.kubernetes.io/last-applied-configuration");
                object_json(o, with_types, &metadata, field_masks)
            })
            .collect();
        let payload = format!(
            "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{{}},\"items\":[{}]}}",
            json_string(api_version),
            json_string(&format!("{kind}List")),
            items.join(",")
        );
        let caveat = (!self.rbac_allows("watch", group, &plural, rbac_namespace, "")).then(|| {
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

    fn can_i(&self, review: &SubjectAccessReview) -> Handled {
        let (group, resource) = ("authorization.k8s.io", "subjectaccessreviews");
        if !self.rbac_allows("create", group, resource, "", "") {
            return self.forbidden("create", group, resource, "", "").handled();
        }
        let a = &review.resource_attributes;
        let resource = match a.subresource.as_deref() {
            Some(sub) if !sub.is_empty() => format!("{}/{sub}", a.resource),
            _ => a.resource.clone(),
        };
        let allowed = review.user == self.user
            && self.rbac_allows(
                &a.verb,
                a.group.as_deref().unwrap_or(""),
                &resource,
                a.namespace.as_deref().unwrap_or(""),
                a.name.as_deref().unwrap_or(""),
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

/// A `DynamicObject` as serde_json writes it: `apiVersion` and `kind` (when present), `metadata`
/// (k8s-openapi's ObjectMeta), then the other keys, sorted, after the field masks.
fn object_json(
    o: &Stored,
    with_types: bool,
    metadata: &ObjectMeta,
    field_masks: Option<&BTreeSet<String>>,
) -> String {
    let mut data = Value::Object(o.data.clone());
    if let Some(masks) = field_masks {
        prune(&mut data, &MaskNode::new(masks));
    }
    let mut out = String::from("{");
    if with_types {
        let _ = write!(
            out,
            "\"apiVersion\":{},\"kind\":{},",
            json_string(&o.api_version),
            json_string(&o.kind)
        );
    }
    out.push_str("\"metadata\":");
    out.push_str(&serde_json::to_string(metadata).expect("metadata serialises"));
    if let Value::Object(map) = data {
        for (k, v) in &map {
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

/// A field mask as policy-server builds it: one node per dotted segment.
#[derive(Default)]
struct MaskNode(BTreeMap<String, MaskNode>);

impl MaskNode {
    fn new(paths: &BTreeSet<String>) -> Self {
        let mut root = MaskNode::default();
        for path in paths {
            let mut node = &mut root;
            for part in path.split('.') {
                node = node.0.entry(part.to_owned()).or_default();
            }
        }
        root
    }
}

/// Keep what the mask names; a node without children keeps everything under it; arrays are
/// transparent.
fn prune(value: &mut Value, node: &MaskNode) {
    if node.0.is_empty() {
        return;
    }
    match value {
        Value::Object(map) => map.retain(|k, v| match node.0.get(k) {
            Some(child) => {
                prune(v, child);
                true
            }
            None => false,
        }),
        Value::Array(items) => items.iter_mut().for_each(|v| prune(v, node)),
        _ => {}
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
}

impl LabelRequirement {
    /// Kubernetes' semantics: `!=` and `notin` match objects without the label.
    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        match self {
            LabelRequirement::Exists(k) => get(k).is_some(),
            LabelRequirement::NotExists(k) => get(k).is_none(),
            LabelRequirement::Equals(k, v) => get(k) == Some(v),
            LabelRequirement::NotEquals(k, v) => get(k) != Some(v),
            LabelRequirement::In(k, set) => get(k).is_some_and(|v| set.contains(v)),
            LabelRequirement::NotIn(k, set) => get(k).is_none_or(|v| !set.contains(v)),
        }
    }
}

fn label_token_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
}

fn label_value_ok(s: &str) -> bool {
    s.is_empty() || label_token_ok(s) && !s.contains('/')
}

fn parse_label_selector(selector: &str) -> Result<Vec<LabelRequirement>, String> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced parentheses")?,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    terms.push(&selector[start..]);
    if terms.len() == 1 && terms[0].trim().is_empty() {
        return Ok(Vec::new());
    }
    let key = |k: &str| {
        let k = k.trim();
        if label_token_ok(k) {
            Ok(k.to_owned())
        } else {
            Err(format!("{k:?} is not a label key"))
        }
    };
    let value = |v: &str| {
        let v = v.trim();
        if label_value_ok(v) {
            Ok(v.to_owned())
        } else {
            Err(format!("{v:?} is not a label value"))
        }
    };
    terms
        .into_iter()
        .map(|term| {
            let term = term.trim();
            if let Some(open) = term.find('(') {
                let inner = term[open + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| format!("{term:?}: a set ends with `)`"))?;
                let set = inner
                    .split(',')
                    .map(value)
                    .collect::<Result<BTreeSet<_>, _>>()?;
                let head: Vec<&str> = term[..open].split_whitespace().collect();
                return match head.as_slice() {
                    [k, "in"] => Ok(LabelRequirement::In(key(k)?, set)),
                    [k, "notin"] => Ok(LabelRequirement::NotIn(key(k)?, set)),
                    _ => Err(format!(
                        "{term:?} is not `key in (...)` or `key notin (...)`"
                    )),
                };
            }
            if let Some(k) = term.strip_prefix('!') {
                return Ok(LabelRequirement::NotExists(key(k)?));
            }
            if let Some((k, v)) = term.split_once("!=") {
                return Ok(LabelRequirement::NotEquals(key(k)?, value(v)?));
            }
            if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                return Ok(LabelRequirement::Equals(key(k)?, value(v)?));
            }
            Ok(LabelRequirement::Exists(key(term)?))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    field: String,
    value: String,
    equal: bool,
}

impl FieldRequirement {
    fn matches(&self, o: &Stored) -> bool {
        let actual = match self.field.as_str() {
            "metadata.name" => o.name.as_str(),
            "metadata.namespace" => o.namespace.as_deref().unwrap_or(""),
            _ => return false,
        };
        (actual == self.value) == self.equal
    }
}

fn parse_field_selector(selector: &str) -> Result<Vec<FieldRequirement>, String> {
    if selector.trim().is_empty() {
        return Ok(Vec::new());
    }
    selector
        .split(',')
        .map(|term| {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, v, true)
            } else {
                return Err(format!("{term:?} is not `field=value` or `field!=value`"));
            };
            Ok(FieldRequirement {
                field: field.trim().to_owned(),
                value: value.trim().to_owned(),
                equal,
            })
        })
        .collect()
}

/// The payloads the SDK sends for each `kubernetes/*` call: its own request structs, serialised
/// as it serialises them, for tests that make the calls a policy makes.
pub mod payload {
    use std::collections::BTreeSet;

    use kubewarden_policy_sdk::host_capabilities::kubernetes::{
        CanIRequest, GetResourceRequest, ListAllResourcesRequest, ListResourcesByNamespaceRequest,
        ResourceAttributes, SubjectAccessReview,
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

    pub fn list_ns(
        av: &str,
        kind: &str,
        ns: &str,
        labels: Option<&str>,
        fields: Option<&str>,
        m: Option<&[&str]>,
    ) -> Vec<u8> {
        json(&ListResourcesByNamespaceRequest {
            api_version: av.into(),
            kind: kind.into(),
            namespace: ns.into(),
            label_selector: labels.map(Into::into),
            field_selector: fields.map(Into::into),
            field_masks: masks(m),
        })
    }

    pub fn list_all(
        av: &str,
        kind: &str,
        labels: Option<&str>,
        fields: Option<&str>,
        m: Option<&[&str]>,
    ) -> Vec<u8> {
        json(&ListAllResourcesRequest {
            api_version: av.into(),
            kind: kind.into(),
            label_selector: labels.map(Into::into),
            field_selector: fields.map(Into::into),
            field_masks: masks(m),
        })
    }

    pub fn can_i(user: &str, verb: &str, group: &str, resource: &str, ns: Option<&str>) -> Vec<u8> {
        json(&CanIRequest {
            subject_access_review: SubjectAccessReview {
                groups: None,
                resource_attributes: ResourceAttributes {
                    group: Some(group.into()),
                    name: None,
                    namespace: ns.map(Into::into),
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

    fn cluster(extra: &str) -> ClusterState {
        ClusterState::from_yaml(&format!("{CLUSTER}{extra}")).unwrap()
    }

    use super::payload::{can_i, get};

    fn list_ns(
        av: &str,
        kind: &str,
        ns: &str,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Vec<u8> {
        super::payload::list_ns(av, kind, ns, labels, fields, None)
    }

    fn list_all(av: &str, kind: &str, labels: Option<&str>, m: Option<&[&str]>) -> Vec<u8> {
        super::payload::list_all(av, kind, labels, None, m)
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
                match m["namespace"].as_str() {
                    Some(ns) => format!("{ns}/{}", m["name"].as_str().unwrap()),
                    None => m["name"].as_str().unwrap().to_owned(),
                }
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
        assert_eq!(
            line(
                "get_resource",
                &get(
                    "opentelemetry.io/v1alpha1",
                    "Instrumentation",
                    "python-instrumentation",
                    Some("monitor"),
                    Some(&["spec", "metadata.annotations"])
                )
            ),
            "get_resource opentelemetry.io/v1alpha1/Instrumentation monitor/python-instrumentation masks=[metadata.annotations,spec]"
        );
        assert_eq!(
            line(
                "list_resources_all",
                &list_all(
                    "opentelemetry.io/v1alpha1",
                    "Instrumentation",
                    Some("team=web"),
                    Some(&[])
                )
            ),
            "list_resources_all opentelemetry.io/v1alpha1/Instrumentation labels=team=web masks=[]"
        );
        assert_eq!(
            line(
                "list_resources_by_namespace",
                &list_ns(
                    "apps/v1",
                    "ReplicaSet",
                    "default",
                    None,
                    Some("metadata.name=x")
                )
            ),
            "list_resources_by_namespace apps/v1/ReplicaSet default fields=metadata.name=x"
        );
        assert_eq!(
            line(
                "can_i",
                &can_i(
                    DEFAULT_USER,
                    "list",
                    "opentelemetry.io",
                    "instrumentations",
                    None
                )
            ),
            "can_i list instrumentations.opentelemetry.io"
        );
        assert_eq!(
            line(
                "can_i",
                &can_i(DEFAULT_USER, "get", "", "namespaces", Some("monitor"))
            ),
            "can_i get namespaces in monitor"
        );
        assert_eq!(
            line(
                "get_resource",
                br#"{"api_version":"v1","kind":"Namespace","name":"shop","disable_cache":true}"#
            ),
            "get_resource v1/Namespace shop disable_cache"
        );
        assert_eq!(
            line("get_resource", br#"{"api_version":"v1"}"#),
            r#"get_resource (payload: {"api_version":"v1"})"#
        );
        assert_eq!(call_summary("oci", "v1/verify", b"{}"), "oci/v1/verify");
        // A logged call reads the same, and names the kind it asked for.
        let c = cluster("");
        ok(
            &c,
            "list_resources_all",
            &list_all("v1", "Namespace", None, None),
        );
        assert_eq!(last(&c).summary(), "list_resources_all v1/Namespace");
        assert_eq!(
            last(&c).asked_kind(),
            Some(ApiVersionKind {
                api_version: "v1".into(),
                kind: "Namespace".into()
            })
        );
        // A fresh copy answers alike, with its own empty log.
        let fresh = c.fresh();
        assert!(fresh.calls().is_empty());
        assert_eq!(c.calls().len(), 1);
        assert_eq!(
            ok(
                &fresh,
                "list_resources_all",
                &list_all("v1", "Namespace", None, None)
            ),
            ok(
                &c,
                "list_resources_all",
                &list_all("v1", "Namespace", None, None)
            )
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
        let list = list_ns(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "shop",
            None,
            None,
        );
        assert_eq!(
            err(&c, "list_resources_by_namespace", &list),
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
        // A bare group (no version) is answered with its group document: not modelled.
        err(
            &c,
            "get_resource",
            &get("apps", "Deployment", "d", Some("shop"), None),
        );
        assert_eq!(last(&c).stage, Stage::NotModelled);
    }

    #[test]
    fn field_masks_prune_everything_but_type_and_metadata() {
        let c = cluster("");
        let i = |m: &[&str]| {
            let payload = get(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "python",
                Some("shop"),
                Some(m),
            );
            let v: Value = serde_json::from_str(&ok(&c, "get_resource", &payload)).unwrap();
            assert_eq!(v["kind"], "Instrumentation");
            assert_eq!(v["metadata"]["name"], "python");
            let mut rest = v.as_object().unwrap().clone();
            for k in ["apiVersion", "kind", "metadata"] {
                rest.remove(k);
            }
            Value::Object(rest)
        };
        assert_eq!(
            i(&["spec"]),
            json!({"spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "exporter": {"endpoint": "http://c:4318"}}})
        );
        assert_eq!(
            i(&["spec.exporter.endpoint", "status"]),
            json!({"spec": {"exporter": {"endpoint": "http://c:4318"}}, "status": {}})
        );
        // Arrays are transparent.
        assert_eq!(
            i(&["spec.env.name"]),
            json!({"spec": {"env": [{"name": "A"}, {"name": "B"}]}})
        );
        // An empty mask keeps everything; a metadata path keeps metadata (always) and nothing else.
        assert_eq!(
            i(&[]),
            json!({"spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "exporter": {"endpoint": "http://c:4318"}}, "status": {}})
        );
        assert_eq!(i(&["metadata.annotations"]), json!({}));
        // A Secret without its data.
        let secret = ok(
            &c,
            "get_resource",
            &get("v1", "Secret", "tls", Some("shop"), Some(&["type"])),
        );
        assert_eq!(
            secret,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls","namespace":"shop"},"type":"kubernetes.io/tls"}"#
        );
    }

    #[test]
    fn a_list_is_the_asked_kind_list_with_reflector_items() {
        let c = cluster("");
        let payload = list_ns(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "monitor",
            None,
            None,
        );
        assert_eq!(
            ok(&c, "list_resources_by_namespace", &payload),
            r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"InstrumentationList","metadata":{},"items":[{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation","metadata":{"annotations":{},"managedFields":[],"name":"python","namespace":"monitor"},"spec":{"exporter":{"endpoint":"http://m:4318"}}}]}"#
        );
        // managedFields emptied, last-applied-configuration gone, other annotations kept.
        let shop = ok(
            &c,
            "list_resources_by_namespace",
            &list_ns(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "shop",
                Some("team=web"),
                None,
            ),
        );
        assert!(shop.contains(r#""metadata":{"annotations":{"note":"kept"},"labels":{"team":"web","tier":"front"},"managedFields":[],"name":"python","namespace":"shop"}"#), "{shop}");
        // Built-in kinds are listed without apiVersion and kind on their items.
        assert_eq!(
            ok(
                &c,
                "list_resources_all",
                &list_all("v1", "Namespace", Some("env"), Some(&["status"]))
            ),
            r#"{"apiVersion":"v1","kind":"NamespaceList","metadata":{},"items":[{"metadata":{"annotations":{"instrumentation.opentelemetry.io/inject-python":"true"},"labels":{"env":"prod"},"managedFields":[],"name":"shop"},"status":{"phase":"Active"}}]}"#
        );
        // All namespaces, in namespace/name order; an unknown namespace is an empty list.
        let all = ok(
            &c,
            "list_resources_all",
            &list_all("opentelemetry.io/v1alpha1", "Instrumentation", None, None),
        );
        assert_eq!(names(&all), ["monitor/python", "shop/batch", "shop/python"]);
        let none = ok(
            &c,
            "list_resources_by_namespace",
            &list_ns(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "nowhere",
                None,
                None,
            ),
        );
        assert_eq!(
            none,
            r#"{"apiVersion":"opentelemetry.io/v1alpha1","kind":"InstrumentationList","metadata":{},"items":[]}"#
        );
    }

    #[test]
    fn a_cluster_scoped_kind_cannot_be_listed_by_namespace() {
        let c = cluster("");
        assert_eq!(
            err(
                &c,
                "list_resources_by_namespace",
                &list_ns("v1", "Namespace", "shop", None, None)
            ),
            "Callback evaluation failure: resource v1/Namespace is cluster wide. Cannot search for it inside of a namespace"
        );
    }

    #[test]
    fn label_selectors_select_as_kubernetes_does() {
        let c = cluster("");
        let select = |s: &str| {
            let payload = list_all(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                Some(s),
                None,
            );
            names(&ok(&c, "list_resources_all", &payload))
        };
        assert_eq!(select("team=web"), ["shop/python"]);
        assert_eq!(select("team==data"), ["shop/batch"]);
        assert_eq!(select("team!=web"), ["monitor/python", "shop/batch"]);
        assert_eq!(select("team"), ["shop/batch", "shop/python"]);
        assert_eq!(select("!team"), ["monitor/python"]);
        assert_eq!(select("team in (web, data),tier"), ["shop/python"]);
        assert_eq!(select("team notin (web)"), ["monitor/python", "shop/batch"]);
        assert_eq!(select(""), ["monitor/python", "shop/batch", "shop/python"]);
        let payload = list_all(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            Some("team in (web"),
            None,
        );
        err(&c, "list_resources_all", &payload);
        assert_eq!(last(&c).stage, Stage::NotModelled);
    }

    #[test]
    fn field_selectors_on_name_and_namespace_and_the_400_of_others() {
        let c = cluster("");
        let select = |s: &str| {
            let payload = list_ns(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "shop",
                None,
                Some(s),
            );
            names(&ok(&c, "list_resources_by_namespace", &payload))
        };
        assert_eq!(select("metadata.name=python"), ["shop/python"]);
        assert_eq!(
            select("metadata.name!=python,metadata.namespace==shop"),
            ["shop/batch"]
        );
        let payload = list_ns(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "shop",
            None,
            Some("spec.x=1"),
        );
        let e = err(&c, "list_resources_by_namespace", &payload);
        assert_eq!(
            e,
            format!(
                "field label not supported: spec.x ({WOULD_WAIT_FOREVER}: its watch retries a 400 without end)"
            )
        );
        assert_eq!(last(&c).stage, Stage::WouldWaitForever);
        // Built-in kinds have more fields; which ones is not modelled.
        err(
            &c,
            "list_resources_by_namespace",
            &list_ns("v1", "Secret", "shop", None, Some("type=x")),
        );
        assert_eq!(last(&c).stage, Stage::NotModelled);
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
            err(
                &c,
                "list_resources_all",
                &list_all("opentelemetry.io/v1alpha1", "Instrumentation", None, None)
            ),
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
        ok(
            &c,
            "can_i",
            &can_i(DEFAULT_USER, "get", "", "secrets", Some("shop")),
        );
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
            br#"{"api_version":"v1","kind":"Namespace","name":"shop","disable_cache":true}"#,
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
        let c = cluster(
            "rbac:\n  - {verbs: [get, list], apiGroups: [''], resources: [namespaces]}\n  - {verbs: [list, watch], apiGroups: ['*'], resources: ['*'], namespaces: [monitor]}\n",
        );
        let payload = list_ns(
            "opentelemetry.io/v1alpha1",
            "Instrumentation",
            "shop",
            None,
            None,
        );
        assert_eq!(
            err(&c, "list_resources_by_namespace", &payload),
            format!(
                "instrumentations.opentelemetry.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot list resource \"instrumentations\" in API group \"opentelemetry.io\" in the namespace \"shop\" ({WOULD_WAIT_FOREVER}: its watch retries a 403 without end)"
            )
        );
        assert_eq!(last(&c).stage, Stage::WouldWaitForever);
        let e = c.session_yaml().unwrap_err().to_string();
        assert!(e.contains("no faithful recording"), "{e}");
        // A RoleBinding's namespace does not reach the cluster scope.
        let all = list_all("opentelemetry.io/v1alpha1", "Instrumentation", None, None);
        err(&c, "list_resources_all", &all);
        assert!(last(&c).answer_text().contains("at the cluster scope"));
        ok(
            &c,
            "list_resources_by_namespace",
            &list_ns(
                "opentelemetry.io/v1alpha1",
                "Instrumentation",
                "monitor",
                None,
                None,
            ),
        );
        assert_eq!(last(&c).caveat, None);
        ok(
            &c,
            "list_resources_all",
            &list_all("v1", "Namespace", None, None),
        );
        let caveat = last(&c).caveat.unwrap();
        assert!(
            caveat.contains("may list but not watch namespaces"),
            "{caveat}"
        );
    }

    #[test]
    fn can_i_answers_from_rbac_for_the_service_account_only() {
        let c = cluster(
            "rbac:\n  - {verbs: [create], apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews]}\n  - {verbs: [list, watch], apiGroups: [opentelemetry.io], resources: [instrumentations]}\n  - {verbs: [get], apiGroups: [''], resources: [pods/log]}\n",
        );
        let ask = |user: &str, verb: &str, group: &str, resource: &str| {
            ok(
                &c,
                "can_i",
                &can_i(user, verb, group, resource, Some("shop")),
            )
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
        assert_eq!(
            ask(DEFAULT_USER, "get", "", "pods/log"),
            r#"{"allowed":true}"#
        );
        // Without the right to create SubjectAccessReviews, the review itself is refused.
        let c =
            cluster("rbac: [{verbs: ['*'], apiGroups: [opentelemetry.io], resources: ['*']}]\n");
        assert_eq!(
            err(
                &c,
                "can_i",
                &can_i(
                    DEFAULT_USER,
                    "list",
                    "opentelemetry.io",
                    "instrumentations",
                    None
                )
            ),
            "Callback evaluation failure: ApiError: subjectaccessreviews.authorization.k8s.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope: Forbidden (Status { status: Some(Failure), code: 403, message: \"subjectaccessreviews.authorization.k8s.io is forbidden: User \\\"system:serviceaccount:kubewarden:policy-server\\\" cannot create resource \\\"subjectaccessreviews\\\" in API group \\\"authorization.k8s.io\\\" at the cluster scope\", metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None }), reason: \"Forbidden\", details: Some(StatusDetails { name: \"\", group: \"authorization.k8s.io\", kind: \"subjectaccessreviews\", uid: \"\", causes: [], retry_after_seconds: 0 }) })\n\nCaused by:\n    subjectaccessreviews.authorization.k8s.io is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope: Forbidden"
        );
        // The default RBAC allows everything, to the service account.
        let c = cluster("user: system:serviceaccount:kw:ps\n");
        assert_eq!(
            ok(
                &c,
                "can_i",
                &can_i("system:serviceaccount:kw:ps", "delete", "", "secrets", None)
            ),
            r#"{"allowed":true}"#
        );
        assert_eq!(
            ok(
                &c,
                "can_i",
                &can_i(DEFAULT_USER, "delete", "", "secrets", None)
            ),
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
        ok(
            &c,
            "list_resources_all",
            &list_all("v1", "Namespace", None, None),
        );
        assert_eq!(
            err(&c, "can_i", &can_i(DEFAULT_USER, "get", "", "pods", None)),
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
            &get(
                "v1",
                "Namespace",
                "monitor",
                None,
                Some(&["status", "spec"]),
            ),
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
            &can_i(
                DEFAULT_USER,
                "list",
                "opentelemetry.io",
                "instrumentations",
                Some("shop"),
            ),
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
    - status
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
        namespace: shop
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
