//! Kubernetes resource quantities: their syntax and value.
//!
//! Kubernetes resource quantities (`500m`, `256Mi`, `1e3`): syntax check and numeric value, so the
//! settings can refuse an unparsable quantity and a request larger than its limit.

/// The value of a quantity in base units, or `None` when `s` is not a valid quantity.
pub fn parse(s: &str) -> Option<f64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1.0, &s[1..]),
        b'-' => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    let number_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (number, suffix) = rest.split_at(number_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let digits = exp[1..].strip_prefix(['+', '-']).unwrap_or(&exp[1..]);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            10f64.powi(exp[1..].parse::<i32>().ok()?)
        }
        _ => return None,
    };
    Some(sign * value * scale)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn valid_quantities() {
        let cases = [
            ("500m", 0.5),
            ("50m", 0.05),
            ("256Mi", 268_435_456.0),
            ("64Mi", 67_108_864.0),
            ("200Mi", 209_715_200.0),
            ("1", 1.0),
            ("1.5Gi", 1.5 * 1024f64.powi(3)),
            ("1e3", 1000.0),
            ("2E-3", 0.002),
            ("+1k", 1000.0),
            (".5", 0.5),
            ("1.", 1.0),
        ];
        for (s, want) in cases {
            let got = parse(s).unwrap_or_else(|| panic!("{s} should parse"));
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "{s}: {got} != {want}"
            );
        }
    }

    #[test]
    fn invalid_quantities() {
        for s in [
            "", "Mi", "1MB", "1 Mi", "abc", "1.2.3", "1e", "1ee3", "1e+", ".", "1mi", "--1",
        ] {
            assert_eq!(parse(s), None, "{s:?} must be refused");
        }
    }
}
