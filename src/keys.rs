//! The names the policy reads things by: annotation keys, option names, Kubernetes kinds.
//!
//! The annotation keys are the operator's (`annotation.go`); the kinds carry the names RBAC rules
//! and `contextAwareResources` use. Messages, parsers and `policy.yaml` take them from
//! here, so a name is written once.

use crate::operator::{INSTRUMENTATION_API_VERSION, INSTRUMENTATION_KIND};

// ---- annotations -----------------------------------------------------------------------------

/// Asks for Python instrumentation: `true`, `NAME`, `NAMESPACE/NAME` or `false`.
pub const INJECT_PYTHON: &str = "instrumentation.opentelemetry.io/inject-python";
/// The containers to instrument, for every language (comma-separated names).
pub const CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/container-names";
/// The containers to instrument with Python (comma-separated names).
pub const PYTHON_CONTAINER_NAMES: &str = "instrumentation.opentelemetry.io/python-container-names";
/// The C library of the app's image: `glibc` (the default) or `musl`.
pub const PYTHON_PLATFORM: &str = "instrumentation.opentelemetry.io/otel-python-platform";
/// Prefix of the annotations that become resource attributes.
pub const RESOURCE_PREFIX: &str = "resource.opentelemetry.io/";
/// Overrides the service name.
pub const SERVICE_NAME: &str = "resource.opentelemetry.io/service.name";
/// Overrides the service version.
pub const SERVICE_VERSION: &str = "resource.opentelemetry.io/service.version";
/// Overrides the service namespace.
pub const SERVICE_NAMESPACE: &str = "resource.opentelemetry.io/service.namespace";
/// Overrides the service instance id.
pub const SERVICE_INSTANCE_ID: &str = "resource.opentelemetry.io/service.instance.id";

/// This policy's own per-pod opt-out of some of its compatibility checks (comma-separated
/// check names; see `crate::checks`).
pub const SKIP_CHECKS: &str = "otel-python.kubewarden.io/skip-checks";

/// What every language's inject annotation starts with: the language's name follows.
pub const INJECT_PREFIX: &str = "instrumentation.opentelemetry.io/inject-";

/// The other languages' inject annotations, in the operator's order. When one of them is on, the
/// operator needs container names to tell the languages' containers apart.
pub const INJECT_OTHER_LANGUAGES: [&str; 7] = [
    "instrumentation.opentelemetry.io/inject-java",
    "instrumentation.opentelemetry.io/inject-nodejs",
    "instrumentation.opentelemetry.io/inject-dotnet",
    "instrumentation.opentelemetry.io/inject-go",
    "instrumentation.opentelemetry.io/inject-apache-httpd",
    "instrumentation.opentelemetry.io/inject-nginx",
    "instrumentation.opentelemetry.io/inject-sdk",
];

/// The cluster autoscaler's list of a pod's local volumes it may delete when it drains the pod's
/// node (comma-separated volume names); without it, an `emptyDir` keeps the node from scaling down.
pub const SAFE_TO_EVICT_LOCAL_VOLUMES: &str =
    "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";

// ---- the record the policy keeps on the pods it handles -------------------------------------------

/// The prefix of the record's annotations: the policy's own (its project's GitHub Pages domain),
/// apart from the operator's `instrumentation.opentelemetry.io/` that users write.
pub const RECORD_PREFIX: &str = "otel-python-policy.github.io/";
/// `"true"`: the policy injected the pod; `"false"`: the pod asked and was admitted without it.
pub const RECORD_INJECTED: &str = "otel-python-policy.github.io/injected";
/// The instrumentation injected: `namespace/name`, or `(default)` for the settings' top-level spec.
pub const RECORD_INSTRUMENTATION: &str = "otel-python-policy.github.io/instrumentation";
/// Its version: `<uid>/<generation>` of a cluster object, `spec:<digest>` of a spec in the settings.
pub const RECORD_VERSION: &str = "otel-python-policy.github.io/version";
/// The digest of what the injection wrote into the pod spec.
pub const RECORD_HASH: &str = "otel-python-policy.github.io/hash";
/// The image the packages were copied from.
pub const RECORD_IMAGE: &str = "otel-python-policy.github.io/image";
/// The instrumented containers, comma-separated, in the order they were instrumented.
pub const RECORD_CONTAINERS: &str = "otel-python-policy.github.io/containers";
/// Why a pod that asked was admitted without instrumentation (`failureAction: admit`), one line.
pub const RECORD_REASON: &str = "otel-python-policy.github.io/reason";
/// Every key of the record: a record is written whole, so that none is left from an older one.
pub const RECORD_KEYS: [&str; 7] = [
    RECORD_INJECTED,
    RECORD_INSTRUMENTATION,
    RECORD_VERSION,
    RECORD_HASH,
    RECORD_IMAGE,
    RECORD_CONTAINERS,
    RECORD_REASON,
];

/// An inject annotation value that asks for nothing: absent, empty or `false` (any case).
pub fn is_off(value: &str) -> bool {
    value.is_empty() || value.eq_ignore_ascii_case("false")
}

