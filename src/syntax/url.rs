//! The exporter endpoint: an absolute http(s) URL with a host.
//!
//! The exporter endpoint check: an absolute `http://` or `https://` URL with a host, as the Python
//! OTLP/HTTP exporter needs it. The operator does not check it; a typo here silently loses telemetry.

/// `Ok(())` when `s` is an absolute http(s) URL with a host (and optional port, path, query);
/// otherwise the reason.
pub fn check_endpoint(s: &str) -> Result<(), String> {
    // ASCII white space and control characters: every byte up to ' ', and DEL.
    if s.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return Err("it contains white space or control characters".into());
    }
    let scheme = |scheme: &str| {
        s.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    };
    let rest = if scheme("http://") {
        &s[7..]
    } else if scheme("https://") {
        &s[8..]
    } else {
        return Err("it must start with http:// or https:// (the Python image exports OTLP over HTTP, usually on port 4318)".into());
    };
    let end = rest.bytes().position(|c| matches!(c, b'/' | b'?' | b'#'));
    let authority = &rest[..end.unwrap_or(rest.len())];
    if authority.bytes().any(|c| c == b'@') {
        return Err("credentials in the URL are not supported; pass exporter headers through `env` (OTEL_EXPORTER_OTLP_HEADERS)".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or("the IPv6 host has no closing ']'")?;
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return Err(format!("[{addr}] is not an IPv6 address"));
        }
        match after {
            "" => (addr, None),
            p if p.starts_with(':') => (addr, Some(&p[1..])),
            _ => return Err("unexpected characters after the IPv6 host".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if !authority.starts_with('[')
        && !host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
    {
        return Err(format!(
            "host {host:?} may only contain letters, digits, '.', '-' and '_'"
        ));
    }
    if let Some(p) = port {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) && p.bytes().all(|c| c.is_ascii_digit()) => {}
            _ => return Err(format!("port {p:?} is not a number from 1 to 65535")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn accepted_endpoints() {
        for ok in [
            "http://deployment-collector-collector.monitor.svc.cluster.local.:4318",
            "https://collector:4318",
            "http://127.0.0.1:4318/",
            "HTTP://collector",
            "http://[::1]:4318",
            "https://otel.example.com/custom/prefix?x=1",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refused_endpoints() {
        for bad in [
            "collector:4318",
            "grpc://collector:4317",
            "http://",
            "http://:4318",
            "http://collector:port",
            "http://collector:0",
            "http://collector:70000",
            "http://col lector",
            "http://user:pw@collector",
            "http://[::1",
            "http://coll$ctor",
            "",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?} must be refused");
        }
        for c in (0u8..=b' ').chain([0x7f]).map(char::from) {
            let e = check_endpoint(&format!("grpc://a{c}b")).unwrap_err();
            assert!(e.contains("white space or control"), "{c:?}: {e}");
        }
    }
}
