//! Reading JSON text in place, without building a document.
//!
//! Reading JSON text without building it: the value at a path of keys (everything else is
//! skipped, not parsed into a document), the members of one object as borrowed text, and
//! messages without the parser's positions. A fresh instance pays for every byte it builds, and
//! most requests need a few fields of a large object.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Deserializes the value at `path` (object keys, from the root) as `T`, skipping everything
/// else without building it: `None` when a step is absent or not an object, or the value is
/// `null`. With duplicate keys the last one counts, as in `serde_json::Value`.
pub struct At<'p, T>(pub &'p [&'p str], pub PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for At<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        match self.0.split_first() {
            None => Option::<T>::deserialize(d),
            Some((key, rest)) => d.deserialize_any(Step::<T> {
                key,
                rest,
                found: PhantomData,
            }),
        }
    }
}

/// One step of the path: into the value of `key`.
struct Step<'p, T> {
    key: &'p str,
    rest: &'p [&'p str],
    found: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Step<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with {:?}", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.key))? {
            if is_key {
                found = map.next_value_seed(At::<T>(self.rest, PhantomData))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
}

/// A `T` read from an object; any other value (a pod template of the wrong type) reads as
/// nothing, as a JSON pointer into it finds nothing.
pub struct ObjectOnly<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ObjectOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ObjectOnly<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| ObjectOnly(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ObjectOnly<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ObjectOnly(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ObjectOnly<T>, E> {
                Ok(ObjectOnly(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The value at `path` in the JSON `text`, read without building the rest; `None` when it is
/// not there (or `text` is not JSON).
pub fn value_at(text: &str, path: &[&str]) -> Option<serde_json::Value> {
    let mut json = serde_json::Deserializer::from_str(text);
    At::<serde_json::Value>(path, PhantomData)
        .deserialize(&mut json)
        .ok()
        .flatten()
}

/// The parser's message without " at line L column C": positions in the object's text mean
/// nothing to the person who wrote the object.
pub fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&position).unwrap_or(&text).to_string()
}

/// Appends `s` as a JSON string, escaped exactly as serde_json writes it: `"`, `\` and the
/// control characters (`\u00xx`, lowercase, for those without a short escape), nothing else.
/// Writing into one buffer spares a string per value.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    loop {
        // The plain bytes up to the next one to escape, eight at a time.
        let i = run_end(bytes, start);
        // `bytes[i]`, when there is one, is ASCII: `i` is a character boundary.
        out.push_str(&s[start..i]);
        let Some(&b) = bytes.get(i) else { break };
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push('"');
}

/// A map key compared with `key` without allocating.
struct KeyIs<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// The members of an object as (key, value text), in order, duplicates kept (`null` reads as
/// none). Keys are borrowed from the text unless they hold escapes.
pub struct Entries<'a>(pub Vec<(Key<'a>, &'a RawValue)>);

/// An object key.
pub enum Key<'a> {
    /// Borrowed from the text.
    Borrowed(&'a str),
    /// Unescaped.
    Owned(String),
}

impl Key<'_> {
    /// The key.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(k) => k,
            Key::Owned(k) => k,
        }
    }
}

