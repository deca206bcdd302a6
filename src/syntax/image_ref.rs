//! OCI image references, by the distribution grammar.
//!
//! OCI image references (`[domain/]path[:tag][@digest]`, the distribution grammar): used to refuse
//! an invalid `python.image` in the settings and to take `service.version` from a container image;
//! and the image prefixes of `imageRewrites`, with the name an image has in full
//! ([`full_name`]: `busybox` is `docker.io/library/busybox`), which prefixes are matched against.

use super::ascii::{parts, rfind, split_once};

/// The tag and digest of a valid image reference.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The tag, when there is one.
    pub tag: Option<&'a str>,
    /// The digest, when there is one.
    pub digest: Option<&'a str>,
}

impl ImageRef<'_> {
    /// `service.version` as the operator derives it: `tag@digest`, else the digest, else the tag.
    pub fn service_version(&self) -> Option<String> {
        match (self.tag, self.digest) {
            (Some(t), Some(d)) => Some(format!("{t}@{d}")),
            (None, Some(d)) => Some(d.to_string()),
            (Some(t), None) => Some(t.to_string()),
            (None, None) => None,
        }
    }
}

/// Parses `s` as an image reference; the error says what is wrong with it.
pub fn parse(s: &str) -> Result<ImageRef<'_>, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (name_tag, digest) = match split_once(s, b'@') {
        Some((n, d)) => {
            check_digest(d)?;
            (n, Some(d))
        }
        None => (s, None),
    };
    let last_slash = rfind(name_tag, b'/').map_or(0, |i| i + 1);
    let (name, tag) = match rfind(&name_tag[last_slash..], b':') {
        Some(i) => {
            let i = last_slash + i;
            let tag = &name_tag[i + 1..];
            check_tag(tag)?;
            (&name_tag[..i], Some(tag))
        }
        None => (name_tag, None),
    };
    check_name(name)?;
    Ok(ImageRef { tag, digest })
}

/// Whether the first component of a name with more than one is a registry host, as the
/// distribution grammar tells them apart: it has a `.` or a `:` (a port), or is `localhost`.
fn is_domain(first: &str) -> bool {
    first.bytes().any(|c| c == b'.' || c == b':')
        || first == "localhost"
        || first.bytes().any(|c| c.is_ascii_uppercase())
}

/// The reference as the container runtime reads it: a name without a registry host is Docker
/// Hub's (`docker.io/`), and a one-component name there is an official image (`library/`).
/// `busybox:1` is `docker.io/library/busybox:1`; a name with a host is returned as it is.
pub fn full_name(image: &str) -> std::borrow::Cow<'_, str> {
    match image.split_once('/') {
        Some((first, _)) if is_domain(first) => image.into(),
        Some(_) => format!("docker.io/{image}").into(),
        None => format!("docker.io/library/{image}").into(),
    }
}

/// An image prefix (`imageRewrites`): a registry host, then optionally repository path
/// components, ending where a component ends; one trailing `/` is allowed. Returns the prefix
/// without that `/`, or what is wrong with it.
pub fn parse_prefix(s: &str) -> Result<&str, String> {
    let prefix = s.strip_suffix('/').unwrap_or(s);
    if prefix.is_empty() {
        return Err("it is empty".into());
    }
    if prefix.contains('@') {
        return Err("it has a digest; a prefix ends before the tag and the digest".into());
    }
    let mut parts = prefix.split('/');
    let host = parts.next().unwrap_or_default();
    if !is_domain(host) || host.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "it does not start with a registry host ({host:?} has no '.' or port and is not localhost)"
        ));
    }
    check_domain(host)?;
    for p in parts {
        if p.contains(':') {
            return Err("it has a tag; a prefix ends before the tag and the digest".into());
        }
        check_path_component(p)?;
    }
    Ok(prefix)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    if name.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    // The first component is a registry host when it looks like one, as the distribution grammar says.
    let path = match split_once(name, b'/') {
        Some((first, rest)) if is_domain(first) => {
            check_domain(first)?;
            rest
        }
        _ => name,
    };
    parts(path, b'/').try_for_each(check_path_component)
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry host {domain:?} has an unclosed '['"))?;
        if v6.is_empty() || !v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return Err(format!(
                "registry host {domain:?} is not a valid IPv6 address"
            ));
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return Err(format!("registry host {domain:?} is malformed")),
        }
    } else {
        match split_once(domain, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if !domain.starts_with('[') {
        let ok = !host.is_empty()
            && parts(host, b'.').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !c.starts_with('-')
                    && !c.ends_with('-')
            });
        if !ok {
            return Err(format!("registry host {host:?} is not a valid host name"));
        }
    }
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("registry port {p:?} is not a number"));
    }
    Ok(())
}

