//! A digest of any serializable value, the same whatever the order of its object keys.
//!
//! The record's hash and a settings spec's version are digests of typed values (the plan, the
//! spec) and, in the audit, of the same parts read back from the pod the API server stored: the
//! two must agree whenever the values agree. So the digest is computed over what a value means:
//!
//! - an object's members are combined in any order (a sum of one digest per member), so that a
//!   typed struct, a sorted map and a JSON document with its keys in any order give one digest;
//!   a list's items in their order;
//! - what Kubernetes does not keep is not counted: `null`, `""`, `false`, `0`, `[]` and `{}` (the
//!   Go types' `omitempty`), and the values the API server writes in as defaults where the plan
//!   writes none (`fieldRef.apiVersion: v1`, `terminationMessagePath: /dev/termination-log`,
//!   `terminationMessagePolicy: File`, the `imagePullPolicy` the image's tag implies,
//!   `defaultMode: 420`, `volumeMode: Filesystem`, `procMount: Default`, a request equal to its
//!   limit, a zero `divisor`);
//! - a quantity counts by its value (`0.5` and `500m` are one value; the API server writes the
//!   second for the first).
//!
//! The hash is 64 bits of a multiply-rotate hash over the bytes with a splitmix64 finalizer: a
//! fingerprint that tells different injections apart, not a security measure (whoever can edit a
//! pod's spec can edit its annotations too).

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::operator::{
    DEFAULT_LIMIT_CPU, DEFAULT_LIMIT_MEMORY, DEFAULT_REQUEST_CPU, DEFAULT_REQUEST_MEMORY,
    DEFAULT_VOLUME_SIZE_LIMIT,
};
use crate::syntax::quantity;

/// The digest of `value`.
pub fn of<T: Serialize + ?Sized>(value: &T) -> u64 {
    value.serialize(Ser::root()).map_or(NONE, |out| out.hash)
}

/// The digest of `value`, the member `name` of an object whose own key has no rules (`name`'s
/// may apply). What [`of`] computes for that member's value.
pub(super) fn value_at<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<u64, Failed> {
    let ctx = Ctx {
        key: Key::of(name),
        ..ROOT
    };
    Ok(value.serialize(Ser { ctx })?.hash)
}

/// The digest of the string `v`, the member `name` of an object whose own key is `parent` and
/// whose members before it implied the pull policy `pull_default`; and the pull policy `v`
/// implies when `name` is an image's. What [`of`] computes for that member's value.
pub(super) fn string_at(
    parent: &str,
    name: &str,
    pull_default: Option<&'static str>,
    v: &str,
) -> (u64, Option<&'static str>) {
    let ctx = Ctx {
        key: Key::of(name),
        parent: Key::of(parent),
        pull_default,
        limits: &[],
    };
    let out = Ser { ctx }.string(v);
    (out.hash, out.pull_default)
}

/// The digest of the quantity `v` where its key has no other rules (a resource's, a
/// `sizeLimit`): by its value, or as written when it is not a quantity; nothing when empty.
pub(super) fn quantity(v: &str) -> u64 {
    if v.is_empty() {
        NONE
    } else {
        quantity_value(v).1
    }
}

/// Whether the quantity `v` is zero, and its digest: by its value, or as written when it is not
/// a quantity.
fn quantity_value(v: &str) -> (bool, u64) {
    if let Some((_, digest)) = DEFAULT_QUANTITIES.iter().find(|(text, _)| *text == v) {
        return (false, *digest);
    }
    let value = |c: &[u8]| (c == b"0", leaf(STR, c));
    quantity::canonical_with(v, value).unwrap_or_else(|| (false, leaf(STR, v.as_bytes())))
}

/// The operator's default quantities, which nearly every injection writes, with their canonical
/// forms (a test checks each against [`quantity::canonical`]).
const DEFAULT_CANONICAL: [(&str, &str); 5] = [
    (DEFAULT_LIMIT_CPU, "5e-1"),
    (DEFAULT_LIMIT_MEMORY, "268435456e0"),
    (DEFAULT_REQUEST_CPU, "5e-2"),
    (DEFAULT_REQUEST_MEMORY, "67108864e0"),
    (DEFAULT_VOLUME_SIZE_LIMIT, "2097152e2"),
];

