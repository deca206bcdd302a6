"""What the Rust host does around the guest calls, ported: reading the request as kwctl reads it
(`e2e_tests::host::kubewarden_admission_request`), and the AdmissionResponse kwctl derives from
the guest's ValidationResponse (`case_harness::response::admission_response`, with the JSON patch
of `json_patch::diff` 4.2).
"""

import base64

import jsonvalue
from jsonvalue import Fields, JsonError, invalid_type

MUTATION_WITHOUT_OBJECT = (
    "Incoming object is null, which happens only with DELETE operations, but the policy is "
    "attempting a mutation. This is not allowed"
)


class RunError(Exception):
    """A failure that `policy-run` reports as `Error: <message>`, exit 1."""


# ---- typed deserialisation, as serde's derive reads a serde_json::Value --------------------------
# A type is "string", "bool", "u16", "value", ("seq", T), ("map", T) or ("struct", name, fields);
# a field is (wire name, type, required): the optional ones are `Option<T>` with `#[serde(default)]`.


def _struct_from_map(value, name, fields):
    out = {}
    by_name = {f[0]: f for f in fields}
    for key in sorted(value):  # a serde_json Map iterates in key order
        field = by_name.get(key)
        if field is None:
            continue
        item = value[key]
        if not field[2] and item is None:
            continue
        out[key] = deserialize(item, field[1])
    for wire, _, required in fields:
        if required and wire not in out:
            raise JsonError("missing field `%s`" % wire)
    return out


def _struct_from_seq(value, name, fields):
    expecting = "struct %s with %d element%s" % (name, len(fields), "" if len(fields) == 1 else "s")
    out = {}
    for index, (wire, ty, required) in enumerate(fields):
        if index >= len(value):
            if required:
                raise JsonError("invalid length %d, expected %s" % (index, expecting))
            continue
        item = value[index]
        if required or item is not None:
            out[wire] = deserialize(item, ty)
    if len(value) > len(fields):
        raise JsonError("invalid length %d, expected fewer elements in array" % len(value))
    return out


def deserialize(value, ty):
    """`serde_json::from_value::<T>(value)`: the value kept as JSON, or JsonError with serde's words."""
    k = jsonvalue.kind(value)
    if ty == "value":
        return value
    if ty == "string":
        if k != "str":
            raise invalid_type(value, "a string")
        return value
    if ty == "bool":
        if k != "bool":
            raise invalid_type(value, "a boolean")
        return value
    if ty == "u16":
        if k == "int":
            if 0 <= value <= 0xFFFF:
                return value
            raise JsonError("invalid value: integer `%d`, expected u16" % value)
        raise invalid_type(value, "u16")
    if ty[0] == "seq":
        if k != "list":
            raise invalid_type(value, "a sequence")
        return [deserialize(item, ty[1]) for item in value]
    if ty[0] == "map":
        if k != "dict":
            raise invalid_type(value, "a map")
        return {key: deserialize(value[key], ty[1]) for key in sorted(value)}
    _, name, fields = ty
    if k == "dict":
        return _struct_from_map(value, name, fields)
    if k == "list":
        return _struct_from_seq(value, name, fields)
    raise invalid_type(value, "struct " + name)


GROUP_VERSION_KIND = ("struct", "GroupVersionKind", [("group", "string", True), ("version", "string", True), ("kind", "string", True)])
GROUP_VERSION_RESOURCE = (
    "struct",
    "GroupVersionResource",
    [("group", "string", True), ("version", "string", True), ("resource", "string", True)],
)
USER_INFO = (
    "struct",
    "UserInfo",
    [
        ("username", "string", False),
        ("uid", "string", False),
        ("groups", ("seq", "string"), False),
        ("extra", ("map", ("seq", "string")), False),
    ],
)
# Kubernetes' admission/v1 AdmissionRequest, the fields and types Kubewarden reads, in order.
ADMISSION_REQUEST = (
    "struct",
    "KubewardenAdmissionRequest",
    [
        ("uid", "string", True),
        ("kind", GROUP_VERSION_KIND, True),
        ("resource", GROUP_VERSION_RESOURCE, True),
        ("subResource", "string", False),
        ("requestKind", GROUP_VERSION_KIND, False),
        ("requestResource", GROUP_VERSION_RESOURCE, False),
        ("requestSubResource", "string", False),
        ("name", "string", False),
        ("namespace", "string", False),
        ("operation", "string", True),
        ("userInfo", USER_INFO, True),
        ("object", "value", False),
        ("oldObject", "value", False),
        ("dryRun", "bool", False),
        ("options", "value", False),
    ],
)
VALIDATION = (
    "struct",
    "Validation",
    [
        ("accepted", "bool", True),
        ("message", "string", False),
        ("code", "u16", False),
        ("mutated_object", "value", False),
        ("audit_annotations", ("map", "string"), False),
        ("warnings", ("seq", "string"), False),
    ],
)


