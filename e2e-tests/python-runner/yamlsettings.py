"""YAML read as the Rust host's `serde_yaml` 0.9 reads it into a `serde_json::Value`.

libyaml parses (PyYAML's C binding, libyaml 0.2.6 in its wheel; serde_yaml carries libyaml 0.2.5
translated to Rust, with the same scanner and parser messages); what serde_yaml's
`deserialize_any` then makes of each node is ported here, since it is not YAML 1.1 as PyYAML's own
constructors read it:

- an untagged plain scalar is null (`~`, `null`, `Null`, `NULL`, empty), a bool (`true`, `True`,
  `TRUE`, `false`, ...), an integer (decimal, `0x`, `0o`, `0b`, with a sign), a float (Rust's
  `f64` syntax, `.inf`, `.nan`), or else a string: `yes`, `on`, `1_000`, `0123`, `2001-12-14`
  and `1:20` stay strings;
- a quoted or block scalar is a string; `!!bool`, `!!int`, `!!float` and `!!null` parse the
  scalar as that type or fail; a local tag (`!thing`) is an enum, which a JSON value refuses;
- a mapping key is the key's text, whatever it looks like (`1: a` is `{"1": "a"}`); merge keys
  (`<<`) are ordinary keys; at most 128 levels of nesting;
- floats that are not finite become null (serde_json has no such number); integers beyond the
  64-bit ranges fail.

Errors carry serde_yaml's words, path and position.
"""

import re

import yaml

from jsonvalue import rust_debug_str

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML wheels ship the C binding
    from yaml.composer import Composer as _Composer
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner

    class _Parser(_Reader, _Scanner, _PyParser, _Composer):
        def __init__(self, stream):
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _PyParser.__init__(self)
            _Composer.__init__(self)


TAG_NULL = "tag:yaml.org,2002:null"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"
RECURSION_LIMIT = 128
U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
U128_MAX = (1 << 128) - 1
I128_MIN = -(1 << 127)


class YamlError(Exception):
    """A serde_yaml error, worded as its Display."""


class _Untagged(_Parser):
    """The parser with no tag resolution: an untagged node keeps the tag ''."""

    def resolve(self, kind, value, implicit):
        return ""

    def descend_resolver(self, *args):
        pass

    def ascend_resolver(self, *args):
        pass


def _mark(mark):
    if mark is None or (mark.line == 0 and mark.column == 0):
        return None
    return "line %d column %d" % (mark.line + 1, mark.column + 1)


def _libyaml_error(e):
    """libyaml's error as serde_yaml displays it."""
    text = getattr(e, "problem", None) or str(e)
    where = _mark(getattr(e, "problem_mark", None))
    if where:
        text += " at " + where
    context = getattr(e, "context", None)
    if context:
        text += ", " + context
        cm, pm = getattr(e, "context_mark", None), getattr(e, "problem_mark", None)
        if _mark(cm) and (pm is None or (cm.line, cm.column) != (pm.line, pm.column)):
            text += " at " + _mark(cm)
    return YamlError(text)


# ---- scalars (serde_yaml's de.rs) ----------------------------------------------------------------

_RADIX_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+"), 10: re.compile(r"[0-9]+")}
# Rust's f64 grammar: digits with an optional fraction and exponent, or inf/infinity/nan.
_RUST_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)


def _from_str_radix(text, radix, lo, hi):
    """Rust's `from_str_radix` for an integer type with range lo..=hi (one leading sign)."""
    sign, digits = 1, text
    if digits[:1] == "+":
        digits = digits[1:]
    elif digits[:1] == "-" and lo < 0:
        sign, digits = -1, digits[1:]
    if not _RADIX_DIGITS[radix].fullmatch(digits):
        return None
    value = sign * int(digits, radix)
    return value if lo <= value <= hi else None


def _digits_but_not_number(scalar):
    s = scalar[1:] if scalar[:1] in ("-", "+") else scalar
    return len(s) > 1 and s[0] == "0" and s[1:].isascii() and s[1:].isdigit()


def _parse_unsigned(scalar, hi):
    unpositive = scalar[1:] if scalar[:1] == "+" else scalar
    for prefix, radix in (("0x", 16), ("0o", 8), ("0b", 2)):
        if unpositive.startswith(prefix):
            rest = unpositive[2:]
            if rest[:1] in ("+", "-"):
                return None
            value = _from_str_radix(rest, radix, 0, hi)
            if value is not None:
                return value
    if unpositive[:1] in ("+", "-") or _digits_but_not_number(scalar):
        return None
    return _from_str_radix(unpositive, 10, 0, hi)


def _parse_negative(scalar, lo, hi):
    for prefix, radix in (("-0x", 16), ("-0o", 8), ("-0b", 2)):
        if scalar.startswith(prefix):
            value = _from_str_radix("-" + scalar[3:], radix, lo, hi)
            if value is not None:
                return value
    if _digits_but_not_number(scalar):
        return None
    return _from_str_radix(scalar, 10, lo, hi)