/// [`DEFAULT_CANONICAL`] with the digests of the canonical forms, computed by the compiler: the
/// default quantities are not taken apart on every admission.
const DEFAULT_QUANTITIES: [(&str, u64); 5] = {
    let mut out = [("", 0); 5];
    let mut i = 0;
    while i < out.len() {
        let (text, canonical) = DEFAULT_CANONICAL[i];
        out[i] = (text, leaf(STR, canonical.as_bytes()));
        i += 1;
    }
    out
};

/// Whether the key `name` has no rules of its own (nor does its value).
pub(super) fn plain(name: &str) -> bool {
    Key::of(name) == Key::Other
}

/// What counts as nothing: absent, `null`, empty.
pub(super) const NONE: u64 = 0x6e6f_6e65_6e6f_6e65;
const K: u64 = 0x9e37_79b9_7f4a_7c15;
const STR: u64 = 1;
const INT: u64 = 2;
const BOOL: u64 = 3;
const FLOAT: u64 = 4;
const SEQ: u64 = 5;
const MAP: u64 = 6;

/// splitmix64's finalizer.
const fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The hash of `bytes` of the kind `tag` (a `const fn`: the names of fields are hashed once, by
/// the compiler, in [`key`]).
const fn leaf(tag: u64, bytes: &[u8]) -> u64 {
    let mut h = tag.wrapping_mul(K) ^ bytes.len() as u64;
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        h = (h ^ u64::from_le_bytes(*word))
            .wrapping_mul(K)
            .rotate_left(29);
        rest = tail;
    }
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        let mut i = 0;
        while i < rest.len() {
            last[i] = rest[i];
            i += 1;
        }
        h = (h ^ u64::from_le_bytes(last))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    mix(h)
}

/// The digest of an object key (or of a field name): the digest of the string.
pub(super) const fn key(name: &str) -> u64 {
    leaf(STR, name.as_bytes())
}

/// The digest of a string where its key has no rules: nothing when empty.
pub(super) const fn text(v: &str) -> u64 {
    if v.is_empty() {
        NONE
    } else {
        leaf(STR, v.as_bytes())
    }
}

/// The digest of a boolean: nothing when `false`.
pub(super) fn flag(v: bool) -> u64 {
    if v { leaf(BOOL, &[1]) } else { NONE }
}

/// An object's digest being summed: its members in any order, what counts as nothing left out.
#[derive(Clone, Copy, Default)]
pub(super) struct Object {
    sum: u64,
    len: u64,
}

impl Object {
    /// An object without members (a `const fn`, as [`Object::member`] and [`Object::finish`]).
    pub(super) const fn new() -> Object {
        Object { sum: 0, len: 0 }
    }

    /// The member `key` (its digest) of the value `value` (its digest).
    pub(super) const fn member(&mut self, key: u64, value: u64) {
        if value != NONE {
            self.sum = self.sum.wrapping_add(mix(key.wrapping_mul(K) ^ value));
            self.len += 1;
        }
    }

    /// The object's digest.
    pub(super) const fn finish(self) -> u64 {
        if self.len == 0 {
            NONE
        } else {
            mix(MAP.wrapping_mul(K) ^ self.sum ^ self.len.rotate_left(32))
        }
    }
}

/// A list's digest being computed: its items in order.
pub(super) struct List {
    acc: u64,
    len: u64,
}

impl List {
    /// An empty list.
    pub(super) fn new() -> List {
        List { acc: SEQ, len: 0 }
    }

    /// The next item (its digest).
    pub(super) fn push(&mut self, item: u64) {
        self.acc = mix(self.acc.rotate_left(7) ^ item);
        self.len += 1;
    }

