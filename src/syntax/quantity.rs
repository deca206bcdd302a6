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

/// A quantity as written: its sign, its number (digits and at most one `.`), the power of ten
/// and the power of 1024 of its suffix.
struct Written<'a> {
    negative: bool,
    number: &'a str,
    /// How many digits follow the `.`.
    fraction: usize,
    decimal: i64,
    binary: u32,
}

/// `s` taken apart, or `None` when it is not a valid quantity (exactly when [`parse`] says so).
fn written(s: &str) -> Option<Written<'_>> {
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
    let dot = number.bytes().position(|c| c == b'.');
    let fraction = dot.map_or(0, |d| number.len() - d - 1);
    let second_dot = || number.bytes().rev().take(fraction).any(|c| c == b'.');
    if number.len() == usize::from(dot.is_some()) || second_dot() {
        return None;
    }
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
        exp if exp.starts_with(['e', 'E']) => {
            let digits = exp[1..].strip_prefix(['+', '-']).unwrap_or(&exp[1..]);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (i64::from(exp[1..].parse::<i32>().ok()?), 0)
        }
        _ => return None,
    };
    Some(Written {
        negative,
        number,
        fraction,
        decimal,
        binary,
    })
}

/// The exact value of a quantity, written one way whatever way it was written: `<digits>e<exp>`
/// without leading or trailing zeros in the digits (`-` in front when negative), or `0`; `None`
/// when `s` is not a valid quantity. `500m`, `0.5` and `5e-1` are all `5e-1`; `1536Mi` and
/// `1.5Gi` are both `1610612736e0`. The API server writes a quantity in its own canonical form
/// (`0.5` comes back as `500m`): this compares what a quantity means, not how it was written.
pub fn canonical(s: &str) -> Option<String> {
    canonical_with(s, |text| text.iter().copied().map(char::from).collect())
}

/// `f` of the text of [`canonical`]`(s)` (ASCII), without a `String` when the value fits in 64
/// bits (any quantity a pod holds); `None` when `s` is not a valid quantity.
pub fn canonical_with<R>(s: &str, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let w = written(s)?;
    let exponent = w.decimal - w.fraction as i64;
    let digits = w
        .number
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0');
    match small(digits.clone(), w.binary) {
        Some(value) => Some(f(written_out(&mut [0; SHORT], w.negative, value, exponent))),
        None => Some(f(
            large(w.negative, digits.collect(), w.binary, exponent).as_bytes()
        )),
    }
}

/// Room for a canonical value of 64 bits: sign, 20 digits, `e`, sign, 20 digits.
const SHORT: usize = 48;

/// The value of `digits` times 1024^`binary`, when it fits in a `u64` (else `None`, also for
/// some values just below `u64::MAX`: [`large`] writes those). The bounds are compared rather
/// than the products checked: on wasm32 a checked 64-bit product is a call to a 128-bit multiply.
fn small(digits: impl Iterator<Item = u8>, binary: u32) -> Option<u64> {
    let mut value: u64 = 0;
    for d in digits {
        if value >= u64::MAX / 10 {
            return None;
        }
        value = value * 10 + u64::from(d);
    }
    let shift = 10 * binary;
    (value.leading_zeros() >= shift).then(|| value << shift)
}

/// `value`×10^`exponent` written as [`canonical`] writes it, at the end of `buffer`.
fn written_out(
    buffer: &mut [u8; SHORT],
    negative: bool,
    mut value: u64,
    mut exponent: i64,
) -> &[u8] {
    if value == 0 {
        return b"0";
    }
    while value.is_multiple_of(10) {
        value /= 10;
        exponent += 1;
    }
    let mut at = push_back(buffer, SHORT, exponent.unsigned_abs());
    for (byte, wanted) in [(b'-', exponent < 0), (b'e', true)] {
        if wanted {
            at -= 1;
            buffer[at] = byte;
        }
    }
    at = push_back(buffer, at, value);
    if negative {
        at -= 1;
        buffer[at] = b'-';
    }
    &buffer[at..]
}

/// `n` in decimal written into `buffer` before `at`; where it starts.
fn push_back(buffer: &mut [u8], mut at: usize, mut n: u64) -> usize {
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// [`canonical`] of the decimal `digits` (most significant first) times 1024^`binary` and
/// 10^`exponent`, whatever their length.
fn large(negative: bool, mut digits: Vec<u8>, binary: u32, mut exponent: i64) -> String {
    for _ in 0..binary {
        times(&mut digits, 1024);
    }
    let Some(first) = digits.iter().position(|d| *d != 0) else {
        return "0".to_string();
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
    out
}

/// `n` in decimal appended to `out`, as `format!` writes it.
fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_digits(out, n.unsigned_abs());
}

/// `magnitude` in decimal appended to `out`.
fn push_digits(out: &mut String, magnitude: u64) {
    let mut place = 1;
    while magnitude / place >= 10 {
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
    use super::{canonical, large, parse, written};

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
    fn the_short_and_the_long_way_agree() {
        let numbers = [
            "0",
            "00",
            "0.0",
            "1",
            "10",
            "100.",
            ".5",
            "0.05",
            "120.0300",
            "007",
            "99999",
            "18446744073709551615",
            "18446744073709551616",
            "1844674407370955160",
            "1844674407370955161",
            "15",
            "16",
            "1000000000000000000000",
            "0.0000000000000000000000001",
            "12345678901234567890.5",
            "4611686018427387904",
        ];
        let suffixes = [
            "",
            "n",
            "u",
            "m",
            "k",
            "M",
            "G",
            "T",
            "P",
            "E",
            "Ki",
            "Mi",
            "Gi",
            "Ti",
            "Pi",
            "Ei",
            "e3",
            "E-2",
            "e+0",
            "e2147483647",
            "e2147483648",
            "e",
            "e-",
            "mi",
            "1",
        ];
        let mut valid = 0;
        for sign in ["", "+", "-"] {
            for number in numbers {
                for suffix in suffixes {
                    let s = format!("{sign}{number}{suffix}");
                    let (w, short) = (written(&s), canonical(&s));
                    assert_eq!(w.is_some(), parse(&s).is_some(), "{s}");
                    let Some(w) = w else { continue };
                    let fraction = w.fraction;
                    let digits = w.number.bytes().filter(u8::is_ascii_digit);
                    let digits = digits.map(|d| d - b'0').collect();
                    let exponent = w.decimal - fraction as i64;
                    let long = large(w.negative, digits, w.binary, exponent);
                    assert_eq!(short.as_deref(), Some(long.as_str()), "{s}");
                    valid += 1;
                }
            }
        }
        assert!(valid > 900, "{valid}");
        for s in ["", "+", "-", ".", "1.2.3", "+-1", "Mi", "1 Mi", "1e1.5"] {
            assert_eq!(written(s).is_some(), parse(s).is_some(), "{s:?}");
            assert_eq!(canonical(s), None, "{s:?}");
        }
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
