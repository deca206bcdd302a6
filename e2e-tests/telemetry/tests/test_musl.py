"""The platform annotation musl: the init container copies from /autoinstrumentation-musl, the
image's other tree, and the app still instruments (this machine is glibc, so both trees hold the
same files here; what is proven is the path the policy wrote)."""
import pytest

from harness import scenario as sc


@pytest.fixture(scope="module")
def musl():
    port = sc.free_port()
    s = sc.start_scenario(
        "platform-musl", sc.musl_article_pod(), sc.tuned_settings(),
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_init_container_copies_the_musl_tree(musl):
    assert musl.running.init_runs[0].argv == ["cp", "-r", "/autoinstrumentation-musl/.",
                                              "/otel-auto-instrumentation-python"]


def test_app_sends_traces(musl):
    musl.get("/hello/alpine")
    assert musl.wait_server_span("/hello/alpine", timeout=20).resource["k8s.pod.name"] == musl.pod_name
