//! The digests of the Kubernetes types the plan and the spec hold, walked field by field.
//!
//! A container, a variable, a mount, resources, a security context: walked as [`super::typed`]
//! walks the plan, to the same values as [`digest::of`], with the rules of [`digest`] applied
//! where a field has them. Each struct is taken apart whole, so a field Kubernetes adds does not
//! compile until it is hashed here.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, EnvVarSource, ObjectFieldSelector, ResourceRequirements,
    SeccompProfile, SecurityContext, VolumeMount,
};

use super::digest::{
    self, Failed, Object, key, list, opt_flag, opt_text, opt_texts, opt_with, text, walked,
};

/// A variable of these parts: its name, its literal value, its `valueFrom`'s digest.
pub(super) const fn env_var_of(name: &str, value: Option<&str>, source: Option<u64>) -> u64 {
    let mut object = Object::new();
    object.member(const { key("name") }, text(name));
    if let Some(value) = value {
        object.member(const { key("value") }, text(value));
    }
    if let Some(source) = source {
        object.member(const { key("valueFrom") }, source);
    }
    object.finish()
}

/// [`var_source`] of a `fieldRef` to `path` without `apiVersion`.
pub(super) const fn field_source(path: &str) -> u64 {
    let mut selector = Object::new();
    selector.member(const { key("fieldPath") }, text(path));
    let mut object = Object::new();
    object.member(const { key("fieldRef") }, selector.finish());
    object.finish()
}

/// A variable.
pub(super) fn env_var(var: &EnvVar) -> Result<u64, Failed> {
    let EnvVar {
        name,
        value,
        value_from,
    } = var;
    let source = value_from.as_ref().map(var_source).transpose()?;
    Ok(env_var_of(name, value.as_deref(), source))
}

/// A variable's `valueFrom`: a `fieldRef` here (its `apiVersion: v1` is the API server's
/// default), the other sources through the serde walk.
fn var_source(source: &EnvVarSource) -> Result<u64, Failed> {
    let EnvVarSource {
        config_map_key_ref,
        field_ref,
        file_key_ref,
        resource_field_ref,
        secret_key_ref,
    } = source;
    let mut object = Object::default();
    walked(&mut object, "configMapKeyRef", config_map_key_ref)?;
    if let Some(ObjectFieldSelector {
        api_version,
        field_path,
    }) = field_ref
    {
        let mut selector = Object::default();
        if let Some(version) = api_version {
            let hash = digest::string_at("fieldRef", "apiVersion", None, version).0;
            selector.member(const { key("apiVersion") }, hash);
        }
        selector.member(const { key("fieldPath") }, text(field_path));
        object.member(const { key("fieldRef") }, selector.finish());
    }
    walked(&mut object, "fileKeyRef", file_key_ref)?;
    walked(&mut object, "resourceFieldRef", resource_field_ref)?;
    walked(&mut object, "secretKeyRef", secret_key_ref)?;
    Ok(object.finish())
}

/// A volume mount.
pub(super) fn mount(mount: &VolumeMount) -> Result<u64, Failed> {
    let VolumeMount {
        mount_path,
        mount_propagation,
        name,
        read_only,
        recursive_read_only,
        sub_path,
        sub_path_expr,
    } = mount;
    let mut object = Object::default();
    object.member(const { key("mountPath") }, text(mount_path));
    opt_text(
        &mut object,
        const { key("mountPropagation") },
        mount_propagation,
    );
    object.member(const { key("name") }, text(name));
    opt_flag(&mut object, const { key("readOnly") }, *read_only);
    opt_text(
        &mut object,
        const { key("recursiveReadOnly") },
        recursive_read_only,
    );
    opt_text(&mut object, const { key("subPath") }, sub_path);
    opt_text(&mut object, const { key("subPathExpr") }, sub_path_expr);
    Ok(object.finish())
}

/// A container: what it runs here, how it runs in [`lifecycle`]. Taken apart whole here (the
/// fields [`lifecycle`] hashes are named `_`).
pub(super) fn container(c: &Container, known: Known<'_>) -> Result<u64, Failed> {
    let Container {
        args,
        command,
        env,
        env_from,
        image,
        image_pull_policy,
        lifecycle: _,
        liveness_probe: _,
        name,
        ports,
        readiness_probe: _,
        resize_policy: _,
        resources: requirements,
        restart_policy: _,
        restart_policy_rules: _,
        security_context,
        startup_probe: _,
        stdin: _,
        stdin_once: _,
        termination_message_path: _,
        termination_message_policy: _,
        tty: _,
        volume_devices,
        volume_mounts,
        working_dir,
    } = c;
    let mut object = Object::default();
    let o = &mut object;
    opt_texts(o, const { key("args") }, args);
    opt_texts(o, const { key("command") }, command);
    opt_with(o, const { key("env") }, env, |e| list(e, env_var))?;
    walked(o, "envFrom", env_from)?;
    image_and_policy(o, image, image_pull_policy);
    o.member(const { key("name") }, text(name));
    walked(o, "ports", ports)?;
    opt_with(o, const { key("resources") }, requirements, |r| {
        known.resources(r)
    })?;
    opt_with(
        o,
        const { key("securityContext") },
        security_context,
        security,
    )?;
    walked(o, "volumeDevices", volume_devices)?;
    opt_with(o, const { key("volumeMounts") }, volume_mounts, |m| {
        list(m, mount)
    })?;
    opt_text(o, const { key("workingDir") }, working_dir);
    lifecycle(o, c)?;
    Ok(object.finish())
}