    /// The list's digest.
    pub(super) fn finish(self) -> u64 {
        if self.len == 0 {
            NONE
        } else {
            mix(self.acc ^ self.len.wrapping_mul(K))
        }
    }
}

/// A list of `items`, each hashed by `item`.
pub(super) fn list<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    item: impl Fn(&T) -> Result<u64, Failed>,
) -> Result<u64, Failed> {
    let mut list = List::new();
    for i in items {
        list.push(item(i)?);
    }
    Ok(list.finish())
}

/// A list of strings.
pub(super) fn texts(items: &[String]) -> u64 {
    let mut list = List::new();
    for i in items {
        list.push(text(i));
    }
    list.finish()
}

/// The optional member `name` hashed by the serde walk.
pub(super) fn walked<T: Serialize>(
    object: &mut Object,
    name: &str,
    value: &Option<T>,
) -> Result<(), Failed> {
    if let Some(value) = value {
        object.member(key(name), value_at(name, value)?);
    }
    Ok(())
}

/// The optional member `name`, hashed by `digest`.
pub(super) fn opt_with<T>(
    object: &mut Object,
    name: u64,
    value: &Option<T>,
    digest: impl Fn(&T) -> Result<u64, Failed>,
) -> Result<(), Failed> {
    if let Some(value) = value {
        object.member(name, digest(value)?);
    }
    Ok(())
}

/// An optional list of strings.
pub(super) fn opt_texts(object: &mut Object, name: u64, value: &Option<Vec<String>>) {
    if let Some(value) = value {
        object.member(name, texts(value));
    }
}

/// An optional string member without rules.
pub(super) fn opt_text(object: &mut Object, name: u64, value: &Option<String>) {
    if let Some(value) = value {
        object.member(name, text(value));
    }
}

/// An optional boolean member.
pub(super) fn opt_flag(object: &mut Object, name: u64, value: Option<bool>) {
    if let Some(value) = value {
        object.member(name, flag(value));
    }
}

/// The keys whose values have rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    Other,
    FieldRef,
    ApiVersion,
    Divisor,
    TerminationMessagePath,
    TerminationMessagePolicy,
    Image,
    ImagePullPolicy,
    Reference,
    PullPolicy,
    DefaultMode,
    VolumeMode,
    ProcMount,
    Limits,
    Requests,
    SizeLimit,
}

impl Key {
    fn of(key: &str) -> Key {
        match key {
            "fieldRef" => Key::FieldRef,
            "apiVersion" => Key::ApiVersion,
            "divisor" => Key::Divisor,
            "terminationMessagePath" => Key::TerminationMessagePath,
            "terminationMessagePolicy" => Key::TerminationMessagePolicy,
            "image" => Key::Image,
            "imagePullPolicy" => Key::ImagePullPolicy,
            "reference" => Key::Reference,
            "pullPolicy" => Key::PullPolicy,
            "defaultMode" => Key::DefaultMode,
            "volumeMode" => Key::VolumeMode,
            "procMount" => Key::ProcMount,
            "limits" => Key::Limits,
            "requests" => Key::Requests,
            "sizeLimit" => Key::SizeLimit,
            _ => Key::Other,
        }
    }
}

/// Where a value sits: its key, its object's key, and what its siblings said.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    key: Key,
    parent: Key,
    /// The pull policy the API server gives a container of the sibling `image`.
    pull_default: Option<&'static str>,
    /// The sibling `limits` (member digests), which `requests` equal to them repeat.
    limits: &'a [(u64, u64)],
}

const ROOT: Ctx<'static> = Ctx {
    key: Key::Other,
    parent: Key::Other,
    pull_default: None,
    limits: &[],
};

/// A value's digest, and what its siblings need to know of it.
struct Out {
    hash: u64,
    pull_default: Option<&'static str>,
    members: Vec<(u64, u64)>,
}

impl Out {
    fn hash(hash: u64) -> Out {
        Out {
            hash,
            pull_default: None,
            members: Vec::new(),
        }
    }
}