impl PartialEq<str> for Key<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Entries<'de>, E> {
                Ok(Entries(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// How deep serde_json reads before it refuses (its recursion limit, with room for the envelope
/// an object is sent in).
pub const DEPTH_LIMIT: usize = 120;

/// Whether the JSON `text` nests arrays and objects more than `limit` deep.
pub fn deeper_than(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A member of a JSON object as written: its key (quotes and escapes included) and the text of
/// its value, both borrowed from the object's text.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// The key as written, quotes included.
    pub key: &'a str,
    /// Whether the key holds an escape (`\`).
    pub escaped: bool,
    /// The value's text, from its first byte to its last.
    pub value: &'a str,
}

impl Member<'_> {
    /// Whether the key, its escapes decoded, is `key`.
    pub fn key_is(&self, key: &str) -> bool {
        if self.escaped {
            return serde_json::from_str::<String>(self.key).is_ok_and(|k| k == key);
        }
        self.key.len() == key.len() + 2 && &self.key[1..self.key.len() - 1] == key
    }

    /// Appends the key as a JSON string, escaped as [`push_string`] escapes it.
    pub fn push_key(&self, out: &mut String) {
        let decoded = self
            .escaped
            .then(|| serde_json::from_str::<String>(self.key));
        match decoded {
            Some(Ok(key)) => push_string(out, &key),
            _ => out.push_str(self.key),
        }
    }
}

/// The members of the JSON object `text`, in order, duplicates kept; `None` when `text` is not
/// one object. One pass over the bytes and nothing decoded: the text is JSON the request's read
/// accepted, so only its structure is followed (on other text the answer is `None` or
/// meaningless, never a panic).
pub fn members(text: &str) -> Option<Vec<Member<'_>>> {
    let mut scan = Scan::new(text);
    scan.expect(b'{')?;
    let mut out = Vec::new();
    if scan.next_is(b'}') {
        return Some(out);
    }
    loop {
        scan.space();
        let start = scan.at;
        let escaped = scan.string()?;
        let key = text.get(start..scan.at)?;
        scan.expect(b':')?;
        let value = scan.value()?;
        out.push(Member {
            key,
            escaped,
            value,
        });
        if !scan.next_is(b',') {
            return scan.next_is(b'}').then_some(out);
        }
    }
}

/// The elements of the JSON array `text` as their texts, in order; `None` when `text` is not
/// one array. Read as [`members`] reads an object.
pub fn elements(text: &str) -> Option<Vec<&str>> {
    let mut scan = Scan::new(text);
    scan.expect(b'[')?;
    let mut out = Vec::new();
    if scan.next_is(b']') {
        return Some(out);
    }
    loop {
        out.push(scan.value()?);
        if !scan.next_is(b',') {
            return scan.next_is(b']').then_some(out);
        }
    }
}

/// A cursor over JSON text that follows its structure: strings, nesting, the rest.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan { text, at: 0 }
    }

    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.byte() {
            self.at += 1;
        }
    }

    /// Past `b` after any whitespace, or `None`.
    fn expect(&mut self, b: u8) -> Option<()> {
        self.next_is(b).then_some(())
    }

    /// Past `b` when it comes next after any whitespace.
    fn next_is(&mut self, b: u8) -> bool {
        self.space();
        let is = self.byte() == Some(b);
        self.at += usize::from(is);
        is
    }

    /// Past the string that starts here; whether it holds an escape.
    fn string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let mut escaped = false;
        let mut i = self.at + 1;
        loop {
            i = run_end(bytes, i);
            match *bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.at = i + 1;
        Some(escaped)
    }

    /// Past the value that comes next; its text.
    fn value(&mut self) -> Option<&'a str> {
        self.space();
        let start = self.at;
        match self.byte()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => self.nested()?,
            _ => {
                while let Some(b) = self.byte() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.at += 1;
                }
            }
        }
        self.text.get(start..self.at).filter(|v| !v.is_empty())
    }

    /// Past the object or array that starts here.
    fn nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.byte()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }
}

/// A strict reader of JSON text for the few members a request needs, in one pass that checks
/// everything else without building it. It accepts only JSON that serde_json reads the same way
/// (and refuses some that serde_json would read, such as a key with escapes or nesting deeper
/// than [`Scanner::MAX_DEPTH`]): a caller whose scan returns `None` reads the text with
/// serde_json, which then says what is wrong or reads what the scanner left to it.
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

/// The bytes that end the plain run of a string: `"`, `\` and the control characters.
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// Fills `slot` with the first value of a member a [`Scanner`] reads; a second one (which
/// serde_json's derived readers refuse, and its documents read as the last) is `None`: left to
/// serde_json.
pub fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// The position of the first `"`, `\` or control character of `bytes` from `i` on (the length
/// when there is none), eight bytes at a time while eight are left (a byte is flagged when it is
/// below 0x20, or equal to one of the two once xored with it; the lowest flag is exact), then
/// byte by byte.
fn run_end(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w;
        let flags = (below(w, 0x20) | below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1))
            & (ONES << 7);
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if STRING_STOP[usize::from(b)] {
            break;
        }
        i += 1;
    }
    i
}

