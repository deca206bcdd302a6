//! The `kubernetes/*` host calls: their payloads, their order, their answers and failures.
//!
//! Which `kubernetes/*` host calls the policy makes (`get_resource`, `list_resources_all`,
//! `can_i`), with which payloads (the SDK's request structs, field for field: kwctl replays a
//! session only when they match), and what their answers and failures mean. Each is one
//! [`super::Cluster::call`].
//!
//! The calls, and how policy-server answers them (policy-evaluator 0.32):
//! - `get_resource`: served from a 5-second cache of successful answers, else one GET to the API
//!   server; a 403 or a 404 comes back at once. Used for the Namespace, a named Instrumentation,
//!   a ReplicaSet or Job owner.
//! - `list_resources_all`: served from a watch cache (one permanent watch of all Instrumentations,
//!   whatever the number of namespaces). Its first call waits for the initial list, and when the
//!   ServiceAccount may not list or watch the kind, that wait never ends. So before it the policy
//!   asks `can_i` (a SubjectAccessReview, 5-second cache) for `list` and `watch`, and refuses with
//!   the missing RBAC rule instead of hanging.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Cluster;
use crate::catalog::Revision;
use crate::keys::{Kind, NAMESPACE, SUBJECT_ACCESS_REVIEW};
use crate::pod::Owner;
use crate::refusal::{Failure, LookupFailure};

/// The host's message, classified. `Ok(())`: the object does not exist.
fn classify(message: &str, verb: &'static str, operation: &str) -> Result<(), Failure> {
    if message.contains("Cannot find ") && message.contains(" named '") {
        return Ok(());
    }
    Err(
        if message.contains("has not been granted access to Kubernetes") {
            Failure::NotGranted
        } else if message.contains("has not been granted access to the '") {
            Failure::CapabilityDenied {
                capability: format!("kubernetes/{operation}"),
            }
        } else if message.contains("error finding resource")
            || message.contains("Cannot find resource")
        {
            Failure::NotServed
        } else if message.contains(" is forbidden: ") || message.contains("Forbidden (Status") {
            Failure::Forbidden { verb }
        } else {
            Failure::Transient {
                message: message.to_string(),
            }
        },
    )
}

#[derive(Serialize)]
struct GetRequest<'a> {
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
    disable_cache: bool,
    field_masks: Option<[&'a str; 1]>,
}

#[derive(Serialize)]
struct ListAllRequest<'a> {
    api_version: &'a str,
    kind: &'a str,
    label_selector: Option<&'a str>,
    field_selector: Option<&'a str>,
    field_masks: Option<[&'a str; 1]>,
}

#[derive(Serialize)]
struct CanIRequest<'a> {
    subject_access_review: AccessReview<'a>,
    disable_cache: bool,
}

#[derive(Serialize)]
struct AccessReview<'a> {
    groups: Option<()>,
    resource_attributes: ResourceAttributes<'a>,
    user: String,
}

#[derive(Serialize)]
struct ResourceAttributes<'a> {
    group: Option<&'a str>,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
    resource: &'a str,
    subresource: Option<&'a str>,
    verb: &'a str,
    version: Option<&'a str>,
}

#[derive(Deserialize)]
struct AccessStatus {
    #[serde(default)]
    allowed: bool,
}

/// A listed object: its name, namespace, revision and spec text.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid and generation (`None` when the answer lacks either).
    pub revision: Option<Revision>,
    /// Its spec as the host sent it (`None`: absent).
    pub spec: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(default)]
    items: Option<Vec<ListedObject>>,
}

#[derive(Deserialize)]
struct ListedObject {
    #[serde(default)]
    metadata: ObjectName,
    #[serde(default)]
    spec: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
struct ObjectName {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
}

/// The metadata fields of an object's revision; the host never masks metadata, so every answer
/// has them.
#[derive(Deserialize, Default, Debug)]
pub struct RevisionMeta {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
}

impl RevisionMeta {
    /// The revision, when the metadata has both fields.
    pub fn revision(self) -> Option<Revision> {
        revision(self.uid, self.generation)
    }
}

fn revision(uid: Option<String>, generation: Option<i64>) -> Option<Revision> {
    Some(Revision {
        uid: uid.filter(|u| !u.is_empty())?,
        generation: generation?,
    })
}

/// The lookups of one admission, through `cluster`, as the ServiceAccount `service_account`
/// (`namespace/name`) for the RBAC checks.
pub struct Lookups<'c> {
    /// Who answers.
    pub cluster: &'c dyn Cluster,
    /// The PolicyServer's ServiceAccount (`namespace/name`).
    pub service_account: String,
}

