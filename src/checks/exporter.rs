//! The exporter's protocol and endpoint, as the Python SDK will read them in the container.
//!
//! The Python image ships the OTLP/HTTP exporter only. For each signal whose exporter is `otlp`
//! (the injected default), the SDK takes the signal's protocol variable when it is not empty,
//! else `OTEL_EXPORTER_OTLP_PROTOCOL`; `grpc` there, or the exporter `otlp_proto_grpc`, means the
//! SDK looks for an exporter the image does not have. An endpoint on port 4317 (the OTLP/gRPC
//! port) or with a `grpc://` scheme most likely expects gRPC: a collector may still serve HTTP
//! there, so that one is a warning.

use super::env::{Env, Setting};
use crate::operator::ENDPOINT_VAR;
use crate::refusal::FindingKind;
use crate::syntax::ascii::{find_any, rsplit_once, split_scheme};

/// Each signal with its exporter, protocol and endpoint variables.
const SIGNALS: [(&str, &str, &str, &str); 3] = [
    (
        "traces",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ),
    (
        "metrics",
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ),
    (
        "logs",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ),
];
const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const GRPC_EXPORTER: &str = "otlp_proto_grpc";

/// The protocol findings (refusals) of a container's environment.
pub fn protocol(env: &Env<'_>, out: &mut Vec<FindingKind>) {
    // Every finding here is about a variable set somewhere: with none, the exporters are `otlp`
    // over the image's default protocol.
    if !env.names_sdk_vars() {
        return;
    }
    let start = out.len();
    for (signal, exporter_var, protocol_var, _) in SIGNALS {
        let exporters = env.get(exporter_var);
        let names = exporters.as_ref().map_or("otlp", |s| s.value);
        let names = || names.split(',').map(str::trim);
        if let Some(set) = exporters
            .as_ref()
            .filter(|_| names().any(|n| n == GRPC_EXPORTER))
        {
            out.push(FindingKind::GrpcExporter {
                var: exporter_var,
                value: set.value.to_string(),
                from: set.from.clone(),
            });
        }
        // Unset, the exporter is `otlp`.
        if exporters.is_some() && !names().any(|n| n == "otlp") {
            continue;
        }
        let (var, set) = match env.get(protocol_var).filter(|s| !s.value.is_empty()) {
            Some(set) => (protocol_var, set),
            None => match env.get(PROTOCOL_VAR) {
                Some(set) => (PROTOCOL_VAR, set),
                None => continue,
            },
        };
        if set.value.trim() != "grpc" {
            continue;
        }
        let same = out[start..].iter_mut().find_map(|f| match f {
            FindingKind::GrpcProtocol {
                var: v, signals, ..
            } if *v == var => Some(signals),
            _ => None,
        });
        match same {
            Some(signals) => signals.push(signal),
            None => out.push(FindingKind::GrpcProtocol {
                var,
                value: set.value.to_string(),
                from: set.from,
                signals: vec![signal],
            }),
        }
    }
}

/// The endpoint findings (warnings): each endpoint variable a signal uses, once (a signal's own
/// variable is its alone; the shared one is judged for the first signal that falls back to it).
pub fn endpoint(env: &Env<'_>, out: &mut Vec<FindingKind>) {
    // No layer names an SDK variable: every signal falls back to the shared one, judged once.
    if !env.names_sdk_vars() {
        if let Some(set) = env.get(ENDPOINT_VAR) {
            judge(ENDPOINT_VAR, set, out);
        }
        return;
    }
    let mut shared_judged = false;
    for (_, _, _, endpoint_var) in SIGNALS {
        let (var, set) = match env.get(endpoint_var).filter(|s| !s.value.is_empty()) {
            Some(set) => (endpoint_var, set),
            None if shared_judged => continue,
            None => {
                shared_judged = true;
                match env.get(ENDPOINT_VAR) {
                    Some(set) => (ENDPOINT_VAR, set),
                    None => continue,
                }
            }
        };
        judge(var, set, out);
    }
}

/// The finding on the endpoint `var` set as `set`, if it looks like gRPC.
fn judge(var: &'static str, set: Setting<'_>, out: &mut Vec<FindingKind>) {
    if let Some(scheme) = grpc_like(set.value) {
        out.push(FindingKind::GrpcEndpoint {
            var,
            value: set.value.to_string(),
            from: set.from,
            scheme,
        });
    }
}

/// `Some(true)` for a gRPC scheme, `Some(false)` for port 4317, `None` otherwise.
fn grpc_like(url: &str) -> Option<bool> {
    let url = url.trim();
    let (scheme, rest) = split_scheme(url).unwrap_or(("", url));
    if scheme.eq_ignore_ascii_case("grpc") || scheme.eq_ignore_ascii_case("grpcs") {
        return Some(true);
    }
    // The authority ends at the first '/', '?' or '#' (ASCII: a byte search finds the same place).
    let end = find_any(rest, b"/?#").unwrap_or(rest.len());
    let authority = &rest[..end];
    // The port judged is the authority's last part: most endpoints are turned away here.
    if !authority.ends_with(":4317") {
        return None;
    }
    let host_port = rsplit_once(authority, b'@').map_or(authority, |(_, hp)| hp);
    let port = match rsplit_once(host_port, b']') {
        Some((_, after)) => after.strip_prefix(':'),
        None => rsplit_once(host_port, b':').map(|(_, p)| p),
    };
    (port == Some("4317")).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_looking_endpoints() {
        assert_eq!(grpc_like("http://collector:4317"), Some(false));
        assert_eq!(grpc_like("http://collector.monitor.svc:4317/"), Some(false));
        assert_eq!(grpc_like("https://u:p@[::1]:4317/v1"), Some(false));
        assert_eq!(grpc_like("collector:4317"), Some(false));
        assert_eq!(grpc_like("grpc://collector:9000"), Some(true));
        assert_eq!(grpc_like("http://collector:4318"), None);
        assert_eq!(grpc_like("http://collector:43170"), None);
        assert_eq!(grpc_like("http://collector/4317"), None);
        assert_eq!(grpc_like("http://[::1]"), None);
        assert_eq!(grpc_like("http://collector:$(PORT)"), None);
        assert_eq!(grpc_like("http://collector:4317?a=b"), Some(false));
        assert_eq!(grpc_like("http://u@collector:4317#x:1"), Some(false));
        assert_eq!(grpc_like("http://collector?p=:4317"), None);
        assert_eq!(grpc_like("http://hôte:4317"), Some(false));
    }
}
