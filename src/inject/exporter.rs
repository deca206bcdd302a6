//! The exporter: the endpoint, and TLS volumes, mounts and certificate variables.
//!
//! The exporter (the operator's `exporter.go`): the endpoint, and for TLS the Secret/ConfigMap
//! volumes, their read-only mounts and the certificate env vars.

use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, SecretVolumeSource, VolumeMount};

use super::Volume;
use super::env::Entry;
use crate::instrumentation::{InstrumentationSpec, Tls};
use crate::operator::{
    CERTIFICATE_VAR, CLIENT_CERTIFICATE_VAR, CLIENT_KEY_VAR, ENDPOINT_VAR,
    TLS_CONFIG_MAP_MOUNT_PREFIX, TLS_CONFIG_MAP_VOLUME_PREFIX, TLS_SECRET_MOUNT_PREFIX,
    TLS_SECRET_VOLUME_PREFIX,
};

/// What TLS adds: env vars (in the operator's order), pod volumes and container mounts.
#[derive(Debug, Default)]
pub struct TlsPlan {
    pub env: Vec<(&'static str, String)>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

/// The exporter's env vars added to `out`, in the operator's order: the endpoint when set, then
/// TLS's.
pub fn env<'a>(spec: &'a InstrumentationSpec, tls: &TlsPlan, out: &mut Vec<Entry<'a>>) {
    let endpoint = spec.endpoint();
    if !endpoint.is_empty() {
        out.push(Entry::literal(ENDPOINT_VAR, endpoint));
    }
    let certificates = tls.env.iter();
    out.extend(certificates.map(|(name, value)| Entry::literal(name, value.clone())));
}

/// What the spec's `exporter.tls` adds (nothing without it).
pub fn tls(spec: &InstrumentationSpec) -> TlsPlan {
    spec.tls().map(plan).unwrap_or_default()
}

fn plan(tls: &Tls) -> TlsPlan {
    let secret = tls.secret_name.as_deref().unwrap_or_default();
    let config_map = tls.config_map_name.as_deref().unwrap_or_default();
    let secret_mount = format!("{TLS_SECRET_MOUNT_PREFIX}{secret}");
    let config_map_mount = format!("{TLS_CONFIG_MAP_MOUNT_PREFIX}{config_map}");
    let mut out = TlsPlan {
        env: certificate_env(tls, &secret_mount, &config_map_mount),
        ..TlsPlan::default()
    };
    if !secret.is_empty() {
        let name = volume_name(TLS_SECRET_VOLUME_PREFIX, secret);
        let source = SecretVolumeSource {
            secret_name: Some(secret.to_string()),
            ..Default::default()
        };
        out.add(
            Volume {
                name,
                secret: Some(source),
                ..Default::default()
            },
            secret_mount,
        );
    }
    if !config_map.is_empty() {
        let name = volume_name(TLS_CONFIG_MAP_VOLUME_PREFIX, config_map);
        let source = ConfigMapVolumeSource {
            name: config_map.to_string(),
            ..Default::default()
        };
        out.add(
            Volume {
                name,
                config_map: Some(source),
                ..Default::default()
            },
            config_map_mount,
        );
    }
    out
}

impl TlsPlan {
    /// A volume, and its read-only mount at `path`.
    fn add(&mut self, volume: Volume, path: String) {
        self.mounts.push(VolumeMount {
            name: volume.name.clone(),
            mount_path: path,
            read_only: Some(true),
            ..Default::default()
        });
        self.volumes.push(volume);
    }
}

/// The certificate variables, in the operator's order: the CA (from the ConfigMap when there is
/// one, else the Secret), the client certificate and key (from the Secret). Absolute paths are
/// kept as they are.
fn certificate_env(
    tls: &Tls,
    secret_mount: &str,
    config_map_mount: &str,
) -> Vec<(&'static str, String)> {
    let file_in = |dir: &str, file: &str| {
        if file.starts_with('/') {
            file.to_string()
        } else {
            format!("{dir}/{file}")
        }
    };
    let ca_dir = if non_empty(&tls.config_map_name).is_some() {
        config_map_mount
    } else {
        secret_mount
    };
    let mut env = Vec::new();
    if let Some(ca) = non_empty(&tls.ca_file) {
        env.push((CERTIFICATE_VAR, file_in(ca_dir, ca)));
    }
    if let Some(cert) = non_empty(&tls.cert_file) {
        env.push((CLIENT_CERTIFICATE_VAR, file_in(secret_mount, cert)));
    }
    if let Some(key) = non_empty(&tls.key_file) {
        env.push((CLIENT_KEY_VAR, file_in(secret_mount, key)));
    }
    env
}

fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// `prefix + value` cut to 63 characters by shortening the value, then trimmed of
/// non-alphanumerics at both ends (a volume name must be a DNS-1123 label).
pub fn volume_name(prefix: &str, value: &str) -> String {
    let room = 63usize.saturating_sub(prefix.len());
    let cut = &value[..value.len().min(room)];
    format!("{prefix}{cut}")
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(secret: &str, cm: &str, ca: &str, cert: &str, key: &str) -> Tls {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        Tls {
            secret_name: s(secret),
            config_map_name: s(cm),
            ca_file: s(ca),
            cert_file: s(cert),
            key_file: s(key),
        }
    }

    fn env(p: &TlsPlan) -> Vec<(String, String)> {
        p.env
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }

    #[test]
    fn secret_and_config_map() {
        let p = plan(&tls(
            "my-certs",
            "ca-bundle",
            "ca.crt",
            "tls.crt",
            "tls.key",
        ));
        assert_eq!(
            env(&p),
            [
                (
                    "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
                    "/otel-auto-instrumentation-configmap-ca-bundle/ca.crt".into()
                ),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(),
                    "/otel-auto-instrumentation-secret-my-certs/tls.crt".into()
                ),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
                    "/otel-auto-instrumentation-secret-my-certs/tls.key".into()
                ),
            ]
        );
        assert_eq!(
            p.volumes
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["otel-auto-secret-my-certs", "otel-auto-configmap-ca-bundle"]
        );
        assert!(p.mounts.iter().all(|m| m.read_only == Some(true)));
    }

    #[test]
    fn ca_from_secret_and_absolute_paths() {
        let p = plan(&tls("s", "", "ca.crt", "/etc/c.pem", "/etc/k.pem"));
        assert_eq!(env(&p)[0].1, "/otel-auto-instrumentation-secret-s/ca.crt");
        assert_eq!(env(&p)[1].1, "/etc/c.pem");
        assert_eq!(env(&p)[2].1, "/etc/k.pem");
        assert_eq!(p.volumes.len(), 1);
    }

    #[test]
    fn long_names_are_cut_to_a_label() {
        let long = format!("{}-x", "a".repeat(45));
        let name = volume_name("otel-auto-secret-", &long);
        assert_eq!(name.len(), 62, "{name}");
        assert!(name.ends_with('a'), "the dangling '-' is trimmed: {name}");
        assert!(crate::syntax::k8s_names::is_dns1123_label(&name));
    }
}
