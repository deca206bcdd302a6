"""JSON values as the Rust host's serde_json 1.0.154 holds, reads and writes them.

The host is built without serde_json's `preserve_order`, `arbitrary_precision` and
`float_roundtrip` features, so:

- an object is a map with its keys in byte order (`dict` here; written sorted, whatever the
  insertion order);
- a number is an unsigned or a negative 64-bit integer, or an f64 (`int` or `float` here: `1` and
  `1.0` are different values, as `true` and `1` are);
- numbers are read with serde_json's own fast algorithm (`f64_from_parts`), not correctly rounded
  parsing, and floats are written by zmij (shortest digits, `1e+20`, `0.00001`);
- strings escape `"`, `\\` and the control characters only, `\\u00XX` in lower-case hex.

`parse` reads text as `serde_json::from_str` does, with its error messages and positions;
`dumps` writes `serde_json::to_string`, `dumps_pretty` `serde_json::to_string_pretty`.
`Fields` is a struct whose fields are written in declaration order (a `#[derive(Serialize)]`
type), where a `dict` is a `serde_json::Map`.
"""

import math
import re

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I32_MAX = (1 << 31) - 1
# serde_json's POW10 table: the correctly rounded literals 1e0 ..= 1e308.
POW10 = [float("1e%d" % i) for i in range(309)]
RECURSION_LIMIT = 128


class JsonError(Exception):
    """A serde_json error: its message and, for a syntax error, its line and column."""

    def __init__(self, message, line=0, column=0):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self):
        if self.line == 0:
            return self.message
        return "%s at line %d column %d" % (self.message, self.line, self.column)


class Fields:
    """A struct: (name, value) pairs written in this order."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = list(items)


# ---- equality ------------------------------------------------------------------------------------


def kind(value):
    """The serde_json variant of a value: null, bool, int, float, str, list or dict."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


def equal(a, b):
    """`Value == Value`: numbers of different variants differ (1 != 1.0), as bools and ints do."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if ka == "dict":
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


# ---- writing -------------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_TO_ESCAPE = re.compile('["\\\\\x00-\x1f]')


def _escape_char(match):
    ch = match.group(0)
    return _ESCAPES.get(ch) or "\\u%04x" % ord(ch)


def write_str(s):
    return '"' + _TO_ESCAPE.sub(_escape_char, s) + '"'


def shortest_digits(x):
    """The shortest digits that read back as the positive finite `x`, and the decimal exponent
    of the first one: `x == 0.d1d2... * 10**(exp + 1)`."""
    text = repr(x)
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    exp10 = int(exp or 0) + len(whole) - 1 - (len(whole + frac) - len((whole + frac).lstrip("0")))
    return digits.rstrip("0") or "0", exp10


def write_float(x):
    """zmij's `format_finite`: fixed notation for decimal exponents -5..=15, else `d.ddde+N`."""
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, exp = shortest_digits(abs(x))
    n = len(digits)
    if -5 <= exp <= 15:
        if n - 1 <= exp:
            return sign + digits + "0" * (exp + 1 - n) + ".0"
        if exp >= 0:
            return sign + digits[: exp + 1] + "." + digits[exp + 1 :]
        return sign + "0." + "0" * (-exp - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if n > 1 else "")
    return "%s%se%s%d" % (sign, mantissa, "+" if exp >= 0 else "-", abs(exp))


def _write(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(write_float(value))
    elif isinstance(value, str):
        out.append(write_str(value))
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        items = value.items if isinstance(value, Fields) else sorted(value.items())
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            out.append(write_str(key))
            out.append(":")
            _write(item, out)
        out.append("}")


def dumps(value):
    """`serde_json::to_string`: compact."""
    out = []
    _write(value, out)
    return "".join(out)


def _write_pretty(value, out, indent):
    if isinstance(value, list) and value:
        inner = indent + "  "
        out.append("[")
        for i, item in enumerate(value):
            out.append(",\n" if i else "\n")
            out.append(inner)
            _write_pretty(item, out, inner)
        out.append("\n" + indent + "]")
    elif isinstance(value, (dict, Fields)) and (value.items if isinstance(value, Fields) else value):
        items = value.items if isinstance(value, Fields) else sorted(value.items())
        inner = indent + "  "
        out.append("{")
        for i, (key, item) in enumerate(items):
            out.append(",\n" if i else "\n")
            out.append(inner + write_str(key) + ": ")
            _write_pretty(item, out, inner)
        out.append("\n" + indent + "}")
    else:
        _write(value, out)


def dumps_pretty(value):
    """`serde_json::to_string_pretty`: two-space indent, `[]` and `{}` when empty."""
    out = []
    _write_pretty(value, out, "")
    return "".join(out)


# ---- reading -------------------------------------------------------------------------------------

_PLAIN_RUN = re.compile(rb'[^"\\\x00-\x1f]*')
_WHITESPACE = re.compile(rb"[ \n\t\r]*")
_HEX4 = re.compile(rb"[0-9a-fA-F]{4}")
# null, true and false: their first byte, the rest, and the value.
_IDENTS = {ord("n"): (b"ull", None), ord("t"): (b"rue", True), ord("f"): (b"alse", False)}
_SIMPLE_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\x08",
    ord("f"): b"\x0c",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
}