def _visit_int(scalar):
    """serde_yaml's `visit_int`: ('u64'|'i64'|'u128'|'i128', value), or None."""
    for name, parse in (
        ("u64", lambda: _parse_unsigned(scalar, U64_MAX)),
        ("i64", lambda: _parse_negative(scalar, I64_MIN, (1 << 63) - 1)),
        ("u128", lambda: _parse_unsigned(scalar, U128_MAX)),
        ("i128", lambda: _parse_negative(scalar, I128_MIN, (1 << 127) - 1)),
    ):
        value = parse()
        if value is not None:
            return name, value
    return None


def _parse_f64(scalar):
    unpositive = scalar
    if scalar[:1] == "+":
        unpositive = scalar[1:]
        if unpositive[:1] in ("+", "-"):
            return None
    if unpositive in (".inf", ".Inf", ".INF"):
        return float("inf")
    if scalar in ("-.inf", "-.Inf", "-.INF"):
        return float("-inf")
    if scalar in (".nan", ".NaN", ".NAN"):
        return float("nan")
    if _RUST_FLOAT.fullmatch(unpositive):
        value = float(unpositive)
        if value == value and value not in (float("inf"), float("-inf")):
            return value
    return None


def _json_number(kind, value):
    """serde_json's visitor for the integer serde_yaml found."""
    if kind in ("u64", "i64") or 0 <= value <= U64_MAX or I64_MIN <= value < 0:
        return value
    raise _Message("JSON number out of range")


def _json_float(value):
    return value if value == value and value not in (float("inf"), float("-inf")) else None


class _Message(Exception):
    """An error without position yet (serde's `Error::custom`), placed by the node that raised it."""


def _untagged_scalar(v):
    if v == "" or v in ("null", "Null", "NULL", "~"):
        return None
    if v in ("true", "True", "TRUE"):
        return True
    if v in ("false", "False", "FALSE"):
        return False
    found = _visit_int(v)
    if found is not None:
        return _json_number(*found)
    if not _digits_but_not_number(v):
        f = _parse_f64(v)
        if f is not None:
            return _json_float(f)
    return v


def _invalid_value(v, expected):
    return _Message("invalid value: string %s, expected %s" % (rust_debug_str(v), expected))


def _scalar(node):
    v, tag = node.value, node.tag
    if tag == TAG_BOOL:
        if v in ("true", "True", "TRUE", "false", "False", "FALSE"):
            return v[0] in "tT"
        raise _invalid_value(v, "a boolean")
    if tag == TAG_INT:
        found = _visit_int(v)
        if found is None:
            raise _invalid_value(v, "an integer")
        return _json_number(*found)
    if tag == TAG_FLOAT:
        f = _parse_f64(v)
        if f is None:
            raise _invalid_value(v, "a float")
        return _json_float(f)
    if tag == TAG_NULL:
        if v in ("null", "Null", "NULL", "~"):
            return None
        raise _invalid_value(v, "null")
    if tag == "" and node.style in ("", None):
        return _untagged_scalar(v)
    return v


# ---- nodes ---------------------------------------------------------------------------------------


def _path_key(path, key):
    return key if path == "." else path + "." + key


def _fail(message, node, path):
    where = _mark(node.start_mark)
    text = message if path == "." else "%s: %s" % (path, message)
    return YamlError(text + (" at " + where if where else ""))


def _convert(node, path, depth):
    if node.tag.startswith("!"):
        raise _fail("invalid type: enum, expected any valid JSON value", node, path)
    if isinstance(node, yaml.ScalarNode):
        try:
            return _scalar(node)
        except _Message as e:
            raise _fail(str(e), node, path) from None
    if depth == 0:
        raise YamlError("recursion limit exceeded" + (" at " + _mark(node.start_mark) if _mark(node.start_mark) else ""))
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, "%s[%d]" % (path, i), depth - 1) for i, item in enumerate(node.value)]
    entries = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "sequence" if isinstance(key_node, yaml.SequenceNode) else "map"
            raise _fail("invalid type: %s, expected a string key" % kind, key_node, path)
        entries[key_node.value] = _convert(value_node, _path_key(path, key_node.value), depth - 1)
    return entries


def load(text):
    """`serde_yaml::from_str::<serde_json::Value>(text)`, or YamlError."""
    parser = _Untagged(text)
    try:
        node = parser.get_single_node()
    except yaml.composer.ComposerError as e:
        if e.context == "expected a single document in the stream":
            raise YamlError("deserializing from YAML containing more than one document is not supported") from None
        raise _libyaml_error(e) from None
    except yaml.YAMLError as e:
        raise _libyaml_error(e) from None
    if node is None:
        return None  # a stream of comments: no node, which serde_yaml reads as null
    return _convert(node, ".", RECURSION_LIMIT)