/// The policy Kubernetes defaults a container's `imagePullPolicy` to: `Always` for the tag
/// `latest` or no tag and no digest, else `IfNotPresent`.
pub(super) fn default_pull_policy(image: &str) -> &'static str {
    let bytes = image.as_bytes();
    let at = bytes.iter().position(|c| *c == b'@');
    let name = &bytes[..at.unwrap_or(bytes.len())];
    let last = &name[name.iter().rposition(|c| *c == b'/').map_or(0, |i| i + 1)..];
    match last.iter().position(|c| *c == b':') {
        Some(colon) if &last[colon + 1..] == b"latest" => "Always",
        None if at.is_none() => "Always",
        _ => "IfNotPresent",
    }
}

/// The error type serde needs; nothing here fails, a value's own `Serialize` might.
#[derive(Debug)]
pub struct Failed;

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the value cannot be serialized")
    }
}

impl std::error::Error for Failed {}

impl ser::Error for Failed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Failed
    }
}

struct Ser<'a> {
    ctx: Ctx<'a>,
}

impl Ser<'static> {
    fn root() -> Self {
        Ser { ctx: ROOT }
    }
}

impl Ser<'_> {
    fn int(self, v: i128) -> Result<Out, Failed> {
        if v == 0 || (self.ctx.key == Key::DefaultMode && v == 0o644) {
            return Ok(Out::hash(NONE));
        }
        Ok(Out::hash(leaf(INT, &v.to_le_bytes())))
    }

    /// A string's digest (what its key's rules leave of it), and the pull policy it implies
    /// when it is an image.
    fn string(&self, v: &str) -> Out {
        if v.is_empty() || self.is_default(v) {
            return Out::hash(NONE);
        }
        let mut out = if self.is_quantity() {
            match quantity_value(v) {
                (true, _) if self.ctx.key == Key::Divisor => Out::hash(NONE),
                (_, hash) => Out::hash(hash),
            }
        } else {
            Out::hash(leaf(STR, v.as_bytes()))
        };
        if matches!(self.ctx.key, Key::Image | Key::Reference) {
            out.pull_default = Some(default_pull_policy(v));
        }
        out
    }

    fn is_quantity(&self) -> bool {
        matches!(self.ctx.key, Key::SizeLimit | Key::Divisor)
            || matches!(self.ctx.parent, Key::Limits | Key::Requests)
    }

    fn is_default(&self, v: &str) -> bool {
        match self.ctx.key {
            Key::ApiVersion => self.ctx.parent == Key::FieldRef && v == "v1",
            Key::TerminationMessagePath => v == "/dev/termination-log",
            Key::TerminationMessagePolicy => v == "File",
            Key::VolumeMode => v == "Filesystem",
            Key::ProcMount => v == "Default",
            Key::ImagePullPolicy => self.ctx.pull_default == Some(v),
            _ => false,
        }
    }
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = Out;
    type Error = Failed;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = MapSer<'a>;

    fn serialize_bool(self, v: bool) -> Result<Out, Failed> {
        Ok(Out::hash(flag(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Out, Failed> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Out, Failed> {
        self.int(v.into())
    }
    fn serialize_f32(self, v: f32) -> Result<Out, Failed> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Out, Failed> {
        if v.fract() == 0.0 && v.abs() < 1e18 {
            return self.int(v as i128);
        }
        Ok(Out::hash(leaf(FLOAT, &v.to_bits().to_le_bytes())))
    }
    fn serialize_char(self, v: char) -> Result<Out, Failed> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Out, Failed> {
        Ok(self.string(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Out, Failed> {
        Ok(Out::hash(if v.is_empty() { NONE } else { leaf(STR, v) }))
    }
    fn serialize_none(self) -> Result<Out, Failed> {
        Ok(Out::hash(NONE))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Out, Failed> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Out, Failed> {
        Ok(Out::hash(NONE))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Out, Failed> {
        Ok(Out::hash(NONE))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<Out, Failed> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Out, Failed> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Out, Failed> {
        let mut map = self.serialize_map(Some(1))?;
        ser::SerializeStruct::serialize_field(&mut map, variant, value)?;
        ser::SerializeMap::end(map)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<SeqSer, Failed> {
        Ok(SeqSer(List::new()))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, Failed> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, Failed> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, Failed> {
        let mut seq = self.serialize_seq(Some(len))?;
        seq.0.push(key(variant));
        Ok(seq)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer<'a>, Failed> {
        Ok(MapSer {
            own: self.ctx.key,
            parent_limits: self.ctx.limits,
            object: Object::default(),
            key: (NONE, Key::Other),
            pull_default: None,
            limits: Vec::new(),
            members: Vec::new(),
            pull_policy: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSer<'a>, Failed> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<MapSer<'a>, Failed> {
        self.serialize_map(Some(len))
    }
}

/// A list: its items in order.
struct SeqSer(List);

impl SeqSer {
    fn finish(self) -> Result<Out, Failed> {
        Ok(Out::hash(self.0.finish()))
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Out;
    type Error = Failed;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        let item = value.serialize(Ser::root())?;
        self.0.push(item.hash);
        Ok(())
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Out;
    type Error = Failed;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Out;
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqSer {
    type Ok = Out;
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

/// An object: the sum of its members' digests, whatever their order.
struct MapSer<'a> {
    /// The object's own key.
    own: Key,
    /// The `limits` beside this object, when it is `requests`.
    parent_limits: &'a [(u64, u64)],
    object: Object,
    /// The key whose value comes next.
    key: (u64, Key),
    pull_default: Option<&'static str>,
    /// The members of this object's `limits`.
    limits: Vec<(u64, u64)>,
    /// This object's members, kept when it is `limits`.
    members: Vec<(u64, u64)>,
    /// An image volume's `pullPolicy` (key digest, value), counted at the end: its `reference`
    /// may come after it.
    pull_policy: Option<(u64, String)>,
}

impl MapSer<'_> {
    fn member<T: Serialize + ?Sized>(&mut self, key: (u64, Key), value: &T) -> Result<(), Failed> {
        if key.1 == Key::PullPolicy {
            let text = serde_json::to_value(value).map_err(|_| Failed)?;
            if let Some(policy) = text.as_str() {
                self.pull_policy = Some((key.0, policy.to_string()));
                return Ok(());
            }
        }
        let ctx = Ctx {
            key: key.1,
            parent: self.own,
            pull_default: self.pull_default,
            limits: &self.limits,
        };
        let out = value.serialize(Ser { ctx })?;
        match key.1 {
            Key::Image | Key::Reference => self.pull_default = out.pull_default,
            Key::Limits => self.limits = out.members,
            _ => {}
        }
        let pair = (key.0, out.hash);
        let repeats_limit = self.own == Key::Requests && self.parent_limits.contains(&pair);
        if out.hash == NONE || repeats_limit {
            return Ok(());
        }
        if self.own == Key::Limits {
            self.members.push(pair);
        }
        self.object.member(key.0, out.hash);
        Ok(())
    }

    fn finish(mut self) -> Result<Out, Failed> {
        if let Some((key, policy)) = self.pull_policy.take()
            && !policy.is_empty()
            && self.pull_default != Some(policy.as_str())
        {
            self.object.member(key, text(&policy));
        }
        Ok(Out {
            hash: self.object.finish(),
            pull_default: None,
            members: self.members,
        })
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = Out;
    type Error = Failed;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Failed> {
        self.key = key.serialize(KeySer)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        self.member(self.key, value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = Out;
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        self.member((self::key(key), Key::of(key)), value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSer<'_> {
    type Ok = Out;
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<Out, Failed> {
        self.finish()
    }
}

/// A map key: its digest as a string, and whether it has rules. Keys are strings in everything
/// the policy digests; any other key counts by its digest.
struct KeySer;

impl ser::Serializer for KeySer {
    type Ok = (u64, Key);
    type Error = Failed;
    type SerializeSeq = Impossible<(u64, Key), Failed>;
    type SerializeTuple = Impossible<(u64, Key), Failed>;
    type SerializeTupleStruct = Impossible<(u64, Key), Failed>;
    type SerializeTupleVariant = Impossible<(u64, Key), Failed>;
    type SerializeMap = Impossible<(u64, Key), Failed>;
    type SerializeStruct = Impossible<(u64, Key), Failed>;
    type SerializeStructVariant = Impossible<(u64, Key), Failed>;

    fn serialize_str(self, v: &str) -> Result<(u64, Key), Failed> {
        Ok((key(v), Key::of(v)))
    }
    fn serialize_bool(self, v: bool) -> Result<(u64, Key), Failed> {
        self.serialize_str(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(u64, Key), Failed> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(u64, Key), Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(u64, Key), Failed> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<(u64, Key), Failed> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_f64(self, v: f64) -> Result<(u64, Key), Failed> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<(u64, Key), Failed> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(u64, Key), Failed> {
        Ok((leaf(STR, v), Key::Other))
    }
    fn serialize_none(self) -> Result<(u64, Key), Failed> {
        Err(Failed)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(u64, Key), Failed> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(u64, Key), Failed> {
        Err(Failed)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(u64, Key), Failed> {
        Err(Failed)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<(u64, Key), Failed> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(u64, Key), Failed> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(u64, Key), Failed> {
        Err(Failed)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Failed> {
        Err(Failed)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Failed> {
        Err(Failed)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Failed> {
        Err(Failed)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Failed> {
        Err(Failed)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Failed> {
        Err(Failed)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Failed> {
        Err(Failed)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Failed> {
        Err(Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector};
    use serde_json::{Value, json};

    /// [`leaf`] written another way: each chunk of eight bytes or fewer copied into a zeroed word.
    fn leaf_bytewise(tag: u64, bytes: &[u8]) -> u64 {
        let mut h = tag.wrapping_mul(K) ^ bytes.len() as u64;
        let mut chunks = bytes.chunks(8);
        for chunk in chunks.by_ref() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(word))
                .wrapping_mul(K)
                .rotate_left(29);
        }
        mix(h)
    }

    #[test]
    fn a_text_hashes_as_zero_padded_words() {
        let bytes: Vec<u8> = (0u32..48).map(|i| (i * 37 + 11) as u8 | 0x80).collect();
        for len in 0..=bytes.len() {
            for start in [0, 1, 7] {
                let b = &bytes[start.min(len)..len];
                assert_eq!(leaf(STR, b), leaf_bytewise(STR, b), "{} bytes", b.len());
            }
        }
        // Stored records carry these digests: the hash of a text must not change.
        assert_eq!(key("name"), leaf_bytewise(STR, b"name"));
        assert_eq!(
            text("hello-api"),
            0xd1fa_bca8_43dc_b2b7,
            "{:#x}",
            text("hello-api")
        );
    }

    #[test]
    fn the_default_quantities_are_in_their_canonical_forms() {
        for (text, canonical) in DEFAULT_CANONICAL {
            assert_eq!(
                quantity::canonical(text).as_deref(),
                Some(canonical),
                "{text}"
            );
            let taken_apart = quantity::canonical_with(text, |c| leaf(STR, c));
            assert_eq!(Some(quantity(text)), taken_apart, "{text}");
        }
    }

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn key_order_does_not_count_list_order_does() {
        let a = value(r#"{"name": "A", "value": "1", "x": {"p": 1, "q": [1, 2]}}"#);
        let b = value(r#"{"x": {"q": [1, 2], "p": 1}, "value": "1", "name": "A"}"#);
        assert_eq!(of(&a), of(&b));
        let c = value(r#"{"x": {"q": [2, 1], "p": 1}, "value": "1", "name": "A"}"#);
        assert_ne!(of(&a), of(&c));
        // A value under another key is another value.
        assert_ne!(
            of(&json!({"a": "1", "b": "2"})),
            of(&json!({"a": "2", "b": "1"}))
        );
        assert_ne!(of(&json!(["a", "b"])), of(&json!(["ab"])));
    }

    #[test]
    fn a_typed_value_and_its_json_agree() {
        let var = EnvVar {
            name: "OTEL_NODE_IP".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: "status.hostIP".into(),
                }),
                ..Default::default()
            }),
        };
        // As the API server stores it: the fieldRef's apiVersion defaulted.
        let stored = value(
            r#"{"valueFrom": {"fieldRef": {"fieldPath": "status.hostIP", "apiVersion": "v1"}}, "name": "OTEL_NODE_IP"}"#,
        );
        assert_eq!(of(&var), of(&stored));
        let other = value(
            r#"{"valueFrom": {"fieldRef": {"fieldPath": "status.hostIP", "apiVersion": "v2"}}, "name": "OTEL_NODE_IP"}"#,
        );
        assert_ne!(of(&var), of(&other));
    }

    #[test]
    fn the_api_servers_defaults_and_quantity_writing_do_not_count() {
        let written: Container = serde_json::from_value(json!({
            "name": "init", "image": "python:3.12",
            "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}, "requests": {"cpu": "50m"}},
            "securityContext": {"runAsNonRoot": true}
        }))
        .unwrap();
        let stored = json!({
            "name": "init", "image": "python:3.12", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "50m", "memory": "1Gi"}},
            "securityContext": {"runAsNonRoot": true, "procMount": "Default"}
        });
        assert_eq!(of(&written), of(&stored));
        // The defaults are not counted only where they are the defaults.
        for (pointer, other) in [
            ("/imagePullPolicy", json!("Always")),
            ("/terminationMessagePolicy", json!("FallbackToLogsOnError")),
            ("/resources/requests/memory", json!("512Mi")),
            ("/resources/limits/cpu", json!("600m")),
        ] {
            let mut edited = stored.clone();
            *edited.pointer_mut(pointer).unwrap() = other;
            assert_ne!(of(&written), of(&edited), "{pointer}");
        }
        assert_eq!(default_pull_policy("python"), "Always");
        assert_eq!(default_pull_policy("registry:5000/python:latest"), "Always");
        assert_eq!(default_pull_policy("registry:5000/python"), "Always");
        assert_eq!(default_pull_policy("python@sha256:abc"), "IfNotPresent");
        assert_eq!(default_pull_policy("python:3"), "IfNotPresent");
    }

    #[test]
    fn an_image_volumes_default_pull_policy_does_not_count_in_either_order() {
        let written = json!({"name": "v", "image": {"reference": "python:3.12"}});
        for stored in [
            value(
                r#"{"name": "v", "image": {"reference": "python:3.12", "pullPolicy": "IfNotPresent"}}"#,
            ),
            value(
                r#"{"image": {"pullPolicy": "IfNotPresent", "reference": "python:3.12"}, "name": "v"}"#,
            ),
        ] {
            assert_eq!(of(&written), of(&stored), "{stored}");
        }
        let always =
            json!({"name": "v", "image": {"pullPolicy": "Always", "reference": "python:3.12"}});
        assert_ne!(of(&written), of(&always));
        let latest =
            json!({"name": "v", "image": {"pullPolicy": "Always", "reference": "python:latest"}});
        assert_eq!(
            of(&latest),
            of(&json!({"name": "v", "image": {"reference": "python:latest"}}))
        );
    }

    #[test]
    fn what_kubernetes_omits_counts_as_absent() {
        let full =
            json!({"name": "v", "readOnly": false, "x": "", "l": [], "m": {}, "n": null, "i": 0});
        assert_eq!(of(&full), of(&json!({"name": "v"})));
        assert_eq!(
            of(&json!({"secret": {"secretName": "s", "defaultMode": 420}})),
            of(&json!({"secret": {"secretName": "s"}}))
        );
        assert_ne!(
            of(&json!({"secret": {"secretName": "s", "defaultMode": 256}})),
            of(&json!({"secret": {"secretName": "s"}}))
        );
    }
}
