//! Searches for an ASCII separator (or `://`) in short texts, byte by byte.
//!
//! `str`'s searches for a `char` cost more to set up than these loops cost to run over an image
//! reference or a URL's authority, and they run on every admission. The separator is ASCII, so
//! every position found is a character boundary.

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
}