fn check_path_component(p: &str) -> Result<(), String> {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() {
        return Err("the repository name has an empty path component".into());
    }
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(format!(
            "path component {p:?} must start and end with a lowercase letter or digit"
        ));
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or a run of '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return Err(format!(
                "path component {p:?} may only contain lowercase letters, digits and the separators '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty()
        || b.len() > 128
        || !word(b[0])
        || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
    {
        return Err(format!(
            "tag {tag:?} must be 1-128 characters of letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

fn check_digest(d: &str) -> Result<(), String> {
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| format!("digest {d:?} must look like sha256:<64 hex digits>"))?;
    let alg_ok = !alg.is_empty()
        && alg.as_bytes()[0].is_ascii_alphabetic()
        && alg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'_' | b'-'));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit());
    let len_ok = alg != "sha256" || hex.len() == 64;
    if !(alg_ok && hex_ok && len_ok) {
        return Err(format!(
            "digest {d:?} must look like sha256:<64 hex digits>"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn service_versions_from_images() {
        let cases = [
            ("app:latest", Some("latest".to_string())),
            ("registry:10443/img", None),
            ("registry:10443/img:1.2", Some("1.2".to_string())),
            (
                "image.com.tw/library/otel-autoinstrumentation-python:0.43b0",
                Some("0.43b0".to_string()),
            ),
            ("busybox", None),
            (&format!("app@{DIGEST}"), Some(DIGEST.to_string())),
            (&format!("app:v1@{DIGEST}"), Some(format!("v1@{DIGEST}"))),
            ("localhost/app:dev", Some("dev".to_string())),
            ("[::1]:5000/app:x", Some("x".to_string())),
        ];
        for (image, want) in cases {
            let got = parse(image).map(|r| r.service_version());
            assert_eq!(got, Ok(want), "{image}");
        }
    }

    #[test]
    fn full_names_add_docker_hub_where_the_runtime_does() {
        for (image, full) in [
            ("busybox:1", "docker.io/library/busybox:1"),
            ("otel/python:1", "docker.io/otel/python:1"),
            ("ghcr.io/o/p:1", "ghcr.io/o/p:1"),
            ("localhost:5000/p", "localhost:5000/p"),
            ("localhost/p", "localhost/p"),
            (
                &format!("busybox@{DIGEST}"),
                &format!("docker.io/library/busybox@{DIGEST}"),
            ),
        ] {
            assert_eq!(full_name(image), full, "{image}");
        }
    }

    #[test]
    fn prefixes_start_with_a_host_and_end_where_a_component_ends() {
        for (ok, prefix) in [
            ("ghcr.io", "ghcr.io"),
            ("ghcr.io/", "ghcr.io"),
            ("ghcr.io/open-telemetry/", "ghcr.io/open-telemetry"),
            (
                "mirror.example.com:5000/otel",
                "mirror.example.com:5000/otel",
            ),
            ("localhost/x", "localhost/x"),
            ("[::1]:5000/a", "[::1]:5000/a"),
        ] {
            assert_eq!(parse_prefix(ok), Ok(prefix), "{ok}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("/", "it is empty"),
            ("open-telemetry/", "does not start with a registry host"),
            ("ghcr.io//x", "empty path component"),
            ("ghcr.io/open-", "must start and end"),
            ("ghcr.io/x:1", "it has a tag"),
            (&format!("ghcr.io/x@{DIGEST}"), "it has a digest"),
            ("GHCR.io/x", "does not start with a registry host"),
            ("ghcr.io/X", "must start and end"),
            ("ghcr.io:port/x", "registry port \"port\" is not a number"),
        ] {
            let e = parse_prefix(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn invalid_references() {
        for bad in [
            "",
            "App:1",
            "app:",
            "app:-x",
            "a//b",
            "-a/b",
            "a/b-",
            "app@sha256:abc",
            "app@sha256",
            "host:port/app",
            "UPPER.io/App",
            "app:tag with space",
            "app a",
            &format!("app:{}", "x".repeat(129)),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