impl Lookups<'_> {
    fn failure(
        &self,
        kind: &'static Kind,
        object: String,
        verb: &'static str,
        failure: Failure,
    ) -> LookupFailure {
        LookupFailure {
            kind,
            object,
            verb,
            failure,
            service_account: self.service_account.clone(),
        }
    }

    /// The object `name` (in `namespace` for a namespaced kind) as JSON text, `None` when it
    /// does not exist. `spec_only` masks everything but `spec` (the host never masks metadata).
    pub fn get(
        &self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        spec_only: bool,
    ) -> Result<Option<String>, LookupFailure> {
        let namespace = kind.namespaced.then_some(namespace);
        let request = GetRequest {
            api_version: kind.api_version,
            kind: kind.kind,
            name,
            namespace,
            disable_cache: false,
            field_masks: spec_only.then_some(["spec"]),
        };
        let object = object_name(kind, namespace.unwrap_or_default(), name);
        let payload = serde_json::to_string(&request).unwrap_or_default();
        match self.cluster.call("get_resource", payload.as_bytes()) {
            Ok(answer) => String::from_utf8(answer)
                .map(Some)
                .map_err(|e| self.unreadable(kind, object, "get", e)),
            Err(message) => match classify(&message, "get", "get_resource") {
                Ok(()) => Ok(None),
                Err(failure) => Err(self.failure(kind, object, "get", failure)),
            },
        }
    }

    /// Whether the ServiceAccount may `verb` the kind in every namespace.
    fn can_i(&self, kind: &'static Kind, verb: &'static str) -> Result<bool, LookupFailure> {
        let (sa_namespace, sa_name) = self
            .service_account
            .split_once('/')
            .unwrap_or(("", &self.service_account));
        let request = CanIRequest {
            subject_access_review: AccessReview {
                groups: None,
                resource_attributes: ResourceAttributes {
                    group: Some(kind.group),
                    name: None,
                    namespace: None,
                    resource: kind.resource,
                    subresource: None,
                    verb,
                    version: None,
                },
                user: format!("system:serviceaccount:{sa_namespace}:{sa_name}"),
            },
            disable_cache: false,
        };
        let payload = serde_json::to_string(&request).unwrap_or_default();
        let answer = self
            .cluster
            .call("can_i", payload.as_bytes())
            .map_err(|message| match classify(&message, "create", "can_i") {
                // The review itself is refused: the rule missing is `create` on reviews.
                Err(failure @ Failure::Forbidden { .. }) => {
                    self.failure(&SUBJECT_ACCESS_REVIEW, String::new(), "create", failure)
                }
                Err(failure) => self.failure(kind, String::new(), verb, failure),
                Ok(()) => self.failure(kind, String::new(), verb, Failure::Transient { message }),
            })?;
        match serde_json::from_str::<AccessStatus>(&String::from_utf8_lossy(&answer)) {
            Ok(status) => Ok(status.allowed),
            Err(e) => Err(self.unreadable(kind, String::new(), verb, e)),
        }
    }

    /// Every object of a namespaced kind in the cluster, specs only, after checking that the
    /// list cannot hang (see the module documentation).
    pub fn list_all(&self, kind: &'static Kind) -> Result<Vec<Listed>, LookupFailure> {
        for verb in ["list", "watch"] {
            if !self.can_i(kind, verb)? {
                return Err(self.failure(kind, String::new(), verb, Failure::Forbidden { verb }));
            }
        }
        let request = ListAllRequest {
            api_version: kind.api_version,
            kind: kind.kind,
            label_selector: None,
            field_selector: None,
            field_masks: Some(["spec"]),
        };
        let payload = serde_json::to_string(&request).unwrap_or_default();
        let answer = self
            .cluster
            .call("list_resources_all", payload.as_bytes())
            .map_err(|message| {
                let failure = match classify(&message, "list", "list_resources_all") {
                    Err(failure) => failure,
                    Ok(()) => Failure::Transient { message },
                };
                self.failure(kind, String::new(), "list", failure)
            })?;
        let list: ListAnswer = serde_json::from_str(&String::from_utf8_lossy(&answer))
            .map_err(|e| self.unreadable(kind, String::new(), "list", e))?;
        // In the host's order (a watch cache's, not stable): the catalog sorts what it shows.
        let items: Vec<Listed> = list
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                Some(Listed {
                    namespace: o.metadata.namespace?,
                    name: o.metadata.name?,
                    revision: revision(o.metadata.uid, o.metadata.generation),
                    spec: o.spec,
                })
            })
            .collect();
        Ok(items)
    }

    /// The annotations of the Namespace `name` (none when it does not exist).
    pub fn namespace_annotations(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, LookupFailure> {
        let metadata = self.metadata(&NAMESPACE, "", name)?;
        Ok(metadata.and_then(|m| m.annotations).unwrap_or_default())
    }

    /// The controller owner of the object `kind` `namespace/name` (its kind and name), if it has
    /// one; `None` too when the object does not exist.
    pub fn controller_of(
        &self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Owner>, LookupFailure> {
        let metadata = self.metadata(kind, namespace, name)?;
        Ok(metadata
            .and_then(|m| m.owner_references)
            .unwrap_or_default()
            .into_iter()
            .find(|o| o.controller == Some(true)))
    }

    /// The metadata of an object the policy reads (`None`: it does not exist).
    fn metadata(
        &self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Metadata>, LookupFailure> {
        let Some(answer) = self.get(kind, namespace, name, false)? else {
            return Ok(None);
        };
        let object: WithMetadata = serde_json::from_str(&answer)
            .map_err(|e| self.unreadable(kind, object_name(kind, namespace, name), "get", e))?;
        Ok(Some(object.metadata))
    }

    /// A host answer that cannot be read: a transient failure (the host answered for `object`).
    pub fn unreadable(
        &self,
        kind: &'static Kind,
        object: String,
        verb: &'static str,
        error: impl std::fmt::Display,
    ) -> LookupFailure {
        let message = format!("the host's answer cannot be read: {error}");
        self.failure(kind, object, verb, Failure::Transient { message })
    }
}

/// How messages name an object: `namespace/name`, or `name` for a cluster-scoped kind.
fn object_name(kind: &Kind, namespace: &str, name: &str) -> String {
    if kind.namespaced {
        format!("{namespace}/{name}")
    } else {
        name.to_string()
    }
}

#[derive(Deserialize, Default)]
struct WithMetadata {
    #[serde(default)]
    metadata: Metadata,
}

/// What the policy reads of a Namespace, ReplicaSet or Job.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    owner_references: Option<Vec<Owner>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{DEFAULT_SERVICE_ACCOUNT, INSTRUMENTATION, REPLICA_SET};

    #[test]
    fn host_messages_are_classified() {
        let c = |m: &str| classify(m, "get", "get_resource");
        assert_eq!(
            c(
                "Callback evaluation failure: Cannot find opentelemetry.io/v1alpha1/Instrumentation named 'x' inside of namespace 'Some(\"a\")'"
            ),
            Ok(())
        );
        assert_eq!(
            c(
                "Policy has not been granted access to Kubernetes opentelemetry.io/v1alpha1/Instrumentation resources. The violation has been reported."
            ),
            Err(Failure::NotGranted)
        );
        assert_eq!(
            c(
                "Policy has not been granted access to the 'kubernetes/get_resource' host capability. The violation has been reported."
            ),
            Err(Failure::CapabilityDenied {
                capability: "kubernetes/get_resource".into()
            })
        );
        assert_eq!(
            c(
                "Callback evaluation failure: error finding resource opentelemetry.io/v1alpha1 / Instrumentation: ApiError: 404 page not found"
            ),
            Err(Failure::NotServed)
        );
        assert_eq!(
            c(
                "Callback evaluation failure: Cannot find resource opentelemetry.io/v1alpha1/Instrumentation"
            ),
            Err(Failure::NotServed)
        );
        assert_eq!(
            c(
                "Callback evaluation failure: ApiError: namespaces \"x\" is forbidden: User \"u\" cannot get resource"
            ),
            Err(Failure::Forbidden { verb: "get" })
        );
        assert_eq!(
            c("Callback evaluation failure: connection refused"),
            Err(Failure::Transient {
                message: "Callback evaluation failure: connection refused".into()
            })
        );
    }

    struct Recorder(
        std::cell::RefCell<Vec<(String, String)>>,
        Result<Vec<u8>, String>,
    );
    impl Cluster for Recorder {
        fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            let payload = String::from_utf8_lossy(payload).into_owned();
            self.0.borrow_mut().push((operation.to_string(), payload));
            self.1.clone()
        }
    }

    /// The payloads are the SDK's request structs, field for field: kwctl's replay compares them.
    #[test]
    fn payloads_are_the_sdk_requests() {
        let rec = Recorder(Default::default(), Ok(br#"{"allowed":true}"#.to_vec()));
        let lookups = Lookups {
            cluster: &rec,
            service_account: DEFAULT_SERVICE_ACCOUNT.into(),
        };
        lookups.get(&NAMESPACE, "ignored", "shop", false).unwrap();
        lookups.get(&INSTRUMENTATION, "shop", "py", true).unwrap();
        let _ = lookups.list_all(&INSTRUMENTATION);
        let calls = rec.0.borrow();
        assert_eq!(
            calls[0],
            (
                "get_resource".into(),
                r#"{"api_version":"v1","kind":"Namespace","name":"shop","namespace":null,"disable_cache":false,"field_masks":null}"#.into()
            )
        );
        assert_eq!(
            calls[1].1,
            r#"{"api_version":"opentelemetry.io/v1alpha1","kind":"Instrumentation","name":"py","namespace":"shop","disable_cache":false,"field_masks":["spec"]}"#
        );
        assert_eq!(
            calls[2],
            (
                "can_i".into(),
                r#"{"subject_access_review":{"groups":null,"resource_attributes":{"group":"opentelemetry.io","name":null,"namespace":null,"resource":"instrumentations","subresource":null,"verb":"list","version":null},"user":"system:serviceaccount:kubewarden:policy-server"},"disable_cache":false}"#.into()
            )
        );
        assert_eq!(calls[3].0, "can_i");
        assert_eq!(
            calls[4],
            (
                "list_resources_all".into(),
                r#"{"api_version":"opentelemetry.io/v1alpha1","kind":"Instrumentation","label_selector":null,"field_selector":null,"field_masks":["spec"]}"#.into()
            )
        );
    }

    #[test]
    fn a_denied_list_is_never_made() {
        let rec = Recorder(Default::default(), Ok(br#"{"allowed":false}"#.to_vec()));
        let lookups = Lookups {
            cluster: &rec,
            service_account: "kw/ps".into(),
        };
        let e = lookups.list_all(&INSTRUMENTATION).unwrap_err();
        assert_eq!(e.failure, Failure::Forbidden { verb: "list" });
        assert_eq!(rec.0.borrow().len(), 1);
        assert!(rec.0.borrow()[0].1.contains("system:serviceaccount:kw:ps"));
    }

    /// Whatever the host answers, a lookup gives an answer or a transient failure, never a panic.
    #[test]
    fn unreadable_answers_are_transient_failures() {
        struct Garbage(&'static [u8]);
        impl Cluster for Garbage {
            fn call(&self, operation: &str, _: &[u8]) -> Result<Vec<u8>, String> {
                match operation {
                    "can_i" => Ok(br#"{"allowed":true}"#.to_vec()),
                    _ => Ok(self.0.to_vec()),
                }
            }
        }
        for (answer, readable) in [
            (&b"not json"[..], false),
            (b"\xff\xfe", false),
            (b"", false),
            // JSON of another shape: read as what it has (no items, no annotations, no owners).
            (b"[]", true),
            (br#"{"items": 3}"#, false),
        ] {
            let cluster = Garbage(answer);
            let lookups = Lookups {
                cluster: &cluster,
                service_account: DEFAULT_SERVICE_ACCOUNT.into(),
            };
            let transient = |f: LookupFailure| matches!(f.failure, Failure::Transient { .. });
            let shown = String::from_utf8_lossy(answer);
            let list = lookups.list_all(&INSTRUMENTATION);
            assert!(list.map_or_else(transient, |_| readable), "{shown}");
            if !readable && answer != br#"{"items": 3}"# {
                assert!(
                    lookups.namespace_annotations("shop").is_err_and(transient),
                    "{shown}"
                );
                let owner = lookups.controller_of(&REPLICA_SET, "shop", "rs");
                assert!(owner.is_err_and(transient), "{shown}");
            }
        }
    }
}
