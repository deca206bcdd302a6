"""One telemetry scenario: receiver up, pod mutated by the built module, pod started, app ready."""
from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from . import policy
from .podrunner import Image, PodFailed, RunningPod, base_os_binds
from .receiver import OtlpReceiver, Span

HERE = Path(__file__).resolve().parents[1]
FIXTURES = HERE / "fixtures"
APPS = HERE / "apps"

ARTICLE_IMAGE = "image.com.tw/library/otel-autoinstrumentation-python:0.43b0"
FLASK_IMAGE = "hello-api:1.0.0"
FASTAPI_IMAGE = "items-api:2.3.1"

# The settings' env that makes the suite fast and turns log export on (see README).
FAST_ENV = [
    {"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": "1000"},
    {"name": "OTEL_BSP_SCHEDULE_DELAY", "value": "200"},
    {"name": "OTEL_BLRP_SCHEDULE_DELAY", "value": "200"},
    {"name": "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "value": "true"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def article_settings(endpoint: str) -> dict:
    settings = yaml.safe_load((FIXTURES / "article-settings.yaml").read_text())
    settings["instrumentations"][0]["spec"]["exporter"]["endpoint"] = endpoint
    return settings


def article_spec(settings: dict) -> dict:
    """The article Instrumentation's spec, for scenarios that tweak it."""
    return settings["instrumentations"][0]["spec"]


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


def _env_path(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the suite through e2e-tests/telemetry/run.sh")
    return Path(value)


def autoinstrumentation_tree() -> Path:
    """The cached package tree that stands in for the image's /autoinstrumentation."""
    return _env_path("TELEMETRY_AUTOINSTRUMENTATION")


def autoinstrumentation_image() -> Image:
    """The operator's Python image: /autoinstrumentation (and -musl), plus a `cp` from the host."""
    tree = str(autoinstrumentation_tree())
    # This machine has only glibc; the musl path holds the same tree so that the musl command's
    # source exists, as it does in the real image.
    return Image(binds=base_os_binds() + [(tree, "/autoinstrumentation"), (tree, "/autoinstrumentation-musl")],
                 env={"PATH": "/usr/local/bin:/usr/bin:/bin"})


def _python_app_image(app_dir: Path, env: dict[str, str], cmd: list[str]) -> Image:
    venv = _env_path("TELEMETRY_APP_VENV")
    prefix = Path(os.path.realpath(venv / "bin" / "python")).parents[1]  # the interpreter's install
    binds = base_os_binds() + [(str(prefix), str(prefix)), (str(venv), "/opt/app-venv"), (str(app_dir), "/app")]
    binds += [(p, p) for p in ("/etc/hosts", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf") if os.path.exists(p)]
    return Image(binds=binds,
                 env={"PATH": "/opt/app-venv/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root",
                      "LANG": "C.UTF-8", **env},
                 cmd=cmd, workdir="/app")


def flask_image(port: int) -> Image:
    # Like a Dockerfile with `ENV PORT=...` and `CMD ["python", "/app/app.py"]`.
    return _python_app_image(APPS / "flask", {"PORT": str(port)}, ["python", "/app/app.py"])


def fastapi_image() -> Image:
    return _python_app_image(APPS / "fastapi", {},
                             ["python", "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", "8000"])


# --------------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------------


class Scenario:
    def __init__(self, name: str, pod: dict, settings: dict | None, images: dict[str, Image],
                 ports: dict[str, int], receiver: OtlpReceiver, mutated: dict | None = None):
        self.name = name
        self.receiver = receiver
        self.ports = ports
        self.mutation = None
        if mutated is None:
            self.mutation = policy.mutate(pod, settings)
            mutated = self.mutation.pod
        self.mutated_pod = mutated
        self.running = RunningPod(mutated, images)
        self.artifacts = Path(os.environ.get("TELEMETRY_ARTIFACTS", "/tmp/otel-python-policy-telemetry")) / name
        shutil.rmtree(self.artifacts, ignore_errors=True)
        self.artifacts.mkdir(parents=True)
        (self.artifacts / "mutated-pod.json").write_text(json.dumps(mutated, indent=2))
        if self.mutation is not None:
            (self.artifacts / "admission-response.json").write_text(json.dumps(self.mutation.response, indent=2))
            (self.artifacts / "patch.json").write_text(json.dumps(self.mutation.patch, indent=2))

    @property
    def pod_name(self) -> str:
        return self.running.identity.name

    def start(self, ready_timeout: float = 60) -> "Scenario":
        self.running.start()
        for container, port in self.ports.items():
            self._wait_ready(container, port, ready_timeout)
        return self

    def _wait_ready(self, container: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.running.check_running()
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise PodFailed(f"{container} not ready on port {port} after {timeout}s:\n"
                                f"{self.running.containers[container].log()}")
            time.sleep(0.2)

    def get(self, path: str, container: str | None = None, headers: dict | None = None) -> requests.Response:
        port = self.ports[container] if container else next(iter(self.ports.values()))
        response = requests.get(f"http://127.0.0.1:{port}{path}", headers=headers or {}, timeout=10)
        response.raise_for_status()
        return response

    def stop(self) -> None:
        try:
            self.running.stop(cleanup=False)
        finally:
            self.receiver.stop()
            self._save_logs()
            self.running.cleanup()

    def _save_logs(self) -> None:
        for kind, runs in (("init", self.running.init_runs), ("container", self.running.containers.values())):
            for run in runs:
                (self.artifacts / f"{kind}-{run.name}.log").write_text(run.log())
                (self.artifacts / f"{kind}-{run.name}.argv.json").write_text(
                    json.dumps({"argv": run.argv, "env": run.env, "sandbox": run.bwrap}, indent=2))

    # -- span helpers -----------------------------------------------------------------------------

    def server_spans(self) -> list[Span]:
        return [s for s in self.receiver.spans() if s.kind == "SPAN_KIND_SERVER"]

    def server_span_for(self, path: str) -> list[Span]:
        return [s for s in self.server_spans() if request_path(s) == path]

    def wait_server_span(self, path: str, timeout: float = 30) -> Span:
        return self.receiver.wait_for(lambda: self.server_span_for(path), timeout,
                                      f"a SERVER span for {path}")[0]


def request_path(span: Span) -> str | None:
    """The request path of a server span, under the old or the new HTTP semantic conventions."""
    a = span.attributes
    if "url.path" in a:
        return a["url.path"]
    if "http.target" in a:
        return a["http.target"].split("?", 1)[0]
    return None


def new_ids() -> tuple[str, str]:
    """A fresh (trace id, span id) pair as hex strings."""
    return secrets.token_hex(16), secrets.token_hex(8)


def start_scenario(name: str, pod: dict, settings_for, images: dict[str, Image], ports: dict[str, int],
                   mutated: dict | None = None) -> Scenario:
    """settings_for(endpoint) builds the policy settings once the receiver's endpoint is known."""
    receiver = OtlpReceiver().start()
    try:
        settings = settings_for(receiver.endpoint) if settings_for else None
        scenario = Scenario(name, copy.deepcopy(pod), settings, images, ports, receiver, mutated)
        if settings is not None:
            (scenario.artifacts / "settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    except BaseException:
        receiver.stop()
        raise
    try:
        return scenario.start()
    except BaseException:
        scenario.stop()
        raise


def tuned_settings(extra_env=(), **spec_changes):
    """The article's settings with the settings' env asking for fast export and log export, plus
    changes to its Instrumentation spec (propagators, sampler, ...). Returns settings_for(endpoint)."""
    def settings_for(endpoint: str) -> dict:
        settings = article_settings(endpoint)
        spec = article_spec(settings)
        spec["env"] = copy.deepcopy(FAST_ENV) + list(extra_env)
        spec.update(copy.deepcopy(spec_changes))
        return settings
    return settings_for


def pod_fixture(name: str, **changes) -> dict:
    """A fixture pod with metadata annotations/labels merged and spec fields replaced."""
    pod = load_json(name)
    meta = pod["metadata"]
    for key in ("annotations", "labels"):
        if key in changes:
            meta.setdefault(key, {}).update(changes.pop(key))
    pod["spec"].update(changes)
    return pod


def musl_article_pod() -> dict:
    """The article's pod on the musl platform (an Alpine-based app image)."""
    return pod_fixture("article-pod.json",
                       annotations={"instrumentation.opentelemetry.io/otel-python-platform": "musl"})
