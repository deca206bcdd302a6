"""Settings say propagators [b3]: a B3 single header continues the caller's trace, and a W3C
traceparent alone is no longer honoured (the policy set OTEL_PROPAGATORS=b3, not the SDK default)."""
import pytest

from harness import scenario as sc


@pytest.fixture(scope="module")
def b3_pod():
    port = sc.free_port()
    s = sc.start_scenario(
        "propagation-b3", sc.load_json("article-pod.json"), sc.tuned_settings(propagators=["b3"]),
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_b3_header_continues_the_trace(b3_pod):
    trace_id, parent = sc.new_ids()
    b3_pod.get("/hello/b3", headers={"b3": f"{trace_id}-{parent}-1"})
    span = b3_pod.wait_server_span("/hello/b3", timeout=20)
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent)


def test_traceparent_is_ignored_when_only_b3_is_configured(b3_pod):
    trace_id, parent = sc.new_ids()
    b3_pod.get("/hello/w3c", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    span = b3_pod.wait_server_span("/hello/w3c", timeout=20)
    assert span.trace_id != trace_id
    assert span.parent_span_id == ""