def admission_request(value):
    """An AdmissionReview's `.request`, or the value itself when it is a bare AdmissionRequest."""
    if isinstance(value, dict) and value.get("kind") == "AdmissionReview":
        request = value.get("request")
        if isinstance(request, dict):
            return request
        raise RunError("the AdmissionReview has no `request` object")
    return value


def kubewarden_admission_request(request):
    """The request as kwctl hands it to the policy: typed fields only, null ones left out."""
    if not isinstance(request, dict):
        raise RunError("the request is not a JSON object (an AdmissionRequest or an AdmissionReview was expected)")
    try:
        return deserialize(request, ADMISSION_REQUEST)
    except JsonError as e:
        raise RunError("the request is not an admission/v1 AdmissionRequest: %s" % e) from None


def validate_payload(request, settings):
    """The exact bytes of the `validate` call: `{"request": .., "settings": ..}`."""
    return jsonvalue.dumps({"request": request, "settings": settings}).encode("utf-8")


# ---- json_patch::diff 4.2 ------------------------------------------------------------------------


def _token(key):
    return key.replace("~", "~0").replace("/", "~1")


def _diff(left, right, pointer, patch):
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(right):
            path = pointer + "/" + _token(key)
            if key in left:
                _diff(left[key], right[key], path, patch)
            else:
                patch.append(("add", path, right[key]))
        for key in sorted(left):
            if key not in right:
                patch.append(("remove", pointer + "/" + _token(key), None))
    elif isinstance(left, list) and isinstance(right, list):
        shift = 0
        for idx in range(max(len(left), len(right))):
            path = "%s/%d" % (pointer, idx - shift)
            if idx < len(left) and idx < len(right):
                _diff(left[idx], right[idx], path, patch)
            elif idx < len(left):
                shift += 1
                patch.append(("remove", path, None))
            else:
                patch.append(("add", path, right[idx]))
    elif not jsonvalue.equal(left, right):
        patch.append(("replace", pointer, right))


def patch_fields(op):
    """One PatchOperation as json-patch serialises it: `op` first, then its struct's fields."""
    name, path, value = op
    if name == "remove":
        return Fields([("op", name), ("path", path)])
    return Fields([("op", name), ("path", path), ("value", value)])


def diff(left, right):
    """`json_patch::diff(left, right)`: the operations as (op, path, value)."""
    patch = []
    _diff(left, right, "", patch)
    return patch


# ---- the AdmissionResponse -----------------------------------------------------------------------


def response_fields(uid, allowed, patch=None, status=None, audit=None, warnings=None):
    """`AdmissionResponse` as kwctl prints it: camelCase, patchType/patch/status left out when
    absent, auditAnnotations and warnings printed as null."""
    items = [("uid", uid), ("allowed", allowed)]
    if patch is not None:
        items += [("patchType", "JSONPatch"), ("patch", patch)]
    if status is not None:
        items.append(("status", status))
    items += [("auditAnnotations", audit), ("warnings", warnings)]
    return Fields(items)


def internal_error(uid, message):
    """A rejection for a failed guest call, as policy-server reports it (HTTP 500)."""
    status = Fields([("message", "internal server error: " + message), ("code", 500)])
    return response_fields(uid, False, status=status)


def admission_response(request, answer):
    """The AdmissionResponse kwctl prints for `request` and the guest's `validate` answer."""
    uid = request.get("uid") if isinstance(request.get("uid"), str) else ""
    try:
        validation = deserialize(answer, VALIDATION)
    except JsonError as e:
        raise RunError("the guest's validate answer is not a ValidationResponse: %s" % e) from None
    obj = request.get("object")
    mutated = validation.get("mutated_object")
    patch = None
    if mutated is not None:
        if obj is None:
            status = Fields([("message", MUTATION_WITHOUT_OBJECT)])
            return response_fields(uid, False, status=status)
        ops = diff(obj, mutated)
        if ops:
            text = jsonvalue.dumps([patch_fields(op) for op in ops])
            patch = base64.b64encode(text.encode("utf-8")).decode("ascii")
    status = None
    if "message" in validation or "code" in validation:
        items = [(k, validation[k]) for k in ("message", "code") if k in validation]
        status = Fields(items)
    return response_fields(
        uid,
        validation["accepted"],
        patch=patch,
        status=status,
        audit=validation.get("audit_annotations"),
        warnings=validation.get("warnings"),
    )


def decoded_patch(patch):
    """`AdmissionResponse::decoded_patch`: the patch read back into json-patch's type."""
    text = base64.b64decode(patch, validate=True)
    ops = jsonvalue.parse_slice(text)
    return [patch_fields((op["op"], op["path"], op.get("value"))) for op in ops]