// ---- the policy's settings options ---------------------------------------------------------------

/// Whole Instrumentation objects, by namespace and name.
pub const OPT_INSTRUMENTATIONS: &str = "instrumentations";
/// What a pod that cannot be instrumented gets: `reject` or `admit`.
pub const OPT_FAILURE_ACTION: &str = "failureAction";
/// Whether `NAMESPACE/NAME` may name another namespace's instrumentation.
pub const OPT_ALLOW_CROSS_NAMESPACE: &str = "allowCrossNamespaceReferences";
/// Where instrumentations come from: `settings` or `cluster`.
pub const OPT_INSTRUMENTATION_SOURCE: &str = "instrumentationSource";
/// The PolicyServer's ServiceAccount, for the RBAC checks of cluster mode.
pub const OPT_SERVICE_ACCOUNT: &str = "policyServerServiceAccount";
/// Whether each pod checks its interpreter and packages before the app starts: `off`, `disable`
/// or `fail`.
pub const OPT_PREFLIGHT: &str = "preflight";
/// Image prefixes rewritten to a mirror: `[{from, to}]`.
pub const OPT_IMAGE_REWRITES: &str = "imageRewrites";
/// Pull secrets added to every instrumented pod.
pub const OPT_IMAGE_PULL_SECRETS: &str = "imagePullSecrets";
/// Whether the Python image is pinned to a digest: `off`, `resolve` or `require`.
pub const OPT_PIN_IMAGE_DIGEST: &str = "pinImageDigest";
/// How the packages reach the containers: `initContainer` or `imageVolume`.
pub const OPT_DELIVERY: &str = "delivery";
/// Whether the packages' `emptyDir` is added to the cluster autoscaler's safe-to-evict list.
pub const OPT_AUTOSCALER_SAFE_TO_EVICT: &str = "autoscalerSafeToEvict";
/// The audit role: never patch, report pods whose instrumentation is missing or stale.
pub const OPT_AUDIT: &str = "audit";
/// Whether the policy reads each instrumented container's image configuration (its `ENV`) from
/// the registry, to keep the image's `PYTHONPATH` and check its `PYTHON_VERSION`.
pub const OPT_INSPECT_APP_IMAGES: &str = "inspectAppImages";
/// Every option, in the order messages list them.
pub const OPTIONS: [&str; 13] = [
    OPT_INSTRUMENTATIONS,
    OPT_FAILURE_ACTION,
    OPT_ALLOW_CROSS_NAMESPACE,
    OPT_INSTRUMENTATION_SOURCE,
    OPT_SERVICE_ACCOUNT,
    OPT_PREFLIGHT,
    OPT_IMAGE_REWRITES,
    OPT_IMAGE_PULL_SECRETS,
    OPT_PIN_IMAGE_DIGEST,
    OPT_DELIVERY,
    OPT_AUTOSCALER_SAFE_TO_EVICT,
    OPT_AUDIT,
    OPT_INSPECT_APP_IMAGES,
];

/// The PolicyServer's ServiceAccount in a default Kubewarden install (`namespace/name`).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "kubewarden/policy-server";

// ---- Kubernetes kinds ------------------------------------------------------------------------------

/// A kind the policy reads, with the names RBAC and `contextAwareResources` use.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// `group/version`, or `v1` for the core group.
    pub api_version: &'static str,
    /// The kind, as objects name it.
    pub kind: &'static str,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The resource (plural) RBAC rules name.
    pub resource: &'static str,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// The OpenTelemetry Operator's Instrumentation.
pub const INSTRUMENTATION: Kind = Kind {
    api_version: INSTRUMENTATION_API_VERSION,
    kind: INSTRUMENTATION_KIND,
    group: "opentelemetry.io",
    resource: "instrumentations",
    namespaced: true,
};
/// A Namespace, whose annotations a pod inherits in cluster mode.
pub const NAMESPACE: Kind = Kind {
    api_version: "v1",
    kind: "Namespace",
    group: "",
    resource: "namespaces",
    namespaced: false,
};
/// A pod's ReplicaSet, whose owner names a Deployment's pods.
pub const REPLICA_SET: Kind = Kind {
    api_version: "apps/v1",
    kind: "ReplicaSet",
    group: "apps",
    resource: "replicasets",
    namespaced: true,
};
/// A pod's Job, whose owner names a CronJob's pods.
pub const JOB: Kind = Kind {
    api_version: "batch/v1",
    kind: "Job",
    group: "batch",
    resource: "jobs",
    namespaced: true,
};

/// What `can_i` creates: the PolicyServer's ServiceAccount needs `create` on it (Kubewarden's
/// defaults grant it), not a `contextAwareResources` entry.
pub const SUBJECT_ACCESS_REVIEW: Kind = Kind {
    api_version: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    group: "authorization.k8s.io",
    resource: "subjectaccessreviews",
    namespaced: false,
};

/// Every kind cluster mode reads: what `contextAwareResources` must list.
pub const KINDS: [&Kind; 4] = [&INSTRUMENTATION, &NAMESPACE, &REPLICA_SET, &JOB];
