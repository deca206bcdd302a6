"""policy-run in Python: evaluate admission requests against the policy module, as `kwctl run`
and the project's `policy-run` (e2e-tests/src/bin/policy-run.rs) do, on wasmtime's prebuilt
engine from PyPI.

    policy_run.py --request-path FILE|- [--settings-path FILE | --settings-json JSON] [--show-patch] MODULE.wasm
    policy_run.py --batch FILE [--show-patch] MODULE.wasm

One run prints what `policy-run` prints for the same inputs, byte for byte: one line on stdout, the
AdmissionResponse kwctl prints; with --show-patch the decoded patch, pretty, on stderr; invalid
settings give `Error: Provided settings are not valid: <message>` on stderr and exit 1, and a
request kwctl cannot read is refused with the same words. Cluster mode (`--cluster`) is
`policy-run`'s alone.

--batch compiles the module once and evaluates many runs: FILE holds one JSON object per line,
`{"request_path": .., "settings_path": ..}` or `{"request_path": .., "settings_json": ..}` (the
values of the flags of the same names; settings may be left out), and each run prints one line,
`{"exit": <status>, "stdout": <what a run prints on stdout>, "stderr": <on stderr>}`; each run gets
a fresh instance. `policy-run --batch` reads and writes the same.
"""

import sys

import admission
import jsonvalue
import yamlsettings
import wapchost
from admission import RunError
from jsonvalue import Fields, JsonError

USAGE = (
    "usage: policy_run.py --request-path FILE|- [--settings-path FILE | --settings-json JSON] "
    "[--show-patch] MODULE.wasm\n       policy_run.py --batch FILE [--show-patch] MODULE.wasm"
)


# Unicode White_Space, what Rust's `str::trim` removes.
RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


class Outcome:
    """What one run prints, and its exit status."""

    def __init__(self):
        self.exit = 0
        self.stdout = []
        self.stderr = []


def parse_args(argv):
    """The flags of `policy-run`, as it reads them; None for --help."""
    args = {"request_path": None, "settings": None, "show_patch": False, "module": None, "batch": None}
    it = iter(argv)
    for arg in it:
        flag, inline = arg, None
        if arg.startswith("--") and "=" in arg:
            flag, inline = arg.split("=", 1)

        def value(name):
            v = inline if inline is not None else next(it, None)
            if v is None:
                raise RunError("%s needs a value\n%s" % (name, USAGE))
            return v

        if flag in ("-h", "--help"):
            return None
        if flag in ("-r", "--request-path"):
            args["request_path"] = value("--request-path")
        elif flag in ("-s", "--settings-path", "--settings-json"):
            if args["settings"] is not None:
                raise RunError("give either --settings-path or --settings-json, not both")
            kind = "json" if flag == "--settings-json" else "path"
            args["settings"] = (kind, value("--settings-json" if kind == "json" else "--settings-path"))
        elif flag == "--show-patch":
            args["show_patch"] = True
        elif flag == "--batch":
            args["batch"] = value("--batch")
        elif flag in ("--cluster", "--write-session", "--show-calls"):
            raise RunError("%s: cluster mode is policy-run's (e2e-tests/src/bin/policy-run.rs)\n%s" % (flag, USAGE))
        elif flag.startswith("-") and flag != "-":
            raise RunError("unknown option %s\n%s" % (flag, USAGE))
        elif args["module"] is not None:
            raise RunError("only one module path may be given\n%s" % USAGE)
        else:
            args["module"] = arg
    if args["request_path"] is None and args["batch"] is None:
        raise RunError("--request-path is required\n%s" % USAGE)
    if args["module"] is None:
        raise RunError("the module path is required\n%s" % USAGE)
    return args


def io_error(e):
    """Rust's io::Error Display."""
    return "%s (os error %d)" % (e.strerror, e.errno) if e.errno else str(e)


