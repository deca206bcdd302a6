//! The text formats the policy reads, each checked as its owner checks it.
//!
//! Kubernetes names, OCI image references, resource quantities, exporter URLs, and JSON text read in place (the
//! value at a path, an object's members) without building a document. Leaves: nothing here
//! knows about pods or instrumentations.

pub mod ascii;
pub mod image_ref;
pub mod json_text;
pub mod k8s_names;
pub mod quantity;
pub mod url;
