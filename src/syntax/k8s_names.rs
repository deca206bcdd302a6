//! Kubernetes name syntax, as the API server checks it.
//!
//! Kubernetes name syntax: the checks the API server applies, so that a bad name is refused in
//! the settings or at admission with our message instead of later with a confusing one.

/// A DNS-1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric.
/// Namespaces and volume names are labels.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_label_syntax(s)
}

/// A DNS-1123 subdomain as Kubernetes checks object names: at most 253 characters in all, labels
/// (of any length) joined by '.'. Instrumentations, Secrets and ConfigMaps are named this way.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label_syntax)
}

fn is_label_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An environment variable name as Kubernetes validates it: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_alphabetic() || matches!(c, b'-' | b'.' | b'_') => {}
        _ => return false,
    }
    bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

/// A container name list entry as the operator accepts it (`^[a-zA-Z0-9-,]+$` for the whole list).
pub fn is_container_list_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == ','
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "monitor", "a-b", "0abc", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64), "ä"] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["python-instrumentation", "a.b.c", "x1.y-2"] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        assert!(
            is_dns1123_subdomain(&"a".repeat(253)),
            "only the whole name is limited"
        );
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "Upper",
            "a/b",
            &"a.".repeat(127),
            &"a".repeat(254),
        ] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn env_names() {
        for ok in ["PYTHONPATH", "_X", "a.b-c", "-x", "OTEL_1"] {
            assert!(is_env_var_name(ok), "{ok}");
        }
        for bad in ["", "1ABC", "A B", "A=B", "Ä", "A$"] {
            assert!(!is_env_var_name(bad), "{bad}");
        }
    }
}