/// The position past the closing quote of the string whose content starts at `i` in `bytes`,
/// its escapes checked (`\u` with four hex digits, as serde_json checks a string it skips) and
/// no control character in it; `None` for anything else.
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = run_end(bytes, i);
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i = escape_end(bytes, i)?,
            _ => return None,
        }
    }
}

/// The position past the escape at `i` (its `\`), checked.
#[cold]
fn escape_end(bytes: &[u8], i: usize) -> Option<usize> {
    match *bytes.get(i + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 2),
        b'u' => {
            let hex = bytes.get(i + 2..i + 6)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(i + 6)
        }
        _ => None,
    }
}

/// The first byte at or after `*pos` that is not whitespace (as JSON counts it), `*pos` moved
/// onto it, not past it. Every byte that may start or follow a value is above the space.
#[inline(always)]
fn peek_at(bytes: &[u8], pos: &mut usize) -> Option<u8> {
    let b = *bytes.get(*pos)?;
    if b > b' ' {
        return Some(b);
    }
    peek_past_space(bytes, pos)
}

/// [`peek_at`] where the byte at `*pos` may be whitespace.
fn peek_past_space(bytes: &[u8], pos: &mut usize) -> Option<u8> {
    while let Some(&b) = bytes.get(*pos) {
        if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
            return Some(b);
        }
        *pos += 1;
    }
    None
}

/// The position past the value that starts at `pos` (after whitespace) in `bytes`, checked as
/// [`Scanner::skip_value`] checks it.
fn value_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    // One bit per open container, 1 for an object.
    let (mut open, mut depth) = (0u128, 0u32);
    loop {
        match peek_at(bytes, &mut pos)? {
            b'"' => pos = string_end(bytes, pos + 1)?,
            b'{' | b'[' if depth == Scanner::MAX_DEPTH => return None,
            b'{' => {
                pos += 1;
                (open, depth) = (open << 1 | 1, depth + 1);
                if peek_at(bytes, &mut pos)? != b'}' {
                    pos = key_end(bytes, pos)?;
                    continue;
                }
            }
            b'[' => {
                pos += 1;
                (open, depth) = (open << 1, depth + 1);
                if peek_at(bytes, &mut pos)? != b']' {
                    continue;
                }
            }
            b't' => pos = literal_end(bytes, pos, b"true")?,
            b'f' => pos = literal_end(bytes, pos, b"false")?,
            b'n' => pos = literal_end(bytes, pos, b"null")?,
            b'-' | b'0'..=b'9' => pos = number_end(bytes, pos)?,
            _ => return None,
        }
        // After a value: the containers that end here close; a `,` asks for the next value (a
        // key first inside an object).
        loop {
            if depth == 0 {
                return Some(pos);
            }
            let in_object = open & 1 == 1;
            match peek_at(bytes, &mut pos)? {
                b',' => {
                    pos += 1;
                    if in_object {
                        pos = key_end(bytes, pos)?;
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            pos += 1;
            (open, depth) = (open >> 1, depth - 1);
        }
    }
}

/// The position past the key that starts at `pos` (after whitespace) and its colon.
fn key_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    if peek_at(bytes, &mut pos)? != b'"' {
        return None;
    }
    pos = string_end(bytes, pos + 1)?;
    (peek_at(bytes, &mut pos)? == b':').then_some(pos + 1)
}

/// The position past `word` when it is written at `pos`.
fn literal_end(bytes: &[u8], pos: usize, word: &[u8]) -> Option<usize> {
    let end = pos + word.len();
    (bytes.get(pos..end)? == word).then_some(end)
}

/// The position past the number at `pos`, written as JSON writes one: `-`, an integer without
/// leading zeros, a fraction, an exponent.
fn number_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let digits = |mut pos: usize| {
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        pos
    };
    pos += usize::from(bytes.get(pos) == Some(&b'-'));
    pos = match *bytes.get(pos)? {
        b'0' => pos + 1,
        b'1'..=b'9' => digits(pos),
        _ => return None,
    };
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        bytes.get(pos)?.is_ascii_digit().then_some(())?;
        pos = digits(pos);
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        pos += usize::from(matches!(bytes.get(pos), Some(b'+' | b'-')));
        bytes.get(pos)?.is_ascii_digit().then_some(())?;
        pos = digits(pos);
    }
    Some(pos)
}