/// How a container runs: its lifecycle hooks, probes, restart and resize policies, terminal and
/// termination message.
fn lifecycle(o: &mut Object, c: &Container) -> Result<(), Failed> {
    walked(o, "lifecycle", &c.lifecycle)?;
    walked(o, "livenessProbe", &c.liveness_probe)?;
    walked(o, "readinessProbe", &c.readiness_probe)?;
    walked(o, "startupProbe", &c.startup_probe)?;
    opt_text(o, const { key("restartPolicy") }, &c.restart_policy);
    walked(o, "restartPolicyRules", &c.restart_policy_rules)?;
    walked(o, "resizePolicy", &c.resize_policy)?;
    opt_flag(o, const { key("stdin") }, c.stdin);
    opt_flag(o, const { key("stdinOnce") }, c.stdin_once);
    opt_flag(o, const { key("tty") }, c.tty);
    let termination = [
        ("terminationMessagePath", &c.termination_message_path),
        ("terminationMessagePolicy", &c.termination_message_policy),
    ];
    for (name, value) in termination {
        if let Some(value) = value {
            let hash = digest::string_at("", name, None, value).0;
            o.member(key(name), hash);
        }
    }
    Ok(())
}

/// A container's `image` and `imagePullPolicy` (the default for the image does not count: the
/// image is read for the policy it implies only when there is a policy to compare).
fn image_and_policy(object: &mut Object, image: &Option<String>, policy: &Option<String>) {
    if let Some(image) = image {
        object.member(const { key("image") }, text(image));
    }
    if let Some(policy) = policy {
        let image = image.as_deref().filter(|i| !i.is_empty());
        let implied = image.map(digest::default_pull_policy);
        let hash = digest::string_at("", "imagePullPolicy", implied, policy).0;
        object.member(const { key("imagePullPolicy") }, hash);
    }
}

/// Resources already hashed: the spec's `python.resourceRequirements`, which the init container
/// most often has too.
#[derive(Clone, Copy, Default)]
pub(super) struct Known<'a>(Option<(&'a ResourceRequirements, u64)>);

impl<'a> Known<'a> {
    /// `r`, hashed.
    pub(super) fn new(r: &'a ResourceRequirements) -> Result<Self, Failed> {
        Ok(Known(Some((r, resources(r)?))))
    }

    /// [`resources`] of `r`, hashed once when it is the one known.
    pub(super) fn resources(self, r: &ResourceRequirements) -> Result<u64, Failed> {
        match self.0 {
            Some((known, digest)) if std::ptr::eq(known, r) || known == r => Ok(digest),
            _ => resources(r),
        }
    }
}

/// Resources: quantities by value, a request equal to its limit not counted. A resource whose
/// name has a rule of its own (no real one has) goes through the serde walk.
fn resources(r: &ResourceRequirements) -> Result<u64, Failed> {
    let ResourceRequirements {
        claims,
        limits,
        requests,
    } = r;
    let mut names = limits.iter().chain(requests).flat_map(|m| m.keys());
    if !names.all(|n| digest::plain(n)) {
        return digest::value_at("resources", r);
    }
    let mut object = Object::default();
    walked(&mut object, "claims", claims)?;
    let mut kept = Vec::with_capacity(limits.as_ref().map_or(0, |l| l.len()));
    if let Some(limits) = limits {
        let mut members = Object::default();
        for (name, quantity) in limits {
            let pair = (key(name), digest::quantity(&quantity.0));
            if pair.1 != digest::NONE {
                kept.push(pair);
                members.member(pair.0, pair.1);
            }
        }
        object.member(const { key("limits") }, members.finish());
    }
    if let Some(requests) = requests {
        let mut members = Object::default();
        for (name, quantity) in requests {
            let pair = (key(name), digest::quantity(&quantity.0));
            if !kept.contains(&pair) {
                members.member(pair.0, pair.1);
            }
        }
        object.member(const { key("requests") }, members.finish());
    }
    Ok(object.finish())
}

/// A security context (its `procMount: Default` is the API server's default).
fn security(context: &SecurityContext) -> Result<u64, Failed> {
    let SecurityContext {
        allow_privilege_escalation,
        app_armor_profile,
        capabilities,
        privileged,
        proc_mount,
        read_only_root_filesystem,
        run_as_group,
        run_as_non_root,
        run_as_user,
        se_linux_options,
        seccomp_profile,
        windows_options,
    } = context;
    let mut object = Object::default();
    let o = &mut object;
    opt_flag(
        o,
        const { key("allowPrivilegeEscalation") },
        *allow_privilege_escalation,
    );
    walked(o, "appArmorProfile", app_armor_profile)?;
    if let Some(Capabilities { add, drop }) = capabilities {
        let mut caps = Object::default();
        opt_texts(&mut caps, const { key("add") }, add);
        opt_texts(&mut caps, const { key("drop") }, drop);
        o.member(const { key("capabilities") }, caps.finish());
    }
    opt_flag(o, const { key("privileged") }, *privileged);
    if let Some(mount) = proc_mount {
        let hash = digest::string_at("", "procMount", None, mount).0;
        o.member(const { key("procMount") }, hash);
    }
    opt_flag(
        o,
        const { key("readOnlyRootFilesystem") },
        *read_only_root_filesystem,
    );
    walked(o, "runAsGroup", run_as_group)?;
    opt_flag(o, const { key("runAsNonRoot") }, *run_as_non_root);
    walked(o, "runAsUser", run_as_user)?;
    walked(o, "seLinuxOptions", se_linux_options)?;
    if let Some(SeccompProfile {
        localhost_profile: local,
        type_,
    }) = seccomp_profile
    {
        let mut profile = Object::default();
        opt_text(&mut profile, const { key("localhostProfile") }, local);
        profile.member(const { key("type") }, text(type_));
        o.member(const { key("seccompProfile") }, profile.finish());
    }
    walked(o, "windowsOptions", windows_options)?;
    Ok(object.finish())
}
