//! Workloads: their pod template checked as their pods will be, and previewed, never patched.
//!
//! Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
//! ReplicationController): their pod template is checked as the pods it makes will be, so that a
//! bad reference is refused at `kubectl apply`, and what those pods will get is shown. Nothing here
//! writes to the object.

use super::object::Head;
use crate::image::{Delivery, ImageOptions, Prepared};
use crate::inject::{Checked, Packages};
use crate::keys::is_off;
use crate::operator::{MUSL_SOURCE, PLATFORM_GLIBC, PLATFORM_MUSL};
use crate::pod::{Owner, PodView};
use crate::refusal::{Notice, Subject};
use crate::target::Target;

/// Objects that are not checked: made by a controller whose own object was checked (a
/// Deployment's ReplicaSet, a CronJob's Job), or being deleted (an UPDATE that only removes
/// finalizers must never be refused).
pub fn exempt(head: &Head, target: &Target) -> bool {
    let meta = &head.metadata;
    (target.skip_when_controlled && meta.controlled) || meta.deleting
}

/// The annotation on the workload's own metadata, where the operator never reads it.
pub fn misplaced_annotation(head: &Head, target: &Target, namespace: &str) -> Option<Notice> {
    let value = head.metadata.inject.as_deref()?;
    (!is_off(value)).then(|| Notice::MisplacedAnnotation {
        subject: Subject::Workload {
            kind: target.kind,
            namespace: namespace.to_string(),
            name: head.display_name(),
            template: target.template_path(),
        },
        value: value.to_string(),
    })
}

/// The pod the workload's controller will create from the template: the template's metadata
/// with the namespace and the owner the pod will have, so that the same planning code computes
/// the same service name and attributes. A Deployment's ReplicaSet is named
/// `<deployment>-<hash>` with the `pod-template-hash` label; a CronJob's Job
/// `<cronjob>-<time>`.
pub fn pod_of(mut template: PodView, target: &Target, name: &str, namespace: &str) -> PodView {
    let suffix = match target.kind {
        "Deployment" => {
            template
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("pod-template-hash".into(), "<hash>".into());
            "-<hash>"
        }
        "CronJob" => "-<time>",
        _ => "",
    };
    let owner = [name, suffix].concat();
    template.metadata.namespace = Some(namespace.to_string());
    template.metadata.generate_name = Some([&owner, "-"].concat());
    template.metadata.name = None;
    template.metadata.owner_references = Some(vec![Owner {
        kind: target.pod_owner.to_string(),
        name: owner,
        controller: Some(true),
        ..Default::default()
    }]);
    template
}

/// What the pods will get, for the response's warnings.
pub fn preview(
    subject: Subject,
    label: String,
    pod: &PodView,
    checked: &Checked,
    service_name: Option<String>,
) -> [Notice; 2] {
    let containers = checked
        .targets
        .iter()
        .map(|&slot| pod.container(slot).name.clone())
        .collect();
    let platform = if checked.source == MUSL_SOURCE {
        PLATFORM_MUSL
    } else {
        PLATFORM_GLIBC
    };
    [
        Notice::Preview {
            subject: subject.clone(),
            label,
        },
        Notice::PreviewContainers {
            subject,
            containers,
            service_name,
            platform,
        },
    ]
}

/// What the preview adds when the image options apply: the image the pods will get (rewritten;
/// pinned when each pod is created under `resolve`) and how, and the pull secrets the template
/// lacks. Nothing with every option off, so the operator's preview stays as it is.
pub fn preview_image(
    subject: &Subject,
    pod: &PodView,
    prepared: &Prepared,
    options: &ImageOptions,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    let applies = !options.rewrites.is_empty()
        || options.pin != Default::default()
        || options.delivery != Delivery::InitContainer;
    if applies {
        notices.push(Notice::PreviewImage {
            subject: subject.clone(),
            image: prepared.image.clone(),
            resolved_later: prepared.needs_digest,
            volume: options.delivery == Delivery::ImageVolume,
        });
    }
    let packages = Packages {
        image: &prepared.image,
        delivery: options.delivery,
        pull_secrets: &options.pull_secrets,
    };
    let names = packages.missing_pull_secrets(pod);
    if !names.is_empty() {
        let subject = subject.clone();
        notices.push(Notice::PreviewPullSecrets { subject, names });
    }
    notices
}
