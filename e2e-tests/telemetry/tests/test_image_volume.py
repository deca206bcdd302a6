"""delivery: imageVolume. The instrumentation image is the volume opentelemetry-auto-instrumentation-python:
the runner mounts its autoinstrumentation directory read-only at the mount path with the subPath,
as the kubelet would; there is no init container and no copy, and the unchanged Flask app sends
traces, metrics and logs."""
import pytest

from harness import scenario as sc


def image_volume_settings(endpoint: str) -> dict:
    settings = sc.tuned_settings()(endpoint)
    settings["delivery"] = "imageVolume"
    return settings


@pytest.fixture(scope="module")
def pod():
    port = sc.free_port()
    s = sc.start_scenario(
        "image-volume", sc.load_json("article-pod.json"), image_volume_settings,
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_the_image_is_the_volume_and_nothing_is_copied(pod):
    spec = pod.mutated_pod["spec"]
    assert "initContainers" not in spec and pod.running.init_runs == []
    assert spec["volumes"] == [{"name": "opentelemetry-auto-instrumentation-python",
                                "image": {"reference": sc.ARTICLE_IMAGE}}]
    mount = spec["containers"][0]["volumeMounts"][-1]
    assert mount == {"name": "opentelemetry-auto-instrumentation-python",
                     "mountPath": "/otel-auto-instrumentation-python",
                     "readOnly": True, "subPath": "autoinstrumentation"}


def test_the_image_directory_is_mounted_read_only_at_the_mount_path(pod):
    sandbox = pod.running.containers["hello-api"].bwrap
    at = sandbox.index("/otel-auto-instrumentation-python")
    assert sandbox[at - 2] == "--ro-bind"
    assert sandbox[at - 1] == str(sc.autoinstrumentation_tree())


def test_the_app_sends_traces_metrics_and_logs(pod):
    pod.get("/hello/volume")
    span = pod.wait_server_span("/hello/volume", timeout=20)
    assert span.resource["service.name"] == "hello-deploy"
    assert span.resource["k8s.pod.name"] == pod.pod_name
    records = pod.receiver.wait_for(
        lambda: [r for r in pod.receiver.logs() if r.body == "said hello to volume"], 20, "the app's log record")
    assert (records[0].trace_id, records[0].span_id) == (span.trace_id, span.span_id)
    metrics = pod.receiver.wait_for(
        lambda: [m for m in pod.receiver.metrics() if m.resource.get("k8s.pod.name") == pod.pod_name],
        20, "a metric from the pod")
    assert metrics


@pytest.fixture(scope="module")
def musl_pod():
    port = sc.free_port()
    s = sc.start_scenario(
        "image-volume-musl", sc.musl_article_pod(), image_volume_settings,
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_a_musl_pod_mounts_the_musl_tree_and_sends_traces(musl_pod):
    mount = musl_pod.mutated_pod["spec"]["containers"][0]["volumeMounts"][-1]
    assert mount["subPath"] == "autoinstrumentation-musl"
    musl_pod.get("/hello/alpine")
    assert musl_pod.wait_server_span("/hello/alpine", timeout=20).resource["k8s.pod.name"] == musl_pod.pod_name