def read_text(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RunError("cannot read %s %s: %s" % (what, path, io_error(e))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RunError("cannot read %s %s: stream did not contain valid UTF-8" % (what, path)) from None


def read_request(path):
    """`e2e_tests::input::read_request`: JSON, an AdmissionReview or a bare AdmissionRequest."""
    if path == "-":
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise RunError("cannot read the request from stdin: stream did not contain valid UTF-8") from None
    else:
        text = read_text(path, "request")
    try:
        value = jsonvalue.parse(text)
    except JsonError as e:
        raise RunError("request %s is not valid JSON: %s" % (path, e)) from None
    return admission.admission_request(value)


def parse_settings(text, path):
    """`e2e_tests::input::parse_settings`: YAML or JSON, an object (empty or null: `{}`)."""
    context = "settings file %s: " % path
    if text.strip(RUST_WHITESPACE) == "":
        return {}
    try:
        value = yamlsettings.load(text)
    except yamlsettings.YamlError as e:
        raise RunError(context + "settings are not valid YAML/JSON: %s" % e) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RunError(context + "settings must be an object, got: %s" % jsonvalue.dumps(value))
    return value


def read_settings(source):
    if source is None:
        return {}
    kind, text = source
    if kind == "path":
        return parse_settings(read_text(text, "settings"), text)
    try:
        value = jsonvalue.parse(text)
    except JsonError as e:
        raise RunError("--settings-json is not JSON: %s" % e) from None
    if value is None:
        return {}  # kwctl reads null settings as no settings
    if not isinstance(value, dict):
        raise RunError("--settings-json must be a JSON object (or null), got: %s" % text)
    return value


def answer_json(operation, raw):
    try:
        return jsonvalue.parse_slice(raw)
    except JsonError as e:
        raise RunError("`%s` answer is not JSON: %s: %s" % (operation, raw.decode("utf-8", "replace"), e)) from None


def call(host, operation, payload):
    try:
        return answer_json(operation, host.call(operation, payload))
    except wapchost.HostError as e:
        raise RunError(str(e)) from None


class Runner:
    """The module, compiled on first use (after the inputs are read, as policy-run orders it)."""

    def __init__(self, module_path):
        self.module_path = module_path
        self.compiled = None

    def policy(self):
        if self.compiled is None:
            try:
                with open(self.module_path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise RunError("cannot read module %s: %s" % (self.module_path, io_error(e))) from None
            try:
                self.compiled = wapchost.CompiledPolicy(data)
            except wapchost.HostError as e:
                raise RunError("module %s: %s" % (self.module_path, e)) from None
        try:
            return self.compiled.instantiate()
        except wapchost.HostError as e:
            raise RunError(str(e)) from None

    def evaluate(self, request_path, settings_source, show_patch, out):
        settings = read_settings(settings_source)
        request = admission.kubewarden_admission_request(read_request(request_path))
        host = self.policy()
        answer = call(host, "validate_settings", jsonvalue.dumps(settings).encode("utf-8"))
        valid = answer.get("valid") if isinstance(answer, dict) else None
        if valid is not True:
            message = answer.get("message") if isinstance(answer, dict) else None
            message = message if isinstance(message, str) else "no message"
            out.stderr.append("Error: Provided settings are not valid: %s\n" % message)
            out.exit = 1
            return
        uid = request.get("uid", "")
        try:
            verdict = call(host, "validate", admission.validate_payload(request, settings))
            response = admission.admission_response(request, verdict)
        except RunError as e:
            response = admission.internal_error(uid, str(e))
        out.stdout.append(jsonvalue.dumps(response) + "\n")
        if show_patch:
            patch = dict(response.items).get("patch")
            if patch is None:
                out.stderr.append("(no patch)\n")
            else:
                out.stderr.append(jsonvalue.dumps_pretty(admission.decoded_patch(patch)) + "\n")

    def run(self, request_path, settings_source, show_patch):
        out = Outcome()
        try:
            self.evaluate(request_path, settings_source, show_patch, out)
        except RunError as e:
            out.stderr.append("Error: %s\n" % e)
            out.exit = 1
        return out


def batch_runs(path):
    """The runs of a batch file: (request_path, settings source) per line."""
    for number, line in enumerate(read_text(path, "batch").split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(RUST_WHITESPACE):
            continue
        try:
            run = jsonvalue.parse(line)
        except JsonError as e:
            raise RunError("batch %s line %d is not JSON: %s" % (path, number, e)) from None
        if not isinstance(run, dict) or not isinstance(run.get("request_path"), str):
            raise RunError("batch %s line %d: a run is an object with a `request_path` string" % (path, number))
        settings = None
        for key, kind in (("settings_path", "path"), ("settings_json", "json")):
            if isinstance(run.get(key), str):
                if settings is not None:
                    raise RunError("batch %s line %d: give either settings_path or settings_json" % (path, number))
                settings = (kind, run[key])
        yield run["request_path"], settings


def main(argv):
    try:
        args = parse_args(argv)
        if args is None:
            print(USAGE)
            return 0
        runner = Runner(args["module"])
        if args["batch"] is None:
            out = runner.run(args["request_path"], args["settings"], args["show_patch"])
            sys.stdout.write("".join(out.stdout))
            sys.stdout.flush()
            sys.stderr.write("".join(out.stderr))
            return out.exit
        for request_path, settings in batch_runs(args["batch"]):
            out = runner.run(request_path, settings, args["show_patch"])
            record = Fields([("exit", out.exit), ("stdout", "".join(out.stdout)), ("stderr", "".join(out.stderr))])
            sys.stdout.write(jsonvalue.dumps(record) + "\n")
        sys.stdout.flush()
        return 0
    except RunError as e:
        sys.stderr.write("Error: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