impl<'a> Scanner<'a> {
    /// The deepest nesting the scanner reads (serde_json's own limit is deeper).
    pub const MAX_DEPTH: u32 = 100;

    /// A scanner at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    /// The next byte that is not whitespace (as JSON counts it), not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        peek_at(self.text.as_bytes(), &mut self.pos)
    }

    /// The byte offset of the scanner in its text.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Consumes `b` (after whitespace).
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// The members of the object that starts here: `member` is called with each key (keys with
    /// escapes are refused) and must read the value.
    pub fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The elements of the array that starts here: `element` must read each.
    pub fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null`, consumed: `Some(true)`; any other value is left to read: `Some(false)`.
    pub fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        self.literal(b"null")?;
        Some(true)
    }

    /// `null` (`None`) or a string without escapes.
    pub fn plain_string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.null()? {
            return Some(None);
        }
        self.plain_string().map(Some)
    }

    /// `null` (`None`) or the text of any other value, checked.
    pub fn raw_value_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.null()? {
            return Some(None);
        }
        self.raw_value().map(Some)
    }

    /// A string without escapes, as its text.
    pub fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let end = run_end(bytes, start);
        (*bytes.get(end)? == b'"').then_some(())?;
        self.pos = end + 1;
        // The bytes before are not ASCII-special: the quote is a character boundary.
        self.text.get(start..end)
    }

    /// The text of the value that starts here, checked.
    pub fn raw_value(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip_value()?;
        self.text.get(start..self.pos)
    }

    /// Skips the value that starts here, checking it: strings (their escapes and control
    /// characters), numbers, literals, and the nesting of arrays and objects.
    pub fn skip_value(&mut self) -> Option<()> {
        self.pos = value_end(self.text.as_bytes(), self.pos)?;
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.pos = literal_end(self.text.as_bytes(), self.pos, word)?;
        Some(())
    }

    /// Runs `read` on the value that starts here: the value's text and what `read` made of it;
    /// on `None` the scanner is back before the value, for another reading of it.
    pub fn read_spanned<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<(&'a str, T)> {
        self.peek()?;
        let start = self.pos;
        let read = read(self).and_then(|value| Some((self.text.get(start..self.pos)?, value)));
        if read.is_none() {
            self.pos = start;
        }
        read
    }
}

/// A cursor over JSON text that the request's read accepted, followed as [`members`] and
/// [`elements`] follow it (only its structure, nothing decoded), for a reader that descends into
/// the values it needs and skips the others: one pass over the text where reading the members of
/// an object, then of an object inside it, would go over the inner one twice.
pub struct Walk<'a> {
    scan: Scan<'a>,
}

impl<'a> Walk<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Walk {
            scan: Scan::new(text),
        }
    }

    /// The first byte of the value that comes next (after whitespace), not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.scan.space();
        self.scan.byte()
    }

    /// Past the value that comes next; its text.
    pub fn skip(&mut self) -> Option<&'a str> {
        self.scan.value()
    }

    /// Past the object that comes next: `member` is called with each member (its `value` empty:
    /// not read yet), must read the value and return its text. The object's text and its members
    /// as [`members`] gives them.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &Member<'a>) -> Option<&'a str>,
    ) -> Option<(&'a str, Vec<Member<'a>>)> {
        self.items([b'{', b'}'], 8, |walk| {
            walk.scan.space();
            let key_start = walk.scan.at;
            let escaped = walk.scan.string()?;
            let key = walk.scan.text.get(key_start..walk.scan.at)?;
            walk.scan.expect(b':')?;
            let mut m = Member {
                key,
                escaped,
                value: "",
            };
            m.value = member(walk, &m).filter(|v| !v.is_empty())?;
            Some(m)
        })
    }

    /// Past the array that comes next: `element` must read each element and return its text.
    /// The array's text and its elements as [`elements`] gives them.
    pub fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Option<&'a str>,
    ) -> Option<(&'a str, Vec<&'a str>)> {
        self.items([b'[', b']'], 4, |walk| {
            element(walk).filter(|v| !v.is_empty())
        })
    }

    /// Past the object or array between `open` and `close` that comes next, each item read by
    /// `item` (room made for `expected` of them); its text and its items.
    fn items<T>(
        &mut self,
        [open, close]: [u8; 2],
        expected: usize,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<(&'a str, Vec<T>)> {
        self.scan.space();
        let start = self.scan.at;
        self.scan.expect(open)?;
        let mut out = Vec::with_capacity(expected);
        if !self.scan.next_is(close) {
            loop {
                out.push(item(self)?);
                if !self.scan.next_is(b',') {
                    self.scan.expect(close)?;
                    break;
                }
            }
        }
        Some((self.scan.text.get(start..self.scan.at)?, out))
    }
}

/// `null` (`None`) or what `read` reads of the value that starts here.
pub fn or_null<'a, T>(
    scan: &mut Scanner<'a>,
    read: impl FnOnce(&mut Scanner<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if scan.null()? {
        return Some(None);
    }
    read(scan).map(Some)
}

/// The member `name` of the object that starts here, read by `read`, the other members skipped:
/// `Some(None)` when it is absent or `null`; `None` when it is given twice (left to serde_json).
pub fn member<'a, T>(
    scan: &mut Scanner<'a>,
    name: &str,
    mut read: impl FnMut(&mut Scanner<'a>) -> Option<Option<T>>,
) -> Option<Option<T>> {
    let mut found = None;
    scan.members(|scan, key| match key {
        _ if key == name => once(&mut found, read(scan)?),
        _ => scan.skip_value(),
    })?;
    Some(found.flatten())
}

/// `value` in decimal, as `{value}` writes it, without the formatting machinery (whose first use
/// in a fresh instance costs more than the digits).
pub fn push_integer(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut rest = value.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_display_writes_them() {
        for value in [0, 7, -7, 10, 65532, -100, i64::MAX, i64::MIN] {
            let mut out = String::from("x");
            push_integer(&mut out, value);
            assert_eq!(out, format!("x{value}"));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "plain",
            "a\"b\\c/d",
            "é ü 日本 \u{7f} \u{2028} 🎉",
            &every_ascii,
        ] {
            let mut out = String::from("x");
            push_string(&mut out, s);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(s).unwrap()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn plain_runs_end_at_the_first_special_byte() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        for start in 0..bytes.len() {
            for len in [0, 1, 7, 8, 9, 17, 40] {
                let end = (start + len).min(bytes.len());
                let text = &bytes[start..end];
                let want = text
                    .iter()
                    .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                    .unwrap_or(text.len());
                assert_eq!(run_end(text, 0), want, "{text:?}");
            }
        }
        let mut long = vec![b'a'; 30];
        long.extend_from_slice("é\"".as_bytes());
        assert_eq!(run_end(&long, 0), 32);
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert!(!deeper_than(r#"{"a": [[1]], "b": "[[[[[["}"#, 3));
        assert!(deeper_than(r#"{"a": [[[1]]]}"#, 3));
        assert!(!deeper_than(r#"{"a": "\\", "b": "\"[["}"#, 1));
    }

    #[test]
    fn values_at_a_path_and_entries() {
        let text = r#"{"spec": {"template": {"x": 1}}, "kind": "Pod", "kind": "Job"}"#;
        assert_eq!(value_at(text, &["kind"]), Some(serde_json::json!("Job")));
        assert_eq!(
            value_at(text, &["spec", "template", "x"]),
            Some(serde_json::json!(1))
        );
        assert_eq!(value_at(text, &["spec", "nope"]), None);
        assert_eq!(value_at(text, &["kind", "deeper"]), None);
        let entries: Entries = serde_json::from_str(text).unwrap();
        assert_eq!(entries.0.len(), 3);
    }

    #[test]
    fn members_and_elements_are_the_texts_serde_json_reads() {
        let text =
            "{ \"a\" : [1, {\"x\": \"]}\"}] ,\"b\\u0041\":\"q\\\"\" , \"c\":-1.5e3,\"a\":null }";
        let got = members(text).unwrap();
        let raw: Entries = serde_json::from_str(text).unwrap();
        assert_eq!(got.len(), raw.0.len());
        for (m, (k, v)) in got.iter().zip(&raw.0) {
            assert!(m.key_is(k.as_str()), "{}", m.key);
            assert_eq!(m.value, v.get());
            let mut key = String::new();
            m.push_key(&mut key);
            assert_eq!(key, serde_json::to_string(k.as_str()).unwrap());
        }
        assert!(got[1].escaped && got[1].key_is("bA") && !got[0].key_is("b"));
        assert_eq!(
            elements(" [ 1 , \"2\",[3] ] ").unwrap(),
            ["1", "\"2\"", "[3]"]
        );
        assert_eq!(elements("[]").unwrap().len(), 0);
        assert_eq!(members("{}").unwrap().len(), 0);
        for bad in [
            "",
            "[1]",
            "{\"a\"}",
            "{\"a\":1",
            "{\"a\":[1}",
            "{\"é",
            "{\"\\",
            "{1:2}",
        ] {
            assert!(members(bad).is_none(), "{bad}");
        }
        for bad in ["", "{}", "[1", "[1 2]", "[\"]", "[,]", "[{]"] {
            assert!(elements(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_strings_plain_run_ends_at_the_first_byte_to_escape() {
        for s in [
            "",
            "plain",
            "0123456789abcdef",
            "é ü 日本 \u{7f} 🎉 and more text",
        ] {
            assert_eq!(run_end(s.as_bytes(), 0), s.len(), "{s:?}");
        }
        for at in 0..20 {
            for bad in ['"', '\\', '\n', '\u{1f}', '\0'] {
                let s = format!("{}{bad}tail", "x".repeat(at));
                assert_eq!(run_end(s.as_bytes(), 0), at, "{s:?}");
            }
        }
    }

    /// A walk that descends reads what `members` and `elements` read, value by value.
    #[test]
    fn a_walk_reads_what_members_and_elements_read() {
        fn walk_value<'a>(walk: &mut Walk<'a>, out: &mut Vec<String>) -> Option<&'a str> {
            match walk.peek()? {
                b'{' => {
                    let (text, fields) = walk.object(|w, _| walk_value(w, out))?;
                    assert_eq!(format!("{:?}", members(text)?), format!("{fields:?}"));
                    out.push(text.to_string());
                    Some(text)
                }
                b'[' => {
                    let (text, items) = walk.array(|w| walk_value(w, out))?;
                    assert_eq!(elements(text)?, items);
                    out.push(text.to_string());
                    Some(text)
                }
                _ => walk.skip(),
            }
        }
        let text = r#" { "a" : [ 1 , { "b\"c" : "d,}" } , [ ] ] , "e" : { } , "f": null } "#;
        let mut seen = Vec::new();
        let whole = walk_value(&mut Walk::new(text), &mut seen).unwrap();
        assert_eq!(whole, text.trim());
        assert_eq!(seen.len(), 5, "{seen:?}");
        for bad in ["{\"a\" 1}", "[1 2]", "{\"a\":1", "1"] {
            let mut walk = Walk::new(bad);
            let read = walk.object(|w, _| w.skip()).map(|_| ());
            let read = read.or_else(|| Walk::new(bad).array(|w| w.skip()).map(|_| ()));
            assert!(read.is_none(), "{bad}");
        }
    }

    /// A second reading of the same grammar, written plainly (the position kept in the struct, a
    /// function per token): the
    /// reference the scanner's faster loops must match (what it accepts, where it stops, what it
    /// refuses).
    mod reference {
        pub struct Plain<'a> {
            pub text: &'a str,
            pub pos: usize,
        }

        fn plain_run(bytes: &[u8]) -> usize {
            const ONES: u64 = u64::MAX / 255;
            let mut chunks = bytes.chunks_exact(8);
            let mut run = 0;
            for chunk in &mut chunks {
                let w = u64::from_le_bytes(chunk.try_into().unwrap());
                let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w;
                let flags =
                    (below(w, 0x20) | below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1))
                        & (ONES << 7);
                if flags != 0 {
                    return run + (flags.trailing_zeros() / 8) as usize;
                }
                run += 8;
            }
            let rest = chunks.remainder();
            run + rest
                .iter()
                .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                .unwrap_or(rest.len())
        }

        impl<'a> Plain<'a> {
            fn byte(&self) -> Option<u8> {
                self.text.as_bytes().get(self.pos).copied()
            }

            pub fn peek(&mut self) -> Option<u8> {
                while let Some(b) = self.byte() {
                    if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                        return Some(b);
                    }
                    self.pos += 1;
                }
                None
            }

            fn eat(&mut self, b: u8) -> Option<()> {
                (self.peek()? == b).then(|| self.pos += 1)
            }

            pub fn plain_string(&mut self) -> Option<&'a str> {
                self.eat(b'"')?;
                let start = self.pos;
                let bytes = self.text.as_bytes();
                let end = start + plain_run(&bytes[start..]);
                (*bytes.get(end)? == b'"').then_some(())?;
                self.pos = end + 1;
                self.text.get(start..end)
            }

            pub fn skip_value(&mut self) -> Option<()> {
                let (mut open, mut depth) = (0u128, 0u32);
                loop {
                    match self.peek()? {
                        b'{' | b'[' if depth == 100 => return None,
                        b'{' => {
                            self.pos += 1;
                            (open, depth) = (open << 1 | 1, depth + 1);
                            if self.peek()? != b'}' {
                                self.key()?;
                                continue;
                            }
                        }
                        b'[' => {
                            self.pos += 1;
                            (open, depth) = (open << 1, depth + 1);
                            if self.peek()? != b']' {
                                continue;
                            }
                        }
                        b'"' => self.skip_string()?,
                        b't' => self.literal(b"true")?,
                        b'f' => self.literal(b"false")?,
                        b'n' => self.literal(b"null")?,
                        b'-' | b'0'..=b'9' => self.number()?,
                        _ => return None,
                    }
                    if depth == 0 || self.after_value(&mut open, &mut depth)? {
                        return Some(());
                    }
                }
            }

            fn after_value(&mut self, open: &mut u128, depth: &mut u32) -> Option<bool> {
                loop {
                    let in_object = *open & 1 == 1;
                    match self.peek()? {
                        b',' => {
                            self.pos += 1;
                            if in_object {
                                self.key()?;
                            }
                            return Some(false);
                        }
                        b'}' if in_object => {}
                        b']' if !in_object => {}
                        _ => return None,
                    }
                    self.pos += 1;
                    (*open, *depth) = (*open >> 1, *depth - 1);
                    if *depth == 0 {
                        return Some(true);
                    }
                }
            }

            fn key(&mut self) -> Option<()> {
                if self.peek()? != b'"' {
                    return None;
                }
                self.skip_string()?;
                self.eat(b':')
            }

            fn skip_string(&mut self) -> Option<()> {
                let bytes = self.text.as_bytes();
                let mut pos = self.pos + 1;
                loop {
                    pos += plain_run(bytes.get(pos..)?);
                    match *bytes.get(pos)? {
                        b'"' => {
                            self.pos = pos + 1;
                            return Some(());
                        }
                        b'\\' => match *bytes.get(pos + 1)? {
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 2,
                            b'u' => {
                                let hex = bytes.get(pos + 2..pos + 6)?;
                                hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                                pos += 6;
                            }
                            _ => return None,
                        },
                        _ => return None,
                    }
                }
            }

            fn literal(&mut self, word: &[u8]) -> Option<()> {
                let end = self.pos + word.len();
                (self.text.as_bytes().get(self.pos..end)? == word).then_some(())?;
                self.pos = end;
                Some(())
            }

            fn number(&mut self) -> Option<()> {
                if self.byte() == Some(b'-') {
                    self.pos += 1;
                }
                match self.byte()? {
                    b'0' => self.pos += 1,
                    b'1'..=b'9' => self.digits(),
                    _ => return None,
                }
                if self.byte() == Some(b'.') {
                    self.pos += 1;
                    self.byte()?.is_ascii_digit().then_some(())?;
                    self.digits();
                }
                if matches!(self.byte(), Some(b'e' | b'E')) {
                    self.pos += 1;
                    if matches!(self.byte(), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                    self.byte()?.is_ascii_digit().then_some(())?;
                    self.digits();
                }
                Some(())
            }

            fn digits(&mut self) {
                while self.byte().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
    }

    /// Texts to scan: the seeds, every prefix of each (truncated input), and each with one ASCII
    /// byte replaced by one that matters to the scanner.
    fn made_texts() -> Vec<String> {
        let padded = |n: usize, tail: &str| format!("\"{}{tail}", "a".repeat(n));
        let mut seeds: Vec<String> = vec![
            r#"{"a":[1,{"x":"]}"}],"b\u0041":"q\"","c":-1.5e3,"d":null,"e":true,"f":false}"#.into(),
            r#" { "k" : [ 0 , -0.5 , 1E+9 , 2e-3 , "" , { } , [ ] ] } "#.into(),
            "{\"\\u00e9\\/\\b\\f\\n\\r\\t\":\"é ü 日本 🎉 \\ud83c\"}".into(),
            "[\"tab\there\",\"nl\nhere\",\"x\u{1}\"]".into(),
            "\t\n\r 12 ".into(),
            format!("{}{}", "[".repeat(100), "]".repeat(100)),
            format!("{}{}", "[".repeat(101), "]".repeat(101)),
            format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100)),
        ];
        for n in 0..=17 {
            for tail in [
                "\"",
                "\\\"x\"",
                "\\u12aF\"",
                "\\u12g0\"",
                "\\x\"",
                "\u{1f}\"",
                "é\"",
                "日\"x",
            ] {
                seeds.push(padded(n, tail));
                seeds.push(format!("{{{}:{}}}", padded(n, tail), padded(17 - n, "\"")));
            }
        }
        let mut texts = Vec::new();
        for seed in &seeds {
            for end in (0..=seed.len()).filter(|&i| seed.is_char_boundary(i)) {
                texts.push(seed[..end].to_string());
            }
            for (i, c) in seed.char_indices().filter(|(_, c)| c.is_ascii()) {
                for b in "\"\\\n\u{1} ,:}]u0e.-".chars().filter(|&b| b != c) {
                    let mut t = seed.clone();
                    t.replace_range(i..i + 1, b.encode_utf8(&mut [0; 4]));
                    texts.push(t);
                }
            }
        }
        texts
    }

    /// The scanner reads every made text as the reference reads it: the same answer and
    /// the same position after it, from every starting point.
    #[test]
    fn the_scanner_reads_what_the_reference_reads() {
        let texts = made_texts();
        assert!(texts.len() > 10_000, "{}", texts.len());
        for text in &texts {
            for start in (0..text.len())
                .filter(|&i| text.is_char_boundary(i))
                .take(40)
            {
                let (mut new, mut old) =
                    (Scanner::new(text), reference::Plain { text, pos: start });
                new.pos = start;
                let (read, want) = (new.skip_value(), old.skip_value());
                assert_eq!(read, want, "skip {start} {text:?}");
                if read.is_some() {
                    assert_eq!(new.pos, old.pos, "skip {start} {text:?}");
                }
                let (mut new, mut old) =
                    (Scanner::new(text), reference::Plain { text, pos: start });
                new.pos = start;
                assert_eq!(new.plain_string(), old.plain_string(), "{start} {text:?}");
                assert_eq!(new.peek(), old.peek(), "{start} {text:?}");
                assert_eq!(new.pos, old.pos, "{start} {text:?}");
            }
            // What the scanner accepts whole, serde_json reads.
            let mut whole = Scanner::new(text);
            if whole.skip_value().and_then(|()| whole.end()).is_some() {
                assert!(
                    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                    "{text:?}"
                );
            }
        }
    }
}
