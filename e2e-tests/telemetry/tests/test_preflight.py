"""preflight: the init container that runs the app's own image and interpreter after the copy.

The Flask app gets, on its PYTHONPATH, a folder an app would vendor (requirements-preflight-pins.txt):
an older protobuf than the injected opentelemetry-proto needs, or opentelemetry-distro itself. With
`disable` the app starts, serves, and sends nothing, the reason in the preflight's termination
message; with `fail` the pod does not start. test_signals_flask.py runs the article's app with the
preflight on and no finding: all three signals arrive."""
import copy
import os
import time
from pathlib import Path

import pytest

from harness import scenario as sc
from harness.podrunner import PodFailed

PREFLIGHT = "opentelemetry-auto-instrumentation-python-preflight"
PINS = Path(os.environ.get("TELEMETRY_PREFLIGHT_PINS", "/nonexistent"))


def settings(mode):
    tuned = sc.tuned_settings()
    return lambda endpoint: {**tuned(endpoint), "preflight": mode}


def pinned_pod(folder):
    """The article's pod whose container puts the vendored folder on its PYTHONPATH."""
    pod = sc.load_json("article-pod.json")
    pod["spec"]["containers"][0]["env"] = [{"name": "PYTHONPATH", "value": "/opt/pins"}]
    port = sc.free_port()
    image = sc.flask_image(port)
    image.binds.append((str(PINS / folder), "/opt/pins"))
    images = {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: image}
    return pod, images, {"hello-api": port}


def preflight_run(scenario):
    runs = [r for r in scenario.running.init_runs if r.name == PREFLIGHT]
    assert len(runs) == 1
    return runs[0]


def assert_sends_nothing(scenario):
    for i in range(3):
        assert scenario.get(f"/hello/quiet{i}").status_code == 200
    # With the tuned env an instrumented app exports within a second (test_signals_flask.py).
    time.sleep(3)
    assert scenario.receiver.summary() == {}


@pytest.mark.parametrize("folder, reason", [
    ("old-protobuf", "the injected protobuf 7.36.2 would shadow the app's protobuf 4.25.8 (in /opt/pins)"),
    ("own-distro", "already instrumented: the app has opentelemetry-distro 0.60b0 installed (in /opt/pins)"),
])
def test_disable_starts_the_app_uninstrumented_and_says_why(folder, reason):
    pod, images, ports = pinned_pod(folder)
    s = sc.start_scenario(f"preflight-disable-{folder}", pod, settings("disable"), images, ports)
    try:
        run = preflight_run(s)
        message = ("otel-python preflight: instrumentation disabled, the app starts without it: " + reason)
        assert run.termination_message == message
        assert run.log().strip() == message
        assert_sends_nothing(s)
        # The app still imports what it vendored: the preflight moved only the injected tree.
        env = s.running.containers["hello-api"].env
        assert env["PYTHONPATH"].split(":")[1] == "/opt/pins"
    finally:
        s.stop()


def test_fail_keeps_the_pod_from_starting_and_says_why():
    pod, images, ports = pinned_pod("old-protobuf")
    receiver = sc.OtlpReceiver().start()
    scenario = sc.Scenario("preflight-fail", copy.deepcopy(pod), settings("fail")(receiver.endpoint),
                           images, ports, receiver)
    try:
        with pytest.raises(PodFailed, match=f"init container {PREFLIGHT} exited 1"):
            scenario.start()
        assert scenario.running.containers == {}, "no app container started"
        assert preflight_run(scenario).termination_message == (
            "otel-python preflight: the pod does not start (preflight: fail): the injected protobuf 7.36.2 "
            "would shadow the app's protobuf 4.25.8 (in /opt/pins)")
    finally:
        scenario.stop()
