//! The `validate` payload, read once into a typed request.
//!
//! The request typed (operation enum, kind, namespace,
//! sub-resource), the object and the settings kept as the payload's JSON text. Only the request
//! fields the decision needs are read; `null` anywhere reads as absent. Most requests never need
//! more of the object and the settings than a few fields, and a fresh instance (policy-server
//! makes one per request) pays for every byte it builds.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::object::head::{self, Head};
use crate::refusal::PayloadProblem;
use crate::syntax::json_text::{Scanner, once};
use crate::target::Target;

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`.
#[derive(Deserialize, Default)]
struct Payload<'a> {
    #[serde(default, borrow)]
    request: Option<RawRequest<'a>>,
    #[serde(default, borrow)]
    settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRequest<'a> {
    kind: Option<Gvk>,
    operation: Option<String>,
    namespace: Option<String>,
    sub_resource: Option<String>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Gvk {
    group: Option<String>,
    kind: Option<String>,
}

/// What the API server asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
    /// Absent or not one of the above.
    Other,
}

/// The request, typed once; the object as JSON text (`None`: absent or `null`).
#[derive(Debug)]
pub struct Request<'a> {
    /// What the API server asks for.
    pub operation: Operation,
    /// The object's API group (`""` for core).
    pub group: String,
    /// The object's kind.
    pub kind: String,
    /// The request's namespace (empty when it names none).
    pub namespace: String,
    /// The sub-resource (`""` for the object itself).
    pub sub_resource: String,
    /// The object, as the payload's JSON text.
    pub object: Option<&'a str>,
    /// The object's head, when the payload's pass read it, for the target it was read for.
    head: RefCell<Option<(Target, Head)>>,
}

impl<'a> From<RawRequest<'a>> for Request<'a> {
    fn from(r: RawRequest<'a>) -> Self {
        let kind = r.kind.unwrap_or_default();
        Request {
            operation: Operation::of(r.operation.as_deref()),
            group: kind.group.unwrap_or_default(),
            kind: kind.kind.unwrap_or_default(),
            namespace: r.namespace.unwrap_or_default(),
            sub_resource: r.sub_resource.unwrap_or_default(),
            object: r.object.map(RawValue::get),
            head: RefCell::default(),
        }
    }
}

/// Where the pod sits for a request with these fields (see [`Request::target`]).
fn target_of(operation: Operation, group: &str, kind: &str, sub_resource: &str) -> Option<Target> {
    if !sub_resource.is_empty() {
        return None;
    }
    match operation {
        Operation::Create if group.is_empty() && kind == "Pod" => Some(Target::POD),
        Operation::Create | Operation::Update => Target::workload(group, kind),
        _ => None,
    }
}

impl Operation {
    /// The operation the API server writes as `name`.
    fn of(name: Option<&str>) -> Operation {
        match name {
            Some("CREATE") => Operation::Create,
            Some("UPDATE") => Operation::Update,
            Some("DELETE") => Operation::Delete,
            Some("CONNECT") => Operation::Connect,
            _ => Operation::Other,
        }
    }
}

impl Request<'_> {
    /// Where the pod sits in this request's object, for the requests the policy acts on: a Pod
    /// CREATE, and a CREATE or UPDATE of a workload; never a sub-resource.
    pub fn target(&self) -> Option<Target> {
        target_of(self.operation, &self.group, &self.kind, &self.sub_resource)
    }

    /// The object's head as the payload's pass read it for `target`, taken (a second call
    /// finds none).
    pub fn take_head(&self, target: &Target) -> Option<Head> {
        match self.head.take() {
            Some((read_for, head)) if read_for == *target => Some(head),
            _ => None,
        }
    }

    /// The operation as the API server writes it.
    pub fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Other => "",
        }
    }
}

/// The request and the settings text of a `validate` payload.
///
/// The payload is read by a [`Scanner`] in one pass that checks all of it; a payload the
/// scanner leaves to serde_json (one it cannot read, or reads differently) is read by serde_json,
/// whose error is the problem.
pub fn read_payload(payload: &[u8]) -> Result<(Request<'_>, Option<&str>), PayloadProblem> {
    if let Some(read) = std::str::from_utf8(payload).ok().and_then(scan_payload) {
        return Ok(read);
    }
    // serde would also read a struct from a JSON list; the envelope is always an object.
    let is_object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed: Result<Payload, _> = if is_object {
        serde_json::from_slice(payload)
    } else {
        Err(serde::de::Error::custom("it is not a JSON object"))
    };
    let Payload { request, settings } = parsed.map_err(|e| PayloadProblem::Unreadable {
        error: e.to_string(),
    })?;
    Ok((
        request.unwrap_or_default().into(),
        settings.map(RawValue::get),
    ))
}

/// The payload as [`Payload`] reads it, by the scanner: `None` for anything it leaves to
/// serde_json (a field given twice included, which serde_json refuses).
fn scan_payload(text: &str) -> Option<(Request<'_>, Option<&str>)> {
    let mut scan = Scanner::new(text);
    let (mut request, mut settings) = (None, None);
    scan.members(|scan, key| match key {
        "request" => once(&mut request, scan_request(scan)?),
        "settings" => once(&mut settings, scan.raw_value_or_null()?),
        _ => scan.skip_value(),
    })?;
    scan.end()?;
    let request = request
        .flatten()
        .unwrap_or_else(|| RawRequest::default().into());
    Some((request, settings.flatten()))
}

/// `request`, as [`RawRequest`] reads it (`None`: `null`); the object's head is read on the
/// way when the kind, before the object, says where its pod is.
fn scan_request<'a>(scan: &mut Scanner<'a>) -> Option<Option<Request<'a>>> {
    if scan.null()? {
        return Some(None);
    }
    let (mut kind, mut operation, mut namespace, mut sub_resource, mut object) =
        (None, None, None, None, None);
    scan.members(|scan, key| match key {
        "kind" => once(&mut kind, scan_gvk(scan)?),
        "operation" => once(&mut operation, scan.plain_string_or_null()?),
        "namespace" => once(&mut namespace, scan.plain_string_or_null()?),
        "subResource" => once(&mut sub_resource, scan.plain_string_or_null()?),
        "object" => {
            // The operation and the sub-resource may come after the object (a host that sorts
            // the keys writes them there): the head is read for the target of a CREATE of
            // this kind, and kept only when it is the request's target.
            let (group, kind) = kind.flatten().unwrap_or_default();
            let (group, kind) = (group.flatten(), kind.flatten());
            let target = target_of(
                Operation::Create,
                group.unwrap_or_default(),
                kind.unwrap_or_default(),
                "",
            );
            once(&mut object, scan_object(scan, target)?)
        }
        _ => scan.skip_value(),
    })?;
    let text = |field: Option<Option<&str>>| field.flatten().unwrap_or_default().to_string();
    let (group, kind) = kind.flatten().unwrap_or_default();
    let (object, head) = object.unwrap_or_default();
    let request = Request {
        operation: Operation::of(operation.flatten()),
        group: text(group),
        kind: text(kind),
        namespace: text(namespace),
        sub_resource: text(sub_resource),
        object,
        head: RefCell::default(),
    };
    // The head counts only when the fields after the object left the target as it was.
    *request.head.borrow_mut() = head.filter(|(read_for, _)| request.target() == Some(*read_for));
    Some(Some(request))
}

/// The object's text (`None`: `null`), and its head when `target` says where to read it and
/// the scanner reads it.
type ScannedObject<'a> = (Option<&'a str>, Option<(Target, Head)>);

fn scan_object<'a>(scan: &mut Scanner<'a>, target: Option<Target>) -> Option<ScannedObject<'a>> {
    if let Some(target) = target.filter(|_| scan.peek() == Some(b'{')) {
        let read = scan.read_spanned(|scan| head::read_in(scan, &target));
        if let Some((text, head)) = read {
            return Some((Some(text), Some((target, head))));
        }
    }
    Some((scan.raw_value_or_null()?, None))
}

/// `request.kind`'s group and kind, as [`Gvk`] reads them (`None`: `null`).
type ScannedGvk<'a> = (Option<Option<&'a str>>, Option<Option<&'a str>>);

fn scan_gvk<'a>(scan: &mut Scanner<'a>) -> Option<Option<ScannedGvk<'a>>> {
    if scan.null()? {
        return Some(None);
    }
    let (mut group, mut kind) = (None, None);
    scan.members(|scan, key| match key {
        "group" => once(&mut group, scan.plain_string_or_null()?),
        "kind" => once(&mut kind, scan.plain_string_or_null()?),
        _ => scan.skip_value(),
    })?;
    Some(Some((group, kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json alone reads of `payload`.
    fn by_serde(payload: &str) -> Option<String> {
        let parsed: Payload = serde_json::from_str(payload).ok()?;
        let request: Request = parsed.request.unwrap_or_default().into();
        Some(format!(
            "{request:?} {:?}",
            parsed.settings.map(RawValue::get)
        ))
    }

    #[test]
    fn the_scanner_reads_what_serde_json_reads_or_leaves_it() {
        let object = r#"{"kind":"Pod","metadata":{"annotations":{"a\"b":"x\\y\u00e9\n"}},"spec":{"containers":[{"name":"a","args":["-1.5e+3",0,-0.25,1E9,true,false,null,[],{}]}]}}"#;
        let read = [
            format!(
                r#"{{"request":{{"uid":"u","kind":{{"group":"","kind":"Pod","version":"v1"}},"operation":"CREATE","namespace":"n","object":{object},"oldObject":null,"dryRun":false}},"settings":{{"a":[1,2]}}}}"#
            ),
            format!(
                " {{ \"settings\" : null , \"request\" : {{ \"object\" : {object} , \"kind\":null }} }} \n"
            ),
            r#"{"request":null}"#.to_string(),
            r#"{}"#.to_string(),
            r#"{"request":{"subResource":"status","operation":"UPDATE","namespace":null}}"#
                .to_string(),
            r#"{"other":[{"deep":[[[]]]}],"request":{}}"#.to_string(),
            r#"{"request":{"kind":{"group":"apps","kind":"Deployment"},"operation":"UPDATE","object":{"kind":"Deployment","metadata":{"name":"d","ownerReferences":[{"controller":true}]},"spec":{"template":{"metadata":{"annotations":{"a":"b"}}}}}}}"#.to_string(),
            r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"kind":"Pod","kind":"Job"}}}"#.to_string(),
        ];
        for payload in &read {
            let scanned = scan_payload(payload).expect(payload);
            // The head read on the way is the head read from the object's text.
            if let Some((target, head)) = scanned.0.head.take() {
                assert_eq!(head, head::read(scanned.0.object.unwrap(), &target));
            }
            let scanned = format!("{:?} {:?}", scanned.0, scanned.1);
            assert_eq!(Some(scanned), by_serde(payload), "{payload}");
        }
        let left = [
            r#"{"request":{},"request":{}}"#,
            r#"{"request":{"kind":{"kind":"Pod","kind":"Job"}}}"#,
            r#"{"request":{"namespace":"a\u0062"}}"#,
            r#"{"requ\u0065st":{}}"#,
            r#"{"request":[]}"#,
            r#"{"request":{"namespace":5}}"#,
            r#"{"request":{"object":{"a":01}}}"#,
            r#"{"request":{"object":{"a":1.}}}"#,
            r#"{"request":{"object":{"a":"\x"}}}"#,
            r#"{"request":{"object":{"a":"	"}}}"#,
            r#"{"request":{"object":{"a":[1,]}}}"#,
            r#"{"request":{"object":{"a":1,}}}"#,
            r#"{"request":{"object":{"a" 1}}}"#,
            r#"{"request":{"object":{"a":tru}}}"#,
            r#"{"request":{"object":[}}}"#,
            r#"{"request":{}} x"#,
            r#"{"request":{}"#,
            r#"[]"#,
        ];
        for payload in left {
            assert!(scan_payload(payload).is_none(), "{payload}");
        }
        let deep = format!(
            r#"{{"request":{{"object":{}{}}}}}"#,
            "[".repeat(101),
            "]".repeat(101)
        );
        assert!(scan_payload(&deep).is_none());
        let deep_enough = format!(
            r#"{{"request":{{"object":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(
            scan_payload(&deep_enough).map(|r| format!("{:?} {:?}", r.0, r.1)),
            by_serde(&deep_enough)
        );
    }

    #[test]
    fn the_head_is_read_on_the_way_when_the_kind_before_the_object_says_where() {
        let inject = crate::keys::INJECT_PYTHON;
        let object =
            format!(r#"{{"kind":"Pod","metadata":{{"annotations":{{"{inject}":"true"}}}}}}"#);
        let payload = |before: &str, after: &str| {
            format!(r#"{{"request":{{{before}"object":{object}{after}}}}}"#)
        };
        let known = r#""kind":{"group":"","kind":"Pod"},"operation":"CREATE","#;
        let text = payload(known, "");
        let (request, _) = scan_payload(&text).unwrap();
        let head = request.take_head(&Target::POD).expect("read on the way");
        assert_eq!(head.inject, Some(serde_json::json!("true")));
        assert!(request.take_head(&Target::POD).is_none(), "taken once");
        let sorted = r#""kind":{"group":"","kind":"Pod"},"#;
        let text = payload(sorted, r#","operation":"CREATE""#);
        let (request, _) = scan_payload(&text).unwrap();
        assert!(
            request.take_head(&Target::POD).is_some(),
            "operation after the object"
        );
        for (before, after) in [
            (r#""operation":"CREATE","#, r#","kind":{"kind":"Pod"}"#),
            (known, r#","subResource":"status""#),
            (sorted, r#","operation":"UPDATE""#),
        ] {
            let text = payload(before, after);
            let (request, _) = scan_payload(&text).unwrap();
            assert!(request.take_head(&Target::POD).is_none(), "{text}");
            assert_eq!(request.object, Some(object.as_str()));
        }
    }
}
