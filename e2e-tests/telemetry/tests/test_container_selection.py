"""Two containers, the annotation container-names naming only hello-api: hello-canary runs the same
image, unchanged, and must send nothing."""
import json

import pytest

from harness import scenario as sc


@pytest.fixture(scope="module")
def two():
    api, canary = sc.free_port(), sc.free_port()
    pod = json.loads(json.dumps(sc.load_json("two-containers-pod.json"))
                     .replace("__PORT_1__", str(api)).replace("__PORT_2__", str(canary)))
    s = sc.start_scenario(
        "container-selection", pod, sc.tuned_settings(),
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(8080)},
        {"hello-api": api, "hello-canary": canary})
    yield s
    s.stop()


def test_unselected_container_sends_nothing(two):
    for i in range(3):
        two.get(f"/hello/canary{i}", container="hello-canary")
    two.get("/hello/selected", container="hello-api")
    # Positive control: the selected container's span and log arrive after the canary was called...
    two.wait_server_span("/hello/selected", timeout=20)
    two.receiver.wait_for(lambda: [r for r in two.receiver.logs() if r.body == "said hello to selected"],
                          20, "the selected container's log")
    # ...and everything the receiver got comes from the selected container.
    resources = ([s.resource for s in two.receiver.spans()] + [r.resource for r in two.receiver.logs()]
                 + [m.resource for m in two.receiver.metrics()])
    assert {r.get("k8s.container.name") for r in resources} == {"hello-api"}
    assert not [r for r in two.receiver.logs() if "canary" in str(r.body)]
    assert not [s for s in two.receiver.spans() if "canary" in (sc.request_path(s) or "")]


def test_unselected_container_has_no_injected_env(two):
    env = two.running.containers["hello-canary"].env
    assert not [k for k in env if k.startswith("OTEL_") or k == "PYTHONPATH"]
