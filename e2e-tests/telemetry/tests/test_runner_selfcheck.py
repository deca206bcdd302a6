"""The harness on its own: the reference's hand-written mutation of the article's pod, run WITHOUT
the policy. If this passes and a policy scenario fails, the policy's pod is what differs."""
import json

import pytest

from harness import scenario as sc
from harness.receiver import OtlpReceiver


@pytest.fixture(scope="module")
def selfcheck():
    port = sc.free_port()
    receiver = OtlpReceiver().start()
    pod = json.loads((sc.FIXTURES / "reference-mutated-article-pod.json").read_text()
                     .replace("__ENDPOINT__", receiver.endpoint))
    pod.pop("_comment")
    env = pod["spec"]["containers"][0]["env"]
    env[-1:-1] = sc.FAST_ENV  # as if the settings' env had them; OTEL_RESOURCE_ATTRIBUTES stays last
    s = sc.Scenario("runner-selfcheck", pod, None,
                    {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
                    {"hello-api": port}, receiver, mutated=pod)
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    yield s
    s.stop()


def test_reference_pod_sends_all_three_signals(selfcheck):
    selfcheck.get("/hello/selfcheck")
    span = selfcheck.wait_server_span("/hello/selfcheck")
    assert span.resource["k8s.pod.name"] == selfcheck.pod_name
    logs = selfcheck.receiver.wait_for(
        lambda: [r for r in selfcheck.receiver.logs() if r.body == "said hello to selfcheck"], 30, "the app's log")
    assert logs[0].trace_id == span.trace_id
    selfcheck.receiver.wait_for(selfcheck.receiver.metrics, 30, "metrics")


def test_init_container_copied_the_tree_into_the_volume(selfcheck):
    init = selfcheck.running.init_runs[0]
    assert init.argv == ["cp", "-r", "/autoinstrumentation/.", "/otel-auto-instrumentation-python"]
    volume = selfcheck.running.volumes["opentelemetry-auto-instrumentation-python"]
    assert (volume / "opentelemetry/instrumentation/auto_instrumentation/sitecustomize.py").is_file()


@pytest.fixture(scope="module")
def misordered():
    """The reference pod with OTEL_RESOURCE_ATTRIBUTES moved to the front of the env list."""
    port = sc.free_port()
    receiver = OtlpReceiver().start()
    pod = json.loads((sc.FIXTURES / "reference-mutated-article-pod.json").read_text()
                     .replace("__ENDPOINT__", receiver.endpoint))
    pod.pop("_comment")
    env = pod["spec"]["containers"][0]["env"]
    env.insert(0, env.pop())
    env[1:1] = [v for v in sc.FAST_ENV if v["name"] == "OTEL_BSP_SCHEDULE_DELAY"]
    s = sc.Scenario("runner-selfcheck-misordered", pod, None,
                    {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
                    {"hello-api": port}, receiver, mutated=pod)
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    yield s
    s.stop()


def test_env_order_mistake_is_visible_in_the_telemetry(misordered):
    """The proof is sensitive to env order: referenced before being defined, the pod name stays
    an unexpanded reference, exactly what a cluster would export."""
    misordered.get("/hello/order")
    span = misordered.wait_server_span("/hello/order")
    assert span.resource["k8s.pod.name"] == "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"


def test_app_image_alone_has_no_opentelemetry():
    """Telemetry can only come from what the policy injects: the app image sees flask, fastapi and
    uvicorn, and no OpenTelemetry package (nor the harness's protobuf)."""
    from harness.podrunner import RunningPod
    probe = ("import importlib.util as u, sys; "
             "missing = [m for m in ('flask', 'fastapi', 'uvicorn') if u.find_spec(m) is None]; "
             "leaked = [m for m in ('opentelemetry', 'google.protobuf', 'pytest') if u.find_spec(m.split('.')[0]) and u.find_spec(m)]; "
             "print(sys.path, missing, leaked); sys.exit(1 if missing or leaked else 0)")
    pod = {"metadata": {"generateName": "probe-", "namespace": "default"},
           "spec": {"containers": [{"name": "probe", "image": sc.FLASK_IMAGE, "command": ["python", "-c", probe]}]}}
    running = RunningPod(pod, {sc.FLASK_IMAGE: sc.flask_image(8080)}).start()
    try:
        code = running.wait("probe", 30)
        assert code == 0, running.containers["probe"].log()
    finally:
        running.stop()
