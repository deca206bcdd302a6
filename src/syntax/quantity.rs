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

/// The exact value of a quantity, written one way whatever way it was written: `<digits>e<exp>`
/// without leading or trailing zeros in the digits (`-` in front when negative), or `0`; `None`
/// when `s` is not a valid quantity. `500m`, `0.5` and `5e-1` are all `5e-1`; `1536Mi` and
/// `1.5Gi` are both `1610612736e0`. The API server writes a quantity in its own canonical form
/// (`0.5` comes back as `500m`): this compares what a quantity means, not how it was written.
pub fn canonical(s: &str) -> Option<String> {
    parse(s)?;
    let (negative, rest) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (number, suffix) = rest.split_at(number_len);
    let fraction = number.split_once('.').map_or(0, |(_, f)| f.len());
    let mut digits: Vec<u8> = number
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    let mut exponent = -(fraction as i64);
    let (decimal, binary) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        exp => (exp[1..].parse::<i64>().ok()?, 0),
    };
    exponent += decimal;
    for _ in 0..binary {
        times(&mut digits, 1024);
    }
    let first = digits.iter().position(|d| *d != 0);
    let Some(first) = first else {
        return Some("0".to_string());
    };
    digits.drain(..first);
    while digits.last() == Some(&0) {
        digits.pop();
        exponent += 1;
    }
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    out.extend(digits.iter().map(|d| char::from(b'0' + d)));
    out.push('e');
    push_int(&mut out, exponent);
    Some(out)
}

/// `n` in decimal appended to `out`, as `format!` writes it.
fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let magnitude = n.unsigned_abs();
    let mut place = 1;
    while place * 10 <= magnitude {
        place *= 10;
    }
    while place > 0 {
        out.push(char::from(b'0' + (magnitude / place % 10) as u8));
        place /= 10;
    }
}

/// `digits` (decimal, most significant first) multiplied by `factor`, exactly.
fn times(digits: &mut Vec<u8>, factor: u32) {
    let mut carry = 0u32;
    for d in digits.iter_mut().rev() {
        let v = u32::from(*d) * factor + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::{canonical, parse};

    #[test]
    fn canonical_values_are_equal_whatever_the_writing() {
        for (a, b) in [
            ("500m", "0.5"),
            ("0.5", "5e-1"),
            ("1", "1000m"),
            ("1k", "1000"),
            ("1536Mi", "1.5Gi"),
            ("1Gi", "1024Mi"),
            ("200Mi", "209715200"),
            ("+2", "2"),
            ("0", "0m"),
            ("0.000", "0Gi"),
        ] {
            assert_eq!(canonical(a), canonical(b), "{a} and {b}");
        }
        assert_eq!(canonical("500m").as_deref(), Some("5e-1"));
        assert_eq!(canonical("1.5Gi").as_deref(), Some("1610612736e0"));
        assert_eq!(canonical("-1.20k").as_deref(), Some("-12e2"));
        assert_eq!(canonical("0").as_deref(), Some("0"));
        assert_ne!(canonical("1Mi"), canonical("1M"));
        assert_eq!(canonical("1 Mi"), None);
    }

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
