# otel-python preflight: run by the app's own interpreter, in the app's image, after the copy.
# argv: disable|fail, the copied tree. Any Python 3, standard library only.
import os, re, sys

MODE, ROOT = sys.argv[1], sys.argv[2]


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def headers(path):
    found = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                if key in ("Name", "Version", "Requires-Python") and key not in found:
                    found[key] = value.strip()
    except (OSError, ValueError):
        pass
    return found


def dists(folder):
    found = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(".dist-info"):
            meta = headers(os.path.join(path, "METADATA"))
        elif name.endswith(".egg-info"):
            meta = headers(os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path)
        else:
            continue
        if meta.get("Name"):
            found.setdefault(norm(meta["Name"]), (meta, folder))
    return found


def release(text):
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def allows(spec, version):
    for clause in spec.split(","):
        m = re.match(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*(\S+)\s*$", clause)
        if not m:
            continue
        op, target = m.groups()
        if target.endswith(".*"):
            prefix = release(target[:-2])
            same = version[: len(prefix)] == prefix
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        want = release(target)
        n = max(len(want), len(version))
        a, b = version + (0,) * (n - len(version)), want + (0,) * (n - len(want))
        ok = {
            "==": a == b, "===": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
            ">": a > b, ">=": a >= b, "~=": a >= b and a[: len(want) - 1] == b[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def findings():
    injected = dists(ROOT)
    here = os.path.realpath(ROOT)
    app = {}
    for entry in sys.path:
        real = os.path.realpath(entry or ".")
        if real == here or real.startswith(here + os.sep):
            continue
        for name, found in dists(entry or ".").items():
            app.setdefault(name, found)
    python = "%d.%d.%d" % sys.version_info[:3]
    order = sorted(injected, key=lambda n: (n != "opentelemetry-sdk", n))
    for name in order:
        meta = injected[name][0]
        spec = meta.get("Requires-Python")
        if spec and not allows(spec, tuple(sys.version_info[:3])):
            return ["Python %s is outside what the injected %s %s supports (Requires-Python %s)"
                    % (python, meta["Name"], meta.get("Version", "?"), spec)]
    for name in ("opentelemetry-distro", "opentelemetry-sdk"):
        if name in app:
            meta, folder = app[name]
            return ["already instrumented: the app has %s %s installed (in %s)"
                    % (meta["Name"], meta.get("Version", "?"), folder)]
    shadowed = []
    for name in sorted(injected):
        if name in app and injected[name][0].get("Version") != app[name][0].get("Version"):
            mine, (theirs, folder) = injected[name][0], app[name]
            shadowed.append("the injected %s %s would shadow the app's %s %s (in %s)"
                            % (mine["Name"], mine.get("Version"), theirs["Name"], theirs.get("Version"), folder))
    return shadowed


def say(text):
    print(text, flush=True)
    try:
        with open("/dev/termination-log", "w") as f:
            f.write(text)
    except OSError:
        pass


def main():
    try:
        found = findings()
    except Exception as e:  # a preflight that cannot look must not let a broken app start instrumented
        found = ["the preflight could not inspect the app: %r" % (e,)]
    if not found:
        say("otel-python preflight: no finding, the app starts instrumented")
        return 0
    reason = "; ".join(found)
    if MODE == "fail":
        say("otel-python preflight: the pod does not start (preflight: fail): " + reason)
        return 1
    aside = os.path.join(ROOT, ".disabled")
    try:
        os.makedirs(aside, exist_ok=True)
        for name in os.listdir(ROOT):
            if name != ".disabled":
                os.rename(os.path.join(ROOT, name), os.path.join(aside, name))
    except OSError as e:
        say("otel-python preflight: could not disable the instrumentation (%s): %s" % (e, reason))
        return 1
    say("otel-python preflight: instrumentation disabled, the app starts without it: " + reason)
    return 0


sys.exit(main())
