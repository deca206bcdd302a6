"""The preflight's script (src/inject/preflight.py, the exact text the policy puts in the pod) on
metadata made for each case: only one interpreter (this machine's) exists here, so the version
gate is tested against Requires-Python specifiers around it, not against other Pythons."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = (Path(__file__).resolve().parents[3] / "src" / "inject" / "preflight.py").read_text()
PYTHON = "%d.%d.%d" % sys.version_info[:3]
MAJOR_MINOR = "%d.%d" % sys.version_info[:2]


def dist(folder: Path, name: str, version: str, requires_python: str | None = None) -> None:
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    (info / "METADATA").write_text("\n".join(lines) + "\n\nDescription\nName: not-a-header\n")


def preflight(tmp_path: Path, mode: str = "fail", app_dists=(), sdk_requires=">=3.10", injected=()):
    root, app = tmp_path / "otel", tmp_path / "app"
    dist(root, "opentelemetry-sdk", "1.45.1", sdk_requires)
    for args in injected:
        dist(root, *args)
    app.mkdir()
    for args in app_dists:
        dist(app, *args)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(app)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(root)], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    return run.returncode, run.stdout.strip(), root


@pytest.mark.parametrize("spec", [">=3.10", f">={MAJOR_MINOR}", f"~={MAJOR_MINOR}", ">=3.8,<4",
                                  f"=={MAJOR_MINOR}.*", "!=3.9.*", f"<={PYTHON}", None])
def test_interpreters_the_sdk_accepts_pass(tmp_path, spec):
    code, out, _ = preflight(tmp_path, sdk_requires=spec)
    assert (code, out) == (0, "otel-python preflight: no finding, the app starts instrumented")


@pytest.mark.parametrize("spec", [">=3.12" if sys.version_info < (3, 12) else ">=9", f"<{MAJOR_MINOR}",
                                  f"!={MAJOR_MINOR}.*", f">{PYTHON}", "==3.9.*", "~=3.8.0"])
def test_interpreters_outside_requires_python_are_found(tmp_path, spec):
    code, out, root = preflight(tmp_path, sdk_requires=spec)
    assert code == 1
    assert out == ("otel-python preflight: the pod does not start (preflight: fail): Python %s is outside what "
                   "the injected opentelemetry-sdk 1.45.1 supports (Requires-Python %s)" % (PYTHON, spec))
    assert (root / "opentelemetry_sdk-1.45.1.dist-info").is_dir(), "fail leaves the tree as it is"


def test_another_injected_distribution_outside_its_requires_python_is_named(tmp_path):
    code, out, _ = preflight(tmp_path, injected=[("requests", "2.34.2", ">=99")])
    assert code == 1 and "the injected requests 2.34.2 supports (Requires-Python >=99)" in out


def test_disable_moves_the_tree_aside(tmp_path):
    code, out, root = preflight(tmp_path, mode="disable", app_dists=[("opentelemetry-distro", "0.50b0")])
    assert code == 0
    assert out.startswith("otel-python preflight: instrumentation disabled, the app starts without it: "
                          "already instrumented: the app has opentelemetry-distro 0.50b0 installed (in ")
    assert sorted(p.name for p in root.iterdir()) == [".disabled"]
    assert (root / ".disabled" / "opentelemetry_sdk-1.45.1.dist-info").is_dir()


def test_a_shadowed_distribution_names_both_versions(tmp_path):
    code, out, _ = preflight(tmp_path, injected=[("urllib3", "2.8.0"), ("idna", "3.20")],
                             app_dists=[("urllib3", "1.26.20"), ("idna", "3.20")])
    assert code == 1
    assert out.endswith("the injected urllib3 2.8.0 would shadow the app's urllib3 1.26.20 (in %s)"
                        % (tmp_path / "app"))


def test_the_app_sdk_counts_as_already_instrumented_before_shadowing(tmp_path):
    code, out, _ = preflight(tmp_path, app_dists=[("opentelemetry-sdk", "1.20.0")])
    assert code == 1 and "already instrumented: the app has opentelemetry-sdk 1.20.0" in out
