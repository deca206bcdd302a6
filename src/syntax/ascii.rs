//! Searches for an ASCII separator (or `://`) in short texts, with plain loops.
//!
//! `str`'s searches for a `char` cost more to set up than these loops cost to run over an image
//! reference or a URL's authority, and they run on every admission: byte by byte, or eight bytes
//! at a time where a text is mostly passed over. The separator is ASCII, so every position found
//! is a character boundary.

/// `s` split at the first `sep`, as `str::split_once` splits it.
pub fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` split at the last `sep`, as `str::rsplit_once` splits it.
pub fn rsplit_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = rfind(s, sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The position of the last `sep` in `s`.
pub fn rfind(s: &str, sep: u8) -> Option<usize> {
    s.bytes().rposition(|c| c == sep)
}

/// `s` split at the first `://` (a URL's scheme and the rest), as `str::split_once("://")`
/// splits it.
pub fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let i = (0..b.len()).find(|&i| b[i] == b':' && b.get(i + 1..i + 3) == Some(b"//"))?;
    Some((&s[..i], &s[i + 3..]))
}

/// The position of the first byte of `s` that is one of `set`, as `s.bytes().position(|b|
/// set.contains(&b))` finds it, eight bytes at a time: a long text without any (a URL's
/// authority) is passed over a word per step, and the word that has one is read byte by byte.
pub fn find_any(s: &str, set: &[u8; 3]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(word) = bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*word);
        // A byte of `word ^ splat(b)` is zero where `word` has `b`; the test below is nonzero
        // exactly when some byte is zero.
        let hits = set.iter().fold(0, |acc, &b| {
            let x = word ^ (ONES * u64::from(b));
            acc | (x.wrapping_sub(ONES) & !x & HIGHS)
        });
        if hits != 0 {
            break;
        }
        start += 8;
    }
    let rest = bytes.get(start..).unwrap_or_default();
    rest.iter().position(|b| set.contains(b)).map(|i| start + i)
}

/// The parts of `s` between the `sep`s, as `str::split` gives them.
pub fn parts(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let text = rest?;
        let (part, after) = split_once(text, sep).unzip();
        rest = after;
        Some(part.unwrap_or(text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_searches_find_what_strs_find() {
        for s in [
            "",
            "a",
            "a/",
            "/a",
            "a//b",
            "r\u{e9}/gi.on/x:1",
            "//",
            "\u{1f600}/\u{e9}",
            "http://h:1",
            "a:b://c://d",
            ":/:",
            "x:/",
            "://",
        ] {
            assert_eq!(
                parts(s, b'/').collect::<Vec<_>>(),
                s.split('/').collect::<Vec<_>>()
            );
            assert_eq!(split_once(s, b'/'), s.split_once('/'), "{s}");
            assert_eq!(rsplit_once(s, b'/'), s.rsplit_once('/'), "{s}");
            assert_eq!(rfind(s, b'/'), s.rfind('/'), "{s}");
            assert_eq!(split_scheme(s), s.split_once("://"), "{s}");
        }
    }

    #[test]
    fn a_search_for_any_of_three_bytes_finds_what_position_finds() {
        let set = b"/?#";
        let alphabet = [
            "a", "/", "?", "#", ".", ":", "\u{e9}", "\u{7f}", "\u{80}", "0", "\u{2f}x",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut found = 0;
        for len in 0..40 {
            for _ in 0..50 {
                let mut s = String::new();
                for _ in 0..len {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    // Mostly plain bytes, so that the set's bytes sit at every offset of a word.
                    let pick = (state >> 33) as usize % (alphabet.len() * 4);
                    s.push_str(alphabet.get(pick).copied().unwrap_or("b"));
                }
                let expected = s.bytes().position(|b| set.contains(&b));
                assert_eq!(find_any(&s, set), expected, "{s:?}");
                found += usize::from(expected.is_some_and(|i| i >= 8));
            }
        }
        assert!(found > 500, "{found}");
    }
}
