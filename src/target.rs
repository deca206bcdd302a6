//! Where the pod metadata and pod spec sit in an admitted object, as JSON pointers into the
//! original JSON: a Pod's root, a workload's pod template. Everything below `admission` reads and
//! writes through a target, so nothing there assumes that the object is a Pod.

/// The places of a pod (template) inside an object of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The object's kind, as messages name it.
    pub kind: &'static str,
    /// JSON pointer to the pod metadata (`/metadata` for a Pod).
    pub metadata: &'static str,
    /// JSON pointer to the pod spec (`/spec` for a Pod).
    pub spec: &'static str,
}

impl Target {
    /// A Pod: the object itself.
    pub const POD: Target = Target {
        kind: "Pod",
        metadata: "/metadata",
        spec: "/spec",
    };
}