def _overflows(a, digit, limit):
    """serde_json's `overflow!(a * 10 + digit, limit)`."""
    return a >= limit // 10 and (a > limit // 10 or digit > limit % 10)


class _Parser:
    """serde_json's `Deserializer<SliceRead>` driving `Value`'s visitor."""

    def __init__(self, data):
        self.data = data
        self.index = 0
        self.remaining_depth = RECURSION_LIMIT

    # -- positions and errors, as SliceRead reports them --
    def _position(self, i):
        start_of_line = self.data.rfind(b"\n", 0, i) + 1
        return 1 + self.data.count(b"\n", 0, start_of_line), i - start_of_line

    def error(self, message):
        """An error caused by a byte from next_char()."""
        return JsonError(message, *self._position(self.index))

    def peek_error(self, message):
        """An error caused by a byte from peek()."""
        return JsonError(message, *self._position(min(len(self.data), self.index + 1)))

    def peek(self):
        return self.data[self.index] if self.index < len(self.data) else None

    def peek_or_null(self):
        return self.data[self.index] if self.index < len(self.data) else 0

    def next_char(self):
        ch = self.peek()
        if ch is not None:
            self.index += 1
        return ch

    def parse_whitespace(self):
        self.index = _WHITESPACE.match(self.data, self.index).end()
        return self.peek()

    # -- values --
    def parse_value(self):
        peek = self.parse_whitespace()
        if peek is None:
            raise self.peek_error("EOF while parsing a value")
        if peek in _IDENTS:
            rest, value = _IDENTS[peek]
            self.index += 1
            self.parse_ident(rest)
            return value
        if peek == ord("-"):
            self.index += 1
            return self.parse_integer(False)
        if ord("0") <= peek <= ord("9"):
            return self.parse_integer(True)
        if peek == ord('"'):
            self.index += 1
            return self.parse_str()
        if peek == ord("["):
            return self.nested(self.parse_seq_body)
        if peek == ord("{"):
            return self.nested(self.parse_map_body)
        raise self.peek_error("expected value")

    def nested(self, body):
        """A list or an object, 128 levels at most. Value's visitor reads every element, so the
        body ends on the closing bracket (serde_json's end_seq / end_map then only eat it)."""
        self.remaining_depth -= 1
        if self.remaining_depth == 0:
            raise self.peek_error("recursion limit exceeded")
        self.index += 1
        value = body()
        self.remaining_depth += 1
        self.index += 1
        return value

    def parse_ident(self, ident):
        for expected in ident:
            got = self.next_char()
            if got is None:
                raise self.error("EOF while parsing a value")
            if got != expected:
                raise self.error("expected ident")

    def after_comma(self, closing):
        """Past a `,` between elements: the next byte, which must start one."""
        self.index += 1
        after = self.parse_whitespace()
        if after == closing:
            raise self.peek_error("trailing comma")
        if after is None:
            raise self.peek_error("EOF while parsing a value")
        return after

    def elements(self, closing, eof, expected, parse_one):
        """The elements of a list or an object up to `closing`, `parse_one(first byte)` each."""
        first = True
        while True:
            peek = self.parse_whitespace()
            if peek is None:
                raise self.peek_error(eof)
            if peek == closing:
                return
            if first:
                first = False
            elif peek == ord(","):
                peek = self.after_comma(closing)
            else:
                raise self.peek_error(expected)
            parse_one(peek)

    def parse_seq_body(self):
        items = []
        self.elements(ord("]"), "EOF while parsing a list", "expected `,` or `]`", lambda _: items.append(self.parse_value()))
        return items

    def parse_map_body(self):
        entries = {}

        def entry(peek):
            if peek != ord('"'):
                raise self.peek_error("key must be a string")
            self.index += 1
            key = self.parse_str()
            colon = self.parse_whitespace()
            if colon is None:
                raise self.peek_error("EOF while parsing an object")
            if colon != ord(":"):
                raise self.peek_error("expected `:`")
            self.index += 1
            entries[key] = self.parse_value()

        self.elements(ord("}"), "EOF while parsing an object", "expected `,` or `}`", entry)
        return entries

    # -- strings --
    def parse_str(self):
        chunks = []
        while True:
            end = _PLAIN_RUN.match(self.data, self.index).end()
            chunks.append(self.data[self.index : end])
            self.index = end
            if end == len(self.data):
                raise self.error("EOF while parsing a string")
            ch = self.data[end]
            self.index += 1
            if ch == ord('"'):
                return b"".join(chunks).decode("utf-8")
            if ch != ord("\\"):
                raise self.error("control character (\\u0000-\\u001F) found while parsing a string")
            chunks.append(self.parse_escape())

    def parse_escape(self):
        ch = self.next_char()
        if ch is None:
            raise self.error("EOF while parsing a string")
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch != ord("u"):
            raise self.error("invalid escape")
        n = self.decode_hex_escape()
        if 0xDC00 <= n <= 0xDFFF:
            raise self.error("lone leading surrogate in hex escape")
        if not 0xD800 <= n <= 0xDBFF:
            return chr(n).encode("utf-8")
        for expected in (ord("\\"), ord("u")):
            got = self.peek()
            if got is None:
                raise self.error("EOF while parsing a string")
            self.index += 1
            if got != expected:
                raise self.error("unexpected end of hex escape")
        n2 = self.decode_hex_escape()
        if not 0xDC00 <= n2 <= 0xDFFF:
            raise self.error("lone leading surrogate in hex escape")
        return chr((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000).encode("utf-8")

    def decode_hex_escape(self):
        if self.index + 4 > len(self.data):
            self.index = len(self.data)
            raise self.error("EOF while parsing a string")
        digits = self.data[self.index : self.index + 4]
        self.index += 4
        if not _HEX4.fullmatch(digits):
            raise self.error("invalid escape")
        return int(digits, 16)

    # -- numbers (without float_roundtrip) --
    def parse_integer(self, positive):
        first = self.next_char()
        if first is None:
            raise self.error("EOF while parsing a value")
        if first == ord("0"):
            if ord("0") <= self.peek_or_null() <= ord("9"):
                raise self.peek_error("invalid number")
            return self.parse_number(positive, 0)
        if not ord("1") <= first <= ord("9"):
            raise self.error("invalid number")
        significand = first - ord("0")
        while True:
            c = self.peek_or_null()
            if not ord("0") <= c <= ord("9"):
                return self.parse_number(positive, significand)
            digit = c - ord("0")
            if _overflows(significand, digit, U64_MAX):
                return self.parse_long_integer(positive, significand)
            self.index += 1
            significand = significand * 10 + digit

    def parse_number(self, positive, significand):
        c = self.peek_or_null()
        if c == ord("."):
            return self.parse_decimal(positive, significand, 0)
        if c in (ord("e"), ord("E")):
            return self.parse_exponent(positive, significand, 0)
        if positive:
            return significand
        if significand == 0 or significand > -I64_MIN:
            # Into a float on `-0` and when below i64::MIN (the Rust code's wrapping_neg test).
            return -float(significand)
        return -significand

    def parse_decimal(self, positive, significand, exponent_before):
        self.index += 1
        exponent_after = 0
        while ord("0") <= self.peek_or_null() <= ord("9"):
            digit = self.peek_or_null() - ord("0")
            if _overflows(significand, digit, U64_MAX):
                return self.parse_decimal_overflow(positive, significand, exponent_before + exponent_after)
            self.index += 1
            significand = significand * 10 + digit
            exponent_after -= 1
        if exponent_after == 0:
            if self.peek() is not None:
                raise self.peek_error("invalid number")
            raise self.peek_error("EOF while parsing a value")
        exponent = exponent_before + exponent_after
        if self.peek_or_null() in (ord("e"), ord("E")):
            return self.parse_exponent(positive, significand, exponent)
        return self.f64_from_parts(positive, significand, exponent)

    def parse_exponent(self, positive, significand, starting_exp):
        self.index += 1
        positive_exp = True
        if self.peek_or_null() == ord("+"):
            self.index += 1
        elif self.peek_or_null() == ord("-"):
            self.index += 1
            positive_exp = False
        first = self.next_char()
        if first is None:
            raise self.error("EOF while parsing a value")
        if not ord("0") <= first <= ord("9"):
            raise self.error("invalid number")
        exp = first - ord("0")
        while ord("0") <= self.peek_or_null() <= ord("9"):
            digit = self.peek_or_null() - ord("0")
            self.index += 1
            if _overflows(exp, digit, I32_MAX):
                return self.parse_exponent_overflow(positive, significand == 0, positive_exp)
            exp = exp * 10 + digit
        final = starting_exp + exp if positive_exp else starting_exp - exp
        final = max(-(1 << 31), min(I32_MAX, final))  # saturating_add / saturating_sub
        return self.f64_from_parts(positive, significand, final)

    def parse_exponent_overflow(self, positive, zero_significand, positive_exp):
        if not zero_significand and positive_exp:
            raise self.error("number out of range")
        while ord("0") <= self.peek_or_null() <= ord("9"):
            self.index += 1
        return 0.0 if positive else -0.0

    def parse_long_integer(self, positive, significand):
        exponent = 0
        while True:
            c = self.peek_or_null()
            if ord("0") <= c <= ord("9"):
                self.index += 1
                exponent += 1
            elif c == ord("."):
                return self.parse_decimal(positive, significand, exponent)
            elif c in (ord("e"), ord("E")):
                return self.parse_exponent(positive, significand, exponent)
            else:
                return self.f64_from_parts(positive, significand, exponent)

    def parse_decimal_overflow(self, positive, significand, exponent):
        while ord("0") <= self.peek_or_null() <= ord("9"):
            self.index += 1
        if self.peek_or_null() in (ord("e"), ord("E")):
            return self.parse_exponent(positive, significand, exponent)
        return self.f64_from_parts(positive, significand, exponent)

    def f64_from_parts(self, positive, significand, exponent):
        f = float(significand)
        while True:
            magnitude = abs(exponent) if exponent != -(1 << 31) else None
            if magnitude is not None and magnitude < len(POW10):
                if exponent >= 0:
                    f *= POW10[magnitude]
                    if math.isinf(f):
                        raise self.error("number out of range")
                else:
                    f /= POW10[magnitude]
                break
            if f == 0.0:
                break
            if exponent >= 0:
                raise self.error("number out of range")
            f /= 1e308
            exponent += 308
        return f if positive else -f


def parse_bytes(data):
    """`serde_json::from_slice::<Value>`: the value, or JsonError."""
    parser = _Parser(bytes(data))
    value = parser.parse_value()
    if parser.parse_whitespace() is not None:
        raise parser.peek_error("trailing characters")
    return value


def parse_slice(data):
    """`serde_json::from_slice::<Value>` on bytes that may not be UTF-8 (a guest's answer)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _parse_slice_checked(bytes(data))
    return parse_bytes(data)


def _parse_slice_checked(data):
    # serde_json's SliceRead checks UTF-8 per string, when the string ends: the value up to the
    # invalid string parses as usual, and that string fails with "invalid unicode code point".
    parser = _Parser(data)
    original = parser.parse_str

    def checked():
        start = parser.index
        try:
            return original()
        except UnicodeDecodeError as e:
            parser.index = start + e.start
            raise parser.error("invalid unicode code point") from None

    parser.parse_str = checked
    value = parser.parse_value()
    if parser.parse_whitespace() is not None:
        raise parser.peek_error("trailing characters")
    return value


def parse(text):
    """`serde_json::from_str::<Value>`."""
    return parse_bytes(text.encode("utf-8"))


# ---- what serde reports about a value ------------------------------------------------------------


def rust_debug_str(s):
    """Rust's `{:?}` of a `str`."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    out.append('"')
    return "".join(out)


def unexpected(value):
    """serde_json's `Value::unexpected()`, as its errors word it."""
    k = kind(value)
    if k == "null":
        return "null"
    if k == "bool":
        return "boolean `%s`" % ("true" if value else "false")
    if k == "int":
        return "integer `%d`" % value
    if k == "float":
        return "floating point `%s`" % write_float(value)
    if k == "str":
        return "string " + rust_debug_str(value)
    if k == "list":
        return "sequence"
    return "map"


def invalid_type(value, expected):
    return JsonError("invalid type: %s, expected %s" % (unexpected(value), expected))
